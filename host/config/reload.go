package config

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// Changes says what changed between two configs, so that a reload touches only what it must.
// Names are sorted.
type Changes struct {
	PluginsAdded, PluginsRemoved, PluginsChanged    []string // changed: command, sha256, env or shadow
	AccountsAdded, AccountsRemoved, AccountsChanged []string // changed: plugin or any setting
	RegionsChanged                                  bool     // any region, method order, currency or limit
	ServerChanged                                   bool     // anything under server
	StoreChanged                                    bool     // driver or dsn
	WebhooksChanged                                 bool
	LogChanged                                      bool
	RetentionChanged                                bool
}

// Diff returns what changed from old to new. A nil old means everything in new is added.
func Diff(old, new *Config) *Changes {
	if old == nil {
		old = &Config{}
	}
	d := &Changes{}
	d.PluginsAdded, d.PluginsRemoved, d.PluginsChanged = diffMaps(old.Plugins, new.Plugins, pluginEqual)
	d.AccountsAdded, d.AccountsRemoved, d.AccountsChanged = diffMaps(old.Accounts, new.Accounts, accountEqual)
	d.RegionsChanged = !reflect.DeepEqual(normRegions(old.Regions), normRegions(new.Regions))
	d.ServerChanged = !serverEqual(old.Server, new.Server)
	d.StoreChanged = old.Store.Driver != new.Store.Driver || old.Store.DSN.value != new.Store.DSN.value
	d.WebhooksChanged = old.Webhooks.URL != new.Webhooks.URL || old.Webhooks.Secret.value != new.Webhooks.Secret.value ||
		!slices.EqualFunc(old.Webhooks.Endpoints, new.Webhooks.Endpoints, endpointEqual)
	d.LogChanged = old.Log != new.Log
	d.RetentionChanged = old.Retention != new.Retention
	return d
}

// Empty reports whether nothing changed.
func (d *Changes) Empty() bool {
	return len(d.PluginsAdded)+len(d.PluginsRemoved)+len(d.PluginsChanged)+
		len(d.AccountsAdded)+len(d.AccountsRemoved)+len(d.AccountsChanged) == 0 &&
		!d.RegionsChanged && !d.ServerChanged && !d.StoreChanged && !d.WebhooksChanged && !d.LogChanged && !d.RetentionChanged
}

// RestartRequired reports whether the change touches something a running process cannot swap
// (the listen address, TLS switched on or off, the store, or the log format; the log level is
// live); the serve command should refuse
// such a reload, keep the old config and say that a restart is needed. Other server.tls changes
// (the certificate and key file paths) are live: the listener takes its certificate from a
// holder that a reload swaps.
func (d *Changes) RestartRequired(old, new *Config) bool {
	if d.StoreChanged {
		return true
	}
	if old == nil {
		return false
	}
	return old.Server.Listen != new.Server.Listen || (old.Server.TLS == nil) != (new.Server.TLS == nil) ||
		old.Log.Format != new.Log.Format || old.Server.MaxHeaderBytes != new.Server.MaxHeaderBytes
}

// PluginsToStart returns the plugins to (re)start: added or changed.
func (d *Changes) PluginsToStart() []string {
	return sortedUnion(d.PluginsAdded, d.PluginsChanged)
}

