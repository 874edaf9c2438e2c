package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/plugins/sdk"
)

func init() {
	register(&command{name: "config check", summary: "validate a config file, its keys and plugin pins without serving", run: runConfigCheck})
}

// unpinnedSHA256 is the placeholder config.example.yaml ships with until `paymux plugins pin` runs.
var unpinnedSHA256 = strings.Repeat("0", 64)

func runConfigCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	withPlugins := fs.Bool("plugins", false, "also start each plugin, Configure its accounts and check region methods against Describe")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on the -plugins checks")
	file := configFlag(fs, "config file to check")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux config check [-config FILE] [-plugins] [-timeout D]\n"+
			"       paymux config check [-plugins] [-timeout D] FILE\n\n"+
			"Prints one line per problem (file:line: key: message) and exits 0 only when there is none.\n\n")
		fs.PrintDefaults()
	}
	// Accept flags after the file name too: "paymux config check paymux.yaml -plugins".
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) >= 1 {
		if err := parseFlags(fs, rest[1:]); err != nil {
			return err
		}
		rest = append(rest[:1], fs.Args()...)
	}
	configSet := false
	fs.Visit(func(f *flag.Flag) { configSet = configSet || f.Name == "config" })
	switch {
	case len(rest) > 1:
		return usagef("unexpected argument %q", rest[1])
	case len(rest) == 1 && configSet:
		return usagef("give the file once: -config %s or %s, not both", *file, rest[0])
	case len(rest) == 1:
		*file = rest[0]
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r := checkConfig(ctx, *file, *withPlugins)
	r.print(os.Stdout)
	if n := len(r.problems); n > 0 {
		return fmt.Errorf("%s: %d problem(s)", *file, n)
	}
	return nil
}

// checkReport is what config check found: problems fail the check, warnings do not.
type checkReport struct {
	problems []*config.Problem
	warnings []*config.Problem
	summary  string
}

func (r *checkReport) print(w io.Writer) {
	for _, p := range r.problems {
		fmt.Fprintln(w, p)
	}
	for _, p := range r.warnings {
		q := *p
		q.Msg = "warning: " + q.Msg
		fmt.Fprintln(w, &q)
	}
	if len(r.problems) == 0 && r.summary != "" {
		fmt.Fprintln(w, r.summary)
	}
}

// checkConfig runs every check that needs no network: the config itself, plugin pins, the
// TLS pair, account key files; with withPlugins also the plugins' own view of accounts and
// methods.
func checkConfig(ctx context.Context, path string, withPlugins bool) *checkReport {
	r := &checkReport{}
	cfg, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			r.problems = ps
		} else {
			r.problems = []*config.Problem{{File: path, Msg: err.Error()}}
		}
		return r
	}
	checkLoaded(ctx, cfg, withPlugins, r)
	return r
}

// checkLoaded runs the checks after Load; problems end up in file order.
func checkLoaded(ctx context.Context, cfg *config.Config, withPlugins bool, r *checkReport) {
	pinsOK := checkPins(cfg, r)
	checkTLS(cfg, r)
	for _, id := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		checkAccountFiles(cfg, id, r)
	}
	if demo := cfg.DemoSecrets(); len(demo) > 0 {
		r.warnings = append(r.warnings, &config.Problem{File: cfg.File(), Msg: demoSecretsWarning(demo)})
	}
	if withPlugins {
		if pinsOK {
			checkPlugins(ctx, cfg, r)
		} else {
			r.problems = append(r.problems, &config.Problem{File: cfg.File(), Msg: "-plugins: not starting plugins whose binaries do not match their pins"})
		}
	}
	byLine := func(a, b *config.Problem) int { return a.Line - b.Line }
	slices.SortStableFunc(r.problems, byLine)
	slices.SortStableFunc(r.warnings, byLine)
	r.summary = fmt.Sprintf("%s: ok (%d plugins, %d accounts, %d regions)", cfg.File(), len(cfg.Plugins), len(cfg.Accounts), len(cfg.Regions))
	if withPlugins {
		r.summary += "; plugins started, accounts configured, methods checked"
	}
}

