package alipay

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapisim"
)

// simEnv is the provider wired to a simulator, with a notify endpoint that hands every
// notification to ParseNotification and keeps the results.
type simEnv struct {
	sim    *mapisim.Sim
	p      *Provider
	notify string

	mu    sync.Mutex
	clock time.Time
	got   []*core.NotificationResult
}

func newSimEnv(t *testing.T, extra map[string]string) *simEnv {
	t.Helper()
	e := &simEnv{clock: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)}
	e.sim = mapisim.New(mapisim.Config{Seed: 7, TimeScale: 1000, Clock: e.now})
	t.Cleanup(e.sim.Close)
	gw := httptest.NewServer(e.sim.Handler())
	t.Cleanup(gw.Close)
	if err := e.sim.AddPartner(mapisim.Partner{ID: testPartner, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
		MD5Key: mapisim.TestMD5Key, Currencies: []string{"USD"}, FeeBasisPoints: 180}); err != nil {
		t.Fatal(err)
	}
	priv, pub := keyFiles(t, e.sim.AlipayPublicKeyPEM())
	s := map[string]string{"partner": testPartner, "gateway_url": gw.URL + "/gateway.do", "sign_type": "RSA2",
		"private_key_file": priv, "alipay_public_key_file": pub, "currency": "USD", "notify_verify": "true", "timeout": "3s"}
	for k, v := range extra {
		s[k] = v
	}
	e.p = New(WithClock(e.now))
	if err := e.p.Configure(context.Background(), &core.ConfigureRequest{Account: "acct", Settings: s}); err != nil {
		t.Fatal(err)
	}
	ns := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := e.p.ParseNotification(r.Context(), &core.NotificationRequest{Account: "acct", Header: r.Header, Body: body, Confirm: true})
		if err != nil {
			http.Error(w, "retry", http.StatusServiceUnavailable)
			return
		}
		e.mu.Lock()
		e.got = append(e.got, res)
		e.mu.Unlock()
		w.WriteHeader(res.Ack.Status)
		_, _ = w.Write(res.Ack.Body)
	}))
	t.Cleanup(ns.Close)
	e.notify = ns.URL + "/notify"
	return e
}

func (e *simEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *simEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.clock = e.clock.Add(d)
	e.mu.Unlock()
}

func (e *simEnv) events(kind core.EventKind) []core.NotificationEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []core.NotificationEvent
	for _, r := range e.got {
		if !r.Verified {
			continue
		}
		for _, ev := range r.Events {
			if ev.Kind == kind {
				out = append(out, ev)
			}
		}
	}
	return out
}

func (e *simEnv) payApp(t *testing.T, no string, amount core.Money) map[string]string {
	t.Helper()
	ctx := context.Background()
	res, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: no, Method: MethodID, Channel: core.ChannelApp,
		Amount: amount, Subject: "Tea", NotifyURL: e.notify})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.sim.PayOrderString(ctx, res.Action.Value)
	if err != nil || r.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("pay: %+v, %v", r, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"resultStatus": r.ResultStatus, "result": r.Result, "memo": r.Memo}
}

