// Package bench is paymux's end-to-end load generator and the harness its fault suite shares:
// it starts the mapi simulator and a paymux host (in process or as a child process) on
// loopback, drives the REST API and /notify with bounded scenarios (create, notify, mixed),
// and reports throughput, latency percentiles, the peak memory of the host and its plugins and
// the ratio to bare crypto/rsa measured on the same cores in the same run (the paired method
// of the design's benchmarking.md). `paymux bench` is its command line.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

// Scenarios.
const (
	ScenarioCreate = "create" // app payments, RSA2-2048 order strings, through POST /v1/payments
	ScenarioNotify = "notify" // a storm of verified notifications for existing payments, duplicates mixed in
	ScenarioMixed  = "mixed"  // both at once: a quarter of the workers create, the rest notify
)

// Options configure one bench run. N and Duration both bound it.
type Options struct {
	Scenario    string
	N           int
	Duration    time.Duration
	Concurrency int
	// Payments is how many payments the notify and mixed scenarios create before the storm
	// (untimed); 0 means min(N/4, 500), at least 1.
	Payments int
	// DuplicateEvery makes every k-th notification a re-delivery of an earlier one; 0 means 5
	// (20% duplicates).
	DuplicateEvery int
	// Rounds splits the scenario into this many slices, each paired with the bare RSA
	// measurements right before and after it; 0 means 3.
	Rounds int
	// BaselineDuration is how long each bare RSA measurement (sign, then verify) runs; 0 means 1s.
	BaselineDuration time.Duration
	// Preload grows the store to this many payments (with their refunds, events and inbox
	// entries; see Preload) before the host starts; 0: the store is used as it is.
	Preload int64
	Stack   StackOptions
	// Progress receives one line per phase; nil discards.
	Progress io.Writer
}

// Report is the outcome of a run. Durations are nanoseconds in JSON.
type Report struct {
	Scenario    string        `json:"scenario"`
	Store       string        `json:"store"`
	N           int           `json:"n"`
	MaxDuration time.Duration `json:"max_duration_ns"`
	Concurrency int           `json:"concurrency"`
	HostMode    string        `json:"host_mode"` // child process or in process
	Machine     Machine       `json:"machine"`
	// Create and Notify are the scenario's phases (nil when not run).
	Create *LoadResult `json:"create,omitempty"`
	Notify *LoadResult `json:"notify,omitempty"`
	// NotifyDuplicates is how many of the notifications were re-deliveries.
	NotifyDuplicates int `json:"notify_duplicates,omitempty"`
	// Baselines are the bare RSA measurements, one before each round and one after the last.
	Baselines []Baseline `json:"baselines"`
	Rounds    []Round    `json:"rounds"`
	// CreateVsSign is the median over the rounds of create throughput over bare signing
	// throughput; NotifyVsVerify the same for notifications over bare verifying.
	CreateVsSign   float64 `json:"create_vs_bare_sign,omitempty"`
	NotifyVsVerify float64 `json:"notify_vs_bare_verify,omitempty"`
	// CPU is the CPU time each process used during the scenario (not setup, not baselines):
	// where the cores went.
	CPU CPUSplit `json:"cpu"`
	// Budget is the CPU per operation and process (create and notify scenarios).
	Budget  *Budget   `json:"cpu_budget,omitempty"`
	Host    ProcMem   `json:"host"`
	Plugins []ProcMem `json:"plugins"`
	Targets []Target  `json:"targets"`
	// Preload is what the preload did (nil without -preload).
	Preload *PreloadResult `json:"preload,omitempty"`
}

