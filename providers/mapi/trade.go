package mapi

import (
	"context"

	"github.com/paymux/paymux/core"
)

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
	if s == core.PaymentClosed && paidBeforeClose(f) {
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

// Services both mapi payment products call with the same parameters.
const (
	ServiceAppPay      = "mobile.securitypay.pay"      // the SDK order string
	ServiceQuery       = "single_trade_query"          // a payment's state
	ServiceRefund      = "forex_refund"                // a refund (parameters differ per product)
	ServiceRefundQuery = "alipay.acquire.refund.query" // a refund's state
)

// QueryTrade asks single_trade_query for a trade by trade_no (which the gateway prefers) and
// out_trade_no, whichever are known, and maps the answer with TradeState in the client's
// DefaultCurrency. An answer about another trade (CheckTradeAnswer) or another merchant is
// EUNKNOWN and applies nothing.
func (c *Client) QueryTrade(ctx context.Context, outTradeNo, tradeNo string) (*core.PaymentState, error) {
	if outTradeNo == "" && tradeNo == "" {
		return nil, core.Errorf(core.EINVALID, "%s needs out_trade_no or the trade number", ServiceQuery)
	}
	r, err := c.Call(ctx, map[string]string{"service": ServiceQuery, "out_trade_no": outTradeNo, "trade_no": tradeNo})
	if err != nil {
		return nil, err
	}
	if err := CheckTradeAnswer(outTradeNo, tradeNo, r.Fields); err != nil {
		return nil, err
	}
	return TradeState(r.Fields, c.DefaultCurrency)
}

// QueryRefund asks alipay.acquire.refund.query for the refund out_return_no of a trade and maps
// the answer with RefundQueryState in the client's DefaultCurrency. An answer about another
// refund (CheckRefundAnswer) or another merchant is EUNKNOWN and applies nothing.
func (c *Client) QueryRefund(ctx context.Context, outTradeNo, outReturnNo string) (*core.RefundState, error) {
	if outTradeNo == "" || outReturnNo == "" {
		return nil, core.Errorf(core.EINVALID, "%s needs out_trade_no and out_return_no", ServiceRefundQuery)
	}
	r, err := c.Call(ctx, map[string]string{"service": ServiceRefundQuery, "out_trade_no": outTradeNo, "out_return_no": outReturnNo})
	if err != nil {
		return nil, err
	}
	if err := CheckRefundAnswer(outTradeNo, outReturnNo, r.Fields); err != nil {
		return nil, err
	}
	return RefundQueryState(r.Fields, c.DefaultCurrency)
}

// RefundQueryState maps the fields of an alipay.acquire.refund.query answer to a refund state.
// A response_code other than SUCCESS is the query's own outcome (NOT_FOUND, TRADE_NOT_EXIST) as
// a GatewayError; an unknown refund_result_code is EUNKNOWN (query later). The amount is
// return_amount (or refund_amount) in the answer's currency, else defaultCurrency; with neither
// it stays zero. refund_error_code is kept only for a failed refund.
func RefundQueryState(f map[string]string, defaultCurrency string) (*core.RefundState, error) {
	if code := f["response_code"]; code != "" && code != "SUCCESS" {
		return nil, GatewayError(ServiceRefundQuery, code)
	}
	st := &core.RefundState{ProviderRef: f["trade_no"], RawStatus: f["refund_result_code"]}
	s, ok := RefundStatus(st.RawStatus)
	if !ok {
		return nil, &core.Error{Code: core.EUNKNOWN, Message: ServiceRefundQuery + ": unknown refund_result_code; query later", ProviderCode: truncate(st.RawStatus, 40)}
	}
	st.Status = s
	if s == core.RefundFailed {
		st.FailureCode = f["refund_error_code"]
	}
	cur := f["currency"]
	if cur == "" {
		cur = defaultCurrency
	}
	for _, k := range []string{"return_amount", "refund_amount"} {
		if v := f[k]; v != "" && cur != "" {
			m, err := ParseAmount(v, cur)
			if err != nil {
				return nil, core.WrapError(core.EUNKNOWN, err, "%s: unreadable %s", ServiceRefundQuery, k)
			}
			st.Amount = m
			break
		}
	}
	return st, nil
}

// CheckRefundAmount checks one refund's amount before the gateway is asked: a valid positive
// amount and, when the host passes the payment's amount, in its currency and not above it (the
// sum of several refunds is the host's and the gateway's to check).
func CheckRefundAmount(amount, payment core.Money) error {
	if err := amount.Validate(); err != nil {
		return err
	}
	if payment.Currency == "" {
		return nil
	}
	if amount.Currency != payment.Currency {
		return core.Errorf(core.EINVALID, "refund currency %s differs from the payment's %s", amount.Currency, payment.Currency)
	}
	if amount.Value > payment.Value {
		return core.Errorf(core.EINVALID, "refund of %s exceeds the payment's %s", amount.Decimal(), payment.Decimal())
	}
	return nil
}
