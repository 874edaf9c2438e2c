package sqlbase

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

const notificationCols = `seq, id, account, method, header, query, body, remote_addr, received_at, status,
dedupe_key, reason, payment_id, refund_id, updated_at`

func scanNotification(r Rows) (*store.Notification, int64, error) {
	var (
		n              store.Notification
		seq            int64
		header, status string
	)
	err := r.Scan(&seq, &n.ID, &n.Account, &n.Method, &header, &n.Query, &n.Body, &n.RemoteAddr,
		tm(&n.ReceivedAt), &status, &n.DedupeKey, &n.Reason, &n.PaymentID, &n.RefundID, tm(&n.UpdatedAt))
	if err != nil {
		return nil, 0, err
	}
	n.Status = store.NotificationStatus(status)
	if header != "" && header != "{}" {
		if err := json.Unmarshal([]byte(header), &n.Header); err != nil {
			return nil, 0, fmt.Errorf("notification %s header: %w", n.ID, err)
		}
	}
	return &n, seq, nil
}

// dedupeConflict names a conflict of n as n is now (the write may be deferred while the caller
// goes on changing n).
func dedupeConflict(n *store.Notification) func(string) string {
	id, key, account := n.ID, n.DedupeKey, n.Account
	return func(c string) string {
		if c == "notifications_id_key" {
			return fmt.Sprintf("notification %s already exists", id)
		}
		return fmt.Sprintf("notification with dedupe key %q was already applied for account %s", key, account)
	}
}

// InsertNotification implements store.Queries.
func (q Queries) InsertNotification(ctx context.Context, n *store.Notification) error {
	w, err := NotificationInsert(q.D, n)
	if err != nil {
		return err
	}
	return q.Do(ctx, w)
}

// Write is one prepared single-statement write: its arguments are encoded (JSON and all), so
// that running it costs only the statement. SQLite builds it before queueing for the
// committer, whose goroutine is the store's bottleneck.
type Write struct {
	query    string
	args     []any
	needRows bool
	check    func(rows int64, err error) error
}

// Do runs w.
func (q Queries) Do(ctx context.Context, w Write) error {
	return q.write(ctx, w.query, w.args, w.needRows, w.check)
}

// NewWrite builds a Write from its parts (see Parts).
func NewWrite(query string, args []any, needRows bool, check func(rows int64, err error) error) Write {
	return Write{query, args, needRows, check}
}

// Parts returns w's statement, its arguments, whether it must affect a row, and the check that
// turns its outcome (rows affected, driver error) into the store's error. The PostgreSQL store
// sends several callers' writes in one transaction with them (its group writer).
func (w Write) Parts() (query string, args []any, needRows bool, check func(rows int64, err error) error) {
	return w.query, w.args, w.needRows, w.check
}

// NotificationInsert prepares InsertNotification's statement, applying its defaults to n.
func NotificationInsert(d *Dialect, n *store.Notification) (Write, error) {
	if n.ID == "" || n.Account == "" {
		return Write{}, core.Errorf(core.EINVALID, "store: notification needs id and account")
	}
	header := "{}"
	if len(n.Header) > 0 {
		b, err := json.Marshal(n.Header)
		if err != nil {
			return Write{}, core.WrapError(core.EINVALID, err, "store: notification header")
		}
		header = string(b)
	}
	if n.Status == "" {
		n.Status = store.NotificationReceived
	}
	if n.ReceivedAt.IsZero() {
		n.ReceivedAt = Now()
	}
	n.ReceivedAt = norm(n.ReceivedAt)
	n.UpdatedAt = n.ReceivedAt
	body := n.Body
	if body == nil {
		body = []byte{}
	}
	conflict := dedupeConflict(n)
	what := "insert notification " + n.ID
	return Write{d.Q(insertNotificationSQL), []any{
		n.ID, n.Account, n.Method, header, n.Query, body, n.RemoteAddr, d.T(n.ReceivedAt), string(n.Status),
		n.DedupeKey, n.Reason, n.PaymentID, n.RefundID, d.T(n.UpdatedAt)}, false,
		func(_ int64, err error) error { return d.classify(err, what, conflict, "") }}, nil
}

const insertNotificationSQL = `INSERT INTO notifications (id, account, method, header, query, body, remote_addr,
received_at, status, dedupe_key, reason, payment_id, refund_id, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// GetNotification implements store.Queries.
func (q Queries) GetNotification(ctx context.Context, id string) (*store.Notification, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+notificationCols+" FROM notifications WHERE id = ?"), []any{id},
		scanNotification, "get notification "+id, "notification "+id+" not found")
}

// FindNotificationByDedupeKey implements store.Queries.
func (q Queries) FindNotificationByDedupeKey(ctx context.Context, account, dedupeKey string) (*store.Notification, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+notificationCols+` FROM notifications WHERE account = ? AND dedupe_key = ?
AND status IN ('processed', 'unmatched', 'flagged') AND dedupe_key <> ''`), []any{account, dedupeKey},
		scanNotification, "find notification by dedupe key",
		fmt.Sprintf("no applied notification with dedupe key %q for account %s", dedupeKey, account))
}

// UpdateNotification implements store.Queries.
func (q Queries) UpdateNotification(ctx context.Context, n *store.Notification) error {
	n.UpdatedAt = Now()
	d := q.D
	id, conflict := n.ID, dedupeConflict(n)
	return q.write(ctx, d.Q(`UPDATE notifications SET status = ?, dedupe_key = ?, reason = ?, payment_id = ?,
refund_id = ?, updated_at = ? WHERE id = ?`),
		[]any{string(n.Status), n.DedupeKey, n.Reason, n.PaymentID, n.RefundID, d.T(n.UpdatedAt), id}, true,
		func(c int64, err error) error {
			if err != nil {
				return d.classify(err, "update notification "+id, conflict, "")
			}
			if c == 0 {
				return core.Errorf(core.ENOTFOUND, "notification %s not found", id)
			}
			return nil
		})
}

// UpdateNotificationOutcome implements store.Queries.
func (q Queries) UpdateNotificationOutcome(ctx context.Context, n *store.Notification) error {
	n.UpdatedAt = Now()
	d := q.D
	id := n.ID
	return q.write(ctx, d.Q(`UPDATE notifications SET reason = ?, payment_id = ?, refund_id = ?, updated_at = ? WHERE id = ?`),
		[]any{n.Reason, n.PaymentID, n.RefundID, d.T(n.UpdatedAt), id}, true,
		func(c int64, err error) error {
			if err != nil {
				return d.classify(err, "update notification "+id, nil, "")
			}
			if c == 0 {
				return core.Errorf(core.ENOTFOUND, "notification %s not found", id)
			}
			return nil
		})
}

// ListNotifications implements store.Queries.
func (q Queries) ListNotifications(ctx context.Context, f store.NotificationFilter) ([]*store.Notification, string, error) {
	var w where
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if !w.inOrNone("account", f.Accounts) {
		return nil, "", nil
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	return page(ctx, q.C, q.D, notificationCols, "notifications", &w, f.Cursor, f.Limit, scanNotification)
}
