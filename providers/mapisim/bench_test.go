package mapisim

import (
	"testing"
	"time"

	"github.com/paymux/paymux/core/benchpair"
)

// Paired benchmarks (shared/design/benchmarking.md, core/benchpair): each iteration times the
// operation and its bare-RSA reference back to back, alternating which goes first.

// BenchmarkCheckOrderString: the full order-string check (parse, partner, RSA verify of the
// Format A string, field and amount rules) against a bare rsa.VerifyPKCS1v15 (SHA-256, hash included).
func BenchmarkCheckOrderString(b *testing.B) {
	sim := New(Config{})
	defer sim.Close()
	if err := sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		b.Fatal(err)
	}
	os := readTestdata(b, "orderstrings/golden-RSA.txt")
	ref, err := benchpair.BareVerify(mustKey(TestMerchantPrivateKeyPEM))
	if err != nil {
		b.Fatal(err)
	}
	benchpair.Run(b, "rsa-verify", func() error { _, err := sim.CheckOrderString(os); return err }, ref)
}

// BenchmarkSignNotification: building the signed fields of one notification attempt (Format B
// canonical string, RSA2 with the Alipay key) against a bare rsa.SignPKCS1v15 (SHA-256, hash included).
func BenchmarkSignNotification(b *testing.B) {
	sim := New(Config{})
	defer sim.Close()
	if err := sim.AddPartner(Partner{ID: globalPID, SignType: "RSA2", MerchantPublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		b.Fatal(err)
	}
	o := Order{Partner: globalPID, OutTradeNo: "B1", TradeNo: "2026112022001000000000000001", Status: StatusTradeFinished,
		Subject: "Bench", Currency: "USD", Amount: 1234, Created: time.Now(), Paid: time.Now()}
	base := tradeFields(o)
	benchpair.Run(b, "rsa-sign", func() error {
		f := make(map[string]string, len(base)+4)
		for k, v := range base {
			f[k] = v
		}
		f["notify_id"] = "0123456789abcdef0123456789abcdenc1"
		f["notify_time"] = "2026-11-20 10:00:00"
		return sim.signNotification(globalPID, f)
	}, benchpair.BareSign(sim.alipay))
}
