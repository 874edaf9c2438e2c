//go:build faults

package faulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/providers/mapisim"
)

// scale picks the short or the long variant of a load parameter.
func scale[T any](short, long T) T {
	if testing.Short() {
		return short
	}
	return long
}

// TestPluginKilledUnderLoad kills the plugin with SIGKILL every couple of seconds while four
// clients create payments. While it is down, creates must fail fast with
// provider_unavailable (never hang, never another error); after each restart they succeed.
// A create that was inside the plugin when it died is repeated once for a local_create
// provider; otherwise it may answer outcome_unknown, at most once per worker per kill.
// Control: the same load before the first kill has no error at all. Each kill is confirmed (the
// killed process is gone, a new one serves), and payments created after the kills are paid in
// the simulator's wallet and succeed at the host and the gateway.
func TestPluginKilledUnderLoad(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	f.waitPlugin(10 * time.Second)
	kills := scale(3, 5)
	const every = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ok, unavailable, unknown atomic.Int64
	var mu sync.Mutex
	var other []string
	var slowest time.Duration
	var recent []*bench.Payment // the latest successful creates, paid at the end
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				p, err := f.st.Client.CreatePayment(ctx, fmt.Sprintf("kill-%d-%d", w, i), 1000)
				el := time.Since(t0)
				switch {
				case err == nil:
					ok.Add(1)
					mu.Lock()
					if recent = append(recent, p); len(recent) > 3 {
						recent = recent[1:]
					}
					mu.Unlock()
				case ctx.Err() != nil:
					return
				case apiCode(err) == core.EUNAVAILABLE:
					unavailable.Add(1)
					mu.Lock()
					slowest = max(slowest, el)
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				case apiCode(err) == core.EUNKNOWN:
					unknown.Add(1)
				default:
					mu.Lock()
					other = append(other, err.Error())
					mu.Unlock()
				}
			}
		}(w)
	}
	// Control: the same load with the plugin left alone.
	time.Sleep(every)
	mu.Lock()
	ctlOK, ctlBad := ok.Load(), unavailable.Load()+unknown.Load()+int64(len(other))
	mu.Unlock()
	if ctlOK == 0 || ctlBad != 0 {
		t.Fatalf("control (no kill yet): %d creates succeeded, %d failed; want all to succeed", ctlOK, ctlBad)
	}
	for k := 0; k < kills; k++ {
		if k > 0 {
			time.Sleep(every)
		}
		pids := f.waitPlugin(15 * time.Second)
		before := ok.Load()
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill %d: %v", pid, err)
			}
		}
		// It must come back: a new plugin process and successful creates. pluginhost doubles
		// its restart delay for a plugin that keeps dying young (1 s, 2 s, 4 s, ... in serve's
		// defaults), so the bound grows with the kills.
		bound := 15*time.Second + min(time.Second<<k, 2*time.Minute)
		deadline := time.Now().Add(bound)
		for {
			now := f.waitPlugin(bound)
			if !overlaps(now, pids) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: plugin %v still running %s after SIGKILL", k+1, pids, bound)
			}
			time.Sleep(20 * time.Millisecond)
		}
		deadline = time.Now().Add(15 * time.Second)
		for ok.Load() == before {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no successful create within 15 s of the restart", k+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	t.Logf("control: %d creates succeeded in %s; %d kills: %d creates succeeded, %d failed with provider_unavailable (slowest %s), %d in flight at a kill answered outcome_unknown, %d other errors",
		ctlOK, every, kills, ok.Load(), unavailable.Load(), slowest, unknown.Load(), len(other))
	if unavailable.Load() == 0 {
		t.Errorf("no create met the dead plugin: the kills did not happen while the load ran")
	}
	if unknown.Load() > int64(4*kills) {
		t.Errorf("%d outcome_unknown answers for %d kills of 4 workers: only calls in flight at a kill may answer that", unknown.Load(), kills)
	}
	if len(other) > 0 {
		t.Errorf("creates failed with something other than provider_unavailable: %d, first %q", len(other), other[0])
	}
	// Fail fast: a call made while the plugin is down is refused at once; a call already in
	// flight when the process died learns it when the connection drops.
	if slowest > 3*time.Second {
		t.Errorf("the slowest provider_unavailable took %s; it must fail fast", slowest)
	}
	// The order strings the restarted plugin signed are good: the wallet pays them.
	for _, p := range recent {
		f.walletPay(p)
	}
	f.checkInvariants()
}

