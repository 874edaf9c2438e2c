package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/pluginhost"
)

// simEnvPlugins makes newSimEnv run the providers behind their plugin binaries.
var simEnvPlugins bool

// accountPlugins maps the e2e accounts to their plugins.
var accountPlugins = map[string]string{"global": "alipay", "hk": "alipayhk", "antom": "antom"}

// pluginBinary returns a plugin binary: $PAYMUX_BIN/paymux-provider-<name> (make test) or one
// built into a temporary directory.
func pluginBinary(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("PAYMUX_BIN"); dir != "" {
		return filepath.Join(dir, "paymux-provider-"+name)
	}
	out := filepath.Join(t.TempDir(), "paymux-provider-"+name)
	if b, err := exec.Command("go", "build", "-o", out, "github.com/paymux/paymux/plugins/"+name).CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s: %v\n%s", name, err, b)
	}
	return out
}

// pluginAccounts starts the plugins pinned to their hashes, configures the accounts, and returns
// a core.Provider per account that goes through the plugin boundary.
func pluginAccounts(t testing.TB, settings map[string]map[string]string) map[string]core.Provider {
	t.Helper()
	runtime, err := os.MkdirTemp("", "pmxe2e") // short: plugin socket paths are length-limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	m := pluginhost.New(pluginhost.Options{RuntimeDir: runtime})
	ctx := context.Background()
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	var specs []pluginhost.Spec
	var names []string // the plugins the accounts need, each once
	for account := range settings {
		if n := accountPlugins[account]; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		bin := pluginBinary(t, name)
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		specs = append(specs, pluginhost.Spec{Name: name, Command: bin, SHA256: hex.EncodeToString(sum[:])})
	}
	if err := m.Start(ctx, specs); err != nil {
		t.Fatalf("starting plugins: %v", err)
	}
	out := map[string]core.Provider{}
	for account, s := range settings {
		plugin := accountPlugins[account]
		if err := m.Configure(ctx, plugin, account, s); err != nil {
			t.Fatalf("configure %s: %v", account, err)
		}
		p, err := m.Provider(plugin)
		if err != nil {
			t.Fatal(err)
		}
		out[account] = p
	}
	return out
}