// Round is one paired slice of the scenario.
type Round struct {
	CreatePerSecond float64 `json:"create_per_second,omitempty"`
	NotifyPerSecond float64 `json:"notify_per_second,omitempty"`
	SignPerSecond   float64 `json:"bare_sign_per_second"`   // mean of the baselines around the slice
	VerifyPerSecond float64 `json:"bare_verify_per_second"` // same
	CreateVsSign    float64 `json:"create_vs_bare_sign,omitempty"`
	NotifyVsVerify  float64 `json:"notify_vs_bare_verify,omitempty"`
	// CPU per operation of the slice (create or notify scenario; zero for mixed) and the bare
	// signature's and verification's CPU, the mean of the baselines around it.
	HostCPU      time.Duration `json:"host_cpu_per_op_ns,omitempty"`
	PluginCPU    time.Duration `json:"plugin_cpu_per_op_ns,omitempty"`
	GeneratorCPU time.Duration `json:"generator_cpu_per_op_ns,omitempty"`
	SignCPU      time.Duration `json:"bare_sign_cpu_ns,omitempty"`
	VerifyCPU    time.Duration `json:"bare_verify_cpu_ns,omitempty"`
}

// Budget is the CPU each process spends per operation (create or notification) in the
// scenario, and the paired ratios of issue 20 built from it: each is computed per round, against
// the bare RSA CPU measured around that round, and the median over the rounds is reported. It
// is absent for the mixed scenario, whose CPU cannot be split between its two operations.
type Budget struct {
	Operation string `json:"operation"` // "create" or "notification"
	// HostCPU, PluginCPU and GeneratorCPU are per operation, over the whole scenario.
	HostCPU      time.Duration `json:"host_cpu_per_op_ns"`
	PluginCPU    time.Duration `json:"plugin_cpu_per_op_ns"`
	GeneratorCPU time.Duration `json:"generator_cpu_per_op_ns"`
	// SignCPU and VerifyCPU are the median CPU of one bare RSA-2048 signature and verification
	// over the run's baselines.
	SignCPU   time.Duration `json:"bare_sign_cpu_ns"`
	VerifyCPU time.Duration `json:"bare_verify_cpu_ns"`
	// HostVsSign is the host's CPU per operation over a bare signature's CPU (medians of the
	// per-round ratios); PluginVsSign the plugin's; SignVsHostPlugin is issue 20's "bare
	// signature CPU / (host + plugin CPU per create)"; HostVsVerify and PluginVsVerify divide
	// by a bare verification instead.
	HostVsSign       float64 `json:"host_vs_bare_sign"`
	PluginVsSign     float64 `json:"plugin_vs_bare_sign"`
	SignVsHostPlugin float64 `json:"bare_sign_vs_host_plus_plugin"`
	HostVsVerify     float64 `json:"host_vs_bare_verify"`
	PluginVsVerify   float64 `json:"plugin_vs_bare_verify"`
}

// budget computes the CPU budget from the rounds and the scenario's CPU split (nil when the
// CPU could not be attributed to one operation).
func budget(scenario string, ops int, cpu CPUSplit, rounds []Round, baselines []Baseline) *Budget {
	if ops <= 0 || scenario == ScenarioMixed {
		return nil
	}
	b := &Budget{Operation: "create", HostCPU: perOp(cpu.Host, ops), PluginCPU: perOp(cpu.Plugins, ops), GeneratorCPU: perOp(cpu.Generator, ops)}
	if scenario == ScenarioNotify {
		b.Operation = "notification"
	}
	var sc, vc []float64
	for _, x := range baselines {
		sc = append(sc, float64(x.SignCPU))
		vc = append(vc, float64(x.VerifyCPU))
	}
	b.SignCPU, b.VerifyCPU = time.Duration(median(sc)), time.Duration(median(vc))
	ratio := func(num, den func(Round) time.Duration) float64 {
		return medianOf(rounds, func(x Round) float64 {
			if den(x) <= 0 {
				return 0
			}
			return float64(num(x)) / float64(den(x))
		})
	}
	host := func(x Round) time.Duration { return x.HostCPU }
	plugin := func(x Round) time.Duration { return x.PluginCPU }
	sign := func(x Round) time.Duration { return x.SignCPU }
	verify := func(x Round) time.Duration { return x.VerifyCPU }
	b.HostVsSign, b.PluginVsSign = ratio(host, sign), ratio(plugin, sign)
	b.SignVsHostPlugin = ratio(sign, func(x Round) time.Duration { return x.HostCPU + x.PluginCPU })
	b.HostVsVerify, b.PluginVsVerify = ratio(host, verify), ratio(plugin, verify)
	return b
}

