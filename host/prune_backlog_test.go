package host_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// TestPruneBacklogIsPaced: a backlog of thousands of delivered events older than the retention
// is worked off over several rounds of at most PruneMaxRows, in transactions of at most
// PruneBatch rows each, with a pause between two of them in which another writer (the
// notification intake's raw insert) gets the store while the round is still in progress.
// Events still owed (pending, failed) and delivered ones younger than the retention stay.
func TestPruneBacklogIsPaced(t *testing.T) {
	e, _ := newFakeEnv(t)
	// A deadlock (a round holding one transaction the hook's insert waits behind) fails here
	// instead of hanging until the test binary's timeout; nothing is measured against it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bl, ok := e.store.(store.BulkLoader)
	if !ok {
		t.Skip("the store cannot count rows")
	}
	const (
		old     = 4500 // delivered two days ago: due
		batch   = 100
		maxRows = 1000
		pause   = time.Hour // never slept: the hook replaces the wait
	)
	now := time.Now()
	var kept []string
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		for i := range old {
			if err := tx.InsertEvent(ctx, &store.Event{ID: fmt.Sprintf("evt_old_%05d", i), Type: "payment.succeeded", Payload: []byte(`{}`),
				CreatedAt: now.Add(-49 * time.Hour), Status: store.EventDelivered, DeliveredAt: now.Add(-48 * time.Hour)}); err != nil {
				return err
			}
		}
		for i := range 20 {
			ev := &store.Event{ID: fmt.Sprintf("evt_keep_%02d", i), Type: "payment.succeeded", Payload: []byte(`{}`), CreatedAt: now.Add(-49 * time.Hour)}
			switch i % 3 {
			case 0: // still owed, never pruned whatever its age
				ev.Status, ev.NextAttemptAt = store.EventPending, now.Add(240*time.Hour)
			case 1:
				ev.Status = store.EventFailed
			case 2: // delivered within the retention
				ev.Status, ev.DeliveredAt = store.EventDelivered, now.Add(-time.Hour)
			}
			kept = append(kept, ev.ID)
			if err := tx.InsertEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	events := func() int64 {
		t.Helper()
		n, err := bl.CountRows(ctx, "events")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s := *e.svc.Settings()
	s.Retention = host.Retention{RejectedNotifications: -1, DeliveredEvents: 24 * time.Hour, PruneBatch: batch, PrunePause: pause, PruneMaxRows: maxRows}
	e.svc.SetSettings(&s)

	j := host.NewJanitor(host.JanitorOptions{Service: e.svc})
	var prev int64 // events before the batch that just ended
	var waits, inserted int
	check := func(where string, emptyOK bool) {
		cur := events()
		if d := prev - cur; d < 0 || d == 0 && !emptyOK || d > batch {
			t.Fatalf("%s: one prune transaction deleted %d events, want 1..%d", where, d, batch)
		}
		prev = cur
	}
	host.SetPruneWait(j, func(ctx context.Context, d time.Duration) error {
		waits++
		if d < pause {
			t.Errorf("paused %v between batches, want at least %v", d, pause)
		}
		check(fmt.Sprintf("wait %d", waits), false)
		// The round is in progress (Prune has not returned); the intake's raw insert must get
		// the store now, not after the round.
		inserted++
		return e.store.InsertNotification(ctx, &store.Notification{ID: fmt.Sprintf("ntf_during_prune_%d", inserted), Account: "fake-hk"})
	})

	left := int64(old)
	for round := 1; left > 0; round++ {
		if round > old/maxRows+1 {
			t.Fatalf("round %d and still %d due", round, left)
		}
		prev, waits = events(), 0
		insertedBefore := inserted
		res, err := j.Prune(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want := min(left, maxRows)
		emptyLast := left%batch == 0 && left <= maxRows // the round learns that nothing is left from an empty batch
		check(fmt.Sprintf("round %d, last batch", round), emptyLast)
		if res.DeliveredEvents != want || res.RejectedNotifications != 0 {
			t.Fatalf("round %d pruned %+v, want %d delivered events", round, res, want)
		}
		if backlog := left >= maxRows; res.Backlog != backlog {
			t.Fatalf("round %d: Backlog %v, want %v (%d were due)", round, res.Backlog, backlog, left)
		}
		batches := int((want + batch - 1) / batch)
		if emptyLast {
			batches++
		}
		if waits != batches-1 || inserted-insertedBefore != waits {
			t.Fatalf("round %d: %d pauses with %d inserts between its transactions, want %d", round, waits, inserted-insertedBefore, batches-1)
		}
		left -= want
	}
	if res, err := j.Prune(ctx); err != nil || res != (host.PruneResult{}) {
		t.Fatalf("round after the backlog: %+v, %v", res, err)
	}
	for _, id := range kept {
		if _, err := e.store.GetEvent(ctx, id); err != nil {
			t.Errorf("%s was pruned: %v", id, err)
		}
	}
	if n := events(); n < int64(len(kept)) {
		t.Errorf("%d events left, want at least the %d kept", n, len(kept))
	}
	for i := 1; i <= inserted; i++ {
		if _, err := e.store.GetNotification(ctx, fmt.Sprintf("ntf_during_prune_%d", i)); err != nil {
			t.Errorf("insert %d during pruning: %v", i, err)
		}
	}
}
