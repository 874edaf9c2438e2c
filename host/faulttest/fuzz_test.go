package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/sqlite"
	"github.com/paymux/paymux/plugins/sdk"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

// These fuzz targets drive the whole intake path of a host (REST API -> service -> provider ->
// store), in process, with the Alipay provider and a real SQLite store: whatever arrives, the
// host must never answer 500 or panic, and must never acknowledge a notification it did not
// verify and store.

type oneProvider struct {
	p core.Provider
	d *core.Description
}

func (o *oneProvider) Provider(_ context.Context, account string) (core.Provider, *core.Description, error) {
	if account != bench.Account {
		return nil, nil, core.Errorf(core.ENOTFOUND, "unknown account %q", account)
	}
	return o.p, o.d, nil
}

type fuzzHost struct {
	srv     *httptest.Server
	store   store.Store
	payment *host.Payment
	valid   []byte // a correctly signed notification for payment

	mu      sync.Mutex
	outcome *host.NotificationOutcome
}

// fuzzPlugin returns the Alipay plugin binary: $PAYMUX_BIN's (make test) or one built into a
// temporary directory.
func fuzzPlugin(f *testing.F) string {
	if dir := os.Getenv("PAYMUX_BIN"); dir != "" {
		return filepath.Join(dir, bench.PluginBinary)
	}
	out := filepath.Join(f.TempDir(), bench.PluginBinary)
	if b, err := exec.Command("go", "build", "-o", out, "github.com/paymux/paymux/plugins/alipay").CombinedOutput(); err != nil {
		f.Fatalf("building the alipay plugin: %v\n%s", err, b)
	}
	return out
}

// newFuzzHost starts a host with the Alipay provider in process, or (viaPlugin) behind the
// real plugin binary, launched and pinned by pluginhost as serve does.
func newFuzzHost(f *testing.F, viaPlugin bool) *fuzzHost {
	ctx := context.Background()
	dir := f.TempDir()
	key := filepath.Join(dir, "test-merchant-private-DO-NOT-USE.pem")
	pub := filepath.Join(dir, "test-alipay-public-DO-NOT-USE.pem")
	if err := os.WriteFile(key, mapisim.TestMerchantPrivateKeyPEM, 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(pub, mapisim.TestAlipayPublicKeyPEM, 0o600); err != nil {
		f.Fatal(err)
	}
	settings := map[string]string{
		// The gateway is never called: creating an app payment signs locally and
		// notify_verify is off. Port 9 on loopback refuses anything that tries.
		"gateway_url": "http://127.0.0.1:9/gateway.do", "sign_type": "RSA2", "app_sign_type": "RSA2",
		"private_key_file": key, "alipay_public_key_file": pub, "partner": bench.Partner,
		"currency": bench.Currency, "notify_verify": "false", "timeout": "1s",
	}
	var prov core.Provider
	if viaPlugin {
		bin := fuzzPlugin(f)
		sum, err := sdk.HashFile(bin)
		if err != nil {
			f.Fatal(err)
		}
		runtime, err := os.MkdirTemp("", "pmxfz") // short: plugin socket paths are length-limited
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { os.RemoveAll(runtime) })
		m := pluginhost.New(pluginhost.Options{RuntimeDir: runtime, CallTimeout: 5 * time.Second})
		f.Cleanup(func() { _ = m.Shutdown(context.Background()) })
		if err := m.Start(ctx, []pluginhost.Spec{{Name: "alipay", Command: bin, SHA256: sum}}); err != nil {
			f.Fatalf("starting the alipay plugin: %v", err)
		}
		if err := m.Configure(ctx, "alipay", bench.Account, settings); err != nil {
			f.Fatal(err)
		}
		if prov, err = m.Provider("alipay"); err != nil {
			f.Fatal(err)
		}
	} else {
		p := alipay.New()
		if err := p.Configure(ctx, &core.ConfigureRequest{Account: bench.Account, Settings: settings}); err != nil {
			f.Fatal(err)
		}
		prov = p
	}
	desc, err := prov.Describe(ctx)
	if err != nil {
		f.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "paymux.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	svc := host.New(host.Options{
		Store: st, Providers: &oneProvider{p: prov, d: desc}, CallTimeout: 2 * time.Second,
		Settings: &host.Settings{PublicURL: "http://127.0.0.1:9", Regions: map[string][]host.RegionMethod{
			bench.Region: {{Method: bench.Method, Account: bench.Account}},
		}},
	})
	h := &fuzzHost{store: st}
	api := httpapi.New(httpapi.Options{Service: svc, Keys: httpapi.StaticKeys([]string{bench.APIKey})})
	api.SetHooks(httpapi.Hooks{OnNotification: func(o host.NotificationOutcome) {
		h.mu.Lock()
		h.outcome = &o
		h.mu.Unlock()
	}})
	h.srv = httptest.NewServer(api.Handler())
	f.Cleanup(h.srv.Close)
	h.payment, err = svc.CreatePayment(ctx, &host.CreatePaymentRequest{
		Region: bench.Region, Method: bench.Method, Channel: core.ChannelApp, Subject: "fuzz",
		Amount: core.Money{Value: 1234, Currency: bench.Currency},
	})
	if err != nil {
		f.Fatal(err)
	}
	nt, err := bench.NewNotifier()
	if err != nil {
		f.Fatal(err)
	}
	h.valid, err = nt.Form(bench.TradeNotice{
		OutTradeNo: h.payment.OutTradeNo, TradeNo: bench.TradeNo(1), Status: mapisim.StatusTradeFinished,
		Amount: h.payment.Amount, NotifyID: "fuzz-seed-1", At: time.Unix(1795000000, 0),
	})
	if err != nil {
		f.Fatal(err)
	}
	return h
}

