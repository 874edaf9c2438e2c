// Command paymux is the paymux host: the REST API merchants call, and the tools operators use
// (serve, config check, plugins pin, reconcile, migrate, backup, sim, bench). Each subcommand
// lives in its own cmd_*.go file and registers itself in init.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/paymux/paymux/host/config"
)

// command is one subcommand. name may contain a space ("config check").
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
	// hidden commands are internal (started by paymux itself) and left out of the usage.
	hidden bool
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("paymux: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage means the usage (or a flag error and the usage) has been printed already: main
// exits 2 without printing anything more.
var errUsage = errors.New("usage")

// usageError is a wrong invocation that main prints once, with a pointer to the help, and
// exits 2. errors.Is(err, errUsage) holds for it.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef reports a wrong invocation (exit 2).
func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parseFlags parses args into fs. -h and -help give flag.ErrHelp (the usage is printed, exit
// 0); any other flag error has been printed by the flag package with the usage, so it becomes
// errUsage and is not printed a second time.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

// noArgs refuses positional arguments a command does not take.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// configFlag defines the one -config flag every command that reads a config takes. Its default
// is $PAYMUX_CONFIG, else paymux.yaml in the working directory.
func configFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("config", defaultConfigPath(), what+" (default from $PAYMUX_CONFIG, else paymux.yaml)")
}

// defaultConfigPath is $PAYMUX_CONFIG when set, else paymux.yaml.
func defaultConfigPath() string {
	if p := os.Getenv("PAYMUX_CONFIG"); p != "" {
		return p
	}
	return "paymux.yaml"
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: paymux <command> [flags]\n\ncommands:\n")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun paymux help <command> (or paymux <command> -h) for a command's flags; paymux --version\n"+
		"prints the version. Commands that read a config take -config FILE (default $PAYMUX_CONFIG,\n"+
		"else paymux.yaml).\n")
}

// commandNames lists the commands shown in the usage, sorted.
func commandNames() []string {
	var names []string
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// lookup finds the command for args: two-word commands ("config check") first.
func lookup(args []string) (*command, []string) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:]
		}
	}
	if len(args) >= 1 {
		if c, ok := commands[args[0]]; ok {
			return c, args[1:]
		}
	}
	return nil, nil
}

// unknownCommand explains why args name no command: a group word without its subcommand
// ("config"), or a typo, with the closest command when one is near.
func unknownCommand(args []string) string {
	var group []string
	for _, n := range commandNames() {
		if first, _, ok := strings.Cut(n, " "); ok && first == args[0] {
			group = append(group, n)
		}
	}
	if len(group) > 0 && (len(args) == 1 || strings.HasPrefix(args[1], "-")) {
		return fmt.Sprintf("%q needs a subcommand: %s", args[0], strings.Join(group, ", "))
	}
	name := args[0]
	if len(group) > 0 {
		name = args[0] + " " + args[1]
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if s := closestCommand(name); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// closestCommand is the visible command nearest to name by edit distance, when it is near
// enough to be a typo.
func closestCommand(name string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	for _, n := range commandNames() {
		if d := config.EditDistance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args and returns the exit code: 0 done (help included), 1 the command failed
// (its error printed once), 2 a wrong invocation.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-version", "--version":
		args = []string{"version"}
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		c, rest := lookup(args[1:])
		if c == nil || len(rest) > 0 {
			fmt.Fprintf(stderr, "paymux help: %s\n", unknownCommand(args[1:]))
			return 2
		}
		args = append(strings.Fields(c.name), "-h")
	}
	c, rest := lookup(args)
	if c == nil {
		fmt.Fprintf(stderr, "paymux: %s\nRun paymux help for the list of commands.\n", unknownCommand(args))
		return 2
	}
	err := c.run(ctx, rest)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "paymux %s: %s\nRun paymux help %s for its flags.\n", c.name, ue.msg, c.name)
		return 2
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "paymux %s: %v\n", c.name, err)
		return 1
	}
}
