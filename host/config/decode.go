package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns a yaml.Node tree into the config structs strictly: every key must be a field
// of the schema, every value must have the right shape, and each mistake is recorded with its
// line and key path rather than stopping at the first. Decoding by hand (instead of
// Node.Decode with KnownFields) is what lets us report every mistake at once with its key path.
type decoder struct {
	ps      *problems
	baseDir string
	pos     map[string]int
	budget  int // nodes left to visit; aliases can make a small file expand enormously

	overBudget bool
}

// maxNodes bounds the work an alias-heavy ("billion laughs") file can cause.
const maxNodes = 100000

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[Duration]()
	apiKeyType   = reflect.TypeFor[APIKey]()
)

// resolveAlias follows alias nodes to their anchor.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "something else"
}

// decode fills v (addressable) from n. path names v for messages.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	n = resolveAlias(n)
	if d.budget--; d.budget < 0 {
		d.exhausted(n.Line, path)
		return
	}
	if isNull(n) {
		// An empty key ("server:") leaves the zero value; defaults fill it in later.
		return
	}
	switch v.Type() {
	case secretType:
		if n.Kind != yaml.ScalarNode {
			d.ps.addAt(n.Line, path, "expected a string, got %s", kindName(n))
			return
		}
		val, err := resolveSecret(n.Value, d.baseDir)
		if err != nil {
			d.ps.addAt(n.Line, path, "%v", err)
		}
		v.Set(reflect.ValueOf(Secret{value: val, set: true}))
		return
	case apiKeyType:
		if n.Kind == yaml.ScalarNode {
			// A plain string: an administrator key, as every key was before scopes existed.
			val, err := resolveSecret(n.Value, d.baseDir)
			if err != nil {
				d.ps.addAt(n.Line, path, "%v", err)
			}
			v.Set(reflect.ValueOf(PlainAPIKey(val)))
			return
		}
		// A mapping: decoded as a struct below.
	case durationType:
		if n.Kind != yaml.ScalarNode {
			d.ps.addAt(n.Line, path, "expected a duration such as \"24h\", got %s", kindName(n))
			return
		}
		raw, ok := d.scalar(n, path)
		if !ok {
			return
		}
		dur, err := time.ParseDuration(raw)
		if err != nil {
			d.ps.addAt(n.Line, path, "invalid duration %q (use e.g. \"90s\", \"24h\")", raw)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.ps.addAt(n.Line, path, "expected a string, got %s", kindName(n))
			return
		}
		if raw, ok := d.scalar(n, path); ok {
			v.SetString(raw)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			d.ps.addAt(n.Line, path, "expected true or false, got %s", kindName(n))
			return
		}
		raw, ok := d.scalar(n, path)
		if !ok {
			return
		}
		switch raw {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.ps.addAt(n.Line, path, "expected true or false, got %q", raw)
		}
	case reflect.Int64:
		if n.Kind != yaml.ScalarNode {
			d.ps.addAt(n.Line, path, "expected an integer, got %s", kindName(n))
			return
		}
		raw, ok := d.scalar(n, path)
		if !ok {
			return
		}
		i, err := strconv.ParseInt(raw, 0, 64)
		if err != nil {
			d.ps.addAt(n.Line, path, "expected an integer, got %q", raw)
			return
		}
		v.SetInt(i)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, path, p.Elem())
		v.Set(p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.ps.addAt(n.Line, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.pos[p] = item.Line
			d.decode(item, p, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		pairs, ok := d.mapping(n, path)
		if !ok {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(pairs))
		for _, kv := range pairs {
			p := join(path, kv.key.Value)
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(kv.value, p, e)
			m.SetMapIndex(reflect.ValueOf(kv.key.Value), e)
		}
		v.Set(m)
	case reflect.Struct:
		pairs, ok := d.mapping(n, path)
		if !ok {
			return
		}
		fields := structFields(v.Type())
		for _, kv := range pairs {
			i, known := fields[kv.key.Value]
			if !known && path == "" && strings.HasPrefix(kv.key.Value, "x-") {
				continue // top-level "x-..." keys hold YAML anchors for reuse, as in Compose files
			}
			if !known {
				d.unknownKey(kv.key, path, v.Type())
				continue
			}
			d.decode(kv.value, join(path, kv.key.Value), v.Field(i))
		}
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// scalar is a scalar's value with a whole-value "${NAME}" or "${NAME:-default}" resolved from
// the environment, so that every string, integer and duration (listen, public_url, log.*,
// plugin commands and env, ...) can come from the deployment's environment, as secrets can. A
// problem is recorded and ok is false when the variable is missing.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	v, _, err := resolveEnv(n.Value)
	if err != nil {
		d.ps.addAt(n.Line, path, "%v", err)
		return "", false
	}
	return v, true
}

// exhausted reports the node budget running out, once.
func (d *decoder) exhausted(line int, path string) {
	if !d.overBudget {
		d.overBudget = true
		d.ps.addAt(line, path, "document too large or too many aliases (more than %d values)", maxNodes)
	}
}

type pair struct{ key, value *yaml.Node }

// mapping returns n's key/value pairs after merging "<<" keys, reporting duplicate and
// non-string keys. It records the line of every key under path.
func (d *decoder) mapping(n *yaml.Node, path string) ([]pair, bool) {
	if n.Kind != yaml.MappingNode {
		d.ps.addAt(n.Line, path, "expected a mapping, got %s", kindName(n))
		return nil, false
	}
	var out []pair
	seen := map[string]int{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, path)...)
			continue
		}
		k = resolveAlias(k)
		if k.Kind != yaml.ScalarNode {
			d.ps.addAt(k.Line, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.ps.addAt(k.Line, join(path, k.Value), "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.pos[join(path, k.Value)] = k.Line
		out = append(out, pair{k, val})
	}
	// Explicit keys win over merged ones, as in YAML 1.1 merge semantics.
	for _, kv := range merged {
		if _, dup := seen[kv.key.Value]; dup {
			continue
		}
		seen[kv.key.Value] = kv.key.Line
		if _, ok := d.pos[join(path, kv.key.Value)]; !ok {
			d.pos[join(path, kv.key.Value)] = kv.key.Line
		}
		out = append(out, kv)
	}
	return out, true
}

// mergePairs returns the pairs of the mapping (or list of mappings) a "<<" key merges in.
func (d *decoder) mergePairs(n *yaml.Node, path string) []pair {
	n = resolveAlias(n)
	var sources []*yaml.Node
	switch n.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{n}
	case yaml.SequenceNode:
		for _, s := range n.Content {
			sources = append(sources, resolveAlias(s))
		}
	}
	var out []pair
	for _, s := range sources {
		if s == nil || s.Kind != yaml.MappingNode {
			d.ps.addAt(n.Line, path, "<< must merge a mapping or a list of mappings")
			continue
		}
		if d.budget -= len(s.Content); d.budget < 0 {
			d.exhausted(n.Line, path)
			return out
		}
		for i := 0; i+1 < len(s.Content); i += 2 {
			k := resolveAlias(s.Content[i])
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				continue // nested merges are not followed
			}
			if k.Kind == yaml.ScalarNode {
				out = append(out, pair{k, s.Content[i+1]})
			}
		}
	}
	return out
}

func (d *decoder) unknownKey(k *yaml.Node, path string, t reflect.Type) {
	where := "in " + path
	if path == "" {
		where = "at the top level"
	}
	names := fieldNames(t)
	if s := suggest(k.Value, names); s != "" {
		d.ps.addAt(k.Line, "", "unknown key %q %s (did you mean %q?)", k.Value, where, s)
		return
	}
	d.ps.addAt(k.Line, "", "unknown key %q %s (known keys: %s)", k.Value, where, strings.Join(names, ", "))
}

// structFields maps yaml key -> field index.
func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest returns the known name closest to s when it is close enough to be a typo.
func suggest(s string, names []string) string {
	best, bestDist := "", 3
	if len(s) <= 4 {
		bestDist = 2
	}
	for _, n := range names {
		if d := EditDistance(strings.ToLower(s), n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance of two short strings (a config key, a command
// name); past 64 bytes either way it answers a huge distance instead of working quadratically.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
