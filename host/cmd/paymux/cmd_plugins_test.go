package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/plugins/sdk"
)

func pinHexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPinPlugins(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "pa"), []byte("binary A"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "pb"), []byte("binary B"), 0o755)
	zeros := strings.Repeat("0", 64)
	src := `# top comment
server:
  public_url: http://127.0.0.1:8080 # inline
plugins:
  # plugin a
  a:
    command: bin/pa
    sha256: "` + zeros + `"  # filled by pin
  b:
    command: bin/pb   # no sha256 yet
`
	cfgPath := filepath.Join(dir, "paymux.yaml")
	os.WriteFile(cfgPath, []byte(src), 0o640)

	// -n prints and writes nothing.
	var out bytes.Buffer
	if err := pinPlugins(&out, cfgPath, "", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(cfgPath); string(got) != src {
		t.Fatal("dry run wrote the file")
	}
	ha, hb := pinHexSHA([]byte("binary A")), pinHexSHA([]byte("binary B"))
	wantOut := "a: " + zeros + " -> " + ha + " (would update)\nb: (none) -> " + hb + " (would update)\n"
	if out.String() != wantOut {
		t.Errorf("dry-run output\n%s\nwant\n%s", out.String(), wantOut)
	}

	out.Reset()
	if err := pinPlugins(&out, cfgPath, "", false); err != nil {
		t.Fatal(err)
	}
	if wantOut := strings.ReplaceAll(wantOut, "(would update)", "(updated)"); out.String() != wantOut {
		t.Errorf("pin output\n%s\nwant\n%s", out.String(), wantOut)
	}
	got, _ := os.ReadFile(cfgPath)
	want := strings.Replace(src, zeros, ha, 1)
	want = strings.Replace(want, "    command: bin/pb   # no sha256 yet\n", "    sha256: "+hb+"\n    command: bin/pb   # no sha256 yet\n", 1)
	if string(got) != want {
		t.Errorf("pinned file\n%s\nwant (comments and layout kept)\n%s", got, want)
	}
	if st, _ := os.Stat(cfgPath); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}

	// Pinning again changes nothing; -bin hashes other binaries under the same names.
	out.Reset()
	if err := pinPlugins(&out, cfgPath, "", false); err != nil || !strings.Contains(out.String(), "(unchanged)") || strings.Contains(out.String(), "(updated)") {
		t.Errorf("second pin: %v\n%s", err, out.String())
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "pa"), []byte("rebuilt A"), 0o755)
	os.WriteFile(filepath.Join(other, "pb"), []byte("binary B"), 0o755)
	out.Reset()
	if err := pinPlugins(&out, cfgPath, other, false); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(cfgPath)
	if !strings.Contains(string(got), pinHexSHA([]byte("rebuilt A"))) || !strings.Contains(string(got), "command: bin/pa") {
		t.Errorf("-bin: %s", got)
	}

	// A missing binary is an error and leaves the file alone.
	os.Remove(filepath.Join(dir, "bin", "pb"))
	before, _ := os.ReadFile(cfgPath)
	if err := pinPlugins(&out, cfgPath, "", false); err == nil || !strings.Contains(err.Error(), "plugin b") {
		t.Errorf("missing binary: %v", err)
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(before, after) {
		t.Error("file changed after an error")
	}
}

// TestPluginsDescribe starts a configured plugin and prints its Describe; a binary that does
// not match its pin is refused (the control).
func TestPluginsDescribe(t *testing.T) {
	bin := qsTestBinaries(t, qsTestRoot(t))
	plugin := filepath.Join(bin, "paymux-provider-alipayhk")
	h, err := sdk.HashFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "paymux.yaml")
	write := func(pin string) {
		src := "server: {public_url: http://127.0.0.1:1, api_keys: [demo-key-0123456789]}\n" +
			"plugins:\n  hk:\n    command: " + plugin + "\n    sha256: " + pin + "\n"
		if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(h)
	code, stdout, stderr := runCLI(t, "plugins", "describe", "-config", cfgPath, "hk")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"provider alipayhk", "alipayhk (AlipayHK): channels app", "HKD min 0.01 HKD max", "capabilities: query, refund", "private_key_file", "optional, secret", "partner", "required"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("describe output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI(t, "plugins", "describe", "-json", "-command", plugin)
	if code != 0 || !strings.Contains(stdout, `"name": "md5_key"`) || !strings.Contains(stdout, `"secret": true`) {
		t.Errorf("-json -command: exit %d\n%s", code, stdout)
	}
	write(strings.Repeat("ab", 32))
	if code, _, stderr := runCLI(t, "plugins", "describe", "-config", cfgPath, "hk"); code != 1 || !strings.Contains(stderr, "sha256") {
		t.Errorf("a binary off its pin was described: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "plugins", "describe", "-config", cfgPath, "nope"); code != 1 || !strings.Contains(stderr, `no plugin "nope" (it has: hk)`) {
		t.Errorf("unknown plugin: exit %d\n%s", code, stderr)
	}
}

// TestPinPluginsShadow: a shadow build is pinned with its own binary, also under -bin (whose
// file of the same base name is the live build).
func TestPinPluginsShadow(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"bin", "candidate", "release"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "bin", "pa"), []byte("live"), 0o755)
	os.WriteFile(filepath.Join(dir, "release", "pa"), []byte("live"), 0o755)
	os.WriteFile(filepath.Join(dir, "candidate", "pa"), []byte("candidate"), 0o755)
	zeros := strings.Repeat("0", 64)
	src := `plugins:
  a:
    command: bin/pa
    sha256: "` + zeros + `"
    shadow:
      command: candidate/pa
      sha256: "` + zeros + `"
`
	cfgPath := filepath.Join(dir, "paymux.yaml")
	os.WriteFile(cfgPath, []byte(src), 0o640)
	var out bytes.Buffer
	if err := pinPlugins(&out, cfgPath, filepath.Join(dir, "release"), false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(cfgPath)
	want := strings.Replace(strings.Replace(src, zeros, pinHexSHA([]byte("live")), 1), zeros, pinHexSHA([]byte("candidate")), 1)
	if string(got) != want {
		t.Fatalf("pinned file\n%s\nwant\n%s\noutput: %s", got, want, out.String())
	}
	if !strings.Contains(out.String(), "a.shadow: "+zeros+" -> "+pinHexSHA([]byte("candidate"))) {
		t.Errorf("output: %s", out.String())
	}
}

// TestConfigCheckShadowPin: config check hashes a shadow build like the live one; a shadow that
// does not match its pin is a problem at its own sha256 line (the live build, matching, is not).
func TestConfigCheckShadowPin(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "live"), []byte("live"), 0o755)
	os.WriteFile(filepath.Join(dir, "cand"), []byte("candidate"), 0o755)
	path := filepath.Join(dir, "c.yaml")
	pinned := strings.Repeat("2", 64)
	os.WriteFile(path, []byte(`server:
  public_url: http://127.0.0.1:8080
  api_keys: [check-key-0123456789]
plugins:
  a:
    command: live
    sha256: `+pinHexSHA([]byte("live"))+`
    shadow:
      command: cand
      sha256: `+pinned+`
`), 0o600)
	r := checkConfig(context.Background(), path, false)
	s := checkProblemsText(r)
	if !strings.Contains(s, path+":10: plugins.a.shadow.sha256: binary "+dir+"/cand has sha256 "+pinHexSHA([]byte("candidate"))+" but the config pins "+pinned) ||
		strings.Contains(s, "plugins.a.sha256") {
		t.Fatalf("problems:\n%s", s)
	}
}
