package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/paymux/paymux/host/config"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/migrations"
	"github.com/paymux/paymux/host/store/postgres"
	"github.com/paymux/paymux/host/store/sqlite"
)

func init() {
	register(&command{name: "migrate status", summary: "show the database's schema version and the migrations this binary would apply", run: func(ctx context.Context, args []string) error {
		return runMigrate(ctx, "status", args, os.Stdout)
	}})
	register(&command{name: "migrate up", summary: "apply pending schema migrations (refused when the database is newer than this binary)", run: func(ctx context.Context, args []string) error {
		return runMigrate(ctx, "up", args, os.Stdout)
	}})
	register(&command{name: "backup", summary: "write a consistent copy of a running SQLite store (PostgreSQL: see docs/operations.md)", run: func(ctx context.Context, args []string) error {
		return runBackup(ctx, args, os.Stdout)
	}})
}

func runMigrate(ctx context.Context, verb string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate "+verb, flag.ContinueOnError)
	file := configFlag(fs, "config file whose store: section names the database")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on connecting and migrating")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux migrate %s [-config FILE]\n\n", verb)
		if verb == "status" {
			fmt.Fprintf(fs.Output(), "Prints the schema version of the configured database, the migrations applied and those this\n"+
				"binary would apply; changes nothing. Exits 1 when the database is newer than this binary.\n\n")
		} else {
			fmt.Fprintf(fs.Output(), "Applies the pending migrations in one transaction (PostgreSQL: under an advisory lock, so\n"+
				"replicas starting at the same time wait). paymux serve does the same when it starts; run this\n"+
				"to migrate before rolling out new replicas. Refused when the database is newer than this binary.\n\n")
		}
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st, err := schemaStatus(ctx, cfg.Store)
	if err != nil {
		return err
	}
	printSchemaStatus(stdout, cfg.Store.Driver, st)
	if err := st.TooNew(); err != nil {
		return err
	}
	if verb == "status" || len(st.Pending) == 0 {
		return nil
	}
	s, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN.Value())
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	after, err := schemaStatus(ctx, cfg.Store)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated: schema version %d -> %d\n", st.Version(), after.Version())
	return nil
}

// schemaStatus asks the configured driver for the schema status without migrating.
func schemaStatus(ctx context.Context, s config.Store) (*migrations.Status, error) {
	switch s.Driver {
	case "sqlite":
		return sqlite.SchemaStatus(ctx, s.DSN.Value())
	case "postgres":
		return postgres.SchemaStatus(ctx, s.DSN.Value())
	}
	return nil, fmt.Errorf("store.driver %q has no migrations", s.Driver)
}

func printSchemaStatus(w io.Writer, driver string, st *migrations.Status) {
	fmt.Fprintf(w, "store: %s, schema version %d\n", driver, st.Version())
	for _, a := range st.Applied {
		fmt.Fprintf(w, "  applied  %03d_%s  %s\n", a.Version, a.Name, a.AppliedAt)
	}
	for _, m := range st.Pending {
		fmt.Fprintf(w, "  pending  %03d_%s\n", m.Version, m.Name)
	}
	for _, a := range st.Unknown {
		fmt.Fprintf(w, "  unknown  %03d_%s  %s (newer than this paymux)\n", a.Version, a.Name, a.AppliedAt)
	}
	if len(st.Pending) == 0 && len(st.Unknown) == 0 {
		fmt.Fprintln(w, "up to date")
	}
}

func runBackup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	file := configFlag(fs, "config file whose store: section names the database")
	out := fs.String("out", "", "write the copy to this file (it must not exist)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux backup [-config FILE] -out FILE\n\n"+
			"Writes a consistent copy of the SQLite store while paymux serve keeps running (VACUUM INTO: one\n"+
			"snapshot, writers are not blocked), checks it (integrity_check, schema) and prints its schema\n"+
			"version. Restore by stopping paymux and putting the copy in place of store.dsn (and removing\n"+
			"its -wal and -shm files). For PostgreSQL use pg_dump (docs/operations.md, Backups).\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-out FILE is required")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if cfg.Store.Driver != "sqlite" {
		return errors.New("paymux backup copies SQLite stores; back up PostgreSQL with pg_dump or your provider's snapshots (docs/operations.md, Backups)")
	}
	start := time.Now()
	st, err := sqlite.Backup(ctx, cfg.Store.DSN.Value(), *out)
	if err != nil {
		return err
	}
	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup: %s (%d bytes, schema version %d, integrity ok) in %s\n", *out, info.Size(), st.Version(), time.Since(start).Round(time.Millisecond))
	return nil
}
