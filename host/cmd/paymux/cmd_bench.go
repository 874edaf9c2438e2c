package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paymux/paymux/host/bench"
)

func init() {
	register(&command{name: "bench", summary: "load-test a paymux host and the simulator on loopback (bounded in count and time)", run: runBench})
	register(&command{name: "bench host", summary: "(internal) the host process that paymux bench starts", run: runBenchHost, hidden: true})
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		o        bench.Options
		jsonOut  bool
		binDir   string
		hostMode string
		workDir  string
		progress bool
		gatePath string
	)
	fs.StringVar(&o.Scenario, "scenario", "create", "create, notify or mixed")
	fs.IntVar(&o.N, "n", 2000, "at most this many operations (the run stops at -n or -duration, whichever comes first)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "at most this long for the scenario (setup and the RSA baselines come on top)")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent clients; the bare RSA baseline uses as many workers")
	fs.StringVar(&o.Stack.Store, "store", "sqlite", "sqlite or postgres")
	fs.StringVar(&o.Stack.DSN, "dsn", "", "postgres URL (loopback only); sqlite: file (default: a temporary one)")
	fs.Int64Var(&o.Preload, "preload", 0, "grow the store to this many payments (with refunds, events and inbox entries; bulk loaded, untimed) before the host starts; with -dsn or -workdir the grown store can be reused (payments earlier runs left pending are closed first)")
	fs.IntVar(&o.Payments, "payments", 0, "notify/mixed: payments created before the storm (default min(n/4, 500))")
	fs.IntVar(&o.DuplicateEvery, "dup-every", 5, "notify/mixed: every k-th notification re-delivers an earlier one")
	fs.DurationVar(&o.BaselineDuration, "baseline", time.Second, "duration of each bare RSA measurement (sign, then verify), before each round and after the last")
	fs.IntVar(&o.Rounds, "rounds", 3, "slices of the scenario, each paired with the bare RSA measurements around it")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&binDir, "bin", "", "directory of paymux-provider-alipay (default: $PAYMUX_BIN, else the directory of this executable)")
	fs.StringVar(&hostMode, "host", "serve", "how the host runs: serve (this executable's paymux serve, with a generated config), child (a minimal host child: store, plugin, service, API; no janitor or dispatcher) or in-process (inside the bench; its memory then includes the load generator)")
	fs.StringVar(&workDir, "workdir", "", "directory for the config, keys, SQLite file and host log (default: a temporary one, removed after)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux bench [flags]\n\n"+
			"Starts the simulator and a paymux host on loopback and drives a bounded load scenario through\n"+
			"the REST API and /notify, paired with bare RSA-2048 throughput (docs/performance.md).\n\n")
		fs.PrintDefaults()
	}
	fs.BoolVar(&progress, "v", false, "print progress to stderr")
	fs.StringVar(&o.Stack.HostCPUProfile, "host-cpuprofile", "", "write a pprof CPU profile of the host (its whole run) to this file")
	fs.StringVar(&gatePath, "gate", "", "compare the run's paired ratios with the figures recorded in this JSON file (.ci/bench-gate.json) and fail on a gross regression")
	fs.StringVar(&o.Stack.HostLogLevel, "host-log-level", "error", "the host's log level (info writes an access log line per request, as paymux serve does by default)")
	fs.DurationVar(&o.Stack.HostSpin, "host-spin", 0, "burn this much CPU in the host per request: a deliberate slowdown that proves -gate can fail (-host child only)")
	fs.StringVar(&o.Stack.PluginCPUProfile, "plugin-cpuprofile", "", "write a pprof CPU profile of the plugin process (its whole run) to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if o.Stack.DSN != "" && o.Stack.Store == "postgres" {
		if err := checkLoopbackDSN(o.Stack.DSN); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locating this executable: %w", err)
	}
	if binDir == "" {
		binDir = os.Getenv("PAYMUX_BIN")
	}
	if binDir == "" {
		binDir = filepath.Dir(self)
	}
	o.Stack.PluginPath = filepath.Join(binDir, bench.PluginBinary)
	for _, p := range []*string{&o.Stack.HostCPUProfile, &o.Stack.PluginCPUProfile} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	if o.Stack.HostSpin > 0 && hostMode != "child" {
		return usagef("-host-spin needs -host child")
	}
	var gate *bench.GateFile
	if gatePath != "" {
		if gate, err = bench.ReadGateFile(gatePath); err != nil {
			return err
		}
	}
	if o.Stack.HostCPUProfile != "" && hostMode == "in-process" {
		return usagef("-host-cpuprofile needs a host child (-host serve or child)")
	}
	switch hostMode {
	case "serve":
		if commands["serve"] == nil {
			return errors.New("this paymux has no serve command; use -host child")
		}
		o.Stack.ServeArgv = []string{self, "serve"}
	case "child":
		o.Stack.HostArgv = []string{self, "bench", "host"}
	case "in-process":
	default:
		return usagef("-host %q: serve, child or in-process", hostMode)
	}
	if workDir == "" {
		d, err := os.MkdirTemp("", "paymux-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	o.Stack.WorkDir = workDir
	if progress {
		o.Progress = os.Stderr
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(os.Stdout, rep)
	}
	if gate == nil {
		return nil
	}
	verdicts, err := gate.Check(rep)
	for _, v := range verdicts {
		dir, mark := ">=", "ok"
		if !v.HigherIsBetter {
			dir = "<="
		}
		if !v.OK {
			mark = "REGRESSION"
		}
		fmt.Fprintf(os.Stderr, "gate %s %s: %.3f (recorded %.3f, must be %s %.3f) %s\n", v.Scenario, v.Name, v.Measured, v.Recorded, dir, v.Limit, mark)
	}
	return err
}

// checkLoopbackDSN refuses a PostgreSQL DSN (URL or key=value, every host of a multi-host one)
// that points off this machine. pgconn parses it as the store will.
func checkLoopbackDSN(dsn string) error {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("-dsn: %w", err)
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...)
	for _, h := range hosts {
		if err := bench.RequireLoopbackURL("http://" + net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port)))); err != nil {
			return fmt.Errorf("-dsn: %w", err)
		}
	}
	return nil
}

