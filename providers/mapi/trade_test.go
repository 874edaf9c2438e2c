package mapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

func TestTradeState(t *testing.T) {
	paidAt := time.Date(2026, 11, 20, 10, 0, 0, 0, Beijing)
	for _, tc := range []struct {
		name   string
		f      map[string]string
		cur    string
		want   core.PaymentStatus
		amount core.Money
		paid   bool
		code   string
	}{
		{"finished", map[string]string{"trade_status": "TRADE_FINISHED", "total_fee": "10.00", "currency": "USD", "gmt_payment": "2026-11-20 10:00:00"}, "", core.PaymentSucceeded, core.Money{Value: 1000, Currency: "USD"}, true, ""},
		{"closed unpaid", map[string]string{"trade_status": "TRADE_CLOSED", "total_fee": "10.00", "currency": "USD"}, "", core.PaymentClosed, core.Money{Value: 1000, Currency: "USD"}, false, ""},
		{"closed by full refund", map[string]string{"trade_status": "TRADE_CLOSED", "total_fee": "10.00", "gmt_payment": "2026-11-20 10:00:00"}, "HKD", core.PaymentSucceeded, core.Money{Value: 1000, Currency: "HKD"}, true, ""},
		{"closed with refund_fee", map[string]string{"trade_status": "TRADE_CLOSED", "refund_fee": "10.00"}, "", core.PaymentSucceeded, core.Money{}, false, ""},
		{"waiting, no currency anywhere", map[string]string{"trade_status": "WAIT_BUYER_PAY", "total_fee": "10.00"}, "", core.PaymentPending, core.Money{}, false, ""},
		{"unknown status", map[string]string{"trade_status": "TRADE_WEIRD"}, "", "", core.Money{}, false, core.EUNKNOWN},
		{"bad amount", map[string]string{"trade_status": "TRADE_SUCCESS", "total_fee": "x", "currency": "USD"}, "", "", core.Money{}, false, core.EUNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := TradeState(tc.f, tc.cur)
			if tc.code != "" {
				if core.ErrorCode(err) != tc.code {
					t.Fatalf("error = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || st.Status != tc.want || st.Amount != tc.amount || st.PaidAt.Equal(paidAt) != tc.paid {
				t.Fatalf("TradeState = %+v, %v", st, err)
			}
		})
	}
}

func TestRefundQueryState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       map[string]string
		cur     string
		want    core.RefundStatus
		amount  core.Money
		failure string
		code    string // error kind
	}{
		{"succeeded with currency", map[string]string{"response_code": "SUCCESS", "refund_result_code": "SUCCESS", "return_amount": "5.00", "currency": "USD", "refund_error_code": "IGNORED", "trade_no": "T1"},
			"", core.RefundSucceeded, core.Money{Value: 500, Currency: "USD"}, "", ""},
		{"default currency", map[string]string{"refund_result_code": "SUCCESS", "return_amount": "5.00"}, "HKD", core.RefundSucceeded, core.Money{Value: 500, Currency: "HKD"}, "", ""},
		{"refund_amount", map[string]string{"refund_result_code": "PROCESSING", "refund_amount": "1.50"}, "HKD", core.RefundProcessing, core.Money{Value: 150, Currency: "HKD"}, "", ""},
		{"no currency at all", map[string]string{"refund_result_code": "SUCCESS", "return_amount": "5.00"}, "", core.RefundSucceeded, core.Money{}, "", ""},
		{"failed keeps its code", map[string]string{"refund_result_code": "FAILED", "refund_error_code": "MERCHANT_BALANCE_NOT_ENOUGH"}, "", core.RefundFailed, core.Money{}, "MERCHANT_BALANCE_NOT_ENOUGH", ""},
		{"no such refund", map[string]string{"response_code": "NOT_FOUND"}, "", "", core.Money{}, "", core.ENOTFOUND},
		{"unknown result code", map[string]string{"refund_result_code": "MAYBE"}, "", "", core.Money{}, "", core.EUNKNOWN},
		{"unreadable amount", map[string]string{"refund_result_code": "SUCCESS", "return_amount": "5,00"}, "HKD", "", core.Money{}, "", core.EUNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := RefundQueryState(tc.f, tc.cur)
			if tc.code != "" {
				if core.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != tc.want || st.Amount != tc.amount || st.FailureCode != tc.failure || st.ProviderRef != tc.f["trade_no"] || st.RawStatus != tc.f["refund_result_code"] {
				t.Errorf("state %+v", st)
			}
		})
	}
}

