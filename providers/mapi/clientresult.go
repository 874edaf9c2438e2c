package mapi

import "github.com/paymux/paymux/core"

// Echo is what the wallet SDK's signed synchronous result must repeat of the payment it claims to
// be about: the result echoes the order string, so a genuine one names this order, this
// partner, this amount and, where the product sends one, this wallet.
type Echo struct {
	OutTradeNo string
	// Amount is what the payment asked for. It is checked in total_fee when it is in Currency,
	// in rmb_fee when it is CNY on a foreign-currency order (cross-border CNY pricing); any other
	// currency cannot match.
	Amount core.Money
	// Currency is the order's currency parameter (the settlement currency).
	Currency string
	// PaymentInst is the order's payment_inst (AlipayHK); "" checks none.
	PaymentInst string
}

// CheckSDKResult reads the SDK's synchronous answer to an order string (the fields resultStatus,
// result and memo, as the app passes them on): the status is only a hint (ResultStatusHint);
// Verified says that the result of a 9000 answer carries Alipay's signature over an echo of this
// payment for this account. Anything short of that is a Message, never an error: the result
// comes from the buyer's device, and the notification or a query is the proof either way.
func CheckSDKResult(s *Settings, result map[string]string, want Echo) *core.ClientResult {
	status := result["resultStatus"]
	res := &core.ClientResult{Status: ResultStatusHint(status), Message: result["memo"]}
	if status != "9000" {
		if res.Message == "" {
			res.Message = "resultStatus " + truncate(status, 10)
		}
		return res
	}
	r, err := ParseSDKResult(result["result"])
	if err != nil {
		res.Message = "result: " + core.ErrorMessage(err)
		return res
	}
	if err := r.Verify(s); err != nil {
		res.Message = "result signature: " + core.ErrorMessage(err)
		return res
	}
	if msg := want.Check(s, r.Fields); msg != "" {
		res.Message = msg
		return res
	}
	res.Verified = true
	return res
}

// Check returns why the fields of a verified SDK result are not an echo of this payment for
// the account s, or "" when they are.
func (e Echo) Check(s *Settings, f map[string]string) string {
	switch {
	case f["success"] != "true":
		return `result does not say success="true"`
	case f["out_trade_no"] != e.OutTradeNo:
		return "result is for another order"
	case f["partner"] != s.Partner:
		return "result is for another partner"
	case f["seller_id"] != "" && f["seller_id"] != s.SellerID:
		return "result is for another seller"
	case f["currency"] != "" && f["currency"] != e.Currency:
		return "result currency differs from the order's " + e.Currency
	case e.PaymentInst != "" && f["payment_inst"] != "" && f["payment_inst"] != e.PaymentInst:
		return "result is for another wallet than the method's"
	}
	field := ""
	switch {
	case e.Amount.Currency == e.Currency:
		field = "total_fee"
	case e.Amount.Currency == "CNY":
		field = "rmb_fee"
	}
	if field == "" || f[field] == "" {
		return "result amount differs from the payment's " + e.Amount.String()
	}
	if got, err := ParseAmount(f[field], e.Amount.Currency); err != nil || got != e.Amount {
		return "result amount differs from the payment's " + e.Amount.String()
	}
	return ""
}
