package httpapi

import (
	"bytes"
	"mime"
	"net/http"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

// reconcile serves POST /v1/reconciliations: {account, from, to[, timezone]} -> the report as
// JSON, or as CSV with ?format=csv or an Accept header that prefers text/csv. The report is
// built in full before the first byte is written, so a failure is still a proper error answer.
func (a *API) reconcile(w http.ResponseWriter, r *http.Request) {
	csvOut, err := wantsCSV(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := a.readBody(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req host.ReconcileRequest
	if err := decode(body, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	rep, err := a.svc.Reconcile(r.Context(), &req, host.ReconcileOptions{})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("reconciliation", "request_id", RequestID(r.Context()), "account", rep.Account, "from", rep.From, "to", rep.To, "summary", rep.SummaryLine())
	if !csvOut {
		a.writeJSON(w, r, http.StatusOK, rep)
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		a.fail(w, r, core.WrapError(core.EINTERNAL, err, "encoding the report as CSV"))
		return
	}
	name := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			return c
		}
		return '_'
	}, "reconciliation-"+rep.Account+"-"+rep.From+"-"+rep.To)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	writeRaw(w, http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// wantsCSV reads ?format= (json or csv; it wins) and otherwise the Accept header.
func wantsCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, core.ParamErrorf(core.EINVALID, "format", "format must be json or csv")
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true, nil
		case "application/json", "*/*":
			return false, nil
		}
	}
	return false, nil
}
