package storetest

import (
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// testBacklog checks the optional BacklogReader: the janitor's due and open items and the
// outbox's pending count and oldest event.
func testBacklog(t *testing.T, s store.Store) {
	br, ok := s.(store.BacklogReader)
	if !ok {
		t.Skip("store does not implement store.BacklogReader")
	}
	now := base.Add(time.Hour)
	b, err := br.Backlog(ctx(t), now)
	must(t, err)
	if b != (store.Backlog{}) {
		t.Fatalf("empty store backlog = %+v", b)
	}
	due := newPayment("acct-1", 100)
	due.NextQueryAt = now.Add(-time.Minute)
	later := newPayment("acct-1", 100)
	later.NextQueryAt = now.Add(time.Minute)
	unscheduled := newPayment("acct-1", 100)
	for _, p := range []*store.Payment{due, later, unscheduled} {
		must(t, s.InsertPayment(ctx(t), p))
	}
	paid := paidPayment(t, s, 500)
	r := &store.Refund{ID: uniq("rf_"), PaymentID: paid.ID, Account: paid.Account, OutRefundNo: uniq("orn"),
		Amount: core.Money{Value: 100, Currency: "HKD"}, Status: core.RefundProcessing, NextQueryAt: now}
	must(t, s.InsertRefund(ctx(t), r))
	stuck := &store.Refund{ID: uniq("rf_"), PaymentID: paid.ID, Account: paid.Account, OutRefundNo: uniq("orn"),
		Amount: core.Money{Value: 50, Currency: "HKD"}, Status: core.RefundPending, NeedsAttention: true, AttentionReason: "test",
		CreatedAt: base.Add(-2 * time.Hour), UpdatedAt: base.Add(-time.Hour)}
	must(t, s.InsertRefund(ctx(t), stuck))
	old := &store.Event{ID: uniq("evt_"), Type: store.EventPaymentSucceeded, Payload: []byte(`{}`), CreatedAt: base}
	young := &store.Event{ID: uniq("evt_"), Type: store.EventPaymentSucceeded, Payload: []byte(`{}`), CreatedAt: base.Add(time.Minute)}
	gone := &store.Event{ID: uniq("evt_"), Type: store.EventPaymentSucceeded, Payload: []byte(`{}`), CreatedAt: base.Add(-time.Hour)}
	for _, e := range []*store.Event{old, young, gone} {
		must(t, s.InsertEvent(ctx(t), e))
	}
	must(t, s.MarkEventDelivered(ctx(t), gone.ID, now))

	b, err = br.Backlog(ctx(t), now)
	must(t, err)
	want := store.Backlog{DuePayments: 1, DueRefunds: 1, OpenPayments: 2, OpenRefunds: 1, PendingEvents: 2, OldestPendingEvent: us(base), AttentionRefunds: 1,
		OldestAttention: us(base.Add(-time.Hour))}
	if b != want {
		t.Fatalf("backlog = %+v\nwant      %+v", b, want)
	}

	// The janitor's later query of the flagged refund rewrites its row (updated_at becomes now):
	// the age still counts from when it was flagged, not from that write.
	must(t, s.InTx(ctx(t), func(tx store.Tx) error {
		q, err := tx.LockRefund(ctx(t), stuck.ID)
		if err != nil {
			return err
		}
		q.NextQueryAt, q.QueryAttempts = now.Add(time.Hour), q.QueryAttempts+1
		return tx.UpdateRefund(ctx(t), q)
	}))
	got, err := s.GetRefund(ctx(t), stuck.ID)
	must(t, err)
	if !got.FlaggedAt.Equal(us(base.Add(-time.Hour))) || got.UpdatedAt.Equal(got.FlaggedAt) {
		t.Fatalf("after a later write: flagged_at %v, updated_at %v; want flagged_at %v kept", got.FlaggedAt, got.UpdatedAt, us(base.Add(-time.Hour)))
	}
	b, err = br.Backlog(ctx(t), now)
	must(t, err)
	if !b.OldestAttention.Equal(us(base.Add(-time.Hour))) || b.AttentionRefunds != 1 {
		t.Fatalf("backlog after a later write to the flagged refund: %+v; want OldestAttention %v", b, us(base.Add(-time.Hour)))
	}

	// Leaving the queue clears flagged_at; the queue is empty again.
	must(t, s.InTx(ctx(t), func(tx store.Tx) error {
		q, err := tx.LockRefund(ctx(t), stuck.ID)
		if err != nil {
			return err
		}
		q.NeedsAttention, q.Status = false, core.RefundSucceeded
		return tx.UpdateRefund(ctx(t), q)
	}))
	got, err = s.GetRefund(ctx(t), stuck.ID)
	must(t, err)
	if !got.FlaggedAt.IsZero() {
		t.Fatalf("flagged_at after leaving the queue = %v, want zero", got.FlaggedAt)
	}
	b, err = br.Backlog(ctx(t), now)
	must(t, err)
	if b.AttentionRefunds != 0 || !b.OldestAttention.IsZero() {
		t.Fatalf("backlog after the refund left the queue: %+v", b)
	}
}
