package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// faultStore is a store whose transactions can be made to fail: failTx fails the next n InTx
// calls, as when another process holds SQLite's write lock past the busy timeout; dead fails
// every InTx and key release from then on, as for a host that has died (what it had committed
// stays in the shared database).
type faultStore struct {
	store.Store
	failTx atomic.Int32
	dead   atomic.Bool
}

var (
	errLocked = core.WrapError(core.EINTERNAL, errors.New("database is locked (injected)"), "store: commit")
	errDead   = core.WrapError(core.EINTERNAL, errors.New("host is dead (injected)"), "store: commit")
)

func (f *faultStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	if f.dead.Load() {
		return errDead
	}
	for {
		n := f.failTx.Load()
		if n <= 0 {
			break
		}
		if f.failTx.CompareAndSwap(n, n-1) {
			return errLocked
		}
	}
	return f.Store.InTx(ctx, fn)
}

func (f *faultStore) ReleaseIdempotencyKey(ctx context.Context, scope, key, owner string) error {
	if f.dead.Load() {
		return errDead
	}
	return f.Store.ReleaseIdempotencyKey(ctx, scope, key, owner)
}

func refundBody(value int64) map[string]any {
	return map[string]any{"amount": map[string]any{"value": value, "currency": "HKD"}, "reason": "damaged"}
}

// TestRefundRetryAfterStoreFailureIsTheSameRefund is issue 14's scenario: the gateway accepts a
// refund, the host cannot record the answer (the store's write fails), so it answers 500. The
// merchant retries with the same Idempotency-Key: the retry answers with the same refund
// (pending: the host does not know the outcome yet), and the gateway is asked exactly once.
// Before the fix the key was released with the 500 and the retry reserved a second refund with
// a new out_refund_no, which the gateway refunded again.
func TestRefundRetryAfterStoreFailureIsTheSameRefund(t *testing.T) {
	fs := &faultStore{Store: newTestStore(t)}
	e, fp := newFakeEnvOn(t, fs)
	p := e.createPayment(paymentBody("one-key", 10_000), nil)
	e.payFake(p, "ok-1")
	fp.setRefundHook(func(*core.RefundRequest) (*core.RefundState, bool, error) {
		fs.failTx.Store(1) // the gateway refunds; the host's next write fails
		return nil, false, nil
	})
	path := "/v1/payments/" + p.ID + "/refunds"
	key := map[string]string{"Idempotency-Key": "refund-once"}
	first := e.call("POST", path, refundBody(2_500), key)
	if first.Status != http.StatusInternalServerError || fs.failTx.Load() != 0 {
		t.Fatalf("first attempt: %d %s (injected failures left %d)", first.Status, first.Body, fs.failTx.Load())
	}
	fp.setRefundHook(nil)
	sent := fp.refundCalls()
	if len(sent) != 1 {
		t.Fatalf("gateway refund calls = %v, want 1", sent)
	}
	for i := range 2 {
		r := e.call("POST", path, refundBody(2_500), key)
		var rf host.Refund
		r.decode(t, &rf)
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d: %d %s", i, r.Status, r.Body)
		}
		if rf.OutRefundNo != sent[0] || rf.Status != core.RefundPending || rf.Amount.Value != 2_500 {
			t.Fatalf("retry %d answered %+v, want the refund sent as %s, pending", i, rf, sent[0])
		}
	}
	if got := fp.refundCalls(); len(got) != 1 {
		t.Fatalf("gateway refund calls after the retries = %v, want exactly the first", got)
	}
	var page host.Page[*host.Refund]
	e.call("GET", path, nil, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].OutRefundNo != sent[0] {
		t.Fatalf("refunds of the payment: %+v, want the one", page.Data)
	}
	// The same body with a new key is a new refund (the control: keys, not bodies, bind).
	if r := e.call("POST", path, refundBody(2_500), map[string]string{"Idempotency-Key": "refund-twice"}); r.Status != http.StatusCreated ||
		len(fp.refundCalls()) != 2 {
		t.Fatalf("a new key: %d %s, calls %v", r.Status, r.Body, fp.refundCalls())
	}
}

// TestRefundKeyFreedWhenNothingCommitted: a refund request refused before it reserved anything
// (here: the store fails the reservation itself) frees its key, so the retry runs as new.
func TestRefundKeyFreedWhenNothingCommitted(t *testing.T) {
	fs := &faultStore{Store: newTestStore(t)}
	e, fp := newFakeEnvOn(t, fs)
	p := e.createPayment(paymentBody("free-key", 10_000), nil)
	e.payFake(p, "ok-2")
	path := "/v1/payments/" + p.ID + "/refunds"
	key := map[string]string{"Idempotency-Key": "refund-free"}
	fs.failTx.Store(1) // the reservation's transaction
	if r := e.call("POST", path, refundBody(1_000), key); r.Status != http.StatusInternalServerError {
		t.Fatalf("first attempt: %d %s", r.Status, r.Body)
	}
	if n := len(fp.refundCalls()); n != 0 {
		t.Fatalf("gateway called %d times for a refund that was never reserved", n)
	}
	r := e.call("POST", path, refundBody(1_000), key)
	var rf host.Refund
	r.decode(t, &rf)
	if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" || rf.Status != core.RefundSucceeded {
		t.Fatalf("retry of a request that committed nothing: %d %s", r.Status, r.Body)
	}
}

