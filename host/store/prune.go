package store

import (
	"context"
	"time"
)

// Pruner deletes what the host no longer needs, oldest first and in batches, so that the
// janitor's retention step never holds the database for long (a batch is one statement).
// Both stores implement it; the janitor discovers it like BacklogReader.
type Pruner interface {
	// PruneRejectedNotifications deletes up to limit inbox entries with status rejected
	// (failed verification: never acknowledged, no effect) received before before, and
	// returns how many it deleted.
	PruneRejectedNotifications(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneDeliveredEvents deletes up to limit outbox events with status delivered whose
	// DeliveredAt is before before, and returns how many it deleted. Pending and failed events
	// are never pruned: they are still owed to the merchant.
	PruneDeliveredEvents(ctx context.Context, before time.Time, limit int) (int64, error)
}
