//go:build faults

package faulttest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/providers/mapisim"
	_ "modernc.org/sqlite" // the test's own connection to the host's SQLite file
)

// refundView is the part of a refund these tests read beyond bench.Refund.
type refundView struct {
	bench.Refund
	NeedsAttention bool `json:"needs_attention"`
}

func (f *fixture) getRefund(paymentID, refundID string) refundView {
	f.t.Helper()
	var r refundView
	if err := f.st.Client.Do(f.ctx(10*time.Second), "GET", "/v1/payments/"+paymentID+"/refunds/"+refundID, nil, &r, nil); err != nil {
		f.t.Fatalf("reading refund %s: %v", refundID, err)
	}
	return r
}

// TestStoreFailsAfterGatewayRefunded: the gateway accepts a refund, and before the host can
// record the answer another process holds SQLite's write lock past the busy timeout, so the
// request fails. The merchant retries with the same Idempotency-Key and body: the answer is
// about the same refund, and the gateway was asked exactly once (one refund there, the money
// refunded once). Control: the same request with the store healthy succeeds, and its retry
// replays it. Proof: the refund reached the gateway while the lock was held (the latency
// fault's counter) and the first answer was an error.
func TestStoreFailsAfterGatewayRefunded(t *testing.T) {
	f := newFixture(t, bench.StackOptions{})

	ctl := f.createPayment(5000)
	f.walletPay(ctl)
	r1, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), ctl.ID, 2000, "key-ctl")
	if err != nil || r1.Status != core.RefundSucceeded {
		t.Fatalf("control refund: %+v %v", r1, err)
	}
	if r2, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), ctl.ID, 2000, "key-ctl"); err != nil || r2.ID != r1.ID {
		t.Fatalf("control retry with the same key: %+v %v, want refund %s again", r2, err, r1.ID)
	}

	p := f.createPayment(5000)
	f.walletPay(p)
	db, err := sql.Open("sqlite", "file:"+f.st.HostConfig().DSN+"?_txlock=immediate&_busy_timeout=30000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The gateway takes a moment: long enough to take the lock after it got the request and
	// before the host writes its answer, also on a loaded machine (300 ms was once too short
	// in CI: the host wrote its answer before the test held the lock).
	fid, err := f.st.Sim.SetFault(mapisim.Fault{Kind: mapisim.FaultLatency, Delay: 2 * time.Second, Service: "forex_refund", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		r   *bench.Refund
		err error
	}
	first := make(chan answer, 1)
	go func() {
		r, err := f.st.Client.CreateRefund(f.ctx(time.Minute), p.ID, 2000, "key-1")
		first <- answer{r, err}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if fi, _ := f.st.Sim.FaultByID(fid); fi.Fired > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refund never reached the gateway")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("taking SQLite's write lock: %v", err)
	}
	// BEGIN IMMEDIATE runs at the first statement.
	if _, err := lock.ExecContext(ctx, "UPDATE payments SET updated_at = updated_at WHERE id = ''"); err != nil {
		t.Fatalf("taking SQLite's write lock: %v", err)
	}
	// Held until the first request ends (at most 45 s), so the answer always meets a locked
	// store: the host gives up after its busy timeout (10 s) per write, but janitor writes
	// queued before the refund's (prune batches, frequent on the stack's fast clock) spend
	// theirs first, so the request may instead end at the client's 30 s timeout. Either way
	// the merchant saw no answer and retries with the same key below.
	var a answer
	select {
	case a = <-first:
	case <-time.After(45 * time.Second):
	}
	lock.Rollback()
	if a == (answer{}) {
		a = <-first
	}
	if a.err == nil {
		t.Fatalf("the refund was answered %+v although its answer could not be stored: the store fault did not happen", a.r)
	}
	made := f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo)
	if len(made) != 1 || made[0].Status != mapisim.RefundSuccess {
		t.Fatalf("the gateway should have made the refund once: %+v", made)
	}
	t.Logf("first answer with the store locked: %v; the gateway made %s", a.err, made[0].OutReturnNo)

	// The merchant retries with the same key and body.
	var retry *bench.Refund
	for deadline := time.Now().Add(30 * time.Second); ; {
		retry, err = f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 2000, "key-1")
		if err == nil || apiCode(err) != core.ECONFLICT || time.Now().After(deadline) {
			break // a conflict is the key still held by the failed request: retry later
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("retry with the same key: %v", err)
	}
	if retry.OutRefundNo != made[0].OutReturnNo {
		t.Errorf("the retry answered refund %s (%s); the gateway made %s: one key, two refunds", retry.ID, retry.OutRefundNo, made[0].OutReturnNo)
	}
	if n := len(f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo)); n != 1 {
		t.Errorf("the gateway was asked for %d refunds under one key", n)
	}
	if o, _ := f.st.Sim.Order(bench.Partner, p.OutTradeNo); o.Refunded != 2000 {
		t.Errorf("the gateway refunded %d under one key of 2000", o.Refunded)
	}
	f.checkInvariants()
}

