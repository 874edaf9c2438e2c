package mapi

import "github.com/paymux/paymux/core"

// TradeState maps the <trade> fields of a single_trade_query answer to a payment state, for every
// mapi provider. A TRADE_CLOSED trade that was paid (it has gmt_payment or refund_fee) was closed
// by a full refund: the payment itself succeeded. defaultCurrency is the amount's currency when
// the answer carries no currency field (AlipayHK knows only HKD); "" leaves the amount zero then.
// An unknown trade_status is EUNKNOWN: query later.
func TradeState(f map[string]string, defaultCurrency string) (*core.PaymentState, error) {
	st := &core.PaymentState{ProviderRef: f["trade_no"], RawStatus: f["trade_status"]}
	s, ok := PaymentStatus(st.RawStatus)
	if !ok {
		return nil, &core.Error{Code: core.EUNKNOWN, Message: "single_trade_query: unknown trade_status; query later", ProviderCode: truncate(st.RawStatus, 40)}
	}
	if s == core.PaymentClosed && (f["gmt_payment"] != "" || f["refund_fee"] != "") {
		s = core.PaymentSucceeded
	}
	st.Status = s
	cur := f["currency"]
	if cur == "" {
		cur = defaultCurrency
	}
	if f["total_fee"] != "" && cur != "" {
		m, err := ParseAmount(f["total_fee"], cur)
		if err != nil {
			return nil, core.WrapError(core.EUNKNOWN, err, "single_trade_query: unreadable total_fee")
		}
		st.Amount = m
	}
	if s == core.PaymentSucceeded {
		if t, err := ParseTime(f["gmt_payment"]); err == nil {
			st.PaidAt = t
		}
	}
	return st, nil
}
