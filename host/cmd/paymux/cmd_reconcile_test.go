package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/sqlite"
)

// TestReconcileCommand runs paymux reconcile with the real alipay plugin against mapisim: the
// gateway has no transactions for yesterday, paymux has one payment paid then, so the report
// says it is missing at the provider, as JSON on stdout and as CSV in --out.
func TestReconcileCommand(t *testing.T) {
	w := newServeWorld(t)
	ctx := context.Background()
	cfgText := checkMustRead(t, w.cfgPath)
	dbPath := ""
	for _, line := range strings.Split(string(cfgText), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "dsn: "); ok {
			dbPath = v
		}
	}
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().UTC().AddDate(0, 0, -1).Date()
	paidAt := time.Date(y, m, d, 4, 0, 0, 0, time.UTC)
	must(t, st.InsertPayment(ctx, &store.Payment{ID: "pay_cli", Account: "global", Region: "CN", Method: "alipay", Channel: core.ChannelApp,
		OutTradeNo: "otn_cli", Amount: core.Money{Value: 4200, Currency: "USD"}, Status: core.PaymentSucceeded, Subject: "Tea",
		PaidAt: paidAt, CreatedAt: paidAt}))
	must(t, st.Close())
	day := paidAt.Format("2006-01-02")

	var stdout, stderr bytes.Buffer
	if err := runReconcile(ctx, []string{"--config", w.cfgPath, "--account", "global", "--from", day, "--timezone", "Asia/Shanghai"}, &stdout, &stderr); err != nil {
		t.Fatalf("reconcile: %v\n%s", err, stderr.String())
	}
	var rep host.ReconcileReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout.String())
	}
	want := host.ReconcileSummary{MissingAtProvider: 1}
	if rep.Summary != want || rep.Provider != "alipay" || rep.From != day || rep.To != day || len(rep.Items) != 1 || rep.Items[0].PaymentID != "pay_cli" {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(stderr.String(), "missing_at_provider=1") {
		t.Errorf("stderr lacks the summary: %s", stderr.String())
	}

	out := filepath.Join(t.TempDir(), "report.csv")
	stdout.Reset()
	stderr.Reset()
	if err := runReconcile(ctx, []string{"--config", w.cfgPath, "--account", "global", "--from", day, "--to", day, "--format", "csv", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("reconcile csv: %v\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("--out still wrote to stdout: %s", stdout.String())
	}
	rows, err := csv.NewReader(bytes.NewReader(checkMustRead(t, out))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+1+4 || strings.Join(rows[0], ",") != strings.Join(host.ReconcileCSVHeader, ",") ||
		rows[1][0] != "missing_at_provider" || rows[1][2] != "otn_cli" || rows[1][10] != "42.00" {
		t.Errorf("csv rows %q", rows)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", w.cfgPath, "--account", "global"}, "usage"},
		{[]string{"--config", w.cfgPath, "--account", "global", "--from", day, "--format", "xml"}, "-format must be json or csv"},
		{[]string{"--config", w.cfgPath, "--account", "nobody", "--from", day}, "not in"},
		{[]string{"--config", w.cfgPath, "--account", "global", "--from", "yesterday"}, "date"},
	} {
		err := runReconcile(ctx, tc.args, &stdout, &stderr)
		if err == nil || !(strings.Contains(err.Error(), tc.want) || (tc.want == "usage" && errors.Is(err, errUsage))) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(dbPath); err != nil {
		t.Error(err)
	}
}

// TestReconcileProgressPlain: without a terminal, progress is a line per thousand records.
func TestReconcileProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	progress, done := reconcileProgress(&buf)
	for n := 1; n <= 2500; n++ {
		progress(n)
	}
	done()
	want := "reconcile: 1000 settlement records\nreconcile: 2000 settlement records\nreconcile: 2500 settlement records in total\n"
	if buf.String() != want {
		t.Errorf("progress output %q, want %q", buf.String(), want)
	}
}
