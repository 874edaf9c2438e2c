package storetest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// Statement is one statement a store query sends: its text in the dialect and its arguments.
type Statement struct {
	Name  string // the store call and filter that sent it
	Query string
	Args  []any
	// Walk: an unfiltered newest-first page, which reads the table backwards along its
	// primary key and stops after the page: a scan in the plan is bounded by the LIMIT.
	Walk bool
	// Ordered: a page filtered by equality only, whose index must deliver the rows in seq
	// order, or a bounded batch whose index must deliver them in its ORDER BY; a sort in the
	// plan means it reads every matching row to return a page.
	Ordered bool
}

// recorder is a sqlbase.Conn that records what it is asked to run and runs nothing: Exec
// affects one row, Query returns no row. The calls' results do not matter, only their SQL.
type recorder struct{ got *[]Statement }

func (r recorder) Exec(_ context.Context, q string, args ...any) (int64, error) {
	*r.got = append(*r.got, Statement{Query: q, Args: args})
	return 1, nil
}

func (r recorder) Query(_ context.Context, q string, args ...any) (sqlbase.Rows, error) {
	*r.got = append(*r.got, Statement{Query: q, Args: args})
	return noRows{}, nil
}

type noRows struct{}

func (noRows) Next() bool        { return false }
func (noRows) Scan(...any) error { return nil }
func (noRows) Err() error        { return nil }
func (noRows) Close()            {}

// PlanAccount is the account the hot statements ask for. A test against a grown store sets it
// to an account that store holds (the bench's, for a store `paymux bench -preload` filled).
var PlanAccount = "acct"

// HotStatements returns the statements the janitor, the dispatcher, the notification intake,
// the pruner and the API run on a store that has grown, one per call and filter, as d
// writes them. Inserts are left out: they use no index to find rows.
func HotStatements(d *sqlbase.Dialect) []Statement {
	var out []Statement
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	run := func(name string, f func(c context.Context, q sqlbase.Queries)) {
		var got []Statement
		f(context.Background(), sqlbase.Queries{C: recorder{&got}, D: d})
		for i, s := range got {
			s.Name = name
			if len(got) > 1 {
				s.Name = fmt.Sprintf("%s #%d", name, i+1)
			}
			out = append(out, s)
		}
	}
	p := &store.Payment{ID: "pay_x", Account: PlanAccount, OutTradeNo: "otn", Status: core.PaymentPending}
	r := &store.Refund{ID: "rf_x", PaymentID: "pay_x", Account: PlanAccount, OutRefundNo: "orn"}
	// The janitor, the dispatcher and the backlog gauges.
	run("ClaimDuePayments", func(c context.Context, q sqlbase.Queries) { _, _ = q.ClaimDuePayments(c, now, 16, time.Minute) })
	run("ClaimDueRefunds", func(c context.Context, q sqlbase.Queries) { _, _ = q.ClaimDueRefunds(c, now, 16, time.Minute) })
	run("ClaimDueEvents", func(c context.Context, q sqlbase.Queries) { _, _ = q.ClaimDueEvents(c, now, 16, time.Minute) })
	run("Backlog", func(c context.Context, q sqlbase.Queries) { _, _ = q.Backlog(c, now) })
	run("PruneRejectedNotifications", func(c context.Context, q sqlbase.Queries) { _, _ = q.PruneRejectedNotifications(c, now, 500) })
	run("PruneDeliveredEvents", func(c context.Context, q sqlbase.Queries) { _, _ = q.PruneDeliveredEvents(c, now, 500) })
	run("DeleteExpiredIdempotencyKeys", func(c context.Context, q sqlbase.Queries) { _, _ = q.DeleteExpiredIdempotencyKeys(c, now) })
	// Outbox delivery bookkeeping.
	run("GetEvent", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetEvent(c, "evt_x") })
	run("MarkEventDelivered", func(c context.Context, q sqlbase.Queries) { _ = q.MarkEventDelivered(c, "evt_x", now) })
	run("RedeliverEvent", func(c context.Context, q sqlbase.Queries) { _, _ = q.RedeliverEvent(c, "evt_x", now) })
	// Intake and state changes.
	run("LockPaymentByOutTradeNo", func(c context.Context, q sqlbase.Queries) { _, _ = q.LockPaymentByOutTradeNo(c, PlanAccount, "otn") })
	run("LockPayment", func(c context.Context, q sqlbase.Queries) { _, _ = q.LockPayment(c, "pay_x") })
	run("UpdatePayment", func(c context.Context, q sqlbase.Queries) { _ = q.UpdatePayment(c, p) })
	run("LockRefundByOutRefundNo", func(c context.Context, q sqlbase.Queries) { _, _ = q.LockRefundByOutRefundNo(c, PlanAccount, "orn") })
	run("UpdateRefund", func(c context.Context, q sqlbase.Queries) { _ = q.UpdateRefund(c, r) })
	run("SumRefunds", func(c context.Context, q sqlbase.Queries) { _, _ = q.SumRefunds(c, "pay_x") })
	run("UpdateNotification", func(c context.Context, q sqlbase.Queries) {
		_ = q.UpdateNotification(c, &store.Notification{ID: "ntf_x", Status: store.NotificationProcessed})
	})
	run("FindNotificationByDedupeKey", func(c context.Context, q sqlbase.Queries) { _, _ = q.FindNotificationByDedupeKey(c, PlanAccount, "k") })
	run("GetNotification", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetNotification(c, "ntf_x") })
	run("GetIdempotencyKey", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetIdempotencyKey(c, "scope", "key") })
	// The API's reads.
	run("GetPayment", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetPayment(c, "pay_x") })
	run("GetPaymentByOutTradeNo", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetPaymentByOutTradeNo(c, PlanAccount, "otn") })
	run("GetRefund", func(c context.Context, q sqlbase.Queries) { _, _ = q.GetRefund(c, "rf_x") })
	from, to := now.Add(-24*time.Hour), now
	for name, f := range map[string]store.PaymentFilter{
		"all":              {},
		"account":          {Account: PlanAccount},
		"accounts":         {Accounts: []string{PlanAccount, "acct2"}},
		"reference":        {Reference: "ref"},
		"out_trade_nos":    {Account: PlanAccount, OutTradeNos: []string{"a", "b"}},
		"account and time": {Account: PlanAccount, From: from, To: to},
		"time":             {From: from, To: to},
		"status":           {Status: core.PaymentFailed},
		"page 2":           {Account: PlanAccount, Cursor: "1000"},
	} {
		run("ListPayments "+name, func(c context.Context, q sqlbase.Queries) { _, _, _ = q.ListPayments(c, f) })
	}
	for name, f := range map[string]store.RefundFilter{
		"payment":         {PaymentID: "pay_x"},
		"account":         {Account: PlanAccount},
		"out_refund_nos":  {Account: PlanAccount, OutRefundNos: []string{"a"}},
		"needs attention": {NeedsAttention: true},
		"status":          {Status: core.RefundFailed},
	} {
		run("ListRefunds "+name, func(c context.Context, q sqlbase.Queries) { _, _, _ = q.ListRefunds(c, f) })
	}
	for name, f := range map[string]store.EventFilter{
		"all":      {},
		"payment":  {PaymentID: "pay_x"},
		"type":     {Type: store.EventPaymentSucceeded},
		"accounts": {Accounts: []string{PlanAccount}},
		"status":   {Status: store.EventFailed},
	} {
		run("ListEvents "+name, func(c context.Context, q sqlbase.Queries) { _, _, _ = q.ListEvents(c, f) })
	}
	for name, f := range map[string]store.NotificationFilter{
		"all":     {},
		"account": {Account: PlanAccount},
		"status":  {Status: store.NotificationError},
	} {
		run("ListNotifications "+name, func(c context.Context, q sqlbase.Queries) { _, _, _ = q.ListNotifications(c, f) })
	}
	for i := range out {
		out[i].Walk = strings.HasSuffix(out[i].Name, " all")
		out[i].Ordered = orderedPages[out[i].Name]
	}
	return out
}

