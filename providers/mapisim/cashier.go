package mapisim

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// ServiceDesktop is the desktop cashier's service (alipay-h5.md §5): the same request as
// create_forex_trade_wap with product_code NEW_OVERSEAS_SELLER and the QR display modes.
const ServiceDesktop = "create_forex_trade"

// QRPayModes are the qr_pay_mode values the desktop cashier accepts: 0, 1 and 3 are the QR code
// in front of the cashier at decreasing sizes, 2 is the redirect to the cashier, 4 an embedded QR
// code of qrcode_width pixels (alipay-h5.md §5: 4 with a width is seen [C1]; the others follow
// Alipay's desktop page products and are unconfirmed for cross-border).
var QRPayModes = []string{"0", "1", "2", "3", "4"}

// checkWap checks a create_forex_trade_wap or create_forex_trade request (alipay-h5.md §3-§5,
// §9) and returns the order to open, or an *Error whose code the error page shows.
func (s *Sim) checkWap(params map[string]string) (*checkedOrder, error) {
	s.mu.Lock()
	ps := s.partners[params["partner"]]
	s.mu.Unlock()
	if ps == nil {
		return nil, gwErr("ILLEGAL_PARTNER", "unknown partner")
	}
	desktop := params["service"] == ServiceDesktop
	if !strings.EqualFold(params["_input_charset"], "utf-8") {
		// The desktop service also takes GBK; the simulator reads UTF-8 only.
		return nil, gwErr("ILLEGAL_CHARSET", "%s takes UTF-8 here", clip(params["service"]))
	}
	v, code := s.verifierFor(ps, params["sign_type"])
	if code != "" {
		return nil, gwErr(code, "sign_type %q", clip(params["sign_type"]))
	}
	if params["sign"] == "" || v.Verify(signing.CanonicalB(params), params["sign"]) != nil {
		return nil, gwErr("ILLEGAL_SIGN", "signature does not verify")
	}
	p := make(map[string]string, len(params))
	for k, val := range params {
		if k != "sign" && k != "sign_type" && val != "" {
			p[k] = val
		}
	}
	for _, f := range []string{"out_trade_no", "subject"} {
		if p[f] == "" {
			return nil, gwErr("ILLEGAL_ARGUMENT", "%s is required", f)
		}
	}
	switch {
	case desktop && p["product_code"] != "NEW_OVERSEAS_SELLER":
		return nil, gwErr("ILLEGAL_ARGUMENT", "product_code must be NEW_OVERSEAS_SELLER for create_forex_trade")
	case !desktop && p["product_code"] != "" && p["product_code"] != "NEW_WAP_OVERSEAS_SELLER":
		return nil, gwErr("ILLEGAL_ARGUMENT", "product_code must be NEW_WAP_OVERSEAS_SELLER")
	case !desktop && (p["qr_pay_mode"] != "" || p["qrcode_width"] != ""):
		return nil, gwErr("ILLEGAL_ARGUMENT", "qr_pay_mode is for create_forex_trade only")
	case desktop && p["qr_pay_mode"] != "" && !slices.Contains(QRPayModes, p["qr_pay_mode"]):
		return nil, gwErr("ILLEGAL_ARGUMENT", "qr_pay_mode %q", clip(p["qr_pay_mode"]))
	case desktop && (p["qr_pay_mode"] == "4") != (p["qrcode_width"] != ""):
		return nil, gwErr("ILLEGAL_ARGUMENT", "qrcode_width goes with qr_pay_mode 4 only")
	}
	c, err := s.checkOrderFields(ps, &OrderString{SignType: params["sign_type"]}, p)
	if err != nil {
		return nil, err
	}
	if tr := p["timeout_rule"]; tr != "" {
		d, _, err := parseItBPay(tr)
		if err != nil || d <= 0 {
			return nil, gwErr("ILLEGAL_TIMEOUT_RULE", "timeout_rule %q", clip(tr))
		}
		c.expiry = d
	}
	return c, nil
}

// createWap opens the H5 trade (no trade_no until the buyer pays) and returns its cashier token.
func (s *Sim) createWap(params map[string]string) (string, error) {
	c, err := s.checkWap(params)
	if err != nil {
		return "", err
	}
	channel := "h5"
	if params["service"] == ServiceDesktop {
		channel = "web"
	}
	o, err := s.openOrder(c, channel)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	so := s.orders[orderKey{o.Partner, o.OutTradeNo}]
	if so == nil {
		return "", gwErr("SYSTEM_EXCEPTION", "order evicted")
	}
	if so.Token == "" {
		so.Token = s.tokenLocked()
		s.tokens[so.Token] = orderKey{o.Partner, o.OutTradeNo}
	}
	return so.Token, nil
}

