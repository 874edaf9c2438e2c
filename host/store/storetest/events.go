package storetest

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testEventLifecycle(t *testing.T, s store.Store) {
	c := ctx(t)
	e := &store.Event{ID: "evt_lifecycle", Type: store.EventRefundSucceeded, Account: "acct-1", PaymentID: "pay_1",
		RefundID: "rf_1", Payload: json.RawMessage(`{"id":"rf_1","amount":{"value":1,"currency":"HKD"}}`), CreatedAt: base}
	must(t, s.InsertEvent(c, e))
	want := *e
	want.Status, want.CreatedAt, want.NextAttemptAt = store.EventPending, us(base), us(base)
	got, err := s.GetEvent(c, e.ID)
	must(t, err)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("GetEvent:\n got %+v\nwant %+v", got, &want)
	}
	wantCode(t, s.InsertEvent(c, &store.Event{ID: e.ID, Type: "x", Payload: json.RawMessage(`{}`)}), core.ECONFLICT)
	wantCode(t, s.InsertEvent(c, &store.Event{ID: "evt_bad", Type: "x", Payload: json.RawMessage(`{`)}), core.EINVALID)
	_, err = s.GetEvent(c, "evt_missing")
	wantCode(t, err, core.ENOTFOUND)

	// Not due before NextAttemptAt.
	evs, err := s.ClaimDueEvents(c, base.Add(-time.Second), 10, time.Minute)
	must(t, err)
	if len(evs) != 0 {
		t.Fatalf("claimed %d events before they were due", len(evs))
	}
	now := base.Add(time.Second)
	evs, err = s.ClaimDueEvents(c, now, 10, time.Minute)
	must(t, err)
	if len(evs) != 1 || evs[0].Attempts != 1 || evs[0].NextAttemptAt != us(now.Add(time.Minute)) || evs[0].LastAttemptAt != us(now) {
		t.Fatalf("claim: %+v", evs)
	}
	// Leased: nobody else gets it until the lease runs out.
	evs, err = s.ClaimDueEvents(c, now.Add(59*time.Second), 10, time.Minute)
	must(t, err)
	if len(evs) != 0 {
		t.Fatal("claimed an event under lease")
	}
	// A dispatcher that died: the lease runs out and the event comes back.
	now = now.Add(time.Minute)
	evs, err = s.ClaimDueEvents(c, now, 10, time.Minute)
	must(t, err)
	if len(evs) != 1 || evs[0].Attempts != 2 {
		t.Fatalf("re-claim after lease: %+v", evs)
	}
	must(t, s.ScheduleEventRetry(c, e.ID, "HTTP 500", now.Add(time.Hour)))
	got, err = s.GetEvent(c, e.ID)
	must(t, err)
	if got.Status != store.EventPending || got.LastError != "HTTP 500" || got.NextAttemptAt != us(now.Add(time.Hour)) || got.Attempts != 2 {
		t.Fatalf("after retry: %+v", got)
	}
	evs, err = s.ClaimDueEvents(c, now.Add(time.Hour), 10, time.Minute)
	must(t, err)
	if len(evs) != 1 || evs[0].Attempts != 3 {
		t.Fatalf("claim after retry: %+v", evs)
	}
	delivered := now.Add(time.Hour + time.Second)
	must(t, s.MarkEventDelivered(c, e.ID, delivered))
	got, err = s.GetEvent(c, e.ID)
	must(t, err)
	if got.Status != store.EventDelivered || got.DeliveredAt != us(delivered) || !got.NextAttemptAt.IsZero() {
		t.Fatalf("after delivered: %+v", got)
	}
	evs, err = s.ClaimDueEvents(c, delivered.Add(24*time.Hour), 10, time.Minute)
	must(t, err)
	if len(evs) != 0 {
		t.Fatal("claimed a delivered event")
	}
	// Redeliver: pending again, due now, attempts reset, history kept.
	redo := delivered.Add(time.Hour)
	got, err = s.RedeliverEvent(c, e.ID, redo)
	must(t, err)
	if got.Status != store.EventPending || got.Attempts != 0 || got.NextAttemptAt != us(redo) || got.DeliveredAt != us(delivered) {
		t.Fatalf("redeliver: %+v", got)
	}
	evs, err = s.ClaimDueEvents(c, redo, 10, time.Minute)
	must(t, err)
	if len(evs) != 1 {
		t.Fatal("redelivered event not claimable")
	}
	must(t, s.MarkEventFailed(c, e.ID, "gave up"))
	got, err = s.GetEvent(c, e.ID)
	must(t, err)
	if got.Status != store.EventFailed || got.LastError != "gave up" || !got.NextAttemptAt.IsZero() {
		t.Fatalf("after failed: %+v", got)
	}
	evs, err = s.ClaimDueEvents(c, redo.Add(24*time.Hour), 10, time.Minute)
	must(t, err)
	if len(evs) != 0 {
		t.Fatal("claimed a failed event")
	}
	_, err = s.RedeliverEvent(c, "evt_missing", redo)
	wantCode(t, err, core.ENOTFOUND)
	wantCode(t, s.MarkEventDelivered(c, "evt_missing", redo), core.ENOTFOUND)
	wantCode(t, s.ScheduleEventRetry(c, "evt_missing", "x", redo), core.ENOTFOUND)
	wantCode(t, s.MarkEventFailed(c, "evt_missing", "x"), core.ENOTFOUND)
}

