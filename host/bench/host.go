package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/internal/gcfloor"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/host/store"
	// The drivers register themselves with store.Open.
	_ "github.com/paymux/paymux/host/store/postgres"
	_ "github.com/paymux/paymux/host/store/sqlite"
)

// HostConfig is everything a paymux host under test needs: it is the part of a paymux config
// the bench and the fault suite exercise, in a form a child process reads from one JSON file.
type HostConfig struct {
	Listen      string            `json:"listen"` // loopback host:port; port 0 picks one
	PublicURL   string            `json:"public_url,omitempty"`
	Store       string            `json:"store"` // sqlite or postgres
	DSN         string            `json:"dsn"`
	APIKey      string            `json:"api_key"`
	Plugin      string            `json:"plugin"` // plugin name, e.g. alipay
	Command     string            `json:"command"`
	SHA256      string            `json:"sha256"`
	Account     string            `json:"account"`
	Settings    map[string]string `json:"settings"`
	Region      string            `json:"region"`
	Method      string            `json:"method"`
	RuntimeDir  string            `json:"runtime_dir"`
	CallTimeout time.Duration     `json:"call_timeout,omitempty"`
	// BackoffMin is the plugin restart delay after a crash (small in the fault suite).
	BackoffMin time.Duration `json:"backoff_min,omitempty"`
	LogLevel   string        `json:"log_level,omitempty"`
	// CPUProfile, when set, is where the host writes a pprof CPU profile of its whole run.
	CPUProfile string `json:"cpu_profile,omitempty"`
	// Spin, when positive, makes the host burn this much CPU in every request before serving
	// it: a deliberate slowdown that shows the CI gate failing (paymux bench -host-spin).
	Spin time.Duration `json:"spin,omitempty"`
	// PluginEnv is the plugin process's environment (e.g. sdk.EnvCPUProfile).
	PluginEnv map[string]string `json:"plugin_env,omitempty"`
}

// ReadyPrefix starts the line a host child prints on stdout once it serves: "<prefix> <addr>".
const ReadyPrefix = "PAYMUX_BENCH_HOST_READY"

// managerProviders routes accounts to the plugins of a pluginhost.Manager (what the CLI's serve
// does in production).
type managerProviders struct {
	m       *pluginhost.Manager
	plugins map[string]string // account -> plugin
}

func (p *managerProviders) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	name, ok := p.plugins[account]
	if !ok {
		return nil, nil, core.Errorf(core.ENOTFOUND, "unknown account %q", account)
	}
	return p.m.ProviderAndDescription(ctx, name)
}

// RunHost serves a paymux host built from cfg until ctx ends: the store, the plugin under
// pluginhost supervision, the service and the REST API on a loopback listener. ready is called
// with the listening address once requests are served.
func RunHost(ctx context.Context, cfg HostConfig, ready func(addr string)) error {
	if err := requireLoopback(cfg.Listen); err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	gcfloor.Start(gcfloor.DefaultFloor) // as paymux serve does
	level := cfg.LogLevel
	if level == "" {
		level = "error"
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "paymux", Level: hclog.LevelFromString(level), Output: os.Stderr})
	st, err := store.Open(ctx, cfg.Store, cfg.DSN)
	if err != nil {
		return err
	}
	defer st.Close()

	mgr := pluginhost.New(pluginhost.Options{
		Logger: log, RuntimeDir: cfg.RuntimeDir, CallTimeout: cfg.CallTimeout,
		BackoffMin: cfg.BackoffMin, BackoffMax: max(cfg.BackoffMin, 2*time.Second), LogLevel: level,
	})
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mgr.Shutdown(sctx)
	}()
	if err := mgr.Start(ctx, []pluginhost.Spec{{Name: cfg.Plugin, Command: cfg.Command, SHA256: cfg.SHA256, Env: cfg.PluginEnv}}); err != nil {
		return fmt.Errorf("starting plugin: %w", err)
	}
	if err := mgr.Configure(ctx, cfg.Plugin, cfg.Account, cfg.Settings); err != nil {
		return fmt.Errorf("configuring account %s: %w", cfg.Account, err)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	public := cfg.PublicURL
	if public == "" {
		public = "http://" + addr
	}
	settings := &host.Settings{
		PublicURL: public,
		Regions:   map[string][]host.RegionMethod{cfg.Region: {{Method: cfg.Method, Account: cfg.Account}}},
	}
	svc := host.New(host.Options{
		Store: st, Providers: &managerProviders{m: mgr, plugins: map[string]string{cfg.Account: cfg.Plugin}},
		Settings: settings, Logger: log, CallTimeout: cfg.CallTimeout,
	})
	api := httpapi.New(httpapi.Options{Service: svc, Keys: httpapi.StaticKeys([]string{cfg.APIKey}), Logger: log})
	handler := api.Handler()
	if cfg.Spin > 0 {
		handler = spinning(handler, cfg.Spin)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(addr)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// spinning wraps h so that every request first burns d of this thread's CPU (a busy loop, not a
// sleep: the slowdown must cost CPU, as a real regression of the hot path would).
func spinning(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Spin(d)
		h.ServeHTTP(w, r)
	})
}

// Spin busy-loops until the calling thread has used d of CPU time (or, where that clock is
// unavailable, d of wall time).
func Spin(d time.Duration) {
	runtime.LockOSThread() // the thread's clock only counts while the goroutine stays on it
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	t0 := time.Now()
	x := uint64(1)
	for i := 0; ; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		if i%1024 != 0 {
			continue
		}
		if ok {
			if now, _ := threadCPU(); now-start >= d {
				break
			}
		} else if time.Since(t0) >= d {
			break
		}
	}
	spinSink.Store(x)
}

var spinSink atomic.Uint64

// ReadHostConfig reads a HostConfig written by WriteHostConfig.
func ReadHostConfig(path string) (HostConfig, error) {
	var c HostConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("host config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("host config %s: %w", path, err)
	}
	return c, nil
}

// WriteHostConfig writes cfg for a child (0600: it names key files and the API key).
func WriteHostConfig(path string, cfg HostConfig) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
