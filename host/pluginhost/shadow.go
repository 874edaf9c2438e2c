package pluginhost

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
)

// The call types, as shadow reports and metrics name them.
const (
	MethodDescribe           = "Describe"
	MethodConfigure          = "Configure"
	MethodCreatePayment      = "CreatePayment"
	MethodVerifyClientResult = "VerifyClientResult"
	MethodParseNotification  = "ParseNotification"
)

// shadowMethods are the calls a shadow receives, in report order. Every other call (queries,
// refunds, close, settlement) has an effect at the gateway or reads its state and never goes
// to a shadow.
var shadowMethods = []string{MethodDescribe, MethodConfigure, MethodCreatePayment, MethodVerifyClientResult, MethodParseNotification}

// Outcomes of one call as seen by a shadow run.
const (
	// OutcomeSame: both answers agree on every compared field.
	OutcomeSame = "same"
	// OutcomeDifferent: at least one compared field differs; a sample is kept.
	OutcomeDifferent = "different"
	// OutcomeDropped: MaxInFlight shadow calls were already running; the call was not sent.
	OutcomeDropped = "dropped"
	// OutcomeSkipped: nothing to compare (the live call failed at the plugin boundary, or the
	// shadow has not yet been handed the account's settings).
	OutcomeSkipped = "skipped"
	// OutcomeShadowFailed: the shadow did not answer (down, crashed, past its deadline).
	OutcomeShadowFailed = "shadow_failed"
)

var outcomes = [...]string{OutcomeSame, OutcomeDifferent, OutcomeDropped, OutcomeSkipped, OutcomeShadowFailed}

// Shadow defaults.
const (
	DefaultShadowTimeout     = 10 * time.Second
	DefaultShadowMaxInFlight = 16
	// ShadowSampleLimit bounds the differences kept per shadow run (the newest are kept).
	ShadowSampleLimit = 32
)

// ShadowSpec is a candidate build of a plugin run beside the live one: its own binary, pin and
// environment, the fields that legitimately differ, and the bounds of its calls.
type ShadowSpec struct {
	Command string
	SHA256  string
	Env     map[string]string
	// Ignore names fields ("<Method>.<field>", see ShadowFields) that are not compared, besides
	// AlwaysIgnored.
	Ignore []string
	// Timeout is the deadline of each shadow call (default DefaultShadowTimeout), counted from
	// when the live answer was returned.
	Timeout time.Duration
	// MaxInFlight bounds the shadow calls running at once (default DefaultShadowMaxInFlight);
	// a call beyond it is dropped and counted, never queued.
	MaxInFlight int
}

func (s *ShadowSpec) withDefaults() ShadowSpec {
	c := *s
	if c.Timeout <= 0 {
		c.Timeout = DefaultShadowTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultShadowMaxInFlight
	}
	return c
}

func sameShadow(a, b ShadowSpec) bool {
	return a.Command == b.Command && a.SHA256 == b.SHA256 && maps.Equal(a.Env, b.Env) &&
		slices.Equal(a.Ignore, b.Ignore) && a.Timeout == b.Timeout && a.MaxInFlight == b.MaxInFlight
}

// ShadowReport is what a shadow run has seen since it (or the live build beside it) started.
type ShadowReport struct {
	Plugin      string         `json:"plugin"`
	Live        ShadowBuild    `json:"live"`
	Shadow      ShadowBuild    `json:"shadow"`
	Since       time.Time      `json:"since"`
	Ignored     []string       `json:"ignored"`
	Calls       []ShadowCalls  `json:"calls"`
	Samples     []ShadowSample `json:"samples"`
	SampleLimit int            `json:"sample_limit"`
}

// ShadowBuild is one side of a shadow run.
type ShadowBuild struct {
	SHA256  string `json:"sha256"`
	Version string `json:"version"`
	Running bool   `json:"running"`
}

// ShadowCalls counts one call type's outcomes.
type ShadowCalls struct {
	Method       string `json:"method"`
	Same         int64  `json:"same"`
	Different    int64  `json:"different"`
	Dropped      int64  `json:"dropped"`
	Skipped      int64  `json:"skipped"`
	ShadowFailed int64  `json:"shadow_failed"`
}

// ShadowSample is one difference: which request (by fingerprint only), which fields, and both
// answers with the account's secret settings redacted.
type ShadowSample struct {
	At      time.Time         `json:"at"`
	Method  string            `json:"method"`
	Account string            `json:"account,omitempty"`
	Request string            `json:"request"`
	Fields  []string          `json:"fields"`
	Live    map[string]string `json:"live"`
	Shadow  map[string]string `json:"shadow"`
}

