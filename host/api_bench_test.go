package host_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/providers/mapisim"
)

// The benchmarks below use the paired method of shared/design/benchmarking.md: every iteration
// times the path under test and a bare RSA-2048 reference back to back (alternating which goes
// first) and reports the ratio, which stays steady on a noisy shared machine where plain ns/op
// do not.

var benchMsg = bytes.Repeat([]byte("p"), 400)

func benchKey(b *testing.B) *rsa.PrivateKey {
	k, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func bareSign(b *testing.B, k *rsa.PrivateKey) {
	h := sha256.Sum256(benchMsg)
	if _, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:]); err != nil {
		b.Fatal(err)
	}
}

// paired runs op and ref once each per iteration, alternating the order, and reports both
// means and op/ref.
func paired(b *testing.B, name string, setup func(i int), op, ref func()) {
	var tOp, tRef time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if setup != nil {
			b.StopTimer()
			setup(i)
			b.StartTimer()
		}
		if i%2 == 0 {
			s := time.Now()
			op()
			tOp += time.Since(s)
			s = time.Now()
			ref()
			tRef += time.Since(s)
		} else {
			s := time.Now()
			ref()
			tRef += time.Since(s)
			s = time.Now()
			op()
			tOp += time.Since(s)
		}
	}
	b.ReportMetric(float64(tOp.Nanoseconds())/float64(b.N), name+"-ns/op")
	b.ReportMetric(float64(tRef.Nanoseconds())/float64(b.N), "ref-ns/op")
	b.ReportMetric(float64(tOp)/float64(tRef), name+"/ref")
}

// BenchmarkCreatePaymentREST: POST /v1/payments over loopback HTTP with an Idempotency-Key,
// through the real Alipay provider in process (one RSA2 signature for the order string) and the
// SQLite store, paired with one bare RSA-2048 sign. create/ref - 1 is what the host adds.
func BenchmarkCreatePaymentREST(b *testing.B) {
	e := newSimEnv(b, 1000, nil)
	k := benchKey(b)
	body := []byte(`{"region":"CN","method":"alipay","amount":{"value":1234,"currency":"USD"},"subject":"Bench","channel":"app","reference":"bench"}`)
	n := 0
	paired(b, "create", nil, func() {
		n++
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/payments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", n))
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Fatalf("create: %d", resp.StatusCode)
		}
	}, func() { bareSign(b, k) })
}

// BenchmarkNotifyREST: POST /notify/{account} with a genuine signed trade_status_sync for a
// fresh payment: durable inbox insert, RSA2 verification in the provider, one transaction for
// the transition, the outbox event and the inbox status. Paired with one bare RSA-2048 verify.
func BenchmarkNotifyREST(b *testing.B) {
	e := newSimEnv(b, 1000, nil)
	alipayKey, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signing.NewRSASigner(signing.RSA2, alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256(benchMsg)
	refSig, _ := rsa.SignPKCS1v15(rand.Reader, alipayKey, crypto.SHA256, h[:])
	var form []byte
	paired(b, "notify", func(i int) {
		p, err := e.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
			Region: "CN", Method: "alipay", Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "Bench", Channel: core.ChannelApp,
		})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().In(time.FixedZone("GMT+8", 8*3600)).Format("2006-01-02 15:04:05")
		f := map[string]string{
			"notify_type": "trade_status_sync", "notify_id": fmt.Sprintf("bench%d", i), "notify_time": now,
			"out_trade_no": p.OutTradeNo, "trade_no": fmt.Sprintf("2026%020d", i), "trade_status": "TRADE_FINISHED",
			"total_fee": "12.34", "currency": "USD", "subject": "Bench", "seller_id": e2eGlobalPartner,
			"gmt_create": now, "gmt_payment": now,
		}
		sig, err := signer.Sign(signing.CanonicalB(f))
		if err != nil {
			b.Fatal(err)
		}
		f["sign"], f["sign_type"] = sig, "RSA2"
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		form = []byte(v.Encode())
	}, func() {
		req, _ := http.NewRequest("POST", e.srv.URL+"/notify/global", bytes.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(out)) != "success" {
			b.Fatalf("notify answered %d %q", resp.StatusCode, out)
		}
	}, func() {
		if err := rsa.VerifyPKCS1v15(&alipayKey.PublicKey, crypto.SHA256, h[:], refSig); err != nil {
			b.Fatal(err)
		}
	})
}
