package alipay

import (
	"context"
	"crypto/rsa"
	"net/url"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

// The benchmarks pair each operation with a bare RSA reference (core/benchpair,
// shared/design/benchmarking.md).

func merchantKey(b *testing.B) *rsa.PrivateKey {
	key, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		b.Fatal(err)
	}
	return key
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
	benchpair.Run(b, "rsa-sign", func() error {
		_, err := p.CreatePayment(ctx, req)
		return err
	}, benchpair.BareSign(merchantKey(b)))
}

// BenchmarkParseNotification: the whole ParseNotification of an RSA2 notification (decode,
// verify, map, ack; notify_verify off: it is a network call) against one bare RSA-2048 verify.
func BenchmarkParseNotification(b *testing.B) {
	// notify_verify off: the benchmark measures the verify and the parse of a notification that
	// names its merchant, not the confirmation call the host makes separately.
	s := baseSettings(b, "https://gw.example/gateway.do")
	s["notify_verify"] = "false"
	p := configured(b, s)
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
	ref, err := benchpair.BareVerify(alipayKey)
	if err != nil {
		b.Fatal(err)
	}
	benchpair.Run(b, "rsa-verify", func() error {
		res, err := p.ParseNotification(ctx, req)
		if err == nil && !res.Verified {
			b.Fatal(res.RejectReason)
		}
		return err
	}, ref)
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
