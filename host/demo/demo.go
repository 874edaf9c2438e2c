// Package demo is the quickstart's demo merchant: a checkout page (plain HTML and a little
// JavaScript), the merchant backend behind it and its webhook receiver. It shows how a
// merchant uses paymux: the backend holds the API key and calls the REST API; the browser only
// ever talks to the backend and to the wallet's cashier; webhooks are verified with
// host/webhook before they are trusted.
//
// It is a demonstration, not a shop: state (payment references, received webhooks) lives in
// memory and is bounded.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/webhook"
)

//go:embed static
var static embed.FS

// Region is one checkout region and the currencies the demo offers there, first = default.
type Region struct {
	Code       string   `json:"code"`
	Currencies []string `json:"currencies"`
}

// Options configures a Server.
type Options struct {
	// APIURL is paymux's REST API base, e.g. http://127.0.0.1:8080.
	APIURL string
	// APIKey is the merchant's bearer key. It stays in the backend: no response carries it.
	APIKey string
	// WebhookSecret verifies the Paymux-Signature of received webhooks.
	WebhookSecret string
	// WebhookPath is where the receiver listens (default /webhooks/paymux), the path of the
	// config's webhooks.url.
	WebhookPath string
	// PublicURL is where the buyer's browser reaches this server; return_url is built on it.
	PublicURL string
	// Regions are offered on the checkout page, in this order.
	Regions []Region
	// WalletSimURL is the base URL of the gateway simulator (mapisim). Methods offered only in
	// the app channel (AlipayHK) cannot go through a browser cashier: the page then opens a
	// stand-in for the wallet app that hands the order string to the simulator's POST /sim/pay,
	// as the wallet SDK would, and reports the SDK's result to paymux. Empty disables it.
	WalletSimURL string
	// Client calls paymux; nil means a client with a 15 s timeout.
	Client *http.Client
	// CallTimeout bounds every call to paymux (default 15 s).
	CallTimeout time.Duration
	// MaxEvents bounds the remembered webhooks (default 500); the oldest are dropped.
	MaxEvents int
	// Logf receives one line per notable event; nil discards.
	Logf func(format string, args ...any)
}

