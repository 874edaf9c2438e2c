package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

func (a *API) createPayment(r *http.Request, body []byte) (any, error) {
	var req host.CreatePaymentRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return a.svc.CreatePayment(r.Context(), &req)
}

func (a *API) getPayment(w http.ResponseWriter, r *http.Request) {
	refresh, err := boolParam(r, "refresh")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.GetPayment(r.Context(), r.PathValue("id"), refresh)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, p)
}

func (a *API) listPayments(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	req := host.ListPaymentsRequest{
		Reference: q.Get("reference"), Status: core.PaymentStatus(q.Get("status")), Method: q.Get("method"),
		Region: q.Get("region"), Account: q.Get("account"), Limit: limit, Cursor: q.Get("cursor"),
	}
	if req.CreatedFrom, err = timeParam(r, "created_from"); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.CreatedTo, err = timeParam(r, "created_to"); err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.svc.ListPayments(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, page)
}

func (a *API) clientResult(w http.ResponseWriter, r *http.Request) {
	body, err := a.readBody(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req host.ClientResultRequest
	if err := decode(body, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.ClientResult(r.Context(), r.PathValue("id"), &req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.onEarlyQuery != nil && p.WantsEarlyQuery() {
		// The payment's query is due now; the janitor would otherwise see it only on its next round.
		a.onEarlyQuery()
	}
	a.writeJSON(w, r, http.StatusOK, p)
}

func (a *API) createRefund(r *http.Request, body []byte) (any, error) {
	var req host.CreateRefundRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return a.svc.CreateRefund(r.Context(), r.PathValue("id"), &req)
}

// resumePayment answers a retry of POST /v1/payments whose first request committed payment id.
func (a *API) resumePayment(r *http.Request, id string) (any, bool, error) {
	p, err := a.svc.GetPayment(r.Context(), id, false)
	if err != nil {
		return nil, false, err
	}
	return p, p.Status.Final(), nil
}

// resumeRefund answers a retry of POST /v1/payments/{id}/refunds whose first request reserved
// refund id: pending while its outcome is unknown.
func (a *API) resumeRefund(r *http.Request, id string) (any, bool, error) {
	rf, err := a.svc.GetRefund(r.Context(), r.PathValue("id"), id)
	if err != nil {
		return nil, false, err
	}
	return rf, rf.Status.Final(), nil
}

func (a *API) settleRefund(r *http.Request, body []byte) (any, error) {
	var req host.SettleRefundRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	return a.svc.SettleRefund(r.Context(), r.PathValue("id"), r.PathValue("rid"), &req)
}

// listAllRefunds serves GET /v1/refunds (needs_attention=true: the attention queue), to
// administrator keys (see the route).
func (a *API) listAllRefunds(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	attention, err := boolParam(r, "needs_attention")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := a.svc.ListAllRefunds(r.Context(), store.RefundFilter{
		NeedsAttention: attention, Status: core.RefundStatus(q.Get("status")), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, page)
}

func (a *API) getRefund(w http.ResponseWriter, r *http.Request) {
	rf, err := a.svc.GetRefund(r.Context(), r.PathValue("id"), r.PathValue("rid"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, rf)
}

func (a *API) listRefunds(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.svc.ListRefunds(r.Context(), r.PathValue("id"), limit, r.URL.Query().Get("cursor"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, page)
}

func (a *API) closePayment(r *http.Request, body []byte) (any, error) {
	if err := decode(body, &struct{}{}); err != nil {
		return nil, err
	}
	return a.svc.ClosePayment(r.Context(), r.PathValue("id"))
}

func (a *API) methods(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := host.MethodsRequest{Region: q.Get("region"), Currency: q.Get("currency")}
	if s := q.Get("amount"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			a.fail(w, r, core.ParamErrorf(core.EINVALID, "amount", "amount must be a positive integer in minor units"))
			return
		}
		req.Amount = v
	}
	ms, err := a.svc.Methods(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, struct {
		Region  string              `json:"region"`
		Methods []host.MethodOption `json:"methods"`
	}{req.Region, ms})
}

func (a *API) listNotifications(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := a.svc.ListNotifications(r.Context(), store.NotificationFilter{
		Account: q.Get("account"), Status: store.NotificationStatus(q.Get("status")), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, page)
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	status := store.EventStatus(q.Get("status"))
	switch status {
	case "", store.EventPending, store.EventDelivered, store.EventFailed:
	default:
		a.fail(w, r, core.ParamErrorf(core.EINVALID, "status", "status must be pending, delivered or failed"))
		return
	}
	page, err := a.svc.ListEvents(r.Context(), store.EventFilter{
		Type: q.Get("type"), PaymentID: q.Get("payment_id"), Status: status, Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, page)
}

func (a *API) redeliver(w http.ResponseWriter, r *http.Request) {
	e, err := a.svc.RedeliverEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.onRedeliver != nil {
		a.onRedeliver()
	}
	a.writeJSON(w, r, http.StatusAccepted, e)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeRaw(w, http.StatusOK, "application/json", []byte(`{"status":"ok"}`+"\n"))
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	problems := a.svc.Ready(r.Context())
	checks := map[string]string{}
	for name, err := range problems {
		a.log.Warn("readiness check failed", "request_id", RequestID(r.Context()), "check", name, "error", err)
		checks[name] = core.ErrorCode(err)
	}
	body := map[string]any{"status": "ready"}
	if len(a.svc.Settings().DemoSecrets) > 0 {
		// Ready to serve, but not to take real money: the names are in serve's log, not here
		// (this endpoint needs no API key).
		body["warnings"] = []string{demoSecretsReadyWarning}
	}
	if len(problems) > 0 {
		body["status"], body["failing"] = "unavailable", checks
		a.writeJSON(w, r, http.StatusServiceUnavailable, body)
		return
	}
	a.writeJSON(w, r, http.StatusOK, body)
}

// demoSecretsReadyWarning is /readyz's warning while a demo secret is configured.
const demoSecretsReadyWarning = "demo secrets from config.example.yaml are in use: anyone can sign as this host or its wallet accounts; never take real payments (the log names the settings)"

// notify takes a wallet's notification. Its answer is whatever the provider's ack says, or the
// host's retry answer when the request could not be stored or decided.
func (a *API) notify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, notify.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRaw(w, http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", []byte("too large"))
			return
		}
		writeAck(w, host.RetryAck)
		return
	}
	raw := &host.RawNotification{
		Account: r.PathValue("account"), Method: r.Method, Header: r.Header.Clone(), Query: r.URL.RawQuery,
		Body: body, RemoteAddr: r.RemoteAddr,
	}
	client := clientOf(r)
	if a.rejects.over(client) {
		// Over its budget of failed verifications: check this one before storing anything.
		// Verified (or undecidable: the provider is down) goes on as usual.
		verified, err := a.svc.VerifyNotification(r.Context(), raw)
		if !verified && (err == nil || core.ErrorCode(err) == core.ENOTFOUND) {
			a.log.Warn("notification refused: the client sends too many that fail verification", "request_id", RequestID(r.Context()),
				"client", client, "account", r.PathValue("account"))
			if a.onNotification != nil {
				a.onNotification(host.NotificationOutcome{Status: NotificationRateLimited})
			}
			writeRaw(w, http.StatusTooManyRequests, "text/plain; charset=utf-8", []byte("too many notifications failed verification"))
			return
		}
	}
	out := a.svc.HandleNotification(r.Context(), raw)
	if out.Status == store.NotificationRejected {
		a.rejects.spend(client)
	}
	a.log.Info("notification", "request_id", RequestID(r.Context()), "notification_id", out.ID, "account", r.PathValue("account"), "outcome", string(out.Status))
	if a.onNotification != nil {
		a.onNotification(out)
	}
	writeAck(w, out.Ack)
}

func writeAck(w http.ResponseWriter, ack core.Ack) {
	status := ack.Status
	if status == 0 {
		status = http.StatusOK
	}
	writeRaw(w, status, ack.ContentType, ack.Body)
}

func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, core.ParamErrorf(core.EINVALID, name, "%s must be true or false", name)
	}
	return b, nil
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxPageSize {
		return 0, core.ParamErrorf(core.EINVALID, "limit", "limit must be between 1 and %d", store.MaxPageSize)
	}
	return n, nil
}

// timeParam reads an RFC 3339 time from the query; zero when absent.
func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, core.ParamErrorf(core.EINVALID, name, "%s must be an RFC 3339 time such as 2026-12-01T00:00:00Z", name)
	}
	return t, nil
}
