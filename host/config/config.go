// Package config loads paymux's YAML configuration: strict decoding (an unknown key is an error
// naming its line), secret references (${ENV}, file:PATH), defaults, validation that reports every
// problem at once with file:line, constant-time API key matching, and Diff/Holder for atomic
// reload on SIGHUP. It never starts plugins; checks that need a plugin's Describe are in
// ValidateMethods.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core"
)

// Config is a loaded, resolved and validated configuration. Paths in it (plugin commands, TLS
// files, *_file account settings, a relative SQLite path) are absolute, resolved against the
// config file's directory.
type Config struct {
	Server    Server             `yaml:"server"`
	Store     Store              `yaml:"store"`
	Plugins   map[string]Plugin  `yaml:"plugins"`  // plugin name -> binary
	Accounts  map[string]Account `yaml:"accounts"` // account id -> plugin + settings
	Regions   map[string]Region  `yaml:"regions"`  // region code (e.g. "HK", "SG") -> methods in checkout order
	Webhooks  Webhooks           `yaml:"webhooks"`
	Retention Retention          `yaml:"retention"`
	Log       Log                `yaml:"log"`

	file string         // name used in messages
	dir  string         // directory relative paths were resolved against
	pos  map[string]int // key path -> line, for messages found after loading
}

// Server is the REST API listener.
type Server struct {
	Listen         string   `yaml:"listen"`          // default "127.0.0.1:8080"
	PublicURL      string   `yaml:"public_url"`      // base of every notify_url: <public_url>/notify/<account>
	APIKeys        []APIKey `yaml:"api_keys"`        // bearer keys (see APIKey); "sha256:<hex>" is a stored hash
	TLS            *TLS     `yaml:"tls"`             // optional: cert_file, key_file
	MaxBodyBytes   int64    `yaml:"max_body_bytes"`  // default 1 MiB
	IdempotencyTTL Duration `yaml:"idempotency_ttl"` // default 24h
	// IdempotencyLease is how long a request holds its Idempotency-Key; a retry takes over the
	// key of a request whose host died after that. Default 10s.
	IdempotencyLease Duration `yaml:"idempotency_lease"`
	// MaxHeaderBytes bounds a request's header block; a larger one is answered 431. Read at
	// start (a change needs a restart). Default 16 KiB.
	MaxHeaderBytes int64 `yaml:"max_header_bytes"`
	// NotifyRejectsPerMinute is each client's (remote IP's) budget of /notify requests that
	// fail verification; over it, such requests are answered 429 before anything is stored.
	// Verified notifications are never limited. Default 60; -1 turns the limit off (logged).
	NotifyRejectsPerMinute int64 `yaml:"notify_rejects_per_minute"`
}

// Retention says how long the janitor keeps records that no longer matter for money: inbox
// entries that failed verification and webhook events the merchant has received. Older ones are
// deleted in batches. A negative duration keeps them forever (logged as a warning).
type Retention struct {
	RejectedNotifications Duration `yaml:"rejected_notifications"` // default 720h (30 days)
	DeliveredEvents       Duration `yaml:"delivered_events"`       // default 720h (30 days)
	// Pacing, so that pruning a backlog never starves live traffic: rows per batch (one
	// statement, one short transaction), the pause after each batch (at least as long as the
	// batch took), and rows of each kind per round (every 10 minutes).
	PruneBatch   int64    `yaml:"prune_batch"`    // default 100
	PrunePause   Duration `yaml:"prune_pause"`    // default 100ms
	PruneMaxRows int64    `yaml:"prune_max_rows"` // default 10000
}

// TLS makes the server listen with TLS.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Store selects the database.
type Store struct {
	Driver string `yaml:"driver"` // "sqlite" (default) or "postgres"
	DSN    Secret `yaml:"dsn"`    // sqlite: file path (default "./paymux.db"); postgres: URL
}

// Plugin is one provider plugin binary.
type Plugin struct {
	Command string            `yaml:"command"` // path to the binary (absolute after loading)
	SHA256  string            `yaml:"sha256"`  // lower-case hex; required
	Env     map[string]string `yaml:"env"`     // the only environment the plugin gets
	Shadow  *Shadow           `yaml:"shadow"`  // optional: a candidate build run beside this one
}

