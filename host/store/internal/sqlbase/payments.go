package sqlbase

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Queries implements store.Queries and the Lock methods of store.Tx on one Conn.
type Queries struct {
	C Conn
	D *Dialect
}

const paymentCols = `seq, id, account, region, method, channel, out_trade_no, reference, amount_value,
amount_currency, status, subject, description, return_url, extras, provider_ref, next_action_type,
next_action_value, wallet, failure_code, amount_refunded, amount_reserved, flags, expires_at, paid_at,
next_query_at, query_attempts, created_at, updated_at, client_result_status, client_result_verified,
client_result_at, next_action_more, metadata`

func scanPayment(r Rows) (*store.Payment, int64, error) {
	var (
		p                    store.Payment
		seq                  int64
		channel, status      string
		extras, flags, meta  string
		actionType, actionVa string
		actionMore           string
		cr                   clientResultScanner
	)
	err := r.Scan(&seq, &p.ID, &p.Account, &p.Region, &p.Method, &channel, &p.OutTradeNo, &p.Reference,
		&p.Amount.Value, &p.Amount.Currency, &status, &p.Subject, &p.Description, &p.ReturnURL, &extras,
		&p.ProviderRef, &actionType, &actionVa, &p.Wallet, &p.FailureCode, &p.AmountRefunded,
		&p.AmountReserved, &flags, tm(&p.ExpiresAt), tm(&p.PaidAt), tm(&p.NextQueryAt), &p.QueryAttempts,
		tm(&p.CreatedAt), tm(&p.UpdatedAt), &cr.status, &cr.verified, tm(&cr.at), &actionMore, &meta)
	if err != nil {
		return nil, 0, err
	}
	p.ClientResult = cr.hint()
	p.Channel = core.Channel(channel)
	p.Status = core.PaymentStatus(status)
	if actionType != "" || actionVa != "" {
		p.NextAction = &core.NextAction{Type: core.ActionType(actionType), Value: actionVa}
		if actionMore != "" {
			var m actionExtra
			if err := json.Unmarshal([]byte(actionMore), &m); err != nil {
				return nil, 0, fmt.Errorf("payment %s next action: %w", p.ID, err)
			}
			p.NextAction.AppIdentifier, p.NextAction.Fallbacks = m.AppIdentifier, m.Fallbacks
		}
	}
	if extras != "" && extras != "{}" && extras != "null" {
		if err := json.Unmarshal([]byte(extras), &p.Extras); err != nil {
			return nil, 0, fmt.Errorf("payment %s extras: %w", p.ID, err)
		}
	}
	if flags != "" && flags != "[]" && flags != "null" {
		if err := json.Unmarshal([]byte(flags), &p.Flags); err != nil {
			return nil, 0, fmt.Errorf("payment %s flags: %w", p.ID, err)
		}
	}
	if p.Metadata, err = metadataOf(meta); err != nil {
		return nil, 0, fmt.Errorf("payment %s metadata: %w", p.ID, err)
	}
	return &p, seq, nil
}

func paymentConflict(p *store.Payment) func(string) string {
	return func(c string) string {
		if c == "payments_id_key" {
			return fmt.Sprintf("payment %s already exists", p.ID)
		}
		return fmt.Sprintf("payment with out_trade_no %q already exists for account %s", p.OutTradeNo, p.Account)
	}
}