// Event is one received webhook delivery as the events panel shows it.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	PaymentID   string          `json:"payment_id,omitempty"`
	RefundID    string          `json:"refund_id,omitempty"`
	Status      string          `json:"status,omitempty"`
	ReceivedAt  time.Time       `json:"received_at"`
	Verified    bool            `json:"verified"`
	VerifyError string          `json:"verify_error,omitempty"`
	Deliveries  int             `json:"deliveries"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// Server is the demo merchant. It is safe for concurrent use.
type Server struct {
	o   Options
	api *url.URL
	mux *http.ServeMux

	mu     sync.Mutex
	events []*Event // oldest first
}

// New checks o and returns a Server.
func New(o Options) (*Server, error) {
	api, err := url.Parse(o.APIURL)
	if err != nil || (api.Scheme != "http" && api.Scheme != "https") || api.Host == "" {
		return nil, fmt.Errorf("demo: API URL %q is not an absolute http(s) URL", o.APIURL)
	}
	if o.APIKey == "" {
		return nil, errors.New("demo: no API key")
	}
	if o.WebhookSecret == "" {
		return nil, errors.New("demo: no webhook secret")
	}
	if pu, err := url.Parse(o.PublicURL); err != nil || pu.Host == "" {
		return nil, fmt.Errorf("demo: public URL %q is not an absolute URL", o.PublicURL)
	}
	if len(o.Regions) == 0 {
		return nil, errors.New("demo: no regions")
	}
	if o.WebhookPath == "" {
		o.WebhookPath = "/webhooks/paymux"
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.CallTimeout}
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 500
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	s := &Server{o: o, api: api}
	s.routes()
	return s, nil
}

// Handler serves the pages, the backend's JSON endpoints and the webhook receiver.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	m := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serveFile(w, r, sub, "index.html") })
	m.HandleFunc("GET /result/{reference}", func(w http.ResponseWriter, r *http.Request) {
		s.reportReturn(r)
		serveFile(w, r, sub, "result.html")
	})
	m.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) { serveFile(w, r, sub, "app.html") })
	m.HandleFunc("POST /api/payments/{id}/app-pay", s.appPay)
	m.Handle("GET /static/", http.StripPrefix("/static/", files))
	m.HandleFunc("GET /api/regions", s.regions)
	m.HandleFunc("GET /api/methods", s.methods)
	m.HandleFunc("POST /api/payments", s.createPayment)
	m.HandleFunc("GET /api/payments/{id}", s.getPayment)
	m.HandleFunc("POST /api/payments/{id}/refunds", s.createRefund)
	m.HandleFunc("GET /api/payments/{id}/refunds", s.listRefunds)
	m.HandleFunc("GET /api/events", s.listEvents)
	m.HandleFunc("POST "+s.o.WebhookPath, s.receiveWebhook)
	s.mux = m
}

func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.Error(w, "missing page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// errorBody is the demo backend's own error answer: {"error": {"code", "message"}}, the shape
// of paymux's errors so that the page shows both the same way.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// call sends one request to paymux with the API key and returns its status and body. The body
// is bounded at 1 MiB.
func (s *Server) call(ctx context.Context, method, path string, query url.Values, body any, idemKey string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.CallTimeout)
	defer cancel()
	u := s.api.JoinPath(path)
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.o.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// relay calls paymux and passes its JSON answer (success or error) to the browser. paymux's
// answers never contain the API key, so relaying them keeps the key in the backend.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, method, path string, query url.Values, body any, idemKey string) {
	status, b, err := s.call(r.Context(), method, path, query, body, idemKey)
	if err != nil {
		s.o.Logf("demo: %v", err)
		writeError(w, http.StatusBadGateway, "paymux_unreachable", "paymux did not answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// fetch calls paymux for a handler that reads the answer itself. It returns the body of a 2xx
// answer; otherwise it has already answered the browser (502 when paymux did not answer, its
// own error relayed otherwise) and returns false.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, method, path string, query url.Values, body any, idemKey string) ([]byte, bool) {
	status, b, err := s.call(r.Context(), method, path, query, body, idemKey)
	if err != nil {
		s.o.Logf("demo: %v", err)
		writeError(w, http.StatusBadGateway, "paymux_unreachable", "paymux did not answer: "+err.Error())
		return nil, false
	}
	if status < 200 || status > 299 {
		relayRaw(w, status, b)
		return nil, false
	}
	return b, true
}

func (s *Server) regions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"regions": s.o.Regions})
}

func (s *Server) methods(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	for _, k := range []string{"region", "currency", "amount"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	s.relay(w, r, http.MethodGet, "/v1/methods", q, nil, "")
}

// checkoutRequest is what the page posts: the amount as the buyer typed it.
type checkoutRequest struct {
	Region   string `json:"region"`
	Method   string `json:"method"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	// Channel is h5 (a cashier in the browser), web (the desktop cashier) or app (the wallet
	// app; here its stand-in).
	Channel string `json:"channel"`
}

