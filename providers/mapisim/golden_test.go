package mapisim

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/paymux/paymux/core/signing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenOrderParams is a fixed order of the demo global partner.
func goldenOrderParams() map[string]string {
	return map[string]string{
		"service": "mobile.securitypay.pay", "partner": globalPID, "_input_charset": "UTF-8",
		"notify_url": "https://merchant.example/alipay/notify", "out_trade_no": "GOLDEN-1", "subject": "Golden order",
		"payment_type": "1", "seller_id": globalPID, "total_fee": "12.34", "currency": "USD",
		"forex_biz": "FP", "product_code": "NEW_WAP_OVERSEAS_SELLER", "it_b_pay": "30m",
	}
}

// RSA PKCS#1 v1.5 is deterministic, so the order string signed with the committed test
// merchant key is a stable golden file (and a fuzz seed).
func TestGoldenOrderStrings(t *testing.T) {
	key, err := signing.ParsePrivateKey(TestMerchantPrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []signing.SignType{signing.RSA, signing.RSA2} {
		signer, _ := signing.NewRSASigner(st, key)
		got, err := signing.OrderString(goldenOrderParams(), signer)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "orderstrings", "golden-"+string(st)+".txt")
		if *update {
			if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want := readTestdata(t, "orderstrings/golden-"+string(st)+".txt")
		if got != want {
			t.Fatalf("%s order string differs from %s (run with -update after a deliberate change)", st, path)
		}
		sim := New(Config{})
		sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM})
		if _, err := sim.CheckOrderString(want); err != nil {
			t.Fatalf("golden %s rejected: %v", st, err)
		}
		sim.Close()
	}
}
