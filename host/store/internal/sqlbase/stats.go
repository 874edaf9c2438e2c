package sqlbase

import (
	"context"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Backlog implements store.BacklogReader with one statement over the partial indexes the
// janitor and the outbox already claim from (payments_due_idx, refunds_due_idx, events_due_idx)
// and the attention queue's (refunds_attention_idx).
func (q Queries) Backlog(ctx context.Context, now time.Time) (store.Backlog, error) {
	d := q.D
	var b store.Backlog
	rows, err := q.C.Query(ctx, d.Q(`SELECT
 (SELECT COUNT(*) FROM payments`+d.IndexedBy("payments_due_idx")+` WHERE status = 'pending' AND next_query_at IS NOT NULL AND next_query_at <= ?),
 (SELECT COUNT(*) FROM refunds`+d.IndexedBy("refunds_due_idx")+` WHERE status IN ('pending', 'processing') AND next_query_at IS NOT NULL AND next_query_at <= ?),
 (SELECT COUNT(*) FROM payments`+d.IndexedBy("payments_due_idx")+` WHERE status = 'pending' AND next_query_at IS NOT NULL),
 (SELECT COUNT(*) FROM refunds`+d.IndexedBy("refunds_due_idx")+` WHERE status IN ('pending', 'processing') AND next_query_at IS NOT NULL),
 (SELECT COUNT(*) FROM events`+d.IndexedBy("events_due_idx")+` WHERE status = 'pending'),
 (SELECT MIN(created_at) FROM events`+d.IndexedBy("events_due_idx")+` WHERE status = 'pending'),
 (SELECT COUNT(*) FROM refunds WHERE needs_attention = 1),
 (SELECT MIN(flagged_at) FROM refunds WHERE needs_attention = 1)`), d.T(now), d.T(now))
	if err != nil {
		return b, internal(err, "backlog")
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return b, internal(err, "backlog")
		}
		return b, core.Errorf(core.EINTERNAL, "store: backlog: no row")
	}
	if err := rows.Scan(&b.DuePayments, &b.DueRefunds, &b.OpenPayments, &b.OpenRefunds, &b.PendingEvents, tm(&b.OldestPendingEvent), &b.AttentionRefunds, tm(&b.OldestAttention)); err != nil {
		return b, internal(err, "scan backlog")
	}
	if err := rows.Err(); err != nil {
		return b, internal(err, "backlog")
	}
	return b, nil
}