func newToken(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) createPayment(w http.ResponseWriter, r *http.Request) {
	var req checkoutRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body is not a checkout request")
		return
	}
	amount, err := core.ParseMoney(strings.TrimSpace(req.Amount), req.Currency)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", core.ErrorMessage(err))
		return
	}
	channel := core.Channel(req.Channel)
	switch channel {
	case "":
		channel = core.ChannelH5
	case core.ChannelH5, core.ChannelWeb:
	case core.ChannelApp:
		if s.o.WalletSimURL == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "app payments need a wallet app; this demo has no wallet simulator")
			return
		}
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "channel must be h5, web or app")
		return
	}
	ref := newToken("demo-order-")
	// The cashier sends the buyer back here; the page finds the payment by its reference. The
	// reference is in the path: Alipay appends its own query parameters to return_url.
	ret := s.o.PublicURL + "/result/" + url.PathEscape(ref)
	body := map[string]any{
		"region": req.Region, "method": req.Method, "amount": amount, "channel": channel,
		"reference": ref, "subject": "paymux demo order " + amount.Decimal() + " " + amount.Currency,
	}
	if channel != core.ChannelApp {
		body["return_url"] = ret
	}
	b, ok := s.fetch(w, r, http.MethodPost, "/v1/payments", nil, body, ref)
	if !ok {
		return
	}
	var p struct {
		ID         string           `json:"id"`
		Status     string           `json:"status"`
		NextAction *core.NextAction `json:"next_action"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ID == "" {
		writeError(w, http.StatusBadGateway, "bad_answer", "paymux answered a payment the demo cannot read")
		return
	}
	next := ""
	switch {
	case p.NextAction == nil:
	case channel != core.ChannelApp:
		// A browser follows the first web hand-off: a page, or an app link (a web page where the
		// wallet app is not installed, as here). Deep links and QR codes need a phone.
		for _, a := range append([]core.NextAction{*p.NextAction}, p.NextAction.Fallbacks...) {
			if a.Type == core.ActionRedirectURL || a.Type == core.ActionAppLink {
				next = a.Value
				break
			}
		}
	case p.NextAction.Type == core.ActionSDKOrderString:
		// The order string stays in the backend; the stand-in page asks the backend to pay it.
		next = "/app?reference=" + url.QueryEscape(ref) + "&payment=" + url.QueryEscape(p.ID) + "&method=" + url.QueryEscape(req.Method)
	}
	if next == "" {
		writeError(w, http.StatusBadGateway, "bad_answer", "the payment has no client action for channel "+string(channel))
		return
	}
	s.o.Logf("demo: payment %s created (%s %s, %s/%s in %s)", p.ID, amount.Decimal(), amount.Currency, req.Method, channel, req.Region)
	writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID, "reference": ref, "status": p.Status, "channel": string(channel), "next_url": next})
}

// appPay plays the wallet app for an app-channel payment: it hands the payment's order string
// to the simulator as the wallet SDK would (POST /sim/pay), then reports the SDK's synchronous
// result to paymux (POST /v1/payments/{id}/client-result) as a merchant app reports it to its
// backend. The result is only a hint: the payment succeeds when the notification arrives.
func (s *Server) appPay(w http.ResponseWriter, r *http.Request) {
	if s.o.WalletSimURL == "" {
		writeError(w, http.StatusNotFound, "not_found", "this demo has no wallet simulator")
		return
	}
	id := r.PathValue("id")
	b, ok := s.fetch(w, r, http.MethodGet, "/v1/payments/"+url.PathEscape(id), nil, nil, "")
	if !ok {
		return
	}
	var p struct {
		NextAction *core.NextAction `json:"next_action"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.NextAction == nil || p.NextAction.Type != core.ActionSDKOrderString {
		writeError(w, http.StatusConflict, "invalid_state", "the payment has no order string for a wallet app")
		return
	}
	result, err := s.walletPay(r.Context(), p.NextAction.Value)
	if err != nil {
		s.o.Logf("demo: wallet simulator: %v", err)
		writeError(w, http.StatusBadGateway, "wallet_unreachable", "the wallet simulator did not pay: "+err.Error())
		return
	}
	if _, ok := s.fetch(w, r, http.MethodPost, "/v1/payments/"+url.PathEscape(id)+"/client-result", nil, map[string]any{"result": result}, ""); !ok {
		return
	}
	s.o.Logf("demo: wallet app stand-in paid payment %s (resultStatus %s)", id, result["resultStatus"])
	writeJSON(w, http.StatusOK, map[string]string{"result_status": result["resultStatus"], "memo": result["memo"]})
}

// walletPay posts orderString to the simulator's wallet and returns the SDK result fields.
func (s *Server) walletPay(ctx context.Context, orderString string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.CallTimeout)
	defer cancel()
	b, err := json.Marshal(map[string]string{"order_string": orderString})
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(s.o.WalletSimURL, "/") + "/sim/pay"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /sim/pay: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("POST /sim/pay: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /sim/pay: HTTP %d", resp.StatusCode)
	}
	var res map[string]string
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("POST /sim/pay: unreadable answer: %w", err)
	}
	if res["resultStatus"] == "" {
		return nil, errors.New("POST /sim/pay: no resultStatus")
	}
	return res, nil
}

func relayRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if strings.HasPrefix(id, "demo-order-") {
		// The result page knows only the reference the cashier sent back.
		s.paymentByReference(w, r, id)
		return
	}
	s.relay(w, r, http.MethodGet, "/v1/payments/"+url.PathEscape(id), nil, nil, "")
}

func (s *Server) paymentByReference(w http.ResponseWriter, r *http.Request, ref string) {
	b, ok := s.fetch(w, r, http.MethodGet, "/v1/payments", url.Values{"reference": {ref}}, nil, "")
	if !ok {
		return
	}
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		writeError(w, http.StatusBadGateway, "bad_answer", "paymux answered a list the demo cannot read")
		return
	}
	if len(page.Data) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no payment with reference "+ref)
		return
	}
	relayRaw(w, http.StatusOK, page.Data[0])
}

