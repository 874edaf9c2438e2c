// Package pluginhost launches, pins and supervises provider plugins and hands the rest of the
// host core.Provider values that stay valid across plugin restarts.
//
// Each plugin is one process (sdk.Launch) serving many merchant accounts. The manager checks
// the binary's SHA-256 before every start, restarts a plugin that exits with backoff (1 s
// doubling to 2 min), re-sends every account's settings to a restarted plugin before it serves
// calls, fails calls at once with core EUNAVAILABLE while a plugin is down, retries once only
// the calls that are safe to repeat, and bounds the calls in flight per plugin.
//
// A plugin may have a shadow (Spec.Shadow): a candidate build started and configured beside
// the live one, which receives a copy of every call without effect at the gateway after the
// live answer and whose answers are compared field by field (shadow.go). Reload replaces a
// build make-before-break: the new process is started and configured first, then takes new
// calls while calls in flight finish on the old one.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/paymux/paymux/core"
)

// Defaults for Options.
const (
	DefaultCallTimeout = 30 * time.Second
	DefaultMaxInFlight = 64
	DefaultBackoffMin  = time.Second
	DefaultBackoffMax  = 2 * time.Minute
)

// Options configure a Manager. Zero values take the defaults above.
type Options struct {
	// Logger receives the manager's events and, under each plugin's name, the plugins' logs.
	Logger hclog.Logger
	// RuntimeDir is the private (0700) directory for plugin sockets (see sdk.LaunchConfig).
	RuntimeDir string
	// CallTimeout is the deadline of a call whose context has none.
	CallTimeout time.Duration
	// MaxInFlight bounds the calls in flight per plugin; more wait for a slot until their
	// deadline and then fail with EUNAVAILABLE.
	MaxInFlight int
	// LogLevel is the level plugins log at (hclog names); default: Logger's level.
	LogLevel string
	// DisableAutoMTLS turns off go-plugin's one-time mutual TLS (on by default; it costs about
	// 40 ms per start and nothing measurable per call).
	DisableAutoMTLS bool
	// StartTimeout bounds one plugin start (default sdk.DefaultStartTimeout).
	StartTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay before a restart; it doubles after each failed
	// or short-lived start and starts again at BackoffMin after a plugin ran longer than
	// BackoffMax.
	BackoffMin, BackoffMax time.Duration
}

// Spec names one plugin: its binary (executed directly, never through a shell), the binary's
// pinned hex SHA-256 and its whole environment (the host's own is not passed).
type Spec struct {
	Name    string
	Command string
	SHA256  string
	Env     map[string]string
	// Shadow, when set, is a candidate build run beside this one (see ShadowSpec).
	Shadow *ShadowSpec
}

// Accounts is one plugin's accounts: account name -> settings.
type Accounts map[string]map[string]string

// Manager supervises plugins. Its methods are safe for concurrent use.
type Manager struct {
	opts Options
	log  hclog.Logger

	mu       sync.RWMutex
	plugins  map[string]*supervised
	shadows  map[string]*shadow // by live plugin name
	shutdown bool

	totalsMu sync.Mutex
	totals   map[shadowKey]int64
}

// New returns a Manager with no plugins.
func New(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = DefaultBackoffMin
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = opts.BackoffMin
	}
	return &Manager{opts: opts, log: opts.Logger.Named("pluginhost"), plugins: map[string]*supervised{},
		shadows: map[string]*shadow{}, totals: map[shadowKey]int64{}}
}