// checkPins hashes each plugin binary (and each shadow build's) and compares it with its pin.
func checkPins(cfg *config.Config, r *checkReport) bool {
	ok := true
	for _, name := range slices.Sorted(maps.Keys(cfg.Plugins)) {
		p := cfg.Plugins[name]
		bins := []struct{ path, command, sha string }{{"plugins." + name, p.Command, p.SHA256}}
		if sh := p.Shadow; sh != nil {
			bins = append(bins, struct{ path, command, sha string }{"plugins." + name + ".shadow", sh.Command, sh.SHA256})
		}
		for _, b := range bins {
			key := b.path + ".sha256"
			got, err := sdk.HashFile(b.command)
			switch {
			case err != nil:
				r.problems = append(r.problems, cfg.Problemf(b.path+".command", "cannot read the plugin binary: %v", err))
				ok = false
			case b.sha == unpinnedSHA256:
				r.problems = append(r.problems, cfg.Problemf(key, "not pinned (placeholder); run `paymux plugins pin -config %s` (binary sha256 is %s)", cfg.File(), got))
				ok = false
			case got != b.sha:
				r.problems = append(r.problems, cfg.Problemf(key, "binary %s has sha256 %s but the config pins %s; if you rebuilt it on purpose, run `paymux plugins pin`", b.command, got, b.sha))
				ok = false
			}
		}
	}
	return ok
}

func checkTLS(cfg *config.Config, r *checkReport) {
	t := cfg.Server.TLS
	if t == nil {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		r.problems = append(r.problems, cfg.Problemf("server.tls", "cannot load the certificate and key: %v", err))
		return
	}
	if w := keyFileModeWarning(t.KeyFile); w != "" {
		r.warnings = append(r.warnings, cfg.Problemf("server.tls.key_file", "%s", w))
	}
}

// demoSecretsWarning is the one line config check prints (and serve logs) while settings hold
// demo secrets; it names the settings, never their values.
func demoSecretsWarning(settings []string) string {
	return "demo secrets from config.example.yaml or the simulator's test keys are in use (anyone can read them in the repository; never take real payments with them): " + strings.Join(settings, ", ")
}

// keyFileModeWarning says when a private key file can be read by its group or by others
// (anyone on the machine could then sign as the merchant).
func keyFileModeWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return ""
	}
	return fmt.Sprintf("the key file is readable by group or others (mode %#o); make it private: chmod 600", fi.Mode().Perm())
}

// isPrivateKeySetting reports whether a *_file account setting names a private key (as
// opposed to a public key or known_hosts, which may be readable by anyone).
func isPrivateKeySetting(name string) bool { return strings.Contains(name, "private") }

// keyCheckers load each known key-file setting the way the providers will, so that a wrong
// file shows up here and not at the first payment.
var keyCheckers = map[string]func(path string, data []byte) (warning string, err error){
	"private_key_file": func(_ string, data []byte) (string, error) {
		k, err := signing.ParsePrivateKey(data)
		if err != nil {
			return "", err
		}
		return signing.KeyWarning(k.N.BitLen()), nil
	},
	"alipay_public_key_file": func(_ string, data []byte) (string, error) {
		k, err := signing.ParsePublicKey(data)
		if err != nil {
			return "", err
		}
		return signing.KeyWarning(k.N.BitLen()), nil
	},
	"sftp_private_key_file": func(_ string, data []byte) (string, error) {
		if _, err := ssh.ParsePrivateKey(data); err != nil {
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return "", errors.New("the SSH key is passphrase-protected; paymux needs an unencrypted key file")
			}
			return "", fmt.Errorf("not an SSH private key: %w", checkSSHErr(err))
		}
		return "", nil
	},
	"sftp_known_hosts_file": func(path string, data []byte) (string, error) {
		if len(strings.TrimSpace(string(data))) == 0 {
			return "", errors.New("the known_hosts file is empty, so no SFTP host key can be trusted")
		}
		if _, err := knownhosts.New(path); err != nil {
			return "", fmt.Errorf("not a known_hosts file: %w", err)
		}
		return "", nil
	},
}

// checkSSHErr keeps x/crypto/ssh's message but never echoes key bytes (it does not today; this
// makes sure a future version cannot).
func checkSSHErr(err error) error {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return errors.New(msg)
}