// TestQueryTradeAndRefund: both helpers send what is known, and amounts without a currency
// field take the client's DefaultCurrency.
func TestQueryTradeAndRefund(t *testing.T) {
	var got url.Values
	srv := fakeGateway(t, func(w http.ResponseWriter, form url.Values) {
		got = form
		switch form.Get("service") {
		case ServiceQuery:
			fmt.Fprint(w, signedQueryXML(t, "TRADE_SUCCESS"))
		case ServiceRefundQuery:
			fmt.Fprint(w, signedXML(t, "refund", map[string]string{"response_code": "SUCCESS", "refund_result_code": "SUCCESS",
				"return_amount": "2.50", "trade_no": "2026112200001", "out_trade_no": "o-1", "out_return_no": "r-1"}))
		}
	})
	s, _ := rsaSettings(t, srv.URL+"/gateway.do")
	c := NewClient(s, nil)
	ctx := context.Background()
	ps, err := c.QueryTrade(ctx, "o-1", "2026112200001")
	if err != nil || ps.Status != core.PaymentSucceeded || ps.Amount != (core.Money{}) {
		t.Fatalf("no default currency: %+v, %v", ps, err)
	}
	if got.Get("out_trade_no") != "o-1" || got.Get("trade_no") != "2026112200001" {
		t.Errorf("query params %v", got)
	}
	c.DefaultCurrency = "HKD"
	if ps, err = c.QueryTrade(ctx, "o-1", ""); err != nil || ps.Amount != (core.Money{Value: 1000, Currency: "HKD"}) {
		t.Fatalf("HKD default: %+v, %v", ps, err)
	}
	if _, ok := got["trade_no"]; ok {
		t.Errorf("unknown trade_no sent: %v", got)
	}
	rs, err := c.QueryRefund(ctx, "o-1", "r-1")
	if err != nil || rs.Status != core.RefundSucceeded || rs.Amount != (core.Money{Value: 250, Currency: "HKD"}) || got.Get("out_return_no") != "r-1" {
		t.Fatalf("refund query: %+v, %v (params %v)", rs, err, got)
	}
	if _, err := c.QueryTrade(ctx, "", ""); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("query without references: %v", err)
	}
	if _, err := c.QueryRefund(ctx, "o-1", ""); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("refund query without out_return_no: %v", err)
	}
}

func TestNotificationDefaultCurrency(t *testing.T) {
	fields := map[string]string{"notify_type": NotifyTrade, "out_trade_no": "o-1", "trade_status": "TRADE_SUCCESS", "total_fee": "12.30"}
	for cur, want := range map[string]core.Money{"": {}, "HKD": {Value: 1230, Currency: "HKD"}} {
		ev, err := NotificationEvents(fields, cur)
		if err != nil || len(ev) != 1 || ev[0].Amount != want {
			t.Errorf("default %q: %+v, %v", cur, ev, err)
		}
	}
	fields["currency"] = "USD" // a currency field wins over the default
	if ev, err := NotificationEvents(fields, "HKD"); err != nil || len(ev) != 1 || ev[0].Amount != (core.Money{Value: 1230, Currency: "USD"}) {
		t.Errorf("currency field: %+v, %v", ev, err)
	}
	refund := map[string]string{"notify_type": NotifyRefund, "out_trade_no": "o-1", "out_return_no": "r-1", "refund_status": "REFUND_SUCCESS", "return_amount": "1.00"}
	if ev, err := NotificationEvents(refund, "HKD"); err != nil || len(ev) != 1 || ev[0].Amount != (core.Money{Value: 100, Currency: "HKD"}) {
		t.Errorf("refund: %+v, %v", ev, err)
	}
}

