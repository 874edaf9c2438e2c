package wallet_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/wallet"
)

// TestNotificationGolden checks the provider's reading of the golden notification bodies.
func TestNotificationGolden(t *testing.T) {
	p := configured(t)
	for _, tc := range []struct {
		file     string
		verified bool
		status   core.PaymentStatus
	}{
		{"paid.form", true, core.PaymentSucceeded},
		{"pending.form", true, core.PaymentPending},
		{"tampered.form", false, ""},
		{"garbage.form", false, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "notifications", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.ParseNotification(context.Background(), notification(body))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verified != tc.verified {
				t.Fatalf("verified %v (%s)", res.Verified, res.RejectReason)
			}
			if tc.verified && (len(res.Events) != 1 || res.Events[0].PaymentStatus != tc.status || string(res.Ack.Body) != "success") {
				t.Fatalf("result %+v", res)
			}
			if !tc.verified && (len(res.Events) != 0 || string(res.Ack.Body) == "success") {
				t.Fatalf("rejected notification yields %+v", res)
			}
		})
	}
}

func configured(t testing.TB) *wallet.Provider {
	p := wallet.New()
	if err := p.Configure(context.Background(), &core.ConfigureRequest{Account: "acct1", Settings: map[string]string{
		"cashier_url": "https://cashier.example.test/pay", "hmac_key": testKey}}); err != nil {
		t.Fatal(err)
	}
	return p
}

func notification(body []byte) *core.NotificationRequest {
	return &core.NotificationRequest{Account: "acct1", Method: wallet.MethodID, Body: body,
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}}
}

// FuzzParseNotification: any body is answered without error or panic, and only a body whose
// signature verifies is accepted.
func FuzzParseNotification(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "notifications", "*.form"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := configured(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.ParseNotification(context.Background(), notification(body))
		if err != nil {
			t.Fatalf("error for a body: %v", err)
		}
		if res.Verified && (res.DedupeKey == "" || len(res.Events) != 1) {
			t.Fatalf("verified without dedupe key or event: %+v", res)
		}
	})
}
