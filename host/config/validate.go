package config

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/webhook"
)

var (
	// Plugin names and account ids appear in URLs (/notify/<account>) and file names.
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	regionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	envPattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// MinAPIKeyLen is the shortest plain API key accepted; shorter keys are guessable.
const MinAPIKeyLen = 16

// MinWebhookSecretLen is the shortest webhook HMAC key accepted.
const MinWebhookSecretLen = 16

var (
	logLevels  = []string{"trace", "debug", "info", "warn", "error", "off"}
	logFormats = []string{"json", "text"}
)

// validate checks everything that needs no plugin. Defaults have been applied.
func (c *Config) validate(ps *problems) {
	c.validateServer(ps)
	c.validateStore(ps)
	for _, name := range slices.Sorted(maps.Keys(c.Plugins)) {
		c.validatePlugin(ps, name, c.Plugins[name])
	}
	for _, id := range slices.Sorted(maps.Keys(c.Accounts)) {
		c.validateAccount(ps, id, c.Accounts[id])
	}
	for _, code := range slices.Sorted(maps.Keys(c.Regions)) {
		c.validateRegion(ps, code, c.Regions[code])
	}
	if c.Webhooks.URL != "" {
		if err := checkHTTPURL(c.Webhooks.URL); err != nil {
			ps.addf("webhooks.url", "%v", err)
		}
		switch s := c.Webhooks.Secret.Value(); {
		case s == "":
			ps.addf("webhooks.secret", "required when webhooks.url is set")
		case len(s) < MinWebhookSecretLen:
			ps.addf("webhooks.secret", "must be at least %d characters", MinWebhookSecretLen)
		}
	}
	c.validateEndpoints(ps)
	if r := c.Retention; r.PruneBatch <= 0 {
		ps.addf("retention.prune_batch", "must be positive")
	} else if r.PruneMaxRows < r.PruneBatch {
		ps.addf("retention.prune_max_rows", "must be at least retention.prune_batch")
	}
	if c.Retention.PrunePause <= 0 {
		ps.addf("retention.prune_pause", "must be positive")
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		ps.addf("log.level", "%q is not one of %s", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		ps.addf("log.format", "%q is not one of %s", c.Log.Format, strings.Join(logFormats, ", "))
	}
}

func (c *Config) validateServer(ps *problems) {
	s := c.Server
	c.validateAPIKeys(ps)
	if err := checkListen(s.Listen); err != nil {
		ps.addf("server.listen", "%v", err)
	}
	if s.PublicURL == "" {
		ps.addf("server.public_url", "required: the base URL wallets post notifications to")
	} else if err := checkHTTPURL(s.PublicURL); err != nil {
		ps.addf("server.public_url", "%v", err)
	} else if u, _ := url.Parse(s.PublicURL); u.RawQuery != "" || u.Fragment != "" {
		ps.addf("server.public_url", "must not have a query or fragment")
	}
	if s.TLS != nil {
		if s.TLS.CertFile == "" {
			ps.addf("server.tls.cert_file", "required when server.tls is set")
		}
		if s.TLS.KeyFile == "" {
			ps.addf("server.tls.key_file", "required when server.tls is set")
		}
	}
	if s.MaxBodyBytes <= 0 {
		ps.addf("server.max_body_bytes", "must be positive")
	}
	if s.IdempotencyTTL <= 0 {
		ps.addf("server.idempotency_ttl", "must be positive")
	}
	if s.IdempotencyLease < Duration(time.Second) {
		ps.addf("server.idempotency_lease", "must be at least 1s")
	} else if s.IdempotencyLease >= s.IdempotencyTTL {
		ps.addf("server.idempotency_lease", "must be shorter than server.idempotency_ttl")
	}
	if s.MaxHeaderBytes < 1024 {
		ps.addf("server.max_header_bytes", "must be at least 1024")
	}
	if s.NotifyRejectsPerMinute < -1 {
		ps.addf("server.notify_rejects_per_minute", "must be positive, or -1 for no limit")
	}
}

func (c *Config) validateStore(ps *problems) {
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		dsn := c.Store.DSN.Value()
		if dsn == "" {
			ps.addf("store.dsn", "required for the postgres driver")
		} else if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") && !strings.Contains(dsn, "=") {
			ps.addf("store.dsn", "not a PostgreSQL URL (postgres://...) or key=value connection string")
		}
	default:
		ps.addf("store.driver", "%q is not one of sqlite, postgres", c.Store.Driver)
	}
}

