package alipay

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Service names of the three payment channels.
const (
	ServiceApp = mapi.ServiceAppPay
	ServiceH5  = "create_forex_trade_wap"
	// ServiceWeb is the desktop cashier (alipay-h5.md section 5): the buyer logs in or scans
	// a QR code with the Alipay app.
	ServiceWeb = "create_forex_trade"
	// ProductCodeWeb is the desktop product; the app and h5 channels use the account's
	// product_code (NEW_WAP_OVERSEAS_SELLER by default).
	ProductCodeWeb = "NEW_OVERSEAS_SELLER"
)

// Extras of the web channel only: how the desktop cashier shows its QR code, chosen per
// payment. qr_pay_mode 0, 1 and 3 put the code in front of the cashier at decreasing sizes, 2
// is a plain redirect to the cashier (the default when unset), 4 an embeddable code of
// qrcode_width pixels. That mode 4 with a width exists for cross-border is seen in one source;
// the other values follow Alipay's desktop products and are unconfirmed there.
const (
	ExtraQRPayMode  = "qr_pay_mode"
	ExtraQRCodeWide = "qrcode_width"
)

var qrPayModes = []string{"0", "1", "2", "3", "4"}

// Extras are the provider_extras a payment may carry; each is passed through as the parameter of
// the same name after validation. Anything else is an EINVALID error naming it.
var Extras = []string{
	"trade_information", "refer_url", "split_fund_info",
	"secondary_merchant_id", "secondary_merchant_name", "secondary_merchant_industry",
}

var reTradeNo = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)

// CreatePayment builds the SDK order string (app) or the signed redirect URL (h5).
func (p *Provider) CreatePayment(_ context.Context, req *core.CreatePaymentRequest) (*core.CreatePaymentResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.Method != "" && req.Method != MethodID {
		return nil, core.Errorf(core.EINVALID, "provider %s has no method %q", Name, req.Method)
	}
	extras := req.Extras
	var qrMode, qrWidth string
	if req.Channel == core.ChannelWeb {
		// The desktop display options are this channel's; the shared extras go on as usual.
		extras = maps.Clone(req.Extras)
		qrMode, qrWidth = extras[ExtraQRPayMode], extras[ExtraQRCodeWide]
		delete(extras, ExtraQRPayMode)
		delete(extras, ExtraQRCodeWide)
	}
	r := *req
	r.Extras = extras
	params, err := a.orderParams(&r)
	if err != nil {
		return nil, err
	}
	switch req.Channel {
	case core.ChannelApp:
		if a.appSigner == nil {
			return nil, core.Errorf(core.ECONFIG, "the app channel needs setting %s (the order string is RSA-signed)", mapi.SetPrivateKeyFile)
		}
		itb, err := mapi.ItBPayFor(req.ExpiresAt, p.clock(), a.itBPay)
		if err != nil {
			return nil, err
		}
		mapi.SetAppOrder(params, a.mapi, a.productCode, itb)
		s, err := mapi.OrderString(params, a.appSigner)
		if err != nil {
			return nil, err
		}
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionSDKOrderString, Value: s}}, nil
	case core.ChannelH5:
		params["service"] = ServiceH5
		if req.ReturnURL != "" {
			if err := mapi.CheckURL("return_url", req.ReturnURL); err != nil {
				return nil, err
			}
			params["return_url"] = req.ReturnURL
		}
		if err := a.h5Timeout(params, req.ExpiresAt, p.clock()); err != nil {
			return nil, err
		}
		if a.h5AppPay {
			params["app_pay"] = "Y"
		}
		u, err := a.client.RedirectURL(params)
		if err != nil {
			return nil, err
		}
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionRedirectURL, Value: u}}, nil
	case core.ChannelWeb:
		params["service"] = ServiceWeb
		params["product_code"] = ProductCodeWeb
		if req.ReturnURL != "" {
			if err := mapi.CheckURL("return_url", req.ReturnURL); err != nil {
				return nil, err
			}
			params["return_url"] = req.ReturnURL
		}
		if err := a.h5Timeout(params, req.ExpiresAt, p.clock()); err != nil {
			return nil, err
		}
		switch {
		case qrMode != "" && !slices.Contains(qrPayModes, qrMode):
			return nil, core.Errorf(core.EINVALID, "provider_extras.%s must be one of %s", ExtraQRPayMode, strings.Join(qrPayModes, ", "))
		case (qrMode == "4") != (qrWidth != ""):
			return nil, core.Errorf(core.EINVALID, "provider_extras.%s goes with %s 4, and 4 needs it", ExtraQRCodeWide, ExtraQRPayMode)
		case qrWidth != "":
			if n, err := strconv.Atoi(qrWidth); err != nil || n < 50 || n > 1000 {
				return nil, core.Errorf(core.EINVALID, "provider_extras.%s must be a whole number of pixels from 50 to 1000", ExtraQRCodeWide)
			}
			params[ExtraQRCodeWide] = qrWidth
		}
		if qrMode != "" {
			params[ExtraQRPayMode] = qrMode
		}
		u, err := a.client.RedirectURL(params)
		if err != nil {
			return nil, err
		}
		// A redirect in every mode: with a QR mode the page is the code itself, for the merchant
		// to show in a frame of its checkout; without one (or 2) it is the whole cashier.
		return &core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionRedirectURL, Value: u}}, nil
	}
	return nil, core.Errorf(core.EINVALID, "channel %q is not offered (app, h5 or web)", req.Channel)
}

