package conformance

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

// paid is a payment the kit created, paid and saw notified.
type paid struct {
	req    *core.CreatePaymentRequest
	action core.NextAction
	result map[string]string // the wallet's synchronous result, if any
	note   received          // the verified payment notification
	event  core.NotificationEvent
}

// pay creates a payment, pays it as the buyer and waits for its verified notification.
func (k *kit) pay(t *testing.T, ctx context.Context) *paid {
	t.Helper()
	req := k.createReq(k.h.Amount)
	res, err := k.h.Provider.CreatePayment(ctx, req)
	if err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	result, err := k.h.Pay(ctx, res.Action)
	if err != nil {
		t.Fatalf("Pay: %v", err)
	}
	p := &paid{req: req, action: res.Action, result: result}
	rec, ok := k.sink.waitFor(ctx, k.h.NotifyWait, func(e core.NotificationEvent) bool {
		return e.Kind == core.EventPayment && e.OutTradeNo == req.OutTradeNo && e.PaymentStatus == core.PaymentSucceeded
	})
	if !ok {
		t.Fatalf("no verified payment notification for %s within %s (%d notifications seen)", req.OutTradeNo, k.h.NotifyWait, k.sink.count())
	}
	p.note = rec
	k.mu.Lock()
	k.paidNos[req.OutTradeNo] = req.Amount
	k.mu.Unlock()
	for _, e := range rec.res.Events {
		if e.OutTradeNo == req.OutTradeNo {
			p.event = e
		}
	}
	return p
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// payNotifyQuery: query before payment, pay, the client result, the notification, a duplicate
// and a tampered copy of it, and the query after payment.
func (k *kit) payNotifyQuery(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	p := k.pay(t, ctx)
	ev := p.event
	if ev.Amount.Currency == k.h.Amount.Currency && ev.Amount != k.h.Amount {
		t.Errorf("notification amount %s, want %s", ev.Amount, k.h.Amount)
	}
	first := p.note.res
	if first.DedupeKey == "" || len(first.Ack.Body) == 0 {
		t.Errorf("verified notification needs a DedupeKey and an ack body: %+v", first)
	}

	t.Run("DuplicateNotify", func(t *testing.T) {
		// A redelivery, as the host first asks (no Confirm): verified, or Pending with the same
		// dedupe key and ack, so that the host's store acknowledges it as a duplicate (the
		// gateway may confirm a notification only once; no plugin-local cache may decide).
		again, err := k.h.Provider.ParseNotification(ctx, p.note.req)
		if err != nil {
			t.Fatalf("ParseNotification (redelivery): %v", err)
		}
		if !(again.Verified || again.Pending) || again.DedupeKey != first.DedupeKey || !bytes.Equal(again.Ack.Body, first.Ack.Body) {
			t.Errorf("redelivery: verified %v, dedupe %q (first %q), ack %q (first %q)", again.Verified, again.DedupeKey, first.DedupeKey, again.Ack.Body, first.Ack.Body)
		}
		if len(again.Events) != len(first.Events) || len(again.Events) > 0 && again.Events[0].PaymentStatus != first.Events[0].PaymentStatus {
			t.Errorf("redelivery maps to other events: %+v vs %+v", again.Events, first.Events)
		}
	})

	t.Run("TamperedNotify", func(t *testing.T) {
		tam := k.h.Tamper
		if tam == nil {
			tam = tamper
		}
		forged := *p.note.req
		forged.Body = tam(p.note.req.Body)
		if bytes.Equal(forged.Body, p.note.req.Body) {
			t.Fatal("Tamper did not change the body")
		}
		res, err := k.h.Provider.ParseNotification(ctx, &forged)
		if err != nil {
			t.Fatalf("a tampered notification must be a rejected result, not an error: %v", err)
		}
		if res.Verified || res.Pending || res.RejectReason == "" {
			t.Errorf("tampered notification: verified %v, pending %v, reason %q", res.Verified, res.Pending, res.RejectReason)
		}
		if bytes.Equal(res.Ack.Body, first.Ack.Body) && res.Ack.Status == first.Ack.Status {
			t.Errorf("tampered notification acknowledged like a genuine one (%q): the wallet would not retry", res.Ack.Body)
		}
		if len(res.Events) != 0 {
			t.Errorf("tampered notification yields events: %+v", res.Events)
		}
		// The URL query is not part of a notification's proof.
		withQuery := *p.note.req
		withQuery.Query = "trade_status=TRADE_CLOSED&total_fee=0.01"
		if res, err := k.h.Provider.ParseNotification(ctx, &withQuery); err != nil || !(res.Verified || res.Pending) || res.DedupeKey != first.DedupeKey {
			t.Errorf("a query string on the notify URL changed the result: %+v, %v", res, err)
		}
	})

	t.Run("ClientResult", func(t *testing.T) {
		if p.result == nil || !d.Has(core.CapClientResult) {
			t.Skip("the channel returns no client result or the provider does not check it")
		}
		creq := &core.ClientResultRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, Method: k.h.Method, Amount: p.req.Amount, Result: p.result}
		res, err := k.h.Provider.VerifyClientResult(ctx, creq)
		if err != nil {
			t.Fatalf("VerifyClientResult: %v", err)
		}
		if !res.Verified || res.Status != core.PaymentSucceeded {
			t.Errorf("genuine client result: verified %v, status %s, message %q", res.Verified, res.Status, res.Message)
		}
		other := *creq
		other.OutTradeNo = p.req.OutTradeNo + "x"
		if res, err := k.h.Provider.VerifyClientResult(ctx, &other); err != nil || res.Verified {
			t.Errorf("client result checked against another order: %+v, %v", res, err)
		}
		forged := maps.Clone(p.result)
		dec := p.req.Amount.Decimal()
		for key, v := range forged {
			if strings.Contains(v, dec) {
				forged[key] = strings.Replace(v, dec, dec+"1", 1)
			}
		}
		forgedReq := *creq
		forgedReq.Result = forged
		if res, err := k.h.Provider.VerifyClientResult(ctx, &forgedReq); err != nil || res.Verified {
			t.Errorf("tampered client result: %+v, %v", res, err)
		}
	})

	t.Run("Query", func(t *testing.T) {
		if !d.Has(core.CapQuery) {
			t.Skip("no query capability")
		}
		st, err := k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo})
		if err != nil {
			t.Fatalf("QueryPayment: %v", err)
		}
		if st.Status != core.PaymentSucceeded {
			t.Errorf("QueryPayment of a paid payment: %s (%s)", st.Status, st.RawStatus)
		}
		if st.Amount.Currency == k.h.Amount.Currency && st.Amount != k.h.Amount {
			t.Errorf("QueryPayment amount %s, want %s", st.Amount, k.h.Amount)
		}
		if ev.ProviderRef != "" && st.ProviderRef != "" && ev.ProviderRef != st.ProviderRef {
			t.Errorf("query reference %q differs from the notification's %q", st.ProviderRef, ev.ProviderRef)
		}
		if st.ProviderRef != "" {
			byRef, err := k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, ProviderRef: st.ProviderRef})
			if err != nil || byRef.Status != core.PaymentSucceeded {
				t.Errorf("QueryPayment by reference: %+v, %v", byRef, err)
			}
		}
		// A payment nobody paid is pending or unknown to the gateway, never succeeded.
		req := k.createReq(k.h.Amount)
		if _, err := k.h.Provider.CreatePayment(ctx, req); err != nil {
			t.Fatalf("CreatePayment: %v", err)
		}
		st, err = k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: req.OutTradeNo})
		switch {
		case core.ErrorCode(err) == core.ENOTFOUND:
		case err != nil:
			t.Errorf("QueryPayment of an unpaid payment: %v", err)
		case st.Status != core.PaymentPending:
			t.Errorf("QueryPayment of an unpaid payment: %s", st.Status)
		}
	})
}

