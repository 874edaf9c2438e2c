package sqlbase

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

const eventCols = `seq, id, type, account, payment_id, refund_id, payload, created_at, status, attempts,
next_attempt_at, last_attempt_at, last_error, delivered_at, region, actor, delivered_to`

func scanEvent(r Rows) (*store.Event, int64, error) {
	var (
		e                    store.Event
		seq                  int64
		payload, status, dto string
	)
	err := r.Scan(&seq, &e.ID, &e.Type, &e.Account, &e.PaymentID, &e.RefundID, &payload, tm(&e.CreatedAt),
		&status, &e.Attempts, tm(&e.NextAttemptAt), tm(&e.LastAttemptAt), &e.LastError, tm(&e.DeliveredAt),
		&e.Region, &e.Actor, &dto)
	if err != nil {
		return nil, 0, err
	}
	if dto != "" && dto != "[]" {
		if err := json.Unmarshal([]byte(dto), &e.DeliveredTo); err != nil {
			return nil, 0, fmt.Errorf("event %s delivered_to: %w", e.ID, err)
		}
	}
	e.Status = store.EventStatus(status)
	e.Payload = json.RawMessage(payload)
	return &e, seq, nil
}

// InsertEvent implements store.Queries.
func (q Queries) InsertEvent(ctx context.Context, e *store.Event) error {
	if e.ID == "" || e.Type == "" {
		return core.Errorf(core.EINVALID, "store: event needs id and type")
	}
	if !json.Valid(e.Payload) {
		return core.Errorf(core.EINVALID, "store: event %s payload is not valid JSON", e.ID)
	}
	if e.Status == "" {
		e.Status = store.EventPending
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = Now()
	}
	e.CreatedAt = norm(e.CreatedAt)
	if e.NextAttemptAt.IsZero() && e.Status == store.EventPending {
		e.NextAttemptAt = e.CreatedAt
	}
	e.NextAttemptAt, e.LastAttemptAt, e.DeliveredAt = norm(e.NextAttemptAt), norm(e.LastAttemptAt), norm(e.DeliveredAt)
	d := q.D
	id := e.ID
	return q.write(ctx, d.Q(`INSERT INTO events (id, type, account, payment_id, refund_id, payload, created_at,
status, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, region, actor)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		[]any{id, e.Type, e.Account, e.PaymentID, e.RefundID, string(e.Payload), d.T(e.CreatedAt), string(e.Status),
			e.Attempts, d.T(e.NextAttemptAt), d.T(e.LastAttemptAt), e.LastError, d.T(e.DeliveredAt), e.Region, e.Actor}, false,
		func(_ int64, err error) error {
			return d.classify(err, "insert event "+id, func(string) string {
				return fmt.Sprintf("event %s already exists", id)
			}, "")
		})
}

// GetEvent implements store.Queries.
func (q Queries) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+eventCols+" FROM events WHERE id = ?"), []any{id},
		scanEvent, "get event "+id, "event "+id+" not found")
}

// ListEvents implements store.Queries.
func (q Queries) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, string, error) {
	var w where
	if !w.inOrNone("account", f.Accounts) || !w.inOrNone("region", f.Regions) {
		return nil, "", nil
	}
	if f.Type != "" {
		w.add("type = ?", f.Type)
	}
	if f.PaymentID != "" {
		w.add("payment_id = ?", f.PaymentID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	return page(ctx, q.C, q.D, eventCols, "events", &w, f.Cursor, f.Limit, scanEvent)
}

func (q Queries) updateEvent(ctx context.Context, id, set string, args ...any) error {
	n, err := q.C.Exec(ctx, q.D.Q("UPDATE events SET "+set+" WHERE id = ?"), append(args, id)...)
	if err != nil {
		return internal(err, "update event %s", id)
	}
	if n == 0 {
		return core.Errorf(core.ENOTFOUND, "event %s not found", id)
	}
	return nil
}

// MarkEventDelivered implements store.Queries.
func (q Queries) MarkEventDelivered(ctx context.Context, id string, at time.Time) error {
	return q.updateEvent(ctx, id, "status = ?, delivered_at = ?, next_attempt_at = NULL",
		string(store.EventDelivered), q.D.T(at))
}

// ScheduleEventRetry implements store.Queries.
func (q Queries) ScheduleEventRetry(ctx context.Context, id, lastErr string, next time.Time) error {
	return q.updateEvent(ctx, id, "status = ?, last_error = ?, next_attempt_at = ?",
		string(store.EventPending), lastErr, q.D.T(next))
}

// SetEventDeliveredTo implements store.Queries.
func (q Queries) SetEventDeliveredTo(ctx context.Context, id string, endpoints []string) error {
	v, err := jsonText(endpoints, "[]")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: event delivered_to")
	}
	return q.updateEvent(ctx, id, "delivered_to = ?", v)
}

// MarkEventFailed implements store.Queries.
func (q Queries) MarkEventFailed(ctx context.Context, id, lastErr string) error {
	return q.updateEvent(ctx, id, "status = ?, last_error = ?, next_attempt_at = NULL",
		string(store.EventFailed), lastErr)
}

// RedeliverEvent implements store.Queries.
func (q Queries) RedeliverEvent(ctx context.Context, id string, now time.Time) (*store.Event, error) {
	return one(ctx, q.C, q.D.Q(`UPDATE events SET status = ?, attempts = 0, next_attempt_at = ?, delivered_to = '[]' WHERE id = ?
RETURNING `+eventCols), []any{string(store.EventPending), q.D.T(now), id}, scanEvent,
		"redeliver event "+id, "event "+id+" not found")
}

// ClaimDueEvents implements store.Store's claim; run it in its own transaction.
func (q Queries) ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Event, error) {
	d := q.D
	return all(ctx, q.C, d.Q(`UPDATE events SET next_attempt_at = ?, attempts = attempts + 1, last_attempt_at = ?
WHERE seq IN (SELECT seq FROM events`+d.IndexedBy("events_due_idx")+` WHERE status = 'pending' AND next_attempt_at <= ?
ORDER BY next_attempt_at LIMIT ?`+d.SkipLocked+`) RETURNING `+eventCols),
		[]any{d.T(now.Add(lease)), d.T(now), d.T(now), limitOf(limit)}, scanEvent, "claim due events")
}
