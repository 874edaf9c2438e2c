package alipayhk

import (
	"context"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Services of the HK product (alipayhk.md 6).
const (
	ServicePay         = mapi.ServiceAppPay
	ServiceQuery       = mapi.ServiceQuery
	ServiceRefund      = mapi.ServiceRefund
	ServiceRefundQuery = mapi.ServiceRefundQuery
)

// allowedExtras are the optional order parameters a merchant may pass through provider_extras
// (alipayhk.md 5.1); mapi.CheckExtra checks their values. Everything else is refused: an unknown
// key in the order string may get the order intercepted.
var allowedExtras = map[string]bool{
	"appenv": true, "trade_information": true, "refer_url": true,
	"secondary_merchant_id": true, "secondary_merchant_name": true, "secondary_merchant_industry": true,
}

// CreatePayment builds the signed SDK order string for the method's wallet. Everything is checked
// before anything is signed: HKD only, the HK amount limits, the app channel.
func (p *Provider) CreatePayment(_ context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	inst, ok := paymentInst[req.Method]
	if !ok {
		return nil, core.Errorf(core.EINVALID, "method %q is not offered by %s (want %s or %s)", req.Method, Name, MethodAlipayHK, MethodAlipay)
	}
	if req.Channel != "" && req.Channel != core.ChannelApp {
		return nil, core.Errorf(core.EINVALID, "channel %q is not offered by %s: the AlipayHK SDK product is app only", req.Channel, Name)
	}
	if req.Amount.Currency != "HKD" {
		return nil, core.Errorf(core.EINVALID, "%s accepts HKD only, not %q", Name, req.Amount.Currency)
	}
	rule := core.AmountRule{Currency: "HKD", Min: MinHKD, Max: MaxHKD}
	if err := req.Amount.Validate(); err != nil {
		return nil, err
	}
	if err := rule.Check(req.Amount); err != nil {
		return nil, err
	}
	if err := checkRef("out_trade_no", req.OutTradeNo, 64); err != nil {
		return nil, err
	}
	// The notification is the payment's proof: notify_url is required.
	if err := mapi.CheckURL("notify_url", req.NotifyURL); err != nil {
		return nil, err
	}
	if req.ReturnURL != "" {
		if err := mapi.CheckURL("return_url", req.ReturnURL); err != nil {
			return nil, err
		}
	}
	subject := req.Subject
	if subject == "" {
		subject = req.OutTradeNo
	}
	// The limits are bytes (String(256), String(400)), as the cross-border provider counts them,
	// and the content rules are its: no quotes or control characters, no `&name=` of a mapi
	// parameter and none of the names Alipay intercepts orders for (the notification echoes
	// these texts into its signed Format B string, where they could pass for fields).
	if err := mapi.CheckText("subject", subject, 256, true); err != nil {
		return nil, err
	}
	if err := mapi.CheckText("body", req.Description, 400, false); err != nil {
		return nil, err
	}
	params := make(map[string]string, 16+len(req.Extras)) // sized once: this is the hot path
	params["notify_url"] = req.NotifyURL
	params["return_url"] = req.ReturnURL
	params["out_trade_no"] = req.OutTradeNo
	params["subject"] = subject
	params["body"] = req.Description
	params["total_fee"] = mapi.FormatAmount(req.Amount)
	params["currency"] = "HKD"
	params["payment_inst"] = inst
	itBPay, err := mapi.ItBPayFor(req.ExpiresAt, p.now(), a.hk.itBPay)
	if err != nil {
		return nil, err
	}
	mapi.SetAppOrder(params, a.client.S, a.hk.productCode, itBPay)
	for k, v := range req.Extras {
		if !allowedExtras[k] {
			return nil, core.Errorf(core.EINVALID, "provider extra %q is not an AlipayHK order parameter", k)
		}
		if v == "" {
			continue
		}
		if _, err := mapi.CheckExtra(k, v); err != nil {
			return nil, err
		}
		params[k] = v
	}
	order, err := mapi.OrderString(params, a.hk.orderSigner)
	if err != nil {
		return nil, err
	}
	return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionSDKOrderString, Value: order}}, nil
}

// checkRef checks a merchant reference: present, not too long, and free of characters that
// would break the quoted order string or the form encoding's meaning.
func checkRef(name, v string, maxLen int) error {
	if v == "" {
		return core.Errorf(core.EINVALID, "%s is required", name)
	}
	if len(v) > maxLen {
		return core.Errorf(core.EINVALID, "%s is longer than %d characters", name, maxLen)
	}
	if strings.ContainsAny(v, "\"&= \t\r\n") {
		return core.Errorf(core.EINVALID, "%s must not contain quotes, &, = or spaces", name)
	}
	return nil
}

// VerifyClientResult checks the SDK's synchronous result: Alipay's signature over the echoed
// order, and that the echo is this payment (out_trade_no, total_fee, HKD, the method's wallet).
// It is a hint only; the notification or a query is the proof.
func (p *Provider) VerifyClientResult(_ context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	// Only HKD is ever ordered, and payment_inst names the method's wallet.
	want := mapi.Echo{OutTradeNo: req.OutTradeNo, Amount: req.Amount, Currency: "HKD", PaymentInst: paymentInst[req.Method]}
	return mapi.CheckSDKResult(a.client.S, req.Result, want), nil
}

// ParseNotification verifies and maps a notification with the shared mapi code. Since 2019-12
// the HK notification carries no payment_inst, so Wallet is usually empty: the wallet is known
// from the payment's method or from reconciliation (the Issue column). An amount without a
// currency field is HKD, the only currency of the product (the client's DefaultCurrency).
func (p *Provider) ParseNotification(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	return a.client.ParseNotification(ctx, req)
}

// QueryPayment asks single_trade_query for the trade (by trade_no when known, which the gateway
// prefers, and out_trade_no) and maps it with the shared mapi.TradeState.
func (p *Provider) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	// HK answers are HKD (the client's DefaultCurrency); a paid trade closed by a full refund
	// still reads as paid.
	return a.client.QueryTrade(ctx, req.OutTradeNo, req.ProviderRef)
}
