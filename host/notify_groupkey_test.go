package host

import (
	"testing"

	"github.com/paymux/paymux/core"
)

// TestGroupKey: an intake is grouped (store.InGroupTx) under its payment's key only when every
// event is about that one payment; anything else runs alone, so that a grouped transaction
// locks only rows of its key.
func TestGroupKey(t *testing.T) {
	pay := func(otn string) core.NotificationEvent {
		return core.NotificationEvent{Kind: core.EventPayment, OutTradeNo: otn}
	}
	refund := core.NotificationEvent{Kind: core.EventRefund, OutTradeNo: "o1", OutRefundNo: "r1"}
	for _, tc := range []struct {
		name   string
		events []core.NotificationEvent
		want   string
	}{
		{"one payment", []core.NotificationEvent{pay("o1")}, "acct\x00o1"},
		{"twice the same payment", []core.NotificationEvent{pay("o1"), pay("o1")}, "acct\x00o1"},
		{"two payments", []core.NotificationEvent{pay("o1"), pay("o2")}, ""},
		{"a refund", []core.NotificationEvent{refund}, ""},
		{"a payment and a refund", []core.NotificationEvent{pay("o1"), refund}, ""},
		{"no out_trade_no", []core.NotificationEvent{pay("")}, ""},
		{"no events", nil, ""},
	} {
		if got := groupKey("acct", tc.events); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
