//go:build faults

package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/paymux/paymux/host/bench"
)

// envHost, set to 1, makes the test binary the host child: it serves the HostConfig whose path
// is its last argument (bench.RunHost) instead of running tests. Killing that process is
// killing the host.
const envHost = "PAYMUX_FAULTTEST_HOST"

var pluginPath string

func TestMain(m *testing.M) {
	if os.Getenv(envHost) == "1" {
		os.Exit(serveHost(os.Args[len(os.Args)-1]))
	}
	os.Exit(runTests(m))
}

func serveHost(cfgPath string) int {
	cfg, err := bench.ReadHostConfig(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := bench.RunHost(ctx, cfg, func(addr string) { fmt.Printf("%s %s\n", bench.ReadyPrefix, addr) }); err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		return 1
	}
	return 0
}

func runTests(m *testing.M) int {
	if bin := os.Getenv("PAYMUX_BIN"); bin != "" {
		pluginPath = filepath.Join(bin, bench.PluginBinary)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pmxfault")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginPath = filepath.Join(dir, bench.PluginBinary)
	out, err := exec.Command("go", "build", "-o", pluginPath, "github.com/paymux/paymux/plugins/alipay").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the alipay plugin: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
