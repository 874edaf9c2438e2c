package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const examplePath = "../../config.example.yaml"

// TestExampleLoads checks that config.example.yaml is valid as shipped, with no environment
// set (every reference has a default), and that the key files it names exist.
func TestExampleLoads(t *testing.T) {
	for _, v := range []string{"PAYMUX_API_KEY", "PAYMUX_WEBHOOK_SECRET", "PAYMUX_DEMO_MD5_KEY"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for id := range c.Accounts {
		for k, v := range c.AccountSettings(id) {
			if IsFileSetting(k) {
				if _, err := os.Stat(v); err != nil {
					t.Errorf("accounts.%s.settings.%s: %v", id, k, err)
				}
			}
		}
	}
	hk := c.Regions["HK"].Methods
	if len(hk) != 2 || hk[0].Method != "alipayhk" || hk[1].Method != "alipay" || hk[0].Account != "alipayhk-main" {
		t.Errorf("HK methods: %+v", hk)
	}
	if !MatchAPIKey(c.Server.APIKeys, "demo-api-key-DO-NOT-USE-IN-PRODUCTION") {
		t.Error("the demo API key (default of ${PAYMUX_API_KEY}) does not match")
	}
	// With the environment set, the references take it.
	t.Setenv("PAYMUX_API_KEY", "deployment-key-0123456789")
	t.Setenv("PAYMUX_WEBHOOK_SECRET", "deployment-webhook-secret")
	c2, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !MatchAPIKey(c2.Server.APIKeys, "deployment-key-0123456789") || MatchAPIKey(c2.Server.APIKeys, "demo-api-key-DO-NOT-USE-IN-PRODUCTION") ||
		c2.Webhooks.Secret.Value() != "deployment-webhook-secret" {
		t.Error("environment not used by the example's references")
	}
	if c.Store.Driver != "sqlite" || c.Plugins["alipay"].SHA256 != strings.Repeat("0", 64) {
		t.Error("example store or pin placeholder changed")
	}
}

// schemaPaths lists every key of the schema as a dotted path; "*" stands for a map key and
// "[]" for a list item.
func schemaPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretType || t == durationType:
		return
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			name := yamlName(t.Field(i))
			if name == "" {
				continue
			}
			p := join(prefix, name)
			*out = append(*out, p)
			schemaPaths(t.Field(i).Type, p, out)
		}
	case t.Kind() == reflect.Map:
		if k := t.Elem(); k.Kind() == reflect.Struct {
			schemaPaths(k, prefix+".*", out)
		}
	case t.Kind() == reflect.Slice:
		schemaPaths(t.Elem(), prefix+"[]", out)
	}
}

// TestExampleDocumentsEveryKey fails when a key of the schema is missing from
// config.example.yaml or has no comment there. A key may be present (with a head or line
// comment) or shown commented out ("# key: ...") when using it needs something the demo has
// not (tls needs a certificate).
func TestExampleDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	schemaPaths(reflect.TypeFor[Config](), "", &paths)
	if len(paths) < 25 {
		t.Fatalf("schema walk found only %d keys", len(paths))
	}
	for _, p := range paths {
		keys := findKeys(doc.Content[0], strings.Split(strings.ReplaceAll(p, "[]", ".[]"), "."))
		leaf := p[strings.LastIndexAny(p, ".")+1:]
		if len(keys) == 0 {
			if !regexp.MustCompile(`(?m)^\s*#\s*` + regexp.QuoteMeta(leaf) + `:`).Match(raw) {
				t.Errorf("%s: not in config.example.yaml, not even commented out", p)
			}
			continue
		}
		documented := false
		for _, kv := range keys {
			for _, n := range kv {
				if n.HeadComment != "" || n.LineComment != "" {
					documented = true
				}
			}
		}
		// Keys of list items are documented by the comment above the list's first item.
		if !documented && strings.Contains(p, "[]") && regexp.MustCompile(`(?m)^\s*#\s*`+regexp.QuoteMeta(leaf)+`:`).Match(raw) {
			documented = true
		}
		if !documented {
			t.Errorf("%s: present in config.example.yaml but no occurrence has a comment", p)
		}
	}
}

// findKeys returns the key and value nodes matching path ("*" any map key, "[]" any list item).
func findKeys(n *yaml.Node, path []string) [][2]*yaml.Node {
	n = resolveAlias(n)
	if n == nil || len(path) == 0 {
		return nil
	}
	head, rest := path[0], path[1:]
	var out [][2]*yaml.Node
	switch {
	case head == "[]" && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			out = append(out, findKeys(item, rest)...)
		}
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if head != "*" && k.Value != head {
				continue
			}
			if len(rest) == 0 {
				out = append(out, [2]*yaml.Node{k, v})
			} else {
				out = append(out, findKeys(v, rest)...)
			}
		}
	}
	return out
}