func (c *Config) validatePlugin(ps *problems, name string, p Plugin) {
	path := "plugins." + name
	if !namePattern.MatchString(name) {
		ps.addf(path, "plugin name must be letters, digits, '.', '_' or '-'")
	}
	if p.Command == "" {
		ps.addf(path+".command", "required: the path of the plugin binary")
	}
	if p.SHA256 == "" {
		ps.addf(path+".sha256", "required: run `paymux plugins pin` to record the binary's hash")
	} else if !isHex64(p.SHA256) {
		ps.addf(path+".sha256", "must be 64 hex digits (the SHA-256 of the binary)")
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		if !envPattern.MatchString(k) {
			ps.addf(path+".env."+k, "not a valid environment variable name")
		}
	}
	if sh := p.Shadow; sh != nil {
		sp := path + ".shadow"
		if sh.Command == "" {
			ps.addf(sp+".command", "required: the path of the candidate binary")
		}
		if sh.SHA256 == "" {
			ps.addf(sp+".sha256", "required: run `paymux plugins pin` to record the candidate binary's hash")
		} else if !isHex64(sh.SHA256) {
			ps.addf(sp+".sha256", "must be 64 hex digits (the SHA-256 of the binary)")
		}
		for _, k := range slices.Sorted(maps.Keys(sh.Env)) {
			if !envPattern.MatchString(k) {
				ps.addf(sp+".env."+k, "not a valid environment variable name")
			}
		}
		for i, rule := range sh.Ignore {
			m, f, ok := strings.Cut(rule, ".")
			if !ok || f == "" || !slices.Contains(ShadowMethods, m) {
				ps.addf(fmt.Sprintf("%s.ignore[%d]", sp, i), "%q is not <Method>.<field> with Method one of %s", rule, strings.Join(ShadowMethods, ", "))
			}
		}
		if sh.Timeout < 0 {
			ps.addf(sp+".timeout", "must be positive")
		}
		if sh.MaxInFlight < 0 || sh.MaxInFlight > 4096 {
			ps.addf(sp+".max_in_flight", "must be between 1 and 4096")
		}
	}
}

func (c *Config) validateAccount(ps *problems, id string, a Account) {
	path := "accounts." + id
	if !namePattern.MatchString(id) {
		ps.addf(path, "account id must be letters, digits, '.', '_' or '-' (it appears in notify URLs)")
	}
	switch _, ok := c.Plugins[a.Plugin]; {
	case a.Plugin == "":
		ps.addf(path+".plugin", "required")
	case !ok:
		ps.addf(path+".plugin", "unknown plugin %q (known: %s)", a.Plugin, strings.Join(slices.Sorted(maps.Keys(c.Plugins)), ", "))
	}
}

func (c *Config) validateRegion(ps *problems, code string, r Region) {
	path := "regions." + code
	if !regionPattern.MatchString(code) {
		ps.addf(path, "region code must be letters, digits, '_' or '-'")
	}
	if len(r.Methods) == 0 {
		ps.addf(path+".methods", "at least one method is required")
	}
	// A method may be listed more than once to route currencies to different accounts: a
	// payment goes to the first entry of its method whose currencies include its currency. An
	// entry that can never be chosen is a mistake.
	type coverage struct {
		all   int // index of an earlier entry without a currency list, or -1
		taken map[string]int
	}
	cover := map[string]*coverage{}
	for i, m := range r.Methods {
		mp := fmt.Sprintf("%s.methods[%d]", path, i)
		if m.Method == "" {
			ps.addf(mp+".method", "required")
		} else {
			cv := cover[m.Method]
			if cv == nil {
				cv = &coverage{all: -1, taken: map[string]int{}}
				cover[m.Method] = cv
			}
			newCur := false
			for _, cur := range m.Currencies {
				if _, ok := cv.taken[cur]; !ok {
					newCur = true
				}
			}
			switch {
			case cv.all >= 0:
				ps.addf(mp+".method", "unreachable: methods[%d] already takes %s in every currency (a payment goes to the first entry that accepts its currency)", cv.all, m.Method)
			case len(m.Currencies) > 0 && !newCur:
				ps.addf(mp+".currencies", "unreachable: earlier entries already take %s in all these currencies", m.Method)
			}
			if len(m.Currencies) == 0 && cv.all < 0 {
				cv.all = i
			}
			for _, cur := range m.Currencies {
				if _, ok := cv.taken[cur]; !ok {
					cv.taken[cur] = i
				}
			}
		}
		if _, ok := c.Accounts[m.Account]; m.Account == "" {
			ps.addf(mp+".account", "required")
		} else if !ok {
			ps.addf(mp+".account", "unknown account %q (known: %s)", m.Account, strings.Join(slices.Sorted(maps.Keys(c.Accounts)), ", "))
		}
		curSeen := map[string]bool{}
		for j, cur := range m.Currencies {
			cp := fmt.Sprintf("%s.currencies[%d]", mp, j)
			if !core.ValidCurrency(cur) {
				ps.addf(cp, "%q is not an ISO 4217 currency code", cur)
			} else if curSeen[cur] {
				ps.addf(cp, "%s is listed twice", cur)
			}
			curSeen[cur] = true
		}
		limSeen := map[string]bool{}
		for j, l := range m.Limits {
			c.validateLimit(ps, fmt.Sprintf("%s.limits[%d]", mp, j), l, m, limSeen)
		}
	}
}

