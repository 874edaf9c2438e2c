package postgres

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paymux/paymux/host/store/storetest"
)

// errRollback ends an EXPLAIN's transaction (EXPLAIN ANALYZE runs the statement).
var errRollback = errors.New("rollback")

// seqScanRE matches a plan node that reads a whole big table.
var seqScanRE = regexp.MustCompile(`Seq Scan on (` + strings.Join(storetest.BigTables, "|") + `)\b`)

// pkeyScanRE matches an index scan along a big table's primary key (seq): without an Index
// Cond it reads the table in seq order, which only a LIMIT stops.
var pkeyScanRE = regexp.MustCompile(`Index Scan (Backward )?using (\w+)_pkey on (` + strings.Join(storetest.BigTables, "|") + `)\b`)

// fullScan reports a Seq Scan of a big table, or a walk along its primary key that filters
// rows (Filter, no Index Cond) in a statement that is not an unfiltered page: that walk reads
// the whole table when the rows it looks for are rare.
func fullScan(plan string, walk bool) string {
	if m := seqScanRE.FindString(plan); m != "" {
		return "full scan: " + m
	}
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		m := pkeyScanRE.FindString(l)
		if m == "" {
			continue
		}
		cond, filter := false, false
		for _, d := range lines[i+1:] {
			if strings.Contains(d, "->") {
				break
			}
			cond = cond || strings.Contains(d, "Index Cond:")
			filter = filter || strings.Contains(d, "Filter:")
		}
		if !cond && (filter || !walk) {
			return "full scan along the primary key: " + m
		}
	}
	return ""
}

// TestQueryPlans checks that every statement the janitor, the dispatcher, the intake and the
// API run finds its rows through an index, so that its cost does not grow with the store. The
// tables are empty, so the planner is told to avoid sequential scans wherever it can
// (enable_seqscan off): a Seq Scan left in a plan means no index can serve the statement.
//
// With PAYMUX_TEST_PLANS_DSN set (a grown store, e.g. one `paymux bench -preload` filled; and
// PAYMUX_TEST_PLANS_ACCOUNT, an account it holds), the same check runs there with the
// planner's own choices and EXPLAIN ANALYZE (in transactions that roll back), and reports the
// full scans the planner chose instead of failing.
func TestQueryPlans(t *testing.T) {
	explain, grown := "EXPLAIN ", false
	var s *Store
	if dsn := os.Getenv("PAYMUX_TEST_PLANS_DSN"); dsn != "" {
		cfg, err := ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		s, explain, grown = open(t, cfg), "EXPLAIN (ANALYZE, BUFFERS) ", true
		if a := os.Getenv("PAYMUX_TEST_PLANS_ACCOUNT"); a != "" {
			storetest.PlanAccount = a
		}
	} else {
		s = open(t, testSchema(t))
	}
	ctx := context.Background()
	storetest.CheckPlans(t, dialect, grown, func(q string, args []any) (string, error) {
		var b strings.Builder
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if !grown {
				if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
					return err
				}
			}
			rows, err := tx.Query(ctx, explain+q, args...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			b.WriteString(strings.Join(lines, "\n"))
			return errRollback
		})
		if err == errRollback {
			err = nil
		}
		return b.String(), err
	}, fullScan)
}