// AccountsToConfigure returns the accounts whose Configure must be called after the reload:
// added, changed, or served by a plugin that is (re)started (a restarted plugin has forgotten
// every account).
func (d *Changes) AccountsToConfigure(new *Config) []string {
	set := map[string]bool{}
	for _, id := range d.AccountsAdded {
		set[id] = true
	}
	for _, id := range d.AccountsChanged {
		set[id] = true
	}
	restarted := map[string]bool{}
	for _, p := range d.PluginsToStart() {
		restarted[p] = true
	}
	for id, a := range new.Accounts {
		if restarted[a.Plugin] {
			set[id] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func sortedUnion(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func diffMaps[V any](old, new map[string]V, eq func(a, b V) bool) (added, removed, changed []string) {
	for k, nv := range new {
		ov, ok := old[k]
		switch {
		case !ok:
			added = append(added, k)
		case !eq(ov, nv):
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			removed = append(removed, k)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	return added, removed, changed
}

func pluginEqual(a, b Plugin) bool {
	return a.Command == b.Command && a.SHA256 == b.SHA256 && maps.Equal(a.Env, b.Env) && shadowEqual(a.Shadow, b.Shadow)
}

func shadowEqual(a, b *Shadow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Command == b.Command && a.SHA256 == b.SHA256 && maps.Equal(a.Env, b.Env) && slices.Equal(a.Ignore, b.Ignore) &&
		a.Timeout == b.Timeout && a.MaxInFlight == b.MaxInFlight
}

func accountEqual(a, b Account) bool {
	return a.Plugin == b.Plugin && maps.EqualFunc(a.Settings, b.Settings, func(x, y Secret) bool { return x.value == y.value })
}

func serverEqual(a, b Server) bool {
	if a.Listen != b.Listen || a.PublicURL != b.PublicURL || a.MaxBodyBytes != b.MaxBodyBytes ||
		a.IdempotencyTTL != b.IdempotencyTTL || a.IdempotencyLease != b.IdempotencyLease || a.MaxHeaderBytes != b.MaxHeaderBytes || a.NotifyRejectsPerMinute != b.NotifyRejectsPerMinute || !reflect.DeepEqual(a.TLS, b.TLS) || len(a.APIKeys) != len(b.APIKeys) {
		return false
	}
	for i := range a.APIKeys {
		x, y := a.APIKeys[i], b.APIKeys[i]
		if x.Key.value != y.Key.value || x.Name != y.Name || x.Admin != y.Admin || x.ReadOnly != y.ReadOnly ||
			!slices.Equal(x.Accounts, y.Accounts) || !slices.Equal(x.Regions, y.Regions) {
			return false
		}
	}
	return true
}

// normRegions drops the difference between a nil and an empty list so that Diff of two
// loads of the same file is empty.
func normRegions(rs map[string]Region) map[string]Region {
	out := make(map[string]Region, len(rs))
	for code, r := range rs {
		ms := make([]RegionMethod, len(r.Methods))
		for i, m := range r.Methods {
			if len(m.Currencies) == 0 {
				m.Currencies = nil
			}
			if len(m.Limits) == 0 {
				m.Limits = nil
			}
			ms[i] = m
		}
		out[code] = Region{Methods: ms}
	}
	return out
}

// Holder keeps the config in use and replaces it atomically on reload. Readers call Current
// for each request (a lock-free atomic load); Reload is serialised.
type Holder struct {
	path string
	cur  atomic.Pointer[Config]
	mu   sync.Mutex // serialises Reload
}

// NewHolder returns a Holder serving cfg, which was loaded from path.
func NewHolder(path string, cfg *Config) *Holder {
	h := &Holder{path: path}
	h.cur.Store(cfg)
	return h
}

// Current returns the config in use. Treat it as read-only.
func (h *Holder) Current() *Config { return h.cur.Load() }

// ErrRestartRequired is returned by Reload when the new config changes the listen address,
// switches TLS on or off, changes the store or the log format, which only a restart can apply.
// The old config keeps serving.
var ErrRestartRequired = errors.New("config: the change to server.listen, to whether server.tls is set, to server.max_header_bytes, to store or to log.format needs a restart")

// Reload loads the file again and, when it is valid, calls apply with the old and new config
// and their Changes (apply starts changed plugins, configures accounts, runs ValidateMethods). Only
// when apply returns nil does the new config become Current; on any error the old config keeps
// serving and the error says why. apply is not called when nothing changed.
func (h *Holder) Reload(apply func(old, new *Config, d *Changes) error) (*Changes, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next, err := Load(h.path)
	if err != nil {
		return nil, err
	}
	old := h.cur.Load()
	d := Diff(old, next)
	if d.Empty() {
		return d, nil
	}
	if d.RestartRequired(old, next) {
		return d, ErrRestartRequired
	}
	if apply != nil {
		if err := apply(old, next, d); err != nil {
			return d, err
		}
	}
	h.cur.Store(next)
	return d, nil
}

func endpointEqual(a, b WebhookEndpoint) bool {
	return a.Name == b.Name && a.URL == b.URL && a.Paused == b.Paused && slices.Equal(a.Events, b.Events) &&
		slices.Equal(a.Accounts, b.Accounts) && slices.Equal(a.Regions, b.Regions) &&
		slices.EqualFunc(a.Secrets, b.Secrets, func(x, y Secret) bool { return x.value == y.value })
}
