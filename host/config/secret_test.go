package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core/benchpair"
)

const leak = "s3cr3t-VALUE-must-not-print"

// TestSecretNeverPrints drives a Secret (alone, by pointer, and inside the Config) through
// every printing path a log line or an API response could take.
func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(leak)
	cfg := &Config{Server: Server{APIKeys: []APIKey{{Key: s, Admin: true}}}, Store: Store{DSN: s}, Accounts: map[string]Account{"a": {Settings: map[string]Secret{"md5_key": s}}}}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s), fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg), fmt.Sprintf(verb, []Secret{s}))
	}
	outputs = append(outputs, fmt.Sprint(s), fmt.Sprintln(s), s.String(), s.GoString())
	for _, v := range []any{s, &s, cfg} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(j), string(y))
	}
	text, _ := s.MarshalText()
	outputs = append(outputs, string(text))

	// hclog, in both formats, with the secret as a value and inside a struct.
	for _, jsonFormat := range []bool{false, true} {
		var buf bytes.Buffer
		l := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: jsonFormat, Level: hclog.Trace})
		l.Info("loaded", "key", s, "ptr", &s, "cfg", cfg, "store", cfg.Store)
		l.With("dsn", s).Warn("with")
		outputs = append(outputs, buf.String())
	}
	// slog, text and JSON.
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("loaded", "key", s, "store", cfg.Store)
		outputs = append(outputs, buf.String())
	}
	for i, out := range outputs {
		if strings.Contains(out, leak) {
			t.Errorf("output %d leaks the secret: %s", i, out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("output %d does not show %s: %s", i, redacted, out)
		}
	}
	if s.Value() != leak || !s.IsSet() || (Secret{}).IsSet() {
		t.Error("Value/IsSet")
	}
}

func TestMatchAPIKey(t *testing.T) {
	plain := "plain-key-0123456789"
	hashedKey := "hashed-key-0123456789"
	keys := []APIKey{PlainAPIKey(plain), PlainAPIKey(HashAPIKey(hashedKey)), PlainAPIKey("sha256:not-hex")}
	cfg := &Config{Server: Server{APIKeys: keys}}
	match := cfg.APIKeyMatcher()
	tests := []struct {
		presented string
		want      bool
	}{
		{plain, true},
		{hashedKey, true},
		{HashAPIKey(hashedKey), false}, // knowing the stored hash is not knowing the key
		{"", false},
		{plain + "x", false},
		{plain[:len(plain)-1], false},
		{"sha256:not-hex", false},
		{strings.ToUpper(plain), false},
	}
	for _, tt := range tests {
		if got := MatchAPIKey(keys, tt.presented); got != tt.want {
			t.Errorf("MatchAPIKey(%q) = %v", tt.presented, got)
		}
		if _, got := match(tt.presented); got != tt.want {
			t.Errorf("APIKeyMatcher(%q) = %v", tt.presented, got)
		}
	}
	if MatchAPIKey(nil, plain) {
		t.Error("matched with no keys")
	}
}

func TestHashAPIKey(t *testing.T) {
	// echo -n demo | sha256sum
	const want = "sha256:2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea"
	if got := HashAPIKey("demo"); got != want {
		t.Errorf("HashAPIKey = %s", got)
	}
}

// BenchmarkAPIKeyMatcher measures, paired per iteration (benchmarking.md, core/benchpair), the
// matcher run on every authenticated request against its floor, one bare SHA-256 of the
// presented key: op/sha256 says what comparing against every configured entry adds.
func BenchmarkAPIKeyMatcher(b *testing.B) {
	keys := []APIKey{PlainAPIKey("plain-key-0123456789"), PlainAPIKey("other-plain-key-0123"), PlainAPIKey(HashAPIKey("hashed-key-0123456789"))}
	match := (&Config{Server: Server{APIKeys: keys}}).APIKeyMatcher()
	const presented = "hashed-key-0123456789"
	var sink [32]byte
	benchpair.Run(b, "sha256", func() error {
		if _, ok := match(presented); !ok {
			return errors.New("no match")
		}
		return nil
	}, func() error {
		sink = sha256.Sum256([]byte(presented))
		return nil
	})
	_ = sink
}
