package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDemoSecrets: config.example.yaml as shipped uses demo secrets everywhere, and they are
// reported by setting name; real-looking values are not reported.
func TestDemoSecrets(t *testing.T) {
	for _, v := range []string{"PAYMUX_API_KEY", "PAYMUX_WEBHOOK_SECRET", "PAYMUX_DEMO_MD5_KEY"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	got := c.DemoSecrets()
	for _, want := range []string{"server.api_keys", "webhooks.secret", "accounts.alipay-global.settings.md5_key",
		"accounts.alipayhk-main.settings.private_key_file", "accounts.alipay-global-sgd.settings.alipay_public_key_file"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("DemoSecrets lacks %s: %v", want, got)
		}
	}
	for _, name := range got {
		if strings.Contains(name, "DO-NOT-USE") || strings.Contains(name, "0bd27702") {
			t.Errorf("a value in the report: %q", name)
		}
	}

	real := &Config{
		Server:   Server{APIKeys: []APIKey{PlainAPIKey("k-3f9a8c7d6e5b4a39"), PlainAPIKey("sha256:" + strings.Repeat("ab", 32))}},
		Webhooks: Webhooks{Secret: NewSecret("whsec-live-0123456789")},
		Accounts: map[string]Account{"a": {Settings: map[string]Secret{"md5_key": NewSecret("ffeeddccbbaa99887766554433221100"), "private_key_file": NewSecret("/etc/paymux/merchant.pem")}}},
	}
	if got := real.DemoSecrets(); len(got) != 0 {
		t.Errorf("real secrets reported as demo: %v", got)
	}
	real.Server.APIKeys = append(real.Server.APIKeys, PlainAPIKey(" "+HashAPIKey("demo-api-key-DO-NOT-USE-IN-PRODUCTION")))
	real.Accounts["a"].Settings["md5_key"] = NewSecret("0bd27702fb7566abc7e2684d03ee6097\n")
	if got := real.DemoSecrets(); !reflect.DeepEqual(got, []string{"accounts.a.settings.md5_key", "server.api_keys"}) {
		t.Errorf("hashed demo API key and padded demo md5 key: %v", got)
	}
}

// TestInlineKeyWithBlanks: an inline key with blanks or a newline around it is still a key, so
// it is never resolved (and later shown) as a path, and reaches the provider trimmed.
func TestInlineKeyWithBlanks(t *testing.T) {
	b64 := strings.Repeat("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 6)
	for _, v := range []string{b64, " " + b64, b64 + " ", "\t" + b64 + "\r\n", " -----BEGIN PUBLIC KEY-----x"} {
		if !IsInlineKey(v) {
			t.Errorf("IsInlineKey(%q...) = false", v[:12])
		}
	}
	if IsInlineKey("keys/merchant.pem") || IsInlineKey(" keys/merchant.pem ") {
		t.Error("a file name taken for an inline key")
	}
	t.Setenv("PMX_TEST_INLINE_KEY", " "+b64+" ")
	src := "server:\n  public_url: http://127.0.0.1:8080\n  api_keys: [0123456789abcdef0123]\n" +
		"plugins:\n  p: {command: /bin/true, sha256: " + strings.Repeat("1", 64) + "}\n" +
		"accounts:\n  a:\n    plugin: p\n    settings:\n      alipay_public_key_file: ${PMX_TEST_INLINE_KEY}\n"
	c, err := Parse([]byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AccountSettings("a")["alipay_public_key_file"]; got != b64 {
		t.Errorf("inline key resolved to %.40q...", got)
	}
}
