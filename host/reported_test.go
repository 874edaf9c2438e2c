package host_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/providers/mapisim"
)

// TestE2ECNYPricedPaymentAndRefund: a payment priced in CNY on a USD account (rmb_fee) is
// reported by the wallet in USD (total_fee, no rmb_fee), and a refund of it likewise
// (return_amount). The Alipay provider declares CNY ReportedInSettlement, so the host trusts
// the verified notifications: the payment succeeds, the partial refund succeeds, nothing is
// flagged.
func TestE2ECNYPricedPaymentAndRefund(t *testing.T) { cnyPath(t, false) }

// TestE2ECNYPricedPaymentAndRefundPlugins is the same through the real plugin binary: the flag
// must cross the gRPC boundary in Describe.
func TestE2ECNYPricedPaymentAndRefundPlugins(t *testing.T) {
	if testing.Short() && os.Getenv("PAYMUX_BIN") == "" {
		t.Skip("-short: not building plugin binaries (set PAYMUX_BIN)")
	}
	cnyPath(t, true)
}

func cnyPath(t *testing.T, plugins bool) {
	// Asynchronous refunds, so that the refund's result comes by notification.
	simEnvGlobalSettings = map[string]string{"refund_is_sync": "false"}
	simEnvPlugins = plugins
	defer func() { simEnvGlobalSettings, simEnvPlugins = nil, false }()
	e := newSimEnv(t, 1000, nil)
	p := e.createPayment(map[string]any{
		"region": "CN", "method": "alipay", "amount": map[string]any{"value": 10000, "currency": "CNY"},
		"reference": "order-cny-1", "subject": "Oolong", "channel": "app",
	}, nil)
	if p.NextAction == nil || !strings.Contains(p.NextAction.Value, "rmb_fee") {
		t.Fatalf("next_action does not price in rmb_fee: %+v", p.NextAction)
	}
	res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value)
	if err != nil || res.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay in the simulator: %+v %v", res, err)
	}
	paid := e.waitStatus(t, p.ID, core.PaymentSucceeded)
	if len(paid.Flags) != 0 || paid.Amount != (core.Money{Value: 10000, Currency: "CNY"}) {
		t.Fatalf("paid payment = %+v", paid)
	}
	e.sink.waitFor(t, "payment.succeeded", p.ID)
	var page host.Page[*host.Notification]
	e.call("GET", "/v1/notifications?status=processed", nil, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].PaymentID != p.ID {
		t.Fatalf("processed notifications = %s", mustJSON(page.Data))
	}
	// The premise: the notification reported the settlement currency, not the CNY price.
	if body := page.Data[0].Body; !strings.Contains(body, "currency=USD") || strings.Contains(body, "rmb_fee") {
		t.Fatalf("notification body = %s, want total_fee in USD and no rmb_fee", body)
	}

	r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 2500, "currency": "CNY"}, "reason": "spilt"}, map[string]string{"Idempotency-Key": "cny-rf-1"})
	var rf host.Refund
	r.decode(t, &rf)
	if r.Status != http.StatusCreated || rf.Status == core.RefundFailed {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	e.sink.waitFor(t, "refund.succeeded", rf.ID)
	if err := e.sim.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.call("GET", "/v1/notifications?status=processed", nil, nil).decode(t, &page)
	var refundNote *host.Notification
	for _, n := range page.Data {
		if n.RefundID == rf.ID {
			refundNote = n
		}
	}
	if refundNote == nil || !strings.Contains(refundNote.Body, "return_amount=") || !strings.Contains(refundNote.Body, "currency=USD") {
		t.Fatalf("no processed refund notification in USD: %s", mustJSON(page.Data))
	}
	e.call("GET", "/v1/notifications?status=flagged", nil, nil).decode(t, &page)
	if len(page.Data) != 0 {
		t.Fatalf("flagged notifications = %s", mustJSON(page.Data))
	}
	if got := e.getPayment(p.ID); got.Status != core.PaymentSucceeded || len(got.Flags) != 0 || got.AmountRefunded.Value != 2500 {
		t.Fatalf("after refund: %+v", got)
	}
}

// simEnvGlobalSettings are extra settings newSimEnv gives the "global" Alipay account.
var simEnvGlobalSettings map[string]string

// rewriteAmounts changes the amount of every payment event a provider parses.
type rewriteAmounts struct {
	core.Provider
	rewrite func(core.Money) core.Money
}

func (r *rewriteAmounts) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	res, err := r.Provider.ParseNotification(ctx, req)
	if err != nil || res == nil {
		return res, err
	}
	for i := range res.Events {
		if res.Events[i].Kind == core.EventPayment && res.Events[i].Amount.Currency != "" {
			res.Events[i].Amount = r.rewrite(res.Events[i].Amount)
		}
	}
	return res, nil
}

// TestReportedAmountStillChecked: ReportedInSettlement relaxes only a reported currency that
// differs from a payment priced in a currency whose rule has the flag. A different value in the
// payment's own currency, or another currency under a rule without the flag, is still flagged
// and never paid.
func TestReportedAmountStillChecked(t *testing.T) {
	for _, c := range []struct {
		name    string
		price   core.Money
		rewrite func(core.Money) core.Money
	}{
		{"USD payment, other USD amount", core.Money{Value: 1234, Currency: "USD"},
			func(m core.Money) core.Money { return core.Money{Value: m.Value + 1, Currency: m.Currency} }},
		{"USD payment, reported in JPY (USD rule has no flag)", core.Money{Value: 1234, Currency: "USD"},
			func(m core.Money) core.Money { return core.Money{Value: m.Value, Currency: "JPY"} }},
		{"CNY payment, other CNY amount (flag, same currency)", core.Money{Value: 10000, Currency: "CNY"},
			func(core.Money) core.Money { return core.Money{Value: 9999, Currency: "CNY"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newSimEnv(t, 1000, func(_ string, p core.Provider) core.Provider {
				return &rewriteAmounts{Provider: p, rewrite: c.rewrite}
			})
			p := e.createPayment(map[string]any{
				"region": "CN", "method": "alipay", "amount": map[string]any{"value": c.price.Value, "currency": c.price.Currency},
				"subject": "Tea", "channel": "app",
			}, nil)
			if res, err := e.sim.PayOrderString(context.Background(), p.NextAction.Value); err != nil || res.ResultStatus != mapisim.ResultSuccess {
				t.Fatalf("pay: %+v %v", res, err)
			}
			e.sink.waitFor(t, "payment.amount_mismatch", p.ID)
			got := e.getPayment(p.ID)
			if got.Status != core.PaymentPending || len(got.Flags) != 1 || got.Flags[0] != "amount_mismatch" {
				t.Fatalf("payment = %+v, want pending and flagged", got)
			}
			if n := e.sink.count("payment.succeeded", p.ID); n != 0 {
				t.Fatalf("payment.succeeded sent %d times", n)
			}
		})
	}
}
