package postgres

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/migrations"
	"github.com/paymux/paymux/host/store/storetest"
)

// testSchema creates a fresh schema named after a random id in the database of
// PAYMUX_TEST_POSTGRES_DSN (or skips) and drops it when t ends. It returns a pool config whose
// connections use that schema.
func testSchema(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := os.Getenv("PAYMUX_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PAYMUX_TEST_POSTGRES_DSN is not set: skipping the PostgreSQL store tests " +
			"(e.g. PAYMUX_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	cfg, err := ParseConfig(dsn)
	if err != nil {
		t.Fatalf("PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatalf("connect to PAYMUX_TEST_POSTGRES_DSN: %v", err)
	}
	defer admin.Close(ctx)
	schema := "paymux_test_" + store.NewID("")[:16]
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

func open(t testing.TB, cfg *pgxpool.Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, testSchema(t)) })
}

// TestShared runs two stores with their own pools on one schema: two hosts on one database.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		cfg := testSchema(t)
		return open(t, cfg), open(t, cfg)
	})
}

// TestConcurrentMigrations starts four hosts at once on an empty schema: the advisory lock
// lets one apply the migrations and the others find them applied.
func TestConcurrentMigrations(t *testing.T) {
	cfg := testSchema(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := OpenConfig(context.Background(), cfg.Copy())
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := open(t, cfg)
	rows, err := s.pool.Query(context.Background(), "SELECT version FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.Load(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(versions)
	want := make([]int32, len(ms))
	for i, m := range ms {
		want[i] = int32(m.Version)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("schema_migrations = %v, want %v", versions, want)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:s3cret@[::1")
	if core.ErrorCode(err) != core.ECONFIG || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("malformed DSN: %v", err)
	}
}

// BenchmarkStore measures against PAYMUX_TEST_POSTGRES_DSN; the fdatasync reference runs on
// the local disk, which is the server's only when the server is local.
func BenchmarkStore(b *testing.B) {
	s := open(b, testSchema(b))
	storetest.Bench(b, s, b.TempDir())
}