// TestRefundQueryLags: the gateway makes a full refund but the answer is lost; the janitor's
// query then says NOT_FOUND (the gateway's view lags) and its re-send with the same
// out_return_no is refused (RETURN_AMOUNT_EXCEED, as a lagging view refuses the repeat of a
// made full refund). The refund must not end failed: it stays pending, its amount reserved, and
// needs an operator. Control (its own host and simulator, in parallel): the same lost answer
// without the lag is resolved by the janitor's query to succeeded. Proof: the lost answer and
// the stale_query fault fired.
func TestRefundQueryLags(t *testing.T) {
	for _, lag := range []bool{false, true} {
		name := map[bool]string{false: "control", true: "lagging"}[lag]
		t.Run(name, func(t *testing.T) {
			t.Parallel() // both wait for the janitor: a refund's first query is a minute after it
			f := newFixture(t, bench.StackOptions{Settings: map[string]string{"timeout": "1s"}})
			p := f.createPayment(5000)
			f.walletPay(p)
			id, err := f.st.Sim.SetFault(mapisim.Fault{Kind: mapisim.FaultLoseAnswer, Service: "forex_refund", Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, p.Amount.Value, "")
			if err != nil || r.Status != core.RefundPending {
				t.Fatalf("refund with its answer lost: %+v %v, want pending", r, err)
			}
			if fi, _ := f.st.Sim.FaultByID(id); fi.Fired != 1 {
				t.Fatalf("lose_answer fired %d times", fi.Fired)
			}
			if g, ok := f.st.Sim.Refund(bench.Partner, r.OutRefundNo); !ok || g.Status != mapisim.RefundSuccess {
				t.Fatalf("the gateway should have made %s: %+v", r.OutRefundNo, g)
			}
			var stale int64
			if lag {
				if stale, err = f.st.Sim.SetFault(mapisim.Fault{Kind: mapisim.FaultStaleQuery, Partner: bench.Partner}); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(150 * time.Second)
			for {
				got := f.getRefund(p.ID, r.ID)
				if got.Status == core.RefundFailed {
					t.Fatalf("refund %s failed although the gateway made it (lagging query: %v)", r.ID, lag)
				}
				if !lag && got.Status == core.RefundSucceeded {
					break
				}
				if lag && got.NeedsAttention {
					if got.Status != core.RefundPending {
						t.Fatalf("a refund needing attention is %s, want pending", got.Status)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("refund %s is %+v after %s (lagging query: %v)", r.ID, got, 150*time.Second, lag)
				}
				time.Sleep(500 * time.Millisecond)
			}
			if lag {
				if fi, _ := f.st.Sim.FaultByID(stale); fi.Fired < 2 {
					t.Fatalf("stale_query fired %d times; want the query and the re-send", fi.Fired)
				}
				// The amount stays reserved: nothing more can be refunded.
				if _, err := f.st.Client.CreateRefund(f.ctx(30*time.Second), p.ID, 1, ""); err == nil {
					t.Errorf("a refund was accepted on a payment whose full refund is in doubt")
				}
				f.st.Sim.RemoveFault(stale)
			}
			f.checkInvariants()
		})
	}
}
