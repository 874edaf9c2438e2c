package store

import (
	"context"
	"time"
)

// Backlog is the work waiting in a store, for operations metrics.
type Backlog struct {
	DuePayments        int       // pending payments whose next query is due (<= now)
	DueRefunds         int       // pending or processing refunds whose next query is due
	OpenPayments       int       // pending payments the janitor will query (due or later)
	OpenRefunds        int       // refunds not final the janitor will query (due or later)
	PendingEvents      int       // outbox events not yet delivered (and not given up)
	OldestPendingEvent time.Time // CreatedAt of the oldest pending event; zero when none
	AttentionRefunds   int       // refunds that need an operator (Refund.NeedsAttention)
	// OldestAttention is when the longest-waiting refund that needs an operator was flagged
	// (Refund.FlaggedAt); zero when none.
	OldestAttention time.Time
}

// BacklogReader is implemented by stores that can count their backlog cheaply (both the SQLite
// and the PostgreSQL store, from the janitor's and the outbox's partial indexes). It is an
// optional interface, like database/sql's driver extensions, so that test fakes of Store need
// not implement it; callers check with a type assertion.
type BacklogReader interface {
	Backlog(ctx context.Context, now time.Time) (Backlog, error)
}
