package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// redacted is what every printing path of a Secret shows.
const redacted = "[REDACTED]"

// Secret is a string whose value never prints: String, GoString, Format (every fmt verb),
// MarshalJSON, MarshalText, MarshalYAML and LogValue all give "[REDACTED]", so a Secret can be
// logged through fmt, hclog (text or JSON), slog or encoding/json without leaking. Value returns
// the resolved value.
//
// In YAML a secret is a literal, "${ENV_VAR}", "${ENV_VAR:-default}" or "file:PATH" (PATH relative
// to the config file's directory; one trailing newline is trimmed).
type Secret struct {
	value string
	set   bool
}

// NewSecret wraps an already resolved value, for tests and for callers that build a Config by hand.
func NewSecret(value string) Secret { return Secret{value: value, set: true} }

// Value returns the resolved secret. Never log it.
func (s Secret) Value() string { return s.value }

// IsSet reports whether the key was present in the config (its value may still be empty).
func (s Secret) IsSet() bool { return s.set }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that no verb (%d, %x, %+v, ...) reaches the field by reflection.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// maxSecretFile bounds what a file: reference may read: keys and DSNs are small.
const maxSecretFile = 1 << 20

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-(.*))?\}$`)

// resolveSecret turns a reference into its value. Errors name the reference (an environment
// variable or a path), never a value.
func resolveSecret(raw, baseDir string) (string, error) {
	if m := envRef.FindStringSubmatch(raw); m != nil {
		name, hasDefault, def := m[1], m[2] != "", m[3]
		v, ok := os.LookupEnv(name)
		switch {
		case ok && v != "":
			return v, nil
		case hasDefault:
			return def, nil
		case ok:
			return "", fmt.Errorf("environment variable %s is empty", name)
		default:
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
	}
	if strings.HasPrefix(raw, "${") {
		return "", errors.New(`malformed reference: use "${NAME}" or "${NAME:-default}" for the whole value`)
	}
	if p, ok := strings.CutPrefix(raw, "file:"); ok {
		if p == "" {
			return "", errors.New("file: reference without a path")
		}
		path := resolvePath(baseDir, p)
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %w", p, pathErr(err))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %w", p, err)
		}
		if len(b) > maxSecretFile {
			return "", fmt.Errorf("%s is larger than %d bytes", p, maxSecretFile)
		}
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	}
	return raw, nil
}

// resolvePath makes p absolute relative to baseDir (unless it is absolute already).
func resolvePath(baseDir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(baseDir, p)
}

// hashPrefix marks an API key entry that is the SHA-256 of the key, not the key itself.
const hashPrefix = "sha256:"

// apiKeyDigest returns the SHA-256 an entry stands for: the stored hash of a "sha256:<hex>"
// entry, or the hash of a plain key.
func apiKeyDigest(entry string) ([sha256.Size]byte, bool) {
	if h, ok := strings.CutPrefix(entry, hashPrefix); ok {
		var d [sha256.Size]byte
		if len(h) != 2*sha256.Size {
			return d, false
		}
		if _, err := hex.Decode(d[:], []byte(h)); err != nil {
			return d, false
		}
		return d, true
	}
	return sha256.Sum256([]byte(entry)), true
}

// HashAPIKey returns the "sha256:<hex>" form of a key, for storing in api_keys instead of the key.
func HashAPIKey(key string) string {
	d := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(d[:])
}

// MatchAPIKey reports whether presented is one of keys. It hashes presented and compares the
// digest with every entry in constant time, without stopping at the first match, so neither the
// position of a key nor the length of a common prefix shows in the timing.
func MatchAPIKey(keys []Secret, presented string) bool {
	digests := make([][sha256.Size]byte, 0, len(keys))
	for _, k := range keys {
		if d, ok := apiKeyDigest(k.value); ok {
			digests = append(digests, d)
		}
	}
	return matchDigest(digests, presented)
}

func matchDigest(digests [][sha256.Size]byte, presented string) bool {
	if presented == "" {
		return false
	}
	p := sha256.Sum256([]byte(presented))
	found := 0
	for i := range digests {
		found |= subtle.ConstantTimeCompare(digests[i][:], p[:])
	}
	return found == 1
}

// APIKeyMatcher returns a function that reports whether a presented bearer key is one of the
// configured api_keys, as MatchAPIKey does, with the configured digests computed once.
func (c *Config) APIKeyMatcher() func(presented string) bool {
	digests := make([][sha256.Size]byte, 0, len(c.Server.APIKeys))
	for _, k := range c.Server.APIKeys {
		if d, ok := apiKeyDigest(k.value); ok {
			digests = append(digests, d)
		}
	}
	return func(presented string) bool { return matchDigest(digests, presented) }
}

// pathErr drops the path from an *fs.PathError, whose message already names the path.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
