// Command paymux is the paymux host: the REST API merchants call, and the tools operators use
// (serve, config check, plugins pin, reconcile, sim, bench). Each subcommand lives in its own
// cmd_*.go file and registers itself in init.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// command is one subcommand. name may contain a space ("config check").
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("paymux: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage makes main print the usage and exit 2.
var errUsage = errors.New("usage")

func usage() {
	fmt.Fprintf(os.Stderr, "usage: paymux <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", n, commands[n].summary)
	}
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

func main() {
	c, rest := lookup(os.Args[1:])
	if c == nil {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, rest)
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "paymux %s: %v\n", c.name, err)
		os.Exit(1)
	}
}
