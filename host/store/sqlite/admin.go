package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
)

// cleanPath is the file path of a DSN as Open accepts it.
func cleanPath(dsn string) (string, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return "", fmt.Errorf("sqlite store: need a file path without '?' or '#', got %q", path)
	}
	return path, nil
}

// openReadOnly opens an existing database file for reading; it never creates one.
func openReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return db, nil
}

// SchemaStatus reads the schema version of the database at dsn without changing anything
// (no migration runs, no file is created). A missing file has applied nothing.
func SchemaStatus(ctx context.Context, dsn string) (*migrations.Status, error) {
	path, err := cleanPath(dsn)
	if err != nil {
		return nil, err
	}
	db, err := openReadOnly(path)
	if errors.Is(err, fs.ErrNotExist) {
		return sqlbase.ReadStatus(ctx, nil, migrations.SQLite, false)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return sqlbase.ReadStatus(ctx, sqlbase.SQLConn{DB: db}, migrations.SQLite, n > 0)
}

// Backup writes a consistent copy of the database at dsn to out while the database is in use:
// VACUUM INTO reads one snapshot (a read transaction; writers carry on in the WAL) and writes a
// compact, self-contained database file (no -wal or -shm beside it). The copy is written under
// a temporary name, synced, checked with PRAGMA integrity_check and renamed to out, which must
// not exist. It returns the copy's schema status.
func Backup(ctx context.Context, dsn, out string) (*migrations.Status, error) {
	path, err := cleanPath(dsn)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("%s exists; a backup never overwrites a file", out)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %w", err)
	}
	defer db.Close()
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	_ = os.Remove(tmp) // left by an interrupted backup
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("backup of %s: %w", path, err)
	}
	st, err := checkBackup(ctx, tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync() // make the rename durable
		d.Close()
	}
	return st, nil
}

// checkBackup syncs a written copy to disk and checks it: integrity and a schema this binary
// can read.
func checkBackup(ctx context.Context, file string) (*migrations.Status, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("syncing the backup: %w", err)
	}
	db, err := openReadOnly(file)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return nil, fmt.Errorf("checking the backup: %w", err)
	}
	if res != "ok" {
		return nil, fmt.Errorf("the backup fails PRAGMA integrity_check: %s", res)
	}
	return sqlbase.ReadStatus(ctx, sqlbase.SQLConn{DB: db}, migrations.SQLite, true)
}