// TestPaymentRetryAfterFailureIsTheSamePayment: once the payment row has committed, a create
// that then fails answers its retry with that payment, never a second one.
func TestPaymentRetryAfterFailureIsTheSamePayment(t *testing.T) {
	fs := &faultStore{Store: newTestStore(t)}
	e, fp := newFakeEnvOn(t, fs)
	fp.block, fp.entered = make(chan struct{}), make(chan struct{}, 1)
	body := paymentBody("one-payment", 1_000)
	body["provider_extras"] = map[string]string{"block": "1"}
	key := map[string]string{"Idempotency-Key": "pay-once"}
	done := make(chan *response, 1)
	go func() { done <- e.call("POST", "/v1/payments", body, key) }()
	<-fp.entered       // the payment row has committed; the provider is building the action
	fs.failTx.Store(1) // and recording it will fail
	close(fp.block)
	if r := <-done; r.Status != http.StatusInternalServerError {
		t.Fatalf("first attempt: %d %s", r.Status, r.Body)
	}
	var list host.Page[*host.Payment]
	e.call("GET", "/v1/payments?reference=one-payment", nil, nil).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("payments after the failed create: %d", len(list.Data))
	}
	r := e.call("POST", "/v1/payments", body, key)
	var got host.Payment
	r.decode(t, &got)
	if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" || got.ID != list.Data[0].ID {
		t.Fatalf("retry: %d %s, want payment %s", r.Status, r.Body, list.Data[0].ID)
	}
	e.call("GET", "/v1/payments?reference=one-payment", nil, nil).decode(t, &list)
	if len(list.Data) != 1 {
		t.Fatalf("payments after the retry: %d, want 1", len(list.Data))
	}
}

// TestDeadHostKeyTakenOverAfterLease: host A sends a refund to the gateway and dies before it
// records the answer; its key stays in progress. Host B (same database) answers the retry with
// 409 while A's lease runs, then takes the key over and answers with A's refund, sending
// nothing to the gateway. Before the fix the key stayed in progress for the key's whole TTL
// (24 h): every retry got 409.
func TestDeadHostKeyTakenOverAfterLease(t *testing.T) {
	const lease = 2 * time.Second
	shared := newTestStore(t)
	fsA := &faultStore{Store: shared}
	a, fpA := newFakeEnvOn(t, fsA)
	b, fpB := newFakeEnvOn(t, shared)
	a.api.SetIdempotencyLease(lease)
	b.api.SetIdempotencyLease(lease)
	p := a.createPayment(paymentBody("dead-host", 10_000), nil)
	a.payFake(p, "ok-3")
	fpA.setRefundHook(func(*core.RefundRequest) (*core.RefundState, bool, error) {
		fsA.dead.Store(true) // the gateway refunds; host A dies before recording it
		return nil, false, nil
	})
	path := "/v1/payments/" + p.ID + "/refunds"
	key := map[string]string{"Idempotency-Key": "refund-dead-host"}
	start := time.Now()
	if r := a.call("POST", path, refundBody(3_000), key); r.Status != http.StatusInternalServerError {
		t.Fatalf("host A: %d %s", r.Status, r.Body)
	}
	r := b.call("POST", path, refundBody(3_000), key)
	if time.Since(start) < lease && (r.Status != http.StatusConflict || r.errorCode(t) != "idempotency_key_in_use") {
		t.Fatalf("retry within A's lease: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Until(start.Add(lease + 100*time.Millisecond)))
	r = b.call("POST", path, refundBody(3_000), key)
	var rf host.Refund
	r.decode(t, &rf)
	sent := fpA.refundCalls()
	if r.Status != http.StatusCreated || len(sent) != 1 || rf.OutRefundNo != sent[0] || rf.Status != core.RefundPending {
		t.Fatalf("retry after the lease: %d %s; A sent %v", r.Status, r.Body, sent)
	}
	if got := fpB.refundCalls(); len(got) != 0 {
		t.Fatalf("host B sent the gateway %v; the first request had already reached it", got)
	}
}

// TestDeadHostKeyWithoutEffectRunsAgain: a host that died after reserving a key but before its
// first effect leaves the key bound to nothing: after the lease, the retry runs as a new request.
func TestDeadHostKeyWithoutEffectRunsAgain(t *testing.T) {
	const lease = time.Second
	e, fp := newFakeEnv(t)
	e.api.SetIdempotencyLease(lease)
	p := e.createPayment(paymentBody("dead-early", 10_000), nil)
	e.payFake(p, "ok-4")
	path := "/v1/payments/" + p.ID + "/refunds"
	body := []byte(`{"amount":{"value":1500,"currency":"HKD"}}`)
	sum := sha256.Sum256(body)
	start := time.Now()
	_, reserved, err := e.store.ReserveIdempotencyKey(t.Context(), &store.IdempotencyKey{
		Scope: "key_" + keyIDHex(testAPIKey) + " POST " + path, Key: "refund-dead-early", RequestHash: hex.EncodeToString(sum[:]),
		Owner: "lease_of_a_dead_host", CreatedAt: start, LockedUntil: start.Add(lease),
	})
	if err != nil || !reserved {
		t.Fatalf("reserve as the dead host: %v %v", reserved, err)
	}
	key := map[string]string{"Idempotency-Key": "refund-dead-early"}
	r := e.call("POST", path, body, key)
	if time.Since(start) < lease && r.Status != http.StatusConflict {
		t.Fatalf("retry within the lease: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Until(start.Add(lease + 100*time.Millisecond)))
	r = e.call("POST", path, body, key)
	var rf host.Refund
	r.decode(t, &rf)
	if r.Status != http.StatusCreated || rf.Status != core.RefundSucceeded || len(fp.refundCalls()) != 1 {
		t.Fatalf("retry after the lease: %d %s, gateway calls %v", r.Status, r.Body, fp.refundCalls())
	}
	if again := e.call("POST", path, body, key); again.Header.Get("Idempotent-Replayed") != "true" || len(fp.refundCalls()) != 1 {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}
}