// Shadow is a candidate build of a plugin, started and configured beside the live one. It gets a
// copy of every call without effect at the gateway after the live answer, and the answers are
// compared (GET /v1/plugins/{name}/shadow, paymux_plugin_shadow_calls_total). Its binary is
// pinned and checked like the live one.
type Shadow struct {
	Command     string            `yaml:"command"`       // path to the candidate binary
	SHA256      string            `yaml:"sha256"`        // lower-case hex; required
	Env         map[string]string `yaml:"env"`           // its whole environment (not inherited from the live build)
	Ignore      []string          `yaml:"ignore"`        // fields that legitimately differ, "<Method>.<field>"
	Timeout     Duration          `yaml:"timeout"`       // deadline of each shadow call; default 10s
	MaxInFlight int64             `yaml:"max_in_flight"` // shadow calls at once, more are dropped; default 16
}

// Shadow defaults.
const (
	DefaultShadowTimeout     = Duration(10 * time.Second)
	DefaultShadowMaxInFlight = 16
)

// ShadowMethods are the call types a shadow receives (those without effect at the gateway), the
// first part of an ignore rule.
var ShadowMethods = []string{"Describe", "Configure", "CreatePayment", "VerifyClientResult", "ParseNotification"}

// Account is one merchant account at a provider.
type Account struct {
	Plugin   string            `yaml:"plugin"`
	Settings map[string]Secret `yaml:"settings"` // provider settings; values may be ${ENV} or file:PATH
}

// Region lists the methods offered in one region, in checkout order.
type Region struct {
	Methods []RegionMethod `yaml:"methods"`
}

// RegionMethod enables one method of one account in a region.
type RegionMethod struct {
	Method     string        `yaml:"method"`     // a method id the account's plugin declares, e.g. "alipayhk"
	Account    string        `yaml:"account"`    // an account id
	Currencies []string      `yaml:"currencies"` // optional: only these currencies
	Limits     []AmountLimit `yaml:"limits"`     // optional per-currency limits
}

// AmountLimit bounds amounts in one currency; an empty Min or Max means no bound on that side.
type AmountLimit struct {
	Currency string `yaml:"currency"`
	Min      string `yaml:"min"` // decimal string, e.g. "0.10"
	Max      string `yaml:"max"`
}

// Webhooks is where merchant webhooks go: the single url and secret (one endpoint, named
// "default", for every event), endpoints, or both.
type Webhooks struct {
	URL       string            `yaml:"url"`       // where merchant webhooks are POSTed; empty = none sent
	Secret    Secret            `yaml:"secret"`    // HMAC-SHA256 key for Paymux-Signature
	Endpoints []WebhookEndpoint `yaml:"endpoints"` // more endpoints, each with its events, scope and secrets
}

// WebhookEndpoint is one receiver of webhook events.
type WebhookEndpoint struct {
	Name     string   `yaml:"name"`     // unique; in logs and metric labels
	URL      string   `yaml:"url"`      // absolute http(s) URL
	Secrets  []Secret `yaml:"secrets"`  // one or more; every one signs each delivery (rotation)
	Events   []string `yaml:"events"`   // types or families ("payment.*"); empty: every event
	Accounts []string `yaml:"accounts"` // only events of these accounts; empty: every account
	Regions  []string `yaml:"regions"`  // only events of payments in these regions; empty: every region
	Paused   bool     `yaml:"paused"`   // receives nothing while true
}

// Log configures the host's logger.
type Log struct {
	Level  string `yaml:"level"`  // trace|debug|info|warn|error; default info
	Format string `yaml:"format"` // json|text; default text
}

// Duration decodes "24h", "90s" etc.
type Duration time.Duration

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText makes a Duration print as "24h0m0s" in JSON and YAML dumps.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults.
const (
	DefaultListen         = "127.0.0.1:8080"
	DefaultMaxBodyBytes   = 1 << 20
	DefaultIdempotencyTTL = Duration(24 * time.Hour)
	// DefaultIdempotencyLease is store.DefaultIdempotencyLease (config does not import store).
	DefaultIdempotencyLease = Duration(10 * time.Second)
	DefaultMaxHeaderBytes   = 16 << 10
	// DefaultNotifyRejectsPerMinute is server.notify_rejects_per_minute's default.
	DefaultNotifyRejectsPerMinute = 60
	// DefaultRetention is how long rejected notifications and delivered events are kept.
	DefaultRetention = Duration(30 * 24 * time.Hour)
	// DefaultPruneBatch, DefaultPrunePause and DefaultPruneMaxRows pace the pruner.
	DefaultPruneBatch   = 100
	DefaultPrunePause   = Duration(100 * time.Millisecond)
	DefaultPruneMaxRows = 10_000
	DefaultSQLiteDSN    = "./paymux.db"
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"
)

