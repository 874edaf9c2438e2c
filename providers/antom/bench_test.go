package antom

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/core/signing"
)

// The hot paths paired with a bare RSA-2048 reference (core/benchpair): signing a request
// and verifying a notification.

// BenchmarkSignRequest: the request side of every call (JSON encoding of a pay body, the signed
// content, SHA256withRSA, URL-encoded base64) against one bare RSA-2048 signature.
func BenchmarkSignRequest(b *testing.B) {
	key, err := signing.ParsePrivateKey(testKeyB(b, "test-antom-merchant-private-pkcs8-DO-NOT-USE.pem"))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"productCode":"CASHIER_PAYMENT","paymentRequestId":"pmx01J9BENCH","order":{"referenceOrderId":"pmx01J9BENCH","orderDescription":"T-shirt","orderAmount":{"currency":"PHP","value":"150000"}},"paymentAmount":{"currency":"PHP","value":"150000"},"paymentMethod":{"paymentMethodType":"GCASH"},"paymentRedirectUrl":"https://shop.example/r"}`)
	benchpair.Run(b, "rsa-sign", func() error {
		sig, err := sign(key, signContent("/ams/api/v1/payments/pay", "SANDBOX_5X00000000000000", "1685599933871", body))
		_ = signatureHeader("1", sig)
		return err
	}, benchpair.BareSign(key))
}

// BenchmarkParseNotification: the whole ParseNotification of the golden payment notification
// (headers, signature over the notify path, JSON, mapping, ack) against one bare verify.
func BenchmarkParseNotification(b *testing.B) {
	p := New(WithClock(func() time.Time { return time.Unix(0, 0) }))
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "ph", Settings: map[string]string{
		SetClientID: "SANDBOX_5X00000000000000", SetGatewayURL: "http://127.0.0.1:1",
		SetPrivateKey: string(testKeyB(b, "test-antom-merchant-private-pkcs8-DO-NOT-USE.pem")),
		SetPublicKeys: string(testKeyB(b, "test-antom-public-DO-NOT-USE.pem"))}}); err != nil {
		b.Fatal(err)
	}
	v := loadVector(b, "notify-payment")
	h := http.Header{}
	h.Set("Client-Id", v.client)
	h.Set("Request-Time", v.time)
	h.Set("Signature", v.header)
	req := &core.NotificationRequest{Account: "ph", Header: h, Body: v.body, NotifyPath: v.path}
	antomKey, err := signing.ParsePrivateKey(testKeyB(b, "test-antom-private-DO-NOT-USE.pem"))
	if err != nil {
		b.Fatal(err)
	}
	ref, err := benchpair.BareVerify(antomKey)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	benchpair.Run(b, "rsa-verify", func() error {
		res, err := p.ParseNotification(ctx, req)
		if err == nil && !res.Verified {
			b.Fatal(res.RejectReason)
		}
		return err
	}, ref)
}
