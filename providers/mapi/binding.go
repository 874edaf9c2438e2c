package mapi

import (
	"strings"

	"github.com/paymux/paymux/core"
)

// This file holds the checks that bind a gateway message to the account's merchant and to the
// object it is about (ARCHITECTURE "Trust"). Each check lives in one function, named for what it
// refuses, so that a fault test can switch exactly one of them off:
//
//   - BindMerchant: the merchant identities a message carries (seller_id, partner);
//   - CheckTradeAnswer / CheckRefundAnswer: a query answer is about the trade / refund asked;
//   - VerifyResponse (xml.go): a gateway answer carrying data is signed;
//   - (*Client).bindNotification (notification.go): a notification naming no merchant is bound
//     by the MD5 key, notify_verify, or a partner-scoped single_trade_query before it counts.

// Merchant says what the merchant identities of a message prove.
type Merchant int

const (
	// MerchantUnnamed: the message names no merchant (real cross-border notifications may not).
	MerchantUnnamed Merchant = iota
	// MerchantOurs: every merchant identity the message carries is the account's.
	MerchantOurs
	// MerchantForeign: the message names another merchant.
	MerchantForeign
)

// MerchantFields are the fields of a mapi message that name a merchant.
var MerchantFields = []string{"seller_id", "partner"}

// BindMerchant compares every merchant identity of a verified message with the account's:
// seller_id with the account's seller_id (its partner when the account sets none; also the
// partner when the account's seller_id is an e-mail or mobile number, which a message's 2088
// seller_id cannot equal), partner with its partner. One that differs makes the message foreign,
// whatever the others say. Alipay signs every merchant's messages with one platform key: the
// signature alone proves nothing about whose trade it is.
func BindMerchant(s *Settings, f map[string]string) Merchant {
	named := false
	if v, ok := f["seller_id"]; ok && v != "" {
		named = true
		if v != s.SellerID && (validPartner(s.SellerID) || v != s.Partner) {
			return MerchantForeign
		}
	}
	if v, ok := f["partner"]; ok && v != "" {
		named = true
		if v != s.Partner {
			return MerchantForeign
		}
	}
	if named {
		return MerchantOurs
	}
	return MerchantUnnamed
}

// objectMismatch is the error of an answer about another object: EUNKNOWN (nothing is applied,
// the host asks again later) with core.CodeObjectMismatch, which the host counts.
func objectMismatch(service, what string) *core.Error {
	return &core.Error{Code: core.EUNKNOWN, Message: service + ": the gateway answered about another " + what + " than the one asked; nothing applied, query later", ProviderCode: core.CodeObjectMismatch}
}

// foreignAnswer is the error of an answer naming another merchant.
func foreignAnswer(service string) *core.Error {
	return &core.Error{Code: core.EUNKNOWN, Message: service + ": the gateway answer names another merchant than the account's; nothing applied, query later", ProviderCode: core.CodeForeignMerchant}
}

// CheckAnswerMerchant refuses a verified gateway answer whose fields name another merchant.
func CheckAnswerMerchant(s *Settings, service string, f map[string]string) error {
	if BindMerchant(s, f) == MerchantForeign {
		return foreignAnswer(service)
	}
	return nil
}

// CheckTradeAnswer requires a single_trade_query answer to be about the trade asked: its
// out_trade_no, when paymux asked by one, must be the one asked, and its trade_no, when paymux
// knew one, the one known; an answer that names neither cannot be about the trade asked.
func CheckTradeAnswer(outTradeNo, tradeNo string, f map[string]string) error {
	gotOut, gotNo := f["out_trade_no"], f["trade_no"]
	outOK := outTradeNo != "" && gotOut == outTradeNo
	noOK := tradeNo != "" && gotNo == tradeNo
	switch {
	case gotOut != "" && outTradeNo != "" && gotOut != outTradeNo,
		gotNo != "" && tradeNo != "" && gotNo != tradeNo,
		!outOK && !noOK:
		return objectMismatch(ServiceQuery, "trade")
	}
	return nil
}

// CheckRefundAnswer requires an alipay.acquire.refund.query answer to be about the refund asked:
// its out_return_no must be the one asked, and its out_trade_no, when it names one, the trade
// asked.
func CheckRefundAnswer(outTradeNo, outReturnNo string, f map[string]string) error {
	if f["out_return_no"] != outReturnNo {
		return objectMismatch(ServiceRefundQuery, "refund")
	}
	if got := f["out_trade_no"]; got != "" && got != outTradeNo {
		return objectMismatch(ServiceRefundQuery, "refund")
	}
	return nil
}

// smuggleNames are the parameter names of the mapi services, order strings, returns and
// notifications: a free-text value containing `&name=` for any of them could pass for that
// parameter wherever values are joined unescaped (the SDK order string, a signed Format B text).
var smuggleNames = []string{
	"_input_charset", "app_id", "app_pay", "appenv", "biz_type", "body", "buyer_email", "buyer_id",
	"currency", "discount", "end_date", "error_code", "extern_token", "flag_trade_locked",
	"forex_biz", "gmt_close", "gmt_create", "gmt_last_modified_time", "gmt_payment", "gmt_refund",
	"gmt_return", "is_success", "is_sync", "is_total_fee_adjust", "it_b_pay", "memo", "notify_id",
	"notify_time", "notify_type", "notify_url", "operator_role", "order_create", "order_gmt_create",
	"order_valid_time", "out_return_no", "out_trade_no", "partner", "payment_inst", "payment_type",
	"price", "product_code", "quantity", "reason", "refer_url", "refund_amount", "refund_error_code",
	"refund_fee", "refund_result_code", "refund_status", "response_code", "result", "resultStatus",
	"return_amount", "return_rmb_amount", "return_url", "rmb_fee", "secondary_merchant_id",
	"secondary_merchant_industry", "secondary_merchant_name", "seller_email", "seller_id",
	"seller_industry", "seller_name", "service", "show_url", "sign", "sign_type", "split_fund_info",
	"start_date", "subject", "success", "supplier", "timeout_rule", "to_buyer_fee", "to_seller_fee",
	"total_fee", "trade_information", "trade_no", "trade_status", "use_coupon",
}

// smuggled returns the first `&name=` of a known parameter inside v ("" when none). Names are
// compared case-insensitively: a gateway that folds case must not read one either.
func smuggled(v string) string {
	if !strings.Contains(v, "&") {
		return ""
	}
	lv := strings.ToLower(v)
	for _, n := range smuggleNames {
		if strings.Contains(lv, "&"+strings.ToLower(n)+"=") {
			return "&" + n + "="
		}
	}
	return ""
}
