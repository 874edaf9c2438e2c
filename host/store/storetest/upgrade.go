package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
)

// PreviousSchema is the schema version of the release before this one: the upgrade tests build
// a database at it, seed it with SeedPrevious and open it with the current store. It is the
// version before the last migration that changes columns or data: migrations after that one
// that only add indexes (as 009 does) are applied by the upgrade too, but the last change of
// columns or data is the one the seeded rows must survive.
func PreviousSchema(t testing.TB, d migrations.Dialect) int {
	t.Helper()
	ms, err := migrations.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	last := len(ms) - 1
	for last > 0 && indexesOnly(ms[last].SQL) {
		last--
	}
	if last < 1 {
		t.Skip("one migration only: there is no previous schema to upgrade from")
	}
	return ms[last-1].Version
}

// indexesOnly reports whether a migration's statements (comments aside) all create indexes.
func indexesOnly(sql string) bool {
	var code []string
	for _, l := range strings.Split(sql, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			code = append(code, l)
		}
	}
	n := 0
	for _, stmt := range strings.Split(strings.Join(code, " "), ";") {
		stmt = strings.ToUpper(strings.TrimSpace(stmt))
		if stmt == "" {
			continue
		}
		n++
		if !strings.HasPrefix(stmt, "CREATE INDEX ") && !strings.HasPrefix(stmt, "CREATE UNIQUE INDEX ") {
			return false
		}
	}
	return n > 0
}

// Seeded is what SeedPrevious wrote.
type Seeded struct {
	PaymentID, RefundID, EventID string
	// FlaggedRefundID is a refund in the attention queue (migration 005's columns), last
	// updated At: the upgrade to 008 gives it flagged_at = At.
	FlaggedRefundID string
	At              time.Time
}

