package mapi

import "github.com/paymux/paymux/core"

// PaymentStatus maps a trade_status to the neutral status. Cross-border payments report
// TRADE_FINISHED when paid; TRADE_SUCCESS (paid, still refundable) is accepted as paid too.
// TRADE_CLOSED means closed unpaid or fully refunded: for a payment the host already holds as
// succeeded the transition table keeps it succeeded.
func PaymentStatus(tradeStatus string) (core.PaymentStatus, bool) {
	switch tradeStatus {
	case "TRADE_FINISHED", "TRADE_SUCCESS":
		return core.PaymentSucceeded, true
	case "TRADE_CLOSED":
		return core.PaymentClosed, true
	case "WAIT_BUYER_PAY", "TRADE_PENDING":
		return core.PaymentPending, true
	}
	return "", false
}

// RefundStatus maps refund_status of a refund notification, or refund_result_code of
// alipay.acquire.refund.query, to the neutral status.
func RefundStatus(s string) (core.RefundStatus, bool) {
	switch s {
	case "REFUND_SUCCESS", "SUCCESS":
		return core.RefundSucceeded, true
	case "REFUND_FAIL", "FAILED", "CANCELED", "CANCELLED":
		return core.RefundFailed, true
	case "PROCESSING":
		return core.RefundProcessing, true
	}
	return "", false
}
