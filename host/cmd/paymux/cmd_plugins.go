package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/plugins/sdk"
)

func init() {
	register(&command{name: "plugins pin", summary: "write each plugin binary's SHA-256 into the config file", run: runPluginsPin})
}

func runPluginsPin(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("plugins pin", flag.ContinueOnError)
	file := configFlag(fs, "config file to update")
	bin := fs.String("bin", "", "hash the binaries in this directory (same base names) instead of the configured paths; the paths in the file are kept")
	dryRun := fs.Bool("n", false, "print what would change without writing the file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux plugins pin [-config FILE] [-bin DIR] [-n]\n\n"+
			"Hashes each configured plugin binary and writes the SHA-256 into the file's sha256: fields,\n"+
			"keeping comments and formatting. Prints old -> new per plugin.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	return pinPlugins(os.Stdout, *file, *bin, *dryRun)
}

// pinPlugins hashes the binaries and rewrites the file in place (atomically, same mode).
func pinPlugins(w io.Writer, file, binDir string, dryRun bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return err
	}
	pins, err := config.ReadPins(data, dir)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(pins) == 0 {
		return fmt.Errorf("%s: no plugins to pin", file)
	}
	hashes := map[string]string{}
	changed := 0
	for _, p := range pins {
		path := p.Command
		// A shadow build is a candidate kept apart from the release's binaries: -bin does not
		// apply to it (the same base name there is the live build).
		if binDir != "" && !strings.HasSuffix(p.Name, ".shadow") {
			path = filepath.Join(binDir, filepath.Base(p.Command))
		}
		h, err := sdk.HashFile(path)
		if err != nil {
			return fmt.Errorf("plugin %s: %w (build it first, e.g. make build)", p.Name, err)
		}
		old := p.SHA256
		if old == "" {
			old = "(none)"
		}
		mark := "unchanged"
		if p.SHA256 != h {
			mark = "updated"
			if dryRun {
				mark = "would update"
			}
			changed++
		}
		fmt.Fprintf(w, "%s: %s -> %s (%s)\n", p.Name, old, h, mark)
		hashes[p.Name] = h
	}
	if changed == 0 || dryRun {
		return nil
	}
	out, err := config.SetPins(data, hashes)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return pinWriteFileAtomic(file, out)
}

// pinWriteFileAtomic replaces file with data through a temporary file in the same directory, so
// that a crash leaves the old or the new file, never half of one. The mode is kept.
func pinWriteFileAtomic(file string, data []byte) error {
	// Edit the file a symlink points to rather than replacing the link.
	if real, err := filepath.EvalSymlinks(file); err == nil {
		file = real
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".pin-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

func init() {
	register(&command{name: "plugins describe", summary: "start a plugin and print what it declares: methods, channels, currencies, rules, capabilities, settings", run: runPluginsDescribe})
}

func runPluginsDescribe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("plugins describe", flag.ContinueOnError)
	file := configFlag(fs, "config file naming the plugin")
	command := fs.String("command", "", "describe this plugin binary instead of a configured one (it is run as it is, unpinned)")
	jsonOut := fs.Bool("json", false, "print the description as JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on starting the plugin and its Describe")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux plugins describe [-config FILE] [-json] NAME\n"+
			"       paymux plugins describe -command BINARY [-json]\n\n"+
			"Starts the plugin NAME of the config (its binary must match its sha256 pin) and prints its\n"+
			"Describe: methods with their channels and per-currency amount rules, capabilities, the janitor's\n"+
			"query schedule and every account setting it understands, required or optional, secret or not.\n\n")
		fs.PrintDefaults()
	}
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
	var name, path, pin string
	var env map[string]string
	switch {
	case *command != "" && len(rest) == 0:
		h, err := sdk.HashFile(*command)
		if err != nil {
			return fmt.Errorf("-command: %w", err)
		}
		name, path, pin = filepath.Base(*command), *command, h
	case *command != "":
		return usagef("give -command BINARY or a plugin NAME, not both")
	case len(rest) != 1:
		return usagef("name one plugin (a key under plugins: in the config)")
	default:
		cfg, err := config.Load(*file)
		if err != nil {
			return err
		}
		p, ok := cfg.Plugins[rest[0]]
		if !ok {
			return fmt.Errorf("%s has no plugin %q (it has: %s)", *file, rest[0], strings.Join(slices.Sorted(maps.Keys(cfg.Plugins)), ", "))
		}
		name, path, pin, env = rest[0], p.Command, p.SHA256, p.Env
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	d, err := describePlugin(ctx, name, path, pin, env)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(d)
	}
	printDescription(os.Stdout, d)
	return nil
}

// describePlugin launches one plugin binary (checked against pin), asks for its description
// and stops it.
func describePlugin(ctx context.Context, name, path, pin string, env map[string]string) (*core.Description, error) {
	runtimeDir, err := os.MkdirTemp("", "pmx-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(runtimeDir)
	pl, err := sdk.Launch(ctx, sdk.LaunchConfig{Name: name, Path: path, SHA256: pin, Env: env, RuntimeDir: filepath.Join(runtimeDir, "r"), CallTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("starting plugin %s: %w", name, err)
	}
	defer pl.Kill()
	d, err := pl.Provider().Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: describe: %w", name, err)
	}
	return d, nil
}

// printDescription writes a description for people: one block per part, settings in a table.
func printDescription(w io.Writer, d *core.Description) {
	fmt.Fprintf(w, "provider %s", d.Name)
	if d.Version != "" {
		fmt.Fprintf(w, " (version %s)", d.Version)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nmethods:")
	for _, m := range d.Methods {
		channels := make([]string, len(m.Channels))
		for i, c := range m.Channels {
			channels[i] = string(c)
		}
		fmt.Fprintf(w, "  %s (%s): channels %s\n", m.ID, m.Name, strings.Join(channels, ", "))
		if len(m.AmountRules) == 0 {
			fmt.Fprintln(w, "    currencies: any")
		}
		for _, r := range m.AmountRules {
			line := "    " + r.Currency
			if r.Min > 0 {
				line += " min " + core.Money{Value: r.Min, Currency: r.Currency}.String()
			}
			if r.Max > 0 {
				line += " max " + core.Money{Value: r.Max, Currency: r.Currency}.String()
			}
			if r.ReportedInSettlement {
				line += " (reported in the settlement currency)"
			}
			fmt.Fprintln(w, line)
		}
	}
	caps := make([]string, len(d.Capabilities))
	for i, c := range d.Capabilities {
		caps[i] = string(c)
	}
	fmt.Fprintf(w, "\ncapabilities: %s\n", strings.Join(caps, ", "))
	if len(d.QuerySchedule) > 0 {
		s := make([]string, len(d.QuerySchedule))
		for i, q := range d.QuerySchedule {
			s[i] = q.String()
		}
		fmt.Fprintf(w, "query schedule: %s\n", strings.Join(s, ", "))
	}
	if d.DefaultExpiry > 0 {
		fmt.Fprintf(w, "default expiry: %s\n", d.DefaultExpiry)
	}
	fmt.Fprintln(w, "\nsettings:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range d.Settings {
		kind := "optional"
		if s.Required {
			kind = "required"
		}
		if s.Secret {
			kind += ", secret"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, kind, s.Description)
	}
	tw.Flush()
}
