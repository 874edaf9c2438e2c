package host_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
	"github.com/paymux/paymux/providers/mapi"
	"github.com/paymux/paymux/providers/mapisim"
)

var janitorStart = time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)

func newTestJanitor(w *simWorld, passes *[]host.JanitorPass) *host.Janitor {
	var mu sync.Mutex
	return host.NewJanitor(host.JanitorOptions{
		Service: w.svc, Batch: 50, Retry: time.Minute, Logger: w.log,
		OnPass: func(p host.JanitorPass) {
			if passes != nil {
				mu.Lock()
				*passes = append(*passes, p)
				mu.Unlock()
			}
		},
	})
}

func runOnce(t *testing.T, j *host.Janitor) int {
	t.Helper()
	n, err := j.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// TestJanitorPaidWithoutNotification: the wallet's notification never arrives; the janitor's
// scheduled query finds the payment paid and records it with its event, once.
func TestJanitorPaidWithoutNotification(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	j := newTestJanitor(w, nil)
	p := w.create(t, 1250, "order-1")
	w.pay(t, p)

	if n := runOnce(t, j); n != 0 {
		t.Fatalf("claimed %d items before the first scheduled query", n)
	}
	w.clock.advance(time.Minute) // the provider's first QuerySchedule entry
	if n := runOnce(t, j); n != 1 {
		t.Fatalf("claimed %d items, want 1", n)
	}
	got, err := w.svc.GetPayment(context.Background(), p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != core.PaymentSucceeded || got.ProviderRef == "" || got.PaidAt == nil {
		t.Fatalf("after the janitor: %+v", got)
	}
	if evs := w.events(t, webhook.PaymentSucceeded, p.ID); len(evs) != 1 {
		t.Fatalf("payment.succeeded events = %d, want 1", len(evs))
	}
	st, _ := w.store.GetPayment(context.Background(), p.ID)
	if !st.NextQueryAt.IsZero() || st.QueryAttempts != 1 {
		t.Errorf("next_query_at %v attempts %d, want unscheduled after 1", st.NextQueryAt, st.QueryAttempts)
	}
	w.clock.advance(48 * time.Hour)
	if n := runOnce(t, j); n != 0 {
		t.Errorf("a settled payment was claimed again (%d)", n)
	}
}

// TestJanitorFollowsSchedule: an unpaid payment is queried at each QuerySchedule offset (counted)
// and, past its expiry, gets a last query and is closed with payment.closed.
func TestJanitorFollowsSchedule(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	var passes []host.JanitorPass
	j := newTestJanitor(w, &passes)
	p := w.create(t, 990, "order-2")
	desc, _ := w.prov.Describe(context.Background())
	created := janitorStart

	// Walk the schedule while the payment lives: 1m, 3m, 10m, then expiry (30m) comes first.
	for i, off := range desc.QuerySchedule {
		at := created.Add(off)
		if !at.Before(created.Add(desc.DefaultExpiry)) {
			break
		}
		w.clock.set(at.Add(-time.Second))
		if n := runOnce(t, j); n != 0 {
			t.Fatalf("step %d: claimed before its time", i)
		}
		w.clock.set(at)
		if n := runOnce(t, j); n != 1 {
			t.Fatalf("step %d (%v): claimed %d, want 1", i, off, n)
		}
		if q := w.prov.count(w.prov.queries, p.OutTradeNo); q != i+1 {
			t.Fatalf("step %d: %d queries, want %d", i, q, i+1)
		}
		st, _ := w.store.GetPayment(context.Background(), p.ID)
		if st.Status != core.PaymentPending || st.QueryAttempts != i+1 {
			t.Fatalf("step %d: status %s attempts %d", i, st.Status, st.QueryAttempts)
		}
	}
	st, _ := w.store.GetPayment(context.Background(), p.ID)
	if !st.NextQueryAt.Equal(st.ExpiresAt) {
		t.Fatalf("the last query is not at expiry: next %v, expires %v", st.NextQueryAt, st.ExpiresAt)
	}
	queries := w.prov.count(w.prov.queries, p.OutTradeNo)
	w.clock.set(st.ExpiresAt)
	if n := runOnce(t, j); n != 1 {
		t.Fatalf("expiry pass claimed %d", n)
	}
	if q := w.prov.count(w.prov.queries, p.OutTradeNo); q != queries+1 {
		t.Errorf("no last query before closing (%d -> %d)", queries, q)
	}
	got, _ := w.svc.GetPayment(context.Background(), p.ID, false)
	if got.Status != core.PaymentClosed || got.FailureCode != "expired" {
		t.Fatalf("expired payment: status %s failure %q", got.Status, got.FailureCode)
	}
	if evs := w.events(t, webhook.PaymentClosed, p.ID); len(evs) != 1 {
		t.Fatalf("payment.closed events = %d, want 1", len(evs))
	}
	last := passes[len(passes)-1]
	if last.Closed != 1 || last.Resolved != 1 || last.Payments != 1 {
		t.Errorf("last pass %+v", last)
	}
}

// TestJanitorExpiredButPaid: a payment paid just before expiry is not closed: the last query
// finds it paid.
func TestJanitorExpiredButPaid(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	j := newTestJanitor(w, nil)
	p := w.create(t, 500, "order-3")
	w.clock.advance(29 * time.Minute)
	w.pay(t, p)
	w.clock.advance(2 * time.Hour)
	runOnce(t, j)
	got, _ := w.svc.GetPayment(context.Background(), p.ID, false)
	if got.Status != core.PaymentSucceeded {
		t.Fatalf("status %s, want succeeded", got.Status)
	}
	if n := len(w.events(t, webhook.PaymentClosed, p.ID)); n != 0 {
		t.Errorf("%d payment.closed events for a paid payment", n)
	}
}

// TestJanitorUnavailableReschedules: a gateway fault or a plugin that is down never fails or
// closes anything: the item is rescheduled and settled once the provider answers.
func TestJanitorUnavailableReschedules(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	var passes []host.JanitorPass
	j := newTestJanitor(w, &passes)
	p := w.create(t, 700, "order-4")
	w.pay(t, p)
	w.clock.advance(time.Hour) // due, and past expiry: a wrong close would be a lost payment

	w.provs.setDown("acct", true)
	runOnce(t, j)
	if _, err := w.sim.SetFault(mapisim.Fault{Kind: mapisim.FaultStatus, Service: "single_trade_query", Status: 502, Count: 1}); err != nil {
		t.Fatal(err)
	}
	w.provs.setDown("acct", false)
	w.clock.advance(time.Minute)
	runOnce(t, j)
	if got, _ := w.svc.GetPayment(context.Background(), p.ID, false); got.Status != core.PaymentPending {
		t.Fatalf("after faults: status %s, want pending", got.Status)
	}
	if len(passes) != 2 || passes[0].Errors != 1 || passes[1].Errors != 1 || passes[1].Rescheduled != 1 {
		t.Fatalf("passes %+v", passes)
	}
	st, _ := w.store.GetPayment(context.Background(), p.ID)
	if want := w.clock.now().Add(time.Minute); !st.NextQueryAt.Equal(want) {
		t.Errorf("rescheduled at %v, want %v", st.NextQueryAt, want)
	}
	w.clock.advance(time.Minute)
	runOnce(t, j)
	if got, _ := w.svc.GetPayment(context.Background(), p.ID, false); got.Status != core.PaymentSucceeded {
		t.Fatalf("after recovery: status %s, want succeeded", got.Status)
	}
}

// TestJanitorResolvesUnknownRefund: the refund call fails with an unknown outcome (gateway
// 5xx, then a hang past the deadline): the refund stays pending, and the janitor settles it,
// sending it again under the same out_refund_no when the gateway never saw it.
func TestJanitorResolvesUnknownRefund(t *testing.T) {
	for _, kind := range []mapisim.FaultKind{mapisim.FaultStatus, mapisim.FaultHang} {
		t.Run(string(kind), func(t *testing.T) {
			w := newSimWorld(t, newTestStore(t), janitorStart)
			j := newTestJanitor(w, nil)
			ctx := context.Background()
			p := w.create(t, 2000, "order-5")
			w.pay(t, p)
			w.clock.advance(time.Minute)
			runOnce(t, j) // learns the payment is paid
			if _, err := w.sim.SetFault(mapisim.Fault{Kind: kind, Service: "forex_refund", Count: 1}); err != nil {
				t.Fatal(err)
			}
			rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 800, Currency: "USD"}, Reason: "broken"})
			if err != nil {
				t.Fatalf("refund with an unknown outcome must not fail: %v", err)
			}
			if rf.Status != core.RefundPending {
				t.Fatalf("refund status %s, want pending", rf.Status)
			}
			if _, ok := w.sim.Refund(simPartner, rf.OutRefundNo); ok {
				t.Fatal("the simulator processed the faulted refund")
			}
			w.clock.advance(time.Minute)
			if n := runOnce(t, j); n != 1 {
				t.Fatalf("claimed %d, want the refund", n)
			}
			got, err := w.svc.GetRefund(ctx, p.ID, rf.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != core.RefundSucceeded {
				t.Fatalf("after the janitor: refund %s", got.Status)
			}
			if n := w.prov.count(w.prov.refunds, rf.OutRefundNo); n != 2 {
				t.Errorf("Refund calls with %s = %d, want 2 (the lost one, then the janitor's)", rf.OutRefundNo, n)
			}
			if sr, ok := w.sim.Refund(simPartner, rf.OutRefundNo); !ok || sr.Amount != 800 {
				t.Errorf("simulator refund %+v %v", sr, ok)
			}
			evs, _, _ := w.store.ListEvents(ctx, store.EventFilter{Type: webhook.RefundSucceeded, PaymentID: p.ID})
			if len(evs) != 1 {
				t.Errorf("refund.succeeded events = %d, want 1", len(evs))
			}
			pay, _ := w.store.GetPayment(ctx, p.ID)
			if pay.AmountRefunded != 800 || pay.AmountReserved != 800 {
				t.Errorf("payment refunded %d reserved %d, want 800/800", pay.AmountRefunded, pay.AmountReserved)
			}
			w.clock.advance(72 * time.Hour)
			if n := runOnce(t, j); n != 0 {
				t.Errorf("settled items claimed again: %d", n)
			}
		})
	}
}

