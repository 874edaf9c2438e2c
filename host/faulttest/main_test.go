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

// envHost, set to 1, makes the test binary a minimal host child: it serves the HostConfig whose
// path is its last argument (bench.RunHost) instead of running tests. The tests run the real
// `paymux serve` unless PAYMUX_FAULTTEST_HOST_MODE=child selects this one.
const envHost = "PAYMUX_FAULTTEST_HOST"

// pluginPath is the Alipay plugin binary; paymuxPath the paymux binary whose `serve` is the
// host under test.
var pluginPath, paymuxPath string

// antomPluginPath is the Antom plugin binary, for the tests of an Antom account.
var antomPluginPath string

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
		antomPluginPath = filepath.Join(bin, bench.AntomPluginBinary)
		paymuxPath = filepath.Join(bin, "paymux")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pmxfault")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pluginPath = filepath.Join(dir, bench.PluginBinary)
	antomPluginPath = filepath.Join(dir, bench.AntomPluginBinary)
	paymuxPath = filepath.Join(dir, "paymux")
	for bin, pkg := range map[string]string{pluginPath: "github.com/paymux/paymux/plugins/alipay",
		antomPluginPath: "github.com/paymux/paymux/plugins/antom", paymuxPath: "github.com/paymux/paymux/host/cmd/paymux"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