// refund asks for a refund and waits until it is final (through notifications or queries).
func (k *kit) refund(t *testing.T, ctx context.Context, p *paid, no string, amount core.Money) (*core.RefundState, error) {
	t.Helper()
	req := &core.RefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, ProviderRef: p.event.ProviderRef,
		OutRefundNo: no, Amount: amount, PaymentAmount: p.req.Amount, Reason: "conformance", NotifyURL: k.sink.url + "/notify"}
	st, err := k.h.Provider.Refund(ctx, req)
	if err != nil {
		return nil, err
	}
	st, err = k.waitRefund(t, ctx, p, no, st)
	if err == nil && st.Status == core.RefundSucceeded {
		k.mu.Lock()
		k.refunded[no] = amount
		k.mu.Unlock()
	}
	return st, err
}

func (k *kit) waitRefund(t *testing.T, ctx context.Context, p *paid, no string, st *core.RefundState) (*core.RefundState, error) {
	t.Helper()
	deadline := time.Now().Add(k.h.NotifyWait)
	for !st.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("refund %s still %s after %s", no, st.Status, k.h.NotifyWait)
		}
		if _, ok := k.sink.waitFor(ctx, 200*time.Millisecond, func(e core.NotificationEvent) bool {
			return e.Kind == core.EventRefund && e.OutRefundNo == no && e.RefundStatus.Final()
		}); ok {
			break
		}
		q, err := k.h.Provider.QueryRefund(ctx, &core.QueryRefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, OutRefundNo: no})
		if err == nil {
			st = q
		} else if c := core.ErrorCode(err); c != core.EUNKNOWN && c != core.EUNAVAILABLE {
			return nil, err
		}
	}
	q, err := k.h.Provider.QueryRefund(ctx, &core.QueryRefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, OutRefundNo: no})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// partialRefunds refunds a payment in three parts up to its amount, and checks that one minor
