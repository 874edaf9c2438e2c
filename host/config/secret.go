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

// resolveEnv resolves a whole-value environment reference, "${NAME}" or "${NAME:-default}" (the
// default is used when NAME is unset or empty). ok is false when raw is not a reference and
// does not start like one, so raw is a literal. Errors name the variable, never a value. Every
// string, integer and duration in the file goes through it (decoder.scalar), secrets too.
func resolveEnv(raw string) (value string, ok bool, err error) {
	if m := envRef.FindStringSubmatch(raw); m != nil {
		name, hasDefault, def := m[1], m[2] != "", m[3]
		v, set := os.LookupEnv(name)
		switch {
		case set && v != "":
			return v, true, nil
		case hasDefault:
			return def, true, nil
		case set:
			return "", true, fmt.Errorf("environment variable %s is empty", name)
		default:
			return "", true, fmt.Errorf("environment variable %s is not set", name)
		}
	}
	if strings.HasPrefix(raw, "${") {
		return "", true, errors.New(`malformed reference: use "${NAME}" or "${NAME:-default}" for the whole value`)
	}
	return raw, false, nil
}

// resolveSecret turns a reference into its value. Errors name the reference (an environment
// variable or a path), never a value.
func resolveSecret(raw, baseDir string) (string, error) {
	if v, ok, err := resolveEnv(raw); ok {
		return v, err
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

// HashAPIKey returns the "sha256:<hex>" form of a key, for storing in api_keys instead of the key.
func HashAPIKey(key string) string {
	d := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(d[:])
}

// KeyMatcher returns the one matcher of bearer keys against api_keys entries (the REST API's and
// MatchAPIKey's). An entry "sha256:<hex>" is the hash of a key; any other entry is the key
// itself; an unusable hash entry matches nothing (validation reports it). The entries' digests
// are computed here, once; a call hashes the presented key and compares the digest with every
// entry in constant time, without stopping at the first match, so neither the position of a key
// nor the length of a common prefix shows in the timing. The returned keyID is stable and not
// secret ("key_" and the first 6 bytes of the key's SHA-256 in hex), for scoping idempotency keys.
func KeyMatcher(entries []string) func(presented string) (keyID string, ok bool) {
	type entry struct {
		sum [sha256.Size]byte
		id  string
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		var sum [sha256.Size]byte
		if h, ok := strings.CutPrefix(e, hashPrefix); ok {
			if len(h) != 2*sha256.Size {
				continue
			}
			if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
				continue
			}
		} else {
			sum = sha256.Sum256([]byte(e))
		}
		list = append(list, entry{sum, "key_" + hex.EncodeToString(sum[:6])})
	}
	return func(presented string) (string, bool) {
		if presented == "" {
			return "", false
		}
		p := sha256.Sum256([]byte(presented))
		id, found := "", 0
		for i := range list {
			if subtle.ConstantTimeCompare(list[i].sum[:], p[:]) == 1 {
				id, found = list[i].id, 1
			}
		}
		return id, found == 1
	}
}

// MatchAPIKey reports whether presented is one of keys, as KeyMatcher does.
func MatchAPIKey(keys []APIKey, presented string) bool {
	_, ok := ScopedKeyMatcher(keys)(presented)
	return ok
}

// APIKeyMatcher returns ScopedKeyMatcher over the configured api_keys, their digests computed once.
func (c *Config) APIKeyMatcher() func(presented string) (*KeyInfo, bool) {
	return ScopedKeyMatcher(c.Server.APIKeys)
}

// pathErr drops the path from an *fs.PathError, whose message already names the path.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
