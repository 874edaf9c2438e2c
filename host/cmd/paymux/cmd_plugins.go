package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/plugins/sdk"
)

func init() {
	register(&command{name: "plugins pin", summary: "write each plugin binary's SHA-256 into the config file", run: runPluginsPin})
}

func runPluginsPin(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("plugins pin", flag.ContinueOnError)
	file := fs.String("config", "paymux.yaml", "config file to update")
	bin := fs.String("bin", "", "hash the binaries in this directory (same base names) instead of the configured paths; the paths in the file are kept")
	dryRun := fs.Bool("n", false, "print what would change without writing the file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux plugins pin [-config FILE] [-bin DIR] [-n]\n\n"+
			"Hashes each configured plugin binary and writes the SHA-256 into the file's sha256: fields,\n"+
			"keeping comments and formatting. Prints old -> new per plugin.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
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
		if binDir != "" {
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
