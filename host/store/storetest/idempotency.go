package storetest

import (
	"bytes"
	"fmt"
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
	k := &store.IdempotencyKey{Scope: "key_1 POST /v1/payments", Key: "abc", RequestHash: "h1", ResourceID: "pay_1", Owner: "o1", CreatedAt: base}
	got, reserved, err := s.ReserveIdempotencyKey(c, k)
	must(t, err)
	if !reserved || got.State != store.IdempotencyInProgress || got.ExpiresAt != us(base).Add(store.DefaultIdempotencyTTL) ||
		got.CreatedAt != us(base) || got.RequestHash != "h1" || got.ResourceID != "pay_1" ||
		got.Owner != "o1" || got.LockedUntil != us(base).Add(store.DefaultIdempotencyLease) {
		t.Fatalf("first reserve: reserved %v, %+v", reserved, got)
	}
	// A second request with the key sees it in progress, with the first one's hash.
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h2", Owner: "o", CreatedAt: base.Add(time.Second)})
	must(t, err)
	if reserved || got.State != store.IdempotencyInProgress || got.RequestHash != "h1" {
		t.Fatalf("second reserve: reserved %v, %+v", reserved, got)
	}
	// Another scope is another key.
	_, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "key_2 POST /v1/payments", Key: "abc", RequestHash: "h1", Owner: "o", CreatedAt: base})
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
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h1", Owner: "o", CreatedAt: base.Add(time.Minute)})
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
	_, _, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "s", Key: "empty", RequestHash: "h", Owner: "o", CreatedAt: base})
	must(t, err)
	must(t, s.CompleteIdempotencyKey(c, "s", "empty", store.StoredResponse{Status: 204, ResourceID: "rf_9"}))
	g3, err := s.GetIdempotencyKey(c, "s", "empty")
	must(t, err)
	if g3.Response.Status != 204 || len(g3.Response.Body) != 0 || len(g3.Response.Header) != 0 || g3.ResourceID != "rf_9" {
		t.Errorf("empty response: %+v", g3)
	}

	// After expiry the key is taken over by a new request, even before the sweep.
	later := base.Add(store.DefaultIdempotencyTTL + time.Second)
	got, reserved, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: k.Scope, Key: "abc", RequestHash: "h9", Owner: "o", CreatedAt: later})
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
	_, _, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Key: "x", Owner: "o"})
	wantCode(t, err, core.EINVALID)
	_, _, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "s", Key: "x"})
	wantCode(t, err, core.EINVALID) // no owner
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
			got, ok, err := s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: "race", Key: "k", RequestHash: "h", Owner: fmt.Sprint("racer", i)})
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

