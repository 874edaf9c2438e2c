package alipayhk_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/alipayhk"
	"github.com/paymux/paymux/providers/mapisim"
)

// simClock is a settable clock for the simulator's timestamps.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestFetchSettlementFromSimulator pays with both wallets and refunds once in the simulator,
// then reconciles the day's transaction file and the next day's settlement zip over the
// simulator's SFTP server.
func TestFetchSettlementFromSimulator(t *testing.T) {
	clock := &simClock{t: time.Date(2026, 11, 20, 11, 0, 0, 0, alipayhk.HongKong)}
	e := newEnvCfg(t, mapisim.Config{TimeScale: 100000, Clock: clock.now})
	srv, err := e.sim.StartSFTP("127.0.0.1:0", mapisim.SFTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hostKey, err := mapisim.HostPublicKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	keyFile := filepath.Join(dir, "test-sftp-client-DO-NOT-USE")
	if err := os.WriteFile(known, []byte(knownhosts.Line([]string{srv.Addr()}, hostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, mapisim.TestSFTPClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ method, out string }{{"alipayhk", "ST-HK"}, {"alipay", "ST-CN"}} {
		if r, err := e.sim.PayOrderString(ctx, e.create(t, c.method, c.out, hkd(200_00))); err != nil || r.ResultStatus != mapisim.ResultSuccess {
			t.Fatalf("pay %s: %+v %v", c.out, r, err)
		}
		e.waitNotification(t)
	}
	if _, err := e.p.Refund(ctx, &core.RefundRequest{Account: "hk1", OutTradeNo: "ST-HK", OutRefundNo: "ST-HK-R1", Amount: hkd(50_00), NotifyURL: e.notifyURL}); err != nil {
		t.Fatal(err)
	}
	e.waitNotification(t)
	clock.set(time.Date(2026, 11, 22, 12, 0, 0, 0, alipayhk.HongKong)) // the 20th has settled on the 21st

	sftpSettings := []string{"sftp_addr", srv.Addr(), "sftp_user", testPartner, "sftp_private_key_file", keyFile, "sftp_known_hosts_file", known}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, alipayhk.HongKong)
	for _, tc := range []struct {
		name     string
		extra    []string
		from, to time.Time
		status   string
	}{
		{"transactions", nil, day, day, "L"},
		{"settlement", []string{"sftp_files", "settlement"}, day.AddDate(0, 0, 1), day.AddDate(0, 0, 1), "L"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.p.Configure(ctx, &core.ConfigureRequest{Account: "hk1", Settings: e.settings(append(sftpSettings, tc.extra...)...)}); err != nil {
				t.Fatal(err)
			}
			got := map[string]*core.SettlementRecord{}
			err := e.p.FetchSettlement(ctx, &core.SettlementRequest{Account: "hk1", From: tc.from, To: tc.to}, func(r *core.SettlementRecord) error {
				got[r.Reference] = r
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				kind   core.EventKind
				amount int64
				wallet string
				orig   string
			}{
				"ST-HK":    {core.EventPayment, 200_00, "ALIPAYHK", ""},
				"ST-CN":    {core.EventPayment, 200_00, "ALIPAYCN", ""},
				"ST-HK-R1": {core.EventRefund, 50_00, "ALIPAYHK", "ST-HK"},
			}
			if len(got) != len(want) {
				t.Fatalf("got %d records %v, want %d", len(got), got, len(want))
			}
			for ref, w := range want {
				r := got[ref]
				if r == nil || r.Kind != w.kind || r.Amount != hkd(w.amount) || r.Wallet != w.wallet || r.OrigRef != w.orig ||
					r.Fee != hkd(w.amount*180/10000) || r.Status != tc.status || r.ProviderRef == "" || r.SettledAt.IsZero() {
					t.Errorf("%s: %+v", ref, r)
				}
			}
		})
	}
	// A day without a file is an error by default: the file may not be there yet.
	err = e.p.FetchSettlement(ctx, &core.SettlementRequest{Account: "hk1", From: day.AddDate(0, 0, -1), To: day.AddDate(0, 0, -1)}, func(*core.SettlementRecord) error { return nil })
	if core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("missing file: %v", err)
	}
}
