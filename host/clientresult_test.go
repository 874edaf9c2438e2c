package host_test

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/httpapi"
)

// TestClientResultWakesJanitor: a verified client result suggesting success wakes the janitor
// (httpapi.Hooks.OnEarlyQuery, wired to Janitor.Wake by paymux serve), so the payment is
// queried at once although the janitor's idle interval is an hour; other results do not wake it.
func TestClientResultWakesJanitor(t *testing.T) {
	e, fp := newFakeEnv(t)
	passes := make(chan host.JanitorPass, 16)
	jan := host.NewJanitor(host.JanitorOptions{
		Service: e.svc, Interval: time.Hour, Logger: hclog.NewNullLogger(),
		OnPass: func(p host.JanitorPass) {
			select {
			case passes <- p:
			default:
			}
		},
	})
	var wakes atomic.Int32
	// A second API over the same service, with the hook installed before it serves; e.call
	// still checks its answers against the OpenAPI document.
	api := httpapi.New(httpapi.Options{Service: e.svc, Keys: httpapiKeys(testAPIKey)})
	api.SetHooks(httpapi.Hooks{OnEarlyQuery: func() { wakes.Add(1); jan.Wake() }})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	he := *e
	he.srv = srv

	p := he.createPayment(paymentBody("wake", 1000), nil)
	fp.setQuery(p.OutTradeNo, core.PaymentState{Status: core.PaymentSucceeded, ProviderRef: "W1", Amount: p.Amount})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); jan.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select { // Run's first pass; after it the janitor sleeps for an hour unless woken
	case <-passes:
	case <-time.After(10 * time.Second):
		t.Fatal("no first janitor pass")
	}

	for _, tc := range []struct {
		name   string
		result map[string]string
	}{
		{"unverified success", map[string]string{"resultStatus": "9000", "sig": "forged"}},
		{"verified, not paid", map[string]string{"resultStatus": "6001", "sig": "ok"}},
	} {
		var got host.Payment
		r := he.call("POST", "/v1/payments/"+p.ID+"/client-result", map[string]any{"result": tc.result}, nil)
		r.decode(t, &got)
		if r.Status != 200 || got.ClientResult == nil || got.Status != core.PaymentPending || got.WantsEarlyQuery() {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		if n := wakes.Load(); n != 0 {
			t.Fatalf("%s woke the janitor (%d)", tc.name, n)
		}
	}

	start := time.Now()
	var got host.Payment
	r := he.call("POST", "/v1/payments/"+p.ID+"/client-result", map[string]any{"result": map[string]string{"resultStatus": "9000", "sig": "ok"}}, nil)
	r.decode(t, &got)
	if r.Status != 200 || got.ClientResult == nil || !got.ClientResult.Verified || got.ClientResult.Status != core.PaymentSucceeded || !got.WantsEarlyQuery() {
		t.Fatalf("verified success: %d %s", r.Status, r.Body)
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("janitor woken %d times, want 1", n)
	}
	for {
		e.call("GET", "/v1/payments/"+p.ID, nil, nil).decode(t, &got)
		if got.Status == core.PaymentSucceeded {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("payment still %s 10 s after a verified success hint; the janitor was not woken", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.ProviderRef != "W1" || got.ClientResult == nil || !got.ClientResult.Verified {
		t.Errorf("after the early query: %+v", got)
	}
	e.sink.waitFor(t, "payment.succeeded", p.ID)
}
