package sqlbase

import (
	"context"
	"fmt"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

const refundCols = `seq, id, payment_id, account, out_refund_no, amount_value, amount_currency, status,
reason, provider_ref, failure_code, next_query_at, query_attempts, created_at, updated_at, metadata, needs_attention,
attention_reason, settle_reason, settled_by, settled_at, flagged_at`

func scanRefund(rw Rows) (*store.Refund, int64, error) {
	var (
		r            store.Refund
		seq          int64
		status, meta string
		attention    int64
	)
	err := rw.Scan(&seq, &r.ID, &r.PaymentID, &r.Account, &r.OutRefundNo, &r.Amount.Value, &r.Amount.Currency,
		&status, &r.Reason, &r.ProviderRef, &r.FailureCode, tm(&r.NextQueryAt), &r.QueryAttempts,
		tm(&r.CreatedAt), tm(&r.UpdatedAt), &meta, &attention, &r.AttentionReason, &r.SettleReason, &r.SettledBy,
		tm(&r.SettledAt), tm(&r.FlaggedAt))
	if err != nil {
		return nil, 0, err
	}
	if r.Metadata, err = metadataOf(meta); err != nil {
		return nil, 0, fmt.Errorf("refund %s metadata: %w", r.ID, err)
	}
	r.Status = core.RefundStatus(status)
	r.NeedsAttention = attention != 0
	return &r, seq, nil
}

// InsertRefund implements store.Queries.
func (q Queries) InsertRefund(ctx context.Context, r *store.Refund) error {
	if r.ID == "" || r.PaymentID == "" || r.Account == "" || r.OutRefundNo == "" {
		return core.Errorf(core.EINVALID, "store: refund needs id, payment id, account and out_refund_no")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = Now()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CreatedAt, r.UpdatedAt, r.NextQueryAt = norm(r.CreatedAt), norm(r.UpdatedAt), norm(r.NextQueryAt)
	r.SettledAt = norm(r.SettledAt)
	flag(r)
	meta, err := jsonText(r.Metadata, "{}")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: refund metadata")
	}
	d := q.D
	_, err = q.C.Exec(ctx, d.Q(`INSERT INTO refunds (id, payment_id, account, out_refund_no, amount_value,
amount_currency, status, reason, provider_ref, failure_code, next_query_at, query_attempts, created_at, updated_at,
metadata, needs_attention, attention_reason, settle_reason, settled_by, settled_at, flagged_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		r.ID, r.PaymentID, r.Account, r.OutRefundNo, r.Amount.Value, r.Amount.Currency, string(r.Status),
		r.Reason, r.ProviderRef, r.FailureCode, d.T(r.NextQueryAt), r.QueryAttempts, d.T(r.CreatedAt), d.T(r.UpdatedAt),
		meta, boolInt(r.NeedsAttention), r.AttentionReason, r.SettleReason, r.SettledBy, d.T(r.SettledAt), d.T(r.FlaggedAt))
	return d.classify(err, "insert refund "+r.ID, func(c string) string {
		if c == "refunds_id_key" {
			return fmt.Sprintf("refund %s already exists", r.ID)
		}
		return fmt.Sprintf("refund with out_refund_no %q already exists for account %s", r.OutRefundNo, r.Account)
	}, fmt.Sprintf("payment %s not found", r.PaymentID))
}

// GetRefund implements store.Queries.
func (q Queries) GetRefund(ctx context.Context, id string) (*store.Refund, error) {
	return q.getRefund(ctx, id, "")
}

// LockRefund implements store.Tx.
func (q Queries) LockRefund(ctx context.Context, id string) (*store.Refund, error) {
	return q.getRefund(ctx, id, q.D.ForUpdate)
}

func (q Queries) getRefund(ctx context.Context, id, lock string) (*store.Refund, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+refundCols+" FROM refunds WHERE id = ?"+lock), []any{id},
		scanRefund, "get refund "+id, "refund "+id+" not found")
}

// GetRefundByOutRefundNo implements store.Queries.
func (q Queries) GetRefundByOutRefundNo(ctx context.Context, account, outRefundNo string) (*store.Refund, error) {
	return q.getRefundByOutRefundNo(ctx, account, outRefundNo, "")
}

// LockRefundByOutRefundNo implements store.Tx.
func (q Queries) LockRefundByOutRefundNo(ctx context.Context, account, outRefundNo string) (*store.Refund, error) {
	return q.getRefundByOutRefundNo(ctx, account, outRefundNo, q.D.ForUpdate)
}

func (q Queries) getRefundByOutRefundNo(ctx context.Context, account, outRefundNo, lock string) (*store.Refund, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+refundCols+" FROM refunds WHERE account = ? AND out_refund_no = ?"+lock),
		[]any{account, outRefundNo}, scanRefund, "get refund by out_refund_no",
		fmt.Sprintf("refund with out_refund_no %q not found for account %s", outRefundNo, account))
}

// ListRefunds implements store.Queries.
func (q Queries) ListRefunds(ctx context.Context, f store.RefundFilter) ([]*store.Refund, string, error) {
	var w where
	if f.PaymentID != "" {
		w.add("payment_id = ?", f.PaymentID)
	}
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if len(f.OutRefundNos) > store.MaxPageSize {
		return nil, "", core.Errorf(core.EINVALID, "store: at most %d out_refund_nos per list", store.MaxPageSize)
	}
	if f.OutRefundNos != nil {
		if len(f.OutRefundNos) == 0 {
			return nil, "", nil
		}
		w.in("out_refund_no", f.OutRefundNos)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.NeedsAttention {
		w.add("needs_attention = ?", 1)
	}
	if !f.From.IsZero() {
		w.add("created_at >= ?", q.D.T(f.From))
	}
	if !f.To.IsZero() {
		w.add("created_at < ?", q.D.T(f.To))
	}
	return page(ctx, q.C, q.D, refundCols, "refunds", &w, f.Cursor, f.Limit, scanRefund)
}

// UpdateRefund implements store.Queries.
func (q Queries) UpdateRefund(ctx context.Context, r *store.Refund) error {
	r.UpdatedAt = Now()
	r.NextQueryAt = norm(r.NextQueryAt)
	r.SettledAt = norm(r.SettledAt)
	flag(r)
	d := q.D
	id := r.ID
	// flagged_at keeps the row's own value while the refund stays flagged (COALESCE), so a writer
	// holding a copy read before another flagged it does not move the time forward.
	return q.write(ctx, d.Q(`UPDATE refunds SET status = ?, reason = ?, provider_ref = ?, failure_code = ?,
next_query_at = ?, query_attempts = ?, updated_at = ?, needs_attention = ?, attention_reason = ?,
settle_reason = ?, settled_by = ?, settled_at = ?,
flagged_at = CASE WHEN ? = 1 THEN COALESCE(flagged_at, ?) ELSE NULL END WHERE id = ?`), []any{
		string(r.Status), r.Reason, r.ProviderRef, r.FailureCode, d.T(r.NextQueryAt), r.QueryAttempts,
		d.T(r.UpdatedAt), boolInt(r.NeedsAttention), r.AttentionReason, r.SettleReason, r.SettledBy,
		d.T(r.SettledAt), boolInt(r.NeedsAttention), d.T(r.FlaggedAt), id}, true,
		func(n int64, err error) error {
			if err != nil {
				return internal(err, "update refund %s", id)
			}
			if n == 0 {
				return core.Errorf(core.ENOTFOUND, "refund %s not found", id)
			}
			return nil
		})
}

// SumRefunds implements store.Queries.
func (q Queries) SumRefunds(ctx context.Context, paymentID string) (store.RefundTotals, error) {
	var t store.RefundTotals
	rows, err := q.C.Query(ctx, q.D.Q(`SELECT status, COUNT(*), COALESCE(SUM(amount_value), 0)
FROM refunds WHERE payment_id = ? GROUP BY status`), paymentID)
	if err != nil {
		return t, internal(err, "sum refunds of %s", paymentID)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n, sum int64
		)
		if err := rows.Scan(&status, &n, &sum); err != nil {
			return t, internal(err, "sum refunds of %s", paymentID)
		}
		t.Count += int(n)
		switch core.RefundStatus(status) {
		case core.RefundSucceeded:
			t.Succeeded += sum
			t.Active += int(n)
		case core.RefundFailed:
			t.Failed += sum
		default:
			t.Pending += sum
			t.Active += int(n)
		}
	}
	if err := rows.Err(); err != nil {
		return t, internal(err, "sum refunds of %s", paymentID)
	}
	return t, nil
}

// ClaimDueRefunds implements store.Store's claim; run it in its own transaction.
func (q Queries) ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Refund, error) {
	d := q.D
	return all(ctx, q.C, d.Q(`UPDATE refunds SET next_query_at = ?, query_attempts = query_attempts + 1
WHERE seq IN (SELECT seq FROM refunds`+d.IndexedBy("refunds_due_idx")+` WHERE status IN ('pending', 'processing') AND next_query_at IS NOT NULL
AND next_query_at <= ? ORDER BY next_query_at LIMIT ?`+d.SkipLocked+`) RETURNING `+refundCols),
		[]any{d.T(now.Add(lease)), d.T(now), limitOf(limit)}, scanRefund, "claim due refunds")
}

// flag keeps Refund.FlaggedAt in step with NeedsAttention before a write: set to the write's
// UpdatedAt when the refund is flagged and has no time yet, zero when it is not flagged.
func flag(r *store.Refund) {
	switch {
	case !r.NeedsAttention:
		r.FlaggedAt = time.Time{}
	case r.FlaggedAt.IsZero():
		r.FlaggedAt = r.UpdatedAt
	default:
		r.FlaggedAt = norm(r.FlaggedAt)
	}
}

// boolInt stores a flag as the INTEGER 0 or 1 both databases hold it in.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
