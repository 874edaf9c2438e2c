package antom

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/paymux/paymux/core"
)

// The acknowledgement AMS expects, byte for byte as the official SDKs send it (antom.md 5.3),
// and the answer that makes it deliver again.
var (
	ackSuccess = core.Ack{Status: http.StatusOK, ContentType: "application/json; charset=UTF-8",
		Body: []byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)}
	ackRetry = core.Ack{Status: http.StatusOK, ContentType: "application/json; charset=UTF-8",
		Body: []byte(`{"result":{"resultCode":"UNKNOWN_EXCEPTION","resultStatus":"U","resultMessage":"not accepted"}}`)}
)

// ParseNotification implements core.Provider for notifyPayment and notifyRefund. A
// notification counts only when its client-id is the account's and its signature verifies
// with Antom's key over "POST <public notify path>\n<client-id>.<request-time>.<raw body>".
func (p *Provider) ParseNotification(_ context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	reject := func(reason string) (*core.NotificationResult, error) {
		return &core.NotificationResult{Verified: false, RejectReason: reason, Ack: ackRetry}, nil
	}
	h := http.Header(req.Header)
	clientID, reqTime, sig := h.Get("Client-Id"), h.Get("Request-Time"), h.Get("Signature")
	switch {
	case sig == "":
		return reject("no signature header")
	case clientID == "" || reqTime == "":
		return reject("no client-id or request-time header")
	case clientID != a.clientID:
		return reject("client-id is not the account's")
	case req.NotifyPath == "":
		return reject("the host gave no notify path to verify against")
	}
	if err := verify(a.antomKeys, sig, signContent(req.NotifyPath, clientID, reqTime, req.Body)); err != nil {
		return reject("signature: " + err.Error())
	}
	n, err := decodeNotification(req.Body)
	if err != nil {
		return reject(core.ErrorMessage(err))
	}
	res := &core.NotificationResult{Verified: true, Ack: ackSuccess}
	switch n.NotifyType {
	case "PAYMENT_RESULT":
		ev := core.NotificationEvent{Kind: core.EventPayment, OutTradeNo: n.PaymentRequestID, ProviderRef: n.PaymentID,
			Wallet: n.PaymentMethodType, RawStatus: n.NotifyType + ":" + n.Result.ResultStatus}
		if ev.Wallet == "" && n.PSPCustomerInfo != nil {
			ev.Wallet = n.PSPCustomerInfo.PSPName
		}
		switch n.Result.ResultStatus {
		case "S":
			ev.PaymentStatus, ev.OccurredAt = core.PaymentSucceeded, parseTime(n.PaymentTime)
		case "F":
			ev.PaymentStatus, ev.FailureCode, ev.OccurredAt = core.PaymentFailed, n.Result.ResultCode, parseTime(n.PaymentCreateTime)
		default:
			return reject("payment result status " + n.Result.ResultStatus + " is neither S nor F")
		}
		if ev.Amount, err = n.PaymentAmount.money(); err != nil {
			return reject("paymentAmount: " + core.ErrorMessage(err))
		}
		res.Events = []core.NotificationEvent{ev}
		res.DedupeKey = "antom:" + clientID + ":pay:" + n.PaymentRequestID + ":" + n.Result.ResultStatus
	case "REFUND_RESULT":
		ev := core.NotificationEvent{Kind: core.EventRefund, OutRefundNo: n.RefundRequestID, ProviderRef: n.RefundID,
			OccurredAt: parseTime(n.RefundTime), RawStatus: n.NotifyType + ":" + n.RefundStatus}
		switch n.RefundStatus {
		case "SUCCESS":
			ev.RefundStatus = core.RefundSucceeded
		case "FAIL":
			ev.RefundStatus, ev.FailureCode = core.RefundFailed, n.Result.ResultCode
		default:
			return reject("refundStatus " + n.RefundStatus + " is neither SUCCESS nor FAIL")
		}
		if ev.Amount, err = n.RefundAmount.money(); err != nil {
			return reject("refundAmount: " + core.ErrorMessage(err))
		}
		res.Events = []core.NotificationEvent{ev}
		res.DedupeKey = "antom:" + clientID + ":refund:" + n.RefundRequestID + ":" + n.RefundStatus
	default:
		// PAYMENT_PENDING ("paid, final result awaited") and types of other products: genuine,
		// nothing to apply, acknowledged so that Antom stops sending them.
		res.DedupeKey = "antom:" + clientID + ":" + n.NotifyType + ":" + n.PaymentRequestID + n.RefundRequestID
	}
	return res, nil
}

// decodeNotification parses a notification body and checks the fields its type needs.
func decodeNotification(body []byte) (*notification, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, core.Errorf(core.EINVALID, "body is not a JSON notification")
	}
	switch n.NotifyType {
	case "":
		return nil, core.Errorf(core.EINVALID, "notification has no notifyType")
	case "PAYMENT_RESULT", "PAYMENT_PENDING":
		if n.PaymentRequestID == "" || len(n.PaymentRequestID) > 64 || len(n.PaymentID) > 64 {
			return nil, core.Errorf(core.EINVALID, "payment notification without a valid paymentRequestId")
		}
	case "REFUND_RESULT":
		if n.RefundRequestID == "" || len(n.RefundRequestID) > 64 || len(n.RefundID) > 64 {
			return nil, core.Errorf(core.EINVALID, "refund notification without a valid refundRequestId")
		}
	}
	return &n, nil
}
