package mapisim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core/notify"
)

// The control API (/sim/...) drives the wallet side and inspects the simulator over HTTP, for
// tools and tests in other processes. Every answer is JSON except the public key.
func (s *Sim) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /sim/pay", s.ctlOrderString(func(ctx context.Context, os string) (any, error) { return s.PayOrderString(ctx, os) }))
	mux.HandleFunc("POST /sim/cancel", s.ctlOrderString(func(ctx context.Context, os string) (any, error) { return s.CancelOrderString(ctx, os) }))
	mux.HandleFunc("POST /sim/open", s.ctlOrderString(func(ctx context.Context, os string) (any, error) { return s.OpenOrderString(ctx, os) }))
	mux.HandleFunc("POST /sim/h5/pay", s.ctlRedirect(func(ctx context.Context, u string) (any, error) { return s.PayH5(ctx, u) }))
	mux.HandleFunc("POST /sim/h5/open", s.ctlRedirect(func(ctx context.Context, u string) (any, error) {
		p, err := s.OpenH5(ctx, u)
		return map[string]string{"cashier": p}, err
	}))
	mux.HandleFunc("GET /sim/deliveries", func(w http.ResponseWriter, r *http.Request) {
		partner, otn := r.URL.Query().Get("partner"), r.URL.Query().Get("out_trade_no")
		out := []Delivery{}
		for _, d := range s.Deliveries() {
			if (partner == "" || d.Partner == partner) && (otn == "" || d.OutTradeNo == otn) {
				out = append(out, d)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /sim/wait-idle", func(w http.ResponseWriter, r *http.Request) {
		timeout := 30 * time.Second
		if t := r.URL.Query().Get("timeout"); t != "" {
			d, err := time.ParseDuration(t)
			if err != nil || d <= 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "timeout must be a positive Go duration"})
				return
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := s.WaitIdle(ctx); err != nil {
			writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"idle": true})
	})
	mux.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Faults()) })
	mux.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Kind    FaultKind `json:"kind"`
			Partner string    `json:"partner"`
			Service string    `json:"service"`
			Delay   string    `json:"delay"` // Go duration, e.g. "200ms"
			Status  int       `json:"status"`
			Code    string    `json:"code"`
			Count   int       `json:"count"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON fault: " + err.Error()})
			return
		}
		f := Fault{Kind: in.Kind, Partner: in.Partner, Service: in.Service, Status: in.Status, Code: in.Code, Count: in.Count}
		if in.Delay != "" {
			d, err := time.ParseDuration(in.Delay)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "delay must be a Go duration"})
				return
			}
			f.Delay = d
		}
		id, err := s.SetFault(f)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]int64{"id": id})
	})
	mux.HandleFunc("DELETE /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		f, ok := s.FaultByID(id)
		if err != nil || !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such fault"})
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET /sim/orders/{partner}/{out_trade_no}/refunds", func(w http.ResponseWriter, r *http.Request) {
		refunds := s.RefundsOf(r.PathValue("partner"), r.PathValue("out_trade_no"))
		if refunds == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
			return
		}
		writeJSON(w, http.StatusOK, refunds)
	})
	mux.HandleFunc("DELETE /sim/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || !s.RemoveFault(id) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such fault"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sim/orders/{partner}/{out_trade_no}", func(w http.ResponseWriter, r *http.Request) {
		o, ok := s.Order(r.PathValue("partner"), r.PathValue("out_trade_no"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /sim/orders/{partner}/{out_trade_no}/expire", func(w http.ResponseWriter, r *http.Request) {
		if !s.ExpireOrder(r.PathValue("partner"), r.PathValue("out_trade_no")) {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "no such unpaid order"})
			return
		}
		o, _ := s.Order(r.PathValue("partner"), r.PathValue("out_trade_no"))
		writeJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("GET /sim/partners", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Partners()) })
	mux.HandleFunc("GET /sim/alipay-public-key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(s.AlipayPublicKeyPEM())
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// readInput reads one string argument from a control request: a JSON object field, a form
// field of the same name, or the raw body (text/plain).
func readInput(r *http.Request, field string) (string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxOrderStringBytes+1024))
	if err != nil {
		return "", err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			return "", err
		}
		return m[field], nil
	case "application/x-www-form-urlencoded":
		// The order string itself contains '&' and '=': it must be form-encoded as one field.
		form, err := notify.DecodeForm(body, r.Header.Get("Content-Type"))
		if err != nil {
			return "", err
		}
		return form[field], nil
	}
	return strings.TrimSpace(string(body)), nil
}

func (s *Sim) ctlOrderString(f func(ctx context.Context, os string) (any, error)) http.HandlerFunc {
	return s.ctl("order_string", f)
}

func (s *Sim) ctlRedirect(f func(ctx context.Context, u string) (any, error)) http.HandlerFunc {
	return s.ctl("redirect_url", f)
}

func (s *Sim) ctl(field string, f func(ctx context.Context, in string) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := readInput(r, field)
		if err != nil || in == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing " + field})
			return
		}
		out, err := f(r.Context(), in)
		var ge *Error
		switch {
		case errors.As(err, &ge):
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": ge.Code, "detail": ge.Detail})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}
