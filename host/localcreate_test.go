package host_test

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"sync"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// createProbe wraps a provider and records, for every CreatePayment, whether the host had
// already stored the payment: true on the old path, false on the local_create path.
type createProbe struct {
	core.Provider
	mu      sync.Mutex
	st      store.Store // set once the env exists
	existed map[string]bool
}

func (p *createProbe) CreatePayment(ctx context.Context, r *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	_, err := p.st.GetPaymentByOutTradeNo(ctx, r.Account, r.OutTradeNo)
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return nil, err
	}
	p.mu.Lock()
	if p.existed == nil {
		p.existed = map[string]bool{}
	}
	p.existed[r.OutTradeNo] = err == nil
	p.mu.Unlock()
	return p.Provider.CreatePayment(ctx, r)
}

func (p *createProbe) storedBefore(outTradeNo string) (stored, called bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	stored, called = p.existed[outTradeNo]
	return stored, called
}

// localCreateEnv is a host over two fake accounts, one declaring local_create and one not,
// each behind a createProbe.
func localCreateEnv(t *testing.T) (*env, map[string]*createProbe) {
	local := newFakeProvider()
	local.caps = append(local.caps, core.CapLocalCreate)
	probes := map[string]*createProbe{"fake-local": {Provider: local}, "fake-hk": {Provider: newFakeProvider()}}
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-local": probes["fake-local"], "fake-hk": probes["fake-hk"]},
		regions: map[string][]host.RegionMethod{
			"LC": {{Method: "fakewallet", Account: "fake-local"}},
			"HK": {{Method: "fakewallet", Account: "fake-hk"}},
		},
	})
	for _, p := range probes {
		p.st = e.store
	}
	return e, probes
}

// TestCreatePaymentPaths creates a payment on both paths (the real Alipay providers in process,
// which declare local_create, and a fake provider without it) and checks what is stored: the
// payment with its client action, exactly one payment.created event, and a byte-for-byte
// idempotent replay.
func TestCreatePaymentPaths(t *testing.T) {
	probes := map[string]*createProbe{}
	sim := newSimEnv(t, 1000, func(account string, p core.Provider) core.Provider {
		probes[account] = &createProbe{Provider: p}
		return probes[account]
	})
	for _, p := range probes {
		p.st = sim.store
	}
	fake, fakeProbes := localCreateEnv(t)
	cases := []struct {
		name  string
		e     *env
		probe *createProbe
		body  map[string]any
		local bool
	}{
		{"alipay (local_create)", sim.env, probes["global"], map[string]any{"region": "CN", "method": "alipay",
			"amount": map[string]any{"value": 1234, "currency": "USD"}, "subject": "Green tea", "channel": "app"}, true},
		{"alipayhk (local_create)", sim.env, probes["hk"], map[string]any{"region": "HK", "method": "alipayhk",
			"amount": map[string]any{"value": 8800, "currency": "HKD"}, "subject": "Egg tart", "channel": "app"}, true},
		{"fake with local_create", fake, fakeProbes["fake-local"], map[string]any{"region": "LC", "method": "fakewallet",
			"amount": map[string]any{"value": 100, "currency": "HKD"}, "subject": "s", "channel": "app"}, true},
		{"fake without local_create", fake, fakeProbes["fake-hk"], paymentBody("", 100), false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := "paths-" + string(rune('a'+i))
			c.body["reference"] = ref
			key := map[string]string{"Idempotency-Key": "paths-" + ref}
			first := c.e.call("POST", "/v1/payments", c.body, key)
			if first.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", first.Status, first.Body)
			}
			var p host.Payment
			first.decode(t, &p)
			if p.Status != core.PaymentPending || p.NextAction == nil || p.NextAction.Value == "" {
				t.Fatalf("created payment = %+v", p)
			}
			if stored, called := c.probe.storedBefore(p.OutTradeNo); !called || stored == c.local {
				t.Fatalf("provider called %v with the payment stored before the call %v; local path %v", called, stored, c.local)
			}
			got := c.e.getPayment(p.ID)
			if got.NextAction == nil || !reflect.DeepEqual(got.NextAction, p.NextAction) || got.Status != core.PaymentPending || got.OutTradeNo != p.OutTradeNo {
				t.Fatalf("stored payment = %+v, created %+v", got, p)
			}
			evs, _, err := c.e.store.ListEvents(t.Context(), store.EventFilter{PaymentID: p.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Type != webhook.PaymentCreated {
				t.Fatalf("events of the payment: %d (%+v), want one %s", len(evs), evs, webhook.PaymentCreated)
			}
			again := c.e.call("POST", "/v1/payments", c.body, key)
			if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %d %s\nfirst %s", again.Status, again.Body, first.Body)
			}
			var list host.Page[*host.Payment]
			c.e.call("GET", "/v1/payments?reference="+ref, nil, nil).decode(t, &list)
			if len(list.Data) != 1 || list.Data[0].ID != p.ID {
				t.Fatalf("payments of reference %s: %d", ref, len(list.Data))
			}
		})
	}
}

// TestCreatePaymentProviderError: a refused CreatePayment stores nothing on the local_create
// path, and leaves a failed payment (with its payment.failed event) on the old path.
func TestCreatePaymentProviderError(t *testing.T) {
	e, _ := localCreateEnv(t)
	for _, c := range []struct {
		region string
		local  bool
	}{{"LC", true}, {"HK", false}} {
		t.Run(c.region, func(t *testing.T) {
			ref := "refused-" + c.region
			body := paymentBody(ref, 100)
			body["region"] = c.region
			body["provider_extras"] = map[string]string{"fail": "unavailable"}
			r := e.call("POST", "/v1/payments", body, map[string]string{"Idempotency-Key": ref})
			if r.Status != http.StatusServiceUnavailable || r.errorCode(t) != "provider_unavailable" {
				t.Fatalf("create: %d %s, want 503 provider_unavailable", r.Status, r.Body)
			}
			var list host.Page[*host.Payment]
			e.call("GET", "/v1/payments?reference="+ref, nil, nil).decode(t, &list)
			if c.local {
				if len(list.Data) != 0 {
					t.Fatalf("local path stored %d payments for a refused create: %+v", len(list.Data), list.Data[0])
				}
				return
			}
			if len(list.Data) != 1 || list.Data[0].Status != core.PaymentFailed || list.Data[0].FailureCode == "" {
				t.Fatalf("old path: %d payments, want one failed: %+v", len(list.Data), list.Data)
			}
			evs, _, err := e.store.ListEvents(t.Context(), store.EventFilter{PaymentID: list.Data[0].ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Type != webhook.PaymentFailed {
				t.Fatalf("events of the failed payment: %+v", evs)
			}
		})
	}
}