// orderedPages are the list statements filtered by equality only, and the janitor's,
// the dispatcher's and the pruner's bounded batches (ORDER BY the due or age column, LIMIT),
// whose partial index delivers them in that order (see Statement.Ordered). A batch that sorts
// reads every row its filter matches to take a few: SQLite, which keeps no statistics, chose
// the (status, seq) index for the delivered-event prune and sorted every delivered event, 1.4
// s a batch at 10 million payments.
var orderedPages = map[string]bool{
	"ClaimDuePayments": true, "ClaimDueRefunds": true, "ClaimDueEvents": true,
	"PruneRejectedNotifications": true, "PruneDeliveredEvents": true,
	"ListPayments account": true, "ListPayments reference": true, "ListPayments status": true, "ListPayments page 2": true,
	"ListRefunds payment": true, "ListRefunds account": true, "ListRefunds status": true, "ListRefunds needs attention": true,
	"ListEvents payment": true, "ListEvents type": true, "ListEvents status": true, "ListEvents accounts": true,
	"ListNotifications account": true, "ListNotifications status": true,
}

// sortRE matches a sort step in a plan: PostgreSQL's Sort node, SQLite's temporary B-tree.
var sortRE = regexp.MustCompile(`(?m)(^|->)\s*Sort\b|USE TEMP B-TREE FOR ORDER BY`)

// BigTables are the tables that grow with the traffic.
var BigTables = []string{"payments", "refunds", "events", "notifications", "idempotency_keys"}

// CheckPlans asks explain for the plan of every hot statement and fails t for each plan in
// which fullScan finds a full scan of a big table (fullScan returns a description, or "";
// walk is the statement's Walk). With report set (a grown store, whose planner weighs real
// statistics: it may prefer walking the primary key to a LIMIT over an index it has), the
// full scans are logged instead.
func CheckPlans(t *testing.T, d *sqlbase.Dialect, report bool, explain func(q string, args []any) (string, error), fullScan func(plan string, walk bool) string) {
	for _, s := range HotStatements(d) {
		plan, err := explain(s.Query, s.Args)
		if err != nil {
			t.Errorf("%s: explain: %v\n%s", s.Name, err, s.Query)
			continue
		}
		if testing.Verbose() {
			t.Logf("%s:\n%s", s.Name, strings.TrimSpace(plan))
		}
		f := fullScan(plan, s.Walk)
		if f == "" && s.Ordered && sortRE.MatchString(plan) {
			f = "sorts every matching row to return one page or batch: no index delivers them in order"
		}
		if f != "" && report {
			t.Logf("FULL SCAN %s: %s", s.Name, f)
		} else if f != "" {
			t.Errorf("%s: %s\nquery: %s\nplan:\n%s", s.Name, f, s.Query, plan)
		}
	}
}
