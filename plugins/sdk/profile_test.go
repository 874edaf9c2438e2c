package sdk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestStartCPUProfile(t *testing.T) {
	l := hclog.NewNullLogger()
	if stop := startCPUProfile(l, ""); stop != nil {
		t.Fatal("a profile without a path")
	}
	// Control: an unwritable path is skipped, not fatal.
	if stop := startCPUProfile(l, filepath.Join(t.TempDir(), "missing", "cpu.prof")); stop != nil {
		t.Fatal("a profile into a missing directory")
	}
	p := filepath.Join(t.TempDir(), "cpu.prof")
	stop := startCPUProfile(l, p)
	if stop == nil {
		t.Fatal("no profile")
	}
	stop()
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		t.Fatalf("profile file: %v, %v", fi, err)
	}
}