// reportReturn hands the signed parameters the cashier appended to return_url to paymux as
// the payment's client result: a hint that the buyer paid, checked by the provider. It never
// settles the payment (the notification does), so a failure is only logged.
func (s *Server) reportReturn(r *http.Request) {
	q := r.URL.Query()
	if q.Get("sign") == "" {
		return
	}
	result := map[string]string{}
	for k, v := range q {
		if len(v) == 1 && len(result) < 32 {
			result[k] = v[0]
		}
	}
	ref := r.PathValue("reference")
	status, b, err := s.call(r.Context(), http.MethodGet, "/v1/payments", url.Values{"reference": {ref}}, nil, "")
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(b, &page) != nil || len(page.Data) == 0 {
		s.o.Logf("demo: return for %s: payment not found (HTTP %d, %v)", ref, status, err)
		return
	}
	id := page.Data[0].ID
	status, b, err = s.call(r.Context(), http.MethodPost, "/v1/payments/"+url.PathEscape(id)+"/client-result", nil, map[string]any{"result": result}, "")
	if err != nil || status != http.StatusOK {
		s.o.Logf("demo: return for %s: client result not accepted (HTTP %d, %v): %s", id, status, err, clip(b))
		return
	}
	s.o.Logf("demo: buyer returned from the cashier for payment %s; return parameters reported as its client result", id)
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// refundRequest is what the page posts; an empty amount refunds what is left.
type refundRequest struct {
	Amount string `json:"amount"`
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req refundRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "the body is not a refund request")
		return
	}
	b, ok := s.fetch(w, r, http.MethodGet, "/v1/payments/"+url.PathEscape(id), nil, nil, "")
	if !ok {
		return
	}
	var p struct {
		Amount         core.Money `json:"amount"`
		AmountRefunded core.Money `json:"amount_refunded"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		writeError(w, http.StatusBadGateway, "bad_answer", "paymux answered a payment the demo cannot read")
		return
	}
	amount := core.Money{Value: p.Amount.Value - p.AmountRefunded.Value, Currency: p.Amount.Currency}
	if a := strings.TrimSpace(req.Amount); a != "" {
		var err error
		if amount, err = core.ParseMoney(a, p.Amount.Currency); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", core.ErrorMessage(err))
			return
		}
	}
	body := map[string]any{"amount": amount, "reason": "demo refund"}
	s.o.Logf("demo: refunding %s %s of payment %s", amount.Decimal(), amount.Currency, id)
	s.relay(w, r, http.MethodPost, "/v1/payments/"+url.PathEscape(id)+"/refunds", nil, body, newToken("demo-refund-"))
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) {
	s.relay(w, r, http.MethodGet, "/v1/payments/"+url.PathEscape(r.PathValue("id"))+"/refunds", nil, nil, "")
}

// receiveWebhook verifies and records one delivery. Unverified deliveries are recorded too (the
// panel shows them as such) but answered 400 so that a real merchant's habit is visible: never
// act on a body whose signature does not verify.
func (s *Server) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	verr := webhook.Verify(s.o.WebhookSecret, r.Header.Get(webhook.Header), body, 0)
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		s.o.Logf("demo: webhook with an unreadable body refused")
		http.Error(w, "not a paymux event", http.StatusBadRequest)
		return
	}
	e := &Event{ID: ev.ID, Type: ev.Type, ReceivedAt: time.Now().UTC(), Verified: verr == nil, Deliveries: 1, Data: ev.Data}
	if verr != nil {
		e.VerifyError = verr.Error()
	}
	var d struct {
		ID        string `json:"id"`
		PaymentID string `json:"payment_id"`
		Status    string `json:"status"`
	}
	if json.Unmarshal(ev.Data, &d) == nil {
		e.Status = d.Status
		if d.PaymentID != "" {
			e.PaymentID, e.RefundID = d.PaymentID, d.ID
		} else {
			e.PaymentID = d.ID
		}
	}
	s.record(e)
	s.o.Logf("demo: webhook %s %s (payment %s) signature verified=%v", e.ID, e.Type, e.PaymentID, e.Verified)
	if verr != nil {
		http.Error(w, "signature does not verify", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// record adds e, or counts a redelivery of an event already seen (merchants deduplicate on the
// event id; a verified delivery replaces an unverified one).
func (s *Server) record(e *Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.events {
		if old.ID == e.ID {
			old.Deliveries++
			if e.Verified && !old.Verified {
				old.Verified, old.VerifyError, old.Data = true, "", e.Data
			}
			return
		}
	}
	s.events = append(s.events, e)
	if over := len(s.events) - s.o.MaxEvents; over > 0 {
		s.events = append(s.events[:0:0], s.events[over:]...)
	}
}

// Events returns the received webhooks, oldest first, for paymentID ("" means all).
func (s *Server) Events(paymentID string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Event{}
	for _, e := range s.events {
		if paymentID == "" || e.PaymentID == paymentID {
			out = append(out, *e)
		}
	}
	return out
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"events": s.Events(r.URL.Query().Get("payment"))})
}
