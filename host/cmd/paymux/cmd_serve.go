package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/bench"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/internal/gcfloor"
	"github.com/paymux/paymux/host/metrics"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/host/store"
	_ "github.com/paymux/paymux/host/store/postgres" // registers "postgres"
	_ "github.com/paymux/paymux/host/store/sqlite"   // registers "sqlite"
)

func init() {
	register(&command{name: "serve", summary: "serve the REST API, /notify, the webhook dispatcher and the janitor", run: runServe})
}

// serveShutdownTimeout bounds the graceful shutdown: in-flight requests, the dispatcher's
// deliveries and the plugins' stop.
const serveShutdownTimeout = 30 * time.Second

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := configFlag(fs, "config file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux serve [-config FILE]\n\n"+
			"Serves the REST API and /notify/{account}, starts the plugins (pinned by SHA-256), the webhook\n"+
			"dispatcher and the janitor. SIGHUP reloads the config atomically (a bad config is refused and the\n"+
			"old one keeps serving) and reads the TLS certificate and key files again (a bad pair is refused\n"+
			"and the old certificate keeps serving); SIGINT/SIGTERM finish in-flight requests and stop every plugin.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := newServeLogger(cfg.Log)
	// A small live heap with a high allocation rate: keep the heap goal above 16 MB rather
	// than collecting every few dozen milliseconds (host/internal/gcfloor; GOGC overrides).
	gcfloor.Start(gcfloor.DefaultFloor)
	if stop, err := startServeProfile(os.Getenv(bench.EnvServeCPUProfile)); err != nil {
		return err
	} else if stop != nil {
		defer stop()
	}
	srv, err := startServer(ctx, cfg, *cfgPath, log)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			srv.reload(ctx)
		case err := <-srv.serveErr:
			srv.shutdown()
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
			log.Info("shutting down")
			return srv.shutdown()
		}
	}
}

func newServeLogger(c config.Log) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "paymux", Level: logLevel(c), JSONFormat: c.Format == "json", Output: os.Stderr})
}

// logLevel is log.level as an hclog level (info when unset); a reload applies it live, to the
// host's logger and every logger named from it.
func logLevel(c config.Log) hclog.Level {
	if level := hclog.LevelFromString(c.Level); level != hclog.NoLevel {
		return level
	}
	return hclog.Info
}

// server is one running paymux host.
type server struct {
	log      hclog.Logger
	holder   *config.Holder
	store    store.Store
	plugins  *pluginhost.Manager
	svc      *host.Service
	api      *httpapi.API
	http     *http.Server
	serveErr chan error
	cancel   context.CancelFunc // stops the background workers
	workers  sync.WaitGroup
	runtime  string
	// cert is the listener's certificate when server.tls is set; SIGHUP swaps it.
	cert atomic.Pointer[tls.Certificate]
}

