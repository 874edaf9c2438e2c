package sdk

import (
	"log"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/paymux/paymux/core"
	"google.golang.org/grpc"
)

// realStderr is the process's stderr as it was before go-plugin's Serve replaced os.Stderr with
// a pipe into its stdio stream (which the host discards unless it asks for it). Logs must go
// to the real stderr, where the host parses them as hclog JSON.
var realStderr = os.Stderr

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// Logger returns the plugin's logger: hclog JSON on the real stderr at the level the host
// passes in PAYMUX_PLUGIN_LOG_LEVEL (info when unset). The host forwards these lines into its
// own log under the plugin's name. Provider code may call it before Serve (in New, say).
// Never log secrets: the host sees exactly what the plugin writes.
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		level := hclog.LevelFromString(os.Getenv(EnvLogLevel))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		logger = hclog.New(&hclog.LoggerOptions{
			Output:     realStderr,
			JSONFormat: true,
			Level:      level,
			// TimeFormat stays the default: go-plugin parses exactly hclog's default format.
		})
	})
	return logger
}

// Serve serves p as a paymux provider plugin and returns when the host stops it. A plugin's
// main is one line:
//
//	func main() { sdk.Serve(example.New()) }
//
// Serve logs through Logger (and points hclog's default logger and the standard library's log
// package at it), exits when the host process is gone, and never writes to stdout: stdout
// carries go-plugin's handshake line, and anything printed there first breaks the start.
// Run by hand (without the host's handshake cookie), it prints a notice and exits with 1.
func Serve(p core.Provider) {
	l := Logger()
	hclog.SetDefault(l)
	log.SetFlags(0)
	log.SetOutput(l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	watchParent(l, os.Getenv(EnvParentPID), os.Getppid, func() { os.Exit(3) }, 200*time.Millisecond)
	l.Info("serving paymux provider plugin", "protocol", ProtocolVersion, "pid", os.Getpid())
	if stop := startCPUProfile(l, os.Getenv(EnvCPUProfile)); stop != nil {
		defer stop()
	}

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: serverSets(p, l),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpcServerOptions()...)...)
		},
		Logger: l,
	})
}

// startCPUProfile starts a pprof CPU profile into path (nothing when path is empty) and
// returns the function that ends it; Serve calls it when the host stops the plugin. A
// profile that cannot start is logged and skipped: it is a diagnostic, never a reason not to
// serve.
func startCPUProfile(l hclog.Logger, path string) func() {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		l.Warn("cpu profile not written", "error", err)
		return nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		l.Warn("cpu profile not written", "error", err)
		return nil
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			l.Warn("cpu profile incomplete", "error", err)
		}
	}
}

// watchParent makes the plugin exit when the host that launched it is gone. go-plugin has no
// parent-death handling: a host killed with SIGKILL would leave its plugins running forever.
// When the parent dies the kernel re-parents the plugin (to init or a subreaper), so a change
// of getppid is the signal. The host passes its PID because by the time this runs the parent
// may already have died. Polling every interval keeps the orphan's lifetime under 2 s.
func watchParent(l hclog.Logger, want string, getppid func() int, exit func(), interval time.Duration) {
	if want == "" {
		return
	}
	pid, err := strconv.Atoi(want)
	if err != nil || pid <= 0 {
		l.Warn("ignoring malformed host pid", "env", EnvParentPID, "value", want)
		return
	}
	check := func() bool {
		if got := getppid(); got != pid {
			l.Error("host process is gone; exiting", "host_pid", pid, "parent_pid", got)
			exit()
			return false
		}
		return true
	}
	if !check() {
		return
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for range t.C {
			if !check() {
				return
			}
		}
	}()
}