// orderParams builds the parameters both channels share: order, amount, product, extras.
func (a *account) orderParams(req *core.CreatePaymentRequest) (map[string]string, error) {
	if !reTradeNo.MatchString(req.OutTradeNo) {
		return nil, core.Errorf(core.EINVALID, "out_trade_no must be 1-64 letters, digits, '_' or '-'")
	}
	if err := mapi.CheckText("subject", req.Subject, 256, true); err != nil {
		return nil, err
	}
	if err := mapi.CheckText("body", req.Description, 400, false); err != nil {
		return nil, err
	}
	if err := mapi.CheckURL("notify_url", req.NotifyURL); err != nil {
		return nil, err
	}
	params := map[string]string{
		"out_trade_no": req.OutTradeNo,
		"subject":      req.Subject,
		"body":         req.Description,
		"notify_url":   req.NotifyURL,
		"forex_biz":    "FP",
		"product_code": a.productCode,
	}
	if err := a.priceParams(params, req.Amount); err != nil {
		return nil, err
	}
	if err := a.extraParams(params, req.Extras, req.Amount); err != nil {
		return nil, err
	}
	return params, nil
}

// priceParams sets total_fee or rmb_fee (exclusive) and currency: a CNY amount is priced with
// rmb_fee and settles in the account's currency; any other amount must be in the settlement
// currency and goes in total_fee.
func (a *account) priceParams(params map[string]string, m core.Money) error {
	if err := checkMoney(m); err != nil {
		return err
	}
	params["currency"] = a.currency
	switch m.Currency {
	case "CNY":
		params["rmb_fee"] = mapi.FormatAmount(m)
	case a.currency:
		params["total_fee"] = mapi.FormatAmount(m)
	default:
		return core.Errorf(core.EINVALID, "this account settles in %s: the amount must be in %s (total_fee) or CNY (rmb_fee), not %s", a.currency, a.currency, m.Currency)
	}
	return nil
}

// checkMoney applies the declared rules (the host checks them first; the provider does not
// trust that).
func checkMoney(m core.Money) error {
	for _, r := range amountRules {
		if r.Currency == m.Currency {
			if err := m.Validate(); err != nil {
				return err
			}
			return r.Check(m)
		}
	}
	return core.Errorf(core.EINVALID, "currency %q is not accepted by %s", m.Currency, Name)
}

