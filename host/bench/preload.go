package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/paymux/paymux/host/store"
)

// Preloading: `paymux bench -preload N` grows the store to N payments before the host starts,
// so that the scenario measures a store of that size instead of an empty one. The rows are
// what a busy merchant's history looks like to the queries: most payments succeeded with their
// processed notification and delivered event; some closed or failed; one in twenty refunded,
// with the refund's own event; a re-delivered notification now and then. They go in through
// store.BulkLoader (COPY on PostgreSQL, large transactions on SQLite), in chunks, oldest
// first, spread over the last 90 days, with every index in place (what the host's own writes
// pay is what is measured). Delivered events older than the default retention (30 days) are
// left out, as the pruner would have deleted them: a history older than the retention would
// have the host's first prune runs at work during the measurement (see docs/performance.md,
// "Cost as the store grows").

// PreloadChunk is how many payments one round of bulk loads carries.
const PreloadChunk = 20000

// PreloadAccounts are the accounts the preloaded payments belong to besides the bench's own
// account, which gets seven in ten.
var PreloadAccounts = []string{"pl-acct-1", "pl-acct-2", "pl-acct-3"}

// PreloadResult is what Preload did.
type PreloadResult struct {
	Existing int64 `json:"existing_payments"` // payments found before
	Added    int64 `json:"added_payments"`
	Rows     int64 `json:"added_rows"` // all tables
	// Closed is how many payments earlier runs on a reused store had left pending, closed
	// before this run (see Preload).
	Closed   int64         `json:"closed_open_payments"`
	Duration time.Duration `json:"duration_ns"`
}

// RowsPerSecond is the fill rate.
func (r PreloadResult) RowsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Duration.Seconds()
}

