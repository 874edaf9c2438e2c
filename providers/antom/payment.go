package antom

import (
	"context"
	"net/url"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
)

// Extras a payment request may carry (provider_extras).
const (
	ExtraOSType   = "os_type"   // IOS or ANDROID: env.osType for the app and h5 channels
	ExtraClientIP = "client_ip" // env.clientIp
	ExtraQRFirst  = "qr_first"  // "true": on web, offer the QR code before the desktop page
)

var terminalTypes = map[core.Channel]string{core.ChannelApp: "APP", core.ChannelH5: "WAP", core.ChannelWeb: "WEB"}

// CreatePayment implements core.Provider: pay with CASHIER_PAYMENT. paymentRequestId is the
// host's out_trade_no, so a retry after an unknown outcome reuses the order, and Antom answers
// REPEAT_REQ_INCONSISTENT (a conflict) if anything that matters changed.
func (p *Provider) CreatePayment(ctx context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	w, ok := walletByMethod(req.Method)
	if !ok {
		return nil, core.Errorf(core.EINVALID, "method %q is not an Antom wallet", req.Method)
	}
	terminal, ok := terminalTypes[req.Channel]
	if !ok {
		return nil, core.Errorf(core.EINVALID, "channel %q is not offered (app, h5 or web)", req.Channel)
	}
	if err := w.check(req.Amount); err != nil {
		return nil, err
	}
	if req.OutTradeNo == "" || len(req.OutTradeNo) > 64 {
		return nil, core.Errorf(core.EINVALID, "out_trade_no must be 1 to 64 characters")
	}
	if err := checkURL("return_url", req.ReturnURL, true); err != nil {
		return nil, err
	}
	if err := checkURL("notify_url", req.NotifyURL, false); err != nil {
		return nil, err
	}
	e := &env{TerminalType: terminal}
	qrFirst := false
	for k, v := range req.Extras {
		switch k {
		case ExtraOSType:
			if v != "IOS" && v != "ANDROID" {
				return nil, core.Errorf(core.EINVALID, "provider_extras.%s must be IOS or ANDROID", k)
			}
			e.OSType = v
		case ExtraClientIP:
			e.ClientIP = v
		case ExtraQRFirst:
			qrFirst = v == "true"
		default:
			return nil, core.Errorf(core.EINVALID, "unknown provider_extras key %q (Antom takes %s, %s, %s)", k, ExtraOSType, ExtraClientIP, ExtraQRFirst)
		}
	}
	body := payRequest{
		ProductCode:      "CASHIER_PAYMENT",
		PaymentRequestID: req.OutTradeNo,
		Order: order{ReferenceOrderID: req.OutTradeNo, OrderDescription: truncate(req.Subject, 256),
			OrderAmount: toAmount(req.Amount), Env: e},
		PaymentAmount:      toAmount(req.Amount),
		PaymentRedirectURL: req.ReturnURL,
		PaymentNotifyURL:   req.NotifyURL,
		// env goes both in order and at the top level: the SDKs' demos disagree (antom.md 4.1).
		Env: e,
	}
	body.PaymentMethod.PaymentMethodType = w.typ
	if !req.ExpiresAt.IsZero() {
		exp := req.ExpiresAt
		if limit := p.now().Add(a.maxExpiry); exp.After(limit) {
			exp = limit
		}
		body.PaymentExpiryTime = expiryTime(exp)
	}
	if a.settleCur != "" {
		body.SettlementStrategy = &settlementStrategy{SettlementCurrency: a.settleCur}
	}
	var res payResponse
	if err := p.call(ctx, a, "pay", write, body, &res, &res.Result); err != nil {
		return nil, err
	}
	switch {
	case res.Result.ResultStatus == "F":
		return nil, failure("pay", res.Result)
	case res.Result.ResultStatus == "U" && res.Result.ResultCode != "PAYMENT_IN_PROCESS":
		return nil, &core.Error{Code: core.EUNKNOWN, Message: "Antom pay outcome unknown: " + res.Result.ResultCode, ProviderCode: res.Result.ResultCode}
	}
	// U/PAYMENT_IN_PROCESS (the wallet flow) or S: the order exists; hand the buyer over.
	if res.PaymentRequestID != "" && res.PaymentRequestID != req.OutTradeNo {
		return nil, core.Errorf(core.EUNKNOWN, "Antom pay answered about another payment request")
	}
	if res.PaymentID == "" {
		return nil, core.Errorf(core.EUNKNOWN, "Antom pay answered without a paymentId")
	}
	action, err := nextAction(req.Channel, &res, qrFirst)
	if err != nil {
		return nil, err
	}
	return &core.CreatePaymentResult{Action: action, ProviderRef: res.PaymentID}, nil
}

