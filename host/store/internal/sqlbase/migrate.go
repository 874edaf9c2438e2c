package sqlbase

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/paymux/paymux/host/store/migrations"
)

// Migrate applies the pending migrations of dialect in tx, which the caller commits. lockSQL,
// when set, is run first to serialise hosts that start at the same moment (PostgreSQL: a
// transaction-scoped advisory lock; SQLite's IMMEDIATE transaction is lock enough). Migrations
// that the database has but this binary does not know are an error: an older binary must not
// run against a newer schema.
func Migrate(ctx context.Context, tx Conn, d *Dialect, dialect migrations.Dialect, lockSQL string) (applied []int, err error) {
	return MigrateTo(ctx, tx, d, dialect, lockSQL, 0)
}

// MigrateTo is Migrate up to and including version upTo (0: all). The upgrade tests use it to
// build a database at an earlier schema.
func MigrateTo(ctx context.Context, tx Conn, d *Dialect, dialect migrations.Dialect, lockSQL string, upTo int) (applied []int, err error) {
	ms, err := migrations.Load(dialect)
	if err != nil {
		return nil, err
	}
	if upTo > 0 {
		ms = slices.DeleteFunc(ms, func(m migrations.Migration) bool { return m.Version > upTo })
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
	if upTo > 0 {
		return applied, nil
	}
	for v := range have {
		if !known[v] {
			return nil, fmt.Errorf("migrate: the database has migration %d, which this paymux does not know: it is newer than this binary", v)
		}
	}
	return applied, nil
}

// ReadStatus reads schema_migrations through c and compares it with the migrations of
// dialect. It changes nothing; a database without the table has applied nothing.
func ReadStatus(ctx context.Context, c Conn, dialect migrations.Dialect, hasTable bool) (*migrations.Status, error) {
	known, err := migrations.Load(dialect)
	if err != nil {
		return nil, err
	}
	var applied []migrations.Applied
	if hasTable {
		rows, err := c.Query(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
		if err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		for rows.Next() {
			var a migrations.Applied
			if err := rows.Scan(&a.Version, &a.Name, &a.AppliedAt); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read schema_migrations: %w", err)
			}
			applied = append(applied, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	return migrations.Compare(known, applied), nil
}
