package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// setTestEnv sets the variables the testdata configs refer to.
func setTestEnv(t testing.TB) {
	t.Setenv("PAYMUX_TEST_API_KEY", "env-api-key-0123456789")
	t.Setenv("PAYMUX_TEST_EMPTY_VAR", "")
	os.Unsetenv("PAYMUX_TEST_UNSET_VAR")
	os.Unsetenv("PAYMUX_TEST_DSN")
	// valid-env.yaml and invalid-env.yaml: references outside secrets.
	t.Setenv("PAYMUX_TEST_LISTEN", "0.0.0.0:8443")
	t.Setenv("PAYMUX_TEST_PLUGIN_COMMAND", "/opt/paymux/bin/paymux-provider-demo")
	t.Setenv("PAYMUX_TEST_LOG_LEVEL", "debug")
	os.Unsetenv("PAYMUX_TEST_PUBLIC_URL")
	os.Unsetenv("PAYMUX_TEST_MAX_BODY")
	os.Unsetenv("PAYMUX_TEST_DRIVER")
}

// dump renders a loaded config for a golden file: JSON (secrets print redacted), with the
// machine-specific directory replaced.
func dump(t *testing.T, c *Config) []byte {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(c.Dir()), []byte("$DIR"))
	return append(b, '\n')
}

// TestGolden loads every testdata/*.yaml and compares the result (a dump of a valid config,
// or the problems of an invalid one) byte for byte with testdata/<name>.golden.
func TestGolden(t *testing.T) {
	setTestEnv(t)
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(f)
			var got []byte
			switch {
			case strings.HasPrefix(name, "valid-"):
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				got = dump(t, c)
			case strings.HasPrefix(name, "invalid-"):
				if err == nil {
					t.Fatal("Load succeeded on an invalid config")
				}
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("error is %T, not Problems: %v", err, err)
				}
				got = []byte(err.Error() + "\n")
			default:
				t.Fatalf("testdata file %s must start with valid- or invalid-", f)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadResolves(t *testing.T) {
	setTestEnv(t)
	c, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	keys := c.Server.APIKeys
	if len(keys) != 3 || keys[0].Value() != "env-api-key-0123456789" || keys[1].Value() != "sha256:"+testHash || keys[2].Value() != "file-api-key-0123456789" {
		t.Errorf("api keys not resolved as expected (count %d)", len(keys))
	}
	if got := c.Store.DSN.Value(); got != "postgres://paymux@127.0.0.1:5432/paymux?sslmode=disable" {
		t.Errorf("dsn default not applied: %q", got)
	}
	if got := c.Webhooks.Secret.Value(); got != "webhook-secret-DO-NOT-USE-0123" {
		t.Errorf("webhook secret %q", got)
	}
	s := c.AccountSettings("alipay-global")
	want := map[string]string{
		"partner":          "2088000000000001",
		"sign_type":        "RSA2",
		"private_key_file": filepath.Join(dir, "keys/merchant.pem"),
		"md5_key":          "md5-test-key-DO-NOT-USE", // CRLF trimmed
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("setting %s = %q, want %q", k, s[k], v)
		}
	}
	if c.AccountSettings("nosuch") != nil {
		t.Error("settings of an unknown account")
	}
	if got := c.Plugins["alipay"].Command; got != filepath.Join(dir, "bin/paymux-provider-alipay") {
		t.Errorf("command %q", got)
	}
	if got := c.Plugins["alipayhk"].SHA256; got != testHash {
		t.Errorf("sha256 not lower-cased: %q", got)
	}
	if got := c.Server.TLS.CertFile; got != filepath.Join(dir, "tls/cert.pem") {
		t.Errorf("cert_file %q", got)
	}
	if got := c.Server.TLS.KeyFile; got != "/etc/paymux/key.pem" {
		t.Errorf("key_file %q", got)
	}
	if got := c.NotifyURL("alipay-global"); got != "https://pay.example.com/base/notify/alipay-global" {
		t.Errorf("NotifyURL %q", got)
	}
	if time.Duration(c.Server.IdempotencyTTL) != 36*time.Hour || c.Server.MaxBodyBytes != 65536 {
		t.Errorf("server numbers: %v %d", c.Server.IdempotencyTTL, c.Server.MaxBodyBytes)
	}
	hk := c.Regions["HK"].Methods
	if len(hk) != 2 || hk[0].Method != "alipayhk" || hk[1].Method != "alipay" {
		t.Fatalf("HK method order lost: %+v", hk)
	}
	rules, err := hk[0].AmountRules()
	if err != nil || len(rules) != 1 || rules[0].Currency != "HKD" || rules[0].Min != 10 || rules[0].Max != 5000000 {
		t.Errorf("AmountRules = %+v, %v", rules, err)
	}
	if !hk[0].AllowsCurrency("HKD") || hk[0].AllowsCurrency("USD") || !hk[1].AllowsCurrency("USD") {
		t.Error("AllowsCurrency")
	}
	if c.Line("regions.HK.methods[1].method") != 46 {
		t.Errorf("Line = %d", c.Line("regions.HK.methods[1].method"))
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("server:\n  public_url: http://h\n  api_keys: [0123456789abcdef]\n"), "/srv/paymux")
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != DefaultListen || c.Server.MaxBodyBytes != DefaultMaxBodyBytes || c.Server.IdempotencyTTL != DefaultIdempotencyTTL {
		t.Errorf("server defaults: %+v", c.Server)
	}
	if c.Store.Driver != "sqlite" || c.Store.DSN.Value() != "/srv/paymux/paymux.db" {
		t.Errorf("store defaults: %s %q", c.Store.Driver, c.Store.DSN.Value())
	}
	if r := c.Retention; r.PruneBatch != DefaultPruneBatch || r.PrunePause != DefaultPrunePause || r.PruneMaxRows != DefaultPruneMaxRows || r.DeliveredEvents != DefaultRetention {
		t.Errorf("retention defaults: %+v", r)
	}
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("log defaults: %+v", c.Log)
	}
	if c.File() != "config" || c.Dir() != "/srv/paymux" {
		t.Errorf("File/Dir: %q %q", c.File(), c.Dir())
	}
}

