package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse, seeded with the golden configs. Parse must not
// panic, must fail only with Problems that have a file and a message, and a config it accepts
// must be internally consistent.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("x-a: &a {<<: *a}\n"))
	f.Add([]byte("server: {public_url: http://h, api_keys: [0123456789abcdef]}\nregions: {R: {methods: [{method: m, account: a, limits: [{currency: JPY, max: \"1\"}]}]}}\n"))
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	setTestEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, dir)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error is not a non-empty Problems: %T %v", err, err)
			}
			for _, p := range ps {
				if p.File != "config" || p.Msg == "" || p.Line < 0 {
					t.Fatalf("malformed problem %+v", p)
				}
			}
			return
		}
		if !Diff(c, c).Empty() {
			t.Fatal("a config differs from itself")
		}
		for code, r := range c.Regions {
			for i, m := range r.Methods {
				if _, ok := c.Accounts[m.Account]; !ok {
					t.Fatalf("regions.%s.methods[%d] names unknown account %q", code, i, m.Account)
				}
				if _, err := m.AmountRules(); err != nil {
					t.Fatalf("accepted limits do not parse: %v", err)
				}
			}
		}
		for id, a := range c.Accounts {
			if _, ok := c.Plugins[a.Plugin]; !ok {
				t.Fatalf("account %s names unknown plugin %q", id, a.Plugin)
			}
		}
		for name, p := range c.Plugins {
			if !isHex64(p.SHA256) || p.SHA256 != strings.ToLower(p.SHA256) || !filepath.IsAbs(p.Command) {
				t.Fatalf("plugin %s accepted with sha256 %q command %q", name, p.SHA256, p.Command)
			}
		}
		if len(c.Server.APIKeys) == 0 || c.Server.Listen == "" || c.Store.Driver == "" {
			t.Fatal("defaults or required keys missing")
		}
	})
}

// FuzzSetPins edits arbitrary config files: SetPins must not panic, and when it succeeds the
// file must read back with the new hashes (SetPins checks this itself; the fuzzer makes sure
// the check and the offset arithmetic hold on odd input: tabs, CRLF, multi-byte characters).
func FuzzSetPins(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte("plugins:\r\n  a:\r\n    command: x\r\n    sha256: 'é'\r\n"))
	f.Add([]byte("plugins:\n  é:\n    command: ü\n    sha256: \"é\\\"x\"\n  b:\n    command: y\n"))
	hash := strings.Repeat("ab", 32)
	f.Fuzz(func(t *testing.T, data []byte) {
		pins, err := ReadPins(data, "/")
		if err != nil || len(pins) == 0 {
			return
		}
		hashes := map[string]string{}
		for _, p := range pins {
			hashes[p.Name] = hash
		}
		out, err := SetPins(data, hashes)
		if err != nil {
			return
		}
		again, err := ReadPins(out, "/")
		if err != nil {
			t.Fatalf("pinned output does not read back: %v", err)
		}
		for _, p := range again {
			if p.SHA256 != hash {
				t.Fatalf("plugin %s has %q after pinning", p.Name, p.SHA256)
			}
		}
	})
}
