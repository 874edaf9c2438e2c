package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/example/examplebin"
	"github.com/paymux/paymux/plugins/example/wallet"
	"github.com/paymux/paymux/plugins/sdk"
)

var examplePath, exampleSHA string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pmxhost")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		variantDir = dir
		if examplePath, err = examplebin.Path(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if exampleSHA, err = sdk.HashFile(examplePath); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func logger() hclog.Logger {
	if !testing.Verbose() {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: os.Stderr})
}

// shortDir is a private directory short enough for unix socket paths, removed at cleanup.
func shortDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "pmx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// newManager returns a manager shut down at cleanup, with a short private socket dir.
func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	d := shortDir(t)
	opts.RuntimeDir, opts.Logger = d, logger()
	m := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

func spec(env map[string]string) Spec {
	return Spec{Name: "example", Command: examplePath, SHA256: exampleSHA, Env: env}
}

var settings = map[string]string{"cashier_url": "https://cashier.example.test/pay", "hmac_key": "test-hmac-key-DO-NOT-USE"}

func create(no string) *core.CreatePaymentRequest {
	return &core.CreatePaymentRequest{Account: "acct1", OutTradeNo: no, Method: wallet.MethodID, Channel: core.ChannelH5,
		Amount: core.Money{Value: 500, Currency: "HKD"}}
}

func pid(t *testing.T, m *Manager) int {
	t.Helper()
	s, err := m.get("example")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	return p.Pid()
}

// waitFor waits for cond, failing the test after 30 s (spent only when cond never comes: a
// loaded CI machine is slow).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitUp waits until the plugin answers again (after a restart).
func waitUp(t *testing.T, m *Manager, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if err := m.Health(context.Background())["example"]; err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("plugin not back within %v: %v", within, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	m := newManager(t, Options{})
	bad := spec(nil)
	bad.SHA256 = strings.Repeat("0f", 32)
	err := m.Start(context.Background(), []Spec{bad})
	if !errors.Is(err, sdk.ErrChecksumMismatch) || !strings.Contains(err.Error(), bad.SHA256) || !strings.Contains(err.Error(), exampleSHA) {
		t.Fatalf("Start = %v; want a mismatch naming both hashes", err)
	}
	p, err := m.Provider("example")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.QueryPayment(context.Background(), &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "x"})
	if core.ErrorCode(err) != core.EUNAVAILABLE || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("call to refused plugin: %v after %v", err, time.Since(start))
	}
	if !errors.Is(err, sdk.ErrChecksumMismatch) {
		t.Errorf("the unavailable error should keep the cause for logs: %v", err)
	}
	if h := m.Health(context.Background()); h["example"] == nil {
		t.Fatal("Health reports a refused plugin as healthy")
	}
	if _, err := m.Provider("nope"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("unknown plugin: %v", err)
	}
	if _, _, err := m.ProviderAndDescription(context.Background(), "example"); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("ProviderAndDescription of a refused plugin: %v", err)
	}
	if _, _, err := m.ProviderAndDescription(context.Background(), "nope"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("ProviderAndDescription of an unknown plugin: %v", err)
	}
}

