package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/paymux/paymux/plugins/sdk"
)

// version and commit are set by the Makefile with -ldflags "-X main.version=... -X
// main.commit=..."; a plain go build falls back to the VCS stamp Go records.
var (
	version = "dev"
	commit  = ""
)

func init() {
	register(&command{name: "version", summary: "print the version, commit, Go version and plugin protocol version", run: runVersion})
}

func runVersion(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux version\n\nPrints the paymux version, the commit it was built from, the Go version and the\n"+
			"provider plugin protocol version this host speaks (a plugin must speak the same).\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	printVersion(os.Stdout)
	return nil
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "paymux %s\ncommit: %s\ngo: %s %s/%s\nplugin protocol: %d\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH, sdk.ProtocolVersion)
}

// buildCommit is the commit from -ldflags, else Go's vcs.revision stamp, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return rev
		}
	}
	return "unknown"
}