// startServer opens the store, starts and configures the plugins, checks the regions against
// what the plugins declare, and starts serving. On error everything started is stopped again.
func startServer(ctx context.Context, cfg *config.Config, path string, log hclog.Logger) (_ *server, err error) {
	s := &server{log: log, holder: config.NewHolder(path, cfg), serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.shutdown()
		}
	}()
	openCtx, cancelOpen := context.WithTimeout(ctx, time.Minute)
	defer cancelOpen()
	if s.store, err = store.Open(openCtx, cfg.Store.Driver, cfg.Store.DSN.Value()); err != nil {
		return nil, err
	}
	if s.runtime, err = os.MkdirTemp("", "pmx-"); err != nil {
		return nil, fmt.Errorf("plugin runtime dir: %w", err)
	}
	s.plugins = pluginhost.New(pluginhost.Options{Logger: log, RuntimeDir: s.runtime})
	if err := s.plugins.Start(openCtx, pluginSpecs(cfg)); err != nil {
		return nil, fmt.Errorf("starting plugins: %w", err)
	}
	for plugin, accounts := range pluginAccounts(cfg) {
		for id, settings := range accounts {
			if err := s.plugins.Configure(openCtx, plugin, id, settings); err != nil {
				return nil, fmt.Errorf("account %s: %w", id, err)
			}
		}
	}
	if err := config.ValidateMethods(cfg, s.describer(openCtx)); err != nil {
		return nil, err
	}
	s.warnLoosened(openCtx, cfg)
	settings, err := host.SettingsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	warnDemoSecrets(log, settings.DemoSecrets)
	warnLoosened(log, cfg)
	m := metrics.New()
	m.WatchStore(s.store, nil)
	m.WatchPlugins(s.plugins)
	m.WatchShadows(s.plugins.ShadowTotals)
	m.WatchPluginHealth(s.plugins)
	m.SetBuildInfo(version, buildCommit(), runtime.Version())
	s.svc = host.New(host.Options{Store: s.store, Providers: m.Providers(pluginProviders{s}), Settings: settings, Logger: log.Named("service"), OnFinal: m.ObserveFinal})
	s.api = httpapi.New(httpapi.Options{
		Service: s.svc, Keys: apiKeys(cfg), Logger: log.Named("http"), Shadows: s.plugins,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, IdempotencyTTL: time.Duration(cfg.Server.IdempotencyTTL),
		IdempotencyLease:       time.Duration(cfg.Server.IdempotencyLease),
		NotifyRejectsPerMinute: cfg.Server.NotifyRejectsPerMinute,
	})
	disp := host.NewDispatcher(host.DispatcherOptions{Service: s.svc, Logger: log.Named("webhooks"), OnDelivery: m.ObserveWebhookDelivery})
	jan := host.NewJanitor(host.JanitorOptions{Service: s.svc, Logger: log.Named("janitor"), OnPass: m.ObserveJanitorPass, OnPrune: m.ObservePrune})
	s.api.SetHooks(httpapi.Hooks{OnRedeliver: disp.Wake, OnNotification: m.ObserveNotification, OnEarlyQuery: jan.Wake})
	// /metrics sits beside the API on the same listener, without an API key: its labels hold
	// only route patterns, plugin and method names and outcome words, never ids or secrets.
	root := http.NewServeMux()
	root.Handle("GET /metrics", m.Handler())
	root.Handle("/", s.api.InstrumentedHandler(m.ObserveHTTP))

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.goWorker(func() { disp.Run(bg) })
	s.goWorker(func() { jan.Run(bg) })
	s.goWorker(func() { s.expireIdempotencyKeys(bg) })

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	s.http = &http.Server{
		Handler: root,
		// A header block over this is answered 431 by net/http before any handler runs.
		MaxHeaderBytes:    maxHeaderBytes(cfg.Server.MaxHeaderBytes),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	scheme := "http"
	if t := cfg.Server.TLS; t != nil {
		cert, err := loadCertificate(t)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.cert.Store(cert)
		// GetCertificate reads the holder on every handshake, so a reload serves the new
		// certificate to new connections while open ones keep theirs.
		s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		}}
		ln = tls.NewListener(ln, s.http.TLSConfig)
		scheme = "https"
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
	log.Info("serving", "url", scheme+"://"+ln.Addr().String(), "public_url", cfg.Server.PublicURL,
		"store", cfg.Store.Driver, "plugins", s.plugins.Plugins(), "webhooks", cfg.Webhooks.URL != "")
	return s, nil
}

func (s *server) goWorker(f func()) {
	s.workers.Add(1)
	go func() { defer s.workers.Done(); f() }()
}

// expireIdempotencyKeys deletes expired idempotency keys every few minutes.
func (s *server) expireIdempotencyKeys(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.store.DeleteExpiredIdempotencyKeys(ctx, time.Now())
			if err != nil && ctx.Err() == nil {
				s.log.Warn("deleting expired idempotency keys failed", "error", err)
			} else if n > 0 {
				s.log.Debug("deleted expired idempotency keys", "count", n)
			}
		}
	}
}

