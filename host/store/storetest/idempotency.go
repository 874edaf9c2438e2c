package storetest

import (
	"bytes"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testIdempotency(t *testing.T, s store.Store) {
	c := ctx(t)
	k := &store.IdempotencyKey{Scope: "key_1 POST /v1/payments", Key: "abc", RequestHash: "h1", ResourceID: "pay_1", CreatedAt: base}
	got, reserved, err := s.ReserveIdempotencyKey(c, k)
	must(t, err)
	if !reserved || got.State != store.IdempotencyInProgress || got.ExpiresAt != us(base).Add(store.DefaultIdempotencyTTL) ||
		got.CreatedAt != us(base) || got.RequestHash != "h1" || got.ResourceID != "pay_1" {
		t.Fatalf("first reserve: reserved %v, %+v", reserved, got)
	}
	// A second request with the key sees it in progress, with the first one's hash.
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h2", CreatedAt: base.Add(time.Second)})
	must(t, err)
	if reserved || got.State != store.IdempotencyInProgress || got.RequestHash != "h1" {
		t.Fatalf("second reserve: reserved %v, %+v", reserved, got)
	}
	// Another scope is another key.
	_, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "key_2 POST /v1/payments", Key: "abc", RequestHash: "h1", CreatedAt: base})
	must(t, err)
	if !reserved {
		t.Fatal("same key in another scope was not reserved")
	}
	// Complete inside a transaction, then replay byte for byte.
	body := []byte("{\"id\":\"pay_1\"}\n\x00\xff")
	hdr := http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/payments/pay_1"}}
	must(t, s.InTx(c, func(tx store.Tx) error {
		return tx.CompleteIdempotencyKey(c, k.Scope, "abc", store.StoredResponse{Status: 201, Header: hdr, Body: body})
	}))
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h1", CreatedAt: base.Add(time.Minute)})
	must(t, err)
	if reserved || got.State != store.IdempotencyDone || got.Response.Status != 201 ||
		!bytes.Equal(got.Response.Body, body) || !reflect.DeepEqual(got.Response.Header, hdr) || got.ResourceID != "pay_1" {
		t.Fatalf("replay: reserved %v, %+v", reserved, got)
	}
	g2, err := s.GetIdempotencyKey(c, k.Scope, "abc")
	must(t, err)
	if !reflect.DeepEqual(g2, got) {
		t.Errorf("GetIdempotencyKey = %+v, want %+v", g2, got)
	}
	wantCode(t, s.CompleteIdempotencyKey(c, k.Scope, "missing", store.StoredResponse{Status: 200}), core.ENOTFOUND)
	_, err = s.GetIdempotencyKey(c, k.Scope, "missing")
	wantCode(t, err, core.ENOTFOUND)

	// An empty body and no headers round-trip as empty, with the ResourceID override.
	_, _, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "s", Key: "empty", RequestHash: "h", CreatedAt: base})
	must(t, err)
	must(t, s.CompleteIdempotencyKey(c, "s", "empty", store.StoredResponse{Status: 204, ResourceID: "rf_9"}))
	g3, err := s.GetIdempotencyKey(c, "s", "empty")
	must(t, err)
	if g3.Response.Status != 204 || len(g3.Response.Body) != 0 || len(g3.Response.Header) != 0 || g3.ResourceID != "rf_9" {
		t.Errorf("empty response: %+v", g3)
	}

	// After expiry the key is taken over by a new request, even before the sweep.
	later := base.Add(store.DefaultIdempotencyTTL + time.Second)
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h9", CreatedAt: later})
	must(t, err)
	if !reserved || got.RequestHash != "h9" || got.State != store.IdempotencyInProgress || got.Response.Status != 0 || len(got.Response.Body) != 0 {
		t.Fatalf("reserve after expiry: reserved %v, %+v", reserved, got)
	}
	// Delete and sweep.
	must(t, s.DeleteIdempotencyKey(c, k.Scope, "abc"))
	must(t, s.DeleteIdempotencyKey(c, k.Scope, "abc")) // twice is fine
	n, err := s.DeleteExpiredIdempotencyKeys(c, base.Add(store.DefaultIdempotencyTTL))
	must(t, err)
	if n != 2 { // key_2's and "s"'s; both created at base
		t.Errorf("swept %d keys, want 2", n)
	}
	_, err = s.GetIdempotencyKey(c, "s", "empty")
	wantCode(t, err, core.ENOTFOUND)
	_, _, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Key: "x"})
	wantCode(t, err, core.EINVALID)
}

func testIdempotencyRace(t *testing.T, s store.Store) { idempotencyRace(t, s, s) }

func testIdempotencyRaceShared(t *testing.T, a, b store.Store) { idempotencyRace(t, a, b) }

// idempotencyRace: 40 concurrent requests with one key; exactly one proceeds.
func idempotencyRace(t *testing.T, a, b store.Store) {
	c := ctx(t)
	const n = 40
	var wg sync.WaitGroup
	reserved := make([]bool, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, ok, err := s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "race", Key: "k", RequestHash: "h"})
			if err == nil && got.State != store.IdempotencyInProgress {
				t.Errorf("racer %d saw state %s", i, got.State)
			}
			reserved[i], errs[i] = ok, err
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("racer %d: %v", i, errs[i])
		}
		if reserved[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers reserved the key, want exactly 1", winners)
	}
}
