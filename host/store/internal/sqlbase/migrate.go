package sqlbase

import (
	"context"
	"fmt"
	"time"

	"github.com/paymux/paymux/host/store/migrations"
)

// Migrate applies the pending migrations of dialect in tx, which the caller commits. lockSQL,
// when set, is run first to serialise hosts that start at the same moment (PostgreSQL: a
// transaction-scoped advisory lock; SQLite's IMMEDIATE transaction is lock enough). Migrations
// that the database has but this binary does not know are an error: an older binary must not
// run against a newer schema.
func Migrate(ctx context.Context, tx Conn, d *Dialect, dialect migrations.Dialect, lockSQL string) (applied []int, err error) {
	ms, err := migrations.Load(dialect)
	if err != nil {
		return nil, err
	}
	if lockSQL != "" {
		if _, err := tx.Exec(ctx, lockSQL); err != nil {
			return nil, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	have := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		have[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
		if have[m.Version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("migrate: apply %03d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, d.Q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return nil, fmt.Errorf("migrate: record %03d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	for v := range have {
		if !known[v] {
			return nil, fmt.Errorf("migrate: the database has migration %d, which this paymux does not know: it is newer than this binary", v)
		}
	}
	return applied, nil
}
