package config

import (
	"strings"
	"testing"
)

const scopedBase = `
server:
  public_url: http://h
  api_keys:
%s
plugins: {p: {command: /bin/p, sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}
accounts: {a1: {plugin: p}, a2: {plugin: p}}
regions: {HK: {methods: [{method: m, account: a1}]}}
webhooks:
%s
`

// TestScopedKeysAndEndpoints: mapped api_keys entries and webhooks.endpoints load with their
// scopes; every mistake is reported at its path. The plain forms keep working (control).
func TestScopedKeysAndEndpoints(t *testing.T) {
	keys := `    - plain-admin-key-0123456789
    - {name: shop, key: shop-key-0123456789ab, accounts: [a1], read_only: true}
    - {name: ops, key: "sha256:` + strings.Repeat("ab", 32) + `", admin: true}
    - {key: region-key-0123456789, regions: [HK]}`
	hooks := `  url: http://w
  secret: whsec-0123456789abcdef
  endpoints:
    - {name: erp, url: "https://erp", secrets: [s-0123456789abcdef, s-fedcba9876543210], events: [payment.*, refund.failed], accounts: [a1], paused: true}`
	c, err := Parse([]byte(strings.Replace(strings.Replace(scopedBase, "%s", keys, 1), "%s", hooks, 1)), "/")
	if err != nil {
		t.Fatal(err)
	}
	k := c.Server.APIKeys
	if len(k) != 4 || !k[0].IsPlain() || !k[0].Admin || k[1].Name != "shop" || !k[1].ReadOnly || k[1].Accounts[0] != "a1" ||
		!k[2].Admin || k[3].Regions[0] != "HK" || k[3].Admin {
		t.Fatalf("api keys: %+v", k)
	}
	info, ok := c.APIKeyMatcher()("shop-key-0123456789ab")
	if !ok || info.Name != "shop" || info.Admin || !info.ReadOnly {
		t.Fatalf("matching the shop key: %+v %v", info, ok)
	}
	if info, ok := c.APIKeyMatcher()("region-key-0123456789"); !ok || !strings.HasPrefix(info.Name, "key_") {
		t.Fatalf("an unnamed key is named by its id: %+v", info)
	}
	ep := c.Webhooks.Endpoints
	if len(ep) != 1 || ep[0].Name != "erp" || len(ep[0].Secrets) != 2 || !ep[0].Paused || ep[0].Secrets[1].Value() != "s-fedcba9876543210" {
		t.Fatalf("endpoints: %+v", ep)
	}

	for name, c := range map[string]struct{ keys, hooks, want string }{
		"mapped key without scope": {`    - {name: x, key: x-key-0123456789abcd}`, "", "server.api_keys[0]: give accounts, regions or both"},
		"admin with a scope":       {`    - {name: x, key: x-key-0123456789abcd, admin: true, accounts: [a1]}`, "", "an admin key sees every account"},
		"unknown account":          {`    - {name: x, key: x-key-0123456789abcd, accounts: [zz]}`, "", `server.api_keys[0].accounts[0]: unknown account "zz"`},
		"unknown region":           {`    - {name: x, key: x-key-0123456789abcd, regions: [ZZ]}`, "", `server.api_keys[0].regions[0]: unknown region "ZZ"`},
		"short key":                {`    - {name: x, key: short, accounts: [a1]}`, "", "server.api_keys[0].key: an API key must be at least"},
		"duplicate name":           {"    - {name: x, key: x-key-0123456789abcd, accounts: [a1]}\n    - {name: x, key: y-key-0123456789abcd, accounts: [a1]}", "", `name "x" is already used`},
		"same key twice":           {"    - x-key-0123456789abcd\n    - {name: y, key: x-key-0123456789abcd, accounts: [a1]}", "", "the same key as server.api_keys[0]"},
		"read_only not a bool":     {`    - {name: x, key: x-key-0123456789abcd, accounts: [a1], read_only: maybe}`, "", `expected true or false, got "maybe"`},
		"endpoint without secret":  {`    - k-0123456789abcdef`, "  endpoints: [{name: e, url: http://e}]", "webhooks.endpoints[0].secrets: at least one secret"},
		"endpoint short secret":    {`    - k-0123456789abcdef`, "  endpoints: [{name: e, url: http://e, secrets: [short]}]", "webhooks.endpoints[0].secrets[0]: must be at least"},
		"endpoint unknown event":   {`    - k-0123456789abcdef`, "  endpoints: [{name: e, url: http://e, secrets: [s-0123456789abcdef], events: [payment.paid]}]", `"payment.paid" matches no event type`},
		"endpoint named default":   {`    - k-0123456789abcdef`, "  endpoints: [{name: default, url: http://e, secrets: [s-0123456789abcdef]}]", `"default" is the name of webhooks.url`},
		"endpoint bad url":         {`    - k-0123456789abcdef`, "  endpoints: [{name: e, url: ftp://e, secrets: [s-0123456789abcdef]}]", "webhooks.endpoints[0].url"},
		"endpoint unknown region":  {`    - k-0123456789abcdef`, "  endpoints: [{name: e, url: http://e, secrets: [s-0123456789abcdef], regions: [ZZ]}]", `unknown region "ZZ"`},
	} {
		_, err := Parse([]byte(strings.Replace(strings.Replace(scopedBase, "%s", c.keys, 1), "%s", c.hooks, 1)), "/")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a problem containing %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcd") {
			t.Errorf("%s: the problem shows a key or secret: %v", name, err)
		}
	}
}
