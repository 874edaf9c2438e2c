package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// TestRetentionPrunes: the janitor deletes rejected inbox entries and delivered events older
// than the configured retention, reports the counts, keeps everything else, and keeps all of
// it with the default retention (30 days) or a negative one.
func TestRetentionPrunes(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	p := e.createPayment(paymentBody("order-ret", 1000), nil)
	for _, id := range []string{"r1", "r2", "r3"} {
		if code, body := e.notifyFake("fake-hk", fakeNote{ID: id, Sig: "forged", OutTradeNo: p.OutTradeNo, Status: "succeeded", Amount: 1000, Currency: "HKD"}); code != 200 || body != "fail" {
			t.Fatalf("forged: %d %q", code, body)
		}
	}
	e.payFake(p, "g1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _, err := e.store.ListEvents(ctx, store.EventFilter{Status: store.EventDelivered})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not delivered: %d", len(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond) // everything above is now older than a 1ms retention
	count := func() (rejected, other, delivered, notDelivered int) {
		ns, _, err := e.store.ListNotifications(ctx, store.NotificationFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.Status == store.NotificationRejected {
				rejected++
			} else {
				other++
			}
		}
		evs, _, err := e.store.ListEvents(ctx, store.EventFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Status == store.EventDelivered {
				delivered++
			} else {
				notDelivered++
			}
		}
		return
	}
	pruned := make(chan host.PruneResult, 1)
	j := host.NewJanitor(host.JanitorOptions{Service: e.svc, OnPrune: func(r host.PruneResult) {
		select {
		case pruned <- r:
		default:
		}
	}})
	setRetention := func(r host.Retention) {
		s := *e.svc.Settings()
		s.Retention = r
		e.svc.SetSettings(&s)
	}

	// Control: the default retention keeps records this young.
	if res, err := j.Prune(ctx); err != nil || res != (host.PruneResult{}) {
		t.Fatalf("default retention pruned %+v, %v", res, err)
	}
	rej0, other0, del0, pend0 := count()
	if rej0 != 3 || other0 != 1 || del0 < 2 {
		t.Fatalf("before pruning: %d rejected, %d other, %d delivered", rej0, other0, del0)
	}

	// Rejected entries older than a millisecond go; events are kept forever (negative).
	setRetention(host.Retention{RejectedNotifications: time.Millisecond, DeliveredEvents: -1})
	res, err := j.Prune(ctx)
	if err != nil || res.RejectedNotifications != 3 || res.DeliveredEvents != 0 {
		t.Fatalf("prune rejected: %+v, %v", res, err)
	}
	if rej, other, del, _ := count(); rej != 0 || other != 1 || del != del0 {
		t.Fatalf("after pruning rejected: %d rejected, %d other, %d delivered", rej, other, del)
	}

	// Now delivered events too; undelivered ones stay.
	setRetention(host.Retention{RejectedNotifications: time.Millisecond, DeliveredEvents: time.Millisecond})
	res, err = j.Prune(ctx)
	if err != nil || res.DeliveredEvents != int64(del0) {
		t.Fatalf("prune events: %+v, %v (had %d delivered)", res, err, del0)
	}
	if _, other, del, pend := count(); del != 0 || other != 1 || pend != pend0 {
		t.Fatalf("after pruning events: %d delivered, %d pending or failed (had %d), %d notifications", del, pend, pend0, other)
	}

	// Run prunes on its first pass and reports it.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); j.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-pruned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not prune")
	}
}
