package mapisim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

func publicPEM(pub *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("mapisim: marshal public key: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Handler serves the gateway (/gateway.do), the H5 cashier (/cashier/) and the control API
// (/sim/).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/gateway.do", s.serveGateway)
	mux.HandleFunc("/cashier/", s.serveCashier)
	s.controlRoutes(mux)
	return mux
}

// ReadGatewayParams reads the parameters of a gateway request: the URL query for GET; the
// form body (plus `_input_charset` and any other parameter from the URL query, which must then
// agree with the body) for POST. Decoding goes through core/notify.DecodeForm.
func ReadGatewayParams(r *http.Request) (map[string]string, error) {
	query, err := notify.DecodeForm([]byte(r.URL.RawQuery), "")
	if err != nil {
		return nil, gwErr("ILLEGAL_ARGUMENT", "query: %v", err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return query, nil
	case http.MethodPost:
	default:
		return nil, gwErr("ILLEGAL_ARGUMENT", "method %s is not GET or POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, notify.MaxBodyBytes+1))
	if err != nil {
		return nil, gwErr("ILLEGAL_ARGUMENT", "reading body: %v", err)
	}
	ct := r.Header.Get("Content-Type")
	if len(body) == 0 && ct == "" {
		return query, nil
	}
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	if _, hasCS := query["_input_charset"]; hasCS && !strings.Contains(strings.ToLower(ct), "charset=") {
		ct += "; charset=" + query["_input_charset"]
	}
	form, err := notify.DecodeForm(body, ct)
	if err != nil {
		return nil, gwErr("ILLEGAL_ARGUMENT", "body: %v", err)
	}
	for k, v := range query {
		if bv, ok := form[k]; ok && bv != v {
			return nil, gwErr("ILLEGAL_ARGUMENT", "%s differs between URL and body", k)
		}
		form[k] = v
	}
	return form, nil
}

// services maps each gateway service to its handler. Handlers run after the partner, sign
// type and signature have been checked (except notify_verify, which is unsigned).
type serviceFunc func(s *Sim, req *gwRequest) gwResponse

var services = map[string]serviceFunc{
	"single_trade_query":          (*Sim).singleTradeQuery,
	"forex_refund":                (*Sim).forexRefund,
	"alipay.acquire.refund.query": (*Sim).refundQuery,
	"forex_compare_file":          (*Sim).compareFile,
	"forex_liquidation_file":      (*Sim).liquidationFile,
	"forex_rate_file":             (*Sim).rateFile,
}

// globalOnly services are refused to AlipayHK partners (alipayhk.md §2: no rate file, files by SFTP).
var globalOnly = map[string]bool{"forex_rate_file": true, "forex_compare_file": true, "forex_liquidation_file": true}

type gwRequest struct {
	params   map[string]string
	partner  *partnerState
	signType string
	stale    bool // stale_query fault: the gateway's view lags behind what it did
}

// gwResponse is what a service answers: an XML envelope, plain text, or an error code.
type gwResponse struct {
	errCode  string
	text     string // plain-text body (files, notify_verify)
	respElem string // element inside <response>, e.g. "trade"
	fields   map[string]string
	noEcho   bool
	ok       bool // a bare <alipay><is_success>T</is_success></alipay>
}

func (s *Sim) serveGateway(w http.ResponseWriter, r *http.Request) {
	params, err := ReadGatewayParams(r)
	if err != nil {
		writeXMLError(w, codeOf(err))
		return
	}
	service := params["service"]
	if service == "create_forex_trade_wap" || service == ServiceDesktop {
		s.createForexTradeWap(w, r, params)
		return
	}
	if s.gatewayFault(w, r, params["partner"], service) {
		return
	}
	if service == "notify_verify" {
		s.notifyVerify(w, params)
		return
	}
	req, code := s.authenticate(params)
	if code != "" {
		writeXMLError(w, code)
		return
	}
	if globalOnly[service] && req.partner.Flavour == FlavourHK {
		writeXMLError(w, "HAS_NO_PRIVILEGE")
		return
	}
	lose, stale := s.answerFaults(req.partner.ID, service)
	req.stale = stale
	var resp gwResponse
	switch {
	case stale && service == "single_trade_query":
		resp = gwResponse{errCode: "TRADE_NOT_EXIST"}
	case stale && service == "alipay.acquire.refund.query":
		resp = s.staleRefundQuery(req)
	default:
		resp = services[service](s, req)
	}
	if lose {
		dropConnection(w)
		return
	}
	s.mu.Lock()
	other := (service == "single_trade_query" || service == "alipay.acquire.refund.query") &&
		len(s.takeLocked(req.partner.ID, service, FaultOtherObject)) > 0
	s.mu.Unlock()
	if other {
		resp = otherObject(req, resp)
	}
	switch {
	case resp.errCode != "":
		writeXMLError(w, resp.errCode)
	case resp.ok:
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		io.WriteString(w, xmlHeader+"<alipay><is_success>T</is_success></alipay>")
	case resp.fields == nil:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, resp.text)
	default:
		s.writeXML(w, req, resp)
	}
}

// authenticate runs the gateway checks in order and returns the error code of the first that
// fails: ILLEGAL_SERVICE, ILLEGAL_PARTNER, ILLEGAL_CHARSET, ILLEGAL_SIGN_TYPE, ILLEGAL_SIGN.
func (s *Sim) authenticate(params map[string]string) (*gwRequest, string) {
	service := params["service"]
	if _, ok := services[service]; !ok {
		return nil, "ILLEGAL_SERVICE"
	}
	s.mu.Lock()
	ps := s.partners[params["partner"]]
	s.mu.Unlock()
	if ps == nil {
		return nil, "ILLEGAL_PARTNER"
	}
	if cs := strings.ToLower(params["_input_charset"]); cs != "" && cs != "utf-8" && cs != "gbk" && cs != "gb2312" {
		return nil, "ILLEGAL_CHARSET"
	}
	v, code := s.verifierFor(ps, params["sign_type"])
	if code != "" {
		return nil, code
	}
	if params["sign"] == "" || v.Verify(signedContent(params), params["sign"]) != nil {
		return nil, "ILLEGAL_SIGN"
	}
	if params["_input_charset"] == "" { // required by every signed service (alipay-crossborder.md §8, §9)
		return nil, "ILLEGAL_ARGUMENT"
	}
	return &gwRequest{params: params, partner: ps, signType: params["sign_type"]}, ""
}

// verifierFor returns the verifier of a partner's requests for a sign type.
func (s *Sim) verifierFor(ps *partnerState, signType string) (signing.Verifier, string) {
	st, err := signing.ParseSignType(signType)
	if err != nil {
		return nil, "ILLEGAL_SIGN_TYPE"
	}
	if st == signing.MD5 {
		m := ps.md5.Load()
		if m == nil {
			return nil, "ILLEGAL_SIGN_TYPE"
		}
		return m, ""
	}
	if ps.pub == nil {
		return nil, "ILLEGAL_SIGN_TYPE"
	}
	v, err := signing.NewRSAVerifier(st, ps.pub)
	if err != nil {
		return nil, "ILLEGAL_SIGN_TYPE"
	}
	return v, ""
}

// signedContent is the Format B string in the request's charset: a GBK request was signed over
// GBK bytes, while DecodeForm has turned its values into UTF-8.
func signedContent(params map[string]string) string {
	c := signing.CanonicalB(params)
	switch strings.ToLower(params["_input_charset"]) {
	case "gbk", "gb2312":
		if g, err := simplifiedchinese.GBK.NewEncoder().String(c); err == nil {
			return g
		}
	}
	return c
}

func codeOf(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return "SYSTEM_EXCEPTION"
}

const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

// writeXMLError writes <alipay><is_success>F</is_success><error>CODE</error></alipay>.
func writeXMLError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<alipay><is_success>F</is_success><error>")
	xml.EscapeText(&b, []byte(code))
	b.WriteString("</error></alipay>")
	io.WriteString(w, b.String())
}

// writeXML writes the success envelope: is_success, the request echo, the response element and
// the signature over that element's children (Format B), with the request's sign type.
func (s *Sim) writeXML(w http.ResponseWriter, req *gwRequest, resp gwResponse) {
	body, err := s.renderXML(req, resp)
	if err != nil {
		writeXMLError(w, "SYSTEM_EXCEPTION")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, body)
}

func (s *Sim) renderXML(req *gwRequest, resp gwResponse) (string, error) {
	signer, err := s.signerFor(req.partner, req.signType)
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(signing.CanonicalB(resp.fields))
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	wrong := len(s.takeLocked(req.partner.ID, req.params["service"], FaultWrongSign)) > 0
	unsigned := len(s.takeLocked(req.partner.ID, req.params["service"], FaultUnsigned)) > 0
	s.mu.Unlock()
	if wrong {
		sig = corrupt(sig)
	}
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<alipay><is_success>T</is_success>")
	if !resp.noEcho {
		b.WriteString("<request>")
		for _, k := range sortedKeys(req.params) {
			if k == "sign" || k == "sign_type" {
				continue
			}
			b.WriteString(`<param name="`)
			xml.EscapeText(&b, []byte(k))
			b.WriteString(`">`)
			xml.EscapeText(&b, []byte(req.params[k]))
			b.WriteString("</param>")
		}
		b.WriteString("</request>")
	}
	b.WriteString("<response><" + resp.respElem + ">")
	for _, k := range sortedKeys(resp.fields) {
		if resp.fields[k] == "" {
			continue
		}
		b.WriteString("<" + k + ">")
		xml.EscapeText(&b, []byte(resp.fields[k]))
		b.WriteString("</" + k + ">")
	}
	b.WriteString("</" + resp.respElem + "></response>")
	if !unsigned {
		b.WriteString("<sign>")
		xml.EscapeText(&b, []byte(sig))
		b.WriteString("</sign><sign_type>" + string(signer.Type()) + "</sign_type>")
	}
	b.WriteString("</alipay>")
	return b.String(), nil
}

// otherObject turns a query answer into the other_object fault's: a success answer about a paid
// trade (or a finished refund) with references other than those asked.
func otherObject(req *gwRequest, resp gwResponse) gwResponse {
	p := req.params
	if req.params["service"] == "alipay.acquire.refund.query" {
		return gwResponse{respElem: "refund", noEcho: true, fields: map[string]string{
			"out_trade_no": p["out_trade_no"] + "X", "out_return_no": p["out_return_no"] + "X", "trade_no": "2088000000000000000000000001",
			"response_code": "SUCCESS", "refund_result_code": RefundSuccess, "return_amount": "0.01",
		}}
	}
	f := map[string]string{}
	for k, v := range resp.fields {
		f[k] = v
	}
	f["out_trade_no"] = p["out_trade_no"] + "X"
	f["trade_no"] = "2088000000000000000000000001"
	f["trade_status"] = StatusTradeFinished
	if f["total_fee"] == "" {
		f["total_fee"] = "0.01"
	}
	f["seller_id"] = req.partner.ID
	return gwResponse{respElem: "trade", fields: f}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// notifyVerify answers `true` once per (re)delivery of a known notify_id of that partner,
// `false` for unknown or already verified ones, `invalid` for a missing or unknown partner or id.
func (s *Sim) notifyVerify(w http.ResponseWriter, params map[string]string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, s.VerifyNotifyID(params["partner"], params["notify_id"]))
}

// VerifyNotifyID is notify_verify as a Go call: "true", "false" or "invalid".
func (s *Sim) VerifyNotifyID(partner, notifyID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if partner == "" || notifyID == "" || s.partners[partner] == nil {
		return "invalid"
	}
	st := s.notifyIDs[notifyID]
	if st == nil || st.Partner != partner || !st.Armed {
		return "false"
	}
	st.Armed = false
	return "true"
}

// singleTradeQuery answers the trade by trade_no (which wins) or out_trade_no.
func (s *Sim) singleTradeQuery(req *gwRequest) gwResponse {
	p := req.params
	if p["trade_no"] == "" && p["out_trade_no"] == "" {
		return gwResponse{errCode: "ILLEGAL_ARGUMENT"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var o *Order
	if tn := p["trade_no"]; tn != "" {
		if k, ok := s.tradeNos[tn]; ok && k.Partner == req.partner.ID {
			o = s.orders[k]
		}
	} else {
		o = s.orders[orderKey{req.partner.ID, p["out_trade_no"]}]
	}
	// A trade exists only once the buyer reached the cashier (H5 redirects before that have no trade_no).
	if o == nil || o.TradeNo == "" {
		return gwResponse{errCode: "TRADE_NOT_EXIST"}
	}
	f := map[string]string{
		"out_trade_no": o.OutTradeNo, "trade_no": o.TradeNo, "trade_status": o.Status,
		"total_fee": o.Money().Decimal(), "currency": o.Currency, "subject": o.Subject,
		"seller_id": o.Partner, "buyer_id": "2088" + o.TradeNo[len(o.TradeNo)-12:],
		"gmt_create": o.Created.Format(timeLayout), "payment_type": "1", "quantity": "1",
		"price": o.Money().Decimal(), "discount": "0.00", "is_total_fee_adjust": "F", "use_coupon": "F",
		"flag_trade_locked": "0", "operator_role": "B", "to_buyer_fee": "0.00", "to_seller_fee": o.Money().Decimal(),
		"gmt_last_modified_time": o.Created.Format(timeLayout),
	}
	if o.Params["seller_id"] != "" {
		f["seller_id"] = o.Params["seller_id"]
	}
	if !o.Paid.IsZero() {
		f["gmt_payment"] = o.Paid.Format(timeLayout)
		f["gmt_last_modified_time"] = o.Paid.Format(timeLayout)
	}
	if !o.Closed.IsZero() {
		f["gmt_close"] = o.Closed.Format(timeLayout)
		f["gmt_last_modified_time"] = o.Closed.Format(timeLayout)
	}
	if o.Refunded > 0 {
		f["refund_fee"] = moneyDec(o.Refunded, o.Currency)
	}
	return gwResponse{respElem: "trade", fields: f}
}
