// Package httpapi is paymux's REST API and its /notify endpoint: JSON over net/http, bearer API
// keys, idempotency keys, request ids and size limits. It is the only package that knows HTTP
// status codes; everything else speaks core error codes.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/store"
)

// Options configures an API.
type Options struct {
	Service *host.Service
	Keys    KeyMatcher
	Logger  hclog.Logger
	// MaxBodyBytes bounds every request body; 0 means 1 MiB.
	MaxBodyBytes int64
	// IdempotencyTTL is how long idempotency keys are kept; 0 means 24h.
	IdempotencyTTL time.Duration
	// Shadows serves GET /v1/plugins/{name}/shadow (administrator keys only); nil: the route
	// answers 404.
	Shadows Shadows
	// IdempotencyLease is how long a request holds its Idempotency-Key before a retry may take
	// it over (the request's host died); 0 means store.DefaultIdempotencyLease.
	IdempotencyLease time.Duration
	// NotifyRejectsPerMinute is each client's budget of /notify requests that fail
	// verification (see SetNotifyRejectLimit); 0 means DefaultNotifyRejectsPerMinute, -1 none.
	NotifyRejectsPerMinute int64
}

// DefaultNotifyRejectsPerMinute is the default budget of failed /notify verifications per
// client and minute.
const DefaultNotifyRejectsPerMinute = 60

// NotificationRateLimited is the outcome reported to the OnNotification hook for a /notify
// request refused (429, nothing stored) because its client is over its budget of failed
// verifications and this one failed too.
const NotificationRateLimited store.NotificationStatus = "rate_limited"

// API serves the REST API. It is safe for concurrent use; SetKeys and SetLimits may be called
// while serving (config reload).
type API struct {
	svc       *host.Service
	log       hclog.Logger
	keys      atomic.Pointer[KeyMatcher]
	maxBody   atomic.Int64
	idemTTL   atomic.Int64
	idemLease atomic.Int64
	mux       *http.ServeMux

	shadows Shadows

	rejects *rejectLimiter

	onRedeliver    func()
	onNotification func(host.NotificationOutcome)
	onEarlyQuery   func()
}

// New returns an API over svc.
func New(o Options) *API {
	a := &API{svc: o.Service, log: o.Logger, shadows: o.Shadows}
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	keys := o.Keys
	if keys == nil {
		keys = StaticKeys(nil)
	}
	a.keys.Store(&keys)
	a.SetLimits(o.MaxBodyBytes, o.IdempotencyTTL)
	a.SetIdempotencyLease(o.IdempotencyLease)
	a.rejects = newRejectLimiter(0)
	a.SetNotifyRejectLimit(o.NotifyRejectsPerMinute)
	a.routes()
	return a
}

// SetKeys replaces the API keys (config reload).
func (a *API) SetKeys(k KeyMatcher) { a.keys.Store(&k) }

// SetLimits replaces the body limit and the idempotency TTL (config reload); 0 keeps defaults.
func (a *API) SetLimits(maxBody int64, idemTTL time.Duration) {
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	if idemTTL <= 0 {
		idemTTL = 24 * time.Hour
	}
	a.maxBody.Store(maxBody)
	a.idemTTL.Store(int64(idemTTL))
}

// SetIdempotencyLease replaces the idempotency lease (config reload); 0 keeps the default.
func (a *API) SetIdempotencyLease(d time.Duration) {
	if d <= 0 {
		d = store.DefaultIdempotencyLease
	}
	a.idemLease.Store(int64(d))
}

// SetNotifyRejectLimit sets each client's budget of /notify requests that fail verification,
// per minute (config reload): a client over it has its next notification verified before
// anything is stored, and refused with 429 when that fails too. Verified notifications are
// never refused. 0 means DefaultNotifyRejectsPerMinute; a negative value turns the limit off.
func (a *API) SetNotifyRejectLimit(perMinute int64) {
	if perMinute == 0 {
		perMinute = DefaultNotifyRejectsPerMinute
	}
	a.rejects.set(perMinute)
}

func (a *API) currentKeys() KeyMatcher { return *a.keys.Load() }

// Handler returns the http.Handler serving every route.
func (a *API) Handler() http.Handler { return a.outer(a.mux) }