func testEventList(t *testing.T, s store.Store) {
	c := ctx(t)
	var all, ofP1, succeeded []string
	for i := 0; i < 12; i++ {
		e := &store.Event{ID: uniq("evt_"), Type: store.EventPaymentSucceeded, PaymentID: "pay_2", Payload: json.RawMessage(`{}`)}
		if i%3 == 0 {
			e.PaymentID = "pay_1"
			ofP1 = append([]string{e.ID}, ofP1...)
		}
		if i%4 == 0 {
			e.Type = store.EventRefundFailed
		} else {
			succeeded = append([]string{e.ID}, succeeded...)
		}
		must(t, s.InsertEvent(c, e))
		all = append([]string{e.ID}, all...)
	}
	collect := func(f store.EventFilter) []string {
		var ids []string
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			evs, next, err := s.ListEvents(c, f)
			must(t, err)
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			if next == "" {
				return ids
			}
			f.Cursor = next
		}
	}
	if got := collect(store.EventFilter{Limit: 5}); !reflect.DeepEqual(got, all) {
		t.Errorf("all events = %v, want %v", got, all)
	}
	if got := collect(store.EventFilter{PaymentID: "pay_1", Limit: 1}); !reflect.DeepEqual(got, ofP1) {
		t.Errorf("events of pay_1 = %v, want %v", got, ofP1)
	}
	if got := collect(store.EventFilter{Type: store.EventPaymentSucceeded, Status: store.EventPending}); !reflect.DeepEqual(got, succeeded) {
		t.Errorf("payment.succeeded events = %v, want %v", got, succeeded)
	}
	if got := collect(store.EventFilter{Status: store.EventDelivered}); len(got) != 0 {
		t.Errorf("delivered events = %v", got)
	}
}

