package host

import (
	"context"
	"fmt"
	"time"

	"github.com/paymux/paymux/host/store"
)

// Retention says how long records that no longer matter for money are kept before the
// janitor deletes them, and how fast it deletes them. Zero means the default of each field; a
// negative duration keeps that kind forever.
type Retention struct {
	RejectedNotifications time.Duration // inbox entries that failed verification
	DeliveredEvents       time.Duration // webhook events the merchant has received

	// Pacing of the pruner, so that a backlog (a host upgraded onto a long history, a
	// retention shortened) never starves live traffic: each batch is one statement in a
	// transaction of its own, deleting at most PruneBatch rows (0: DefaultPruneBatch); after
	// each batch the pruner waits PrunePause (0: DefaultPrunePause), and at least as long as
	// the batch took, so it holds SQLite's single writer at most half the time and waiting
	// writes (the group committer's next batch) go first; one round deletes at most
	// PruneMaxRows rows of each kind (0: DefaultPruneMaxRows), the rest waits for the next
	// round (pruneEvery later).
	PruneBatch   int
	PrunePause   time.Duration
	PruneMaxRows int
}

// Defaults of Retention's fields left at zero.
const (
	DefaultRetention    = 30 * 24 * time.Hour
	DefaultPruneBatch   = 100
	DefaultPrunePause   = 100 * time.Millisecond
	DefaultPruneMaxRows = 10_000
)

// pruneEvery is how often a pruning round starts.
const pruneEvery = 10 * time.Minute

// PruneResult is what one Prune deleted.
type PruneResult struct {
	RejectedNotifications int64
	DeliveredEvents       int64
	// Backlog is true when a kind reached PruneMaxRows: more is due, the next round goes on.
	Backlog bool
}

// Prune deletes, in paced batches (see Retention), rejected inbox entries and delivered events
// older than the service's Retention (Settings). It does nothing when the store cannot prune
// (store.Pruner). The janitor calls it every pruneEvery; tests call it directly.
func (j *Janitor) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	p, ok := j.svc.store.(store.Pruner)
	if !ok {
		return res, nil
	}
	r := j.svc.Settings().Retention
	batch, pause, maxRows := r.PruneBatch, r.PrunePause, r.PruneMaxRows
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	if pause <= 0 {
		pause = DefaultPrunePause
	}
	if maxRows <= 0 {
		maxRows = DefaultPruneMaxRows
	}
	now := j.svc.now()
	var took time.Duration // the last batch's duration; zero before the round's first
	started := false
	run := func(keep time.Duration, prune func(context.Context, time.Time, int) (int64, error), total *int64) error {
		if keep == 0 {
			keep = DefaultRetention
		}
		if keep < 0 {
			return nil
		}
		for *total < int64(maxRows) {
			if started {
				if err := j.pruneWait(ctx, max(pause, took)); err != nil {
					return err
				}
			}
			started = true
			limit := min(batch, maxRows-int(*total))
			t0 := time.Now()
			n, err := prune(ctx, now.Add(-keep), limit)
			took = time.Since(t0)
			*total += n
			if err != nil || n < int64(limit) {
				return err
			}
		}
		res.Backlog = true
		return nil
	}
	if err := run(r.RejectedNotifications, p.PruneRejectedNotifications, &res.RejectedNotifications); err != nil {
		return res, err
	}
	err := run(r.DeliveredEvents, p.PruneDeliveredEvents, &res.DeliveredEvents)
	return res, err
}

// pruneWait waits d between two prune batches (tests replace it through pruneWaitHook).
func (j *Janitor) pruneWait(ctx context.Context, d time.Duration) error {
	if j.pruneWaitHook != nil {
		return j.pruneWaitHook(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maybePrune runs Prune when pruneEvery has passed since the last run (the first pass of Run
// prunes at once) and reports what it deleted.
func (j *Janitor) maybePrune(ctx context.Context) {
	now := j.svc.now()
	if !j.lastPrune.IsZero() && now.Sub(j.lastPrune) < pruneEvery {
		return
	}
	j.lastPrune = now
	res, err := j.Prune(ctx)
	if err != nil && ctx.Err() == nil {
		j.log.Warn("pruning old records failed; trying again later", "error", err)
	}
	switch {
	case res.Backlog:
		j.log.Info(fmt.Sprintf("pruned %d events and %d rejected notifications, backlog continues", res.DeliveredEvents, res.RejectedNotifications),
			"rejected_notifications", res.RejectedNotifications, "delivered_events", res.DeliveredEvents, "next_round_in", pruneEvery)
	case res.RejectedNotifications+res.DeliveredEvents > 0:
		j.log.Info("pruned old records", "rejected_notifications", res.RejectedNotifications, "delivered_events", res.DeliveredEvents)
	}
	if j.onPrune != nil {
		j.onPrune(res)
	}
}
