package host_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

// TestTwoHostsPostgresAPI runs two hosts (each its own pool, API and dispatcher) on one
// PostgreSQL database and drives both at once: one Idempotency-Key sent to both creates one
// payment; 20 refunds split across both never exceed what was paid; a notification delivered to
// both hosts has one effect; each webhook event is delivered once.
func TestTwoHostsPostgresAPI(t *testing.T) {
	stores := newPostgresStores(t, 2)
	fp := newFakeProvider()
	regions := map[string][]host.RegionMethod{"HK": {{Method: "fakewallet", Account: "fake-hk"}}}
	a := newEnv(t, envOptions{store: stores[0], accounts: map[string]core.Provider{"fake-hk": fp}, regions: regions})
	b := newEnv(t, envOptions{store: stores[1], accounts: map[string]core.Provider{"fake-hk": fp}, regions: regions})
	hosts := []*env{a, b}

	// One key, both hosts, at once: one payment, both answers the same (or one 409).
	var wg sync.WaitGroup
	res := make([]*response, 2)
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = h.call("POST", "/v1/payments", paymentBody("two", 10_000), map[string]string{"Idempotency-Key": "two-1"})
		}()
	}
	wg.Wait()
	created := 0
	for _, r := range res {
		switch r.Status {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("create on two hosts: %d %s", r.Status, r.Body)
		}
	}
	if created == 2 && !bytes.Equal(res[0].Body, res[1].Body) {
		t.Fatal("two different payments for one idempotency key")
	}
	var list host.Page[*host.Payment]
	a.call("GET", "/v1/payments?reference=two", nil, nil).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("%d payments for one key", len(list.Data))
	}
	p := list.Data[0]

	// The wallet notifies both hosts (e.g. behind a load balancer, retried): one effect.
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.payFake(p, "two-n1")
		}()
	}
	wg.Wait()
	if got := b.getPayment(p.ID); got.Status != core.PaymentSucceeded {
		t.Fatalf("after notifications: %s", got.Status)
	}

	// 20 refunds of 700 split across the hosts: 10000/700 = 14 fit.
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		h := hosts[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 700, "currency": "HKD"}},
				map[string]string{"Idempotency-Key": fmt.Sprintf("two-rf-%d", i)})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[201] != 14 || statuses[400] != 6 {
		t.Fatalf("refunds across two hosts: %v, want 14x201 and 6x400", statuses)
	}
	totals, err := stores[0].SumRefunds(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if totals.Committed() != 9_800 {
		t.Fatalf("committed %d, want 9800", totals.Committed())
	}

	// Each event went out once, from one host or the other.
	deadline := time.Now().Add(10 * time.Second)
	for a.sink.count("payment.succeeded", p.ID)+b.sink.count("payment.succeeded", p.ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("payment.succeeded never delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong second delivery to show up
	var page host.Page[*host.Event]
	a.call("GET", "/v1/events?limit=100", nil, nil).decode(t, &page)
	for _, e := range page.Data {
		if e.Type == "payment.succeeded" && e.Attempts > 1 {
			t.Errorf("event %s attempted %d times", e.ID, e.Attempts)
		}
	}
	if n := a.sink.count("payment.succeeded", p.ID) + b.sink.count("payment.succeeded", p.ID); n != 1 {
		t.Fatalf("payment.succeeded delivered %d times across the hosts", n)
	}
	if r := b.call("GET", "/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("readyz: %d", r.Status)
	}
}
