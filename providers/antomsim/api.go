package antomsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiPrefixes are the online API paths, production and sandbox; the Go SDK's "/ams/api//v1"
// typo is served as written, never normalised (it is what the client signed).
var apiPrefixes = []string{"/ams/api/v1/payments/", "/ams/sandbox/api/v1/payments/", "/ams/api//v1/payments/"}

// serveAMS answers one API call: check the signature, apply faults, run the API, sign the answer.
func (s *Sim) serveAMS(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	api := ""
	for _, p := range apiPrefixes {
		if strings.HasPrefix(path, p) {
			api = strings.TrimPrefix(path, p)
		}
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	signed := path
	if r.URL.RawQuery != "" {
		signed += "?" + r.URL.RawQuery
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	clientID, reqTime, sig := r.Header.Get("Client-Id"), r.Header.Get("Request-Time"), r.Header.Get("Signature")
	s.mu.Lock()
	m := s.merchants[clientID]
	s.mu.Unlock()
	if m == nil {
		s.unsigned(w, res("F", "INVALID_CLIENT", "unknown client id"))
		return
	}
	if reqTime == "" || sig == "" || verifySig(m.pub, sig, content(signed, clientID, reqTime, body)) != nil {
		s.logf("%s %s: signature check failed", clientID, api)
		s.unsigned(w, res("F", s.cfg.InvalidSignatureCode, "signature verification failed"))
		return
	}
	f := s.takeFault(clientID, api, beforeCall)
	if f != nil {
		switch f.Kind {
		case FaultStatus:
			http.Error(w, "injected fault", f.status())
			return
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
			return
		case FaultUnknown:
			s.answer(w, signed, clientID, map[string]any{"result": res("U", "UNKNOWN_EXCEPTION", "injected unknown outcome")}, nil)
			return
		}
	}
	var out any
	switch api {
	case "pay":
		out = s.pay(clientID, body, requestBase(r))
	case "inquiryPayment":
		out = s.inquiryPayment(clientID, body)
	case "cancel":
		out = s.cancel(clientID, body)
	case "refund":
		out = s.refund(clientID, body)
	case "inquiryRefund":
		out = s.inquiryRefund(clientID, body)
	default:
		out = map[string]any{"result": res("F", "PARAM_ILLEGAL", "unknown API "+api)}
	}
	s.logf("%s %s -> %s", clientID, api, resultOf(out))
	if f != nil && f.Kind == FaultLostResponse {
		// The call took effect; its answer never arrives.
		panic(http.ErrAbortHandler)
	}
	if f != nil && f.Kind == FaultUnknownCommitted {
		out = map[string]any{"result": res("U", "UNKNOWN_EXCEPTION", "injected unknown outcome after commit")}
	}
	s.answer(w, signed, clientID, out, f)
}

// requestBase is the scheme and host the caller reached, for the wallet page links.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func resultOf(v any) string {
	b, _ := json.Marshal(v)
	var r struct {
		Result result `json:"result"`
	}
	_ = json.Unmarshal(b, &r)
	return r.Result.ResultStatus + "/" + r.Result.ResultCode
}

// unsigned answers without a signature, as Antom does when it could not check the caller's.
func (s *Sim) unsigned(w http.ResponseWriter, r result) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	b, _ := json.Marshal(map[string]any{"result": r})
	_, _ = w.Write(b)
}

// answer writes a signed answer with lower-case header names (Python and PHP clients match
// them case-sensitively, so they bypass Go's canonicalisation).
func (s *Sim) answer(w http.ResponseWriter, path, clientID string, v any, f *faultEntry) {
	body, err := marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	rt := s.now().Format("2006-01-02T15:04:05-07:00")
	sig, err := signB64(s.key, content(path, clientID, rt, body))
	if err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if f == nil || f.Kind != FaultUnsigned {
		if f != nil && f.Kind == FaultBadSignature {
			sig = corruptSignature(sig)
		}
		h["client-id"] = []string{clientID}
		h["response-time"] = []string{rt}
		h["signature"] = []string{sigHeader(sig)}
	}
	_, _ = w.Write(body)
}

