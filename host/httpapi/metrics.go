package httpapi

import (
	"net/http"
	"time"
)

// HTTPObserver receives one finished request: the route pattern that matched (e.g.
// "GET /v1/payments/{id}", never the raw path, so ids stay out of metric labels), the method,
// the status code and the latency. host/metrics.Metrics.ObserveHTTP is one.
type HTTPObserver func(route, method string, code int, d time.Duration)

// InstrumentedHandler is Handler with every request reported to observe. The route is found
// with the API's own ServeMux before the request is served, so it is exactly the pattern that
// serves it ("/" for the not-found catch-all).
func (a *API) InstrumentedHandler(observe HTTPObserver) http.Handler {
	inner := a.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, route := a.mux.Handler(r)
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		defer func() {
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			observe(route, r.Method, code, time.Since(start))
		}()
		inner.ServeHTTP(rec, r)
	})
}
