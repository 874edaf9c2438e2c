package host_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/webhook"
)

// endpointSink records the deliveries to one endpoint: the event types and the signature header.
type endpointSink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	types   []string
	headers []string
	bodies  [][]byte
	fail    bool
}

func newEndpointSink(t *testing.T) *endpointSink {
	s := &endpointSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.types = append(s.types, e.Type)
		s.headers = append(s.headers, r.Header.Get(webhook.Header))
		s.bodies = append(s.bodies, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *endpointSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.types...)
}

func (s *endpointSink) setFail(v bool) { s.mu.Lock(); s.fail = v; s.mu.Unlock() }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookEndpoints: each endpoint gets the events its types and scope select, signed with
// every one of its secrets; a paused endpoint gets nothing until it is resumed, then its events;
// a failing endpoint is retried alone (the others are not sent the event twice), and every
// attempt is counted per endpoint and outcome. The single webhooks.url keeps getting everything.
func TestWebhookEndpoints(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": fp, "fake-noclose": noCloseProvider{fp}},
		regions: map[string][]host.RegionMethod{
			"HK": {{Method: "fakewallet", Account: "fake-hk"}},
			"NC": {{Method: "fakewallet", Account: "fake-noclose"}},
		},
		policy:     host.RetryPolicy{Base: 20 * time.Millisecond, Max: 50 * time.Millisecond, Window: time.Hour},
		onDelivery: func(ep, outcome string) { mu.Lock(); counts[ep+" "+outcome]++; mu.Unlock() },
	})
	shop, all, paused := newEndpointSink(t), newEndpointSink(t), newEndpointSink(t)
	const oldSecret, newSecret = "whsec-old-DO-NOT-USE-0000", "whsec-new-DO-NOT-USE-0000"
	settings := *e.svc.Settings()
	settings.Endpoints = []host.WebhookEndpoint{
		{Name: "shop", URL: shop.srv.URL, Secrets: [][]byte{[]byte(oldSecret), []byte(newSecret)},
			Events: []string{"payment.*"}, Accounts: []string{"fake-hk"}},
		{Name: "all", URL: all.srv.URL, Secrets: [][]byte{[]byte(newSecret)}},
		{Name: "later", URL: paused.srv.URL, Secrets: [][]byte{[]byte(newSecret)}, Regions: []string{"NC"}, Paused: true},
	}
	e.svc.SetSettings(&settings)
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return counts[k] }

	all.setFail(true)
	hk := e.createPayment(paymentBody("ep-1", 1_000), nil)
	nc := paymentBody("ep-2", 1_000)
	nc["region"] = "NC"
	ncp := e.createPayment(nc, nil)
	waitUntil(t, "failed and paused attempts", func() bool {
		return count("all failed") >= 2 && count("later paused") >= 1 && count("shop delivered") >= 1
	})
	if got := shop.got(); len(got) != 1 || got[0] != "payment.created" {
		t.Fatalf("shop endpoint (payment.*, fake-hk) got %v", got)
	}
	if count("shop delivered") != 1 || count("shop failed") != 0 {
		t.Fatalf("counts while one endpoint fails and one is paused: %v", counts)
	}
	// Every current secret signs: a receiver with only the old one and one with only the new accept.
	shop.mu.Lock()
	h, body := shop.headers[0], shop.bodies[0]
	shop.mu.Unlock()
	for _, sec := range []string{oldSecret, newSecret} {
		if err := webhook.Verify(sec, h, body, 0); err != nil {
			t.Errorf("a receiver holding %s refuses the delivery: %v", sec, err)
		}
	}
	// The failing endpoint recovers; it gets both events, the shop endpoint nothing again.
	all.setFail(false)
	waitUntil(t, "the recovered endpoint", func() bool { return len(all.got()) == 2 })
	if got := shop.got(); len(got) != 1 {
		t.Fatalf("the shop endpoint was sent an event again on the other's retry: %v", got)
	}
	if len(paused.got()) != 0 {
		t.Fatalf("a paused endpoint got %v", paused.got())
	}
	// Resumed, the paused endpoint gets the NC payment's event (its scope), and only that.
	resumed := *e.svc.Settings()
	resumed.Endpoints = append([]host.WebhookEndpoint(nil), resumed.Endpoints...)
	resumed.Endpoints[2].Paused = false
	e.svc.SetSettings(&resumed)
	waitUntil(t, "the resumed endpoint", func() bool { return len(paused.got()) == 1 })
	paused.mu.Lock()
	gotBody := string(paused.bodies[0])
	paused.mu.Unlock()
	if !strings.Contains(gotBody, ncp.ID) || strings.Contains(gotBody, hk.ID) {
		t.Fatalf("the NC endpoint got %s", gotBody)
	}
	// The dispatcher records the delivery after the endpoint answered: wait for it.
	waitUntil(t, "the NC payment's event delivered", func() bool {
		var evs host.Page[host.Event]
		e.call("GET", "/v1/events?payment_id="+ncp.ID, nil, nil).decode(t, &evs)
		return len(evs.Data) == 1 && evs.Data[0].Status == "delivered"
	})
	// The default endpoint (webhooks.url) kept getting every event throughout.
	e.sink.waitFor(t, "payment.created", ncp.ID)
	e.sink.waitFor(t, "payment.created", hk.ID)
	waitUntil(t, "the final counts", func() bool {
		return count("default delivered") >= 2 && count("all delivered") >= 2 && count("later delivered") >= 1
	})
	// Every event is delivered everywhere it goes: a few more dispatcher rounds, run here to
	// the end, must send nothing again.
	e.waitDelivered(t, hk.ID)
	for i := 0; i < 3; i++ {
		e.disp.RunOnce(context.Background())
	}
	if count("all delivered") != 2 || count("later delivered") != 1 || count("shop delivered") != 1 {
		t.Fatalf("counts at the end: %v", counts)
	}
}
