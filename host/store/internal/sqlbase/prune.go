package sqlbase

import (
	"context"
	"time"
)

// The sub-select bounds each batch (DELETE ... LIMIT is not portable) and takes the oldest
// rows first, in the order of the partial index on the time column (migration 007), so it
// reads only the rows it deletes, and nothing when none is due (on SQLite, named with
// IndexedBy: without statistics it preferred the (status, seq) index and sorted every row).

// PruneRejectedNotifications implements store.Pruner.
func (q Queries) PruneRejectedNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := q.C.Exec(ctx, q.D.Q(`DELETE FROM notifications WHERE seq IN (
		SELECT seq FROM notifications`+q.D.IndexedBy("notifications_rejected_at_idx")+`
		WHERE status = 'rejected' AND received_at < ? ORDER BY received_at LIMIT ?)`),
		q.D.T(before), limit)
	if err != nil {
		return 0, internal(err, "prune rejected notifications")
	}
	return n, nil
}

// PruneDeliveredEvents implements store.Pruner.
func (q Queries) PruneDeliveredEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := q.C.Exec(ctx, q.D.Q(`DELETE FROM events WHERE seq IN (
		SELECT seq FROM events`+q.D.IndexedBy("events_delivered_at_idx")+`
		WHERE status = 'delivered' AND delivered_at < ? ORDER BY delivered_at LIMIT ?)`),
		q.D.T(before), limit)
	if err != nil {
		return 0, internal(err, "prune delivered events")
	}
	return n, nil
}