// TestJanitorRefundAlreadyProcessed: the gateway refunded but the answer was lost; the
// janitor's query finds it, and never sends it again.
func TestJanitorRefundAlreadyProcessed(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	j := newTestJanitor(w, nil)
	ctx := context.Background()
	p := w.create(t, 2000, "order-6")
	w.pay(t, p)
	w.clock.advance(time.Minute)
	runOnce(t, j)
	// Lose the refund's answer: the provider call returns a timeout after the gateway acted.
	w.provs.mu.Lock()
	w.provs.accs["acct"] = &lostAnswer{countingProvider: w.prov}
	w.provs.mu.Unlock()
	rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 2000, Currency: "USD"}})
	if err != nil || rf.Status != core.RefundPending {
		t.Fatalf("refund: %+v %v", rf, err)
	}
	w.clock.advance(time.Minute)
	runOnce(t, j)
	got, _ := w.svc.GetRefund(ctx, p.ID, rf.ID)
	if got.Status != core.RefundSucceeded {
		t.Fatalf("refund %s, want succeeded", got.Status)
	}
	if n := w.prov.count(w.prov.refunds, rf.OutRefundNo); n != 1 {
		t.Errorf("Refund calls = %d, want 1", n)
	}
}

// lostAnswer performs Refund at the gateway, then reports a timeout (EUNKNOWN) to the host.
type lostAnswer struct{ *countingProvider }