func TestCheckRefundAmount(t *testing.T) {
	usd := func(v int64) core.Money { return core.Money{Value: v, Currency: "USD"} }
	for _, tc := range []struct {
		amount, payment core.Money
		mention         string // "": accepted
	}{
		{usd(500), usd(1000), ""},
		{usd(1000), usd(1000), ""},
		{usd(500), core.Money{}, ""}, // the host passed no payment amount
		{usd(1001), usd(1000), "exceeds"},
		{core.Money{Value: 500, Currency: "CNY"}, usd(1000), "differs"},
		{usd(0), usd(1000), "positive"},
		{core.Money{Value: 5, Currency: "XXX"}, core.Money{}, "currency"},
	} {
		err := CheckRefundAmount(tc.amount, tc.payment)
		if tc.mention == "" && err != nil || tc.mention != "" && (core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), tc.mention)) {
			t.Errorf("CheckRefundAmount(%v, %v) = %v, want %q", tc.amount, tc.payment, err, tc.mention)
		}
	}
}

// TestNotificationClosedAfterPayment: a TRADE_CLOSED notification of a trade that was paid (full
// refund) reports the payment succeeded, as TradeState does; closed unpaid stays closed.
func TestNotificationClosedAfterPayment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   core.PaymentStatus
	}{
		{"closed unpaid", map[string]string{"trade_status": "TRADE_CLOSED", "gmt_close": "2026-11-20 10:30:00"}, core.PaymentClosed},
		{"closed after payment", map[string]string{"trade_status": "TRADE_CLOSED", "gmt_payment": "2026-11-20 10:00:00", "gmt_close": "2026-11-21 10:00:00"}, core.PaymentSucceeded},
		{"closed by full refund", map[string]string{"trade_status": "TRADE_CLOSED", "refund_status": "REFUND_SUCCESS", "gmt_refund": "2026-11-21 10:00:00"}, core.PaymentSucceeded},
		{"closed with refund_fee", map[string]string{"trade_status": "TRADE_CLOSED", "refund_fee": "10.00"}, core.PaymentSucceeded},
	} {
		f := map[string]string{"notify_type": NotifyTrade, "out_trade_no": "o-1", "trade_no": "2026112200001", "total_fee": "10.00", "currency": "USD"}
		for k, v := range tc.fields {
			f[k] = v
		}
		evs, err := NotificationEvents(f, "")
		if err != nil || len(evs) != 1 || evs[0].Kind != core.EventPayment || evs[0].PaymentStatus != tc.want {
			t.Errorf("%s: events %+v, %v; want one payment event %s", tc.name, evs, err, tc.want)
		}
		if st, err := TradeState(f, ""); err != nil || st.Status != tc.want {
			t.Errorf("%s: TradeState %+v, %v; want %s", tc.name, st, err, tc.want)
		}
	}
}

// TestNotificationRMBAmount: when a notification echoes the CNY price (rmb_fee,
// return_rmb_amount), the event carries it, not Alipay's conversion into the settlement currency.
func TestNotificationRMBAmount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]string
		want   core.Money
	}{
		{"total_fee only", map[string]string{"notify_type": NotifyTrade, "trade_status": "TRADE_FINISHED", "total_fee": "2.00", "currency": "JPY"}, core.Money{Value: 2, Currency: "JPY"}},
		{"rmb_fee echoed", map[string]string{"notify_type": NotifyTrade, "trade_status": "TRADE_FINISHED", "total_fee": "2.00", "currency": "JPY", "rmb_fee": "0.10"}, core.Money{Value: 10, Currency: "CNY"}},
		{"refund in settlement currency", map[string]string{"notify_type": NotifyRefund, "out_return_no": "r-1", "refund_status": "REFUND_SUCCESS", "return_amount": "1.00", "currency": "USD"}, core.Money{Value: 100, Currency: "USD"}},
		{"refund rmb echoed", map[string]string{"notify_type": NotifyRefund, "out_return_no": "r-1", "refund_status": "REFUND_SUCCESS", "return_amount": "1.00", "currency": "USD", "return_rmb_amount": "7.10"}, core.Money{Value: 710, Currency: "CNY"}},
	} {
		tc.fields["out_trade_no"] = "o-1"
		evs, err := NotificationEvents(tc.fields, "")
		if err != nil || len(evs) != 1 || evs[0].Amount != tc.want {
			t.Errorf("%s: %+v, %v; want amount %v", tc.name, evs, err, tc.want)
		}
	}
}