func (a *API) routes() {
	m := http.NewServeMux()
	authed := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, a.auth(h)) }
	m.HandleFunc("GET /healthz", a.healthz)
	m.HandleFunc("GET /readyz", a.readyz)
	m.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusOK, "application/yaml", host.OpenAPI)
	})
	m.HandleFunc("POST /notify/{account}", a.notify)

	authed("POST /v1/payments", a.idempotent(http.StatusCreated, a.createPayment, a.resumePayment))
	authed("GET /v1/payments", a.listPayments)
	authed("GET /v1/payments/{id}", a.getPayment)
	authed("POST /v1/payments/{id}/client-result", a.clientResult)
	authed("POST /v1/payments/{id}/refunds", a.idempotent(http.StatusCreated, a.createRefund, a.resumeRefund))
	authed("GET /v1/payments/{id}/refunds", a.listRefunds)
	authed("GET /v1/payments/{id}/refunds/{rid}", a.getRefund)
	authed("GET /v1/refunds", a.adminOnly(a.listAllRefunds))
	authed("POST /v1/payments/{id}/refunds/{rid}/settle", a.idempotent(http.StatusOK, a.settleRefund, nil))
	authed("POST /v1/payments/{id}/close", a.idempotent(http.StatusOK, a.closePayment, nil))
	authed("GET /v1/methods", a.methods)
	authed("GET /v1/notifications", a.listNotifications)
	authed("GET /v1/events", a.listEvents)
	authed("POST /v1/events/{id}/redeliver", a.redeliver)
	authed("POST /v1/reconciliations", a.reconcile)
	m.Handle("GET /v1/plugins/{name}/shadow", a.admin(a.pluginShadow))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all also receives known paths with another method: answer those with 405.
		var allow []string
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = method
			if _, pattern := a.mux.Handler(probe); pattern != "/" {
				allow = append(allow, method)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			a.fail(w, r, apiError(codeMethodNotAllowed, "method "+r.Method+" is not allowed here"))
			return
		}
		a.fail(w, r, apiError(core.ENOTFOUND, "no such route"))
	})
	a.mux = m
}

// fail writes err as the API's error body and logs internal detail (never shown to callers).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	status, body := errorJSON(err, id)
	if status >= 500 {
		a.log.Error("request failed", "request_id", id, "code", core.ErrorCode(err), "error", err)
	} else {
		a.log.Debug("request refused", "request_id", id, "code", core.ErrorCode(err), "error", err)
	}
	writeRaw(w, status, "application/json", body)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshal renders v as the API's JSON (one trailing newline), without Go's HTML escaping: a
// next_action.value or an event's data keeps "&", "<" and ">" as they are, so a client can use
// the value byte for byte (paste it into a browser, hand it to a wallet SDK).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, core.WrapError(core.EINTERNAL, err, "encoding response")
	}
	return buf.Bytes(), nil
}

func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeRaw(w, status, "application/json", b)
}

// readBody reads the whole body under the size limit.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody.Load()))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiError(codeTooLarge, "request body is over the size limit")
		}
		return nil, core.WrapError(core.EINVALID, err, "reading the request body failed")
	}
	return b, nil
}

// decode strictly decodes a JSON object: unknown fields, trailing data, a key twice in one
// object and a key that matches a field only when case is ignored are refused (checkKeys).
// Every refusal is EINVALID; those about one field name it as the error's param.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(body, reflect.TypeOf(v), err)
	}
	if dec.More() {
		return core.Errorf(core.EINVALID, "request body has data after the JSON object")
	}
	return checkKeys(body, reflect.TypeOf(v))
}

// Hooks lets the CLI react to API activity: OnRedeliver wakes the dispatcher, OnNotification
// feeds metrics, OnEarlyQuery wakes the janitor after a client result that asks for an early
// query (host.Payment.WantsEarlyQuery). All must return quickly.
type Hooks struct {
	OnRedeliver    func()
	OnNotification func(host.NotificationOutcome)
	OnEarlyQuery   func()
}

// SetHooks installs hooks; call it before serving.
func (a *API) SetHooks(h Hooks) {
	a.onRedeliver, a.onNotification, a.onEarlyQuery = h.OnRedeliver, h.OnNotification, h.OnEarlyQuery
}