// checkAccountFiles loads the key files an account's settings name. It never prints a
// setting's value: a key pasted where a file name belongs (and not recognised as a key) would
// otherwise be echoed as the file that cannot be read. The setting's name and line say where.
func checkAccountFiles(cfg *config.Config, id string, r *checkReport) {
	settings := cfg.AccountSettings(id)
	demo := cfg.DemoSecrets() // a public test key's file mode does not matter
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		path := settings[name]
		if !config.IsFileSetting(name) || path == "" {
			continue
		}
		key := "accounts." + id + ".settings." + name
		var data []byte
		label := "the file it names"
		if config.IsInlineKey(path) {
			// The setting holds the key itself (e.g. from ${ENV}).
			data, label = []byte(strings.TrimSpace(path)), "the inline key"
		} else {
			var err error
			if data, err = os.ReadFile(path); err != nil {
				r.problems = append(r.problems, cfg.Problemf(key, "cannot read the file it names: %v", checkPathErr(err)))
				continue
			}
			if isPrivateKeySetting(name) && !slices.Contains(demo, key) {
				if w := keyFileModeWarning(path); w != "" {
					r.warnings = append(r.warnings, cfg.Problemf(key, "%s", w))
				}
			}
		}
		check, known := keyCheckers[name]
		if !known {
			continue
		}
		warning, err := check(path, data)
		if err != nil {
			// Parsers may quote the file name (knownhosts does); it is the setting's value.
			msg := strings.ReplaceAll(checkErrText(err), path, "(the file)")
			r.problems = append(r.problems, cfg.Problemf(key, "%s: %s", label, msg))
			continue
		}
		if warning != "" {
			r.warnings = append(r.warnings, cfg.Problemf(key, "%s: %s", label, warning))
		}
	}
}

func checkPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkPlugins starts every plugin, configures its accounts and checks the regions' methods
// against what the plugins describe. Plugins are stopped before it returns.
func checkPlugins(ctx context.Context, cfg *config.Config, r *checkReport) {
	runtimeDir, err := os.MkdirTemp("", "pmx-")
	if err != nil {
		r.problems = append(r.problems, &config.Problem{File: cfg.File(), Msg: err.Error()})
		return
	}
	defer os.RemoveAll(runtimeDir)
	descs := map[string]*core.Description{}
	errs := map[string]error{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Plugins)) {
		p := cfg.Plugins[name]
		d, err := checkDescribePlugin(ctx, cfg, name, p, filepath.Join(runtimeDir, "r"), r)
		if err != nil {
			errs[name] = err
			r.problems = append(r.problems, cfg.Problemf("plugins."+name, "%v", err))
			continue
		}
		descs[name] = d
	}
	err = config.ValidateMethods(cfg, func(plugin string) (*core.Description, error) {
		if d, ok := descs[plugin]; ok {
			return d, nil
		}
		return nil, errCheckNotStarted
	})
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			// A plugin that failed to start is reported once above.
			if !strings.HasSuffix(p.Msg, errCheckNotStarted.Error()) {
				r.problems = append(r.problems, p)
			}
		}
	}
}

var errCheckNotStarted = errors.New("describe: not started")

// launchPlugin starts a plugin for -plugins (a variable so that tests can watch the launch).
var launchPlugin = sdk.Launch

// checkDescribePlugin launches one plugin, configures each account that uses it, and returns its
// description.
func checkDescribePlugin(ctx context.Context, cfg *config.Config, name string, p config.Plugin, runtimeDir string, r *checkReport) (*core.Description, error) {
	// Started as serve starts it (host/pluginhost): with go-plugin's automatic mutual TLS.
	pl, err := launchPlugin(ctx, sdk.LaunchConfig{Name: name, Path: p.Command, SHA256: p.SHA256, Env: p.Env, RuntimeDir: runtimeDir, CallTimeout: 10 * time.Second, AutoMTLS: true})
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer pl.Kill()
	prov := pl.Provider()
	d, err := prov.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		if cfg.Accounts[id].Plugin != name {
			continue
		}
		if err := prov.Configure(ctx, &core.ConfigureRequest{Account: id, Settings: cfg.AccountSettings(id)}); err != nil {
			r.problems = append(r.problems, cfg.Problemf("accounts."+id+".settings", "plugin %s refused the settings: %s", name, checkErrText(err)))
		}
	}
	return d, nil
}

// checkErrText is a core error's message without its code prefix, or any other error's text.
func checkErrText(err error) string {
	var e *core.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
