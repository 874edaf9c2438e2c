package antom

import (
	"context"

	"github.com/paymux/paymux/core"
)

// Refund implements core.Provider. refundRequestId is the host's out_refund_no, so a retry
// after an unknown outcome is the same refund; Antom refunds by its own paymentId, learnt
// from inquiryPayment when the host has none stored.
func (p *Provider) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.OutRefundNo == "" || len(req.OutRefundNo) > 64 {
		return nil, core.Errorf(core.EINVALID, "out_refund_no must be 1 to 64 characters")
	}
	if err := req.Amount.Validate(); err != nil {
		return nil, err
	}
	if req.Amount.Value <= 0 {
		return nil, core.Errorf(core.EINVALID, "refund amount must be positive")
	}
	if req.PaymentAmount.Currency != "" && (req.Amount.Currency != req.PaymentAmount.Currency || req.Amount.Value > req.PaymentAmount.Value) {
		return nil, core.Errorf(core.EINVALID, "refund of %s exceeds the payment's %s", req.Amount, req.PaymentAmount)
	}
	if err := checkURL("notify_url", req.NotifyURL, false); err != nil {
		return nil, err
	}
	paymentID := req.ProviderRef
	if paymentID == "" {
		res, err := p.inquire(ctx, a, req.OutTradeNo, "")
		if err != nil {
			return nil, err
		}
		if paymentID = res.PaymentID; paymentID == "" {
			return nil, core.Errorf(core.EUNAVAILABLE, "Antom inquiryPayment gave no paymentId to refund")
		}
	}
	body := refundRequest{RefundRequestID: req.OutRefundNo, PaymentID: paymentID, RefundAmount: toAmount(req.Amount),
		RefundReason: truncate(req.Reason, 256), RefundNotifyURL: req.NotifyURL}
	var res refundResponse
	if err := p.call(ctx, a, "refund", write, body, &res, &res.Result); err != nil {
		return nil, err
	}
	switch res.Result.ResultStatus {
	case "U":
		return nil, &core.Error{Code: core.EUNKNOWN, Message: "Antom refund outcome unknown", ProviderCode: res.Result.ResultCode}
	case "F":
		return nil, failure("refund", res.Result)
	}
	if res.RefundRequestID != "" && res.RefundRequestID != req.OutRefundNo || res.PaymentID != "" && res.PaymentID != paymentID {
		return nil, core.Errorf(core.EUNKNOWN, "Antom refund answered about another refund")
	}
	st := &core.RefundState{Status: core.RefundProcessing, ProviderRef: res.RefundID, Amount: req.Amount, RawStatus: "S"}
	if a.refundSync {
		st.Status = core.RefundSucceeded
	}
	if m, err := res.RefundAmount.money(); err == nil && m.Currency != "" {
		st.Amount = m
	}
	return st, nil
}

// QueryRefund implements core.Provider with inquiryRefund by the host's refundRequestId.
func (p *Provider) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.OutRefundNo == "" {
		return nil, core.Errorf(core.EINVALID, "out_refund_no is required")
	}
	var res inquiryRefundResponse
	if err := p.call(ctx, a, "inquiryRefund", read, map[string]string{"refundRequestId": req.OutRefundNo}, &res, &res.Result); err != nil {
		return nil, err
	}
	switch res.Result.ResultStatus {
	case "U":
		return nil, &core.Error{Code: core.EUNAVAILABLE, Message: "Antom inquiryRefund: unknown", ProviderCode: res.Result.ResultCode}
	case "F":
		e := failure("inquiryRefund", res.Result)
		if e.Code != core.ENOTFOUND && e.Code != core.ECONFIG {
			e.Code = core.EUNAVAILABLE
		}
		return nil, e
	}
	if res.RefundID == "" && res.RefundStatus == "" {
		return nil, core.Errorf(core.ENOTFOUND, "Antom knows no refund %s", req.OutRefundNo)
	}
	if res.RefundRequestID != "" && res.RefundRequestID != req.OutRefundNo {
		return nil, core.Errorf(core.EUNAVAILABLE, "Antom inquiryRefund answered about another refund")
	}
	st := &core.RefundState{ProviderRef: res.RefundID, RawStatus: res.RefundStatus}
	switch res.RefundStatus {
	case "SUCCESS":
		st.Status = core.RefundSucceeded
	case "FAIL":
		st.Status, st.FailureCode = core.RefundFailed, "FAIL"
	case "PROCESSING":
		st.Status = core.RefundProcessing
	default:
		return nil, core.Errorf(core.EUNAVAILABLE, "Antom inquiryRefund: unknown refundStatus %q", res.RefundStatus)
	}
	if st.Amount, err = res.RefundAmount.money(); err != nil {
		return nil, core.WrapError(core.EUNAVAILABLE, err, "Antom inquiryRefund: bad refundAmount")
	}
	return st, nil
}