func (l *lostAnswer) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	if _, err := l.countingProvider.Refund(ctx, req); err != nil {
		return nil, err
	}
	return nil, core.Errorf(core.EUNKNOWN, "forex_refund: deadline exceeded (test)")
}

// TestJanitorTwoHostsPostgres: two janitors with their own pools on one PostgreSQL schema run
// passes concurrently over many due payments and refunds; no item is queried twice, and every
// item is queried.
func TestJanitorTwoHostsPostgres(t *testing.T) {
	stores := newPostgresStores(t, 2)
	w := newSimWorld(t, stores[0], janitorStart)
	other := host.New(host.Options{Store: stores[1], Providers: w.provs, Logger: w.log, CallTimeout: 3 * time.Second,
		Now: w.clock.now, Settings: w.svc.Settings()})
	ctx := context.Background()
	const n = 30
	var pays []*host.Payment
	for i := range n {
		p := w.create(t, int64(100+i), "multi")
		if i%3 == 0 {
			w.pay(t, p)
		}
		pays = append(pays, p)
	}
	w.clock.advance(time.Minute)
	js := []*host.Janitor{
		host.NewJanitor(host.JanitorOptions{Service: w.svc, Batch: 4, Logger: w.log}),
		host.NewJanitor(host.JanitorOptions{Service: other, Batch: 4, Logger: w.log}),
	}
	race := func() []int {
		var wg sync.WaitGroup
		claimed := make([]int, 2)
		for i, j := range js {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k, err := j.RunOnce(ctx)
					if err != nil {
						t.Errorf("janitor %d: %v", i, err)
						return
					}
					if k == 0 {
						return
					}
					claimed[i] += k
				}
			}()
		}
		wg.Wait()
		return claimed
	}
	claimed := race()
	if claimed[0]+claimed[1] != n {
		t.Fatalf("claimed %v, want %d in total", claimed, n)
	}
	if claimed[0] == 0 || claimed[1] == 0 {
		t.Logf("one janitor did all the work (%v): allowed, but the test shows less", claimed)
	}
	for i, p := range pays {
		if q := w.prov.count(w.prov.queries, p.OutTradeNo); q != 1 {
			t.Errorf("payment %d queried %d times, want 1", i, q)
		}
		got, _ := w.svc.GetPayment(ctx, p.ID, false)
		want := core.PaymentPending
		if i%3 == 0 {
			want = core.PaymentSucceeded
		}
		if got.Status != want {
			t.Errorf("payment %d: %s, want %s", i, got.Status, want)
		}
		if want == core.PaymentSucceeded {
			if evs := w.events(t, webhook.PaymentSucceeded, p.ID); len(evs) != 1 {
				t.Errorf("payment %d: %d payment.succeeded events", i, len(evs))
			}
		}
	}

	// Refunds whose answers were lost: both janitors race again; each is queried once.
	w.provs.mu.Lock()
	w.provs.accs["acct"] = &lostAnswer{countingProvider: w.prov}
	w.provs.mu.Unlock()
	var refunds []*host.Refund
	for i := 0; i < n; i += 3 {
		rf, err := w.svc.CreateRefund(ctx, pays[i].ID, &host.CreateRefundRequest{Amount: core.Money{Value: 50, Currency: "USD"}})
		if err != nil || rf.Status != core.RefundPending {
			t.Fatalf("refund %d: %+v %v", i, rf, err)
		}
		refunds = append(refunds, rf)
	}
	w.clock.advance(time.Minute)
	claimed = race()
	t.Logf("refunds claimed by each janitor: %v", claimed)
	for _, rf := range refunds {
		if q := w.prov.count(w.prov.queries, rf.OutRefundNo); q != 1 {
			t.Errorf("refund %s queried %d times, want 1", rf.ID, q)
		}
		if got, _ := w.store.GetRefund(ctx, rf.ID); got.Status != core.RefundSucceeded {
			t.Errorf("refund %s: %s", rf.ID, got.Status)
		}
		evs, _, _ := w.store.ListEvents(ctx, store.EventFilter{Type: webhook.RefundSucceeded, PaymentID: rf.PaymentID})
		if len(evs) != 1 {
			t.Errorf("refund %s: %d refund.succeeded events", rf.ID, len(evs))
		}
	}
}

