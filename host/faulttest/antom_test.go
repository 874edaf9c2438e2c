//go:build faults

package faulttest

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/antomsim"
)

// The storm and kill tests for an Antom account: the host runs the Antom plugin against
// antomsim (GCash in PH), payments are paid on the simulator's wallet page, and the storm is
// JSON notifications signed by the simulator's own signing code.

// TestAntomNotificationStorm sends a storm of Antom notifications (each payment's genuine
// PAYMENT_RESULT, redeliveries of it, stale PAYMENT_PENDING ones, and duplicates) from eight
// workers. Every delivery is acknowledged (the control: nothing is lost while the host is left
// alone), every payment ends succeeded with the gateway's paymentId, once, and the host agrees
// with the simulated gateway.
func TestAntomNotificationStorm(t *testing.T) {
	f := newFixture(t, bench.StackOptions{Provider: bench.ProviderAntom})
	payments := make([]*bench.Payment, scale(10, 50))
	for i := range payments {
		payments[i] = f.createPayment(10000 + int64(i))
	}
	storm := f.storm(payments, scale(300, 1500))
	var next atomic.Int64
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(storm) {
					return
				}
				ok, err := f.send(f.ctx(10*time.Second), storm[i])
				if !ok {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", storm[i].id, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d deliveries not acknowledged by a healthy host, first %s", len(failed), len(storm), failed[0])
	}
	f.checkStormPayments(payments)
	f.checkInvariants()
}

// TestAntomHostKilledDuringStorm is TestHostKilledDuringStorm for an Antom account: SIGKILL a
// third of the way through a storm of Antom notifications, restart on the same store, send the
// rest and redeliver what was not acknowledged.
func TestAntomHostKilledDuringStorm(t *testing.T) {
	hostKilledDuringStorm(t, bench.StackOptions{Provider: bench.ProviderAntom})
}

// checkStormPayments: every payment is succeeded at the host with the gateway's paymentId.
func (f *fixture) checkStormPayments(payments []*bench.Payment) {
	f.t.Helper()
	for _, p := range payments {
		got, err := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		if got.Status != core.PaymentSucceeded || got.ProviderRef != f.tradeNo(p) {
			f.t.Errorf("payment %s is %s (ref %q) after the storm, want succeeded with the gateway's %q", p.ID, got.Status, got.ProviderRef, f.tradeNo(p))
		}
	}
}

// antomBuy pays p on the simulator's wallet page (following its next action as a browser
// does) and checks the payment at the gateway.
func (f *fixture) antomBuy(p *bench.Payment) {
	f.t.Helper()
	if p.NextAction == nil {
		f.t.Fatalf("payment %s has no next action to pay", p.ID)
	}
	if err := f.st.Antom.PayAction(f.ctx(30*time.Second), *p.NextAction, antomsim.DecisionPay); err != nil {
		f.t.Fatalf("paying %s on the wallet page: %v", p.ID, err)
	}
	g, ok := f.st.Antom.Payment(bench.AntomClientID, p.OutTradeNo)
	if !ok || g.Status != antomsim.StatusSuccess || g.PaymentID == "" || g.Amount.Value != p.Amount.Value || g.Amount.Currency != p.Amount.Currency {
		f.t.Fatalf("the gateway's payment of %s after paying: %+v (found %v)", p.ID, g, ok)
	}
}

// antomNote is the part of an Antom notification the tests read.
type antomNote struct {
	NotifyType       string `json:"notifyType"`
	PaymentRequestID string `json:"paymentRequestId"`
	RefundRequestID  string `json:"refundRequestId"`
	Result           struct {
		ResultStatus string `json:"resultStatus"`
	} `json:"result"`
}

// antomKey identifies an Antom notification as the provider deduplicates it (Antom sends no
// notification id): its type, request id and result status.
func antomKey(body []byte) (string, bool) {
	var n antomNote
	if json.Unmarshal(body, &n) != nil || n.NotifyType == "" {
		return "", false
	}
	return n.NotifyType + ":" + n.PaymentRequestID + n.RefundRequestID + ":" + n.Result.ResultStatus, true
}

