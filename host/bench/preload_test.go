package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// TestPreload grows a store in two steps and reads the rows back through the store's own
// queries: the preloaded history is valid data for the host, and a second preload to the same
// size adds nothing.
func TestPreload(t *testing.T) {
	type target struct{ driver, dsn string }
	targets := []target{{"sqlite", filepath.Join(t.TempDir(), "paymux.db")}}
	if dsn := os.Getenv("PAYMUX_TEST_POSTGRES_DSN"); dsn != "" {
		targets = append(targets, target{"postgres", pgSchema(t, dsn)})
	}
	for _, tg := range targets {
		t.Run(tg.driver, func(t *testing.T) {
			ctx := context.Background()
			res, err := Preload(ctx, tg.driver, tg.dsn, 300, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Existing != 0 || res.Added != 300 || res.Rows < 700 {
				t.Fatalf("first preload: %+v", res)
			}
			if res, err = Preload(ctx, tg.driver, tg.dsn, 500, nil); err != nil || res.Existing != 300 || res.Added != 200 {
				t.Fatalf("second preload: %+v, %v", res, err)
			}
			// A payment an earlier bench run left pending (the create scenario's) is closed
			// by the next preload, with no query due; a preloaded one is untouched.
			s, err := store.Open(ctx, tg.driver, tg.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			left := &store.Payment{ID: store.NewID("pay_"), Account: Account, Region: Region, Method: Method,
				Channel: core.ChannelApp, OutTradeNo: "left-open-1", Amount: core.Money{Value: 100, Currency: Currency},
				Status: core.PaymentPending, NextQueryAt: time.Now().Add(-time.Minute)}
			if err := s.InsertPayment(ctx, left); err != nil {
				t.Fatal(err)
			}
			if res, err = Preload(ctx, tg.driver, tg.dsn, 500, nil); err != nil || res.Added != 0 || res.Closed != 1 {
				t.Fatalf("third preload: %+v, %v", res, err)
			}
			if p, err := s.GetPayment(ctx, left.ID); err != nil || p.Status != core.PaymentClosed || !p.NextQueryAt.IsZero() {
				t.Fatalf("left-open payment after the preload: %+v, %v", p, err)
			}
			counts := map[string]int64{}
			for _, tb := range []string{"payments", "refunds", "notifications", "events"} {
				if counts[tb], err = s.(store.BulkLoader).CountRows(ctx, tb); err != nil {
					t.Fatal(err)
				}
			}
			// 97% succeeded: one processed notification each, one in 25 re-delivered; one in
			// 20 refunded. Delivered events only inside the retention: about the last third
			// of the 90 days. (And the one left open above.)
			if counts["payments"] != 501 || counts["refunds"] < 15 || counts["notifications"] < 485 ||
				counts["events"] < 150 || counts["events"] >= 500 {
				t.Fatalf("counts %v", counts)
			}
			ps, _, err := s.ListPayments(ctx, store.PaymentFilter{Account: Account, Status: core.PaymentSucceeded, Limit: 100})
			if err != nil || len(ps) == 0 {
				t.Fatalf("ListPayments: %d, %v", len(ps), err)
			}
			refunded := 0
			for _, p := range ps {
				if p.Amount.Currency != Currency || p.PaidAt.IsZero() {
					t.Fatalf("payment %+v", p)
				}
				rs, _, err := s.ListRefunds(ctx, store.RefundFilter{PaymentID: p.ID})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					refunded++
					if r.Amount.Value != p.AmountRefunded {
						t.Errorf("refund %s of %d, payment refunded %d", r.ID, r.Amount.Value, p.AmountRefunded)
					}
				}
				if _, err := s.FindNotificationByDedupeKey(ctx, p.Account, p.Account+":trade:"+p.OutTradeNo+":TRADE_SUCCESS"); err != nil {
					t.Fatalf("notification of %s: %v", p.ID, err)
				}
			}
			if refunded == 0 {
				t.Error("no refund among 100 succeeded payments")
			}
		})
	}
}

// pgSchema creates a schema for the test in the database at dsn, drops it when t ends, and
// returns a DSN that uses it.
func pgSchema(t *testing.T, dsn string) string {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	schema := "paymux_preload_" + store.NewID("")[:12]
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	return dsn + "&search_path=" + schema
}
