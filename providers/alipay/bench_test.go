package alipay

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

// paired times op and ref back to back each iteration, alternating which goes first, and
// reports op/ref (ratio of the totals) and op/ref-p50 (median of per-iteration ratios), as
// shared/design/benchmarking.md asks; noise then hits both sides alike.
func paired(b *testing.B, ref string, op, refFn func() error) {
	b.Helper()
	allocs := testing.AllocsPerRun(20, func() { _ = op() })
	var opT, refT time.Duration
	var ratios []float64
	n := 0
	for b.Loop() {
		var t0, t1, t2 time.Time
		var e1, e2 error
		if n&1 == 0 {
			t0 = time.Now()
			e1 = op()
			t1 = time.Now()
			e2 = refFn()
			t2 = time.Now()
			opT += t1.Sub(t0)
			refT += t2.Sub(t1)
			ratios = append(ratios, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
		} else {
			t0 = time.Now()
			e2 = refFn()
			t1 = time.Now()
			e1 = op()
			t2 = time.Now()
			refT += t1.Sub(t0)
			opT += t2.Sub(t1)
			ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
		}
		if e1 != nil || e2 != nil {
			b.Fatalf("op: %v, ref: %v", e1, e2)
		}
		n++
	}
	if n == 0 || refT == 0 {
		return
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(opT)/float64(refT), "op/"+ref)
	b.ReportMetric(ratios[len(ratios)/2], "op/"+ref+"-p50")
	b.ReportMetric(float64(opT.Nanoseconds())/float64(n), "op-ns/op")
	b.ReportMetric(allocs, "op-allocs/op")
}

var refMessage = []byte(strings.Repeat("k=v&", 100)) // 400 bytes, as benchmarking.md prescribes

func bareSign(b *testing.B) func() error {
	key, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	return func() error {
		d := sha256.Sum256(refMessage)
		_, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		return err
	}
}

// BenchmarkCreatePaymentApp: the whole app CreatePayment (validation, parameters, Format A,
// SHA256withRSA-2048, assembly) against one bare RSA-2048 signature.
func BenchmarkCreatePaymentApp(b *testing.B) {
	s := baseSettings(b, "https://gw.example/gateway.do")
	s["app_sign_type"] = "RSA2"
	p := configured(b, s)
	req := appRequest()
	req.Extras = map[string]string{"trade_information": `{"business_type":"4","goods_info":"Coffee^1","total_quantity":"1"}`}
	ctx := context.Background()
	paired(b, "bare-sign", func() error {
		_, err := p.CreatePayment(ctx, req)
		return err
	}, bareSign(b))
}

// BenchmarkParseNotification: the whole ParseNotification of an RSA2 notification (decode,
// verify, map, ack; notify_verify off: it is a network call) against one bare RSA-2048 verify.
func BenchmarkParseNotification(b *testing.B) {
	p := configured(b, baseSettings(b, "https://gw.example/gateway.do"))
	alipayKey, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := signing.NewRSASigner(signing.RSA2, alipayKey)
	fields := map[string]string{
		"notify_type": "trade_status_sync", "notify_id": "5b89a773c60af059d96b1693dd3b3d6nc1", "notify_time": "2026-11-22 10:00:00",
		"out_trade_no": "order-1001", "trade_no": "2026112222001332950500389138", "trade_status": "TRADE_FINISHED",
		"total_fee": "19.99", "currency": "USD", "subject": "Coffee beans", "body": "1 kg", "buyer_id": "2088102122524333",
		"seller_id": testPartner, "gmt_create": "2026-11-22 09:59:00", "gmt_payment": "2026-11-22 10:00:00", "payment_type": "1",
	}
	sig, _ := signer.Sign(signing.CanonicalB(fields))
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	v.Set("sign", sig)
	v.Set("sign_type", "RSA2")
	req := &core.NotificationRequest{Account: "acct", Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, Body: []byte(v.Encode())}
	ctx := context.Background()
	pub := &alipayKey.PublicKey
	bareSig, _ := rsa.SignPKCS1v15(rand.Reader, alipayKey, crypto.SHA256, func() []byte { d := sha256.Sum256(refMessage); return d[:] }())
	paired(b, "bare-verify", func() error {
		res, err := p.ParseNotification(ctx, req)
		if err == nil && !res.Verified {
			b.Fatal(res.RejectReason)
		}
		return err
	}, func() error {
		d := sha256.Sum256(refMessage)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], bareSig)
	})
}

// BenchmarkOrderParams is the non-cryptographic part of CreatePayment (validation, parameters,
// extras), for orientation: what the paired ratio above adds to one signature.
func BenchmarkOrderParams(b *testing.B) {
	s := baseSettings(b, "https://gw.example/gateway.do")
	p := configured(b, s)
	a, err := p.account("acct")
	if err != nil {
		b.Fatal(err)
	}
	req := appRequest()
	req.Extras = map[string]string{"trade_information": `{"business_type":"4","goods_info":"Coffee^1","total_quantity":"1"}`}
	b.ReportAllocs()
	for b.Loop() {
		params, err := a.orderParams(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = signing.CanonicalA(params)
	}
}