// TestRMBPricedPaymentAndRefund: a CNY price is rmb_fee, settles in USD, and is refunded with
// return_rmb_amount; the client result is checked against the CNY amount.
func TestRMBPricedPaymentAndRefund(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	amount := core.Money{Value: 10000, Currency: "CNY"}
	result := e.payApp(t, "rmb-1", amount)
	cr, err := e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "rmb-1", Method: MethodID, Amount: amount, Result: result})
	if err != nil || !cr.Verified || cr.Status != core.PaymentSucceeded {
		t.Fatalf("client result: %+v, %v", cr, err)
	}
	cr, _ = e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "rmb-1", Method: MethodID,
		Amount: core.Money{Value: 10001, Currency: "CNY"}, Result: result})
	if cr.Verified {
		t.Error("client result verified against another amount")
	}
	cr, _ = e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "rmb-1", Amount: amount,
		Result: map[string]string{"resultStatus": "6001", "memo": "cancelled"}})
	if cr.Verified || cr.Status != core.PaymentPending || cr.Message != "cancelled" {
		t.Errorf("cancelled result: %+v", cr)
	}
	evs := e.events(core.EventPayment)
	if len(evs) != 1 || evs[0].OutTradeNo != "rmb-1" || evs[0].Amount.Currency != "USD" || evs[0].PaymentStatus != core.PaymentSucceeded {
		t.Fatalf("payment events: %+v", evs)
	}
	st, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "rmb-1", OutRefundNo: "rmb-1-r1",
		Amount: core.Money{Value: 2500, Currency: "CNY"}, PaymentAmount: amount, Reason: `say "sorry"`})
	if err != nil || st.Status != core.RefundSucceeded {
		t.Fatalf("refund: %+v, %v", st, err)
	}
	r, ok := e.sim.Refund(testPartner, "rmb-1-r1")
	if !ok || r.Currency != "USD" || r.Reason != "say sorry" {
		t.Errorf("sim refund record: %+v", r)
	}
	q, err := e.p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "acct", OutTradeNo: "rmb-1", OutRefundNo: "rmb-1-r1"})
	if err != nil || q.Status != core.RefundSucceeded {
		t.Errorf("QueryRefund: %+v, %v", q, err)
	}
	if _, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "nope", OutRefundNo: "nope-r1",
		Amount: core.Money{Value: 100, Currency: "USD"}}); core.ErrorCode(err) != core.ENOTFOUND || core.ProviderCode(err) != "PURCHASE_TRADE_NOT_EXIST" {
		t.Errorf("refund of an unknown trade: %v", err)
	}
	if _, err := e.p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "nope"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("query of an unknown trade: %v", err)
	}
}

// TestAsyncRefundNotification: is_sync=N answers processing; the refund_status_sync
// notification reports success.
func TestAsyncRefundNotification(t *testing.T) {
	e := newSimEnv(t, map[string]string{"refund_is_sync": "false"})
	ctx := context.Background()
	amount := core.Money{Value: 5000, Currency: "USD"}
	e.payApp(t, "async-1", amount)
	st, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "async-1", OutRefundNo: "async-1-r1",
		Amount: core.Money{Value: 1000, Currency: "USD"}, PaymentAmount: amount, NotifyURL: e.notify})
	if err != nil || st.Status != core.RefundProcessing {
		t.Fatalf("async refund: %+v, %v", st, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	evs := e.events(core.EventRefund)
	if len(evs) != 1 || evs[0].OutRefundNo != "async-1-r1" || evs[0].RefundStatus != core.RefundSucceeded || evs[0].Amount.Value != 1000 {
		t.Fatalf("refund events: %+v", evs)
	}
}

// TestSettlementAndRates reads the reconciliation file of the day the payments were made.
func TestSettlementAndRates(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	e.payApp(t, "file-1", core.Money{Value: 1234, Currency: "USD"})
	e.payApp(t, "file-2", core.Money{Value: 200, Currency: "CNY"})
	if _, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "file-1", OutRefundNo: "file-1-r1",
		Amount: core.Money{Value: 234, Currency: "USD"}}); err != nil {
		t.Fatal(err)
	}
	day := e.now()
	e.advance(48 * time.Hour)
	var recs []*core.SettlementRecord
	err := e.p.FetchSettlement(ctx, &core.SettlementRequest{Account: "acct", From: day.AddDate(0, 0, -1), To: day},
		func(r *core.SettlementRecord) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]core.EventKind{}
	for _, r := range recs {
		kinds[r.Reference] = r.Kind
		if r.Amount.Currency != "USD" || r.OccurredAt.IsZero() {
			t.Errorf("record %+v", r)
		}
	}
	if len(recs) != 3 || kinds["file-1"] != core.EventPayment || kinds["file-1-r1"] != core.EventRefund {
		t.Errorf("records: %d %v", len(recs), kinds)
	}
	rates, err := e.p.FetchRates(ctx, "acct")
	if err != nil || len(rates) == 0 {
		t.Fatalf("rates: %v, %v", rates, err)
	}
	for _, r := range rates {
		if r.Currency == "USD" && !strings.Contains(r.Rate, ".") {
			t.Errorf("USD rate %q", r.Rate)
		}
	}
}