// maxConfigBytes bounds a config file; real ones are a few KiB.
const maxConfigBytes = 4 << 20

// Load reads, strictly decodes (unknown key = error naming its line), resolves secret
// references, applies defaults and validates a config file. It does NOT start plugins.
// The error, when there is one, is a Problems listing everything wrong as "path:line: ...".
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, dir)
}

// Parse is Load for a config already in memory; relative paths and file: references are
// resolved against baseDir. Messages name the file "config".
func Parse(data []byte, baseDir string) (*Config, error) {
	return parse("config", data, baseDir)
}

func parse(name string, data []byte, baseDir string) (*Config, error) {
	ps := &problems{file: name, pos: map[string]int{}}
	if len(data) > maxConfigBytes {
		ps.addAt(0, "", "file is larger than %d bytes", maxConfigBytes)
		return nil, ps.err()
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.addAt(0, "", "file is empty")
		} else {
			line, msg := yamlErrorLine(err)
			ps.addAt(line, "", "%s", msg)
		}
		return nil, ps.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		ps.addAt(extra.Line, "", "more than one YAML document; a config file holds exactly one")
		return nil, ps.err()
	}
	c := &Config{file: name, dir: baseDir, pos: ps.pos}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d := &decoder{ps: ps, baseDir: baseDir, pos: ps.pos, budget: maxNodes}
	d.decode(root, "", reflect.ValueOf(c).Elem())
	if len(ps.list) == 0 {
		// Validation of a half-decoded file would mostly repeat decoding errors.
		c.setDefaults()
		c.validate(ps)
		c.resolvePaths()
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorLine splits "yaml: line 3: msg" into 3 and "msg".
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, "syntax error: " + m[2]
	}
	return 0, "syntax error: " + strings.TrimPrefix(msg, "yaml: ")
}

