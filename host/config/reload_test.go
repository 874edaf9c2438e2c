package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const baseYAML = `server:
  public_url: http://127.0.0.1:8080
  api_keys: [demo-key-0123456789]
plugins:
  alipay: {command: bin/a, sha256: ` + testHash + `}
  alipayhk: {command: bin/hk, sha256: ` + testHash + `}
accounts:
  g: {plugin: alipay, settings: {partner: "1"}}
  hk: {plugin: alipayhk, settings: {partner: "2"}}
  other: {plugin: alipay, settings: {partner: "3"}}
regions:
  HK:
    methods:
      - {method: alipayhk, account: hk}
      - {method: alipay, account: hk}
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "/srv")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiff(t *testing.T) {
	old := mustParse(t, baseYAML)
	tests := []struct {
		name    string
		edit    func(string) string
		want    Changes
		start   []string
		config  []string
		restart bool
	}{
		{"nothing", func(s string) string { return s }, Changes{}, nil, []string{}, false},
		{"setting", func(s string) string { return strings.Replace(s, `partner: "1"`, `partner: "9"`, 1) },
			Changes{AccountsChanged: []string{"g"}}, nil, []string{"g"}, false},
		{"plugin hash restarts its accounts", func(s string) string {
			return strings.Replace(s, "bin/hk, sha256: "+testHash, "bin/hk, sha256: "+strings.Repeat("f", 64), 1)
		}, Changes{PluginsChanged: []string{"alipayhk"}}, []string{"alipayhk"}, []string{"hk"}, false},
		{"shadow added", func(s string) string {
			return strings.Replace(s, "bin/hk, sha256: "+testHash+"}", "bin/hk, sha256: "+testHash+", shadow: {command: bin/hk2, sha256: "+strings.Repeat("e", 64)+"}}", 1)
		}, Changes{PluginsChanged: []string{"alipayhk"}}, []string{"alipayhk"}, []string{"hk"}, false},
		{"region order", func(s string) string {
			return strings.Replace(s, "      - {method: alipayhk, account: hk}\n      - {method: alipay, account: hk}", "      - {method: alipay, account: hk}\n      - {method: alipayhk, account: hk}", 1)
		}, Changes{RegionsChanged: true}, nil, []string{}, false},
		{"account removed and added", func(s string) string {
			return strings.Replace(s, "other:", "newer:", 1)
		}, Changes{AccountsAdded: []string{"newer"}, AccountsRemoved: []string{"other"}}, nil, []string{"newer"}, false},
		{"listen needs restart", func(s string) string {
			return strings.Replace(s, "server:\n", "server:\n  listen: 127.0.0.1:9999\n", 1)
		}, Changes{ServerChanged: true}, nil, []string{}, true},
		{"enabling tls needs restart", func(s string) string {
			return strings.Replace(s, "server:\n", "server:\n  tls: {cert_file: c.pem, key_file: k.pem}\n", 1)
		}, Changes{ServerChanged: true}, nil, []string{}, true},
		{"api key swap is live", func(s string) string {
			return strings.Replace(s, "demo-key-0123456789", "next-key-0123456789", 1)
		}, Changes{ServerChanged: true}, nil, []string{}, false},
		{"store needs restart", func(s string) string { return s + "store: {dsn: other.db}\n" },
			Changes{StoreChanged: true}, nil, []string{}, true},
		{"webhooks and log", func(s string) string {
			return s + "webhooks: {url: http://h/w, secret: 0123456789abcdef}\nlog: {level: debug}\n"
		}, Changes{WebhooksChanged: true, LogChanged: true}, nil, []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := mustParse(t, tt.edit(baseYAML))
			d := Diff(old, next)
			if !reflect.DeepEqual(*d, tt.want) {
				t.Errorf("Diff = %+v\nwant %+v", *d, tt.want)
			}
			if d.Empty() != (tt.name == "nothing") {
				t.Errorf("Empty = %v", d.Empty())
			}
			if got := d.PluginsToStart(); !reflect.DeepEqual(got, tt.start) && len(got)+len(tt.start) > 0 {
				t.Errorf("PluginsToStart = %v, want %v", got, tt.start)
			}
			if got := d.AccountsToConfigure(next); !reflect.DeepEqual(got, tt.config) && len(got)+len(tt.config) > 0 {
				t.Errorf("AccountsToConfigure = %v, want %v", got, tt.config)
			}
			if got := d.RestartRequired(old, next); got != tt.restart {
				t.Errorf("RestartRequired = %v", got)
			}
		})
	}
	first := Diff(nil, old)
	if !reflect.DeepEqual(first.PluginsAdded, []string{"alipay", "alipayhk"}) || len(first.AccountsToConfigure(old)) != 3 {
		t.Errorf("Diff(nil, cfg) = %+v", first)
	}
}

func TestHolderReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "paymux.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(baseYAML)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(path, cfg)

	// A broken file is refused; the old config keeps serving and apply is not called.
	write(baseYAML + "bogus: 1\n")
	called := false
	apply := func(old, new *Config, d *Changes) error { called = true; return nil }
	if _, err := h.Reload(apply); err == nil || !strings.Contains(err.Error(), `unknown key "bogus"`) || called || h.Current() != cfg {
		t.Fatalf("bad config: err %v, called %v", err, called)
	}

	// A valid change whose apply fails (e.g. the new plugin will not start) is refused too.
	write(strings.Replace(baseYAML, `partner: "1"`, `partner: "7"`, 1))
	boom := errors.New("plugin refused")
	if _, err := h.Reload(func(old, new *Config, d *Changes) error { return boom }); !errors.Is(err, boom) || h.Current() != cfg {
		t.Fatalf("apply failure: err %v", err)
	}

	// A change that needs a restart is refused with ErrRestartRequired.
	write(baseYAML + "store: {driver: sqlite, dsn: /elsewhere.db}\n")
	if _, err := h.Reload(apply); !errors.Is(err, ErrRestartRequired) || h.Current() != cfg {
		t.Fatalf("restart: err %v", err)
	}

	// A good change is applied, with the old and new configs and the diff.
	write(strings.Replace(baseYAML, `partner: "1"`, `partner: "7"`, 1))
	var seen *Changes
	d, err := h.Reload(func(old, new *Config, d *Changes) error {
		if old != cfg || new.AccountSettings("g")["partner"] != "7" {
			t.Error("apply got the wrong configs")
		}
		seen = d
		return nil
	})
	if err != nil || d != seen || !reflect.DeepEqual(d.AccountsChanged, []string{"g"}) {
		t.Fatalf("reload: %v %+v", err, d)
	}
	if h.Current() == cfg || h.Current().AccountSettings("g")["partner"] != "7" {
		t.Fatal("new config not current")
	}

	// Reloading an unchanged file does not call apply.
	called = false
	if d, err := h.Reload(apply); err != nil || !d.Empty() || called {
		t.Fatalf("unchanged: %v %v %v", err, d, called)
	}
}

// TestRestartRequiredTLS: new certificate and key paths are applied live; switching TLS off
// (or on) needs a restart.
func TestRestartRequiredTLS(t *testing.T) {
	withTLS := func(cert, key string) string {
		return strings.Replace(baseYAML, "server:\n", "server:\n  tls: {cert_file: "+cert+", key_file: "+key+"}\n", 1)
	}
	old := mustParse(t, withTLS("a/cert.pem", "a/key.pem"))
	for _, tt := range []struct {
		name    string
		next    string
		changed bool
		restart bool
	}{
		{"same", withTLS("a/cert.pem", "a/key.pem"), false, false},
		{"new paths", withTLS("b/cert.pem", "b/key.pem"), true, false},
		{"new key path only", withTLS("a/cert.pem", "b/key.pem"), true, false},
		{"tls off", baseYAML, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := mustParse(t, tt.next)
			d := Diff(old, next)
			if d.ServerChanged != tt.changed {
				t.Errorf("ServerChanged = %v, want %v", d.ServerChanged, tt.changed)
			}
			if got := d.RestartRequired(old, next); got != tt.restart {
				t.Errorf("RestartRequired = %v, want %v", got, tt.restart)
			}
		})
	}
}

func TestRestartRequiredLog(t *testing.T) {
	withLog := func(level, format string) string {
		return baseYAML + "log: {level: " + level + ", format: " + format + "}\n"
	}
	old := mustParse(t, withLog("info", "text"))
	for _, tt := range []struct {
		name, next string
		restart    bool
	}{
		{"level is live", withLog("debug", "text"), false},
		{"format needs a restart", withLog("info", "json"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := mustParse(t, tt.next)
			d := Diff(old, next)
			if !d.LogChanged {
				t.Fatalf("LogChanged = false")
			}
			if got := d.RestartRequired(old, next); got != tt.restart {
				t.Errorf("RestartRequired = %v, want %v", got, tt.restart)
			}
		})
	}
}