// unit beyond it is refused.
func (k *kit) partialRefunds(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	if !d.Has(core.CapRefund) || !d.Has(core.CapPartialRefund) || !d.Has(core.CapMultipleRefund) {
		t.Skip("needs refund, partial_refund and multiple_refund")
	}
	if k.h.Amount.Value < 3 {
		t.Fatalf("harness amount %s is too small to split in three", k.h.Amount)
	}
	p := k.pay(t, ctx)
	v := k.h.Amount.Value
	part := core.Money{Value: v / 3, Currency: k.h.Amount.Currency}
	rest := core.Money{Value: v - 2*part.Value, Currency: k.h.Amount.Currency}
	var nos []string
	for i := 0; i < 2; i++ {
		no := k.nextNo("r")
		st, err := k.refund(t, ctx, p, no, part)
		if err != nil {
			t.Fatalf("refund %d of %s: %v", i+1, part, err)
		}
		if st.Status != core.RefundSucceeded {
			t.Fatalf("refund %d of %s ended %s (%s %s)", i+1, part, st.Status, st.RawStatus, st.FailureCode)
		}
		if st.Amount.Value != 0 && st.Amount != part {
			t.Errorf("refund %d amount %s, want %s", i+1, st.Amount, part)
		}
		nos = append(nos, no)
	}
	beyond := core.Money{Value: rest.Value + 1, Currency: rest.Currency}
	_, err := k.h.Provider.Refund(ctx, &core.RefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, ProviderRef: p.event.ProviderRef,
		OutRefundNo: k.nextNo("r"), Amount: beyond, PaymentAmount: p.req.Amount, Reason: "conformance beyond"})
	if c := core.ErrorCode(err); c != core.EINVALID && c != core.EDECLINED {
		t.Errorf("refund beyond the remaining %s: got %v, want %s or %s", rest, err, core.EINVALID, core.EDECLINED)
	}
	st, err := k.refund(t, ctx, p, k.nextNo("r"), rest)
	if err != nil || st.Status != core.RefundSucceeded {
		t.Fatalf("refund of the remaining %s: %+v, %v", rest, st, err)
	}
	for _, no := range nos {
		q, err := k.h.Provider.QueryRefund(ctx, &core.QueryRefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, OutRefundNo: no})
		if err != nil || q.Status != core.RefundSucceeded {
			t.Errorf("QueryRefund %s: %+v, %v", no, q, err)
		}
	}
	if _, err := k.h.Provider.QueryRefund(ctx, &core.QueryRefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, OutRefundNo: k.nextNo("never")}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("QueryRefund of a refund never asked for: got %v, want %s", err, core.ENOTFOUND)
	}
	// A paid and fully refunded payment still reads as paid.
	if d.Has(core.CapQuery) {
		q, err := k.h.Provider.QueryPayment(ctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo})
		if err != nil || q.Status != core.PaymentSucceeded {
			t.Errorf("QueryPayment after full refund: %+v, %v", q, err)
		}
	}
}

// unknownOutcomes: a gateway that fails mid-call (5xx) or never answers makes a refund
// EUNKNOWN (query later), never a failure; retrying the same refund number afterwards is safe.
func (k *kit) unknownOutcomes(t *testing.T, ctx context.Context) {
	d := k.description(t, ctx)
	if k.h.Fault == nil {
		t.Skip("the harness cannot inject gateway faults")
	}
	if !d.Has(core.CapRefund) {
		t.Skip("no refund capability")
	}
	p := k.pay(t, ctx)
	small := core.Money{Value: 1, Currency: k.h.Amount.Currency}
	for _, kind := range []FaultKind{FaultServerError, FaultSystemError, FaultHang} {
		t.Run(string(kind), func(t *testing.T) {
			no := k.nextNo("u")
			req := &core.RefundRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo, ProviderRef: p.event.ProviderRef,
				OutRefundNo: no, Amount: small, PaymentAmount: p.req.Amount, Reason: "conformance fault"}
			undo := k.h.Fault(kind)
			if undo == nil {
				t.Skipf("the harness cannot inject %s", kind)
			}
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			start := time.Now()
			_, err := k.h.Provider.Refund(cctx, req)
			cancel()
			if core.ErrorCode(err) != core.EUNKNOWN {
				t.Errorf("Refund under %s: got %v, want %s", kind, err, core.EUNKNOWN)
			}
			if el := time.Since(start); el > 8*time.Second {
				t.Errorf("Refund under %s took %s: the deadline was not kept", kind, el)
			}
			if d.Has(core.CapQuery) {
				qctx, qcancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := k.h.Provider.QueryPayment(qctx, &core.QueryPaymentRequest{Account: k.h.Account, OutTradeNo: p.req.OutTradeNo})
				qcancel()
				if c := core.ErrorCode(err); c != core.EUNKNOWN && c != core.EUNAVAILABLE {
					t.Errorf("QueryPayment under %s: got %v, want %s or %s", kind, err, core.EUNKNOWN, core.EUNAVAILABLE)
				}
			}
			undo()
			// The host retries with the same refund number once the gateway is back.
			st, err := k.h.Provider.Refund(ctx, req)
			switch {
			case core.ErrorCode(err) == core.ECONFLICT:
			case err != nil:
				t.Errorf("retrying refund %s after the fault: %v", no, err)
			case st.Status == core.RefundFailed:
				t.Errorf("retrying refund %s after the fault: failed (%s)", no, st.FailureCode)
			}
		})
	}
}