// reload loads the config file again; on any error the old config keeps serving.
func (s *server) reload(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s.log.Info("reloading config (SIGHUP)")
	changes, err := s.holder.Reload(func(old, next *config.Config, d *config.Changes) error {
		settings, err := host.SettingsFromConfig(next)
		if err != nil {
			return err
		}
		if err := s.plugins.Reload(ctx, pluginSpecs(next), pluginAccounts(next)); err != nil {
			s.rollbackPlugins(ctx, old)
			return fmt.Errorf("plugins: %w", err)
		}
		if err := config.ValidateMethods(next, s.describer(ctx)); err != nil {
			s.rollbackPlugins(ctx, old)
			return err
		}
		if t := next.Server.TLS; t != nil && (old.Server.TLS == nil || *t != *old.Server.TLS) {
			// New paths: refuse the whole config when they do not hold a usable pair.
			if _, err := loadCertificate(t); err != nil {
				s.rollbackPlugins(ctx, old)
				return err
			}
		}
		s.svc.SetSettings(settings)
		warnDemoSecrets(s.log, settings.DemoSecrets)
		warnLoosened(s.log, next)
		if next.Log.Level != old.Log.Level {
			s.log.SetLevel(logLevel(next.Log))
		}
		s.api.SetKeys(apiKeys(next))
		s.api.SetLimits(next.Server.MaxBodyBytes, time.Duration(next.Server.IdempotencyTTL))
		s.api.SetIdempotencyLease(time.Duration(next.Server.IdempotencyLease))
		s.api.SetNotifyRejectLimit(next.Server.NotifyRejectsPerMinute)
		return nil
	})
	// Operators renew certificates in place, so the files are read again on every reload,
	// whether or not the config text changed and even when the new config was refused.
	s.reloadCertificate(s.holder.Current().Server.TLS)
	if err != nil {
		s.log.Error("config reload refused; the old config keeps serving", "error", err)
		return
	}
	s.log.Info("config reloaded", "plugins_started", changes.PluginsToStart(), "accounts_changed",
		append(append([]string{}, changes.AccountsAdded...), changes.AccountsChanged...), "regions_changed", changes.RegionsChanged)
	s.warnLoosened(ctx, s.holder.Current())
}

// warnLoosened logs a warning for every account setting that switches off a strict default
// (notify_verify: false, require_response_sign: false, allow_insecure_gateway: true, ...), at
// start and after every reload that keeps it: loosening is an explicit choice, never a silent one.
func (s *server) warnLoosened(ctx context.Context, cfg *config.Config) {
	for _, l := range config.LoosenedSettings(cfg, s.describer(ctx)) {
		s.log.Warn("account loosens a strict default", "account", l.Account, "setting", l.Setting, "value", l.Value)
	}
}

// loadCertificate reads and checks the certificate and key files of server.tls.
func loadCertificate(t *config.TLS) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: loading %s and %s: %w", t.CertFile, t.KeyFile, err)
	}
	return &cert, nil
}

// reloadCertificate reads the TLS files again and swaps them in for new connections; a bad
// pair is refused and the old certificate keeps serving. Nothing happens without TLS.
func (s *server) reloadCertificate(t *config.TLS) {
	if t == nil || s.cert.Load() == nil {
		return
	}
	cert, err := loadCertificate(t)
	if err != nil {
		s.log.Error("TLS certificate reload refused; the old certificate keeps serving", "error", err)
		return
	}
	s.cert.Store(cert)
	var notAfter time.Time
	if cert.Leaf != nil {
		notAfter = cert.Leaf.NotAfter
	}
	s.log.Info("TLS certificate reloaded", "cert_file", t.CertFile, "not_after", notAfter)
}

func (s *server) rollbackPlugins(ctx context.Context, old *config.Config) {
	if err := s.plugins.Reload(ctx, pluginSpecs(old), pluginAccounts(old)); err != nil {
		s.log.Error("restoring the previous plugins after a refused reload failed", "error", err)
	}
}