// metadataOf decodes a metadata column; "{}" is nil.
func metadataOf(s string) (map[string]string, error) {
	if s == "" || s == "{}" || s == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func jsonText(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

// clientResultScanner reads the three nullable client_result_* columns; a NULL status means no hint.
type clientResultScanner struct {
	status   sql.NullString
	verified sql.NullInt64
	at       time.Time
}

func (c *clientResultScanner) hint() *store.ClientResultHint {
	if !c.status.Valid {
		return nil
	}
	return &store.ClientResultHint{Verified: c.verified.Int64 != 0, Status: core.PaymentStatus(c.status.String), At: c.at}
}

// clientResultArgs are the values of the client_result_* columns (all NULL without a hint);
// the hint's time is normalised in place, as the other times are.
func (d *Dialect) clientResultArgs(h *store.ClientResultHint) (status, verified, at any) {
	if h == nil {
		return nil, nil, nil
	}
	h.At = norm(h.At)
	v := int64(0)
	if h.Verified {
		v = 1
	}
	return string(h.Status), v, d.T(h.At)
}

// actionExtra is the next_action_more column: what a next action has beyond type and value.
type actionExtra struct {
	AppIdentifier string            `json:"app_identifier,omitempty"`
	Fallbacks     []core.NextAction `json:"fallbacks,omitempty"`
}

// action returns the next_action_type, _value and _more columns of a.
func action(a *core.NextAction) (string, string, string, error) {
	if a == nil {
		return "", "", "", nil
	}
	more := ""
	if a.AppIdentifier != "" || len(a.Fallbacks) > 0 {
		b, err := json.Marshal(actionExtra{AppIdentifier: a.AppIdentifier, Fallbacks: a.Fallbacks})
		if err != nil {
			return "", "", "", err
		}
		more = string(b)
	}
	return string(a.Type), a.Value, more, nil
}

// InsertPayment implements store.Queries.
func (q Queries) InsertPayment(ctx context.Context, p *store.Payment) error {
	if p.ID == "" || p.Account == "" || p.OutTradeNo == "" {
		return core.Errorf(core.EINVALID, "store: payment needs id, account and out_trade_no")
	}
	extras, err := jsonText(p.Extras, "{}")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment extras")
	}
	flags, err := jsonText(p.Flags, "[]")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment flags")
	}
	meta, err := jsonText(p.Metadata, "{}")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment metadata")
	}
	now := Now()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	p.CreatedAt, p.UpdatedAt = norm(p.CreatedAt), norm(p.UpdatedAt)
	p.ExpiresAt, p.PaidAt, p.NextQueryAt = norm(p.ExpiresAt), norm(p.PaidAt), norm(p.NextQueryAt)
	at, av, am, err := action(p.NextAction)
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment next action")
	}
	d := q.D
	crs, crv, cra := d.clientResultArgs(p.ClientResult)
	_, err = q.C.Exec(ctx, d.Q(`INSERT INTO payments (id, account, region, method, channel, out_trade_no,
reference, amount_value, amount_currency, status, subject, description, return_url, extras, provider_ref,
next_action_type, next_action_value, wallet, failure_code, amount_refunded, amount_reserved, flags,
expires_at, paid_at, next_query_at, query_attempts, created_at, updated_at, client_result_status,
client_result_verified, client_result_at, next_action_more, metadata)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
		p.ID, p.Account, p.Region, p.Method, string(p.Channel), p.OutTradeNo, p.Reference, p.Amount.Value,
		p.Amount.Currency, string(p.Status), p.Subject, p.Description, p.ReturnURL, extras, p.ProviderRef,
		at, av, p.Wallet, p.FailureCode, p.AmountRefunded, p.AmountReserved, flags,
		d.T(p.ExpiresAt), d.T(p.PaidAt), d.T(p.NextQueryAt), p.QueryAttempts, d.T(p.CreatedAt), d.T(p.UpdatedAt),
		crs, crv, cra, am, meta)
	return d.classify(err, "insert payment "+p.ID, paymentConflict(p), "")
}

// GetPayment implements store.Queries.
func (q Queries) GetPayment(ctx context.Context, id string) (*store.Payment, error) {
	return q.getPayment(ctx, id, "")
}

// LockPayment implements store.Tx.
func (q Queries) LockPayment(ctx context.Context, id string) (*store.Payment, error) {
	return q.getPayment(ctx, id, q.D.ForUpdate)
}

func (q Queries) getPayment(ctx context.Context, id, lock string) (*store.Payment, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+paymentCols+" FROM payments WHERE id = ?"+lock), []any{id},
		scanPayment, "get payment "+id, "payment "+id+" not found")
}

// GetPaymentByOutTradeNo implements store.Queries.
func (q Queries) GetPaymentByOutTradeNo(ctx context.Context, account, outTradeNo string) (*store.Payment, error) {
	return q.getPaymentByOutTradeNo(ctx, account, outTradeNo, "")
}

// LockPaymentByOutTradeNo implements store.Tx.
func (q Queries) LockPaymentByOutTradeNo(ctx context.Context, account, outTradeNo string) (*store.Payment, error) {
	return q.getPaymentByOutTradeNo(ctx, account, outTradeNo, q.D.ForUpdate)
}

func (q Queries) getPaymentByOutTradeNo(ctx context.Context, account, outTradeNo, lock string) (*store.Payment, error) {
	return one(ctx, q.C, q.D.Q("SELECT "+paymentCols+" FROM payments WHERE account = ? AND out_trade_no = ?"+lock),
		[]any{account, outTradeNo}, scanPayment, "get payment by out_trade_no",
		fmt.Sprintf("payment with out_trade_no %q not found for account %s", outTradeNo, account))
}

// ListPayments implements store.Queries.
func (q Queries) ListPayments(ctx context.Context, f store.PaymentFilter) ([]*store.Payment, string, error) {
	var w where
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if f.Region != "" {
		w.add("region = ?", f.Region)
	}
	if f.Method != "" {
		w.add("method = ?", f.Method)
	}
	if !w.inOrNone("account", f.Accounts) || !w.inOrNone("region", f.Regions) {
		return nil, "", nil
	}
	if f.Reference != "" {
		w.add("reference = ?", f.Reference)
	}
	if len(f.OutTradeNos) > store.MaxPageSize {
		return nil, "", core.Errorf(core.EINVALID, "store: at most %d out_trade_nos per list", store.MaxPageSize)
	}
	if f.OutTradeNos != nil {
		if len(f.OutTradeNos) == 0 {
			return nil, "", nil
		}
		w.in("out_trade_no", f.OutTradeNos)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if !f.From.IsZero() {
		w.add("created_at >= ?", q.D.T(f.From))
	}
	if !f.To.IsZero() {
		w.add("created_at < ?", q.D.T(f.To))
	}
	return page(ctx, q.C, q.D, paymentCols, "payments", &w, f.Cursor, f.Limit, scanPayment)
}

// UpdatePayment implements store.Queries.
func (q Queries) UpdatePayment(ctx context.Context, p *store.Payment) error {
	extras, err := jsonText(p.Extras, "{}")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment extras")
	}
	flags, err := jsonText(p.Flags, "[]")
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment flags")
	}
	p.UpdatedAt = Now()
	p.ExpiresAt, p.PaidAt, p.NextQueryAt = norm(p.ExpiresAt), norm(p.PaidAt), norm(p.NextQueryAt)
	at, av, am, err := action(p.NextAction)
	if err != nil {
		return core.WrapError(core.EINVALID, err, "store: payment next action")
	}
	d := q.D
	id := p.ID
	crs, crv, cra := d.clientResultArgs(p.ClientResult)
	return q.write(ctx, d.Q(`UPDATE payments SET region = ?, method = ?, channel = ?, reference = ?,
amount_value = ?, amount_currency = ?, status = ?, subject = ?, description = ?, return_url = ?, extras = ?,
provider_ref = ?, next_action_type = ?, next_action_value = ?, wallet = ?, failure_code = ?,
amount_refunded = ?, amount_reserved = ?, flags = ?, expires_at = ?, paid_at = ?, next_query_at = ?,
query_attempts = ?, updated_at = ?, client_result_status = ?, client_result_verified = ?,
client_result_at = ?, next_action_more = ? WHERE id = ?`), []any{
		p.Region, p.Method, string(p.Channel), p.Reference, p.Amount.Value, p.Amount.Currency, string(p.Status),
		p.Subject, p.Description, p.ReturnURL, extras, p.ProviderRef, at, av, p.Wallet, p.FailureCode,
		p.AmountRefunded, p.AmountReserved, flags, d.T(p.ExpiresAt), d.T(p.PaidAt), d.T(p.NextQueryAt),
		p.QueryAttempts, d.T(p.UpdatedAt), crs, crv, cra, am, id}, true,
		func(n int64, err error) error {
			if err != nil {
				return internal(err, "update payment %s", id)
			}
			if n == 0 {
				return core.Errorf(core.ENOTFOUND, "payment %s not found", id)
			}
			return nil
		})
}

// ClaimDuePayments implements store.Store's claim; run it in its own transaction.
func (q Queries) ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Payment, error) {
	d := q.D
	return all(ctx, q.C, d.Q(`UPDATE payments SET next_query_at = ?, query_attempts = query_attempts + 1
WHERE seq IN (SELECT seq FROM payments`+d.IndexedBy("payments_due_idx")+` WHERE status = 'pending' AND next_query_at IS NOT NULL
AND next_query_at <= ? ORDER BY next_query_at LIMIT ?`+d.SkipLocked+`) RETURNING `+paymentCols),
		[]any{d.T(now.Add(lease)), d.T(now), limitOf(limit)}, scanPayment, "claim due payments")
}
