package host

import (
	"context"
	"time"

	"github.com/paymux/paymux/host/store"
)

// Retention says how long records that no longer matter for money are kept before the
// janitor deletes them. Zero means DefaultRetention; a negative duration keeps them forever.
type Retention struct {
	RejectedNotifications time.Duration // inbox entries that failed verification
	DeliveredEvents       time.Duration // webhook events the merchant has received
}

// DefaultRetention applies to each kind of Retention left at zero.
const DefaultRetention = 30 * 24 * time.Hour

// Pruning runs at most every pruneEvery, deleting pruneBatch rows per statement and at most
// pruneMaxBatches statements per kind and run, so one run holds the store for little time
// (SQLite has one writer) and a large backlog drains over a few runs.
const (
	pruneEvery      = 10 * time.Minute
	pruneBatch      = 500
	pruneMaxBatches = 20
)

// PruneResult is what one Prune deleted.
type PruneResult struct {
	RejectedNotifications int64
	DeliveredEvents       int64
}

// Prune deletes, in batches, rejected inbox entries and delivered events older than the
// service's Retention (Settings). It does nothing when the store cannot prune (store.Pruner).
// The janitor calls it every pruneEvery; tests call it directly.
func (j *Janitor) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	p, ok := j.svc.store.(store.Pruner)
	if !ok {
		return res, nil
	}
	r := j.svc.Settings().Retention
	now := j.svc.now()
	run := func(keep time.Duration, prune func(context.Context, time.Time, int) (int64, error), total *int64) error {
		if keep == 0 {
			keep = DefaultRetention
		}
		if keep < 0 {
			return nil
		}
		for range pruneMaxBatches {
			n, err := prune(ctx, now.Add(-keep), pruneBatch)
			*total += n
			if err != nil || n < pruneBatch {
				return err
			}
		}
		return nil
	}
	if err := run(r.RejectedNotifications, p.PruneRejectedNotifications, &res.RejectedNotifications); err != nil {
		return res, err
	}
	err := run(r.DeliveredEvents, p.PruneDeliveredEvents, &res.DeliveredEvents)
	return res, err
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
	if res.RejectedNotifications+res.DeliveredEvents > 0 {
		j.log.Info("pruned old records", "rejected_notifications", res.RejectedNotifications, "delivered_events", res.DeliveredEvents)
	}
	if j.onPrune != nil {
		j.onPrune(res)
	}
}
