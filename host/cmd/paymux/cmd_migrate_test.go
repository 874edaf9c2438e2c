package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateAndBackupCommands drives migrate status, migrate up and backup on a SQLite config,
// then makes the database newer than this binary: both migrate commands refuse it.
func TestMigrateAndBackupCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "paymux.yaml")
	if err := os.WriteFile(cfg, []byte("server: {public_url: http://127.0.0.1:1, api_keys: [demo-key-0123456789]}\nstore: {dsn: state/paymux.db}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	db := filepath.Join(dir, "state", "paymux.db")

	code, out, stderr := runCLI(t, "migrate", "status", "-config", cfg)
	if code != 0 || !strings.Contains(out, "schema version 0") || !strings.Contains(out, "pending  001_init") {
		t.Fatalf("status of a new database: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Error("migrate status created the database")
	}
	code, out, stderr = runCLI(t, "migrate", "up", "-config", cfg)
	if code != 0 || !strings.Contains(out, "migrated: schema version 0 -> ") {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "migrate", "up", "-config", cfg)
	if code != 0 || !strings.Contains(out, "up to date") || strings.Contains(out, "migrated") {
		t.Errorf("second migrate up: exit %d\n%s", code, out)
	}

	backup := filepath.Join(dir, "copy.db")
	code, out, stderr = runCLI(t, "backup", "-config", cfg, "-out", backup)
	if code != 0 || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "backup", "-config", cfg, "-out", backup); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("backup over an existing file: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "backup", "-config", cfg); code != 2 || !strings.Contains(stderr, "-out FILE is required") {
		t.Errorf("backup without -out: exit %d\n%s", code, stderr)
	}

	// A database migrated by a newer paymux.
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(context.Background(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 'x')")
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"status", "up"} {
		code, out, stderr := runCLI(t, "migrate", verb, "-config", cfg)
		if code != 1 || !strings.Contains(out, "unknown  999_from_the_future") || !strings.Contains(stderr, "newer than this binary") {
			t.Errorf("migrate %s on a newer schema: exit %d\n%s%s", verb, code, out, stderr)
		}
	}

	pg := filepath.Join(dir, "pg.yaml")
	os.WriteFile(pg, []byte("server: {public_url: http://127.0.0.1:1, api_keys: [demo-key-0123456789]}\nstore: {driver: postgres, dsn: \"postgres://u@127.0.0.1:1/x\"}\n"), 0o600)
	if code, _, stderr := runCLI(t, "backup", "-config", pg, "-out", filepath.Join(dir, "pg.db")); code != 1 || !strings.Contains(stderr, "pg_dump") {
		t.Errorf("backup of a postgres store: exit %d\n%s", code, stderr)
	}
}
