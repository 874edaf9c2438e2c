package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/migrations"
	"github.com/paymux/paymux/host/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "paymux.db"))
	})
}

// TestShared opens one file twice, as two processes would: each has its own writer, so
// their IMMEDIATE transactions meet in SQLite's file lock and busy_timeout.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "paymux.db")
		return open(t, path), open(t, path)
	})
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "paymux.db"))
	ctx := context.Background()
	for _, tc := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"temp_store", "2"}, // MEMORY: the savepoints' statement journal
	} {
		var got string
		if err := s.writer.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	// The reader pool cannot write.
	if _, err := s.reader.ExecContext(ctx, "DELETE FROM payments"); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paymux.db")
	a := open(t, path)
	b := open(t, path) // reopening applies nothing
	var n int
	if err := b.reader.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.Load(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	// A database from a newer paymux is refused.
	if _, err := a.writer.ExecContext(context.Background(), "INSERT INTO schema_migrations VALUES (999, 'future', 'x')"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "/tmp/x.db?mode=memory"} {
		_, err := Open(context.Background(), dsn)
		if core.ErrorCode(err) != core.ECONFIG {
			t.Errorf("Open(%q) = %v, want a config error", dsn, err)
		}
	}
	s, err := store.Open(context.Background(), "sqlite", "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := store.Open(context.Background(), "oracle", "x"); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("unknown driver: %v", err)
	}
}

// BenchmarkStore measures on a file next to the module (not /tmp, which may be tmpfs and
// never sync), so that the figures include the disk's real durable commit.
func BenchmarkStore(b *testing.B) {
	dir, err := os.MkdirTemp(".", "bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	for _, tc := range []struct {
		name string
		opts Options
	}{{"group", Options{}}, {"nogroup", Options{MaxBatch: 1}}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := OpenOptions(context.Background(), filepath.Join(dir, tc.name+".db"), tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			storetest.Bench(b, s, dir)
			commits, txs := s.CommitStats()
			b.Logf("%s: %d commits carried %d transactions", tc.name, commits, txs)
		})
	}
}

// BenchmarkNotificationOutcome: the intake transaction's second notification write, narrow
// (UpdateNotificationOutcome) against full (UpdateNotification), paired.
func BenchmarkNotificationOutcome(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "paymux.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchNotificationOutcome(b, s)
}

// TestFilesArePrivate: a new database file, and the WAL and shared-memory files SQLite makes
// beside it, are readable by their owner only; an existing file keeps its mode.
func TestFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "paymux.db")
	s := open(t, path)
	if _, err := s.writer.ExecContext(context.Background(), "CREATE TABLE mode_probe (x)"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	open(t, existing)
	if fi, _ := os.Stat(existing); fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing file's mode changed to %#o", fi.Mode().Perm())
	}
}
