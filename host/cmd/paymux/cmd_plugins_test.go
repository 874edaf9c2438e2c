package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	wantOut := "a: " + zeros + " -> " + ha + " (updated)\nb: (none) -> " + hb + " (updated)\n"
	if out.String() != wantOut {
		t.Errorf("dry-run output\n%s\nwant\n%s", out.String(), wantOut)
	}

	out.Reset()
	if err := pinPlugins(&out, cfgPath, "", false); err != nil {
		t.Fatal(err)
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