// createForexTradeWap answers the browser: 302 to the cashier, or the HTML error page the real
// gateway shows (HTTP 200, message in <div class="Todo">).
func (s *Sim) createForexTradeWap(w http.ResponseWriter, r *http.Request, params map[string]string) {
	if s.gatewayFault(w, r, params["partner"], params["service"]) {
		return
	}
	token, err := s.createWap(params)
	if err != nil {
		writeErrorPage(w, codeOf(err))
		return
	}
	to := "/cashier/" + token
	if m := params["qr_pay_mode"]; m != "" && m != "2" {
		// The QR modes answer with the code itself, for the merchant's page to embed.
		to += "?qr_pay_mode=" + url.QueryEscape(m) + "&qrcode_width=" + url.QueryEscape(params["qrcode_width"])
	}
	http.Redirect(w, r, to, http.StatusFound)
}

var errorPage = template.Must(template.New("e").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>支付宝 - 网上支付 安全快速！</title></head>
<body><div class="Todo">调试错误，请回到请求来源地，重新发起请求。<br>错误代码 {{.}}</div></body></html>
`))

func writeErrorPage(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	errorPage.Execute(w, code)
}

var cashierPage = template.Must(template.New("c").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Alipay cashier (simulator)</title></head>
<body>
<h1>Alipay cashier <small>(mapisim)</small></h1>
<dl>
<dt>Merchant</dt><dd id="merchant">{{.Merchant}}</dd>
<dt>Subject</dt><dd id="subject">{{.Subject}}</dd>
<dt>Amount</dt><dd id="amount">{{.Amount}} {{.Currency}}</dd>
{{if .Wallet}}<dt>Wallet</dt><dd id="wallet">{{.Wallet}}</dd>{{end}}
{{if .Desktop}}<dt>Cashier</dt><dd id="desktop">desktop{{if .QRMode}}, QR mode {{.QRMode}}{{if .QRWidth}} ({{.QRWidth}} px){{end}}{{end}}</dd>
<dt>Scan to pay</dt><dd><code id="qrcode">{{.QRCode}}</code></dd>{{end}}
</dl>
<form method="post" action="/cashier/{{.Token}}/pay"><button type="submit" name="action" value="pay">Pay</button></form>
<form method="post" action="/cashier/{{.Token}}/cancel"><button type="submit" name="action" value="cancel">Cancel</button></form>
</body></html>
`))

