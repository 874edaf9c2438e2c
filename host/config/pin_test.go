package config

import (
	"strings"
	"testing"
)

func TestSetPins(t *testing.T) {
	h1 := strings.Repeat("a", 64)
	h2 := strings.Repeat("b", 64)
	src := `# paymux config
plugins:   # binaries
  # the cross-border plugin
  alipay:
    command: bin/paymux-provider-alipay   # built by make
    sha256: "0000000000000000000000000000000000000000000000000000000000000000"  # filled by pin
    env: {A: "1"}
  alipayhk:
    command: bin/paymux-provider-alipayhk
    sha256: 'old'
  plain:
    command: bin/p
    sha256: 1111111111111111111111111111111111111111111111111111111111111111 # plain
  missing:
    command: bin/m
    env: {}
  empty:
    command: bin/e
    sha256:
  flow: {command: bin/f, sha256: x}
  untouched:
    command: bin/u
    sha256: keep-me
# trailing comment
`
	hashes := map[string]string{"alipay": h1, "alipayhk": h2, "plain": h1, "missing": h2, "empty": h1, "flow": h2}
	out, err := SetPins([]byte(src), hashes)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		`"0000000000000000000000000000000000000000000000000000000000000000"`, `"`+h1+`"`,
		`'old'`, `'`+h2+`'`,
		"1111111111111111111111111111111111111111111111111111111111111111 # plain", h1+" # plain",
		"    command: bin/m\n", "    command: bin/m\n    sha256: "+h2+"\n",
		"    sha256:\n", "    sha256: "+h1+"\n",
		"sha256: x}", "sha256: "+h2+"}",
	).Replace(src)
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	pins, err := ReadPins(out, "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pins {
		got[p.Name] = p.SHA256 + " " + p.Command
	}
	if got["missing"] != h2+" /cfg/bin/m" || got["untouched"] != "keep-me /cfg/bin/u" || got["alipay"] != h1+" /cfg/bin/paymux-provider-alipay" {
		t.Errorf("ReadPins = %v", got)
	}
}

func TestSetPinsErrors(t *testing.T) {
	h := strings.Repeat("c", 64)
	for _, tt := range []struct{ src, name, hash, want string }{
		{"plugins:\n  a: {command: x}\n", "a", h, "flow style without sha256"},
		{"plugins:\n  a: {command: x}\n", "b", h, "plugin b is not in the file"},
		{"plugins:\n  a: {command: x}\n", "a", "nothex", "not a SHA-256"},
		{"server: {}\n", "a", h, "no plugins mapping"},
		{"plugins:\n  a:\n    command: x\n    sha256: |\n      block\n", "a", h, "not a simple one-line scalar"},
		{"- a\n", "a", h, "not a YAML mapping"},
	} {
		_, err := SetPins([]byte(tt.src), map[string]string{tt.name: tt.hash})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestPinsShadow: a plugin's shadow build is pinned as "<plugin>.shadow", its own sha256 edited
// in place and the live one left alone.
func TestPinsShadow(t *testing.T) {
	src := `plugins:
  alipay:
    command: bin/live
    sha256: "` + strings.Repeat("1", 64) + `"
    shadow:
      command: candidate/live   # the new build
      sha256: "` + strings.Repeat("0", 64) + `"
`
	pins, err := ReadPins([]byte(src), "/srv")
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 2 || pins[1].Name != "alipay.shadow" || pins[1].Command != "/srv/candidate/live" || pins[1].Line != 5 {
		t.Fatalf("pins: %+v", pins)
	}
	h := strings.Repeat("c", 64)
	out, err := SetPins([]byte(src), map[string]string{"alipay.shadow": h})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(src, `sha256: "`+strings.Repeat("0", 64)+`"`, `sha256: "`+h+`"`, 1)
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := SetPins([]byte(src), map[string]string{"other.shadow": h}); err == nil {
		t.Fatal("pinning the shadow of a plugin not in the file succeeded")
	}
}
