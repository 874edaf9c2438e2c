package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/providers/mapisim"
)

// The benchmarks below use the paired method of shared/design/benchmarking.md (core/benchpair):
// every iteration times the path under test and a bare RSA-2048 reference back to back
// (alternating which goes first) and reports the ratio, which stays steady on a noisy shared
// machine where plain ns/op do not.

// BenchmarkCreatePaymentREST: POST /v1/payments over loopback HTTP with an Idempotency-Key,
// through the real Alipay provider in process (one RSA2 signature for the order string) and the
// SQLite store, paired with one bare RSA-2048 sign. op/rsa-sign - 1 is what the host adds.
func BenchmarkCreatePaymentREST(b *testing.B) {
	e := newSimEnv(b, 1000, nil)
	k, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"region":"CN","method":"alipay","amount":{"value":1234,"currency":"USD"},"subject":"Bench","channel":"app","reference":"bench"}`)
	n := 0
	benchpair.Run(b, "rsa-sign", func() error {
		n++
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/payments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", n))
		resp, err := e.client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("create: %d", resp.StatusCode)
		}
		return nil
	}, benchpair.BareSign(k))
}

// BenchmarkNotifyREST: POST /notify/{account} with a genuine signed trade_status_sync for a
// fresh payment: durable inbox insert, RSA2 verification in the provider, one transaction for
// the transition, the outbox event and the inbox status. Paired with one bare RSA-2048 verify.
func BenchmarkNotifyREST(b *testing.B) {
	// The notifications are signed here, not issued by the simulator, so it cannot confirm
	// their notify_id: the account does not ask (as `paymux bench` configures it), and the
	// seller_id they name binds them to the merchant. The benchmark measures the host's
	// intake, not a gateway round trip.
	simEnvGlobalSettings = map[string]string{"notify_verify": "false"}
	defer func() { simEnvGlobalSettings = nil }()
	e := newSimEnv(b, 1000, nil)
	alipayKey, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signing.NewRSASigner(signing.RSA2, alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	ref, err := benchpair.BareVerify(alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	var form []byte
	i := 0
	// Each notification is for a fresh payment, created and signed outside the timing.
	benchpair.RunPrepared(b, "rsa-verify", func() error {
		i++
		p, err := e.svc.CreatePayment(context.Background(), &host.CreatePaymentRequest{
			Region: "CN", Method: "alipay", Amount: core.Money{Value: 1234, Currency: "USD"}, Subject: "Bench", Channel: core.ChannelApp,
		})
		if err != nil {
			return err
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
			return err
		}
		f["sign"], f["sign_type"] = sig, "RSA2"
		v := url.Values{}
		for k, x := range f {
			v.Set(k, x)
		}
		form = []byte(v.Encode())
		return nil
	}, func() error {
		req, _ := http.NewRequest("POST", e.srv.URL+"/notify/global", bytes.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		resp, err := e.client.Do(req)
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.TrimSpace(string(out)) != "success" {
			return fmt.Errorf("notify answered %d %q", resp.StatusCode, out)
		}
		return nil
	}, ref)
}
