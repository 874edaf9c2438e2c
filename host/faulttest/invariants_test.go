//go:build faults

package faulttest

import (
	"context"
	"net/url"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
	"github.com/paymux/paymux/providers/mapisim"
)

// checkInvariants stops the host and checks, on the store it wrote:
//  1. every acknowledged notification is stored, in a state that acknowledges it;
//  2. no payment is refunded beyond its amount (the payment's total and its refunds' sum);
//  3. every state change produced exactly one outbox event: one payment.created per payment
//     that got a client action, one payment.<status> per terminal status reached, one
//     refund.<status> per terminal refund, none for a refund still pending or processing;
//  4. the host agrees with the simulated gateway (checkGateway): nothing is paid at the host
//     that is not paid at the gateway, and no refund the gateway made is failed or missing.
//
// The acknowledged notifications of 1 are the test's own deliveries and the simulator's.
func (f *fixture) checkInvariants() {
	f.t.Helper()
	f.st.StopHost()
	cfg := f.st.HostConfig()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg.Store, cfg.DSN)
	if err != nil {
		f.t.Fatalf("opening the host's store: %v", err)
	}
	defer s.Close()

	// 1. acknowledged notifications.
	stored := map[string]store.NotificationStatus{}
	for cursor := ""; ; {
		page, next, err := s.ListNotifications(ctx, store.NotificationFilter{Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			f.t.Fatalf("listing notifications: %v", err)
		}
		for _, n := range page {
			var id string
			if f.antom {
				k, ok := antomStoredKey(n)
				if !ok {
					continue
				}
				id = k
			} else {
				v, err := url.ParseQuery(string(n.Body))
				if err != nil {
					continue
				}
				id = v.Get("notify_id")
			}
			// One notify_id may have several inbox rows (a duplicate, a retry after a crash):
			// any row that acknowledges it counts.
			if st, ok := stored[id]; !ok || !acknowledges(st) {
				stored[id] = n.Status
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	acked := f.ackedIDs()
	if f.antom {
		for _, d := range f.st.Antom.Deliveries() {
			if k, ok := antomKey([]byte(d.Body)); ok && d.Acked {
				acked[k] = true
			}
		}
	} else {
		for _, d := range f.st.Sim.Deliveries() {
			for _, a := range d.Attempts {
				if a.Acked {
					acked[d.NotifyID] = true
				}
			}
		}
	}
	lost := 0
	for id := range acked {
		st, ok := stored[id]
		if !ok || !acknowledges(st) {
			lost++
			if lost <= 5 {
				f.t.Errorf("acknowledged notification %s: stored=%v status=%q", id, ok, st)
			}
		}
	}
	if lost > 0 {
		f.t.Errorf("%d of %d acknowledged notifications are not stored as processed", lost, len(acked))
	}

	// 2 and 3, per payment.
	var payments []*store.Payment
	for cursor := ""; ; {
		page, next, err := s.ListPayments(ctx, store.PaymentFilter{Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			f.t.Fatalf("listing payments: %v", err)
		}
		payments = append(payments, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	for _, p := range payments {
		var refunds []*store.Refund
		for cursor := ""; ; {
			page, next, err := s.ListRefunds(ctx, store.RefundFilter{PaymentID: p.ID, Limit: store.MaxPageSize, Cursor: cursor})
			if err != nil {
				f.t.Fatalf("listing refunds of %s: %v", p.ID, err)
			}
			refunds = append(refunds, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		var succeeded, active int64
		for _, r := range refunds {
			switch r.Status {
			case core.RefundSucceeded:
				succeeded += r.Amount.Value
			case core.RefundPending, core.RefundProcessing:
				active += r.Amount.Value
			}
		}
		if p.AmountRefunded > p.Amount.Value || succeeded > p.Amount.Value || succeeded+active > p.Amount.Value {
			f.t.Errorf("payment %s of %d: refunded %d, refunds succeeded %d + in flight %d", p.ID, p.Amount.Value, p.AmountRefunded, succeeded, active)
		}
		if p.AmountRefunded != succeeded {
			f.t.Errorf("payment %s: amount_refunded %d but its succeeded refunds sum to %d", p.ID, p.AmountRefunded, succeeded)
		}
		f.checkGateway(p, refunds)

		events := map[string]int{}
		perRefund := map[string]map[string]int{}
		for cursor := ""; ; {
			page, next, err := s.ListEvents(ctx, store.EventFilter{PaymentID: p.ID, Limit: store.MaxPageSize, Cursor: cursor})
			if err != nil {
				f.t.Fatalf("listing events of %s: %v", p.ID, err)
			}
			for _, e := range page {
				if e.RefundID != "" {
					if perRefund[e.RefundID] == nil {
						perRefund[e.RefundID] = map[string]int{}
					}
					perRefund[e.RefundID][e.Type]++
					continue
				}
				events[e.Type]++
			}
			if next == "" {
				break
			}
			cursor = next
		}
		wantCreated := 0
		if p.NextAction != nil {
			wantCreated = 1
		}
		if events[webhook.PaymentCreated] != wantCreated {
			f.t.Errorf("payment %s: %d payment.created events, want %d", p.ID, events[webhook.PaymentCreated], wantCreated)
		}
		// A payment may pass through several terminal-looking states (closed at expiry, then
		// succeeded when the late TRADE_FINISHED arrives): one event per state reached, and
		// always one for the state it is in (a create that failed before its client action was
		// built is failed with its payment.failed event too).
		for _, typ := range []string{webhook.PaymentSucceeded, webhook.PaymentClosed, webhook.PaymentFailed} {
			current := typ == "payment."+string(p.Status)
			if (current && events[typ] != 1) || events[typ] > 1 {
				f.t.Errorf("payment %s (%s): %d %s events, want %s", p.ID, p.Status, events[typ], typ, map[bool]string{true: "1", false: "at most 1"}[current])
			}
		}
		for _, r := range refunds {
			ev := perRefund[r.ID]
			for _, typ := range []string{webhook.RefundSucceeded, webhook.RefundFailed} {
				want := 0
				if typ == "refund."+string(r.Status) {
					want = 1
				}
				if ev[typ] != want {
					f.t.Errorf("refund %s (%s): %d %s events, want %d", r.ID, r.Status, ev[typ], typ, want)
				}
			}
		}
	}
	f.t.Logf("invariants checked: %d acknowledged notifications, %d payments", len(acked), len(payments))
}

func acknowledges(s store.NotificationStatus) bool {
	return s == store.NotificationProcessed || s == store.NotificationDuplicate || s == store.NotificationUnmatched || s == store.NotificationFlagged
}

// checkGateway compares a payment and its refunds at the host with the trade at the simulated
// gateway: a payment succeeded at the host is a paid trade there with the same trade_no and
// amount; a refund the gateway made (SUCCESS) is succeeded at the host, or still pending while
// its outcome is unknown, never failed or missing; a refund succeeded at the host was made by
// the gateway for the same amount; and the host never counts more refunded than the gateway.
func (f *fixture) checkGateway(p *store.Payment, refunds []*store.Refund) {
	f.t.Helper()
	if f.antom {
		f.checkAntomGateway(p)
		return
	}
	o, ok := f.st.Sim.Order(bench.Partner, p.OutTradeNo)
	if p.Status == core.PaymentSucceeded {
		if !ok || o.Paid.IsZero() || o.TradeNo != p.ProviderRef || o.Amount != p.Amount.Value {
			f.t.Errorf("payment %s is succeeded at the host (trade %q, %d) but the gateway has %+v (found %v)", p.ID, p.ProviderRef, p.Amount.Value, o, ok)
			return
		}
	}
	if !ok {
		if len(refunds) > 0 {
			f.t.Errorf("payment %s has %d refunds but no trade at the gateway", p.ID, len(refunds))
		}
		return
	}
	byNo := map[string]*store.Refund{}
	for _, r := range refunds {
		byNo[r.OutRefundNo] = r
	}
	gw := map[string]mapisim.Refund{}
	var gwDone int64
	for _, g := range f.st.Sim.RefundsOf(bench.Partner, p.OutTradeNo) {
		gw[g.OutReturnNo] = g
		r := byNo[g.OutReturnNo]
		switch {
		case g.Status != mapisim.RefundSuccess:
		case r == nil:
			f.t.Errorf("payment %s: the gateway refunded %s (%d) and the host has no such refund", p.ID, g.OutReturnNo, g.Amount)
		case r.Status == core.RefundFailed:
			f.t.Errorf("payment %s: refund %s is failed at the host but the gateway refunded it (%d)", p.ID, r.ID, g.Amount)
		case r.Amount.Value != g.Amount:
			f.t.Errorf("payment %s: refund %s of %d at the host, %d at the gateway", p.ID, r.ID, r.Amount.Value, g.Amount)
		}
		if g.Status == mapisim.RefundSuccess {
			gwDone += g.Amount
		}
	}
	for _, r := range refunds {
		if g, ok := gw[r.OutRefundNo]; r.Status == core.RefundSucceeded && (!ok || g.Status != mapisim.RefundSuccess) {
			f.t.Errorf("payment %s: refund %s is succeeded at the host but the gateway has %+v (found %v)", p.ID, r.ID, g, ok)
		}
	}
	if p.AmountRefunded > gwDone || o.Refunded > o.Amount {
		f.t.Errorf("payment %s: the host counts %d refunded, the gateway %d of %d", p.ID, p.AmountRefunded, gwDone, o.Amount)
	}
}