func (a *account) extraParams(params, extras map[string]string, amount core.Money) error {
	var unknown []string
	for k := range extras {
		if !slices.Contains(Extras, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return core.Errorf(core.EINVALID, "unknown provider extras: %s (accepted: %s)", strings.Join(unknown, ", "), strings.Join(Extras, ", "))
	}
	for _, k := range Extras {
		v := extras[k]
		if v == "" {
			continue
		}
		var err error
		if k == "split_fund_info" {
			err = a.checkSplitFund(v, amount)
			if err == nil && a.singleQuote {
				v = strings.ReplaceAll(v, `"`, `'`)
			}
		} else {
			_, err = mapi.CheckExtra(k, v)
		}
		if err != nil {
			return err
		}
		params[k] = v
	}
	return nil
}

type splitEntry struct {
	TransIn  string `json:"transIn"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Desc     string `json:"desc"`
}

// checkSplitFund requires a JSON array of 1-10 splits in the payment's pricing currency whose
// amounts parse and do not exceed the payment.
func (a *account) checkSplitFund(v string, amount core.Money) error {
	var splits []splitEntry
	if err := json.Unmarshal([]byte(v), &splits); err != nil {
		return core.Errorf(core.EINVALID, "split_fund_info must be a JSON array of {transIn, amount, currency, desc}: %v", err)
	}
	if len(splits) == 0 || len(splits) > 10 {
		return core.Errorf(core.EINVALID, "split_fund_info must have 1 to 10 entries, has %d", len(splits))
	}
	total := core.Money{Currency: amount.Currency}
	for i, s := range splits {
		if !strings.HasPrefix(s.TransIn, "2088") || len(s.TransIn) != 16 {
			return core.Errorf(core.EINVALID, "split_fund_info[%d].transIn must be a 2088 partner id", i)
		}
		if s.Currency != amount.Currency {
			return core.Errorf(core.EINVALID, "split_fund_info[%d].currency must be %s (the payment's pricing currency)", i, amount.Currency)
		}
		m, err := core.ParseMoney(s.Amount, s.Currency)
		if err != nil || m.Value <= 0 {
			return core.Errorf(core.EINVALID, "split_fund_info[%d].amount %q is not a positive amount in %s", i, s.Amount, s.Currency)
		}
		if total, err = total.Add(m); err != nil {
			return err
		}
	}
	if total.Value > amount.Value {
		return core.Errorf(core.EINVALID, "split_fund_info splits %s, more than the payment's %s", total.Decimal(), amount.Decimal())
	}
	return nil
}

// VerifyClientResult checks the app SDK's synchronous result (or, for h5, the parameters of the
// return to return_url: see verifyReturn): the signature of everything before
// `&sign_type=` (Alipay's key), success="true", and that the echo is this order of this
// partner for this amount. Even when verified it is a hint; the host waits for the notification
// or a query.
func (p *Provider) VerifyClientResult(_ context.Context, req *core.ClientResultRequest) (*core.ClientResult, error) {
	a, err := p.account(req.Account)
	if err != nil {
		return nil, err
	}
	if req.Result["resultStatus"] == "" && req.Result["sign"] != "" {
		return a.verifyReturn(req), nil
	}
	return mapi.CheckSDKResult(a.mapi, req.Result, mapi.Echo{OutTradeNo: req.OutTradeNo, Amount: req.Amount, Currency: a.currency}), nil
}

// verifyReturn checks the parameters of the h5 return to return_url (alipay-h5.md §7): Format B
// over every received field (no whitelist: rmb_fee must be included), with the '+' that query
// decoding turns into ' ' restored in the signature, then the echo. No notify_verify: the return
// carries no notify_id. A verified return is still a hint (it has no nonce and can be replayed).
func (a *account) verifyReturn(req *core.ClientResultRequest) *core.ClientResult {
	f := req.Result
	res := &core.ClientResult{Status: core.PaymentPending}
	if st, ok := mapi.PaymentStatus(f["trade_status"]); ok {
		res.Status = st
	}
	fields := make(map[string]string, len(f))
	for k, v := range f {
		fields[k] = v
	}
	fields["sign"] = strings.ReplaceAll(f["sign"], " ", "+")
	if reason := mapi.VerifyFields(a.mapi, fields); reason != "" {
		res.Message = "return: " + reason
		return res
	}
	switch {
	case mapi.BindMerchant(a.mapi, f) == mapi.MerchantForeign:
		res.Message = "return: " + core.RejectForeignMerchant
	case f["out_trade_no"] != req.OutTradeNo:
		res.Message = "return is for another order"
	case f["currency"] != "" && f["currency"] != a.currency:
		res.Message = "return currency differs from the account's " + a.currency
	case req.Amount.Currency == "CNY" && !sameAmount(f["rmb_fee"], req.Amount):
		res.Message = "return rmb_fee differs from the payment's " + req.Amount.String()
	case req.Amount.Currency != "CNY" && !sameAmount(f["total_fee"], req.Amount):
		res.Message = "return total_fee differs from the payment's " + req.Amount.String()
	default:
		res.Verified = true
	}
	return res
}

func sameAmount(s string, m core.Money) bool {
	got, err := mapi.ParseAmount(s, m.Currency)
	return err == nil && got == m
}

// h5Timeout sets timeout_rule of the page channels (h5 and web) from the payment's expiry (mapi.TimeoutRuleFor: the wallet closes an
// unpaid trade no later than paymux expires it) and the anchor field that makes it count from the
// order's creation rather than from the buyer's login (alipay-h5.md 3.2; which of the two
// documented fields the WAP gateway honours is UNCONFIRMED, hence h5_timeout_anchor). A payment
// without expiry lives DefaultExpiry.
func (a *account) h5Timeout(params map[string]string, expires, now time.Time) error {
	if expires.IsZero() {
		expires = now.Add(DefaultExpiry)
	}
	rule, err := mapi.TimeoutRuleFor(expires, now, a.timeoutMax)
	if err != nil {
		return err
	}
	params["timeout_rule"] = rule
	switch a.timeoutAnchor {
	case "order_create":
		params["order_create"] = strconv.FormatInt(now.Unix(), 10)
	case "order_gmt_create":
		params["order_gmt_create"] = now.In(mapi.Beijing).Format(mapi.LayoutDateTime)
		params["order_valid_time"] = strconv.FormatInt(int64(expires.Sub(now)/time.Second), 10)
	}
	return nil
}
