package antom

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

// Every parser of what Antom (or anyone posting to /notify) sends has a fuzz target; the
// golden vectors are the seeds.

func vectorSeeds(f *testing.F, ext string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "vectors", "*"+ext))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	vectorSeeds(f, ".header")
	f.Add("algorithm=RSA256, keyVersion=1, signature=abc%2B%3d")
	f.Add("signature=")
	f.Add("algorithm=RSA256,signature=%zz")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := parseSignatureHeader(h)
		if err == nil && p.algorithm != "RSA256" {
			t.Fatalf("accepted %q with algorithm %q", h, p.algorithm)
		}
	})
}

func FuzzDecodeNotification(f *testing.F) {
	vectorSeeds(f, ".body")
	f.Add(`{"notifyType":"REFUND_RESULT","refundRequestId":"x","refundStatus":"S"}`)
	f.Add(`{"notifyType":"PAYMENT_RESULT","paymentRequestId":"","paymentAmount":{"value":1}}`)
	f.Fuzz(func(t *testing.T, body string) {
		n, err := decodeNotification([]byte(body))
		if err != nil {
			if core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("error code %s", core.ErrorCode(err))
			}
			return
		}
		if n.NotifyType == "" {
			t.Fatal("accepted a notification without type")
		}
		_, _ = n.PaymentAmount.money()
		_, _ = n.RefundAmount.money()
		_ = parseTime(n.PaymentTime)
	})
}

func FuzzAmount(f *testing.F) {
	f.Add("PHP", "150000")
	f.Add("KRW", "-1")
	f.Add("USD", "1e3")
	f.Add("JPY", "99999999999999999999")
	f.Fuzz(func(t *testing.T, cur, val string) {
		a := &amount{Currency: cur, Value: val}
		m, err := a.money()
		if err != nil {
			return
		}
		if m.Currency != "" && (m.Value < 0 || !core.ValidCurrency(m.Currency)) {
			t.Fatalf("accepted %q %q as %v", cur, val, m)
		}
	})
}

// FuzzPayResponse feeds arbitrary pay answers to the hand-off builder: whatever it accepts,
// the host must accept too.
func FuzzPayResponse(f *testing.F) {
	f.Add(`{"result":{"resultStatus":"U","resultCode":"PAYMENT_IN_PROCESS"},"paymentId":"1","normalUrl":"https://w.example/p","schemeUrl":"gcash://x","applinkUrl":"https://w.example/al","appIdentifier":"com.x"}`, "app")
	f.Add(`{"orderCodeForm":{"codeDetails":[{"codeValue":"x","codeValueType":"QRCODE"}]},"normalUrl":"javascript:alert(1)"}`, "web")
	f.Fuzz(func(t *testing.T, body, ch string) {
		var r payResponse
		if json.Unmarshal([]byte(body), &r) != nil {
			return
		}
		a, err := nextAction(core.Channel(ch), &r, false)
		if err == nil {
			if verr := a.Validate(); verr != nil {
				t.Fatalf("built an invalid action %+v: %v", a, verr)
			}
		}
	})
}

// FuzzParseNotification runs the whole notification path with the golden headers on arbitrary
// bodies and headers: never an error for a configured account, never events unless verified.
func FuzzParseNotification(f *testing.F) {
	vectorSeeds(f, ".body")
	key, _ := os.ReadFile(filepath.Join("..", "antomsim", "testkeys", "test-antom-merchant-private-pkcs8-DO-NOT-USE.pem"))
	pub, _ := os.ReadFile(filepath.Join("..", "antomsim", "testkeys", "test-antom-public-DO-NOT-USE.pem"))
	hdr, _ := os.ReadFile(filepath.Join("testdata", "vectors", "notify-payment.header"))
	p := New(WithClock(func() time.Time { return time.Unix(0, 0) }))
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "a", Settings: map[string]string{
		SetClientID: "SANDBOX_5X00000000000000", SetGatewayURL: "http://127.0.0.1:1", SetPrivateKey: string(key), SetPublicKeys: string(pub)}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := http.Header{}
		h.Set("Client-Id", "SANDBOX_5X00000000000000")
		h.Set("Request-Time", "2026-12-03T10:00:06Z")
		h.Set("Signature", string(hdr))
		res, err := p.ParseNotification(context.Background(), &core.NotificationRequest{Account: "a", Header: h, Body: []byte(body), NotifyPath: "/notify/antom-ph"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified && len(res.Events) > 0 {
			t.Fatal("events from an unverified notification")
		}
	})
}
