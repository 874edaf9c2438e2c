package httpapi

import (
	"net/http"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/pluginhost"
)

// Shadows is the part of host/pluginhost.Manager the shadow route reads.
type Shadows interface {
	ShadowReport(plugin string) (*pluginhost.ShadowReport, error)
}

// admin requires a valid bearer key that is an administrator's (host.Caller.Admin: a plain
// server.api_keys entry, or a mapped one with admin: true); to any other key the route does not
// exist (404, as for resources a key may not see).
func (a *API) admin(next http.HandlerFunc) http.Handler { return a.auth(a.adminOnly(next)) }

// pluginShadow answers GET /v1/plugins/{name}/shadow: what the plugin's shadow run has seen.
func (a *API) pluginShadow(w http.ResponseWriter, r *http.Request) {
	if a.shadows == nil {
		a.fail(w, r, core.Errorf(core.ENOTFOUND, "no plugins are managed here"))
		return
	}
	rep, err := a.shadows.ShadowReport(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, r, http.StatusOK, rep)
}
