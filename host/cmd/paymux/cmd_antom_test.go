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
)

// TestServeAntomWalletsByConfig is the Done-when of the Antom provider: `paymux sim` and
// `paymux serve` (in process, the real antom plugin binary, SQLite), with GCash enabled in PH
// and Kakao Pay in KR by configuration alone. Each payment goes create -> wallet page ->
// signed notification -> succeeded -> partial refund, and the webhooks say so.
func TestServeAntomWalletsByConfig(t *testing.T) {
	bin := checkPluginBinaries(t)
	plugin := filepath.Join(bin, "paymux-provider-antom")
	if _, err := os.Stat(plugin); err != nil {
		t.Fatalf("antom plugin binary: %v (make build)", err)
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
accounts:
  antom-asia:
    plugin: antom
    settings:
      client_id: %s
      gateway_url: %s
      private_key: %s
      antom_public_key: %s
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
webhooks:
  url: %s
  secret: %q
log:
  level: warn
`, addr, base, serveTestKey, filepath.Join(dir, "paymux.db"), plugin, pinHexSHA(checkMustRead(t, plugin)),
		DemoAntomClientID, simURL, priv, pub, sink.URL, serveTestSecret)
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
		region, method, currency string
		value, refund            int64
	}{
		{"PH", "gcash", "PHP", 125000, 25000},
		{"KR", "kakaopay", "KRW", 39000, 9000},
	} {
		t.Run(tc.method, func(t *testing.T) {
			code, body := serveCall(t, "POST", base+"/v1/payments", serveTestKey, map[string]any{
				"region": tc.region, "method": tc.method, "amount": map[string]any{"value": tc.value, "currency": tc.currency},
				"subject": "Antom order", "channel": "h5", "return_url": "https://shop.example/return", "reference": "antom-" + tc.method})
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
			// The buyer's browser: the app link (no app installed: the wallet page), then Pay.
			if p.NextAction.Type != "app_link" || len(p.NextAction.Fallbacks) == 0 {
				t.Fatalf("next action %+v", p.NextAction)
			}
			payOnWalletPage(t, p.NextAction.Value)
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