// wrongAmount reports every payment paid with one cent more than asked.
type wrongAmount struct{ *countingProvider }

func (w wrongAmount) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	st, err := w.countingProvider.QueryPayment(ctx, req)
	if err == nil && st.Amount.Currency != "" {
		st.Amount.Value++
	}
	return st, err
}

// TestJanitorAmountMismatch: a query that reports another amount flags the payment once (one
// payment.amount_mismatch event), never marks it paid, and neither queries nor closes it again.
func TestJanitorAmountMismatch(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	j := newTestJanitor(w, nil)
	p := w.create(t, 1500, "order-7")
	w.pay(t, p)
	w.provs.mu.Lock()
	w.provs.accs["acct"] = wrongAmount{w.prov}
	w.provs.mu.Unlock()
	w.clock.advance(time.Minute)
	if n := runOnce(t, j); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	st, _ := w.store.GetPayment(context.Background(), p.ID)
	if st.Status != core.PaymentPending || !st.HasFlag(store.FlagAmountMismatch) || !st.NextQueryAt.IsZero() {
		t.Fatalf("after a mismatching query: status %s flags %v next %v", st.Status, st.Flags, st.NextQueryAt)
	}
	w.clock.advance(2 * time.Hour) // past expiry too
	if n := runOnce(t, j); n != 0 {
		t.Errorf("a flagged payment was claimed again")
	}
	if evs := w.events(t, webhook.PaymentAmountMismatch, p.ID); len(evs) != 1 {
		t.Errorf("payment.amount_mismatch events = %d, want 1", len(evs))
	}
	if evs := w.events(t, webhook.PaymentClosed, p.ID); len(evs) != 0 {
		t.Errorf("a paid (mismatching) payment was closed")
	}
}

