package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/sdk"
)

// errDown marks the manager's own "plugin is not running" answers, which like boundary errors
// mean the call never reached a provider.
var errDown = errors.New("plugin is not running")

// errRetired marks a call refused by a plugin generation that a reload replaced: nothing was
// sent, and the handle repeats the call on the generation now serving.
var errRetired = errors.New("plugin generation was replaced")

// supervised is one plugin: its current process (nil while down), the accounts it must be
// configured with, and the goroutine (run) that restarts it.
type supervised struct {
	m    *Manager
	spec Spec
	sem  chan struct{} // bounds calls in flight

	ctx    context.Context // cancelled by stop; ends run and any launch in progress
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	// cfgMu serialises delivery of account settings: Configure and the reconfiguration of a
	// freshly started process, so that no account is missed by a restart.
	cfgMu    sync.Mutex
	accounts Accounts

	mu       sync.Mutex
	cur      *sdk.Plugin
	desc     *core.Description
	lastErr  error
	restarts int
	stopped  bool
	// retired is set when a reload replaced this generation: new calls go to its successor,
	// calls already in flight (inflight) finish here before the process is stopped.
	retired  bool
	inflight sync.WaitGroup

	// onStart, when set, runs after every successful restart by run (a shadow compares
	// descriptions); whoever calls launch for the first start calls it then.
	onStart func()
}

func newSupervised(m *Manager, spec Spec, accounts Accounts) *supervised {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervised{
		m: m, spec: spec, sem: make(chan struct{}, m.opts.MaxInFlight),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		accounts: Accounts{},
	}
	for a, set := range accounts {
		s.accounts[a] = maps.Clone(set)
	}
	return s
}

// launch starts a process, caches its description and configures every account before the
// process is published to callers.
func (s *supervised) launch(ctx context.Context) (*sdk.Plugin, error) {
	o := s.m.opts
	p, err := sdk.Launch(ctx, sdk.LaunchConfig{
		Name: s.spec.Name, Path: s.spec.Command, SHA256: s.spec.SHA256, Env: s.spec.Env,
		Logger: o.Logger, RuntimeDir: o.RuntimeDir, AutoMTLS: !o.DisableAutoMTLS, LogLevel: o.LogLevel,
		CallTimeout: o.CallTimeout, StartTimeout: o.StartTimeout,
	})
	if err != nil {
		return nil, s.failed(fmt.Errorf("pluginhost: %w", err))
	}
	prov := p.Provider()
	callCtx, cancel := context.WithTimeout(ctx, o.CallTimeout)
	defer cancel()
	d, err := prov.Describe(callCtx)
	if err != nil {
		p.Kill()
		return nil, s.failed(fmt.Errorf("pluginhost: plugin %s: describe: %w", s.spec.Name, err))
	}

	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	for account, settings := range s.accounts {
		err := prov.Configure(callCtx, &core.ConfigureRequest{Account: account, Settings: settings})
		if err != nil && sdk.IsBoundaryError(err) {
			p.Kill()
			return nil, s.failed(fmt.Errorf("pluginhost: plugin %s: configure account %s: %w", s.spec.Name, account, err))
		}
		if err != nil {
			// The provider now rejects settings it accepted before (a new binary?): the other
			// accounts still work, this one fails its calls with the provider's own error.
			s.m.log.Error("plugin rejects an account's settings after restart", "plugin", s.spec.Name, "account", account, "error", err)
		}
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		p.Kill()
		return nil, s.failed(fmt.Errorf("pluginhost: plugin %s: stopped while starting", s.spec.Name))
	}
	s.cur, s.desc, s.lastErr = p, d, nil
	s.mu.Unlock()
	s.m.log.Info("plugin started", "plugin", s.spec.Name, "pid", p.Pid(), "version", d.Version, "protocol", p.NegotiatedVersion())
	return p, nil
}

func (s *supervised) failed(err error) error {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	return err
}

// run supervises the plugin until stop: when the process exits it is restarted after a
// backoff that doubles (BackoffMin to BackoffMax) while starts keep failing or processes keep
// dying young. It is the only goroutine that starts processes after the first, which makes
// restarts single-flight.
func (s *supervised) run(p *sdk.Plugin) {
	defer close(s.done)
	o := s.m.opts
	backoff := o.BackoffMin
	for {
		if p != nil {
			up := time.Now()
			select {
			case <-p.Done():
			case <-s.ctx.Done():
				return
			}
			s.mu.Lock()
			if s.cur == p {
				s.cur = nil
			}
			s.lastErr = fmt.Errorf("plugin %s (pid %d) exited", s.spec.Name, p.Pid())
			s.mu.Unlock()
			p.Kill() // reaps go-plugin's goroutines and the socket directory
			if time.Since(up) >= o.BackoffMax {
				backoff = o.BackoffMin
			}
			s.m.log.Warn("plugin exited; restarting", "plugin", s.spec.Name, "pid", p.Pid(), "after", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, o.BackoffMax)
		np, err := s.launch(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.m.log.Error("plugin restart failed", "plugin", s.spec.Name, "error", err, "next_in", backoff)
			p = nil
			continue
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		if s.onStart != nil {
			s.onStart()
		}
		p = np
	}
}

// enter counts a call in flight; false once the generation is retired.
func (s *supervised) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return false
	}
	s.inflight.Add(1)
	return true
}

