// Package examplebin finds or builds the example plugin binary for tests in other packages
// (the SDK's and the plugin host's), so that they run against a real subprocess.
package examplebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BinaryName is what `make build` calls the example plugin in ./bin.
const BinaryName = "paymux-provider-example"

// Path returns $PAYMUX_BIN/paymux-provider-example when PAYMUX_BIN is set (`make test` builds
// ./bin first), else builds the example plugin into dir with `go build`.
func Path(dir string) (string, error) {
	if bin := os.Getenv("PAYMUX_BIN"); bin != "" {
		p := filepath.Join(bin, BinaryName)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PAYMUX_BIN is set but %w", err)
		}
		return p, nil
	}
	out := filepath.Join(dir, BinaryName)
	cmd := exec.Command("go", "build", "-o", out, "github.com/paymux/paymux/plugins/example")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build example plugin: %w\n%s", err, b)
	}
	return out, nil
}
