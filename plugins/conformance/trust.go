package conformance

import (
	"bytes"
	"context"
	"testing"

	"github.com/paymux/paymux/core"
)

// The trust scenarios (ARCHITECTURE "Trust"): a state change needs a message that is authentic,
// about this merchant and about this object. Each has its control: the genuine message of the
// same flow verifies (PayNotifyQuery) or is applied (the query after the fault is undone).

// foreignMerchant plays the attack: another merchant issues an order with this payment's
// out_trade_no, amount and notify_url and the buyer pays it; the gateway posts its genuinely
// signed notification to this account. It must be refused (as core.RejectForeignMerchant when
// its signature is one the account accepts), never acknowledged like a genuine one, whether or
// not it names its merchant, and the payment stays unpaid.
func (k *kit) foreignMerchant(t *testing.T, ctx context.Context) {
	if k.h.PayForeign == nil {
		t.Skip("the harness cannot pay as another merchant (PayForeign)")
	}
	d := k.description(t, ctx)
	for _, named := range []bool{true, false} {
		name := "Unnamed"
		if named {
			name = "Named"
		}
		t.Run(name, func(t *testing.T) {
			req := k.createReq(k.h.Amount)
			if _, err := k.h.Provider.CreatePayment(ctx, req); err != nil {
				t.Fatalf("CreatePayment: %v", err)
			}
			path := "/notify-" + k.nextNo("foreign")
			foreign := *req
			foreign.NotifyURL = k.sink.url + path
			if err := k.h.PayForeign(ctx, &foreign, named); err != nil {
				t.Skipf("PayForeign: %v", err)
			}
			got, ok := k.sink.waitPath(ctx, k.h.NotifyWait, path)
			if !ok {
				t.Fatalf("the other merchant's notification did not arrive within %s", k.h.NotifyWait)
			}
			genuine, haveGenuine := k.sink.successAck()
			for _, r := range got {
				switch {
				case r.err != nil:
					t.Errorf("foreign notification: the provider could not decide (%v); it must refuse it", r.err)
				case r.res.Verified || r.res.Pending || r.dup:
					t.Errorf("foreign notification taken: verified %v, pending %v, duplicate %v", r.res.Verified, r.res.Pending, r.dup)
				case r.res.RejectReason == "":
					t.Errorf("foreign notification rejected without a reason")
				case len(r.res.Events) != 0:
					t.Errorf("foreign notification yields events %+v", r.res.Events)
				case haveGenuine && r.res.Ack.Status == genuine.Status && bytes.Equal(r.res.Ack.Body, genuine.Body):
					t.Errorf("foreign notification acknowledged like a genuine one (%q)", r.res.Ack.Body)
				case r.res.RejectReason != core.RejectForeignMerchant:
					// Refused before binding (say, a sign type the account does not take): not
					// authentic for this account in the first place.
					t.Logf("foreign notification refused as %q", r.res.RejectReason)
				}
			}
			if d.Has(core.CapQuery) {
				st, err := k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: req.OutTradeNo})
				if err == nil && st.Status == core.PaymentSucceeded {
					t.Errorf("the victim's payment reads as paid after the attack")
				}
			}
		})
	}
}

// untrustedAnswers: with the gateway answering queries unsigned, or signed but about another
// object, the provider returns no state (EUNKNOWN: the host asks again later). Control: the same
// query after the fault is undone answers the paid payment.
func (k *kit) untrustedAnswers(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	if !d.Has(core.CapQuery) {
		t.Skip("no query capability")
	}
	if k.h.Fault == nil {
		t.Skip("the harness cannot inject gateway faults")
	}
	p := k.pay(t, ctx)
	unpaid := k.createReq(k.h.Amount)
	if _, err := k.h.Provider.CreatePayment(ctx, unpaid); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	for _, tc := range []struct {
		kind FaultKind
		out  string // the payment queried under the fault
	}{
		{FaultUnsignedAnswer, p.req.OutTradeNo},
		{FaultOtherObject, unpaid.OutTradeNo},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			undo := k.h.Fault(tc.kind)
			if undo == nil {
				t.Skipf("the harness cannot inject %s", tc.kind)
			}
			st, err := k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: tc.out})
			if core.ErrorCode(err) != core.EUNKNOWN {
				t.Errorf("QueryPayment under %s: %+v, %v; want %s and no state", tc.kind, st, err, core.EUNKNOWN)
			}
			if d.Has(core.CapRefund) {
				rs, err := k.h.Provider.QueryRefund(ctx, &core.QueryRefundRequest{Account: k.h.Account, OutTradeNo: tc.out, OutRefundNo: k.nextNo("q")})
				if err == nil && rs.Status == core.RefundSucceeded {
					t.Errorf("QueryRefund under %s applied the answer: %+v", tc.kind, rs)
				}
			}
			undo()
			st, err = k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo})
			if err != nil || st.Status != core.PaymentSucceeded {
				t.Errorf("control: QueryPayment of the paid payment without the fault: %+v, %v", st, err)
			}
		})
	}
}

// signTypeDowngrade: a genuine notification re-signed declaring a sign type of the other family
// is refused, even though the harness signed it with a key the account holds.
func (k *kit) signTypeDowngrade(t *testing.T, ctx context.Context) {
	if k.h.Downgrade == nil {
		t.Skip("the harness cannot re-sign a notification (Downgrade)")
	}
	body, ok := k.sink.verifiedBody()
	if !ok {
		p := k.pay(t, ctx)
		body = p.note.req.Body
	}
	forged := k.h.Downgrade(body)
	if forged == nil {
		t.Skip("the harness has no key of the other family")
	}
	if bytes.Equal(forged, body) {
		t.Fatal("Downgrade did not change the body")
	}
	res, err := k.h.Provider.ParseNotification(ctx, &core.NotificationRequest{Account: k.h.Account, Method: k.h.Method,
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, Body: forged, Confirm: true})
	if err != nil {
		t.Fatalf("a downgraded notification must be a rejected result, not an error: %v", err)
	}
	if res.Verified || res.Pending || res.RejectReason == "" || len(res.Events) != 0 {
		t.Errorf("downgraded notification: verified %v, pending %v, reason %q, %d events", res.Verified, res.Pending, res.RejectReason, len(res.Events))
	}
}

// successAck returns the ack of a verified notification the sink handled.
func (s *sink) successAck() (core.Ack, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.got {
		if r.res != nil && r.res.Verified {
			return r.res.Ack, true
		}
	}
	return core.Ack{}, false
}

// verifiedBody returns the body of a verified payment notification the sink handled.
func (s *sink) verifiedBody() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.got {
		if r.res != nil && r.res.Verified && len(r.res.Events) > 0 && r.res.Events[0].Kind == core.EventPayment {
			return r.req.Body, true
		}
	}
	return nil, false
}