func (c *Config) validateLimit(ps *problems, lp string, l AmountLimit, m RegionMethod, seen map[string]bool) {
	if !core.ValidCurrency(l.Currency) {
		ps.addf(lp+".currency", "%q is not an ISO 4217 currency code", l.Currency)
		return
	}
	if seen[l.Currency] {
		ps.addf(lp+".currency", "a limit for %s is already given", l.Currency)
	}
	seen[l.Currency] = true
	if !m.AllowsCurrency(l.Currency) {
		ps.addf(lp+".currency", "%s is not in this method's currencies", l.Currency)
	}
	if l.Min == "" && l.Max == "" {
		ps.addf(lp, "give min, max or both")
	}
	var lo, hi core.Money
	var err error
	okLo, okHi := l.Min != "", l.Max != ""
	if okLo {
		if lo, err = core.ParseMoney(l.Min, l.Currency); err != nil {
			ps.addf(lp+".min", "%s", core.ErrorMessage(err))
			okLo = false
		}
	}
	if okHi {
		if hi, err = core.ParseMoney(l.Max, l.Currency); err != nil {
			ps.addf(lp+".max", "%s", core.ErrorMessage(err))
			okHi = false
		} else if hi.Value == 0 {
			ps.addf(lp+".max", "must be positive")
			okHi = false
		}
	}
	if okLo && okHi && lo.Value > hi.Value {
		ps.addf(lp, "min %s is above max %s", l.Min, l.Max)
	}
}

// ValidateMethods checks every region method against its account's plugin Describe: the
// method exists, and the region's currencies and limits are ones the method accepts. describe
// is called once per plugin (serve passes the started plugins; config check -plugins likewise).
// It returns a Problems or nil.
func ValidateMethods(cfg *Config, describe func(plugin string) (*core.Description, error)) error {
	ps := &problems{file: cfg.file, pos: cfg.pos}
	descs := map[string]*core.Description{}
	failed := map[string]bool{}
	for _, code := range slices.Sorted(maps.Keys(cfg.Regions)) {
		for i, m := range cfg.Regions[code].Methods {
			mp := fmt.Sprintf("regions.%s.methods[%d]", code, i)
			acct, ok := cfg.Accounts[m.Account]
			if !ok {
				ps.addf(mp+".account", "unknown account %q", m.Account)
				continue
			}
			d, ok := descs[acct.Plugin]
			if !ok && !failed[acct.Plugin] {
				var err error
				if d, err = describe(acct.Plugin); err != nil || d == nil {
					if err == nil {
						err = fmt.Errorf("no description")
					}
					ps.addf("plugins."+acct.Plugin, "describe: %v", err)
					failed[acct.Plugin] = true
				} else {
					descs[acct.Plugin] = d
				}
			}
			if d == nil {
				continue
			}
			pm, ok := d.Method(m.Method)
			if !ok {
				ids := make([]string, len(d.Methods))
				for j, x := range d.Methods {
					ids[j] = x.ID
				}
				ps.addf(mp+".method", "plugin %s (account %s) has no method %q (it offers: %s)", acct.Plugin, m.Account, m.Method, strings.Join(ids, ", "))
				continue
			}
			checkAgainstMethod(ps, mp, m, pm)
		}
	}
	return ps.err()
}