func testClaimPaymentsAndRefunds(t *testing.T, s store.Store) {
	c := ctx(t)
	due := newPayment("acct-1", 100)
	due.NextQueryAt = base
	later := newPayment("acct-1", 100)
	later.NextQueryAt = base.Add(time.Hour)
	unscheduled := newPayment("acct-1", 100)
	done := newPayment("acct-1", 100)
	done.Status, done.NextQueryAt = core.PaymentSucceeded, base
	for _, p := range []*store.Payment{due, later, unscheduled, done} {
		must(t, s.InsertPayment(c, p))
	}
	now := base.Add(time.Minute)
	ps, err := s.ClaimDuePayments(c, now, 10, 30*time.Second)
	must(t, err)
	if len(ps) != 1 || ps[0].ID != due.ID || ps[0].QueryAttempts != 1 || ps[0].NextQueryAt != us(now.Add(30*time.Second)) {
		t.Fatalf("ClaimDuePayments = %+v", ps)
	}
	ps, err = s.ClaimDuePayments(c, now.Add(29*time.Second), 10, 30*time.Second)
	must(t, err)
	if len(ps) != 0 {
		t.Fatal("claimed a leased payment")
	}
	// The janitor writes its outcome; an unscheduled payment is never claimed again.
	p := *due
	p.Status, p.NextQueryAt = core.PaymentClosed, time.Time{}
	must(t, s.UpdatePayment(c, &p))
	ps, err = s.ClaimDuePayments(c, base.Add(2*time.Hour), 10, time.Second)
	must(t, err)
	if len(ps) != 1 || ps[0].ID != later.ID {
		t.Fatalf("second claim = %v", idsOf(ps))
	}

	paid := paidPayment(t, s, 1000)
	var refunds []*store.Refund
	for i, st := range []core.RefundStatus{core.RefundPending, core.RefundProcessing, core.RefundSucceeded, core.RefundPending} {
		r := &store.Refund{ID: uniq("rf_"), PaymentID: paid.ID, Account: paid.Account, OutRefundNo: uniq("RF"),
			Amount: core.Money{Value: 1, Currency: "HKD"}, Status: st, NextQueryAt: base.Add(time.Duration(i) * time.Second)}
		if i == 3 {
			r.NextQueryAt = time.Time{}
		}
		must(t, s.InsertRefund(c, r))
		refunds = append(refunds, r)
	}
	rs, err := s.ClaimDueRefunds(c, now, 1, time.Minute)
	must(t, err)
	if len(rs) != 1 || rs[0].ID != refunds[0].ID || rs[0].QueryAttempts != 1 {
		t.Fatalf("ClaimDueRefunds limit 1 = %v (oldest due first)", idsOf(rs))
	}
	rs, err = s.ClaimDueRefunds(c, now, 10, time.Minute)
	must(t, err)
	if len(rs) != 1 || rs[0].ID != refunds[1].ID {
		t.Fatalf("ClaimDueRefunds = %v", idsOf(rs))
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	c := ctx(t)
	p := newPayment("acct-1", 100)
	err := s.InTx(c, func(tx store.Tx) error {
		if err := tx.InsertPayment(c, p); err != nil {
			return err
		}
		if err := tx.InsertEvent(c, &store.Event{ID: uniq("evt_"), Type: "x", PaymentID: p.ID, Payload: json.RawMessage(`{}`)}); err != nil {
			return err
		}
		// Visible inside the transaction.
		if _, err := tx.GetPayment(c, p.ID); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("InTx returned %v, want fn's error unchanged", err)
	}
	_, err = s.GetPayment(c, p.ID)
	wantCode(t, err, core.ENOTFOUND)
	evs, _, err := s.ListEvents(c, store.EventFilter{PaymentID: p.ID})
	must(t, err)
	if len(evs) != 0 {
		t.Fatal("event of a rolled-back transaction persisted")
	}
	func() {
		defer func() {
			if r := recover(); r != "panic in tx" {
				t.Fatalf("recovered %v, want the panic re-raised", r)
			}
		}()
		_ = s.InTx(c, func(tx store.Tx) error {
			if err := tx.InsertPayment(c, p); err != nil {
				return err
			}
			panic("panic in tx")
		})
	}()
	_, err = s.GetPayment(c, p.ID)
	wantCode(t, err, core.ENOTFOUND)
	// The store still works after a panic.
	must(t, s.InTx(c, func(tx store.Tx) error { return tx.InsertPayment(c, p) }))
	_, err = s.GetPayment(c, p.ID)
	must(t, err)
}

// claimRace runs claimers on both stores until nothing is left and checks that every item was
// handed out exactly once.
func claimRace(t *testing.T, a, b store.Store, total int, claim func(s store.Store) ([]string, error)) {
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for i := 0; i < 6; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for empty := 0; empty < 2; {
				ids, err := claim(s)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(ids) == 0 {
					empty++
					continue
				}
				mu.Lock()
				for _, id := range ids {
					seen[id]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Errorf("%d distinct items claimed, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
}

func testClaimEventsRace(t *testing.T, a, b store.Store) {
	c := ctx(t)
	const total = 150
	for i := 0; i < total; i++ {
		must(t, a.InsertEvent(c, &store.Event{ID: uniq("evt_"), Type: "x", Payload: json.RawMessage(`{}`), CreatedAt: base}))
	}
	claimRace(t, a, b, total, func(s store.Store) ([]string, error) {
		evs, err := s.ClaimDueEvents(c, base.Add(time.Second), 7, time.Hour)
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids, err
	})
}

func testClaimPaymentsRace(t *testing.T, a, b store.Store) {
	c := ctx(t)
	const total = 100
	for i := 0; i < total; i++ {
		p := newPayment("acct-1", 1)
		p.NextQueryAt = base
		must(t, a.InsertPayment(c, p))
	}
	claimRace(t, a, b, total, func(s store.Store) ([]string, error) {
		ps, err := s.ClaimDuePayments(c, base.Add(time.Second), 7, time.Hour)
		return idsOf(ps), err
	})
}