// shadow is one shadow run: a supervised process (restarted like a live one) that receives
// copies of the calls without effect, after their live answers.
type shadow struct {
	m      *Manager
	name   string // the live plugin's name
	spec   ShadowSpec
	sup    *supervised
	sem    chan struct{}
	ignore map[string]map[string]bool // method -> fields not compared
	rules  []string                   // the same as written, for the report

	ctx    context.Context // cancelled by stop: ends every shadow call
	cancel context.CancelFunc
	calls  sync.WaitGroup

	mu       sync.Mutex
	stopped  bool
	pending  map[string]int // account -> settings on their way to the shadow
	liveSHA  string
	since    time.Time
	counts   map[string]*[len(outcomes)]int64
	samples  []ShadowSample // ring, ShadowSampleLimit
	nextSamp int
}

func newShadow(m *Manager, name, liveSHA string, spec ShadowSpec, accounts Accounts) (*shadow, error) {
	spec = spec.withDefaults()
	if spec.Command == "" {
		return nil, fmt.Errorf("pluginhost: plugin %s: the shadow needs a command", name)
	}
	if err := checkIgnore(spec.Ignore); err != nil {
		return nil, fmt.Errorf("pluginhost: plugin %s: %w", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sh := &shadow{
		m: m, name: name, spec: spec, sem: make(chan struct{}, spec.MaxInFlight), ignore: map[string]map[string]bool{},
		ctx: ctx, cancel: cancel, pending: map[string]int{},
	}
	for _, rule := range slices.Concat(AlwaysIgnored, spec.Ignore) {
		m, f, _ := strings.Cut(rule, ".")
		if sh.ignore[m] == nil {
			sh.ignore[m] = map[string]bool{}
		}
		sh.ignore[m][f] = true
		if !slices.Contains(sh.rules, rule) {
			sh.rules = append(sh.rules, rule)
		}
	}
	slices.Sort(sh.rules)
	sh.reset(liveSHA)
	sh.sup = newSupervised(m, Spec{Name: name + ".shadow", Command: spec.Command, SHA256: spec.SHA256, Env: spec.Env}, accounts)
	sh.sup.onStart = sh.compareDescribe
	return sh, nil
}

// start launches the shadow's first process and supervises it; a failed start is retried with
// backoff like a live plugin's.
func (sh *shadow) start(ctx context.Context) error {
	p, err := sh.sup.launch(ctx)
	go sh.sup.run(p)
	if err == nil {
		sh.compareDescribe()
	}
	return err
}

// reset starts counting afresh, for a new pair of builds.
func (sh *shadow) reset(liveSHA string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.liveSHA, sh.since = liveSHA, time.Now().UTC()
	sh.counts = map[string]*[len(outcomes)]int64{}
	for _, m := range shadowMethods {
		sh.counts[m] = new([len(outcomes)]int64)
	}
	sh.samples, sh.nextSamp = nil, 0
}

// stop ends the shadow's calls and process, bounded by ctx.
func (sh *shadow) stop(ctx context.Context) error {
	sh.mu.Lock()
	sh.stopped = true
	sh.mu.Unlock()
	sh.cancel()
	err := sh.sup.stop(ctx)
	done := make(chan struct{})
	go func() { sh.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("pluginhost: plugin %s: shadow calls did not end: %w", sh.name, ctx.Err()))
	}
	return err
}

// count records one outcome, in the report and in the lifetime totals behind the metrics.
func (sh *shadow) count(method, outcome string) {
	i := slices.Index(outcomes[:], outcome)
	sh.mu.Lock()
	if c := sh.counts[method]; c != nil {
		c[i]++
	}
	sh.mu.Unlock()
	sh.m.countShadow(sh.name, method, outcome)
}

// begin reserves a slot for one shadow call of account's; false (already counted) when the
// call is not to be sent.
func (sh *shadow) begin(method, account string, bounded bool) bool {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return false
	}
	if account != "" && sh.pending[account] > 0 && method != MethodConfigure {
		sh.mu.Unlock()
		sh.count(method, OutcomeSkipped)
		return false
	}
	if bounded {
		select {
		case sh.sem <- struct{}{}:
		default:
			sh.mu.Unlock()
			sh.count(method, OutcomeDropped)
			return false
		}
	}
	sh.calls.Add(1)
	sh.mu.Unlock()
	return true
}

// liveAnswer turns the live call's outcome into the answer to compare; nil when the call
// failed at the boundary (liveFailed).
func liveAnswer[T any](res T, err error, of func(T) answer) answer {
	if err != nil {
		if liveFailed(err) {
			return nil
		}
		return errorAnswer(err)
	}
	return of(res)
}