// nextAction orders the hand-offs Antom returned for the channel: an app prefers the app link
// (it falls back to a web page by itself), then the scheme, then the page; a mobile browser
// the app link, the page, then the scheme; a desktop the page (Antom's code-scanning page) and
// the QR code, or the QR code first when asked.
func nextAction(ch core.Channel, r *payResponse, qrFirst bool) (core.NextAction, error) {
	applink := core.NextAction{Type: core.ActionAppLink, Value: r.ApplinkURL, AppIdentifier: r.AppIdentifier}
	scheme := core.NextAction{Type: core.ActionDeepLink, Value: r.SchemeURL, AppIdentifier: r.AppIdentifier}
	page := core.NextAction{Type: core.ActionRedirectURL, Value: r.NormalURL}
	var qr core.NextAction
	if r.OrderCodeForm != nil {
		for _, c := range r.OrderCodeForm.CodeDetails {
			if c.CodeValueType == "QRCODE" && c.CodeValue != "" {
				qr = core.NextAction{Type: core.ActionQRCode, Value: c.CodeValue}
				break
			}
		}
	}
	var order []core.NextAction
	switch ch {
	case core.ChannelApp:
		order = []core.NextAction{applink, scheme, page}
	case core.ChannelH5:
		order = []core.NextAction{applink, page, scheme}
	default:
		order = []core.NextAction{page, qr}
		if qrFirst {
			order = []core.NextAction{qr, page}
		}
	}
	var out core.NextAction
	for _, a := range order {
		if a.Value == "" {
			continue
		}
		if a.Type != core.ActionAppLink && a.Type != core.ActionDeepLink {
			a.AppIdentifier = ""
		}
		if out.Type == "" {
			out = a
		} else {
			out.Fallbacks = append(out.Fallbacks, a)
		}
	}
	if out.Type == "" {
		return core.NextAction{}, core.Errorf(core.EUNKNOWN, "Antom pay answered without a way to hand the buyer over for channel %s", ch)
	}
	if err := out.Validate(); err != nil {
		return core.NextAction{}, core.WrapError(core.EUNKNOWN, err, "Antom pay answered with an unusable hand-off")
	}
	return out, nil
}

// QueryPayment implements core.Provider with inquiryPayment, asked by the host's
// paymentRequestId. An answer about another payment request or payment id changes nothing.
func (p *Provider) QueryPayment(ctx context.Context, req *core.QueryPaymentRequest) (*core.PaymentState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	res, err := p.inquire(ctx, a, req.OutTradeNo, req.ProviderRef)
	if err != nil {
		return nil, err
	}
	st := &core.PaymentState{ProviderRef: res.PaymentID, RawStatus: res.PaymentStatus}
	switch res.PaymentStatus {
	case "SUCCESS":
		st.Status, st.PaidAt = core.PaymentSucceeded, parseTime(res.PaymentTime)
	case "FAIL":
		st.Status = core.PaymentFailed
	case "CANCELLED":
		st.Status = core.PaymentClosed
	case "PROCESSING", "PENDING":
		st.Status = core.PaymentPending
	default:
		return nil, core.Errorf(core.EUNAVAILABLE, "Antom inquiryPayment: unknown paymentStatus %q", res.PaymentStatus)
	}
	if st.Amount, err = res.PaymentAmount.money(); err != nil {
		return nil, core.WrapError(core.EUNAVAILABLE, err, "Antom inquiryPayment: bad paymentAmount")
	}
	return st, nil
}

func (p *Provider) inquire(ctx context.Context, a *account, outTradeNo, paymentID string) (*inquiryPaymentResponse, error) {
	if outTradeNo == "" {
		return nil, core.Errorf(core.EINVALID, "out_trade_no is required")
	}
	var res inquiryPaymentResponse
	if err := p.call(ctx, a, "inquiryPayment", read, map[string]string{"paymentRequestId": outTradeNo}, &res, &res.Result); err != nil {
		return nil, err
	}
	switch res.Result.ResultStatus {
	case "F":
		e := failure("inquiryPayment", res.Result)
		if e.Code != core.ENOTFOUND && e.Code != core.ECONFIG {
			e.Code = core.EUNAVAILABLE
		}
		return nil, e
	case "U":
		return nil, &core.Error{Code: core.EUNAVAILABLE, Message: "Antom inquiryPayment: unknown", ProviderCode: res.Result.ResultCode}
	}
	if res.PaymentRequestID != "" && res.PaymentRequestID != outTradeNo || paymentID != "" && res.PaymentID != "" && res.PaymentID != paymentID {
		return nil, core.Errorf(core.EUNAVAILABLE, "Antom inquiryPayment answered about another payment")
	}
	return &res, nil
}

// Close implements core.PaymentCloser with cancel. Cancelling a paid payment refunds the
// buyer, so the state is read first: a payment that succeeded or awaits its final result
// (PENDING) is answered as it is and not cancelled.
func (p *Provider) Close(ctx context.Context, req *core.ClosePaymentRequest) (*core.PaymentState, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	st, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: req.Account, OutTradeNo: req.OutTradeNo, ProviderRef: req.ProviderRef})
	if err != nil {
		return nil, err
	}
	if st.Status != core.PaymentPending || st.RawStatus == "PENDING" {
		return st, nil
	}
	var res cancelResponse
	if err := p.call(ctx, a, "cancel", write, map[string]string{"paymentRequestId": req.OutTradeNo}, &res, &res.Result); err != nil {
		return nil, err
	}
	switch res.Result.ResultStatus {
	case "S":
		if res.PaymentRequestID != "" && res.PaymentRequestID != req.OutTradeNo {
			return nil, core.Errorf(core.EUNKNOWN, "Antom cancel answered about another payment request")
		}
		return &core.PaymentState{Status: core.PaymentClosed, ProviderRef: st.ProviderRef, RawStatus: "CANCELLED"}, nil
	case "U":
		return nil, &core.Error{Code: core.EUNKNOWN, Message: "Antom cancel outcome unknown", ProviderCode: res.Result.ResultCode}
	}
	return nil, failure("cancel", res.Result)
}

func checkURL(name, v string, required bool) error {
	if v == "" {
		if required {
			return core.Errorf(core.EINVALID, "%s is required: Antom sends the buyer back there", name)
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2048 {
		return core.Errorf(core.EINVALID, "%s must be an absolute http(s) URL of at most 2048 characters", name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