// corruptSignature changes the first character of a base64 signature to another one, so that
// it decodes to other bytes (replacing it with a fixed "A" left one signature in 64 intact: a
// signature that already began with "A" still verified).
func corruptSignature(sig string) string {
	if sig == "" {
		return "B"
	}
	c := byte('A')
	if sig[0] == 'A' {
		c = 'B'
	}
	return string(c) + sig[1:]
}

func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(b.String(), "\n")), nil
}

type payReq struct {
	ProductCode      string `json:"productCode"`
	PaymentRequestID string `json:"paymentRequestId"`
	Order            struct {
		Env *struct {
			TerminalType string `json:"terminalType"`
		} `json:"env"`
	} `json:"order"`
	PaymentAmount Amount `json:"paymentAmount"`
	PaymentMethod struct {
		PaymentMethodType string `json:"paymentMethodType"`
	} `json:"paymentMethod"`
	PaymentRedirectURL string `json:"paymentRedirectUrl"`
	PaymentNotifyURL   string `json:"paymentNotifyUrl"`
	PaymentExpiryTime  string `json:"paymentExpiryTime"`
	Env                *struct {
		TerminalType string `json:"terminalType"`
	} `json:"env"`
}

func fail(code, msg string) map[string]any { return map[string]any{"result": res("F", code, msg)} }