func overlaps(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// delivery is one notification of a storm.
type delivery struct {
	id   string
	form []byte      // the body: a form, or an Antom JSON notification
	hdr  http.Header // Antom: the signed headers sent with it
}

// storm builds n deliveries for payments that were paid in the simulator's wallet with the
// simulator's own notifications held back: each payment's genuine notification (the wallet's
// redelivery, same notify_id), further TRADE_FINISHED notifications about the same trades with
// new notify_ids, and every 5th delivery a repeat of an earlier one.
func (f *fixture) storm(payments []*bench.Payment, n int) []delivery {
	f.t.Helper()
	if f.antom {
		return f.antomStorm(payments, n)
	}
	genuine := f.walletPayHeld(payments)
	out := make([]delivery, 0, n)
	for i, u := 0, 0; len(out) < n; i++ {
		switch {
		case i%5 == 4:
			out = append(out, out[i-3]) // a duplicate delivery
		case u < len(payments):
			g := genuine[payments[u].ID]
			out = append(out, delivery{id: g.notifyID, form: g.form})
			u++
		default:
			id := fmt.Sprintf("storm-%d", i)
			out = append(out, delivery{id: id, form: f.notice(payments[u%len(payments)], mapisim.StatusTradeFinished, id)})
			u++
		}
	}
	return out
}

// TestHostKilledDuringStorm sends a notification storm (with duplicates), kills the host with
// SIGKILL in the middle, restarts it on the same store and sends the rest plus every delivery
// that was not acknowledged (as the wallet retries). Every acknowledged notification must be
// stored; no effect may be applied twice; the killed host's plugin exits by itself.
func TestHostKilledDuringStorm(t *testing.T) { hostKilledDuringStorm(t, bench.StackOptions{}) }

// TestHostKilledDuringStormPostgres is TestHostKilledDuringStorm on PostgreSQL.
func TestHostKilledDuringStormPostgres(t *testing.T) {
	hostKilledDuringStorm(t, bench.StackOptions{Store: "postgres", DSN: postgresDSN(t)})
}

func hostKilledDuringStorm(t *testing.T, o bench.StackOptions) {
	f := newFixture(t, o)
	nPay := scale(20, 100)
	n := scale(600, 3000)
	payments := make([]*bench.Payment, nPay)
	for i := range payments {
		payments[i] = f.createPayment(1000 + int64(i))
	}
	storm := f.storm(payments, n)
	plugins := f.waitPlugin(10 * time.Second)

	var next atomic.Int64
	var killing, killed atomic.Bool
	var wg sync.WaitGroup
	var failedMu sync.Mutex
	var failed []delivery
	var beforeKill int // deliveries not acknowledged while the host was untouched: the control
	run := func() {
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					acked, _ := f.send(ctx, storm[i])
					cancel()
					if !acked {
						failedMu.Lock()
						failed = append(failed, storm[i])
						if !killing.Load() {
							beforeKill++
						}
						failedMu.Unlock()
					}
					if killed.Load() {
						return // the host is gone: stop and let the restart phase go on
					}
				}
			}()
		}
	}
	run()
	// Kill once a third of the storm is through.
	for next.Load() < int64(n/3) {
		time.Sleep(time.Millisecond)
	}
	hostPID := f.st.HostPID()
	killing.Store(true)
	f.st.KillHost()
	killed.Store(true)
	wg.Wait()
	t.Logf("host %d killed after %d of %d deliveries; %d not acknowledged so far (%d before the kill)", hostPID, next.Load(), n, len(failed), beforeKill)
	if beforeKill != 0 {
		t.Errorf("control: %d deliveries were not acknowledged before the kill", beforeKill)
	}
	if bench.Alive(hostPID, "") {
		t.Fatalf("host %d still alive after SIGKILL", hostPID)
	}
	// The killed host's plugin must not outlive it.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range plugins {
		for bench.Alive(pid, "paymux-provider-") {
			if time.Now().After(deadline) {
				t.Fatalf("plugin %d outlived its killed host by 5 s", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if err := f.st.RestartHost(f.ctx(time.Minute)); err != nil {
		t.Fatalf("restarting the host: %v", err)
	}
	f.waitPlugin(10 * time.Second)
	killed.Store(false)
	run()
	wg.Wait()
	// The wallet retries what was not acknowledged.
	retry := failed
	failed = nil
	for _, d := range retry {
		ok, err := f.send(f.ctx(10*time.Second), d)
		if !ok {
			t.Errorf("redelivery of %s after the restart not acknowledged: %v", d.id, err)
		}
	}
	t.Logf("%d redelivered after the restart; %d notifications acknowledged", len(retry), len(f.ackedIDs()))
	for _, p := range payments {
		got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != core.PaymentSucceeded || got.ProviderRef != f.tradeNo(p) {
			t.Errorf("payment %s is %s (trade %q) after the storm, want succeeded with the gateway's trade %q", p.ID, got.Status, got.ProviderRef, f.tradeNo(p))
		}
	}
	f.checkInvariants()
}

// TestTwoHostsPostgresStormOneKilled runs two hosts on one PostgreSQL database behind one
// simulated gateway; a notification storm is spread over both, and one host is killed with
// SIGKILL a third of the way through. The survivor takes the rest and every redelivery: every
// acknowledged notification is stored, every payment succeeds once, with one event each.
func TestTwoHostsPostgresStormOneKilled(t *testing.T) {
	dsn := postgresDSN(t)
	a := newFixture(t, bench.StackOptions{Store: "postgres", DSN: dsn})
	b := newFixture(t, bench.StackOptions{Store: "postgres", DSN: dsn, Sim: a.st.Sim, SimURL: a.st.SimURL})
	nPay, n := scale(10, 50), scale(300, 1500)
	payments := make([]*bench.Payment, nPay)
	for i := range payments {
		payments[i] = a.createPayment(3000 + int64(i))
	}
	storm := a.storm(payments, n)
	bPlugins := b.waitPlugin(10 * time.Second)

	var next atomic.Int64
	var bDown atomic.Bool
	var mu sync.Mutex
	var failed []delivery
	var onB, failedBeforeKill int
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				// A load balancer: odd workers send to host b until it is gone.
				target, down := a, bDown.Load()
				if w%2 == 1 && !down {
					target = b
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				status, body, err := target.st.Client.Notify(ctx, bench.Account, storm[i].form)
				cancel()
				acked := err == nil && status == 200 && body == "success"
				if acked {
					a.mu.Lock()
					a.acked[storm[i].id] = true
					a.mu.Unlock()
				}
				mu.Lock()
				if target == b {
					onB++
				}
				if !acked {
					failed = append(failed, storm[i])
					if !bDown.Load() { // failed while both hosts were untouched
						failedBeforeKill++
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	for next.Load() < int64(n/3) {
		time.Sleep(time.Millisecond)
	}
	bPID := b.st.HostPID()
	bDown.Store(true)
	b.st.KillHost()
	wg.Wait()
	if bench.Alive(bPID, "") {
		t.Fatalf("host b %d still alive after SIGKILL", bPID)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range bPlugins {
		for bench.Alive(pid, "paymux-provider-") {
			if time.Now().After(deadline) {
				t.Fatalf("plugin %d outlived its killed host by 5 s", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("host b killed after %d of %d deliveries (%d went to b); %d not acknowledged, %d of them before the kill", n/3, n, onB, len(failed), failedBeforeKill)
	if onB == 0 {
		t.Fatal("no delivery reached host b: the test proves nothing about two hosts")
	}
	// Control: while b was untouched, the two hosts shared the load without losing any.
	if failedBeforeKill != 0 {
		t.Errorf("control: %d deliveries were not acknowledged before the kill", failedBeforeKill)
	}
	// The wallet redelivers what b never answered (it died with them) to the survivor.
	for _, d := range failed {
		ok, err := a.post(a.ctx(10*time.Second), d.id, d.form)
		if !ok {
			t.Errorf("redelivery of %s to the surviving host not acknowledged: %v", d.id, err)
		}
	}
	for _, p := range payments {
		got, err := a.st.Client.GetPayment(a.ctx(10*time.Second), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != core.PaymentSucceeded {
			t.Errorf("payment %s is %s after the storm, want succeeded", p.ID, got.Status)
		}
	}
	a.checkInvariants()
}

// TestGatewayFaults makes the simulated gateway fail the refund call: 503, 500, a hang past
// the provider's 1 s timeout, a dropped connection, and an answer lost after the refund was
// made. The outcome is unknown, so the refund must stay pending (the janitor queries it
// later), never failed, and the payment's reservation must hold. Control: the same refund
// without a fault succeeds at the host and at the gateway. Each fault is proven to have fired
// (the simulator's counter).
func TestGatewayFaults(t *testing.T) {
	f := newFixture(t, bench.StackOptions{Settings: map[string]string{"timeout": "1s"}})
	t.Run("control", func(t *testing.T) {
		p := f.createPayment(5000)
		o := f.walletPay(p)
		r, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 2000, "")
		if err != nil || r.Status != core.RefundSucceeded {
			t.Fatalf("control refund: %+v %v; want succeeded", r, err)
		}
		g, ok := f.st.Sim.Refund(bench.Partner, r.OutRefundNo)
		if !ok || g.Status != mapisim.RefundSuccess || g.Amount != 2000 || g.TradeNo != o.TradeNo {
			t.Fatalf("control refund at the gateway: %+v (found %v)", g, ok)
		}
		if _, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 3001, ""); apiCode(err) == "" {
			t.Errorf("control: a refund beyond the rest was not refused: %v", err)
		}
	})
	for _, c := range []struct {
		name  string
		fault mapisim.Fault
		made  bool // the gateway carries the refund out before the fault
	}{
		{"503", mapisim.Fault{Kind: mapisim.FaultStatus, Status: 503, Service: "forex_refund"}, false},
		{"500", mapisim.Fault{Kind: mapisim.FaultStatus, Status: 500, Service: "forex_refund"}, false},
		{"hang", mapisim.Fault{Kind: mapisim.FaultHang, Service: "forex_refund"}, false},
		{"drop", mapisim.Fault{Kind: mapisim.FaultDrop, Service: "forex_refund"}, false},
		{"answer lost", mapisim.Fault{Kind: mapisim.FaultLoseAnswer, Service: "forex_refund"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := f.createPayment(5000)
			f.walletPay(p)
			id, err := f.st.Sim.SetFault(c.fault)
			if err != nil {
				t.Fatal(err)
			}
			defer f.st.Sim.RemoveFault(id)
			r, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 2000, "")
			var apiErr *bench.APIError
			switch {
			case err == nil:
				if r.Status != core.RefundPending && r.Status != core.RefundProcessing {
					t.Errorf("refund under %s: status %s, want pending (outcome unknown)", c.name, r.Status)
				}
			case errors.As(err, &apiErr):
				t.Fatalf("refund under %s: API error %v; an unknown outcome is a pending refund, not an error", c.name, err)
			default:
				t.Fatal(err)
			}
			if fi, _ := f.st.Sim.FaultByID(id); fi.Fired == 0 {
				t.Fatalf("the %s fault never fired: the test proves nothing", c.name)
			}
			gw := f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo)
			if c.made {
				if len(gw) != 1 || gw[0].OutReturnNo != r.OutRefundNo || gw[0].Status != mapisim.RefundSuccess {
					t.Fatalf("under %s the gateway should have made the refund %s: %+v", c.name, r.OutRefundNo, gw)
				}
			} else if len(gw) != 0 {
				t.Fatalf("under %s the gateway should not have seen the refund: %+v", c.name, gw)
			}
			// A second refund of the rest must not exceed the payment with the first in doubt;
			// it is refused by the host before it reaches the gateway.
			if _, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 3001, ""); err == nil {
				t.Errorf("a refund beyond the amount still reserved was accepted")
			}
			if n := len(f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo)); n != len(gw) {
				t.Errorf("the refused refund reached the gateway (%d refunds there, %d before)", n, len(gw))
			}
		})
	}
	f.checkInvariants()
}

// TestDuplicateAndOutOfOrder pays each payment in the simulator's wallet with the simulator's
// notification held back, then delivers concurrently: the genuine TRADE_FINISHED three times,
// a stale WAIT_BUYER_PAY twice and a TRADE_CLOSED once (all signed with the Alipay key, about
// the real trade), and then one more TRADE_CLOSED. Every delivery is acknowledged; the payment
// ends succeeded, whatever the order (TRADE_FINISHED is final), with one payment.succeeded
// event. Control: a payment whose genuine notification arrives once, alone, succeeds.
func TestDuplicateAndOutOfOrder(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	ctl := f.createPayment(1999)
	f.walletPay(ctl)
	payments := make([]*bench.Payment, scale(5, 20))
	for i := range payments {
		payments[i] = f.createPayment(2000 + int64(i))
	}
	genuine := f.walletPayHeld(payments)
	for _, p := range payments {
		g := genuine[p.ID]
		waiting := f.notice(p, mapisim.StatusWaitBuyerPay, "wait-"+p.ID)
		closed := f.notice(p, mapisim.StatusTradeClosed, "close-"+p.ID)
		order := []delivery{
			{id: g.notifyID, form: g.form}, {id: g.notifyID, form: g.form}, {id: "wait-" + p.ID, form: waiting},
			{id: "close-" + p.ID, form: closed}, {id: g.notifyID, form: g.form}, {id: "wait-" + p.ID, form: waiting},
		}
		var wg sync.WaitGroup
		for j, d := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The last three race the first three.
				if j < 3 {
					time.Sleep(time.Duration(j) * time.Millisecond)
				}
				ok, err := f.post(f.ctx(10*time.Second), d.id, d.form)
				if !ok {
					t.Errorf("delivery %d (%s) not acknowledged: %v", j, d.id, err)
				}
			}()
		}
		wg.Wait()
		// A TRADE_CLOSED after TRADE_FINISHED (a stale close, a forged-order one) is acknowledged
		// and changes nothing.
		late := f.notice(p, mapisim.StatusTradeClosed, "close2-"+p.ID)
		if ok, err := f.post(f.ctx(10*time.Second), "close2-"+p.ID, late); !ok {
			t.Errorf("late TRADE_CLOSED of %s not acknowledged: %v", p.ID, err)
		}
		got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != core.PaymentSucceeded {
			t.Errorf("payment %s is %s after out-of-order notifications; the trade is paid (TRADE_FINISHED is final), want succeeded", p.ID, got.Status)
		}
		if o, _ := f.st.Sim.Order(bench.Partner, p.OutTradeNo); o.Status != mapisim.StatusTradeFinished {
			t.Errorf("the gateway's trade of %s is %s", p.ID, o.Status)
		}
	}
	f.checkInvariants()
}

// TestConcurrentRefunds races 100 refunds on one payment paid in the simulator's wallet;
// together they ask for 1.5x its amount. The refunded total must never exceed the amount, at
// the host and at the gateway, and both must agree on every refund. Control: one refund alone
// on another payment succeeds at both.
func TestConcurrentRefunds(t *testing.T) { concurrentRefunds(t, bench.StackOptions{}) }

// TestConcurrentRefundsPostgres is TestConcurrentRefunds on PostgreSQL, where the payment's row
// lock is what serialises the reservations.
func TestConcurrentRefundsPostgres(t *testing.T) {
	concurrentRefunds(t, bench.StackOptions{Store: "postgres", DSN: postgresDSN(t)})
}

func concurrentRefunds(t *testing.T, o bench.StackOptions) {
	f := newFixture(t, o)
	ctl := f.createPayment(10000)
	f.walletPay(ctl)
	if r, err := f.st.Client.CreateRefund(f.ctx(time.Minute), ctl.ID, 150, "ctl"); err != nil || r.Status != core.RefundSucceeded {
		t.Fatalf("control refund: %+v %v", r, err)
	}
	p := f.createPayment(10000)
	o2 := f.walletPay(p)
	const n = 100
	var wg sync.WaitGroup
	var okSum, okN, refused atomic.Int64
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r, err := f.st.Client.CreateRefund(f.ctx(time.Minute), p.ID, 150, fmt.Sprintf("race-%d", i))
			if err != nil {
				refused.Add(1)
				return
			}
			if r.Status != core.RefundSucceeded {
				t.Errorf("refund %s is %s; the gateway is healthy, want succeeded", r.ID, r.Status)
				return
			}
			okSum.Add(r.Amount.Value)
			okN.Add(1)
		}(i)
	}
	close(start)
	wg.Wait()
	t.Logf("%d refunds accepted (%d cents), %d refused", okN.Load(), okSum.Load(), refused.Load())
	if okSum.Load() > p.Amount.Value {
		t.Errorf("accepted refunds total %d, more than the payment's %d", okSum.Load(), p.Amount.Value)
	}
	if okN.Load() == 0 || refused.Load() == 0 {
		t.Errorf("%d accepted, %d refused: the race must both fill the payment and overflow it", okN.Load(), refused.Load())
	}
	gw, _ := f.st.Sim.Order(bench.Partner, o2.OutTradeNo)
	var gwN, gwSum int64
	for _, r := range f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo) {
		if r.Status == mapisim.RefundSuccess {
			gwN++
			gwSum += r.Amount
		}
	}
	if gwN != okN.Load() || gwSum != okSum.Load() || gw.Refunded != gwSum || gw.Refunded > gw.Amount {
		t.Errorf("the gateway made %d refunds (%d; trade refunded %d of %d), the host accepted %d (%d)",
			gwN, gwSum, gw.Refunded, gw.Amount, okN.Load(), okSum.Load())
	}
	f.checkInvariants()
}