func printReport(w io.Writer, r *bench.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s (store %s, n<=%d, <=%s, %d workers)\n", r.Scenario, r.Store, r.N, r.MaxDuration, r.Concurrency)
	fmt.Fprintf(tw, "machine\t%d CPUs %s, %s, load %s\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.LoadAvg)
	if p := r.Preload; p != nil {
		fmt.Fprintf(tw, "preload\t%d payments found (%d left pending by earlier runs, closed), %d added (%d rows in %s, %.0f rows/s)\n",
			p.Existing, p.Closed, p.Added, p.Rows, p.Duration.Round(time.Millisecond), p.RowsPerSecond())
	}
	fmt.Fprintf(tw, "host\t%s\n", r.HostMode)
	line := func(name string, l *bench.LoadResult) {
		if l == nil {
			return
		}
		fmt.Fprintf(tw, "%s\t%d ok, %d failed in %.2fs: %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", name,
			l.Ops-l.Errors, l.Errors, l.Elapsed.Seconds(), l.PerSecond, msf(l.P50), msf(l.P99), msf(l.Max))
		if l.FirstError != "" {
			fmt.Fprintf(tw, "\tfirst error: %s\n", l.FirstError)
		}
	}
	line("create", r.Create)
	line("notify", r.Notify)
	if r.NotifyDuplicates > 0 {
		fmt.Fprintf(tw, "\t(%d of the notifications were duplicates)\n", r.NotifyDuplicates)
	}
	for i, rd := range r.Rounds {
		fmt.Fprintf(tw, "round %d\tcreate %.0f/s, notify %.0f/s | bare RSA-2048 around it: sign %.0f/s, verify %.0f/s | ratios %.3f, %.3f\n",
			i+1, rd.CreatePerSecond, rd.NotifyPerSecond, rd.SignPerSecond, rd.VerifyPerSecond, rd.CreateVsSign, rd.NotifyVsVerify)
	}
	if r.CreateVsSign > 0 {
		fmt.Fprintf(tw, "create / bare sign\t%.3f (median of rounds)\n", r.CreateVsSign)
	}
	if r.NotifyVsVerify > 0 {
		fmt.Fprintf(tw, "notify / bare verify\t%.3f (median of rounds)\n", r.NotifyVsVerify)
	}
	fmt.Fprintf(tw, "CPU during scenario\thost %.2fs, plugins %.2fs, load generator %.2fs, in %.2fs wall\n",
		r.CPU.Host.Seconds(), r.CPU.Plugins.Seconds(), r.CPU.Generator.Seconds(), r.CPU.Wall.Seconds())
	if b := r.Budget; b != nil {
		fmt.Fprintf(tw, "CPU per %s\thost %.3f ms, plugin %.3f ms, load generator %.3f ms (bare RSA-2048 in the same run: sign %.3f ms, verify %.3f ms of CPU)\n",
			b.Operation, msf(b.HostCPU), msf(b.PluginCPU), msf(b.GeneratorCPU), msf(b.SignCPU), msf(b.VerifyCPU))
		fmt.Fprintf(tw, "  paired, per round\thost %.3f x bare sign (%.2f x bare verify), plugin %.3f x bare sign (%.2f x bare verify) (medians of rounds)\n",
			b.HostVsSign, b.HostVsVerify, b.PluginVsSign, b.PluginVsVerify)
		if b.Operation == "create" {
			fmt.Fprintf(tw, "  bare sign / (host + plugin)\t%.3f (median of rounds; issue 20's goal >= 0.85)\n", b.SignVsHostPlugin)
		}
	}
	fmt.Fprintf(tw, "host peak RSS\t%.1f MiB (pid %d)\n", float64(r.Host.PeakRSS)/(1<<20), r.Host.PID)
	for _, p := range r.Plugins {
		fmt.Fprintf(tw, "plugin peak RSS\t%.1f MiB (%s, pid %d)\n", float64(p.PeakRSS)/(1<<20), p.Name, p.PID)
	}
	for _, t := range r.Targets {
		mark := "MISSED"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(tw, "target\t%s %s: %.3f, %s\n", t.Name, t.Goal, t.Measured, mark)
	}
	tw.Flush()
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runBenchHost is the child that paymux bench starts: it serves a host from a bench config and
// announces its address on stdout.
func runBenchHost(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usagef("bench host takes the path of its JSON config")
	}
	cfg, err := bench.ReadHostConfig(args[0])
	if err != nil {
		return err
	}
	err = bench.RunHost(ctx, cfg, func(addr string) { fmt.Printf("%s %s\n", bench.ReadyPrefix, addr) })
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
