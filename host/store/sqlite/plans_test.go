package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paymux/paymux/host/store/storetest"
)

// fullScanRE matches a step of EXPLAIN QUERY PLAN that reads a whole big table or a whole
// index of it: "SCAN payments" or "SCAN payments USING INDEX ..." (a SEARCH uses the index to
// find its rows). A scan of a partial index is allowed: its rows are only the ones it names.
var fullScanRE = regexp.MustCompile(`\bSCAN (` + strings.Join(storetest.BigTables, "|") + `)\b( USING (COVERING )?INDEX (\w+))?`)

// TestQueryPlans checks that every statement the janitor, the dispatcher, the intake and the
// API run finds its rows through an index, so that its cost does not grow with the store.
//
// With PAYMUX_TEST_PLANS_SQLITE set to the file of a grown store (e.g. one `paymux bench
// -preload` filled; PAYMUX_TEST_PLANS_ACCOUNT, an account it holds), the check runs there and
// reports full scans instead of failing.
func TestQueryPlans(t *testing.T) {
	path, grown := filepath.Join(t.TempDir(), "paymux.db"), false
	if p := os.Getenv("PAYMUX_TEST_PLANS_SQLITE"); p != "" {
		path, grown = p, true
		if a := os.Getenv("PAYMUX_TEST_PLANS_ACCOUNT"); a != "" {
			storetest.PlanAccount = a
		}
	}
	s := open(t, path)
	partial := map[string]bool{}
	rows, err := s.reader.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		partial[n] = true
	}
	rows.Close()
	if len(partial) == 0 {
		t.Fatal("no partial index found: the schema query is wrong")
	}
	storetest.CheckPlans(t, dialect, grown, func(q string, args []any) (string, error) {
		rows, err := s.reader.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				return "", err
			}
			b.WriteString(detail + "\n")
		}
		return b.String(), rows.Err()
	}, func(plan string, walk bool) string {
		for _, m := range fullScanRE.FindAllStringSubmatch(plan, -1) {
			if m[4] != "" && partial[m[4]] || walk && m[2] == "" {
				continue // a partial index, or a page along the rowid
			}
			return "full scan: " + m[0]
		}
		return ""
	})
}
