package mapisim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// Paired benchmarks (shared/design/benchmarking.md): each iteration times the operation and its
// bare-RSA reference back to back, alternating which goes first, and reports the ratio.

var benchMsg = []byte(strings.Repeat("k=v&", 100)) // 400 bytes

func pairedRatio(b *testing.B, op, ref func()) {
	b.Helper()
	var tOp, tRef time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			t0 := time.Now()
			op()
			t1 := time.Now()
			ref()
			tOp, tRef = tOp+t1.Sub(t0), tRef+time.Since(t1)
		} else {
			t0 := time.Now()
			ref()
			t1 := time.Now()
			op()
			tRef, tOp = tRef+t1.Sub(t0), tOp+time.Since(t1)
		}
	}
	b.ReportMetric(float64(tOp.Nanoseconds())/float64(b.N), "op-ns/op")
	b.ReportMetric(float64(tRef.Nanoseconds())/float64(b.N), "ref-ns/op")
	b.ReportMetric(float64(tOp)/float64(tRef), "op/ref")
}

// BenchmarkCheckOrderString: the full order-string check (parse, partner, RSA verify of the
// Format A string, field and amount rules) against a bare rsa.VerifyPKCS1v15 (hash included).
func BenchmarkCheckOrderString(b *testing.B) {
	sim := New(Config{})
	defer sim.Close()
	if err := sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
		b.Fatal(err)
	}
	os := readTestdata(b, "orderstrings/golden-RSA.txt")
	key := mustKey(TestMerchantPrivateKeyPEM)
	h := sha1.Sum(benchMsg)
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, h[:])
	pairedRatio(b, func() {
		if _, err := sim.CheckOrderString(os); err != nil {
			b.Fatal(err)
		}
	}, func() {
		d := sha1.Sum(benchMsg)
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, d[:], sig); err != nil {
			b.Fatal(err)
		}
	})
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
	key := sim.alipay
	pairedRatio(b, func() {
		f := make(map[string]string, len(base)+4)
		for k, v := range base {
			f[k] = v
		}
		f["notify_id"] = "0123456789abcdef0123456789abcdenc1"
		f["notify_time"] = "2026-11-20 10:00:00"
		if err := sim.signNotification(globalPID, f); err != nil {
			b.Fatal(err)
		}
	}, func() {
		d := sha256.Sum256(benchMsg)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	})
}