// TestNotificationRejections: a forged notification posted to the endpoint is not acknowledged.
func TestNotificationRejections(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	body := "notify_type=trade_status_sync&notify_id=forged&out_trade_no=x&trade_status=TRADE_FINISHED&total_fee=1.00&currency=USD&sign_type=RSA2&sign=AAAA"
	res, err := e.p.ParseNotification(ctx, &core.NotificationRequest{Account: "acct", Body: []byte(body),
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}})
	if err != nil || res.Verified || string(res.Ack.Body) == "success" || res.DedupeKey != "acct:forged" {
		t.Errorf("forged: %+v, %v", res, err)
	}
	if _, err := e.p.ParseNotification(ctx, &core.NotificationRequest{Account: "other", Body: []byte(body)}); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("unconfigured account: %v", err)
	}
}

// TestH5Return: the signed return to return_url verifies as a client result, also when query
// decoding turned the signature's '+' into spaces; a changed amount does not.
func TestH5Return(t *testing.T) {
	e := newSimEnv(t, nil)
	ctx := context.Background()
	amount := core.Money{Value: 4321, Currency: "USD"}
	res, err := e.p.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "h5-1", Method: MethodID, Channel: core.ChannelH5,
		Amount: amount, Subject: "Tea", NotifyURL: e.notify, ReturnURL: "https://merchant.example/return"})
	if err != nil {
		t.Fatal(err)
	}
	ret, err := e.sim.PayH5(ctx, res.Action.Value)
	if err != nil {
		t.Fatal(err)
	}
	spaced := map[string]string{}
	for k, v := range ret.Params {
		spaced[k] = v
	}
	spaced["sign"] = strings.ReplaceAll(ret.Params["sign"], "+", " ")
	for name, params := range map[string]map[string]string{"as sent": ret.Params, "plus as space": spaced} {
		cr, err := e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "h5-1", Amount: amount, Result: params})
		if err != nil || !cr.Verified || cr.Status != core.PaymentSucceeded {
			t.Errorf("%s: %+v, %v", name, cr, err)
		}
	}
	cr, _ := e.p.VerifyClientResult(ctx, &core.ClientResultRequest{Account: "acct", OutTradeNo: "h5-1", Amount: core.Money{Value: 4320, Currency: "USD"}, Result: ret.Params})
	if cr.Verified {
		t.Error("return verified against another amount")
	}
}

// TestRefundFailures: a refund the gateway fails is a decline carrying the code (is_sync=Y),
// or a REFUND_FAIL notification and a FAILED query (is_sync=N).
func TestRefundFailures(t *testing.T) {
	for _, sync := range []string{"true", "false"} {
		t.Run("sync="+sync, func(t *testing.T) {
			e := newSimEnv(t, map[string]string{"refund_is_sync": sync})
			ctx := context.Background()
			amount := core.Money{Value: 3000, Currency: "USD"}
			e.payApp(t, "fail-1", amount)
			if _, err := e.sim.SetFault(mapisim.Fault{Kind: mapisim.FaultRefundFail, Partner: testPartner, Count: 1}); err != nil {
				t.Fatal(err)
			}
			st, err := e.p.Refund(ctx, &core.RefundRequest{Account: "acct", OutTradeNo: "fail-1", OutRefundNo: "fail-1-r1",
				Amount: core.Money{Value: 1000, Currency: "USD"}, PaymentAmount: amount, NotifyURL: e.notify})
			if sync == "true" {
				if core.ErrorCode(err) != core.EDECLINED || core.ProviderCode(err) != "MERCHANT_BALANCE_NOT_ENOUGH" {
					t.Fatalf("sync failed refund: %+v, %v", st, err)
				}
				return
			}
			if err != nil || st.Status != core.RefundProcessing {
				t.Fatalf("async refund: %+v, %v", st, err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := e.sim.WaitIdle(wctx); err != nil {
				t.Fatal(err)
			}
			evs := e.events(core.EventRefund)
			if len(evs) != 1 || evs[0].RefundStatus != core.RefundFailed || evs[0].FailureCode != "MERCHANT_BALANCE_NOT_ENOUGH" {
				t.Fatalf("refund events: %+v", evs)
			}
			q, err := e.p.QueryRefund(ctx, &core.QueryRefundRequest{Account: "acct", OutTradeNo: "fail-1", OutRefundNo: "fail-1-r1"})
			if err != nil || q.Status != core.RefundFailed || q.FailureCode != "MERCHANT_BALANCE_NOT_ENOUGH" {
				t.Errorf("QueryRefund: %+v, %v", q, err)
			}
		})
	}
}
