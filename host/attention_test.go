package host_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/webhook"
)

// TestRefundAttentionQueueAndSettle: a refund whose outcome is unknown, whose query says "not
// found" and whose re-send is declined needs an operator: it is shown so in the API (the refund,
// the attention queue GET /v1/refunds?needs_attention=true) and by a refund.needs_attention
// webhook, and an operator settles it with a recorded reason.
func TestRefundAttentionQueueAndSettle(t *testing.T) {
	e, fp := newFakeEnv(t)
	ctx := context.Background()
	p := e.createPayment(paymentBody("attention", 10_000), nil)
	e.payFake(p, "att-1")
	path := "/v1/payments/" + p.ID + "/refunds"
	stuck := func(ref string) host.Refund {
		t.Helper()
		var rf host.Refund
		r := e.call("POST", path, map[string]any{"amount": map[string]any{"value": 17, "currency": "HKD"}, "reason": ref}, nil)
		r.decode(t, &rf)
		if r.Status != http.StatusCreated || rf.Status != core.RefundPending || rf.NeedsAttention {
			t.Fatalf("unknown-outcome refund: %d %s", r.Status, r.Body)
		}
		// Due for the janitor now rather than in a minute.
		sr, err := e.store.GetRefund(ctx, rf.ID)
		if err != nil {
			t.Fatal(err)
		}
		sr.NextQueryAt = time.Now().Add(-time.Second)
		if err := e.store.UpdateRefund(ctx, sr); err != nil {
			t.Fatal(err)
		}
		return rf
	}
	a, b := stuck("first"), stuck("second")
	fp.mu.Lock()
	fp.refundQueryErr = &core.Error{Code: core.ENOTFOUND, Message: "no such refund", ProviderCode: "REFUND_RECORD_NOT_EXIST"}
	fp.mu.Unlock()
	fp.setRefundHook(func(*core.RefundRequest) (*core.RefundState, bool, error) {
		return nil, true, &core.Error{Code: core.EDECLINED, Message: "refund exceeds", ProviderCode: "RETURN_AMOUNT_EXCEED"}
	})
	var passes []host.JanitorPass
	j := host.NewJanitor(host.JanitorOptions{Service: e.svc, OnPass: func(p host.JanitorPass) { passes = append(passes, p) }})
	if n, err := j.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("janitor claimed %d, %v", n, err)
	}
	if len(passes) != 1 || passes[0].Attention != 2 {
		t.Fatalf("janitor passes %+v, want 2 refunds marked", passes)
	}
	var got host.Refund
	e.call("GET", path+"/"+a.ID, nil, nil).decode(t, &got)
	if got.Status != core.RefundPending || !got.NeedsAttention || got.AttentionReason == "" || got.Settlement != nil {
		t.Fatalf("refund after the declined re-send: %+v", got)
	}
	// flagged_at: when it entered the queue, as the store recorded it.
	if sr, err := e.store.GetRefund(ctx, a.ID); err != nil || got.FlaggedAt == nil || sr.FlaggedAt.IsZero() || !got.FlaggedAt.Equal(sr.FlaggedAt) {
		t.Fatalf("flagged_at in the API %v, in the store %+v (%v)", got.FlaggedAt, sr, err)
	}
	e.sink.waitFor(t, webhook.RefundNeedsAttention, a.ID)
	e.sink.waitFor(t, webhook.RefundNeedsAttention, b.ID)
	var queue host.Page[*host.Refund]
	e.call("GET", "/v1/refunds?needs_attention=true", nil, nil).decode(t, &queue)
	if len(queue.Data) != 2 || queue.Data[0].ID != b.ID || queue.Data[1].ID != a.ID {
		t.Fatalf("attention queue: %+v", queue.Data)
	}
	if st, _ := e.store.GetPayment(ctx, p.ID); st.AmountReserved != 34 || st.AmountRefunded != 0 {
		t.Fatalf("payment reserved %d refunded %d, want 34/0", st.AmountReserved, st.AmountRefunded)
	}

	settle := func(id string, body any) *response {
		return e.call("POST", path+"/"+id+"/settle", body, nil)
	}
	for _, bad := range []any{
		map[string]any{"status": "pending", "reason": "x"},
		map[string]any{"status": "succeeded"},
		map[string]any{"status": "succeeded", "reason": "  "},
		map[string]any{"status": "succeeded", "reason": "x", "extra": 1},
	} {
		if r := settle(a.ID, bad); r.Status != http.StatusBadRequest {
			t.Fatalf("settle %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := e.call("POST", "/v1/payments/pay_other/refunds/"+a.ID+"/settle", map[string]any{"status": "failed", "reason": "x"}, nil); r.Status != http.StatusNotFound {
		t.Fatalf("settle under another payment: %d %s", r.Status, r.Body)
	}
	// Settled as refunded: it counts as refunded, with the reason and who recorded.
	r := settle(a.ID, map[string]any{"status": "succeeded", "reason": "gateway statement of 2026-11-30 lists it"})
	got = host.Refund{}
	r.decode(t, &got)
	if r.Status != http.StatusOK || got.Status != core.RefundSucceeded || got.NeedsAttention || got.FlaggedAt != nil || got.Settlement == nil ||
		got.Settlement.Reason != "gateway statement of 2026-11-30 lists it" || got.Settlement.SettledBy != "key_"+keyIDHex(testAPIKey) {
		t.Fatalf("settle succeeded: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, webhook.RefundSucceeded, a.ID)
	// Settled as not refunded: the reservation is released.
	r = settle(b.ID, map[string]any{"status": "failed", "reason": "gateway support confirms no refund"})
	r.decode(t, &got)
	if r.Status != http.StatusOK || got.Status != core.RefundFailed || got.FailureCode != "settled_by_operator" {
		t.Fatalf("settle failed: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, webhook.RefundFailed, b.ID)
	if st, _ := e.store.GetPayment(ctx, p.ID); st.AmountReserved != 17 || st.AmountRefunded != 17 {
		t.Fatalf("payment reserved %d refunded %d, want 17/17", st.AmountReserved, st.AmountRefunded)
	}
	// A settled refund, or one that never needed attention, is not the operator's to decide.
	if r := settle(a.ID, map[string]any{"status": "failed", "reason": "changed my mind"}); r.Status != http.StatusConflict {
		t.Fatalf("settling twice: %d %s", r.Status, r.Body)
	}
	fp.setRefundHook(nil)
	c := stuck("third")
	if r := settle(c.ID, map[string]any{"status": "succeeded", "reason": "looks fine"}); r.Status != http.StatusConflict {
		t.Fatalf("settling a refund the gateway decides: %d %s", r.Status, r.Body)
	}
	e.call("GET", "/v1/refunds?needs_attention=true", nil, nil).decode(t, &queue)
	if len(queue.Data) != 0 {
		t.Fatalf("attention queue after settling: %+v", queue.Data)
	}
	if r := e.call("GET", "/v1/refunds?needs_attention=maybe", nil, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("bad needs_attention: %d", r.Status)
	}
}
