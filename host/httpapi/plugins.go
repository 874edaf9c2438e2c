package httpapi

import (
	"context"
	"net/http"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/pluginhost"
)

// Shadows is the part of host/pluginhost.Manager the shadow route reads.
type Shadows interface {
	ShadowReport(plugin string) (*pluginhost.ShadowReport, error)
}

// AdminCheck reports whether the API key with keyID (as a KeyMatcher returned it) is an
// administrator's. Nil means every key is: each entry of server.api_keys is an administrator key.
type AdminCheck func(keyID string) bool

// admin requires a valid bearer key that is an administrator's; to any other key the route does
// not exist (404, as for resources a key may not see).
func (a *API) admin(next http.HandlerFunc) http.Handler {
	return a.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.isAdmin(r.Context()) {
			a.fail(w, r, apiError(core.ENOTFOUND, "no such route"))
			return
		}
		next(w, r)
	}))
}

func (a *API) isAdmin(ctx context.Context) bool {
	if a.adminCheck == nil {
		return true
	}
	return a.adminCheck(callerKeyID(ctx))
}

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
