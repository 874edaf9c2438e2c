package config

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// PluginPin is a plugin entry as written in a config file, for `paymux plugins pin`. A plugin's
// shadow build is an entry of its own, named "<plugin>.shadow".
type PluginPin struct {
	Name    string
	Command string // absolute path of the binary
	SHA256  string // as written (may be empty or a placeholder)
	Line    int    // line of the plugin's entry
}

// shadowSuffix names a plugin's shadow build among pins.
const shadowSuffix = ".shadow"

// ReadPins returns the plugins of a config file without resolving secrets or validating
// anything else, so that pinning works before the environment of a deployment exists.
func ReadPins(data []byte, baseDir string) ([]PluginPin, error) {
	ps := &problems{file: "config", pos: map[string]int{}}
	root, err := rootMapping(data)
	if err != nil {
		return nil, err
	}
	n := mappingValue(root, "plugins")
	if n == nil {
		return nil, nil
	}
	var plugins map[string]Plugin
	d := &decoder{ps: ps, baseDir: baseDir, pos: ps.pos, budget: maxNodes}
	d.decode(n, "plugins", reflect.ValueOf(&plugins).Elem())
	if err := ps.err(); err != nil {
		return nil, err
	}
	var out []PluginPin
	for _, name := range slices.Sorted(maps.Keys(plugins)) {
		p := plugins[name]
		if p.Command == "" {
			return nil, fmt.Errorf("config:%d: plugins.%s.command: required", ps.pos["plugins."+name], name)
		}
		out = append(out, PluginPin{Name: name, Command: resolvePath(baseDir, p.Command), SHA256: p.SHA256, Line: ps.pos["plugins."+name]})
		if sh := p.Shadow; sh != nil {
			if sh.Command == "" {
				return nil, fmt.Errorf("config:%d: plugins.%s.shadow.command: required", ps.pos["plugins."+name+".shadow"], name)
			}
			out = append(out, PluginPin{Name: name + shadowSuffix, Command: resolvePath(baseDir, sh.Command), SHA256: sh.SHA256, Line: ps.pos["plugins."+name+".shadow"]})
		}
	}
	return out, nil
}

// SetPins rewrites the sha256 value of each named plugin in a config file and returns the new
// file. Everything else (comments, order, quoting, blank lines) is kept byte for byte: the
// edit replaces just the value's characters, or adds a "sha256:" line under "command:" when
// the key is missing.
func SetPins(data []byte, hashes map[string]string) ([]byte, error) {
	root, err := rootMapping(data)
	if err != nil {
		return nil, err
	}
	plugins := mappingValue(root, "plugins")
	if plugins == nil || plugins.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: no plugins mapping")
	}
	lines := lineStarts(data)
	type edit struct {
		off, end int
		text     string
	}
	var edits []edit
	for _, name := range slices.Sorted(maps.Keys(hashes)) {
		h := hashes[name]
		if !isHex64(h) {
			return nil, fmt.Errorf("config: plugin %s: %q is not a SHA-256 hex digest", name, h)
		}
		p := mappingValue(plugins, strings.TrimSuffix(name, shadowSuffix))
		if p != nil && strings.HasSuffix(name, shadowSuffix) {
			p = mappingValue(p, "shadow")
		}
		if p == nil || p.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("config: plugin %s is not in the file", name)
		}
		key, val := mappingPair(p, "sha256")
		switch {
		case val != nil && val.Kind == yaml.ScalarNode && (val.Value != "" || val.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0):
			off, err := offsetOf(data, lines, val.Line, val.Column)
			if err != nil {
				return nil, fmt.Errorf("config: plugin %s: %w", name, err)
			}
			end, err := scalarEnd(data, off, val)
			if err != nil {
				return nil, fmt.Errorf("config: plugin %s: %w", name, err)
			}
			text := h
			switch val.Style {
			case yaml.DoubleQuotedStyle:
				text = `"` + h + `"`
			case yaml.SingleQuotedStyle:
				text = `'` + h + `'`
			}
			edits = append(edits, edit{off, end, text})
		case key != nil:
			// "sha256:" with no value: write the value after the colon.
			off, err := offsetOf(data, lines, key.Line, key.Column)
			if err != nil {
				return nil, fmt.Errorf("config: plugin %s: %w", name, err)
			}
			colon := bytes.IndexByte(data[off:], ':')
			if colon < 0 {
				return nil, fmt.Errorf("config: plugin %s: cannot find the sha256 value", name)
			}
			at := off + colon + 1
			edits = append(edits, edit{at, at, " " + h})
		default:
			if p.Style&yaml.FlowStyle != 0 {
				return nil, fmt.Errorf("config: plugin %s is written in flow style without sha256; add \"sha256: %s\" by hand", name, h)
			}
			// Insert a line of its own: before the second key when there is one (so it
			// follows "command:"), else before the first. A block mapping's keys start lines.
			anchor := p.Content[0]
			if len(p.Content) >= 4 {
				anchor = p.Content[2]
			}
			if anchor.Line >= len(lines) {
				return nil, fmt.Errorf("config: plugin %s: cannot place the sha256 line", name)
			}
			at := lines[anchor.Line]
			indent := strings.Repeat(" ", anchor.Column-1)
			if !bytes.HasPrefix(data[at:], []byte(indent+anchor.Value)) {
				return nil, fmt.Errorf("config: plugin %s: cannot place the sha256 line; add \"sha256: %s\" by hand", name, h)
			}
			edits = append(edits, edit{at, at, indent + "sha256: " + h + "\n"})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.off - a.off })
	out := slices.Clone(data)
	for _, e := range edits {
		out = slices.Concat(out[:e.off], []byte(e.text), out[e.end:])
	}
	// Check the edit did what it meant to, rather than trusting offset arithmetic.
	check, err := ReadPins(out, "/")
	if err != nil {
		return nil, fmt.Errorf("config: the pinned file does not parse (%v); it was not written", err)
	}
	got := map[string]string{}
	for _, p := range check {
		got[p.Name] = p.SHA256
	}
	for name, h := range hashes {
		if got[name] != h {
			return nil, fmt.Errorf("config: pinning plugin %s did not take effect; edit the file by hand", name)
		}
	}
	return out, nil
}

func rootMapping(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: the file is not a YAML mapping")
	}
	return doc.Content[0], nil
}

func mappingPair(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	_, v := mappingPair(n, key)
	return resolveAlias(v)
}

// lineStarts returns the byte offset of each line; index 0 is unused so that line numbers index it.
func lineStarts(data []byte) []int {
	starts := []int{0, 0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf converts yaml's 1-based line and column (counted in characters) to a byte offset.
func offsetOf(data []byte, lines []int, line, col int) (int, error) {
	if line < 1 || line >= len(lines) {
		return 0, fmt.Errorf("line %d out of range", line)
	}
	off := lines[line]
	for i := 1; i < col; i++ {
		if off >= len(data) || data[off] == '\n' {
			return 0, fmt.Errorf("column %d out of range on line %d", col, line)
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	return off, nil
}

// scalarEnd returns the byte offset just past the scalar that starts at off.
func scalarEnd(data []byte, off int, n *yaml.Node) (int, error) {
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		for i := off + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case yaml.SingleQuotedStyle:
		for i := off + 1; i < len(data); i++ {
			if data[i] == '\'' {
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case 0, yaml.FlowStyle:
		// A single-line plain scalar's source is exactly its value.
		end := off + len(n.Value)
		if end <= len(data) && string(data[off:end]) == n.Value {
			return end, nil
		}
	}
	return 0, fmt.Errorf("the sha256 value is not a simple one-line scalar; edit it by hand")
}