// shadowCall is one call prepared for the shadow: the request (kept for its fingerprint), the
// live answer, and the call itself.
type shadowCall struct {
	req  any
	live answer
	call func(context.Context, core.Provider) (answer, error)
}

// liveFailed reports whether the live call failed at the boundary (or the plugin was down):
// there is no provider answer to compare then.
func liveFailed(err error) bool {
	return err != nil && (notDelivered(err) || errors.Is(err, errRetired))
}

// mirror sends one call without effect to the shadow in the background, after the live
// answer: at most MaxInFlight at once (else dropped), each with the shadow's own deadline.
// Nothing of it can delay or fail the live call: the caller pays for a slot check and, only
// when the call is sent, for prepare (which snapshots the live answer and copies the request)
// and a goroutine start.
func (sh *shadow) mirror(method, account string, liveErr error, prepare func() shadowCall) {
	if liveFailed(liveErr) {
		sh.count(method, OutcomeSkipped)
		return
	}
	if _, err := sh.sup.current(); err != nil {
		sh.count(method, OutcomeShadowFailed)
		return
	}
	if !sh.begin(method, account, true) {
		return
	}
	c := prepare()
	go func() {
		defer func() { <-sh.sem; sh.calls.Done() }()
		ctx, cancel := context.WithTimeout(sh.ctx, sh.spec.Timeout)
		defer cancel()
		p, err := sh.sup.current()
		var got answer
		if err == nil {
			got, err = c.call(ctx, p.Provider())
		}
		if err != nil {
			if notDelivered(err) || ctx.Err() != nil {
				sh.count(method, OutcomeShadowFailed)
				sh.m.log.Debug("shadow call failed", "plugin", sh.name, "method", method, "error", err)
				return
			}
			got = errorAnswer(err)
		}
		sh.compare(method, account, c.req, c.live, got)
	}()
}

// mirrorConfigure hands an account's settings to the shadow in the background and compares its
// verdict with the live one's. Settings are never dropped (the shadow must stay configured like
// the live build); until they are delivered, that account's calls are not sent to the shadow.
func (sh *shadow) mirrorConfigure(account string, settings map[string]string, live answer) {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		return
	}
	sh.pending[account]++
	sh.mu.Unlock()
	done := func() {
		sh.mu.Lock()
		sh.pending[account]--
		if sh.pending[account] <= 0 {
			delete(sh.pending, account)
		}
		sh.mu.Unlock()
	}
	if !sh.begin(MethodConfigure, account, false) {
		done()
		return
	}
	settings = maps.Clone(settings)
	go func() {
		defer sh.calls.Done()
		defer done()
		ctx, cancel := context.WithTimeout(sh.ctx, sh.spec.Timeout)
		defer cancel()
		err := sh.sup.configure(ctx, account, settings)
		switch {
		case err != nil && (notDelivered(err) || ctx.Err() != nil):
			// Remembered: a restarted shadow is configured before it serves.
			sh.count(MethodConfigure, OutcomeShadowFailed)
		case live == nil:
			sh.count(MethodConfigure, OutcomeSkipped)
		case err != nil:
			sh.compare(MethodConfigure, account, struct{ Account string }{account}, live, errorAnswer(err))
		default:
			sh.compare(MethodConfigure, account, struct{ Account string }{account}, live, configureAnswer())
		}
	}()
}

// syncAccounts makes the shadow's accounts those of a freshly started live build: remembered at
// once, delivered in the background (not compared: the live build's own verdicts were given at
// its start).
func (sh *shadow) syncAccounts(accounts Accounts) {
	sh.sup.cfgMu.Lock()
	sh.sup.accounts = Accounts{}
	for a, set := range accounts {
		sh.sup.accounts[a] = maps.Clone(set)
	}
	sh.sup.cfgMu.Unlock()
	for a, set := range accounts {
		sh.mirrorConfigure(a, set, nil)
	}
}

// compareDescribe compares the cached descriptions of both builds; the shadow's supervisor calls
// it after every start of the shadow, the manager after a new live build.
func (sh *shadow) compareDescribe() {
	live, err := sh.m.get(sh.name)
	if err != nil {
		return
	}
	ld, lerr := live.describe(context.Background())
	sd, serr := sh.sup.describe(context.Background())
	switch {
	case lerr != nil:
		sh.count(MethodDescribe, OutcomeSkipped)
	case serr != nil:
		sh.count(MethodDescribe, OutcomeShadowFailed)
	default:
		sh.compare(MethodDescribe, "", struct{}{}, describeAnswer(ld), describeAnswer(sd))
	}
}