// Preload grows the store at (driver, dsn) to n payments (nothing when it has that many
// already; migrations are applied first). progress, when not nil, gets a line per chunk.
//
// A reused store also holds what earlier bench runs left: the create scenario's payments stay
// pending, and a fresh host's janitor would query every one of them (through the plugin and
// the simulator) during the measurement, a backlog an empty store does not have. The preloaded
// history has none open, so Preload closes every pending payment created before it started,
// and a grown store starts with the same open backlog as an empty one: none. (Unclosed, 6,000
// such payments made create on a 10 million payment SQLite store 20-35% slower, the plugin's
// CPU per create up by a third, the janitor's claim a quarter of the host's CPU.)
func Preload(ctx context.Context, driver, dsn string, n int64, progress func(string)) (PreloadResult, error) {
	var res PreloadResult
	s, err := store.Open(ctx, driver, dsn)
	if err != nil {
		return res, err
	}
	defer s.Close()
	bl, ok := s.(store.BulkLoader)
	if !ok {
		return res, fmt.Errorf("bench: store %s cannot bulk load", driver)
	}
	if res.Existing, err = bl.CountRows(ctx, "payments"); err != nil {
		return res, err
	}
	start := time.Now()
	if res.Existing > 0 {
		if res.Closed, err = bl.CloseOpenPayments(ctx, start); err != nil {
			return res, err
		}
	}
	run := fmt.Sprintf("%x", start.UnixNano()&0xffffffffff)
	now := time.Now().UTC().Truncate(time.Second)
	for done := res.Existing; done < n; {
		k := min(int64(PreloadChunk), n-done)
		c := preloadChunk(run, done, k, n, now)
		for _, t := range c.tables() {
			if err := bl.BulkLoad(ctx, t.name, t.cols, t.rows); err != nil {
				return res, err
			}
			res.Rows += int64(len(t.rows))
		}
		done += k
		res.Added += k
		res.Duration = time.Since(start)
		if progress != nil {
			progress(fmt.Sprintf("preload: %d/%d payments, %d rows, %.0f rows/s", done, n, res.Rows, res.RowsPerSecond()))
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

type preloadTable struct {
	name string
	cols []string
	rows [][]any
}

type preloadRows struct{ payments, refunds, notifications, events preloadTable }

// tables is the load order (refunds refer to payments).
func (c *preloadRows) tables() []preloadTable {
	return []preloadTable{c.payments, c.refunds, c.notifications, c.events}
}

var (
	preloadPaymentCols = []string{"id", "account", "region", "method", "channel", "out_trade_no", "reference",
		"amount_value", "amount_currency", "status", "subject", "provider_ref", "wallet", "amount_refunded",
		"paid_at", "created_at", "updated_at", "metadata"}
	preloadRefundCols = []string{"id", "payment_id", "account", "out_refund_no", "amount_value", "amount_currency",
		"status", "reason", "provider_ref", "created_at", "updated_at"}
	preloadNotificationCols = []string{"id", "account", "method", "header", "query", "body", "remote_addr",
		"received_at", "status", "dedupe_key", "reason", "payment_id", "refund_id", "updated_at"}
	preloadEventCols = []string{"id", "type", "account", "payment_id", "refund_id", "payload", "created_at",
		"status", "attempts", "last_attempt_at", "delivered_at", "region", "actor"}
)

// preloadChunk builds payments first..first+k-1 of a history of total payments ending at now.
func preloadChunk(run string, first, k, total int64, now time.Time) *preloadRows {
	c := &preloadRows{
		payments:      preloadTable{name: "payments", cols: preloadPaymentCols},
		refunds:       preloadTable{name: "refunds", cols: preloadRefundCols},
		notifications: preloadTable{name: "notifications", cols: preloadNotificationCols},
		events:        preloadTable{name: "events", cols: preloadEventCols},
	}
	span := 90 * 24 * time.Hour
	for i := first; i < first+k; i++ {
		created := now.Add(-span + time.Duration(float64(span)*float64(i)/float64(total))).Add(-time.Hour)
		account := Account
		if i%10 >= 7 {
			account = PreloadAccounts[i%int64(len(PreloadAccounts))]
		}
		id := fmt.Sprintf("pay_pl%s%09d", run, i)
		otn := fmt.Sprintf("pl-%s-%09d", run, i)
		amount := 100 + (i*7919)%99900
		status, paid := "succeeded", created.Add(40*time.Second)
		switch i % 100 {
		case 97, 98:
			status, paid = "closed", time.Time{}
		case 99:
			status, paid = "failed", time.Time{}
		}
		refunded := int64(0)
		if status == "succeeded" && i%20 == 5 {
			refunded = amount / 2
		}
		c.payments.rows = append(c.payments.rows, []any{id, account, Region, Method, "app", otn, fmt.Sprintf("order-%d", i/3),
			amount, Currency, status, "Preloaded order " + otn, fmt.Sprintf("2026%016d", i), "alipay", refunded,
			paid, created, created.Add(time.Minute), `{"source":"preload"}`})
		payload := fmt.Sprintf(`{"id":%q,"account":%q,"out_trade_no":%q,"amount":{"value":%d,"currency":%q},"status":%q}`,
			id, account, otn, amount, Currency, status)
		evType := "payment." + status
		keep := now.Sub(created) < preloadEventAge
		if keep {
			c.events.rows = append(c.events.rows, []any{fmt.Sprintf("evt_pl%s%09da", run, i), evType, account, id, "", payload,
				created.Add(41 * time.Second), "delivered", 1, created.Add(42 * time.Second), created.Add(42 * time.Second), Region, ""})
		}
		if status != "succeeded" {
			continue
		}
		body := []byte(fmt.Sprintf("notify_time=2026-01-01+00%%3A00%%3A00&notify_type=trade_status_sync&notify_id=%s%09d"+
			"&sign_type=RSA2&sign=%s&out_trade_no=%s&trade_no=2026%016d&trade_status=TRADE_SUCCESS&total_fee=%d.%02d&currency=%s",
			run, i, preloadSign, otn, i, amount/100, amount%100, Currency))
		dedupe := fmt.Sprintf("%s:trade:%s:TRADE_SUCCESS", account, otn)
		c.notifications.rows = append(c.notifications.rows, []any{fmt.Sprintf("ntf_pl%s%09da", run, i), account, "POST",
			`{"Content-Type":["application/x-www-form-urlencoded"]}`, "", body, "127.0.0.1:40000",
			created.Add(40 * time.Second), "processed", dedupe, "", id, "", created.Add(40 * time.Second)})
		if i%25 == 11 { // the wallet re-delivered it
			c.notifications.rows = append(c.notifications.rows, []any{fmt.Sprintf("ntf_pl%s%09db", run, i), account, "POST",
				`{"Content-Type":["application/x-www-form-urlencoded"]}`, "", body, "127.0.0.1:40000",
				created.Add(5 * time.Minute), "duplicate", "", "already applied", id, "", created.Add(5 * time.Minute)})
		}
		if refunded > 0 {
			rid := fmt.Sprintf("rf_pl%s%09d", run, i)
			at := created.Add(24 * time.Hour)
			c.refunds.rows = append(c.refunds.rows, []any{rid, id, account, fmt.Sprintf("plr-%s-%09d", run, i), refunded, Currency,
				"succeeded", "customer request", fmt.Sprintf("rfd2026%016d", i), at, at.Add(time.Minute)})
			if now.Sub(at) < preloadEventAge {
				c.events.rows = append(c.events.rows, []any{fmt.Sprintf("evt_pl%s%09db", run, i), "refund.succeeded", account, id, rid,
					payload, at.Add(time.Minute), "delivered", 1, at.Add(2 * time.Minute), at.Add(2 * time.Minute), Region, "bench"})
			}
		}
	}
	return c
}

// preloadEventAge is how old a preloaded delivered event may be: a day inside the default
// retention.
const preloadEventAge = 29 * 24 * time.Hour

// preloadSign stands for a notification's RSA2-2048 signature: 344 base64 characters, URL-encoded.
var preloadSign = func() string {
	b := make([]byte, 344)
	for i := range b {
		b[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[i*31%62]
	}
	return string(b)
}()
