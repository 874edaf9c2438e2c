package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// APIKey is one entry of server.api_keys. In YAML an entry is either a plain string (the key or
// its "sha256:<hex>" digest: an administrator key, as every key was before scopes existed) or
// a mapping:
//
//   - name: shop-hk          # appears in logs and in the event trail; default key_<id>
//     key: ${SHOP_HK_KEY}    # the key, or "sha256:<hex>" of it
//     accounts: [alipayhk-main]
//     regions: [HK]
//     read_only: true
//
// A mapped key is an administrator only with admin: true; otherwise it needs accounts, regions
// or both, and sees only what they allow (see host.Scope).
type APIKey struct {
	Name     string   `yaml:"name"`
	Key      Secret   `yaml:"key"`
	Admin    bool     `yaml:"admin"`
	Accounts []string `yaml:"accounts"`
	Regions  []string `yaml:"regions"`
	ReadOnly bool     `yaml:"read_only"`

	plain bool // written as a plain string
}

// PlainAPIKey is the entry a plain string in api_keys stands for: an administrator key.
func PlainAPIKey(key string) APIKey { return APIKey{Key: NewSecret(key), Admin: true, plain: true} }

// Value returns the key (or its "sha256:" digest) as configured. Never log it.
func (k APIKey) Value() string { return k.Key.value }

// IsPlain reports whether the entry was written as a plain string.
func (k APIKey) IsPlain() bool { return k.plain }

var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// digest returns the SHA-256 the entry stands for, false when a "sha256:" entry is malformed.
func (k APIKey) digest() ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	if h, ok := strings.CutPrefix(k.Key.value, hashPrefix); ok {
		if len(h) != 2*sha256.Size {
			return sum, false
		}
		if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
			return sum, false
		}
		return sum, true
	}
	return sha256.Sum256([]byte(k.Key.value)), true
}

// KeyInfo is what a matched API key may do. It holds no secret.
type KeyInfo struct {
	ID       string   // "key_" + the first 6 bytes of the key's SHA-256 in hex; stable, not secret
	Name     string   // the configured name, or ID
	Admin    bool     // every account, every region
	Accounts []string // when not Admin: nil means any account
	Regions  []string // when not Admin: nil means any region
	ReadOnly bool
}

// ScopedKeyMatcher returns the matcher of bearer keys against api_keys entries with their
// scopes. As KeyMatcher, it hashes the presented key once and compares its digest with every
// entry in constant time without stopping at the first match; an unusable entry matches nothing.
func ScopedKeyMatcher(keys []APIKey) func(presented string) (*KeyInfo, bool) {
	type entry struct {
		sum  [sha256.Size]byte
		info *KeyInfo
	}
	list := make([]entry, 0, len(keys))
	for _, k := range keys {
		sum, ok := k.digest()
		if !ok {
			continue
		}
		id := "key_" + hex.EncodeToString(sum[:6])
		info := &KeyInfo{ID: id, Name: k.Name, Admin: k.Admin, ReadOnly: k.ReadOnly,
			Accounts: slices.Clone(k.Accounts), Regions: slices.Clone(k.Regions)}
		if info.Name == "" {
			info.Name = id
		}
		list = append(list, entry{sum, info})
	}
	return func(presented string) (*KeyInfo, bool) {
		if presented == "" {
			return nil, false
		}
		p := sha256.Sum256([]byte(presented))
		var found *KeyInfo
		for i := range list {
			if subtle.ConstantTimeCompare(list[i].sum[:], p[:]) == 1 {
				found = list[i].info
			}
		}
		return found, found != nil
	}
}

// validateAPIKeys checks server.api_keys: every key long enough or a well-formed digest, names
// unique, and every mapped key either admin or scoped to known accounts and regions.
func (c *Config) validateAPIKeys(ps *problems) {
	keys := c.Server.APIKeys
	if len(keys) == 0 {
		ps.addf("server.api_keys", "at least one API key is required")
	}
	names := map[string]int{}
	digests := map[[sha256.Size]byte]int{}
	for i, k := range keys {
		path := fmt.Sprintf("server.api_keys[%d]", i)
		kp := path
		if !k.plain {
			kp = path + ".key"
		}
		v := k.Value()
		valid := false
		if h, ok := strings.CutPrefix(v, hashPrefix); ok {
			if valid = isHex64(h); !valid {
				ps.addf(kp, `a stored hash must be "sha256:" followed by 64 hex digits`)
			}
		} else if v == "" && !k.plain {
			ps.addf(kp, "required")
		} else if valid = len(v) >= MinAPIKeyLen; !valid {
			ps.addf(kp, "an API key must be at least %d characters (or \"sha256:<64 hex>\")", MinAPIKeyLen)
		}
		if sum, ok := k.digest(); ok && valid {
			if j, dup := digests[sum]; dup {
				ps.addf(kp, "the same key as server.api_keys[%d]", j)
			}
			digests[sum] = i
		}
		if k.plain {
			continue
		}
		if k.Name != "" {
			if !keyNamePattern.MatchString(k.Name) {
				ps.addf(path+".name", "a key name must be letters, digits, '.', '_' or '-' (at most 64)")
			} else if j, dup := names[k.Name]; dup {
				ps.addf(path+".name", "name %q is already used by server.api_keys[%d]", k.Name, j)
			}
			names[k.Name] = i
		}
		switch {
		case k.Admin && (len(k.Accounts) > 0 || len(k.Regions) > 0):
			ps.addf(path, "an admin key sees every account and region: leave out accounts and regions, or admin")
		case !k.Admin && len(k.Accounts) == 0 && len(k.Regions) == 0:
			ps.addf(path, "give accounts, regions or both (or admin: true for a key that sees everything)")
		}
		for j, a := range k.Accounts {
			if _, ok := c.Accounts[a]; !ok {
				ps.addf(fmt.Sprintf("%s.accounts[%d]", path, j), "unknown account %q", a)
			}
		}
		for j, r := range k.Regions {
			if _, ok := c.Regions[r]; !ok {
				ps.addf(fmt.Sprintf("%s.regions[%d]", path, j), "unknown region %q", r)
			}
		}
	}
}

// MarshalJSON prints a plain entry as the redacted string it was written as, and a mapped
// entry as its fields (the key redacted), so config dumps show the shape of the file.
func (k APIKey) MarshalJSON() ([]byte, error) {
	if k.plain {
		return k.Key.MarshalJSON()
	}
	type fields APIKey
	return json.Marshal(fields(k))
}