// shutdown stops serving (finishing in-flight requests), the workers, the plugins and the store.
func (s *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.workers.Wait()
	if s.plugins != nil {
		if err := s.plugins.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping plugins: %w", err))
		}
	}
	if s.runtime != "" {
		os.RemoveAll(s.runtime)
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing store: %w", err))
		}
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}

func (s *server) describer(ctx context.Context) func(plugin string) (*core.Description, error) {
	return func(plugin string) (*core.Description, error) { return s.plugins.Describe(ctx, plugin) }
}

// pluginProviders satisfies host.Providers with the plugin manager and the current config.
type pluginProviders struct{ s *server }

func (p pluginProviders) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	acct, ok := p.s.holder.Current().Accounts[account]
	if !ok {
		return nil, nil, core.Errorf(core.ENOTFOUND, "unknown account %q", account)
	}
	return p.s.plugins.ProviderAndDescription(ctx, acct.Plugin)
}

func pluginSpecs(cfg *config.Config) []pluginhost.Spec {
	specs := make([]pluginhost.Spec, 0, len(cfg.Plugins))
	for name, p := range cfg.Plugins {
		spec := pluginhost.Spec{Name: name, Command: p.Command, SHA256: p.SHA256, Env: p.Env}
		if sh := p.Shadow; sh != nil {
			spec.Shadow = &pluginhost.ShadowSpec{Command: sh.Command, SHA256: sh.SHA256, Env: sh.Env, Ignore: sh.Ignore,
				Timeout: time.Duration(sh.Timeout), MaxInFlight: int(sh.MaxInFlight)}
		}
		specs = append(specs, spec)
	}
	return specs
}

func pluginAccounts(cfg *config.Config) map[string]pluginhost.Accounts {
	out := map[string]pluginhost.Accounts{}
	for id, a := range cfg.Accounts {
		if out[a.Plugin] == nil {
			out[a.Plugin] = pluginhost.Accounts{}
		}
		out[a.Plugin][id] = cfg.AccountSettings(id)
	}
	return out
}

func apiKeys(cfg *config.Config) httpapi.KeyMatcher { return httpapi.ConfigKeys(cfg.Server.APIKeys) }

// warnDemoSecrets logs, at start and at each reload, which settings hold a demo secret (their
// names; never the values). /readyz says so too.
func warnDemoSecrets(log hclog.Logger, settings []string) {
	if len(settings) > 0 {
		log.Warn(demoSecretsWarning(settings))
	}
}

// warnLoosened logs each protection of the public endpoints the config turns off.
func warnLoosened(log hclog.Logger, cfg *config.Config) {
	if cfg.Server.NotifyRejectsPerMinute < 0 {
		log.Warn("server.notify_rejects_per_minute is -1: /notify requests that fail verification are not limited and every one is stored")
	}
	if cfg.Retention.RejectedNotifications < 0 {
		log.Warn("retention.rejected_notifications is negative: inbox entries that failed verification are kept forever")
	}
	if cfg.Retention.DeliveredEvents < 0 {
		log.Warn("retention.delivered_events is negative: delivered webhook events are kept forever")
	}
}

// maxHeaderBytes is the http.Server setting for a header bound of limit bytes: net/http allows
// 4096 bytes more than MaxHeaderBytes (its bufio slack), so that much is taken off, keeping the
// bound the operator configured.
func maxHeaderBytes(limit int64) int {
	if limit <= 0 {
		limit = config.DefaultMaxHeaderBytes
	}
	return int(max(limit-4096, 1024))
}

// startServeProfile starts a pprof CPU profile of this serve process into path when the
// environment names one (PAYMUX_CPUPROFILE, a diagnostic that paymux bench -host-cpuprofile
// sets) and returns the function that ends it at shutdown.
func startServeProfile(path string) (func(), error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