func (s *Sim) pay(clientID string, body []byte, base string) any {
	var q payReq
	if err := json.Unmarshal(body, &q); err != nil {
		return fail("PARAM_ILLEGAL", "body is not a pay request")
	}
	terminal := ""
	if q.Env != nil {
		terminal = q.Env.TerminalType
	} else if q.Order.Env != nil {
		terminal = q.Order.Env.TerminalType
	}
	switch {
	case q.ProductCode != "CASHIER_PAYMENT":
		return fail("PARAM_ILLEGAL", "productCode must be CASHIER_PAYMENT")
	case q.PaymentRequestID == "" || len(q.PaymentRequestID) > 64:
		return fail("PARAM_ILLEGAL", "paymentRequestId")
	case q.PaymentAmount.Value <= 0 || len(q.PaymentAmount.Currency) != 3:
		return fail("PARAM_ILLEGAL", "paymentAmount")
	case q.PaymentMethod.PaymentMethodType == "":
		return fail("PARAM_ILLEGAL", "paymentMethod.paymentMethodType")
	case terminal != "WEB" && terminal != "WAP" && terminal != "APP" && terminal != "MINI_APP":
		return fail("PARAM_ILLEGAL", "env.terminalType")
	}
	if u, err := url.Parse(q.PaymentRedirectURL); err != nil || u.Host == "" {
		return fail("PARAM_ILLEGAL", "paymentRedirectUrl")
	}
	now := s.now()
	expires := now.Add(s.cfg.DefaultExpiry)
	if q.PaymentExpiryTime != "" {
		t, err := time.Parse(time.RFC3339, q.PaymentExpiryTime)
		if err != nil || !t.After(now) {
			return fail("PARAM_ILLEGAL", "paymentExpiryTime")
		}
		expires = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.byRequest[reqKey(clientID, q.PaymentRequestID)]; p != nil {
		if p.amount != q.PaymentAmount || p.method != q.PaymentMethod.PaymentMethodType {
			return fail("REPEAT_REQ_INCONSISTENT", "paymentRequestId reused with other key fields")
		}
		return json.RawMessage(p.payAnswer)
	}
	p := &payment{clientID: clientID, requestID: q.PaymentRequestID, id: s.newID("2026"), method: q.PaymentMethod.PaymentMethodType,
		terminal: terminal, amount: q.PaymentAmount, redirectURL: q.PaymentRedirectURL, notifyURL: q.PaymentNotifyURL,
		created: now, expires: expires, status: StatusProcessing}
	out := map[string]any{
		"result": res("U", "PAYMENT_IN_PROCESS", "payment in process"), "paymentRequestId": p.requestID, "paymentId": p.id,
		"paymentAmount": p.amount, "paymentCreateTime": now.Format(time.RFC3339),
		"normalUrl": base + "/antom/wallet/" + p.id,
	}
	if terminal == "APP" || terminal == "WAP" {
		out["applinkUrl"] = base + "/antom/applink/" + p.id
		out["schemeUrl"] = strings.ToLower(strings.ReplaceAll(p.method, "_", "")) + "-antomsim://pay?paymentId=" + p.id
		out["appIdentifier"] = "com.example.antomsim." + strings.ToLower(p.method)
	}
	if terminal == "WEB" {
		out["orderCodeForm"] = map[string]any{"codeDetails": []map[string]string{
			{"codeValue": base + "/antom/wallet/" + p.id + "?scanned=1", "codeValueType": "QRCODE", "displayType": "TEXT"}}}
	}
	p.payAnswer, _ = marshal(out)
	s.payments[p.id] = p
	s.byRequest[reqKey(clientID, p.requestID)] = p
	s.armExpiry(p)
	return out
}

// find returns a payment of clientID by paymentId or paymentRequestId (paymentId wins).
func (s *Sim) find(clientID, paymentID, requestID string) *payment {
	if paymentID != "" {
		if p := s.payments[paymentID]; p != nil && p.clientID == clientID {
			return p
		}
		return nil
	}
	return s.byRequest[reqKey(clientID, requestID)]
}

type idReq struct {
	PaymentID        string `json:"paymentId"`
	PaymentRequestID string `json:"paymentRequestId"`
	RefundID         string `json:"refundId"`
	RefundRequestID  string `json:"refundRequestId"`
}

func (s *Sim) inquiryPayment(clientID string, body []byte) any {
	var q idReq
	if err := json.Unmarshal(body, &q); err != nil || q.PaymentID == "" && q.PaymentRequestID == "" {
		return fail("PARAM_ILLEGAL", "paymentId or paymentRequestId is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(clientID, q.PaymentID, q.PaymentRequestID)
	if p == nil {
		return fail("ORDER_NOT_EXIST", "order not exist")
	}
	s.expireIfDue(p)
	out := map[string]any{"result": resSuccess, "paymentStatus": p.status, "paymentRequestId": p.requestID, "paymentId": p.id,
		"paymentAmount": p.amount, "paymentCreateTime": p.created.Format(time.RFC3339), "paymentMethodType": p.method}
	if p.status == StatusSuccess {
		out["paymentTime"] = p.paidAt.Format(time.RFC3339)
	}
	if p.resultCode != "" {
		out["paymentResultCode"] = p.resultCode
	}
	var txs []map[string]any
	for _, r := range s.refunds {
		if r.paymentID == p.id {
			txs = append(txs, map[string]any{"transactionType": "REFUND", "transactionStatus": r.status, "transactionAmount": r.amount,
				"transactionId": r.id, "transactionRequestId": r.requestID, "transactionTime": r.at.Format(time.RFC3339)})
		}
	}
	if len(txs) > 0 {
		out["transactions"] = txs
	}
	return out
}

func (s *Sim) cancel(clientID string, body []byte) any {
	var q idReq
	if err := json.Unmarshal(body, &q); err != nil || q.PaymentID == "" && q.PaymentRequestID == "" {
		return fail("PARAM_ILLEGAL", "paymentId or paymentRequestId is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(clientID, q.PaymentID, q.PaymentRequestID)
	if p == nil {
		return fail("ORDER_NOT_EXIST", "order not exist")
	}
	s.expireIfDue(p)
	switch p.status {
	case StatusFail:
		return fail("ORDER_IS_CLOSED", "order is closed")
	case StatusSuccess, StatusPending:
		// A cancel after payment refunds the buyer in full (antom.md 7).
		p.refunded = p.amount.Value
	}
	if p.status != StatusCancelled {
		p.status, p.resultCode = StatusCancelled, "ORDER_IS_CLOSED"
		if p.expiryTimer != nil {
			p.expiryTimer.Stop()
		}
	}
	return map[string]any{"result": resSuccess, "paymentId": p.id, "paymentRequestId": p.requestID, "cancelTime": s.now().Format(time.RFC3339)}
}

type refundReq struct {
	RefundRequestID string `json:"refundRequestId"`
	PaymentID       string `json:"paymentId"`
	RefundAmount    Amount `json:"refundAmount"`
	RefundNotifyURL string `json:"refundNotifyUrl"`
}

func (s *Sim) refund(clientID string, body []byte) any {
	var q refundReq
	if err := json.Unmarshal(body, &q); err != nil {
		return fail("PARAM_ILLEGAL", "body is not a refund request")
	}
	if q.RefundRequestID == "" || len(q.RefundRequestID) > 64 || q.PaymentID == "" || q.RefundAmount.Value <= 0 {
		return fail("PARAM_ILLEGAL", "refundRequestId, paymentId and a positive refundAmount are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.refundsReq[reqKey(clientID, q.RefundRequestID)]; r != nil {
		if r.paymentID != q.PaymentID || r.amount != q.RefundAmount {
			return fail("REPEAT_REQ_INCONSISTENT", "refundRequestId reused with other key fields")
		}
		return json.RawMessage(r.answer)
	}
	p := s.find(clientID, q.PaymentID, "")
	if p == nil {
		return fail("ORDER_NOT_EXIST", "order not exist")
	}
	s.expireIfDue(p)
	now := s.now()
	switch {
	case p.status != StatusSuccess:
		return fail("ORDER_STATUS_INVALID", "the payment is not paid")
	case q.RefundAmount.Currency != p.amount.Currency:
		return fail("CURRENCY_NOT_SUPPORT", "refund currency differs from the payment's")
	case now.Sub(p.paidAt) > s.cfg.RefundWindow:
		return fail("REFUND_WINDOW_EXCEED", "refund window exceeded")
	case p.refunded+q.RefundAmount.Value > p.amount.Value:
		return fail("REFUND_AMOUNT_EXCEED", "refund amount exceeds the refundable amount")
	}
	p.refunded += q.RefundAmount.Value
	r := &refund{clientID: clientID, requestID: q.RefundRequestID, id: s.newID("2026R"), paymentID: p.id, amount: q.RefundAmount,
		status: StatusSuccess, at: now}
	out := map[string]any{"result": resSuccess, "refundRequestId": r.requestID, "refundId": r.id, "paymentId": p.id,
		"refundAmount": r.amount, "refundTime": now.Format(time.RFC3339)}
	r.answer, _ = marshal(out)
	s.refunds[r.id] = r
	s.refundsReq[reqKey(clientID, r.requestID)] = r
	if q.RefundNotifyURL != "" {
		s.notifyLocked(clientID, q.RefundNotifyURL, map[string]any{"notifyType": "REFUND_RESULT", "result": resSuccess,
			"refundStatus": "SUCCESS", "refundRequestId": r.requestID, "refundId": r.id, "refundAmount": r.amount,
			"refundTime": now.Format(time.RFC3339)}, 0)
	}
	return out
}

func (s *Sim) inquiryRefund(clientID string, body []byte) any {
	var q idReq
	if err := json.Unmarshal(body, &q); err != nil || q.RefundID == "" && q.RefundRequestID == "" {
		return fail("PARAM_ILLEGAL", "refundId or refundRequestId is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *refund
	if q.RefundID != "" {
		if x := s.refunds[q.RefundID]; x != nil && x.clientID == clientID {
			r = x
		}
	} else {
		r = s.refundsReq[reqKey(clientID, q.RefundRequestID)]
	}
	if r == nil {
		return fail("ORDER_NOT_EXIST", "refund not exist")
	}
	out := map[string]any{"result": resSuccess, "refundRequestId": r.requestID, "refundId": r.id, "refundAmount": r.amount, "refundStatus": r.status}
	if r.status == StatusSuccess {
		out["refundTime"] = r.at.Format(time.RFC3339)
	}
	return out
}
