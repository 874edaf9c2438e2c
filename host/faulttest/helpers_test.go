//go:build faults

package faulttest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/providers/mapisim"
)

// fixture is one simulator + host child for a test, with the plugin processes it has seen.
type fixture struct {
	t  *testing.T
	st *bench.Stack
	nt *bench.Notifier

	mu      sync.Mutex
	plugins map[int]bool // every plugin pid observed, for the "none left behind" check
	acked   map[string]bool
	seq     int
	trades  map[string]string // payment id -> the simulated trade_no
}

// tradeNo is the Alipay trade number of a payment, the same in every notification about it.
func (f *fixture) tradeNo(paymentID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.trades[paymentID]; ok {
		return n
	}
	n := bench.TradeNo(len(f.trades) + 1)
	f.trades[paymentID] = n
	return n
}

func newFixture(t *testing.T, o bench.StackOptions) *fixture {
	t.Helper()
	o.PluginPath = pluginPath
	o.WorkDir = t.TempDir()
	if os.Getenv("PAYMUX_FAULTTEST_HOST_MODE") == "child" {
		o.HostArgv = []string{os.Args[0], "-test.run=^$"}
		o.HostEnv = []string{envHost + "=1"}
	} else {
		// The real thing: `paymux serve` with a generated config, killed and restarted as a
		// process.
		o.ServeArgv = []string{paymuxPath, "serve"}
	}
	if o.BackoffMin == 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 5 * time.Second
	}
	o.HostLog = &testLog{t: t}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := bench.StartStack(ctx, o)
	if err != nil {
		t.Fatalf("starting simulator and host: %v", err)
	}
	nt, err := bench.NewNotifier()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, nt: nt, plugins: map[int]bool{}, acked: map[string]bool{}, trades: map[string]string{}}
	f.notePlugins()
	t.Cleanup(func() {
		f.notePlugins()
		st.Close()
		f.checkNoPluginLeft()
	})
	return f
}

// testLog forwards the host child's stderr to the test log (only shown on failure or -v).
type testLog struct {
	t  *testing.T
	mu sync.Mutex
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Log("host: " + line)
	}
	return len(p), nil
}

func (f *fixture) notePlugins() []int {
	pids := f.st.PluginPIDs()
	f.mu.Lock()
	for _, p := range pids {
		f.plugins[p] = true
	}
	f.mu.Unlock()
	return pids
}

// checkNoPluginLeft: every plugin process seen during the test must be gone within 5 s of the
// host stopping (killed hosts included: the plugin SDK's parent watchdog ends orphans).
func (f *fixture) checkNoPluginLeft() {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []int
		for pid := range f.plugins {
			if bench.Alive(pid, "paymux-provider-") {
				alive = append(alive, pid)
			}
		}
		alive = append(alive, bench.DescendantsNamed(os.Getpid(), "paymux-provider-")...)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Errorf("plugin processes left behind: %v", alive)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPlugin waits until the host has a live plugin and returns its pids.
func (f *fixture) waitPlugin(d time.Duration) []int {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if pids := f.notePlugins(); len(pids) > 0 {
			return pids
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no plugin process under host %d within %s", f.st.HostPID(), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	f.t.Cleanup(cancel)
	return ctx
}

// createPayment creates a payment of value cents or fails the test.
func (f *fixture) createPayment(value int64) *bench.Payment {
	f.t.Helper()
	f.mu.Lock()
	f.seq++
	ref := fmt.Sprintf("fault-%d", f.seq)
	f.mu.Unlock()
	p, err := f.st.Client.CreatePayment(f.ctx(30*time.Second), ref, value)
	if err != nil {
		f.t.Fatalf("create payment: %v", err)
	}
	return p
}

// notice builds a signed notification form for p.
func (f *fixture) notice(p *bench.Payment, status, notifyID string) []byte {
	f.t.Helper()
	form, err := f.nt.Form(bench.TradeNotice{
		OutTradeNo: p.OutTradeNo, TradeNo: f.tradeNo(p.ID),
		Status: status, Amount: p.Amount, NotifyID: notifyID, At: time.Now(),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return form
}

// post sends a notification; when the host acknowledges it ("success"), its notify_id is
// recorded as acknowledged. It returns whether it was acknowledged.
func (f *fixture) post(ctx context.Context, notifyID string, form []byte) (bool, error) {
	status, body, err := f.st.Client.Notify(ctx, bench.Account, form)
	if err != nil {
		return false, err
	}
	if status == 200 && strings.TrimSpace(body) == "success" {
		f.mu.Lock()
		f.acked[notifyID] = true
		f.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// pay delivers TRADE_FINISHED for p and requires the acknowledgement.
func (f *fixture) pay(p *bench.Payment) {
	f.t.Helper()
	id := "pay-" + p.ID
	ok, err := f.post(f.ctx(30*time.Second), id, f.notice(p, mapisim.StatusTradeFinished, id))
	if err != nil || !ok {
		f.t.Fatalf("paying %s: acknowledged=%v err=%v", p.ID, ok, err)
	}
}

func (f *fixture) ackedIDs() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]bool, len(f.acked))
	for k := range f.acked {
		out[k] = true
	}
	return out
}

func apiCode(err error) string {
	if e, ok := err.(*bench.APIError); ok {
		return e.Code
	}
	return ""
}
