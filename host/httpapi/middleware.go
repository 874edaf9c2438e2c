package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/config"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxKeyID
)

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
		ctx := host.WithRequestID(context.WithValue(r.Context(), ctxRequestID, id), id)
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
			a.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start).String())
		}()
		next.ServeHTTP(rec, r)
	})
}

// KeyMatcher finds the API key a bearer token belongs to. It returns a stable, non-secret id
// for the key (used to scope idempotency keys) and false when no key matches.
type KeyMatcher func(token string) (keyID string, ok bool)

// StaticKeys returns a KeyMatcher over configured api_keys entries: config.KeyMatcher, the one
// implementation (hashed "sha256:<hex>" entries, constant-time comparison, stable key ids).
func StaticKeys(keys []string) KeyMatcher { return KeyMatcher(config.KeyMatcher(keys)) }

// auth requires a valid bearer key.
func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		var id string
		if ok && token != "" {
			id, ok = a.currentKeys()(token)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paymux"`)
			a.fail(w, r, apiError("unauthorized", "missing or unknown API key"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKeyID, id)))
	})
}
