package antomsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Handler serves the AMS API (/ams/...), the wallet pages (/antom/...) and the control API
// (/sim/antom/...). Paths are dispatched by prefix, never cleaned: a client that signed
// "/ams/api//v1/..." is answered at that path.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/ams/"):
			s.serveAMS(w, r)
		case strings.HasPrefix(p, "/antom/wallet/"):
			s.serveWallet(w, r, strings.TrimPrefix(p, "/antom/wallet/"))
		case strings.HasPrefix(p, "/antom/applink/"):
			// An app link without the app installed is a web page: the wallet page.
			http.Redirect(w, r, "/antom/wallet/"+strings.TrimPrefix(p, "/antom/applink/"), http.StatusFound)
		case strings.HasPrefix(p, "/sim/antom/"):
			s.serveControl(w, r, strings.TrimPrefix(p, "/sim/antom/"))
		default:
			http.NotFound(w, r)
		}
	})
}

// Owns reports whether a path belongs to the simulator's Handler, for mounting it beside
// another handler on one listener.
func Owns(path string) bool {
	return strings.HasPrefix(path, "/ams/") || strings.HasPrefix(path, "/antom/") || strings.HasPrefix(path, "/sim/antom/")
}

// Mount returns a handler that sends the simulator's paths to it and everything else to other.
func (s *Sim) Mount(other http.Handler) http.Handler {
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Owns(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		other.ServeHTTP(w, r)
	})
}

func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request, what string) {
	writeJSON := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case what == "public-key" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.pubPEM)
	case what == "decide" && r.Method == http.MethodPost:
		if err := s.Decide(r.FormValue("payment_id"), Decision(r.FormValue("decision"))); err != nil {
			writeJSON(http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(http.StatusOK, map[string]string{"status": "ok"})
	case what == "deliveries" && r.Method == http.MethodGet:
		writeJSON(http.StatusOK, s.Deliveries())
	case what == "faults" && r.Method == http.MethodPost:
		var f Fault
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&f); err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "body must be a fault as JSON"})
			return
		}
		id, err := s.SetFault(f)
		if err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(http.StatusOK, map[string]int{"id": id})
	case strings.HasPrefix(what, "faults/") && r.Method == http.MethodDelete:
		id, err := strconv.Atoi(strings.TrimPrefix(what, "faults/"))
		if err != nil {
			writeJSON(http.StatusBadRequest, map[string]string{"error": "fault id must be a number"})
			return
		}
		s.RemoveFault(id)
		writeJSON(http.StatusOK, map[string]string{"status": "ok"})
	default:
		writeJSON(http.StatusNotFound, map[string]string{"error": "no such control endpoint"})
	}
}
