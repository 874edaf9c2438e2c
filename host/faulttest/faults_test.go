//go:build faults

package faulttest

import (
	"context"
	"errors"
	"fmt"
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
// A create that was inside the plugin when it died answers outcome_unknown instead
// (pluginhost never repeats CreatePayment: in general it may have reached the gateway), so at
// most one per worker per kill may do that.
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
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				_, err := f.st.Client.CreatePayment(ctx, fmt.Sprintf("kill-%d-%d", w, i), 1000)
				el := time.Since(t0)
				switch {
				case err == nil:
					ok.Add(1)
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
	for k := 0; k < kills; k++ {
		time.Sleep(every)
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
		f.waitPlugin(bound)
		deadline := time.Now().Add(15 * time.Second)
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
	t.Logf("%d kills: %d creates succeeded, %d failed with provider_unavailable (slowest %s), %d in flight at a kill answered outcome_unknown, %d other errors",
		kills, ok.Load(), unavailable.Load(), slowest, unknown.Load(), len(other))
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
	if ok.Load() == 0 {
		t.Fatal("no create succeeded")
	}
	f.checkInvariants()
}

// TestHostKilledDuringStorm sends a notification storm (with duplicates), kills the host with
// SIGKILL in the middle, restarts it on the same store and sends the rest plus every delivery
// that was not acknowledged (as the wallet retries). Every acknowledged notification must be
// stored; no effect may be applied twice.
func TestHostKilledDuringStorm(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	nPay := scale(20, 100)
	n := scale(600, 3000)
	payments := make([]*bench.Payment, nPay)
	for i := range payments {
		payments[i] = f.createPayment(1000 + int64(i))
	}
	type delivery struct {
		id   string
		form []byte
	}
	storm := make([]delivery, n)
	for i, u := 0, 0; i < n; i++ {
		if i%5 == 4 {
			storm[i] = storm[i-3] // a duplicate delivery
			continue
		}
		id := fmt.Sprintf("storm-%d", i)
		storm[i] = delivery{id, f.notice(payments[u%nPay], mapisim.StatusTradeFinished, id)}
		u++
	}
	plugins := f.waitPlugin(10 * time.Second)

	var next atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	var failedMu sync.Mutex
	var failed []delivery
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
					acked, _ := f.post(ctx, storm[i].id, storm[i].form)
					cancel()
					if !acked {
						failedMu.Lock()
						failed = append(failed, storm[i])
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
	f.st.KillHost()
	killed.Store(true)
	wg.Wait()
	t.Logf("host killed after %d of %d deliveries; %d not acknowledged so far", next.Load(), n, len(failed))
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
		ok, err := f.post(f.ctx(10*time.Second), d.id, d.form)
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
		if got.Status != core.PaymentSucceeded {
			t.Errorf("payment %s is %s after the storm, want succeeded", p.ID, got.Status)
		}
	}
	f.checkInvariants()
}

// TestGatewayFaults makes the simulator answer refunds with 503 and then hang past the
// provider's timeout. The outcome is unknown, so the refund must stay pending (the janitor
// queries it later), never failed, and the payment's reservation must hold.
func TestGatewayFaults(t *testing.T) {
	f := newFixture(t, bench.StackOptions{Settings: map[string]string{"timeout": "1s"}})
	for _, c := range []struct {
		name  string
		fault mapisim.Fault
	}{
		{"503", mapisim.Fault{Kind: mapisim.FaultStatus, Status: 503, Service: "forex_refund"}},
		{"500", mapisim.Fault{Kind: mapisim.FaultStatus, Status: 500, Service: "forex_refund"}},
		{"hang", mapisim.Fault{Kind: mapisim.FaultHang, Service: "forex_refund"}},
		{"drop", mapisim.Fault{Kind: mapisim.FaultDrop, Service: "forex_refund"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := f.createPayment(5000)
			f.pay(p)
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
				t.Errorf("refund under %s: API error %v; an unknown outcome is a pending refund, not an error", c.name, err)
			default:
				t.Fatal(err)
			}
			// A second refund of the rest must not exceed the payment with the first in doubt.
			if _, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 3001, ""); err == nil {
				t.Errorf("a refund beyond the amount still reserved was accepted")
			}
		})
	}
	f.checkInvariants()
}

// TestDuplicateAndOutOfOrder delivers a payment's notifications twice and in the wrong order
// (TRADE_FINISHED before WAIT_BUYER_PAY; TRADE_CLOSED after TRADE_FINISHED). Every delivery
// is acknowledged; the payment ends succeeded with exactly one payment.succeeded event.
func TestDuplicateAndOutOfOrder(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	for i := 0; i < scale(5, 20); i++ {
		p := f.createPayment(2000 + int64(i))
		finished := f.notice(p, mapisim.StatusTradeFinished, "fin-"+p.ID)
		waiting := f.notice(p, mapisim.StatusWaitBuyerPay, "wait-"+p.ID)
		closed := f.notice(p, mapisim.StatusTradeClosed, "close-"+p.ID)
		order := []struct {
			id   string
			form []byte
		}{
			{"fin-" + p.ID, finished}, {"fin-" + p.ID, finished}, {"wait-" + p.ID, waiting},
			{"close-" + p.ID, closed}, {"fin-" + p.ID, finished}, {"wait-" + p.ID, waiting},
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
		got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		// TRADE_FINISHED is final; a later WAIT_BUYER_PAY or TRADE_CLOSED must not undo it.
		// (TRADE_CLOSED may win only if it was applied first, in which case the payment is
		// closed and TRADE_FINISHED is flagged: either way exactly one terminal event.)
		if got.Status != core.PaymentSucceeded && got.Status != core.PaymentClosed {
			t.Errorf("payment %s is %s after out-of-order notifications", p.ID, got.Status)
		}
	}
	f.checkInvariants()
}

// TestConcurrentRefunds races 100 refunds on one payment; together they ask for 1.5x its
// amount. The refunded total must never exceed the amount, at the host and at the gateway.
func TestConcurrentRefunds(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})
	p := f.createPayment(10000)
	f.pay(p)
	const n = 100
	var wg sync.WaitGroup
	var okSum, okN, refused atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := f.st.Client.CreateRefund(f.ctx(time.Minute), p.ID, 150, fmt.Sprintf("race-%d", i))
			if err != nil {
				refused.Add(1)
				return
			}
			if r.Status != core.RefundFailed {
				okSum.Add(r.Amount.Value)
				okN.Add(1)
			}
		}(i)
	}
	wg.Wait()
	t.Logf("%d refunds accepted (%d cents), %d refused", okN.Load(), okSum.Load(), refused.Load())
	if okSum.Load() > p.Amount.Value {
		t.Errorf("accepted refunds total %d, more than the payment's %d", okSum.Load(), p.Amount.Value)
	}
	if okN.Load() == 0 {
		t.Errorf("no refund accepted")
	}
	if o, ok := f.st.Sim.Order(bench.Partner, p.OutTradeNo); ok && o.Refunded > o.Amount {
		t.Errorf("the gateway refunded %d of %d", o.Refunded, o.Amount)
	}
	f.checkInvariants()
}
