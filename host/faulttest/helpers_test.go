//go:build faults

package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/store"
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
	antom   bool // the account is an Antom one (st.Antom), not an Alipay one (st.Sim)
}

// tradeNo is the Alipay trade number the simulated gateway gave p's trade (p was paid in the
// simulator's wallet), the same in every notification about it.
func (f *fixture) tradeNo(p *bench.Payment) string {
	f.t.Helper()
	if f.antom {
		g, ok := f.st.Antom.Payment(bench.AntomClientID, p.OutTradeNo)
		if !ok || g.PaymentID == "" {
			f.t.Fatalf("payment %s has no payment at the simulated Antom gateway", p.ID)
		}
		return g.PaymentID
	}
	o, ok := f.st.Sim.Order(bench.Partner, p.OutTradeNo)
	if !ok || o.TradeNo == "" {
		f.t.Fatalf("payment %s has no trade at the simulated gateway: pay it in the wallet first", p.ID)
	}
	return o.TradeNo
}

// postgresDSN returns PAYMUX_TEST_POSTGRES_DSN pointed at a fresh schema (dropped at the end of
// the test), or skips the test.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PAYMUX_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAYMUX_TEST_POSTGRES_DSN is not set: skipping the PostgreSQL variant " +
			"(e.g. PAYMUX_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	defer c.Close(ctx)
	schema := "paymux_fault_" + store.NewID("")[:16]
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("PAYMUX_TEST_POSTGRES_DSN must be a postgres:// URL here: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newFixture(t *testing.T, o bench.StackOptions) *fixture {
	t.Helper()
	o.PluginPath = pluginPath
	if o.Provider == bench.ProviderAntom {
		o.PluginPath = antomPluginPath
	}
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
	f := &fixture{t: t, st: st, nt: nt, plugins: map[int]bool{}, acked: map[string]bool{}, antom: o.Provider == bench.ProviderAntom}
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

// notice builds a notification for p, signed with the simulator's Alipay key, about p's real
// trade at the simulated gateway (status may differ from the trade's: a stale or forged-order
// delivery as the wallet could send it).
func (f *fixture) notice(p *bench.Payment, status, notifyID string) []byte {
	f.t.Helper()
	form, err := f.nt.Form(bench.TradeNotice{
		OutTradeNo: p.OutTradeNo, TradeNo: f.tradeNo(p),
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
	return f.send(ctx, delivery{id: notifyID, form: form})
}

// send delivers d (a form, or for an Antom account a JSON body with its signed headers); when
// the host acknowledges it ("success", or Antom's resultCode SUCCESS), d.id is recorded as
// acknowledged. It returns whether it was acknowledged.
func (f *fixture) send(ctx context.Context, d delivery) (bool, error) {
	if f.antom {
		status, body, err := f.st.Client.NotifyWith(ctx, f.st.Account, d.hdr, d.form)
		if err != nil {
			return false, err
		}
		var a struct {
			Result struct{ ResultCode, ResultStatus string }
		}
		if status == 200 && json.Unmarshal([]byte(body), &a) == nil && a.Result.ResultCode == "SUCCESS" && a.Result.ResultStatus == "S" {
			f.mu.Lock()
			f.acked[d.id] = true
			f.mu.Unlock()
			return true, nil
		}
		return false, nil
	}
	status, body, err := f.st.Client.Notify(ctx, bench.Account, d.form)
	if err != nil {
		return false, err
	}
	notifyID := d.id
	if status == 200 && strings.TrimSpace(body) == "success" {
		f.mu.Lock()
		f.acked[notifyID] = true
		f.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// walletPay plays the buyer: p's order string is paid in the simulator's wallet, so the
// gateway holds a real paid trade, and the simulator's notifier tells the host. It waits until
// the simulator's notification was acknowledged and the host has p succeeded with the trade's
// number, and returns the trade.
func (f *fixture) walletPay(p *bench.Payment) mapisim.Order {
	f.t.Helper()
	f.buy(p)
	f.waitDelivered(p, 15*time.Second)
	got := f.waitPaymentStatus(p.ID, core.PaymentSucceeded, 15*time.Second)
	o, _ := f.st.Sim.Order(bench.Partner, p.OutTradeNo)
	if got.ProviderRef != o.TradeNo {
		f.t.Fatalf("payment %s: provider_ref %q, the gateway's trade_no %q", p.ID, got.ProviderRef, o.TradeNo)
	}
	return o
}

// buy pays p's SDK order string in the simulator's wallet and checks the trade there.
func (f *fixture) buy(p *bench.Payment) {
	f.t.Helper()
	if p.NextAction == nil || p.NextAction.Type != core.ActionSDKOrderString {
		f.t.Fatalf("payment %s has no SDK order string to pay: %+v", p.ID, p.NextAction)
	}
	res, err := f.st.Sim.PayOrderString(f.ctx(30*time.Second), p.NextAction.Value)
	if err != nil || res.ResultStatus != mapisim.ResultSuccess {
		f.t.Fatalf("paying %s in the wallet: %+v %v", p.ID, res, err)
	}
	o, ok := f.st.Sim.Order(bench.Partner, p.OutTradeNo)
	if !ok || o.Status != mapisim.StatusTradeFinished || o.TradeNo == "" || o.Amount != p.Amount.Value {
		f.t.Fatalf("the gateway's trade of %s after paying: %+v (found %v)", p.ID, o, ok)
	}
}

// held is a genuine notification of the simulator that the host has not received yet.
type held struct {
	notifyID string
	form     []byte
}

// walletPayHeld pays every payment in the simulator's wallet while the simulator's notifier
// loses its deliveries (a drop fault, proven to have fired once per payment): the gateway holds
// paid trades the host does not know of. It returns each payment's genuine signed notification,
// for the test to deliver as the wallet's redelivery. (The simulator redelivers them itself
// only after 2 minutes.)
func (f *fixture) walletPayHeld(ps []*bench.Payment) map[string]held {
	f.t.Helper()
	id, err := f.st.Sim.SetFault(mapisim.Fault{Kind: mapisim.FaultDrop, Partner: bench.Partner, Service: "notify"})
	if err != nil {
		f.t.Fatal(err)
	}
	out := make(map[string]held, len(ps))
	for _, p := range ps {
		f.buy(p)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for {
			if d, ok := f.delivery(p); ok && len(d.Attempts) > 0 {
				if !d.Attempts[0].Dropped {
					f.t.Fatalf("the simulator's notification of %s was not held back: %+v", p.ID, d.Attempts[0])
				}
				v := url.Values{}
				for k, x := range d.Fields {
					v.Set(k, x)
				}
				out[p.ID] = held{notifyID: d.NotifyID, form: []byte(v.Encode())}
				break
			}
			if time.Now().After(deadline) {
				f.t.Fatalf("the simulator made no delivery attempt for %s", p.ID)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	f.st.Sim.RemoveFault(id)
	if fi, _ := f.st.Sim.FaultByID(id); fi.Fired < len(ps) {
		f.t.Fatalf("the notify drop fault fired %d times for %d payments", fi.Fired, len(ps))
	}
	return out
}

// delivery is the simulator's trade_status_sync notification of p.
func (f *fixture) delivery(p *bench.Payment) (mapisim.Delivery, bool) {
	for _, d := range f.st.Sim.DeliveriesFor(bench.Partner, p.OutTradeNo) {
		if d.NotifyType == "trade_status_sync" {
			return d, true
		}
	}
	return mapisim.Delivery{}, false
}

// waitDelivered waits until the simulator's notification of p was acknowledged by the host.
func (f *fixture) waitDelivered(p *bench.Payment, d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if dl, ok := f.delivery(p); ok && dl.State == mapisim.DeliveryDelivered {
			return
		}
		if time.Now().After(deadline) {
			dl, _ := f.delivery(p)
			f.t.Fatalf("the simulator's notification of %s was not acknowledged within %s: %+v", p.ID, d, dl)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPaymentStatus waits until the host reports p in status want.
func (f *fixture) waitPaymentStatus(id string, want core.PaymentStatus, d time.Duration) *bench.Payment {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), id)
		if err == nil && got.Status == want {
			return got
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("payment %s is %v (err %v), want %s within %s", id, got, err, want, d)
		}
		time.Sleep(20 * time.Millisecond)
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