// checkAgainstMethod checks a region method's currencies and limits against what the provider
// method accepts, so a checkout never offers what the provider would refuse.
func checkAgainstMethod(ps *problems, mp string, m RegionMethod, pm core.Method) {
	if len(pm.AmountRules) == 0 {
		return
	}
	accepted := map[string]core.AmountRule{}
	var codes []string
	for _, r := range pm.AmountRules {
		accepted[r.Currency] = r
		codes = append(codes, r.Currency)
	}
	for j, cur := range m.Currencies {
		if _, ok := accepted[cur]; !ok {
			ps.addf(fmt.Sprintf("%s.currencies[%d]", mp, j), "method %s does not accept %s (it accepts %s)", pm.ID, cur, strings.Join(codes, ", "))
		}
	}
	rules, err := m.AmountRules()
	if err != nil {
		return // reported by validate
	}
	for j, r := range rules {
		pr, ok := accepted[r.Currency]
		lp := fmt.Sprintf("%s.limits[%d]", mp, j)
		if !ok {
			ps.addf(lp+".currency", "method %s does not accept %s (it accepts %s)", pm.ID, r.Currency, strings.Join(codes, ", "))
			continue
		}
		if pr.Max > 0 && r.Min > pr.Max {
			ps.addf(lp+".min", "min is above the provider's maximum %s", core.Money{Value: pr.Max, Currency: r.Currency}.Decimal())
		}
		if pr.Min > 0 && r.Max > 0 && r.Max < pr.Min {
			ps.addf(lp+".max", "max is below the provider's minimum %s", core.Money{Value: pr.Min, Currency: r.Currency}.Decimal())
		}
	}
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && !namePattern.MatchString(host) {
		return fmt.Errorf("%q: bad host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("must not contain credentials")
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// validateEndpoints checks webhooks.endpoints: unique names (not "default", which is the single
// url's), a URL, at least one secret long enough, known event types, accounts and regions.
func (c *Config) validateEndpoints(ps *problems) {
	names := map[string]int{}
	for i, e := range c.Webhooks.Endpoints {
		path := fmt.Sprintf("webhooks.endpoints[%d]", i)
		switch j, dup := names[e.Name]; {
		case e.Name == "":
			ps.addf(path+".name", "required")
		case !keyNamePattern.MatchString(e.Name):
			ps.addf(path+".name", "an endpoint name must be letters, digits, '.', '_' or '-' (at most 64)")
		case e.Name == "default":
			ps.addf(path+".name", `"default" is the name of webhooks.url's endpoint; choose another`)
		case dup:
			ps.addf(path+".name", "name %q is already used by webhooks.endpoints[%d]", e.Name, j)
		}
		names[e.Name] = i
		if e.URL == "" {
			ps.addf(path+".url", "required")
		} else if err := checkHTTPURL(e.URL); err != nil {
			ps.addf(path+".url", "%v", err)
		}
		if len(e.Secrets) == 0 {
			ps.addf(path+".secrets", "at least one secret is required")
		}
		for j, s := range e.Secrets {
			if len(s.Value()) < MinWebhookSecretLen {
				ps.addf(fmt.Sprintf("%s.secrets[%d]", path, j), "must be at least %d characters", MinWebhookSecretLen)
			}
		}
		for j, ev := range e.Events {
			if !slices.ContainsFunc(webhook.Types, func(typ string) bool { return webhook.TypeMatches(ev, typ) }) {
				ps.addf(fmt.Sprintf("%s.events[%d]", path, j), "%q matches no event type (known: %s; or a family such as payment.*)", ev, strings.Join(webhook.Types, ", "))
			}
		}
		for j, a := range e.Accounts {
			if _, ok := c.Accounts[a]; !ok {
				ps.addf(fmt.Sprintf("%s.accounts[%d]", path, j), "unknown account %q", a)
			}
		}
		for j, r := range e.Regions {
			if _, ok := c.Regions[r]; !ok {
				ps.addf(fmt.Sprintf("%s.regions[%d]", path, j), "unknown region %q", r)
			}
		}
	}
}
