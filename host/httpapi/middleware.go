package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/config"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxKeyID
	ctxLogSlot
)

// logSlot carries what inner handlers learn about a request to the access log of outer.
type logSlot struct{ keyName string }

// RequestID returns the request id set by the API's middleware.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

// callerKeyID returns the id of the API key that authenticated the request.
func callerKeyID(ctx context.Context) string {
	s, _ := ctx.Value(ctxKeyID).(string)
	return s
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// validRequestID accepts a caller's X-Request-Id only when it is short and plain, so that it
// cannot inject anything into logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// outer sets the request id, logs the request, and turns a panic into a 500 without detail.
func (a *API) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		slot := &logSlot{}
		ctx := host.WithRequestID(context.WithValue(r.Context(), ctxRequestID, id), id)
		ctx = context.WithValue(ctx, ctxLogSlot, slot)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.Error("panic serving request", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					status, body := errorJSON(apiError("internal", "internal error"), id)
					writeRaw(rec, status, "application/json", body)
				}
			}
			args := []any{"request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start).String()}
			if slot.keyName != "" {
				args = append(args, "api_key", slot.keyName)
			}
			a.log.Info("request", args...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// KeyMatcher finds the API key a bearer token belongs to and what that key may do (its id,
// name and scope); false when no key matches.
type KeyMatcher func(token string) (*host.Caller, bool)

// StaticKeys returns a KeyMatcher over plain api_keys entries, each an administrator key (hashed
// "sha256:<hex>" entries, constant-time comparison, stable key ids: see config.ScopedKeyMatcher).
func StaticKeys(keys []string) KeyMatcher {
	list := make([]config.APIKey, len(keys))
	for i, k := range keys {
		list[i] = config.PlainAPIKey(k)
	}
	return ConfigKeys(list)
}

// ConfigKeys returns a KeyMatcher over configured server.api_keys, with their names and scopes.
func ConfigKeys(keys []config.APIKey) KeyMatcher {
	match := config.ScopedKeyMatcher(keys)
	return func(token string) (*host.Caller, bool) {
		k, ok := match(token)
		if !ok {
			return nil, false
		}
		return &host.Caller{KeyID: k.ID, KeyName: k.Name, Admin: k.Admin, Accounts: k.Accounts, Regions: k.Regions, ReadOnly: k.ReadOnly}, true
	}
}

// auth requires a valid bearer key, puts its caller (id, name, scope) in the request's context,
// and refuses any change asked with a read-only key.
func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		var c *host.Caller
		if ok && token != "" {
			c, ok = a.currentKeys()(token)
		}
		if !ok || c == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paymux"`)
			a.fail(w, r, apiError("unauthorized", "missing or unknown API key"))
			return
		}
		if slot, _ := r.Context().Value(ctxLogSlot).(*logSlot); slot != nil {
			slot.keyName = c.KeyName
		}
		if c.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.fail(w, r, apiError(codeForbidden, "this API key is read-only"))
			return
		}
		ctx := host.WithCaller(context.WithValue(r.Context(), ctxKeyID, c.KeyID), c)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// adminOnly serves h to administrator keys only; to any other key the route does not exist.
func (a *API) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := host.CallerFrom(r.Context()); c == nil || !c.Admin {
			a.fail(w, r, apiError(core.ENOTFOUND, "no such route"))
			return
		}
		h(w, r)
	}
}