// retire takes this generation out of service after a reload published its successor: calls in
// flight finish on it (bounded by ctx), then it is stopped.
func (s *supervised) retire(ctx context.Context) error {
	s.mu.Lock()
	s.retired = true
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() { s.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		s.m.log.Warn("stopping a replaced plugin with calls still in flight", "plugin", s.spec.Name, "error", ctx.Err())
	}
	return s.stop(ctx)
}

// stop ends supervision and stops the process, bounded by ctx.
func (s *supervised) stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.lastErr = fmt.Errorf("plugin %s is stopped", s.spec.Name)
	s.mu.Unlock()
	s.cancel()
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = fmt.Errorf("pluginhost: plugin %s: supervisor did not stop: %w", s.spec.Name, ctx.Err())
	}
	s.mu.Lock()
	p := s.cur
	s.cur = nil
	s.mu.Unlock()
	if p != nil {
		if kerr := p.KillContext(ctx); kerr != nil {
			err = errors.Join(err, kerr)
		}
	}
	return err
}

// current returns the running process or the EUNAVAILABLE error callers get while it is down.
func (s *supervised) current() (*sdk.Plugin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && !s.cur.Exited() {
		return s.cur, nil
	}
	cause := s.lastErr
	if cause == nil {
		cause = errDown
	}
	return nil, core.WrapError(core.EUNAVAILABLE, fmt.Errorf("%w: %w", errDown, cause), "provider plugin %s is not running", s.spec.Name)
}

// notDelivered reports whether err means the call never reached the provider (or may not
// have): the plugin was down, or the boundary failed.
func notDelivered(err error) bool {
	return errors.Is(err, errDown) || sdk.IsBoundaryError(err)
}

// call runs fn against the current process with a deadline, a slot among MaxInFlight, and for
// calls safe to repeat one retry when the boundary failed with EUNAVAILABLE (the process died
// under the call, or the connection broke) and a live process is there to take it.
func (s *supervised) call(ctx context.Context, method string, safe bool, fn func(context.Context, core.Provider) error) error {
	if !s.enter() {
		return core.WrapError(core.EUNAVAILABLE, errRetired, "provider plugin %s is being replaced", s.spec.Name)
	}
	defer s.inflight.Done()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.m.opts.CallTimeout)
		defer cancel()
	}
	select {
	case s.sem <- struct{}{}:
	default:
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return core.WrapError(core.EUNAVAILABLE, ctx.Err(), "provider plugin %s is busy: %d calls in flight", s.spec.Name, cap(s.sem))
		}
	}
	defer func() { <-s.sem }()
	p, err := s.current()
	if err != nil {
		return err
	}
	err = fn(ctx, p.Provider())
	if err == nil || !safe || !sdk.IsBoundaryError(err) || core.ErrorCode(err) != core.EUNAVAILABLE || ctx.Err() != nil {
		return err
	}
	p2, derr := s.current()
	if derr != nil {
		return derr
	}
	s.m.log.Debug("retrying a call after a boundary failure", "plugin", s.spec.Name, "method", method, "error", err)
	return fn(ctx, p2.Provider())
}

func (s *supervised) configure(ctx context.Context, account string, settings map[string]string) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	prev, had := s.accounts[account]
	s.accounts[account] = maps.Clone(settings)
	err := s.call(ctx, "Configure", true, func(ctx context.Context, p core.Provider) error {
		return p.Configure(ctx, &core.ConfigureRequest{Account: account, Settings: settings})
	})
	if err != nil && !notDelivered(err) {
		if had {
			s.accounts[account] = prev
		} else {
			delete(s.accounts, account)
		}
	}
	return err
}

// setAccounts replaces the remembered accounts and sends each one's settings to the running
// process (Reload with an unchanged spec). after, when set, sees each account's outcome.
func (s *supervised) setAccounts(ctx context.Context, accounts Accounts, after func(account string, settings map[string]string, err error)) error {
	s.cfgMu.Lock()
	s.accounts = Accounts{}
	for a, set := range accounts {
		s.accounts[a] = maps.Clone(set)
	}
	s.cfgMu.Unlock()
	var errs []error
	for a, set := range accounts {
		err := s.configure(ctx, a, set)
		if after != nil {
			after(a, set, err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pluginhost: plugin %s: account %s: %w", s.spec.Name, a, err))
		}
	}
	return errors.Join(errs...)
}

func (s *supervised) describe(context.Context) (*core.Description, error) {
	s.mu.Lock()
	d := s.desc
	s.mu.Unlock()
	if d == nil {
		_, err := s.current()
		if err == nil {
			err = core.Errorf(core.EUNAVAILABLE, "provider plugin %s has not described itself yet", s.spec.Name)
		}
		return nil, err
	}
	c := *d
	return &c, nil
}

func (s *supervised) health(ctx context.Context) error {
	p, err := s.current()
	if err != nil {
		return err
	}
	return p.Ping(ctx)
}

func (s *supervised) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

func sameSpec(a, b Spec) bool {
	return a.Name == b.Name && a.Command == b.Command && a.SHA256 == b.SHA256 && maps.Equal(a.Env, b.Env)
}
