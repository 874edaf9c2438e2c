package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/host/webhook"
	"github.com/paymux/paymux/providers/antomsim"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestServeAntomAndDesktopByConfig is the Done-when of the Antom provider and of the desktop
// channel: `paymux sim` and `paymux serve` (in process, the real plugin binaries, SQLite), with
// GCash enabled in PH, Kakao Pay in KR and Alipay on the desktop (web) in CN by configuration
// alone. Each payment goes create -> wallet page or desktop cashier -> signed notification ->
// succeeded -> partial refund, and the webhooks say so.
func TestServeAntomAndDesktopByConfig(t *testing.T) {
	bin := checkPluginBinaries(t)
	plugin := filepath.Join(bin, "paymux-provider-antom")
	alipayPlugin := filepath.Join(bin, "paymux-provider-alipay")
	for _, p := range []string{plugin, alipayPlugin} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("plugin binary: %v (make build)", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// paymux sim, as a user starts it (demo Antom merchant, a time scale for the schedule).
	simAddr := freeAddr(t)
	simDone := make(chan error, 1)
	go func() {
		simDone <- runSim(ctx, []string{"-listen", simAddr, "-sftp-listen", "", "-quiet", "-time-scale", "60"})
	}()
	simURL := "http://" + simAddr
	var antomPub []byte
	waitUntil(t, "paymux sim", simDone, func() bool {
		resp, err := http.Get(simURL + "/sim/antom/public-key")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		antomPub, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == 200
	})

	events := make(chan webhook.Event, 100)
	sink := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(serveTestSecret, r.Header.Get(webhook.Header), body, 0); err != nil {
			rw.WriteHeader(400)
			return
		}
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		events <- e
		rw.WriteHeader(204)
	}))
	defer sink.Close()
	dir := t.TempDir()
	priv := filepath.Join(dir, "test-antom-merchant-private-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-antom-public.pem")
	must(t, os.WriteFile(priv, antomsim.TestMerchantPrivateKeyPEM, 0o600))
	must(t, os.WriteFile(pub, antomPub, 0o600))
	mapiPriv := filepath.Join(dir, "test-merchant-private-DO-NOT-USE.pem")
	mapiPub := filepath.Join(dir, "test-alipay-public.pem")
	must(t, os.WriteFile(mapiPriv, mapisim.TestMerchantPrivateKeyPEM, 0o600))
	must(t, os.WriteFile(mapiPub, mapisim.TestAlipayPublicKeyPEM, 0o600))
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := fmt.Sprintf(`server:
  listen: %s
  public_url: %s
  api_keys: [%q]
store:
  driver: sqlite
  dsn: %s
plugins:
  antom:
    command: %s
    sha256: %s
  alipay:
    command: %s
    sha256: %s
accounts:
  antom-asia:
    plugin: antom
    settings:
      client_id: %s
      gateway_url: %s
      private_key_file: %s
      antom_public_key_file: %s
      timeout: 5s
  alipay-global:
    plugin: alipay
    settings:
      partner: "2088000000000001"
      gateway_url: %s/gateway.do
      sign_type: RSA2
      private_key_file: %s
      alipay_public_key_file: %s
      currency: USD
      timeout: 5s
regions:
  PH:
    methods:
      - method: gcash
        account: antom-asia
  KR:
    methods:
      - method: kakaopay
        account: antom-asia
  CN:
    methods:
      - method: alipay
        account: alipay-global
webhooks:
  url: %s
  secret: %q
log:
  level: warn
`, addr, base, serveTestKey, filepath.Join(dir, "paymux.db"), plugin, pinHexSHA(checkMustRead(t, plugin)),
		alipayPlugin, pinHexSHA(checkMustRead(t, alipayPlugin)),
		DemoAntomClientID, simURL, priv, pub, simURL, mapiPriv, mapiPub, sink.URL, serveTestSecret)
	cfgPath := filepath.Join(dir, "paymux.yaml")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	serveDone := make(chan error, 1)
	go func() { serveDone <- runServe(ctx, []string{"-config", cfgPath}) }()
	waitUntil(t, "paymux serve", serveDone, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	for _, tc := range []struct {
		region, method, channel, currency string
		value, refund                     int64
	}{
		{"PH", "gcash", "h5", "PHP", 125000, 25000},
		{"KR", "kakaopay", "h5", "KRW", 39000, 9000},
		{"CN", "alipay", "web", "USD", 4200, 1200},
	} {
		t.Run(tc.method, func(t *testing.T) {
			code, body := serveCall(t, "POST", base+"/v1/payments", serveTestKey, map[string]any{
				"region": tc.region, "method": tc.method, "amount": map[string]any{"value": tc.value, "currency": tc.currency},
				"subject": "Order", "channel": tc.channel, "return_url": "https://shop.example/return", "reference": "byconfig-" + tc.method})
			if code != 201 {
				t.Fatalf("create: %d %s", code, body)
			}
			var p struct {
				ID          string
				ProviderRef string `json:"provider_ref"`
				NextAction  struct {
					Type      string
					Value     string
					Fallbacks []struct{ Type, Value string }
				} `json:"next_action"`
			}
			must(t, json.Unmarshal(body, &p))
			if tc.channel == "web" {
				// The desktop browser: the redirect to the desktop cashier, then Pay.
				if p.NextAction.Type != "redirect_url" || !strings.Contains(p.NextAction.Value, "service=create_forex_trade&") {
					t.Fatalf("next action %+v", p.NextAction)
				}
				payOnDesktopCashier(t, p.NextAction.Value)
			} else {
				// The buyer's browser: the app link (no app installed: the wallet page), then Pay.
				if p.NextAction.Type != "app_link" || len(p.NextAction.Fallbacks) == 0 {
					t.Fatalf("next action %+v", p.NextAction)
				}
				payOnWalletPage(t, p.NextAction.Value)
			}
			waitEvent(t, events, "payment.succeeded", p.ID)
			code, body = serveCall(t, "GET", base+"/v1/payments/"+p.ID, serveTestKey, nil)
			if code != 200 || !strings.Contains(string(body), `"status":"succeeded"`) {
				t.Fatalf("get: %d %s", code, body)
			}
			code, body = serveCall(t, "POST", base+"/v1/payments/"+p.ID+"/refunds", serveTestKey, map[string]any{
				"amount": map[string]any{"value": tc.refund, "currency": tc.currency}, "reason": "one item back"})
			if code != 201 && code != 202 {
				t.Fatalf("refund: %d %s", code, body)
			}
			var r struct{ ID, Status string }
			must(t, json.Unmarshal(body, &r))
			if r.Status != "succeeded" {
				waitEvent(t, events, "refund.succeeded", r.ID)
			}
			code, body = serveCall(t, "GET", base+"/v1/payments/"+p.ID, serveTestKey, nil)
			if code != 200 || !strings.Contains(string(body), fmt.Sprintf(`"amount_refunded":{"value":%d`, tc.refund)) {
				t.Fatalf("after refund: %d %s", code, body)
			}
		})
	}
	cancel()
	for _, ch := range []chan error{serveDone, simDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("stopped with %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Error("did not stop")
		}
	}
}

// payOnWalletPage opens a wallet hand-off URL as a browser (following redirects) and presses Pay.
func payOnWalletPage(t *testing.T, link string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="pay"`) {
		t.Fatalf("wallet page %s: %d %.300s", link, resp.StatusCode, page)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.PostForm(resp.Request.URL.String(), url.Values{"decision": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pay on the wallet page: HTTP %d", resp.StatusCode)
	}
}

// payOnDesktopCashier follows the desktop redirect to the simulator's cashier and presses Pay.
func payOnDesktopCashier(t *testing.T, link string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="desktop"`) {
		t.Fatalf("desktop cashier %s: %d %.300s", link, resp.StatusCode, page)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cashier := resp.Request.URL
	cashier.RawQuery = ""
	resp, err = c.PostForm(cashier.String()+"/pay", url.Values{"action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("pay in the desktop cashier: HTTP %d", resp.StatusCode)
	}
}

func waitUntil(t *testing.T, what string, exited chan error, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		select {
		case err := <-exited:
			t.Fatalf("%s exited: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