// testIdempotencyLease: a key is held by its owner until its lease runs out, then a retry of the
// same request takes it over, keeping what the first request bound; a key bound to an effect is
// never released, only its lease ends.
func testIdempotencyLease(t *testing.T, s store.Store) {
	c := ctx(t)
	const scope = "key_1 POST /v1/payments/pay_1/refunds"
	at := func(d time.Duration) time.Time { return base.Add(d) }
	reserve := func(owner, hash string, now time.Time) (*store.IdempotencyKey, bool) {
		t.Helper()
		got, ok, err := s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: scope, Key: "k", RequestHash: hash,
			Owner: owner, CreatedAt: now, LockedUntil: now.Add(5 * time.Second)})
		must(t, err)
		return got, ok
	}
	if _, ok := reserve("A", "h", at(0)); !ok {
		t.Fatal("first reserve refused")
	}
	if got, ok := reserve("B", "h", at(time.Second)); ok || got.Owner != "A" {
		t.Fatalf("reserve within A's lease: reserved %v, %+v", ok, got)
	}
	if got, ok := reserve("C", "other", at(10*time.Second)); ok || got.Owner != "A" || got.RequestHash != "h" {
		t.Fatalf("another request after the lease took the key: reserved %v, %+v", ok, got)
	}
	// A's lease ran out (A died): B takes over; the key's times are kept.
	got, ok := reserve("B", "h", at(6*time.Second))
	if !ok || got.Owner != "B" || got.CreatedAt != us(at(0)) || got.ExpiresAt != us(at(store.DefaultIdempotencyTTL)) ||
		got.LockedUntil != us(at(11*time.Second)) || got.ResourceID != "" || got.State != store.IdempotencyInProgress {
		t.Fatalf("takeover: reserved %v, %+v", ok, got)
	}
	// A is no longer the holder: it can neither bind nor release.
	wantCode(t, s.InTx(c, func(tx store.Tx) error { return tx.BindIdempotencyKey(c, scope, "k", "A", "rf_a") }), core.ECONFLICT)
	must(t, s.ReleaseIdempotencyKey(c, scope, "k", "A"))
	if got, err := s.GetIdempotencyKey(c, scope, "k"); err != nil || got.Owner != "B" || got.LockedUntil.IsZero() {
		t.Fatalf("A's release touched B's key: %+v, %v", got, err)
	}
	// A bind in a transaction that rolls back binds nothing.
	errRollback := core.Errorf(core.EINTERNAL, "roll back")
	if err := s.InTx(c, func(tx store.Tx) error {
		if err := tx.BindIdempotencyKey(c, scope, "k", "B", "rf_rolled_back"); err != nil {
			return err
		}
		return errRollback
	}); err != errRollback {
		t.Fatalf("InTx = %v", err)
	}
	if got, _ := s.GetIdempotencyKey(c, scope, "k"); got.ResourceID != "" {
		t.Fatalf("rolled-back bind stuck: %+v", got)
	}
	// B binds the key to its effect; a second bind is refused.
	must(t, s.InTx(c, func(tx store.Tx) error { return tx.BindIdempotencyKey(c, scope, "k", "B", "rf_b") }))
	wantCode(t, s.BindIdempotencyKey(c, scope, "k", "B", "rf_other"), core.ECONFLICT)
	// B fails after its effect committed: the release keeps the bound key, and ends the lease.
	must(t, s.ReleaseIdempotencyKey(c, scope, "k", "B"))
	got, err := s.GetIdempotencyKey(c, scope, "k")
	must(t, err)
	if got.ResourceID != "rf_b" || !got.LockedUntil.IsZero() || got.State != store.IdempotencyInProgress {
		t.Fatalf("a bound key was released: %+v", got)
	}
	// So a retry takes it over at once and learns what B committed.
	got, ok = reserve("C", "h", at(7*time.Second))
	if !ok || got.Owner != "C" || got.ResourceID != "rf_b" {
		t.Fatalf("resume of a bound key: reserved %v, %+v", ok, got)
	}
	// Done keys are neither taken over nor released.
	must(t, s.CompleteIdempotencyKey(c, scope, "k", store.StoredResponse{Status: 201, Body: []byte("{}")}))
	must(t, s.ReleaseIdempotencyKey(c, scope, "k", "C"))
	if got, ok := reserve("D", "h", at(time.Hour)); ok || got.State != store.IdempotencyDone || got.ResourceID != "rf_b" {
		t.Fatalf("done key after release: reserved %v, %+v", ok, got)
	}
	// A key bound to nothing is forgotten by its holder's release.
	if _, ok := reserve("E", "h", at(0)); ok {
		t.Fatal("reserved a done key")
	}
	_, ok, err = s.ReserveIdempotencyKey(c, &store.IdempotencyKey{Scope: scope, Key: "free", RequestHash: "h", Owner: "F", CreatedAt: at(0)})
	must(t, err)
	if !ok {
		t.Fatal("reserve of a new key refused")
	}
	must(t, s.ReleaseIdempotencyKey(c, scope, "free", "F"))
	_, err = s.GetIdempotencyKey(c, scope, "free")
	wantCode(t, err, core.ENOTFOUND)
	wantCode(t, s.BindIdempotencyKey(c, scope, "free", "F", "rf_1"), core.ECONFLICT)
}
