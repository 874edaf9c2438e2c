package mapi

import (
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
