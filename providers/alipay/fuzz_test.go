package alipay

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

var formHeader = map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}

// signedNotification is a trade_status_sync body signed RSA2 with the simulator's test Alipay
// key (PKCS#1 v1.5 is deterministic, so the body is stable).
func signedNotification(t testing.TB, fields map[string]string) []byte {
	t.Helper()
	key, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := signing.NewRSASigner(signing.RSA2, key)
	sig, err := signer.Sign(signing.CanonicalB(fields))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	for k, x := range fields {
		v.Set(k, x)
	}
	v.Set("sign", sig)
	v.Set("sign_type", "RSA2")
	return []byte(v.Encode())
}

var goldenNotifications = map[string]map[string]string{
	"notify-trade-rsa2": {"notify_type": "trade_status_sync", "notify_id": "5b89a773c60af059d96b1693dd3b3d6nc1",
		"notify_time": "2026-11-22 10:00:00", "out_trade_no": "order-1001", "trade_no": "2026112222001332950500389138",
		"trade_status": "TRADE_FINISHED", "total_fee": "19.99", "currency": "USD", "subject": "咖啡豆", "gmt_payment": "2026-11-22 09:59:58"},
	"notify-refund-rsa2": {"notify_type": "refund_status_sync", "notify_id": "6c89a773c60af059d96b1693dd3b3d6nc2",
		"notify_time": "2026-11-23 10:00:00", "out_trade_no": "order-1001", "out_return_no": "refund-1",
		"refund_status": "REFUND_SUCCESS", "return_amount": "5.00", "currency": "USD"},
	"notify-closed-rsa2": {"notify_type": "trade_status_sync", "notify_id": "7d89a773c60af059d96b1693dd3b3d6nc3",
		"notify_time": "2026-11-22 10:30:00", "out_trade_no": "order-1002", "trade_no": "2026112222001332950500389139",
		"trade_status": "TRADE_CLOSED", "total_fee": "100", "currency": "JPY"},
}

// TestNotificationGolden pins the bodies and what ParseNotification makes of them.
func TestNotificationGolden(t *testing.T) {
	p := configured(t, baseSettings(t, "https://gw.example/gateway.do"))
	for name, fields := range goldenNotifications {
		t.Run(name, func(t *testing.T) {
			body := signedNotification(t, fields)
			path := filepath.Join("testdata", name+".form")
			if *update {
				if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(want)) != string(body) {
				t.Fatalf("%s: body differs from golden", name)
			}
			// Without Confirm: authentic, mapped, and Pending until the gateway binds it.
			res, err := p.ParseNotification(context.Background(), &core.NotificationRequest{Account: "acct", Header: formHeader, Body: body})
			if err != nil || res.Verified || !res.Pending {
				t.Fatalf("%+v, %v", res, err)
			}
			got, _ := json.MarshalIndent(res, "", "  ")
			golden(t, name+".golden", string(got))
		})
	}
}

// FuzzParseNotification feeds arbitrary bodies through the provider's whole intake: it must
// never panic, never error (notify_verify is off), and never verify what it did not sign.
func FuzzParseNotification(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.form")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSpace(string(b)))
	}
	f.Add("a=1&a=2")
	f.Add("%zz")
	p := configured(f, baseSettings(f, "https://gw.example/gateway.do"))
	// The oracle: the field sets the Alipay key really signed (as Format B canonical strings:
	// the signature covers the non-empty fields other than sign and sign_type, in any order
	// and any escaping).
	genuine := map[string]map[string]string{}
	for _, fields := range goldenNotifications {
		genuine[signing.CanonicalB(fields)] = fields
	}
	f.Fuzz(func(t *testing.T, body string) {
		res, err := p.ParseNotification(context.Background(), &core.NotificationRequest{Account: "acct", Header: formHeader, Body: []byte(body)})
		if err != nil {
			t.Fatalf("ParseNotification error: %v", err)
		}
		if res.Verified || res.Pending {
			// A verified (or authentic, Pending) notification's fields are exactly a set that was signed, and its
			// events are about the objects that set names.
			form, derr := notify.DecodeForm([]byte(body), formHeader["Content-Type"][0])
			if derr != nil {
				t.Fatalf("verified a body the form decoder refuses (%v): %q", derr, body)
			}
			delete(form, "sign")
			delete(form, "sign_type")
			signed, ok := genuine[signing.CanonicalB(form)]
			if !ok {
				t.Fatalf("verified fields that were never signed: %q", body)
			}
			for _, e := range res.Events {
				if e.OutTradeNo != signed["out_trade_no"] || e.OutRefundNo != signed["out_return_no"] {
					t.Fatalf("verified event %+v is not about the signed object %v", e, signed)
				}
			}
		}
		for _, e := range res.Events {
			if e.Kind == core.EventPayment && !e.PaymentStatus.Valid() || e.Kind == core.EventRefund && !e.RefundStatus.Valid() {
				t.Fatalf("invalid event %+v", e)
			}
		}
	})
}

// FuzzVerifyClientResult feeds arbitrary SDK results through VerifyClientResult.
func FuzzVerifyClientResult(f *testing.F) {
	b, err := os.ReadFile("testdata/app-order.golden")
	if err != nil {
		f.Fatal(err)
	}
	order := strings.TrimSpace(string(b))
	f.Add("9000", order[:strings.Index(order, `&sign=`)]+`&success="true"&sign_type="RSA"&sign="AAAA"`)
	f.Add("9000", `partner="2088101122136241"&success="true"&sign_type="RSA"&sign="x"`)
	f.Add("6001", "")
	p := configured(f, baseSettings(f, "https://gw.example/gateway.do"))
	f.Fuzz(func(t *testing.T, status, result string) {
		res, err := p.VerifyClientResult(context.Background(), &core.ClientResultRequest{Account: "acct", OutTradeNo: "order-1001",
			Amount: core.Money{Value: 1999, Currency: "USD"}, Result: map[string]string{"resultStatus": status, "result": result}})
		if err != nil {
			t.Fatalf("VerifyClientResult error: %v", err)
		}
		if res.Verified {
			t.Fatalf("verified a result no Alipay key signed: %q", result)
		}
		if !res.Status.Valid() {
			t.Fatalf("invalid status %q", res.Status)
		}
	})
}