func TestSQLiteDSNForms(t *testing.T) {
	for dsn, want := range map[string]string{
		"data/p.db":                     "/srv/data/p.db",
		"/var/lib/p.db":                 "/var/lib/p.db",
		":memory:":                      ":memory:",
		"p.db?_pragma=busy_timeout(50)": "p.db?_pragma=busy_timeout(50)",
	} {
		c, err := Parse([]byte("server: {public_url: http://h, api_keys: [0123456789abcdef]}\nstore: {dsn: \""+dsn+"\"}\n"), "/srv")
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Store.DSN.Value(); got != want {
			t.Errorf("dsn %q -> %q, want %q", dsn, got, want)
		}
	}
}

func TestSecretReferences(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte("from-file\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYMUX_T_SET", "from-env")
	t.Setenv("PAYMUX_T_EMPTY", "")
	os.Unsetenv("PAYMUX_T_UNSET")
	tests := []struct {
		raw, want, err string
	}{
		{"literal", "literal", ""},
		{"${PAYMUX_T_SET}", "from-env", ""},
		{"${PAYMUX_T_SET:-default}", "from-env", ""},
		{"${PAYMUX_T_UNSET:-default}", "default", ""},
		{"${PAYMUX_T_EMPTY:-default}", "default", ""},
		{"${PAYMUX_T_UNSET:-}", "", ""},
		{"${PAYMUX_T_UNSET}", "", "environment variable PAYMUX_T_UNSET is not set"},
		{"${PAYMUX_T_EMPTY}", "", "environment variable PAYMUX_T_EMPTY is empty"},
		{"${PAYMUX_T_SET", "", "malformed reference"},
		{"${1BAD}", "", "malformed reference"},
		{"file:k", "from-file\n", ""}, // one trailing newline trimmed
		{"file:" + filepath.Join(dir, "k"), "from-file\n", ""},
		{"file:missing", "", "cannot read missing: no such file or directory"},
		{"file:", "", "without a path"},
		{"prefix-${PAYMUX_T_SET}", "prefix-${PAYMUX_T_SET}", ""}, // only whole values are references
	}
	for _, tt := range tests {
		got, err := resolveSecret(tt.raw, dir)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.raw, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

// TestErrorsNeverShowSecretValues checks that no problem message carries a resolved value,
// even for values that are invalid (a too-short API key, a bad DSN).
func TestErrorsNeverShowSecretValues(t *testing.T) {
	const canary = "CANARY-s3cr3t"
	t.Setenv("PAYMUX_T_CANARY", canary)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte(canary), 0o600)
	src := `server:
  public_url: http://h
  api_keys: ["${PAYMUX_T_CANARY}", "file:f", "sha256:` + canary + `"]
store: {driver: postgres, dsn: "${PAYMUX_T_CANARY}"}
webhooks: {url: "http://h/w", secret: "file:f"}
`
	_, err := Parse([]byte(src), dir)
	if err == nil {
		t.Fatal("expected problems")
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatalf("a secret value leaked into the error:\n%v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("want 5 problems (3 keys, dsn, webhook secret), got %d:\n%v", n, err)
	}
}

func TestUnknownKeySuggestions(t *testing.T) {
	_, err := Parse([]byte("server:\n  public_url: http://h\n  api_keys: [0123456789abcdef]\n  listn: x\n  zzzzzz: 1\n"), "/")
	want := `config:4: unknown key "listn" in server (did you mean "listen"?)
config:5: unknown key "zzzzzz" in server (known keys: listen, public_url, api_keys, tls, max_body_bytes, idempotency_ttl, idempotency_lease, max_header_bytes, notify_rejects_per_minute)`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestAliasBomb checks that aliases cannot make a small file cost unbounded work: 300
// aliases of a method whose currency list has 1000 entries would be 300,000 values.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-cur: &cur [" + strings.Repeat("HKD,", 999) + "HKD]\n")
	b.WriteString("x-m: &m {method: a, account: a, currencies: *cur}\n")
	b.WriteString("regions:\n  HK:\n    methods: [" + strings.Repeat("*m,", 299) + "*m]\n")
	start := time.Now()
	_, err := Parse([]byte(b.String()), "/")
	want := "config:1: regions.HK.methods[99].currencies[596]: document too large or too many aliases (more than 100000 values)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("alias expansion took %v", d)
	}
}
