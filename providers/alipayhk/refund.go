package alipayhk

import (
	"context"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/providers/mapi"
)

// Refund calls the HK forex_refund: return_amount in HKD, currency HKD, a reason (required by
// HK), gmt_return in the configured layout and is_sync per the account. With is_sync=N an
// accepted refund is processing and its result comes by notification (only on success, per the
// docs) or by QueryRefund; with is_sync=Y the answer is the final result. The gateway's
// refusals carry their code; timeouts and faults are EUNKNOWN, never a failure.
func (p *Provider) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.Amount.Currency != "HKD" {
		return nil, core.Errorf(core.EINVALID, "%s refunds in HKD only, not %q", Name, req.Amount.Currency)
	}
	if err := req.Amount.Validate(); err != nil {
		return nil, err
	}
	if req.PaymentAmount.Currency != "" && req.Amount.Value > req.PaymentAmount.Value {
		return nil, core.Errorf(core.EINVALID, "refund of %s exceeds the payment's %s", req.Amount.Decimal(), req.PaymentAmount.Decimal())
	}
	if err := checkRef("out_trade_no", req.OutTradeNo, 64); err != nil {
		return nil, err
	}
	if err := checkRef("out_refund_no", req.OutRefundNo, 64); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = a.hk.refundReason
	}
	if strings.ContainsRune(reason, '"') {
		return nil, core.Errorf(core.EINVALID, "refund reason must not contain a double quote")
	}
	isSync := "N"
	if a.hk.refundSync {
		isSync = "Y"
	}
	params := map[string]string{
		"service":       ServiceRefund,
		"out_return_no": req.OutRefundNo,
		"out_trade_no":  req.OutTradeNo,
		"return_amount": mapi.FormatAmount(req.Amount),
		"currency":      "HKD",
		"gmt_return":    p.now().In(mapi.Beijing).Format(a.hk.gmtReturnLayout),
		"reason":        reason,
		"is_sync":       isSync,
	}
	if isSync == "N" {
		params["notify_url"] = req.NotifyURL
	}
	r, err := a.client.Call(ctx, params)
	if err != nil {
		return nil, err
	}
	st := &core.RefundState{Status: core.RefundProcessing, Amount: req.Amount, RawStatus: "T"}
	if isSync == "Y" {
		st.Status = core.RefundSucceeded
	}
	st.ProviderRef = r.Fields["trade_no"]
	return st, nil
}

// QueryRefund asks alipay.acquire.refund.query for a refund's state. response_code other than
// SUCCESS is the query's own outcome (NOT_FOUND, TRADE_NOT_EXIST: no such refund or trade).
func (p *Provider) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if err := checkRef("out_trade_no", req.OutTradeNo, 64); err != nil {
		return nil, err
	}
	if err := checkRef("out_refund_no", req.OutRefundNo, 64); err != nil {
		return nil, err
	}
	params := map[string]string{"service": ServiceRefundQuery, "out_trade_no": req.OutTradeNo, "out_return_no": req.OutRefundNo}
	r, err := a.client.Call(ctx, params)
	if err != nil {
		return nil, err
	}
	if code := r.Fields["response_code"]; code != "" && code != "SUCCESS" {
		return nil, mapi.GatewayError(ServiceRefundQuery, code)
	}
	st := &core.RefundState{
		ProviderRef: r.Fields["trade_no"],
		RawStatus:   r.Fields["refund_result_code"],
		FailureCode: r.Fields["refund_error_code"],
	}
	var ok bool
	if st.Status, ok = mapi.RefundStatus(st.RawStatus); !ok {
		return nil, &core.Error{Code: core.EUNKNOWN, Message: ServiceRefundQuery + ": unknown refund_result_code; query later", ProviderCode: clip(st.RawStatus, 40)}
	}
	if st.Status != core.RefundFailed {
		st.FailureCode = ""
	}
	for _, k := range []string{"return_amount", "refund_amount"} {
		if v := r.Fields[k]; v != "" {
			cur := r.Fields["currency"]
			if cur == "" {
				cur = "HKD"
			}
			if st.Amount, err = mapi.ParseAmount(v, cur); err != nil {
				return nil, core.WrapError(core.EUNKNOWN, err, "%s: unreadable %s", ServiceRefundQuery, k)
			}
			break
		}
	}
	return st, nil
}

// fillHKDAmounts gives a verified notification's events their amount when the notification
// carries total_fee or return_amount but no currency field: the HK product knows only HKD.
// The fields are read again from the body that mapi has already verified.
func fillHKDAmounts(res *core.NotificationResult, req *core.NotificationRequest) {
	need := false
	for _, ev := range res.Events {
		if ev.Amount.Currency == "" {
			need = true
		}
	}
	if !need {
		return
	}
	ct := ""
	for k, v := range req.Header {
		if strings.EqualFold(k, "Content-Type") && len(v) > 0 {
			ct = v[0]
		}
	}
	fields, err := notify.DecodeForm(req.Body, ct)
	if err != nil || fields["currency"] != "" {
		return
	}
	for i := range res.Events {
		ev := &res.Events[i]
		if ev.Amount.Currency != "" {
			continue
		}
		v := fields["total_fee"]
		if ev.Kind == core.EventRefund {
			v = fields["return_amount"]
		}
		if m, err := mapi.ParseAmount(v, "HKD"); err == nil && v != "" {
			ev.Amount = m
		}
	}
}
