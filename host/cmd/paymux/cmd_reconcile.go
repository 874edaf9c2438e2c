package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/pluginhost"
	"github.com/paymux/paymux/host/store"
)

func init() {
	register(&command{
		name:    "reconcile",
		summary: "match a provider's settlement records against paymux (JSON or CSV report)",
		run: func(ctx context.Context, args []string) error {
			return runReconcile(ctx, args, os.Stdout, os.Stderr)
		},
	})
}

// runReconcile is paymux reconcile with its output streams, for tests. The report goes to
// -out or stdout; progress and the one-line summary go to stderr (a progress bar when stderr
// is a terminal, a plain line every 1000 records otherwise).
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := configFlag(fs, "config file")
	account := fs.String("account", "", "merchant account (a key of accounts in the config)")
	from := fs.String("from", "", "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (inclusive; default: from)")
	tz := fs.String("timezone", "", `IANA zone the days are counted in (e.g. "Asia/Shanghai" for Alipay; default UTC)`)
	format := fs.String("format", "json", "report format: json or csv")
	out := fs.String("out", "", "write the report to this file instead of stdout")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux reconcile [-config FILE] -account ID -from DATE [-to DATE] [-timezone ZONE] [-format json|csv] [-out FILE]\n\n"+
			"Fetches the provider's settlement records for the days and matches them against paymux's payments\n"+
			"and refunds: matched, amount or status mismatches, missing in paymux, missing at the provider, fees\n"+
			"and totals per currency. The provider must declare the settlement capability.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *account == "" || *from == "" {
		return usagef("-account and -from are required")
	}
	if *to == "" {
		*to = *from
	}
	if *format != "json" && *format != "csv" {
		return usagef("-format must be json or csv, not %q", *format)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	acct, ok := cfg.Accounts[*account]
	if !ok {
		return fmt.Errorf("account %q is not in %s", *account, *cfgPath)
	}
	log := newServeLogger(cfg.Log).Named("reconcile")

	svc, stop, err := reconcileService(ctx, cfg, *account, acct.Plugin, log)
	if err != nil {
		return err
	}
	defer stop()

	progress, done := reconcileProgress(stderr)
	rep, err := svc.Reconcile(ctx, &host.ReconcileRequest{Account: *account, From: *from, To: *to, TimeZone: *tz},
		host.ReconcileOptions{Progress: progress})
	done()
	if err != nil {
		return err
	}

	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
		w = f
	}
	if *format == "csv" {
		err = rep.WriteCSV(w)
	} else {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	}
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	fmt.Fprintf(stderr, "reconcile %s %s..%s: %s\n", rep.Account, rep.From, rep.To, rep.SummaryLine())
	return nil
}

// reconcileService opens the store and starts only the account's plugin, configured with the
// account's settings: a reconciliation needs nothing else of a host.
func reconcileService(ctx context.Context, cfg *config.Config, account, plugin string, log hclog.Logger) (*host.Service, func(), error) {
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := store.Open(openCtx, cfg.Store.Driver, cfg.Store.DSN.Value())
	if err != nil {
		return nil, nil, err
	}
	runtime, err := os.MkdirTemp("", "pmx-")
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("plugin runtime dir: %w", err)
	}
	mgr := pluginhost.New(pluginhost.Options{Logger: log, RuntimeDir: runtime})
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mgr.Shutdown(sctx); err != nil {
			log.Warn("stopping the plugin", "error", err)
		}
		os.RemoveAll(runtime)
		st.Close()
	}
	var specs []pluginhost.Spec
	for _, s := range pluginSpecs(cfg) {
		if s.Name == plugin {
			specs = append(specs, s)
		}
	}
	if err := mgr.Start(openCtx, specs); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting plugin %s: %w", plugin, err)
	}
	if err := mgr.Configure(openCtx, plugin, account, cfg.AccountSettings(account)); err != nil {
		stop()
		return nil, nil, fmt.Errorf("account %s: %w", account, err)
	}
	svc := host.New(host.Options{Store: st, Logger: log, Providers: oneAccount{mgr: mgr, account: account, plugin: plugin}})
	return svc, stop, nil
}

// oneAccount satisfies host.Providers for the one account being reconciled.
type oneAccount struct {
	mgr             *pluginhost.Manager
	account, plugin string
}

func (o oneAccount) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	if account != o.account {
		return nil, nil, core.Errorf(core.ENOTFOUND, "unknown account %q", account)
	}
	p, err := o.mgr.Provider(o.plugin)
	if err != nil {
		return nil, nil, err
	}
	d, err := o.mgr.Describe(ctx, o.plugin)
	if err != nil {
		return nil, nil, err
	}
	return p, d, nil
}

// reconcileProgress returns the progress callback and a function that ends the display. The
// number of records is not known in advance, so the bar is a counting spinner.
func reconcileProgress(stderr io.Writer) (func(int), func()) {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(f),
			progressbar.OptionSetDescription("settlement records"),
			progressbar.OptionShowCount(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return func(n int) { _ = bar.Set(n) }, func() { _ = bar.Finish() }
	}
	last := 0
	return func(n int) {
			if n/1000 > last/1000 {
				fmt.Fprintf(stderr, "reconcile: %d settlement records\n", n)
			}
			last = n
		}, func() {
			if last > 0 {
				fmt.Fprintf(stderr, "reconcile: %d settlement records in total\n", last)
			}
		}
}
