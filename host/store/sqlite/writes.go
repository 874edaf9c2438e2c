package sqlite

import (
	"context"
	"time"

	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// The Store's own writes go through the committer too, so that they share durable commits
// with concurrent transactions (the notification inbox's raw insert above all).

func (s *Store) write(ctx context.Context, fn func(store.Tx) error) error { return s.InTx(ctx, fn) }

// InsertPayment implements store.Queries.
func (s *Store) InsertPayment(ctx context.Context, p *store.Payment) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.InsertPayment(ctx, p) })
}

// UpdatePayment implements store.Queries.
func (s *Store) UpdatePayment(ctx context.Context, p *store.Payment) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.UpdatePayment(ctx, p) })
}

// InsertRefund implements store.Queries.
func (s *Store) InsertRefund(ctx context.Context, r *store.Refund) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.InsertRefund(ctx, r) })
}

// UpdateRefund implements store.Queries.
func (s *Store) UpdateRefund(ctx context.Context, r *store.Refund) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.UpdateRefund(ctx, r) })
}

// ReserveIdempotencyKey implements store.Queries.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, k *store.IdempotencyKey) (got *store.IdempotencyKey, reserved bool, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		got, reserved, err = tx.ReserveIdempotencyKey(ctx, k)
		return err
	})
	return got, reserved, err
}

// CompleteIdempotencyKey implements store.Queries.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, scope, key string, resp store.StoredResponse) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.CompleteIdempotencyKey(ctx, scope, key, resp) })
}

// BindIdempotencyKey implements store.Queries.
func (s *Store) BindIdempotencyKey(ctx context.Context, scope, key, owner, resourceID string) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.BindIdempotencyKey(ctx, scope, key, owner, resourceID) })
}

// ReleaseIdempotencyKey implements store.Queries.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, scope, key, owner string) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.ReleaseIdempotencyKey(ctx, scope, key, owner) })
}

// DeleteIdempotencyKey implements store.Queries.
func (s *Store) DeleteIdempotencyKey(ctx context.Context, scope, key string) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.DeleteIdempotencyKey(ctx, scope, key) })
}

// InsertNotification implements store.Queries. The row is encoded before it queues, so the
// committer only runs the statement.
func (s *Store) InsertNotification(ctx context.Context, n *store.Notification) error {
	w, err := sqlbase.NotificationInsert(dialect, n)
	if err != nil {
		return err
	}
	return s.group.do(ctx, func(c sqlbase.Conn) error { return sqlbase.Queries{C: c, D: dialect}.Do(ctx, w) })
}

// UpdateNotification implements store.Queries.
func (s *Store) UpdateNotification(ctx context.Context, n *store.Notification) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.UpdateNotification(ctx, n) })
}

// UpdateNotificationOutcome implements store.Queries.
func (s *Store) UpdateNotificationOutcome(ctx context.Context, n *store.Notification) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.UpdateNotificationOutcome(ctx, n) })
}

// InsertEvent implements store.Queries.
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.InsertEvent(ctx, e) })
}

// MarkEventDelivered implements store.Queries.
func (s *Store) MarkEventDelivered(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.MarkEventDelivered(ctx, id, at) })
}

// ScheduleEventRetry implements store.Queries.
func (s *Store) ScheduleEventRetry(ctx context.Context, id, lastErr string, next time.Time) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.ScheduleEventRetry(ctx, id, lastErr, next) })
}

// SetEventDeliveredTo implements store.Queries.
func (s *Store) SetEventDeliveredTo(ctx context.Context, id string, endpoints []string) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.SetEventDeliveredTo(ctx, id, endpoints) })
}

// MarkEventFailed implements store.Queries.
func (s *Store) MarkEventFailed(ctx context.Context, id, lastErr string) error {
	return s.write(ctx, func(tx store.Tx) error { return tx.MarkEventFailed(ctx, id, lastErr) })
}

// RedeliverEvent implements store.Queries.
func (s *Store) RedeliverEvent(ctx context.Context, id string, now time.Time) (e *store.Event, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		e, err = tx.RedeliverEvent(ctx, id, now)
		return err
	})
	return e, err
}

// DeleteExpiredIdempotencyKeys implements store.Store.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (n int64, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.(txQueries).DeleteExpiredIdempotencyKeys(ctx, now)
		return err
	})
	return n, err
}

// ClaimDuePayments implements store.Store. SQLite has one writer, so the claim's UPDATE ...
// RETURNING cannot overlap another; the lease keeps the item from other claimers afterwards.
func (s *Store) ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) (ps []*store.Payment, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		ps, err = tx.(txQueries).ClaimDuePayments(ctx, now, limit, lease)
		return err
	})
	return ps, err
}

// ClaimDueRefunds implements store.Store.
func (s *Store) ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) (rs []*store.Refund, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		rs, err = tx.(txQueries).ClaimDueRefunds(ctx, now, limit, lease)
		return err
	})
	return rs, err
}

// ClaimDueEvents implements store.Store.
func (s *Store) ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) (es []*store.Event, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		es, err = tx.(txQueries).ClaimDueEvents(ctx, now, limit, lease)
		return err
	})
	return es, err
}

// PruneRejectedNotifications implements store.Pruner.
func (s *Store) PruneRejectedNotifications(ctx context.Context, before time.Time, limit int) (n int64, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.(txQueries).PruneRejectedNotifications(ctx, before, limit)
		return err
	})
	return n, err
}

// PruneDeliveredEvents implements store.Pruner.
func (s *Store) PruneDeliveredEvents(ctx context.Context, before time.Time, limit int) (n int64, err error) {
	err = s.write(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.(txQueries).PruneDeliveredEvents(ctx, before, limit)
		return err
	})
	return n, err
}

// txQueries is what the tx type offers beyond store.Tx.
type txQueries interface {
	PruneRejectedNotifications(ctx context.Context, before time.Time, limit int) (int64, error)
	PruneDeliveredEvents(ctx context.Context, before time.Time, limit int) (int64, error)
	DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int64, error)
	ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Payment, error)
	ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Refund, error)
	ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Event, error)
}
