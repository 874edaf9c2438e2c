package alipayhk

import (
	"context"
	"strings"

	"github.com/paymux/paymux/core"
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
	if err := mapi.CheckRefundAmount(req.Amount, req.PaymentAmount); err != nil {
		return nil, err
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
	return a.client.QueryRefund(ctx, req.OutTradeNo, req.OutRefundNo)
}