func (sh *shadow) compare(method, account string, req any, live, got answer) {
	fields := diff(live, got, sh.ignore[method])
	if len(fields) == 0 {
		sh.count(method, OutcomeSame)
		return
	}
	secrets := sh.secrets(account)
	s := ShadowSample{
		At: time.Now().UTC(), Method: method, Account: account, Request: fingerprint(method, req), Fields: fields,
		Live: redact(live, secrets), Shadow: redact(got, secrets),
	}
	sh.mu.Lock()
	if len(sh.samples) < ShadowSampleLimit {
		sh.samples = append(sh.samples, s)
	} else {
		sh.samples[sh.nextSamp] = s
	}
	sh.nextSamp = (sh.nextSamp + 1) % ShadowSampleLimit
	sh.mu.Unlock()
	sh.count(method, OutcomeDifferent)
	sh.m.log.Warn("shadow answer differs", "plugin", sh.name, "method", method, "account", account, "fields", fields)
}

// secrets returns the values of account's secret settings (as either build's description
// declares them; every value when neither description is known).
func (sh *shadow) secrets(account string) []string {
	secret := map[string]bool{}
	known := false
	for _, s := range []*supervised{sh.sup, sh.live()} {
		if s == nil {
			continue
		}
		if d, err := s.describe(context.Background()); err == nil {
			known = true
			for _, st := range d.Settings {
				if st.Secret {
					secret[st.Name] = true
				}
			}
		}
	}
	sh.sup.cfgMu.Lock()
	defer sh.sup.cfgMu.Unlock()
	var out []string
	for name, v := range sh.sup.accounts[account] {
		if !known || secret[name] {
			out = append(out, v)
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func (sh *shadow) live() *supervised {
	s, err := sh.m.get(sh.name)
	if err != nil {
		return nil
	}
	return s
}

func (sh *shadow) report() *ShadowReport {
	r := &ShadowReport{Plugin: sh.name, SampleLimit: ShadowSampleLimit}
	r.Ignored = slices.Clone(sh.rules)
	if s := sh.live(); s != nil {
		r.Live = build(s)
	}
	r.Shadow = build(sh.sup)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r.Since = sh.since
	for _, m := range shadowMethods {
		c := sh.counts[m]
		r.Calls = append(r.Calls, ShadowCalls{Method: m, Same: c[0], Different: c[1], Dropped: c[2], Skipped: c[3], ShadowFailed: c[4]})
	}
	// Newest first.
	n := len(sh.samples)
	r.Samples = make([]ShadowSample, 0, n)
	for i := range n {
		r.Samples = append(r.Samples, sh.samples[(sh.nextSamp-1-i+ShadowSampleLimit)%ShadowSampleLimit])
	}
	return r
}

func build(s *supervised) ShadowBuild {
	b := ShadowBuild{SHA256: s.spec.SHA256}
	if d, err := s.describe(context.Background()); err == nil {
		b.Version = d.Version
	}
	_, err := s.current()
	b.Running = err == nil
	return b
}

// ShadowReport returns what plugin's shadow run has seen. It is ENOTFOUND when there is no such
// plugin or it has no shadow.
func (m *Manager) ShadowReport(plugin string) (*ShadowReport, error) {
	if _, err := m.get(plugin); err != nil {
		return nil, err
	}
	sh := m.shadowOf(plugin)
	if sh == nil {
		return nil, core.Errorf(core.ENOTFOUND, "plugin %s has no shadow", plugin)
	}
	return sh.report(), nil
}

func (m *Manager) shadowOf(plugin string) *shadow {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.shadows[plugin]
}

type shadowKey struct{ plugin, method, outcome string }

func (m *Manager) countShadow(plugin, method, outcome string) {
	m.totalsMu.Lock()
	m.totals[shadowKey{plugin, method, outcome}]++
	m.totalsMu.Unlock()
}

// ShadowTotals calls yield with every shadow outcome counted since the manager was created
// (not reset when builds change), for the paymux_plugin_shadow_calls_total metric.
func (m *Manager) ShadowTotals(yield func(plugin, method, outcome string, n int64)) {
	m.totalsMu.Lock()
	keys := slices.Collect(maps.Keys(m.totals))
	vals := maps.Clone(m.totals)
	m.totalsMu.Unlock()
	slices.SortFunc(keys, func(a, b shadowKey) int {
		if a.plugin != b.plugin {
			return cmp.Compare(a.plugin, b.plugin)
		}
		if a.method != b.method {
			return cmp.Compare(a.method, b.method)
		}
		return cmp.Compare(a.outcome, b.outcome)
	})
	for _, k := range keys {
		yield(k.plugin, k.method, k.outcome, vals[k])
	}
}