func medianOf(rs []Round, f func(Round) float64) float64 {
	v := make([]float64, len(rs))
	for i, x := range rs {
		v[i] = f(x)
	}
	return median(v)
}

// median returns the median of v (sorting it; 0 for none).
func median(v []float64) float64 {
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// CPUSplit is CPU time per process during the scenario.
type CPUSplit struct {
	Host      time.Duration `json:"host_ns"`
	Plugins   time.Duration `json:"plugins_ns"`
	Generator time.Duration `json:"generator_ns"` // this process: clients (and the host when in process)
	Wall      time.Duration `json:"wall_ns"`
}

func cpuNow(st *Stack) (host, plugins, self time.Duration) {
	host = CPUTime(st.HostPID())
	for _, pid := range st.PluginPIDs() {
		plugins += CPUTime(pid)
	}
	if st.HostPID() != os.Getpid() {
		self = CPUTime(os.Getpid())
	}
	return
}

// Machine describes where the run happened.
type Machine struct {
	GOOS, GOARCH string
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model"`
	GoVersion    string `json:"go_version"`
	LoadAvg      string `json:"loadavg_before"`
}

// Target is one of the goals of issues 10 and 20 and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

func machine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func (o *Options) defaults() error {
	switch o.Scenario {
	case ScenarioCreate, ScenarioNotify, ScenarioMixed:
	default:
		return fmt.Errorf("unknown scenario %q (create, notify or mixed)", o.Scenario)
	}
	if o.N < 1 {
		return errors.New("-n must be at least 1")
	}
	if o.Duration <= 0 {
		return errors.New("-duration must be positive")
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Payments <= 0 {
		o.Payments = max(1, min(o.N/4, 500))
	}
	if o.DuplicateEvery <= 0 {
		o.DuplicateEvery = 5
	}
	if o.BaselineDuration <= 0 {
		o.BaselineDuration = time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	o.Rounds = min(o.Rounds, o.N)
	return nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Run starts a stack, runs the scenario between two bare RSA measurements and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	key, err := signing.ParsePrivateKey(mapisim.TestMerchantPrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	r := &Report{Scenario: o.Scenario, Store: o.Stack.Store, N: o.N, MaxDuration: o.Duration, Concurrency: o.Concurrency, Machine: machine()}
	if r.Store == "" {
		r.Store = "sqlite"
	}
	r.HostMode = "in process (host memory includes the load generator)"
	switch {
	case len(o.Stack.ServeArgv) > 0:
		r.HostMode = "child process: " + strings.Join(o.Stack.ServeArgv, " ")
	case len(o.Stack.HostArgv) > 0:
		r.HostMode = "child process: " + strings.Join(o.Stack.HostArgv, " ")
	}
	if o.Preload > 0 {
		dsn := o.Stack.DSN
		if dsn == "" && r.Store == "sqlite" {
			dsn = filepath.Join(o.Stack.WorkDir, "paymux.db") // StartStack's default
		}
		o.logf("preloading the store to %d payments (untimed)", o.Preload)
		res, err := Preload(ctx, r.Store, dsn, o.Preload, func(line string) { o.logf("%s", line) })
		if err != nil {
			return nil, fmt.Errorf("bench: preload: %w", err)
		}
		r.Preload = &res
	}
	o.logf("starting simulator and host (%s, store %s)", r.HostMode, r.Store)
	st, err := StartStack(ctx, o.Stack)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)

	var payments []*Payment
	var forms [][]byte
	if o.Scenario != ScenarioCreate {
		o.logf("creating %d payments and signing %d notifications (untimed)", o.Payments, o.N)
		payments, err = createPayments(ctx, st.Client, run, o.Payments, o.Concurrency)
		if err != nil {
			return nil, err
		}
		forms, r.NotifyDuplicates, err = buildStorm(ctx, payments, run, o.N, o.DuplicateEvery)
		if err != nil {
			return nil, err
		}
	}

	createOp := func(ctx context.Context, i int) error {
		p, err := st.Client.CreatePayment(ctx, fmt.Sprintf("b%s-c%d", run, i), 1000+int64(i%1000))
		if err != nil {
			return err
		}
		if p.NextAction == nil || p.NextAction.Value == "" {
			return fmt.Errorf("payment %s has no order string", p.ID)
		}
		return nil
	}
	notifyOp := func(ctx context.Context, i int) error {
		status, body, err := st.Client.Notify(ctx, Account, forms[i])
		if err != nil {
			return err
		}
		if status != 200 || strings.TrimSpace(body) != "success" {
			return fmt.Errorf("notification %d answered %d %q", i, status, clip(body))
		}
		return nil
	}
	// slice runs ops [from, to) of op, offsetting the index.
	slice := func(op Op, from int) Op {
		return func(ctx context.Context, i int) error { return op(ctx, from+i) }
	}

	// Paired rounds: baseline, a slice of the scenario, baseline, a slice, ..., baseline. Each
	// slice's throughput is divided by the mean of the baselines right before and after it, so
	// the other tenants' load, which changes by the second on a shared machine, hits both sides
	// of each ratio alike; the reported ratio is the median over the rounds.
	o.logf("scenario %s: n=%d, at most %s, %d workers, %d rounds paired with bare RSA-2048 (%s sign + %s verify each)",
		o.Scenario, o.N, o.Duration, o.Concurrency, o.Rounds, o.BaselineDuration, o.BaselineDuration)
	measure := func() error {
		b, err := MeasureBaseline(ctx, key, o.Concurrency, o.BaselineDuration)
		r.Baselines = append(r.Baselines, b)
		return err
	}
	if err := measure(); err != nil {
		return nil, err
	}
	var cRuns, nRuns []LoadResult
	var cLats, nLats [][]time.Duration
	var cpu CPUSplit
	nCreate := o.N
	if o.Scenario == ScenarioMixed {
		nCreate = max(1, o.N/4)
	}
	for k := 0; k < o.Rounds; k++ {
		per := o.Duration / time.Duration(o.Rounds)
		cFrom, cTo := k*nCreate/o.Rounds, (k+1)*nCreate/o.Rounds
		nFrom, nTo := k*o.N/o.Rounds, (k+1)*o.N/o.Rounds
		h0, p0, s0 := cpuNow(st)
		t0 := time.Now()
		var round Round
		switch o.Scenario {
		case ScenarioCreate:
			res, lat := runLoad(ctx, cTo-cFrom, per, o.Concurrency, slice(createOp, cFrom))
			cRuns, cLats = append(cRuns, res), append(cLats, lat)
			round.CreatePerSecond = res.PerSecond
		case ScenarioNotify:
			res, lat := runLoad(ctx, nTo-nFrom, per, o.Concurrency, slice(notifyOp, nFrom))
			nRuns, nLats = append(nRuns, res), append(nLats, lat)
			round.NotifyPerSecond = res.PerSecond
		case ScenarioMixed:
			cw := max(1, o.Concurrency/4)
			nw := max(1, o.Concurrency-cw)
			var wg sync.WaitGroup
			var cres, nres LoadResult
			var clat, nlat []time.Duration
			wg.Add(2)
			go func() { defer wg.Done(); cres, clat = runLoad(ctx, cTo-cFrom, per, cw, slice(createOp, cFrom)) }()
			go func() { defer wg.Done(); nres, nlat = runLoad(ctx, nTo-nFrom, per, nw, slice(notifyOp, nFrom)) }()
			wg.Wait()
			cRuns, cLats = append(cRuns, cres), append(cLats, clat)
			nRuns, nLats = append(nRuns, nres), append(nLats, nlat)
			round.CreatePerSecond, round.NotifyPerSecond = cres.PerSecond, nres.PerSecond
		}
		h1, p1, s1 := cpuNow(st)
		cpu.Host += h1 - h0
		cpu.Plugins += p1 - p0
		cpu.Generator += s1 - s0
		cpu.Wall += time.Since(t0)
		if err := measure(); err != nil {
			return nil, err
		}
		before, after := r.Baselines[k], r.Baselines[k+1]
		round.SignPerSecond = (before.SignPerSecond + after.SignPerSecond) / 2
		round.VerifyPerSecond = (before.VerifyPerSecond + after.VerifyPerSecond) / 2
		round.SignCPU = (before.SignCPU + after.SignCPU) / 2
		round.VerifyCPU = (before.VerifyCPU + after.VerifyCPU) / 2
		if ops := roundOps(o.Scenario, cRuns, nRuns); ops > 0 {
			round.HostCPU, round.PluginCPU, round.GeneratorCPU = perOp(h1-h0, ops), perOp(p1-p0, ops), perOp(s1-s0, ops)
		}
		if round.SignPerSecond > 0 {
			round.CreateVsSign = round.CreatePerSecond / round.SignPerSecond
		}
		if round.VerifyPerSecond > 0 {
			round.NotifyVsVerify = round.NotifyPerSecond / round.VerifyPerSecond
		}
		r.Rounds = append(r.Rounds, round)
		o.logf("round %d: create %.0f/s, notify %.0f/s, bare sign %.0f/s, bare verify %.0f/s", k+1,
			round.CreatePerSecond, round.NotifyPerSecond, round.SignPerSecond, round.VerifyPerSecond)
	}
	r.CPU = cpu
	if len(cRuns) > 0 {
		m := merge(cRuns, cLats)
		r.Create = &m
		r.CreateVsSign = medianOf(r.Rounds, func(x Round) float64 { return x.CreateVsSign })
	}
	if len(nRuns) > 0 {
		m := merge(nRuns, nLats)
		r.Notify = &m
		r.NotifyVsVerify = medianOf(r.Rounds, func(x Round) float64 { return x.NotifyVsVerify })
	}
	if r.Host, err = ReadProcMem(st.HostPID()); err != nil {
		return nil, err
	}
	for _, pid := range st.PluginPIDs() {
		if m, err := ReadProcMem(pid); err == nil {
			if b := exeBase(pid); b != "" {
				m.Name = b
			}
			r.Plugins = append(r.Plugins, m)
		}
	}
	switch {
	case o.Scenario == ScenarioCreate && r.Create != nil:
		r.Budget = budget(o.Scenario, r.Create.Ops, cpu, r.Rounds, r.Baselines)
	case o.Scenario == ScenarioNotify && r.Notify != nil:
		r.Budget = budget(o.Scenario, r.Notify.Ops, cpu, r.Rounds, r.Baselines)
	}
	r.Targets = targets(r)
	return r, nil
}

// roundOps is the number of operations of the round just run (the last load result), or 0 for
// the mixed scenario.
func roundOps(scenario string, cRuns, nRuns []LoadResult) int {
	switch {
	case scenario == ScenarioCreate && len(cRuns) > 0:
		return cRuns[len(cRuns)-1].Ops
	case scenario == ScenarioNotify && len(nRuns) > 0:
		return nRuns[len(nRuns)-1].Ops
	}
	return 0
}

func targets(r *Report) []Target {
	var t []Target
	if r.Create != nil && r.Scenario == ScenarioCreate {
		t = append(t, Target{Name: "create throughput / bare RSA2-2048 sign throughput", Goal: ">= 0.85", Measured: r.CreateVsSign, Met: r.CreateVsSign >= 0.85})
	}
	if r.Notify != nil && r.Scenario == ScenarioNotify {
		t = append(t,
			Target{Name: "notification intake per second (" + r.Store + ")", Goal: ">= 5000", Measured: r.Notify.PerSecond, Met: r.Notify.PerSecond >= 5000},
			Target{Name: "notification p99 latency, ms", Goal: "< 25", Measured: ms(r.Notify.P99), Met: r.Notify.P99 < 25*time.Millisecond})
	}
	if b := r.Budget; b != nil {
		if b.Operation == "create" {
			t = append(t,
				Target{Name: "bare sign CPU / (host + plugin CPU per create)", Goal: ">= 0.85", Measured: b.SignVsHostPlugin, Met: b.SignVsHostPlugin >= 0.85},
				Target{Name: "host CPU per create, ms", Goal: "<= 0.10", Measured: ms(b.HostCPU), Met: b.HostCPU <= 100*time.Microsecond},
				Target{Name: "plugin CPU per create - bare sign CPU, ms", Goal: "<= 0.05", Measured: ms(b.PluginCPU - b.SignCPU), Met: b.PluginCPU-b.SignCPU <= 50*time.Microsecond})
		} else {
			t = append(t, Target{Name: "host CPU per notification, ms", Goal: "<= 0.15", Measured: ms(b.HostCPU), Met: b.HostCPU <= 150*time.Microsecond})
		}
	}
	mib := float64(r.Host.PeakRSS) / (1 << 20)
	t = append(t, Target{Name: "host peak RSS, MiB", Goal: "< 100", Measured: mib, Met: mib < 100})
	return t
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// createPayments creates n payments with conc workers (setup, untimed) and fails on any error.
func createPayments(ctx context.Context, c *Client, run string, n, conc int) ([]*Payment, error) {
	out := make([]*Payment, n)
	var firstErr atomic.Pointer[error]
	res := RunLoad(ctx, n, 10*time.Minute, conc, func(ctx context.Context, i int) error {
		p, err := c.CreatePayment(ctx, fmt.Sprintf("b%s-p%d", run, i), 1000+int64(i%1000))
		if err != nil {
			firstErr.CompareAndSwap(nil, &err)
			return err
		}
		out[i] = p
		return nil
	})
	if res.Errors > 0 {
		return nil, fmt.Errorf("creating payments: %d of %d failed, first: %v", res.Errors, n, *firstErr.Load())
	}
	return out, nil
}

// buildStorm signs n notifications for payments: every dupEvery-th one (i%dupEvery ==
// dupEvery-1) re-sends an earlier notification byte for byte (a wallet's redelivery), the rest
// are distinct deliveries (fresh notify_id) of TRADE_FINISHED spread over the payments.
func buildStorm(ctx context.Context, payments []*Payment, run string, n, dupEvery int) ([][]byte, int, error) {
	nt, err := NewNotifier()
	if err != nil {
		return nil, 0, err
	}
	forms := make([][]byte, n)
	now := time.Now()
	res := RunLoad(ctx, n, 10*time.Minute, runtime.NumCPU(), func(_ context.Context, i int) error {
		if dupEvery > 1 && i%dupEvery == dupEvery-1 {
			return nil // filled below
		}
		p := payments[i%len(payments)]
		f, err := nt.Form(TradeNotice{
			OutTradeNo: p.OutTradeNo, TradeNo: TradeNo(i % len(payments)), Status: mapisim.StatusTradeFinished,
			Amount: p.Amount, NotifyID: fmt.Sprintf("b%sn%d", run, i), At: now,
		})
		forms[i] = f
		return err
	})
	if res.Errors > 0 {
		return nil, 0, fmt.Errorf("signing notifications: %s", res.FirstError)
	}
	dups := 0
	for i := range forms {
		if forms[i] == nil {
			// The delivery dupEvery-1 places earlier (never itself a duplicate).
			j := i - (dupEvery - 1)
			if j < 0 || forms[j] == nil {
				j = 0
			}
			if forms[j] == nil {
				return nil, 0, errors.New("storm too small for duplicates")
			}
			forms[i] = forms[j]
			dups++
		}
	}
	return forms, dups, nil
}