// TestCrashRestartReconfigure: the plugin crashes on its fifth call, the manager restarts it,
// configures the account again before serving, and calls succeed again.
func TestCrashRestartReconfigure(t *testing.T) {
	m := newManager(t, Options{})
	// Calls: Describe at start (1), Configure (2), CreatePayment (3), QueryPayment (4), crash (5).
	if err := m.Start(context.Background(), []Spec{spec(map[string]string{"PAYMUX_EXAMPLE_CRASH_AFTER": "4"})}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")
	if _, err := p.CreatePayment(ctx, create("o1")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"}); err != nil {
		t.Fatal(err)
	}
	first := pid(t, m)
	_, err := p.Refund(ctx, &core.RefundRequest{Account: "acct1", OutTradeNo: "o1", OutRefundNo: "r1", Amount: core.Money{Value: 1, Currency: "HKD"}})
	if core.ErrorCode(err) != core.EUNKNOWN {
		t.Fatalf("refund cut off by a crash: %v; want %s (never retried)", err, core.EUNKNOWN)
	}
	// While down, calls fail at once: they do not wait for the restart (BackoffMin, 1 s, after
	// the crash), so the process is still down and not restarted when the call has returned.
	s, err := m.get("example")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the manager to see the crash", func() bool { _, err := s.current(); return err != nil })
	_, err = p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"})
	if core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("call while down: %v", err)
	}
	if _, derr := s.current(); derr == nil || m.Restarts("example") != 0 {
		t.Fatalf("the call while down returned only after the restart (restarts %d)", m.Restarts("example"))
	}
	waitUp(t, m, 30*time.Second)
	if m.Restarts("example") != 1 {
		t.Fatalf("Restarts = %d", m.Restarts("example"))
	}
	if pid(t, m) == first {
		t.Fatal("same pid after restart")
	}
	// The restarted process knows acct1 without anyone calling Configure again (the fake
	// gateway's payments are gone with the old process, so create a new one).
	if _, err := p.CreatePayment(ctx, create("o2")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if d, err := p.Describe(ctx); err != nil || d.Name != wallet.Name {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	if p2, d, err := m.ProviderAndDescription(ctx, "example"); err != nil || d.Name != wallet.Name || p2 == nil {
		t.Fatalf("ProviderAndDescription = %v, %+v, %v", p2, d, err)
	}
}

func TestHangingPluginHitsDeadline(t *testing.T) {
	m := newManager(t, Options{CallTimeout: 300 * time.Millisecond, MaxInFlight: 2})
	if err := m.Start(context.Background(), []Spec{spec(map[string]string{"PAYMUX_EXAMPLE_HANG": "QueryPayment"})}); err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")
	q := &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"}
	start := time.Now()
	_, err := p.QueryPayment(context.Background(), q) // no deadline: CallTimeout applies
	if core.ErrorCode(err) != core.EUNAVAILABLE || time.Since(start) > 2*time.Second {
		t.Fatalf("hanging call: %v after %v", err, time.Since(start))
	}

	// MaxInFlight: two hanging calls hold both slots (until cancelled below); a third waits
	// for its deadline.
	hold, release := context.WithTimeout(context.Background(), 30*time.Second)
	defer release()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Go(func() { _, _ = p.QueryPayment(hold, q) })
	}
	s, err := m.get("example")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both slots taken", func() bool { return len(s.sem) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = p.CreatePayment(ctx, create("o1"))
	if core.ErrorCode(err) != core.EUNAVAILABLE || !strings.Contains(core.ErrorMessage(err), "busy") {
		t.Fatalf("call over MaxInFlight: %v", err)
	}
	release()
	wg.Wait()
	// Slots are free again.
	if err := m.Configure(context.Background(), "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
}

func TestConfigureRejectedSettingsAreForgotten(t *testing.T) {
	m := newManager(t, Options{})
	if err := m.Start(context.Background(), []Spec{spec(nil)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err := m.Configure(ctx, "example", "acct1", map[string]string{"cashier_url": "ftp://x", "hmac_key": "short"})
	if core.ErrorCode(err) != core.ECONFIG {
		t.Fatalf("bad settings: %v", err)
	}
	s, _ := m.get("example")
	if _, kept := s.accounts["acct1"]; kept {
		t.Fatal("rejected settings remembered")
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	if _, kept := s.accounts["acct1"]; !kept {
		t.Fatal("accepted settings not remembered")
	}
}

func TestReload(t *testing.T) {
	m := newManager(t, Options{DisableAutoMTLS: true})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{spec(nil)}); err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")
	first := pid(t, m)
	// Same spec: same process, accounts replaced and sent.
	if err := m.Reload(ctx, []Spec{spec(nil)}, map[string]Accounts{"example": {"acct1": settings}}); err != nil {
		t.Fatal(err)
	}
	if pid(t, m) != first {
		t.Fatal("unchanged spec restarted the plugin")
	}
	if _, err := p.CreatePayment(ctx, create("o1")); err != nil {
		t.Fatal(err)
	}
	// Changed environment: a fresh process, configured, behind the same handle.
	if err := m.Reload(ctx, []Spec{spec(map[string]string{"X_TEST": "1"})}, map[string]Accounts{"example": {"acct1": settings}}); err != nil {
		t.Fatal(err)
	}
	if pid(t, m) == first || m.Restarts("example") != 1 {
		t.Fatalf("changed spec: pid %d (was %d), restarts %d", pid(t, m), first, m.Restarts("example"))
	}
	if _, err := p.CreatePayment(ctx, create("o2")); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	// Removed: stopped, and the handle says unavailable.
	if err := m.Reload(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1"}); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("removed plugin: %v", err)
	}
	if len(m.Plugins()) != 0 {
		t.Fatalf("Plugins = %v", m.Plugins())
	}
}

func TestShutdownStopsPlugins(t *testing.T) {
	m := newManager(t, Options{})
	if err := m.Start(context.Background(), []Spec{spec(nil)}); err != nil {
		t.Fatal(err)
	}
	if h := m.Health(context.Background()); h["example"] != nil {
		t.Fatalf("Health = %v", h)
	}
	p, _ := m.Provider("example")
	procID := pid(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(procID, 0) == nil {
		// A zombie is fine only until reaped; go-plugin waits for the process, so it must be gone.
		t.Fatalf("plugin %d still running after Shutdown", procID)
	}
	if _, err := p.Describe(context.Background()); err != nil {
		// Describe is cached and may still answer; other calls must not.
		t.Logf("Describe after shutdown: %v", err)
	}
	if _, err := p.QueryPayment(context.Background(), &core.QueryPaymentRequest{Account: "a"}); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("after shutdown: %v", err)
	}
	if err := m.Start(context.Background(), []Spec{spec(nil)}); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
}

func TestCapabilitiesAndOptionalInterfaces(t *testing.T) {
	m := newManager(t, Options{DisableAutoMTLS: true})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{spec(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")
	if _, err := p.CreatePayment(ctx, create("o1")); err != nil {
		t.Fatal(err)
	}
	st, err := p.(core.PaymentCloser).Close(ctx, &core.ClosePaymentRequest{Account: "acct1", OutTradeNo: "o1"})
	if err != nil || st.Status != core.PaymentClosed {
		t.Fatalf("Close = %+v, %v", st, err)
	}
	n := 0
	if err := p.(core.SettlementFetcher).FetchSettlement(ctx, &core.SettlementRequest{Account: "acct1"}, func(*core.SettlementRecord) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	// Without the capability in the cached description, the handle answers EUNSUPPORTED itself.
	s, _ := m.get("example")
	s.mu.Lock()
	s.desc = &core.Description{Name: "example"}
	s.mu.Unlock()
	if _, err := p.(core.PaymentCloser).Close(ctx, &core.ClosePaymentRequest{Account: "acct1", OutTradeNo: "o1"}); core.ErrorCode(err) != core.EUNSUPPORTED {
		t.Fatalf("Close without capability: %v", err)
	}
	if err := p.(core.SettlementFetcher).FetchSettlement(ctx, &core.SettlementRequest{Account: "acct1"}, func(*core.SettlementRecord) error { return nil }); core.ErrorCode(err) != core.EUNSUPPORTED {
		t.Fatalf("FetchSettlement without capability: %v", err)
	}
}