// Start launches the plugins of specs and supervises them. A plugin that fails to start is
// kept and retried with backoff (its calls fail with EUNAVAILABLE meanwhile); the returned
// error joins every start failure, each naming its plugin (a checksum mismatch names both
// hashes). Starting a name that is already managed is an error.
func (m *Manager) Start(ctx context.Context, specs []Spec) error {
	var errs []error
	for _, spec := range specs {
		if err := m.startOne(ctx, spec, nil, 0); err != nil {
			errs = append(errs, err)
		}
		if spec.Shadow != nil {
			if err := m.startShadow(ctx, spec, nil); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// startShadow starts spec's shadow with accounts; like a live plugin, one that fails to start
// is kept and retried with backoff, and the error is returned.
func (m *Manager) startShadow(ctx context.Context, spec Spec, accounts Accounts) error {
	sh, err := newShadow(m, spec.Name, spec.SHA256, *spec.Shadow, accounts)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.shutdown {
		m.mu.Unlock()
		return errors.New("pluginhost: manager is shut down")
	}
	if _, dup := m.shadows[spec.Name]; dup {
		m.mu.Unlock()
		return fmt.Errorf("pluginhost: plugin %s already has a shadow", spec.Name)
	}
	m.shadows[spec.Name] = sh
	m.mu.Unlock()
	if err := sh.start(ctx); err != nil {
		return fmt.Errorf("shadow of %w", err)
	}
	return nil
}

func (m *Manager) startOne(ctx context.Context, spec Spec, accounts Accounts, restarts int) error {
	if spec.Name == "" || spec.Command == "" {
		return fmt.Errorf("pluginhost: plugin spec needs a name and a command: %+v", spec)
	}
	m.mu.Lock()
	if m.shutdown {
		m.mu.Unlock()
		return errors.New("pluginhost: manager is shut down")
	}
	if _, dup := m.plugins[spec.Name]; dup {
		m.mu.Unlock()
		return fmt.Errorf("pluginhost: plugin %s is already started", spec.Name)
	}
	s := newSupervised(m, spec, accounts)
	s.restarts = restarts
	m.plugins[spec.Name] = s
	m.mu.Unlock()

	p, err := s.launch(ctx)
	go s.run(p)
	return err
}

func (m *Manager) get(name string) (*supervised, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.plugins[name]
	if !ok {
		return nil, core.Errorf(core.ENOTFOUND, "no plugin named %s", name)
	}
	return s, nil
}

// Provider returns the supervised handle of a plugin: a core.Provider (also a
// core.PaymentCloser and core.SettlementFetcher) that stays valid across restarts.
func (m *Manager) Provider(plugin string) (core.Provider, error) {
	s, err := m.get(plugin)
	if err != nil {
		return nil, err
	}
	return &handle{m: m, name: s.spec.Name}, nil
}

// ProviderAndDescription is Provider and Describe in one look-up: what a host.Providers answers
// for an account served by plugin (the CLI's serve and host/bench route accounts through it).
func (m *Manager) ProviderAndDescription(ctx context.Context, plugin string) (core.Provider, *core.Description, error) {
	s, err := m.get(plugin)
	if err != nil {
		return nil, nil, err
	}
	d, err := s.describe(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &handle{m: m, name: s.spec.Name}, d, nil
}

// Configure remembers an account's settings for a plugin and hands them to it. The settings
// are sent again after every restart and on Reload. Settings the provider rejects (any error
// it returns itself, e.g. ECONFIG) are not remembered; settings that could not be delivered
// because the plugin is down are remembered and delivered when it is back.
func (m *Manager) Configure(ctx context.Context, plugin, account string, settings map[string]string) error {
	var err error
	for range maxGenerations {
		var s *supervised
		if s, err = m.get(plugin); err != nil {
			return err
		}
		err = s.configure(ctx, account, settings)
		if !errors.Is(err, errRetired) {
			break
		}
	}
	if sh := m.shadowOf(plugin); sh != nil {
		sh.mirrorConfigure(account, settings, liveAnswer(struct{}{}, err, func(struct{}) answer { return configureAnswer() }))
	}
	return err
}

// maxGenerations bounds how often a call follows a reload to the next generation of a plugin
// (a call refused by a retired generation was not sent, so repeating it is always safe).
const maxGenerations = 3

// Describe returns the plugin's description, cached from its last start.
func (m *Manager) Describe(ctx context.Context, plugin string) (*core.Description, error) {
	s, err := m.get(plugin)
	if err != nil {
		return nil, err
	}
	return s.describe(ctx)
}

// Health pings every plugin: nil for a plugin that answers, EUNAVAILABLE with the reason for
// one that is down or does not answer within ctx (bounded to 5 s).
func (m *Manager) Health(ctx context.Context) map[string]error {
	m.mu.RLock()
	all := slices.Collect(maps.Values(m.plugins))
	m.mu.RUnlock()
	out := make(map[string]error, len(all))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() {
			err := s.health(ctx)
			mu.Lock()
			out[s.spec.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// Restarts returns how often a plugin has been restarted after its first start.
func (m *Manager) Restarts(plugin string) int {
	s, err := m.get(plugin)
	if err != nil {
		return 0
	}
	return s.restartCount()
}

// Plugins returns the names of the managed plugins, sorted.
func (m *Manager) Plugins() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.plugins))
}

// Reload applies a new configuration: plugins no longer listed are stopped, new ones
// started, and ones whose command, pin or environment changed are replaced make-before-break:
// the new process is started and configured with every account first, then takes all new
// calls while calls in flight finish on the old process, which is stopped after them (so a
// promotion or rollback fails no call). When the new process cannot start, the old one keeps
// serving and the error says why. Then every plugin's accounts are set to accounts[plugin] and
// each account's settings are sent again. Shadows are started, replaced or stopped as their
// specs say. The returned error joins every failure.
func (m *Manager) Reload(ctx context.Context, specs []Spec, accounts map[string]Accounts) error {
	want := map[string]Spec{}
	for _, sp := range specs {
		want[sp.Name] = sp
	}
	var errs []error
	m.mu.Lock()
	var remove []*supervised
	var removeShadows []*shadow
	for name, s := range m.plugins {
		if _, ok := want[name]; !ok {
			remove = append(remove, s)
			delete(m.plugins, name)
		}
	}
	for name, sh := range m.shadows {
		if sp, ok := want[name]; !ok || sp.Shadow == nil || !sameShadow(sh.spec, sp.Shadow.withDefaults()) {
			removeShadows = append(removeShadows, sh)
			delete(m.shadows, name)
		}
	}
	m.mu.Unlock()
	for _, sh := range removeShadows {
		if err := sh.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range remove {
		if err := s.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, sp := range specs {
		sh := m.shadowOf(sp.Name)
		s, err := m.get(sp.Name)
		switch {
		case err != nil: // new plugin
			err = m.startOne(ctx, sp, accounts[sp.Name], 0)
		case !sameSpec(s.spec, sp): // new binary, pin or environment: a fresh process
			err = m.replace(ctx, s, sp, accounts[sp.Name])
			if err == nil && sh != nil {
				sh.reset(sp.SHA256)
				sh.syncAccounts(accounts[sp.Name])
				sh.compareDescribe()
			}
		default:
			var after func(string, map[string]string, error)
			if sh != nil {
				sh.sup.cfgMu.Lock()
				for a := range sh.sup.accounts {
					if _, ok := accounts[sp.Name][a]; !ok {
						delete(sh.sup.accounts, a)
					}
				}
				sh.sup.cfgMu.Unlock()
				after = func(a string, set map[string]string, err error) {
					sh.mirrorConfigure(a, set, liveAnswer(struct{}{}, err, func(struct{}) answer { return configureAnswer() }))
				}
			}
			err = s.setAccounts(ctx, accounts[sp.Name], after)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if sp.Shadow != nil && sh == nil {
			if err := m.startShadow(ctx, sp, accounts[sp.Name]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// replace starts a new generation of old's plugin from sp with accounts, publishes it and
// retires old (its calls in flight finish first). When the new process cannot start, old keeps
// serving.
func (m *Manager) replace(ctx context.Context, old *supervised, sp Spec, accounts Accounts) error {
	ns := newSupervised(m, sp, accounts)
	ns.restarts = old.restartCount() + 1
	p, err := ns.launch(ctx)
	if err != nil {
		ns.cancel()
		close(ns.done)
		return fmt.Errorf("%w (the running build keeps serving)", err)
	}
	m.mu.Lock()
	if m.shutdown || m.plugins[sp.Name] != old {
		m.mu.Unlock()
		p.Kill()
		ns.cancel()
		close(ns.done)
		return fmt.Errorf("pluginhost: plugin %s changed while it was being replaced", sp.Name)
	}
	m.plugins[sp.Name] = ns
	m.mu.Unlock()
	go ns.run(p)
	m.log.Info("plugin replaced; calls in flight finish on the previous build", "plugin", sp.Name, "sha256", sp.SHA256, "previous_sha256", old.spec.SHA256)
	return old.retire(ctx)
}

// Shutdown stops every plugin (a graceful stop, then SIGKILL), bounded by ctx. Afterwards
// every handle fails with EUNAVAILABLE.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.shutdown = true
	all := slices.Collect(maps.Values(m.plugins))
	shadows := slices.Collect(maps.Values(m.shadows))
	m.mu.Unlock()
	errs := make([]error, len(all)+len(shadows))
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Go(func() { errs[i] = s.stop(ctx) })
	}
	for i, sh := range shadows {
		wg.Go(func() { errs[len(all)+i] = sh.stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