func (h *fuzzHost) post(t *testing.T, path, contentType string, body []byte, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth {
		req.Header.Set("Authorization", "Bearer "+bench.APIKey)
	}
	c := h.srv.Client()
	c.Timeout = 10 * time.Second // a hang is a finding, not a stuck fuzzer
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// FuzzNotifyEndpoint posts arbitrary bodies to /notify/{account} of two hosts: one with the
// Alipay provider in process, one with the real plugin binary behind pluginhost (as serve runs
// it). A 200 "success" answer is an acknowledgement: it is allowed only for a notification the
// host stored in an acknowledging state. Both hosts must answer every body alike (the plugin
// boundary changes nothing). Every body reaches the SQLite store, which under -fuzz's coverage
// instrumentation runs a few executions per second and stalls the worker; its seeds run in
// every go test (make test passes PAYMUX_BIN, so the plugin is the one built); fuzz it by hand
// with a long -fuzztime.
// fuzz-short: skip (instrumented SQLite on every input: too slow for a few seconds)
func FuzzNotifyEndpoint(f *testing.F) {
	h := newFuzzHost(f, false)
	hp := newFuzzHost(f, true)
	f.Add(h.valid)
	f.Add(hp.valid)
	f.Add(h.valid)                                                                     // a redelivery
	f.Add(bytes.Replace(h.valid, []byte("TRADE_FINISHED"), []byte("TRADE_CLOSED"), 1)) // signature no longer matches
	f.Add([]byte("notify_id=1&sign=abc&sign_type=RSA2"))
	f.Add([]byte("%zz=%"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		status, answer := h.notify(t, body)
		pstatus, panswer := hp.notify(t, body)
		if status != pstatus || answer != panswer {
			t.Fatalf("in process %d %q, through the plugin %d %q", status, answer, pstatus, panswer)
		}
	})
}

// notify posts body to /notify/{account} and checks the answer: never a 5xx other than 503,
// and an acknowledgement only for a notification stored in an acknowledging state.
func (h *fuzzHost) notify(t *testing.T, body []byte) (int, string) {
	t.Helper()
	h.mu.Lock()
	h.outcome = nil
	h.mu.Unlock()
	status, answer := h.post(t, "/notify/"+bench.Account, "application/x-www-form-urlencoded; charset=utf-8", body, false)
	if status >= 500 && status != http.StatusServiceUnavailable {
		t.Fatalf("answered %d %q", status, answer)
	}
	if status == http.StatusOK && strings.TrimSpace(answer) == "success" {
		h.mu.Lock()
		o := h.outcome
		h.mu.Unlock()
		if o == nil || o.ID == "" {
			t.Fatalf("acknowledged a notification that was not stored")
		}
		switch o.Status {
		case store.NotificationProcessed, store.NotificationDuplicate, store.NotificationUnmatched, store.NotificationFlagged:
		default:
			t.Fatalf("acknowledged a notification stored as %s", o.Status)
		}
		n, err := h.store.GetNotification(context.Background(), o.ID)
		if err != nil || n.Status != o.Status || !bytes.Equal(n.Body, body) {
			t.Fatalf("acknowledged notification %s: stored %+v (%v), want status %s and the body as sent", o.ID, n, err, o.Status)
		}
	}
	return status, answer
}

// FuzzCreatePaymentEndpoint posts arbitrary JSON to POST /v1/payments: every answer is 201
// or a 4xx error, never a 5xx; and a 201 stored exactly what was asked: the payment read back
// from the store has the request's region, method, channel, amount and texts, and the answer
// shows the same.
func FuzzCreatePaymentEndpoint(f *testing.F) {
	h := newFuzzHost(f, false)
	f.Add([]byte(`{"region":"US","method":"alipay","channel":"app","subject":"s","amount":{"value":100,"currency":"USD"}}`))
	f.Add([]byte(`{"region":"US","method":"alipay","channel":"app","subject":"s","reference":"r-1","description":"d","amount":{"value":100,"currency":"USD"}}`))
	f.Add([]byte(`{"region":"US","method":"alipay","channel":"h5","subject":"s","amount":{"value":-1,"currency":"USD"},"return_url":"javascript:x"}`))
	f.Add([]byte(`{"region":"US","method":"alipay","channel":"app","subject":"s","amount":{"value":100,"currency":"JPY"},"provider_extras":{"trade_information":"{"}}`))
	f.Add([]byte(`{"region":"US","method":"alipay","channel":"app","subject":"a","subject":"b","amount":{"value":100,"currency":"USD"}}`))
	f.Add([]byte(`{"amount":{"value":1e99}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		status, answer := h.post(t, "/v1/payments", "application/json", body, true)
		if status >= 500 {
			t.Fatalf("answered %d %q", status, answer)
		}
		if status != http.StatusCreated {
			return
		}
		var asked host.CreatePaymentRequest
		if err := json.Unmarshal(body, &asked); err != nil {
			t.Fatalf("201 for a body that is not a payment request (%v): %q", err, body)
		}
		var got host.Payment
		if err := json.Unmarshal([]byte(answer), &got); err != nil {
			t.Fatalf("201 answer is not a payment: %v: %q", err, answer)
		}
		stored, err := h.store.GetPayment(context.Background(), got.ID)
		if err != nil {
			t.Fatalf("201 for payment %q, which is not stored: %v", got.ID, err)
		}
		channel := asked.Channel
		if channel == "" {
			channel = stored.Channel // the method's default
		}
		want := []string{asked.Region, asked.Method, string(channel), asked.Amount.String(), asked.Reference, asked.Subject, asked.Description, asked.ReturnURL}
		have := []string{stored.Region, stored.Method, string(stored.Channel), stored.Amount.String(), stored.Reference, stored.Subject, stored.Description, stored.ReturnURL}
		shown := []string{got.Region, got.Method, string(got.Channel), got.Amount.String(), got.Reference, got.Subject, got.Description, got.ReturnURL}
		for i := range want {
			if have[i] != want[i] || shown[i] != want[i] {
				t.Fatalf("asked %q, stored %q, answered %q (body %q)", want, have, shown, body)
			}
		}
		if stored.Status != core.PaymentPending || stored.OutTradeNo == "" || stored.OutTradeNo != got.OutTradeNo {
			t.Fatalf("a new payment is stored %s with out_trade_no %q (answered %q)", stored.Status, stored.OutTradeNo, got.OutTradeNo)
		}
	})
}
