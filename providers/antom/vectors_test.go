package antom

import (
	"bytes"
	"context"
	"crypto/rsa"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// The golden files are made by testdata/gen-vectors.sh with openssl and jq, not by this code.

type vector struct {
	name, path, client, time string
	body, content            []byte
	sig, header              string
}

func loadVector(t testing.TB, name string) vector {
	t.Helper()
	read := func(ext string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "vectors", name+ext))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	meta := strings.Split(strings.TrimRight(string(read(".meta")), "\n"), "\n")
	if len(meta) != 3 {
		t.Fatalf("%s.meta: want 3 lines", name)
	}
	return vector{name: name, path: meta[0], client: meta[1], time: meta[2], body: read(".body"), content: read(".content"),
		sig: string(read(".sig")), header: string(read(".header"))}
}

func testKey(t *testing.T, file string) []byte { return testKeyB(t, file) }

func testKeyB(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "antomsim", "testkeys", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenRequestSignature(t *testing.T) {
	v := loadVector(t, "request-pay")
	if got := signContent(v.path, v.client, v.time, v.body); !bytes.Equal(got, v.content) {
		t.Fatalf("signed content differs from openssl's input:\n got %q\nwant %q", got, v.content)
	}
	// Both key forms the SDKs use: the PKCS#8 PEM and its PKCS#1 conversion give one signature.
	k, err := signing.ParsePrivateKey(testKey(t, "test-antom-merchant-private-pkcs8-DO-NOT-USE.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign(k, v.content)
	if err != nil {
		t.Fatal(err)
	}
	if h := signatureHeader("1", sig); h != v.header {
		t.Errorf("Signature header differs from openssl+jq:\n got %s\nwant %s", h, v.header)
	}
}

func TestGoldenResponseAndNotificationVerify(t *testing.T) {
	pub, err := signing.ParsePublicKey(testKey(t, "test-antom-public-DO-NOT-USE.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"response-inquiry", "notify-payment", "notify-refund"} {
		v := loadVector(t, name)
		if err := verify([]*rsa.PublicKey{pub}, v.header, signContent(v.path, v.client, v.time, v.body)); err != nil {
			t.Errorf("%s: golden signature does not verify: %v", name, err)
		}
		// Lenient forms: spaces after commas, lower-case escapes, the raw base64.
		for _, h := range []string{
			strings.ReplaceAll(v.header, ",", ", "),
			strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(v.header),
			"algorithm=RSA256,keyVersion=2,signature=" + v.sig,
		} {
			if err := verify([]*rsa.PublicKey{pub}, h, v.content); err != nil {
				t.Errorf("%s: lenient header %q: %v", name, h[:60], err)
			}
		}
		// The same signature over another path, time or body does not verify.
		for _, c := range [][]byte{
			signContent(v.path+"x", v.client, v.time, v.body),
			signContent(v.path, v.client, v.time+"1", v.body),
			signContent(v.path, v.client, v.time, append(bytes.Clone(v.body), ' ')),
		} {
			if verify([]*rsa.PublicKey{pub}, v.header, c) == nil {
				t.Errorf("%s: signature verified over changed content %q", name, c[:40])
			}
		}
	}
}

// The golden notification, as the host hands it over, is verified and mapped; on another
// notify path, for another client id or without headers it changes nothing.
func TestGoldenNotification(t *testing.T) {
	p := New()
	settings := map[string]string{SetClientID: "SANDBOX_5X00000000000000", SetGatewayURL: "http://127.0.0.1:1",
		SetPrivateKey: string(testKey(t, "test-antom-merchant-private-pkcs8-DO-NOT-USE.pem")),
		SetPublicKeys: string(testKey(t, "test-antom-public-DO-NOT-USE.pem"))}
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "ph", Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"notify-payment", "notify-refund"} {
		v := loadVector(t, name)
		hdr := http.Header{}
		hdr.Set("Client-Id", v.client)
		hdr.Set("Request-Time", v.time)
		hdr.Set("Signature", v.header)
		req := &core.NotificationRequest{Account: "ph", Header: hdr, Body: v.body, NotifyPath: v.path}
		res, err := p.ParseNotification(context.Background(), req)
		if err != nil || !res.Verified || len(res.Events) != 1 {
			t.Fatalf("%s: %+v, %v", name, res, err)
		}
		if string(res.Ack.Body) != `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}` || !strings.HasPrefix(res.Ack.ContentType, "application/json") {
			t.Errorf("%s: ack %s %q", name, res.Ack.ContentType, res.Ack.Body)
		}
		ev := res.Events[0]
		switch name {
		case "notify-payment":
			if ev.Kind != core.EventPayment || ev.OutTradeNo != "pmx01J9TESTVECTOR" || ev.ProviderRef != "202612030000000100012345" ||
				ev.PaymentStatus != core.PaymentSucceeded || ev.Amount != (core.Money{Value: 150000, Currency: "PHP"}) || ev.Wallet != "GCASH" || ev.OccurredAt.IsZero() {
				t.Errorf("payment event %+v", ev)
			}
		case "notify-refund":
			if ev.Kind != core.EventRefund || ev.OutRefundNo != "rfn01J9TESTVECTOR" || ev.RefundStatus != core.RefundSucceeded || ev.Amount != (core.Money{Value: 50000, Currency: "PHP"}) {
				t.Errorf("refund event %+v", ev)
			}
		}
		for what, bad := range map[string]func(r *core.NotificationRequest){
			"proxied path":   func(r *core.NotificationRequest) { r.NotifyPath = "/internal/notify/ph" },
			"no notify path": func(r *core.NotificationRequest) { r.NotifyPath = "" },
			"other client id": func(r *core.NotificationRequest) {
				h := http.Header(r.Header).Clone()
				h.Set("Client-Id", "SANDBOX_OTHER")
				r.Header = h
			},
			"no signature": func(r *core.NotificationRequest) {
				h := http.Header(r.Header).Clone()
				h.Del("Signature")
				r.Header = h
			},
			"changed time": func(r *core.NotificationRequest) {
				h := http.Header(r.Header).Clone()
				h.Set("Request-Time", v.time+"0")
				r.Header = h
			},
			"changed body": func(r *core.NotificationRequest) { r.Body = append(bytes.Clone(r.Body), ' ') },
		} {
			r := *req
			bad(&r)
			res, err := p.ParseNotification(context.Background(), &r)
			if err != nil || res.Verified || len(res.Events) != 0 || bytes.Equal(res.Ack.Body, ackSuccess.Body) {
				t.Errorf("%s, %s: %+v, %v", name, what, res, err)
			}
		}
	}
}
