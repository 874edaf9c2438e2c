package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
	"github.com/paymux/paymux/host/store/storetest"
)

// TestUpgradeFromPreviousSchema builds a schema at the previous release's version with data in
// it, checks that SchemaStatus reports the pending migration without applying it, opens it with
// this store (which migrates under the advisory lock) and reads the data back unchanged. The
// control: a schema with a migration this binary does not know is reported and refused.
func TestUpgradeFromPreviousSchema(t *testing.T) {
	ctx := context.Background()
	cfg := testSchema(t)
	prev := storetest.PreviousSchema(t, migrations.Postgres)
	pool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlbase.MigrateTo(ctx, pgConn{tx}, dialect, migrations.Postgres, migrationLock, prev); err != nil {
		t.Fatal(err)
	}
	seeded := storetest.SeedPrevious(ctx, t, pgConn{tx}, dialect)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	all, _ := migrations.Load(migrations.Postgres)
	st, err := SchemaStatusConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version() != prev || len(st.Pending) != len(all)-prev || st.TooNew() != nil {
		t.Fatalf("status before the upgrade: version %d, %d pending, %v", st.Version(), len(st.Pending), st.TooNew())
	}

	s := open(t, cfg)
	storetest.CheckSeeded(t, s, seeded)
	if st, _ := SchemaStatusConfig(ctx, cfg); len(st.Pending) != 0 || st.Version() != all[len(all)-1].Version {
		t.Errorf("after the upgrade: version %d, pending %v", st.Version(), st.Pending)
	}

	// Control: a newer schema is reported and refused.
	if _, err := pool.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z')"); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	st, err = SchemaStatusConfig(ctx, cfg)
	if err != nil || st.TooNew() == nil || !strings.Contains(st.TooNew().Error(), "999_from_the_future") {
		t.Errorf("too-new status: %v %v", err, st)
	}
	if s, err := OpenConfig(ctx, cfg.Copy()); err == nil {
		s.Close()
		t.Error("a schema newer than this binary was opened")
	}
}
