package sdk

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/paymux/paymux/plugins/example/examplebin"
)

// examplePath is the example plugin binary every test launches; exampleSHA its pin.
var examplePath, exampleSHA string

func TestMain(m *testing.M) {
	switch os.Getenv("PAYMUX_SDK_TEST_HELPER") {
	case "host":
		helperHost()
		return
	case "echo":
		helperEcho()
		return
	case "exit-during-start":
		helperExitDuringStart()
		return
	}
	dir, err := os.MkdirTemp("", "pmxsdk")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if examplePath, err = examplebin.Path(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if exampleSHA, err = HashFile(examplePath); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runtimeDir is a short private directory for sockets (t.TempDir paths can be too long for
// a unix socket).
func runtimeDirFor(t testing.TB) string {
	d, err := os.MkdirTemp("", "pmx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// testLogger shows host and plugin logs on stderr with -v, and drops them otherwise (go-plugin
// logs from its own goroutines, which may outlive a test's t.Log).
func testLogger(testing.TB) hclog.Logger {
	if !testing.Verbose() {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: os.Stderr})
}

// launch starts the example plugin with extra env and stops it at cleanup.
func launch(t testing.TB, env map[string]string) *Plugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := Launch(ctx, LaunchConfig{
		Name: "example", Path: examplePath, SHA256: exampleSHA, Env: env,
		Logger: testLogger(t), RuntimeDir: runtimeDirFor(t),
	})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(p.Kill)
	return p
}
