package mapisim_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

// A merchant test: register a partner with the test merchant key, serve the gateway, sign an
// order string as the merchant server would and let the simulated buyer pay it.
func Example() {
	sim := mapisim.New(mapisim.Config{Seed: 1, TimeScale: 100000})
	defer sim.Close()
	err := sim.AddPartner(mapisim.Partner{ID: "2088000000000001", Flavour: mapisim.FlavourGlobal, SignType: "RSA2",
		MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM})
	if err != nil {
		panic(err)
	}
	gw := httptest.NewServer(sim.Handler()) // the merchant's gateway URL is gw.URL + "/gateway.do"
	defer gw.Close()

	key, _ := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	signer, _ := signing.NewRSASigner(signing.RSA, key)
	orderString, _ := signing.OrderString(map[string]string{
		"service": "mobile.securitypay.pay", "partner": "2088000000000001", "_input_charset": "UTF-8",
		"out_trade_no": "ORDER-1", "subject": "Coffee", "payment_type": "1", "seller_id": "2088000000000001",
		"total_fee": "4.50", "currency": "USD", "forex_biz": "FP", "product_code": "NEW_WAP_OVERSEAS_SELLER",
	}, signer)

	res, err := sim.PayOrderString(context.Background(), orderString)
	if err != nil {
		panic(err)
	}
	o, _ := sim.Order("2088000000000001", "ORDER-1")
	fmt.Println(res.ResultStatus, o.Status, o.Money())
	// Output: 9000 TRADE_FINISHED 4.50 USD
}