// antomPayHeld pays every payment on the wallet page while the simulator loses its
// notifications' first delivery (a lose_notify fault, proven to have fired once per payment):
// the gateway holds paid payments the host does not know of. It returns each payment's genuine
// PAYMENT_RESULT body, for the test to deliver as the gateway's redelivery.
func (f *fixture) antomPayHeld(ps []*bench.Payment) map[string][]byte {
	f.t.Helper()
	id, err := f.st.Antom.SetFault(antomsim.Fault{Kind: antomsim.FaultLoseNotify, ClientID: bench.AntomClientID})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range ps {
		f.antomBuy(p)
	}
	out := make(map[string][]byte, len(ps))
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < len(ps) {
		for _, d := range f.st.Antom.Deliveries() {
			var n antomNote
			if d.NotifyType != "PAYMENT_RESULT" || d.Attempts == 0 || json.Unmarshal([]byte(d.Body), &n) != nil {
				continue
			}
			for _, p := range ps {
				if p.OutTradeNo != n.PaymentRequestID {
					continue
				}
				if d.Acked || d.Lost == 0 {
					f.t.Fatalf("the simulator's notification of %s was not held back: %+v", p.ID, d)
				}
				out[p.ID] = []byte(d.Body)
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the simulator made a delivery attempt for %d of %d payments within 30 s", len(out), len(ps))
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.st.Antom.RemoveFault(id)
	for _, p := range ps {
		if got, _ := f.st.Client.GetPayment(f.ctx(10*time.Second), p.ID); got == nil || got.Status == core.PaymentSucceeded {
			f.t.Fatalf("payment %s is already succeeded at the host: the notification was not held back", p.ID)
		}
	}
	return out
}

// antomStorm is storm for an Antom account: each payment's genuine PAYMENT_RESULT (held back
// at the simulator), redeliveries of it signed anew, a stale PAYMENT_PENDING about the same
// payment every 3rd delivery, and every 5th delivery a repeat of an earlier one. All are
// signed with the simulator's Antom key by the simulator's signing code.
func (f *fixture) antomStorm(payments []*bench.Payment, n int) []delivery {
	f.t.Helper()
	genuine := f.antomPayHeld(payments)
	mk := func(body []byte) delivery {
		hdr, err := f.st.AntomHeaders(body)
		if err != nil {
			f.t.Fatal(err)
		}
		key, ok := antomKey(body)
		if !ok {
			f.t.Fatalf("not an Antom notification: %s", body)
		}
		return delivery{id: key, form: body, hdr: hdr}
	}
	pending := func(body []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			f.t.Fatal(err)
		}
		m["notifyType"] = "PAYMENT_PENDING"
		delete(m, "paymentTime")
		b, err := json.Marshal(m)
		if err != nil {
			f.t.Fatal(err)
		}
		return b
	}
	out := make([]delivery, 0, n)
	for i, u := 0, 0; len(out) < n; i++ {
		g := genuine[payments[u%len(payments)].ID]
		switch {
		case i%5 == 4:
			out = append(out, out[i-3]) // a duplicate delivery, same signature
		case u >= len(payments) && i%3 == 0:
			out = append(out, mk(pending(g)))
			u++
		default:
			out = append(out, mk(g))
			u++
		}
	}
	return out
}

// antomStoredKey is antomKey of a stored notification.
func antomStoredKey(n *store.Notification) (string, bool) { return antomKey(n.Body) }

// checkAntomGateway is checkGateway for an Antom account: a payment succeeded at the host is
// a SUCCESS payment at the simulated gateway with the same paymentId and amount, and the host
// never counts more refunded than the gateway.
func (f *fixture) checkAntomGateway(p *store.Payment) {
	f.t.Helper()
	g, ok := f.st.Antom.Payment(bench.AntomClientID, p.OutTradeNo)
	if p.Status == core.PaymentSucceeded && (!ok || g.Status != antomsim.StatusSuccess || g.PaymentID != p.ProviderRef || g.Amount.Value != p.Amount.Value) {
		f.t.Errorf("payment %s is succeeded at the host (%q, %d) but the gateway has %+v (found %v)", p.ID, p.ProviderRef, p.Amount.Value, g, ok)
		return
	}
	if p.AmountRefunded > g.Refunded {
		f.t.Errorf("payment %s: the host counts %d refunded, the gateway %d", p.ID, p.AmountRefunded, g.Refunded)
	}
}