var donePage = template.Must(template.New("d").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Alipay cashier (simulator)</title></head>
<body><p id="message">{{.Message}}</p>{{if .Back}}<p><a href="{{.Back}}">Back to the merchant</a></p>{{end}}</body></html>
`))

// serveCashier serves GET /cashier/{token}, POST /cashier/{token}/pay and /cashier/{token}/cancel.
func (s *Sim) serveCashier(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/cashier/")
	token, action, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	k, ok := s.tokens[token]
	var o Order
	var name string
	if ok {
		if so := s.orders[k]; so != nil {
			o = copyOrder(so)
			if ps := s.partners[k.Partner]; ps != nil {
				name = ps.Name
			}
		} else {
			ok = false
		}
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or expired cashier session", http.StatusNotFound)
		return
	}
	if name == "" {
		name = "Merchant " + o.Partner
	}
	switch {
	case action == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		wallet := map[string]string{"ALIPAYHK": "AlipayHK", "ALIPAYCN": "Alipay"}[o.PaymentInst]
		data := map[string]string{"Merchant": name, "Subject": o.Subject, "Amount": o.Money().Decimal(),
			"Currency": o.Currency, "Token": token, "Wallet": wallet}
		if o.Channel == "web" {
			// The QR code a phone scans leads to this same cashier session.
			data["Desktop"], data["QRCode"] = "1", "https://qr.alipay.com/sim/"+token
			data["QRMode"], data["QRWidth"] = r.URL.Query().Get("qr_pay_mode"), r.URL.Query().Get("qrcode_width")
		}
		cashierPage.Execute(w, data)
	case action == "pay" && r.Method == http.MethodPost:
		ret, err := s.payToken(k)
		if err != nil {
			writeErrorPage(w, codeOf(err))
			return
		}
		if ret.URL == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			donePage.Execute(w, map[string]string{"Message": "Payment successful."})
			return
		}
		http.Redirect(w, r, ret.URL, http.StatusFound)
	case action == "cancel" && r.Method == http.MethodPost:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		donePage.Execute(w, map[string]string{"Message": "Payment cancelled.", "Back": o.ReturnURL})
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// H5Return is where the cashier sends the browser after payment: return_url with the signed
// synchronous return parameters (alipay-h5.md §7). URL is "" when the order had no return_url.
type H5Return struct {
	URL    string            `json:"url"`
	Params map[string]string `json:"params"`
}

func (s *Sim) payToken(k orderKey) (H5Return, error) {
	if err := s.pay(k.Partner, k.No); err != nil {
		return H5Return{}, err
	}
	o, ok := s.Order(k.Partner, k.No)
	if !ok {
		return H5Return{}, gwErr("SYSTEM_EXCEPTION", "order evicted")
	}
	return s.returnFor(o)
}

// returnFor builds the signed return: out_trade_no, trade_no, trade_status, total_fee, currency
// (+ rmb_fee when priced in CNY), signed Format B with the order's sign type.
func (s *Sim) returnFor(o Order) (H5Return, error) {
	p := map[string]string{
		"out_trade_no": o.OutTradeNo, "trade_no": o.TradeNo, "trade_status": o.Status,
		"total_fee": o.Money().Decimal(), "currency": o.Currency,
	}
	if o.RMBFee != "" {
		p["rmb_fee"] = o.RMBFee
	}
	s.mu.Lock()
	ps := s.partners[o.Partner]
	s.mu.Unlock()
	if ps == nil {
		return H5Return{}, gwErr("ILLEGAL_PARTNER", "partner is gone")
	}
	signer, err := s.signerFor(ps, o.SignType)
	if err != nil {
		return H5Return{}, err
	}
	sig, err := signer.Sign(signing.CanonicalB(p))
	if err != nil {
		return H5Return{}, err
	}
	if s.faultNotifyWrongSign(o.Partner, "return") {
		sig = corrupt(sig)
	}
	p["sign"], p["sign_type"] = sig, string(signer.Type())
	if o.ReturnURL == "" {
		return H5Return{Params: p}, nil
	}
	u, err := url.Parse(o.ReturnURL)
	if err != nil {
		return H5Return{}, gwErr("ILLEGAL_ARGUMENT", "return_url does not parse")
	}
	q := u.Query()
	for k, v := range p {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return H5Return{URL: u.String(), Params: p}, nil
}

// paramsOfRedirect reads the gateway parameters from an H5 redirect URL (GET link).
func paramsOfRedirect(redirectURL string) (map[string]string, error) {
	u, err := url.Parse(redirectURL)
	if err != nil {
		return nil, gwErr("ILLEGAL_ARGUMENT", "redirect URL does not parse")
	}
	p, err := notify.DecodeForm([]byte(u.RawQuery), "")
	if err != nil {
		return nil, gwErr("ILLEGAL_ARGUMENT", "redirect URL query: %v", err)
	}
	if p["service"] != "create_forex_trade_wap" && p["service"] != ServiceDesktop {
		return nil, gwErr("ILLEGAL_SERVICE", "service %q is not create_forex_trade_wap or %s", clip(p["service"]), ServiceDesktop)
	}
	return p, nil
}

// PayH5 plays a buyer who follows the merchant's H5 redirect URL (gateway.do?service=
// create_forex_trade_wap&..., or the desktop create_forex_trade) and presses Pay in the cashier. It returns where the browser is
// sent next. A rejected request returns the *Error the gateway's error page would show.
func (s *Sim) PayH5(ctx context.Context, redirectURL string) (H5Return, error) {
	p, err := paramsOfRedirect(redirectURL)
	if err != nil {
		return H5Return{}, err
	}
	return s.PayH5Params(ctx, p)
}

// PayH5Params is PayH5 for a request given as parameters (a POST form).
func (s *Sim) PayH5Params(ctx context.Context, params map[string]string) (H5Return, error) {
	if err := ctx.Err(); err != nil {
		return H5Return{}, err
	}
	token, err := s.createWap(params)
	if err != nil {
		return H5Return{}, err
	}
	if err := s.applyFaultsWallet(ctx, params["partner"]); err != nil {
		return H5Return{}, err
	}
	s.mu.Lock()
	k := s.tokens[token]
	s.mu.Unlock()
	return s.payToken(k)
}

// OpenH5 plays a buyer who reaches the cashier and leaves it open: the trade waits unpaid (no
// trade_no yet). It returns the cashier path (/cashier/<token>).
func (s *Sim) OpenH5(ctx context.Context, redirectURL string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := paramsOfRedirect(redirectURL)
	if err != nil {
		return "", err
	}
	token, err := s.createWap(p)
	if err != nil {
		return "", err
	}
	return "/cashier/" + token, nil
}