// TestJanitorLaggingRefundQueryNeverFails: the gateway refunded, but the answer was lost; the
// janitor's query says "not found" (the query lags), the re-send under the same out_refund_no is
// declined RETURN_AMOUNT_EXCEED (exactly what a successful first send produces). The refund
// must stay pending with its amount reserved and need an operator (event, metric), never fail;
// once the query catches up, it is refunded. Before the fix it was failed and its reservation
// released.
func TestJanitorLaggingRefundQueryNeverFails(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	var passes []host.JanitorPass
	j := newTestJanitor(w, &passes)
	ctx := context.Background()
	p := w.create(t, 2000, "order-lag")
	w.pay(t, p)
	w.clock.advance(time.Minute)
	runOnce(t, j)
	w.provs.mu.Lock()
	w.provs.accs["acct"] = &lostAnswer{countingProvider: w.prov}
	w.provs.mu.Unlock()
	rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 1500, Currency: "USD"}})
	if err != nil || rf.Status != core.RefundPending {
		t.Fatalf("refund: %+v %v", rf, err)
	}
	w.provs.mu.Lock()
	w.provs.accs["acct"] = w.prov
	w.provs.mu.Unlock()
	for _, f := range []mapisim.Fault{
		{Kind: mapisim.FaultError, Service: mapi.ServiceRefundQuery, Code: "REFUND_RECORD_NOT_EXIST", Count: 2},
		{Kind: mapisim.FaultError, Service: mapi.ServiceRefund, Code: "RETURN_AMOUNT_EXCEED", Count: 1},
	} {
		if _, err := w.sim.SetFault(f); err != nil {
			t.Fatal(err)
		}
	}
	w.clock.advance(time.Minute)
	passes = nil
	runOnce(t, j)
	got, err := w.svc.GetRefund(ctx, p.ID, rf.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != core.RefundPending || !got.NeedsAttention || !strings.Contains(got.AttentionReason, "RETURN_AMOUNT_EXCEED") {
		t.Fatalf("after a declined re-send: %+v, want pending and needing attention", got)
	}
	if pay, _ := w.store.GetPayment(ctx, p.ID); pay.AmountReserved != 1500 || pay.AmountRefunded != 0 {
		t.Fatalf("payment reserved %d refunded %d, want 1500/0 (the amount stays reserved)", pay.AmountReserved, pay.AmountRefunded)
	}
	if evs := w.events(t, webhook.RefundNeedsAttention, p.ID); len(evs) != 1 {
		t.Fatalf("refund.needs_attention events = %d, want 1", len(evs))
	}
	if len(passes) != 1 || passes[0].Attention != 1 {
		t.Fatalf("passes = %+v, want one marking the refund", passes)
	}
	if n := w.prov.count(w.prov.refunds, rf.OutRefundNo); n != 2 {
		t.Fatalf("Refund calls = %d, want 2 (the lost first, the declined re-send)", n)
	}
	// Still not found: queried again, but not sent again, and not marked twice.
	w.clock.advance(6 * time.Minute)
	passes = nil
	if n := runOnce(t, j); n != 1 {
		t.Fatalf("claimed %d, want the refund", n)
	}
	if n := w.prov.count(w.prov.refunds, rf.OutRefundNo); n != 2 || len(passes) != 1 || passes[0].Attention != 0 {
		t.Fatalf("second pass: Refund calls %d, passes %+v", n, passes)
	}
	if evs := w.events(t, webhook.RefundNeedsAttention, p.ID); len(evs) != 1 {
		t.Fatalf("refund.needs_attention events = %d, want still 1", len(evs))
	}
	// The query catches up: the refund is refunded, no longer needs an operator, never failed.
	w.clock.advance(30 * time.Minute)
	runOnce(t, j)
	got, _ = w.svc.GetRefund(ctx, p.ID, rf.ID)
	if got.Status != core.RefundSucceeded || got.NeedsAttention {
		t.Fatalf("after the query caught up: %+v", got)
	}
	if evs := w.events(t, webhook.RefundFailed, p.ID); len(evs) != 0 {
		t.Fatalf("refund.failed events: %d", len(evs))
	}
	if pay, _ := w.store.GetPayment(ctx, p.ID); pay.AmountRefunded != 1500 {
		t.Fatalf("payment refunded %d, want 1500", pay.AmountRefunded)
	}
}

// TestRefundUnknownGatewayCodeStaysPending: a gateway error code paymux has no entry for is an
// unknown outcome: the refund stays pending for the janitor, never failed. A catalogued refusal
// (the control) fails it.
func TestRefundUnknownGatewayCodeStaysPending(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	j := newTestJanitor(w, nil)
	ctx := context.Background()
	p := w.create(t, 2000, "order-code")
	w.pay(t, p)
	w.clock.advance(time.Minute)
	runOnce(t, j)
	for _, c := range []struct {
		code string
		want core.RefundStatus
	}{{"SOMETHING_NEW_FROM_THE_GATEWAY", core.RefundPending}, {"MERCHANT_BALANCE_NOT_ENOUGH", core.RefundFailed}} {
		if _, err := w.sim.SetFault(mapisim.Fault{Kind: mapisim.FaultError, Service: mapi.ServiceRefund, Code: c.code, Count: 1}); err != nil {
			t.Fatal(err)
		}
		rf, err := w.svc.CreateRefund(ctx, p.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 100, Currency: "USD"}})
		if err != nil || rf.Status != c.want {
			t.Fatalf("%s: refund %+v, %v; want %s", c.code, rf, err, c.want)
		}
	}
}
