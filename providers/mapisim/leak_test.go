package mapisim

import (
	"context"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/paymux/paymux/core/signing"
)

// Close stops pending retries, expiry timers and async refunds without leaking goroutines.
func TestCloseLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/notify"
	ln.Close()
	sim := New(Config{TimeScale: 1})
	if err := sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t}
	p := map[string]string{
		"service": "mobile.securitypay.pay", "partner": globalPID, "_input_charset": "UTF-8",
		"notify_url": dead, "out_trade_no": "L1", "subject": "x", "payment_type": "1", "seller_id": globalPID,
		"total_fee": "1.00", "currency": "USD", "forex_biz": "FP", "product_code": "NEW_WAP_OVERSEAS_SELLER", "it_b_pay": "15d",
	}
	if res, err := sim.PayOrderString(context.Background(), e.orderString(p, signing.RSA)); err != nil || res.ResultStatus != ResultSuccess {
		t.Fatal(res, err)
	}
	p["out_trade_no"] = "L2"
	if _, err := sim.OpenOrderString(context.Background(), e.orderString(p, signing.RSA)); err != nil {
		t.Fatal(err)
	}
	srv, err := sim.StartSFTP("127.0.0.1:0", SFTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	sim.Close()
	sim.Close() // idempotent
	if err := sim.WaitIdle(context.Background()); err != ErrClosed {
		t.Fatalf("WaitIdle after Close: %v", err)
	}
	if res, err := sim.PayOrderString(context.Background(), e.orderString(p, signing.RSA)); err != ErrClosed {
		t.Fatalf("pay after Close: %+v %v", res, err)
	}
}