func (c *Config) setDefaults() {
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Server.IdempotencyTTL == 0 {
		c.Server.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if c.Server.IdempotencyLease == 0 {
		c.Server.IdempotencyLease = DefaultIdempotencyLease
	}
	if c.Server.MaxHeaderBytes == 0 {
		c.Server.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Server.NotifyRejectsPerMinute == 0 {
		c.Server.NotifyRejectsPerMinute = DefaultNotifyRejectsPerMinute
	}
	if c.Retention.RejectedNotifications == 0 {
		c.Retention.RejectedNotifications = DefaultRetention
	}
	if c.Retention.DeliveredEvents == 0 {
		c.Retention.DeliveredEvents = DefaultRetention
	}
	if c.Retention.PruneBatch == 0 {
		c.Retention.PruneBatch = DefaultPruneBatch
	}
	if c.Retention.PrunePause == 0 {
		c.Retention.PrunePause = DefaultPrunePause
	}
	if c.Retention.PruneMaxRows == 0 {
		c.Retention.PruneMaxRows = DefaultPruneMaxRows
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Driver == "sqlite" && c.Store.DSN.Value() == "" {
		c.Store.DSN = Secret{value: DefaultSQLiteDSN, set: true}
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	for name, p := range c.Plugins {
		p.SHA256 = strings.ToLower(p.SHA256)
		if sh := p.Shadow; sh != nil {
			sh.SHA256 = strings.ToLower(sh.SHA256)
			if sh.Timeout == 0 {
				sh.Timeout = DefaultShadowTimeout
			}
			if sh.MaxInFlight == 0 {
				sh.MaxInFlight = DefaultShadowMaxInFlight
			}
		}
		c.Plugins[name] = p
	}
}

// resolvePaths makes every file path absolute against the config's directory, so that the
// host and the plugins (which may run elsewhere) read the files the operator meant.
func (c *Config) resolvePaths() {
	for name, p := range c.Plugins {
		p.Command = resolvePath(c.dir, p.Command)
		if p.Shadow != nil {
			p.Shadow.Command = resolvePath(c.dir, p.Shadow.Command)
		}
		c.Plugins[name] = p
	}
	if c.Server.TLS != nil {
		c.Server.TLS.CertFile = resolvePath(c.dir, c.Server.TLS.CertFile)
		c.Server.TLS.KeyFile = resolvePath(c.dir, c.Server.TLS.KeyFile)
	}
	if c.Store.Driver == "sqlite" && isPlainPath(c.Store.DSN.Value()) {
		c.Store.DSN = Secret{value: resolvePath(c.dir, c.Store.DSN.Value()), set: true}
	}
	for _, a := range c.Accounts {
		for k, v := range a.Settings {
			if !IsFileSetting(k) {
				continue
			}
			if IsInlineKey(v.Value()) {
				// "${ENV}" often carries a trailing newline or blanks around the key.
				a.Settings[k] = Secret{value: strings.TrimSpace(v.Value()), set: true}
			} else {
				a.Settings[k] = Secret{value: resolvePath(c.dir, v.Value()), set: true}
			}
		}
	}
}

// IsFileSetting reports whether an account setting names a file (its name ends in "_file"),
// which Load resolves against the config file's directory.
func IsFileSetting(name string) bool { return strings.HasSuffix(name, "_file") }

// IsInlineKey reports whether a *_file setting holds the key itself rather than a path: the
// providers accept a PEM block or Alipay's bare base64 one-liner in place of a file name (for
// instance from "${ENV}"). Such values are left alone instead of being resolved as paths.
//
// Whitespace around the value is ignored: a key pasted with a trailing blank is still a key, and
// must never be taken for a file name (which would be resolved, and shown, as a path).
func IsInlineKey(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || strings.Contains(v, "-----BEGIN") || strings.ContainsAny(v, "\n") {
		return true
	}
	// A bare base64 key is at least about 200 characters of the base64 alphabet (a 1024-bit
	// public key is 216); a file name like that is implausible.
	if len(v) < 200 {
		return false
	}
	for _, r := range v {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=') {
			return false
		}
	}
	return true
}

// isPlainPath reports whether a SQLite DSN is a bare file path rather than a URI or ":memory:".
func isPlainPath(dsn string) bool {
	return dsn != "" && !strings.HasPrefix(dsn, ":memory:") && !strings.HasPrefix(dsn, "file:") && !strings.Contains(dsn, "?")
}

// File returns the file name the config was loaded from ("config" for Parse).
func (c *Config) File() string { return c.file }

// Dir returns the absolute directory relative paths were resolved against.
func (c *Config) Dir() string { return c.dir }

// Line returns the line of a key path such as "plugins.alipay.sha256" (or of its nearest parent
// present in the file), 0 when unknown. Checks made after loading use it to point at the file.
func (c *Config) Line(path string) int { return lineOf(c.pos, path) }

// Problemf returns a Problem located at path, for checks made outside Load (config check).
func (c *Config) Problemf(path, format string, args ...any) *Problem {
	return &Problem{File: c.file, Line: c.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// AccountSettings returns an account's resolved settings, for core.ConfigureRequest. It returns
// nil for an unknown account.
func (c *Config) AccountSettings(id string) map[string]string {
	a, ok := c.Accounts[id]
	if !ok {
		return nil
	}
	m := make(map[string]string, len(a.Settings))
	for k, v := range a.Settings {
		m[k] = v.Value()
	}
	return m
}

// NotifyURL returns <public_url>/notify/<account>, where the wallet posts notifications.
func (c *Config) NotifyURL(account string) string {
	return strings.TrimRight(c.Server.PublicURL, "/") + "/notify/" + account
}

// AmountRules returns the method's limits as core rules in minor units. Load has validated
// them, so an error means the value was built by hand.
func (r RegionMethod) AmountRules() ([]core.AmountRule, error) {
	rules := make([]core.AmountRule, 0, len(r.Limits))
	for i, l := range r.Limits {
		rule := core.AmountRule{Currency: l.Currency}
		if l.Min != "" {
			m, err := core.ParseMoney(l.Min, l.Currency)
			if err != nil {
				return nil, fmt.Errorf("limits[%d].min: %w", i, err)
			}
			rule.Min = m.Value
		}
		if l.Max != "" {
			m, err := core.ParseMoney(l.Max, l.Currency)
			if err != nil {
				return nil, fmt.Errorf("limits[%d].max: %w", i, err)
			}
			rule.Max = m.Value
		}
		if rule.Min > 0 && rule.Max > 0 && rule.Min > rule.Max {
			return nil, fmt.Errorf("limits[%d]: min %s is above max %s", i, l.Min, l.Max)
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// AllowsCurrency reports whether the method's currency list (if any) includes currency.
func (r RegionMethod) AllowsCurrency(currency string) bool {
	if len(r.Currencies) == 0 {
		return true
	}
	for _, c := range r.Currencies {
		if c == currency {
			return true
		}
	}
	return false
}