// SeedPrevious writes a paid payment, its pending refund and an undelivered event with only the
// columns of migration 001 (never edited once shipped), as a database of an earlier release
// holds them. c is a transaction on a database migrated to an earlier schema.
func SeedPrevious(ctx context.Context, t testing.TB, c sqlbase.Conn, d *sqlbase.Dialect) Seeded {
	t.Helper()
	at := time.Date(2026, 11, 20, 8, 30, 0, 123000, time.UTC)
	s := Seeded{PaymentID: store.NewID("pay_"), RefundID: store.NewID("ref_"), EventID: store.NewID("evt_"),
		FlaggedRefundID: store.NewID("ref_"), At: at}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO payments (id, account, region, method, channel, out_trade_no, reference, amount_value, amount_currency,
			status, subject, provider_ref, next_action_type, next_action_value, amount_refunded, amount_reserved, paid_at, created_at, updated_at)
			VALUES (?, 'acct-1', 'HK', 'alipayhk', 'app', 'pmxupgrade1', 'order-upgrade', 12345, 'HKD',
			'succeeded', 'Upgrade order', 'T2026', 'sdk_order_string', 'a=1&b=2', 1000, 1000, ?, ?, ?)`,
			[]any{s.PaymentID, d.T(at), d.T(at), d.T(at)}},
		{`INSERT INTO refunds (id, payment_id, account, out_refund_no, amount_value, amount_currency, status, reason, created_at, updated_at)
			VALUES (?, ?, 'acct-1', 'pmxrefund1', 1000, 'HKD', 'pending', 'upgrade', ?, ?)`,
			[]any{s.RefundID, s.PaymentID, d.T(at), d.T(at)}},
		// needs_attention and attention_reason are migration 005's: the previous schema is at
		// least 007 since migration 008 exists.
		{`INSERT INTO refunds (id, payment_id, account, out_refund_no, amount_value, amount_currency, status, reason, created_at, updated_at,
			needs_attention, attention_reason)
			VALUES (?, ?, 'acct-1', 'pmxrefund2', 500, 'HKD', 'pending', 'upgrade', ?, ?, 1, 'lagging query')`,
			[]any{s.FlaggedRefundID, s.PaymentID, d.T(at.Add(-time.Hour)), d.T(at)}},
		{`INSERT INTO events (id, type, account, payment_id, payload, created_at, status, next_attempt_at)
			VALUES (?, 'payment.succeeded', 'acct-1', ?, '{"id":"x"}', ?, 'pending', ?)`,
			[]any{s.EventID, s.PaymentID, d.T(at), d.T(at)}},
		// A key an earlier release left in progress (its host died): it has no lease.
		{`INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, created_at, expires_at)
			VALUES ('key_upgrade POST /v1/payments', 'k-upgrade', 'h-upgrade', 'in_progress', ?, ?, ?)`,
			[]any{s.PaymentID, d.T(time.Now()), d.T(time.Now().Add(time.Hour))}},
	} {
		if _, err := c.Exec(ctx, d.Q(q.sql), q.args...); err != nil {
			t.Fatalf("seeding the previous schema: %v", err)
		}
	}
	return s
}

// CheckSeeded reads what SeedPrevious wrote through the current store: nothing is lost or
// changed by the upgrade, and new columns read as their "never set" value.
func CheckSeeded(t testing.TB, s store.Store, seeded Seeded) {
	t.Helper()
	ctx := context.Background()
	p, err := s.GetPayment(ctx, seeded.PaymentID)
	if err != nil {
		t.Fatalf("the seeded payment after the upgrade: %v", err)
	}
	if p.Status != core.PaymentSucceeded || p.Amount != (core.Money{Value: 12345, Currency: "HKD"}) || p.AmountRefunded != 1000 ||
		p.OutTradeNo != "pmxupgrade1" || p.NextAction == nil || p.NextAction.Value != "a=1&b=2" || !p.PaidAt.Equal(seeded.At) {
		t.Errorf("the seeded payment changed in the upgrade: %+v", p)
	}
	r, err := s.GetRefund(ctx, seeded.RefundID)
	if err != nil {
		t.Fatalf("the seeded refund after the upgrade: %v", err)
	}
	if r.PaymentID != seeded.PaymentID || r.Amount.Value != 1000 || r.Status != core.RefundPending ||
		r.NeedsAttention || r.AttentionReason != "" || r.SettleReason != "" || !r.SettledAt.IsZero() || !r.FlaggedAt.IsZero() {
		t.Errorf("the seeded refund changed in the upgrade: %+v", r)
	}
	// A refund already in the attention queue is flagged from its last update.
	fr, err := s.GetRefund(ctx, seeded.FlaggedRefundID)
	if err != nil {
		t.Fatalf("the seeded flagged refund after the upgrade: %v", err)
	}
	if !fr.NeedsAttention || fr.AttentionReason != "lagging query" || !fr.FlaggedAt.Equal(seeded.At) {
		t.Errorf("the seeded flagged refund after the upgrade: needs_attention %v, reason %q, flagged_at %v (want %v)",
			fr.NeedsAttention, fr.AttentionReason, fr.FlaggedAt, seeded.At)
	}
	// The earlier release's in-progress key has no lease: its first retry takes it over at once
	// and learns the payment it is bound to.
	k, reserved, err := s.ReserveIdempotencyKey(ctx, &store.IdempotencyKey{Scope: "key_upgrade POST /v1/payments",
		Key: "k-upgrade", RequestHash: "h-upgrade", Owner: "lease_after_upgrade"})
	if err != nil || !reserved || k.ResourceID != seeded.PaymentID || k.Owner != "lease_after_upgrade" {
		t.Errorf("the seeded in-progress key after the upgrade: reserved %v, %+v, %v", reserved, k, err)
	}
	evs, _, err := s.ListEvents(ctx, store.EventFilter{PaymentID: seeded.PaymentID})
	if err != nil || len(evs) != 1 || evs[0].ID != seeded.EventID || evs[0].Status != store.EventPending {
		t.Errorf("the seeded event after the upgrade: %v %+v", err, evs)
	}
}
