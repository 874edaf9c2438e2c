package alipay

import (
	"context"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Server-side services.
const (
	ServiceQuery       = mapi.ServiceQuery
	ServiceRefund      = mapi.ServiceRefund
	ServiceRefundQuery = mapi.ServiceRefundQuery
)

// ParseNotification verifies a trade_status_sync or refund_status_sync notification (by its
// sign_type, which must be of the account's family: RSA or RSA2 for an RSA-family account, MD5
// for an MD5 one; narrowed by accept_sign_types), binds it to the account's merchant
// (mapi.Client.ParseNotification: notify_verify by default) and maps it.
func (p *Provider) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	res, err := a.client.ParseNotification(ctx, req)
	if err != nil {
		return nil, err
	}
	if !res.Verified && !res.Pending {
		p.logger().Warn("notification rejected", "account", req.Account, "reason", res.RejectReason)
	}
	return res, nil
}

// QueryPayment asks single_trade_query (by trade_no and out_trade_no, whichever are known);
// amounts without a currency field are in the settlement currency.
func (p *Provider) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	return a.client.QueryTrade(ctx, req.OutTradeNo, req.ProviderRef)
}

// Refund calls forex_refund with the host's refund number as out_return_no (the gateway's
// idempotency key). A refund of a CNY-priced payment is return_rmb_amount; the currency
// parameter is always the settlement currency. is_sync=Y answers with the result (succeeded);
// is_sync=N only accepts it (processing) and the result comes by notification or query.
func (p *Provider) Refund(ctx context.Context, req *core.RefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if !reTradeNo.MatchString(req.OutRefundNo) || !reTradeNo.MatchString(req.OutTradeNo) {
		return nil, core.Errorf(core.EINVALID, "out_trade_no and out_refund_no must be 1-64 letters, digits, '_' or '-'")
	}
	if err := checkMoney(req.Amount); err != nil {
		return nil, err
	}
	if err := mapi.CheckRefundAmount(req.Amount, req.PaymentAmount); err != nil {
		return nil, err
	}
	params := map[string]string{
		"service":       ServiceRefund,
		"out_return_no": req.OutRefundNo,
		"out_trade_no":  req.OutTradeNo,
		"currency":      a.currency,
		"gmt_return":    p.clock().In(mapi.Beijing).Format(mapi.LayoutCompact),
		"reason":        strings.NewReplacer(`"`, "", "\n", " ", "\r", " ").Replace(req.Reason),
		"product_code":  a.productCode,
		"is_sync":       "N",
	}
	switch req.Amount.Currency {
	case "CNY":
		params["return_rmb_amount"] = mapi.FormatAmount(req.Amount)
	case a.currency:
		params["return_amount"] = mapi.FormatAmount(req.Amount)
	default:
		return nil, core.Errorf(core.EINVALID, "refund must be in %s or CNY, not %s", a.currency, req.Amount.Currency)
	}
	if a.refundSync {
		params["is_sync"] = "Y"
	}
	if req.NotifyURL != "" {
		if err := mapi.CheckURL("notify_url", req.NotifyURL); err != nil {
			return nil, err
		}
		params["notify_url"] = req.NotifyURL
	}
	if _, err := a.client.Call(ctx, params); err != nil {
		return nil, err
	}
	st := &core.RefundState{Status: core.RefundProcessing, Amount: req.Amount, RawStatus: "ACCEPTED"}
	if a.refundSync {
		st.Status, st.RawStatus = core.RefundSucceeded, "SUCCESS"
	}
	return st, nil
}

// QueryRefund asks alipay.acquire.refund.query.
func (p *Provider) QueryRefund(ctx context.Context, req *core.QueryRefundRequest) (*core.RefundState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	return a.client.QueryRefund(ctx, req.OutTradeNo, req.OutRefundNo)
}

// FetchSettlement streams the account's forex_compare_file (or forex_liquidation_file) records.
func (p *Provider) FetchSettlement(ctx context.Context, req *core.SettlementRequest, yield func(*core.SettlementRecord) error) error {
	a, err := p.account(req.Account)
	if err != nil {
		return err
	}
	service := mapi.ServiceCompareFile
	if a.settlement == "liquidation" {
		service = mapi.ServiceLiquidationFile
	}
	return a.client.FetchSettlement(ctx, service, req.From, req.To, func(r *core.SettlementRecord) error {
		r.Wallet = "ALIPAYCN"
		return yield(r)
	})
}

// FetchRates returns today's forex_rate_file (CNY per unit of each currency). It is not part
// of core.Provider: in-process callers (the CLI) use it directly.
func (p *Provider) FetchRates(ctx context.Context, accountName string) ([]mapi.Rate, error) {
	a, err := p.account(accountName)
	if err != nil {
		return nil, err
	}
	return a.client.FetchRates(ctx)
}
