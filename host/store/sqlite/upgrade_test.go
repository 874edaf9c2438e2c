package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
	"github.com/paymux/paymux/host/store/storetest"
)

// TestUpgradeFromPreviousSchema builds a database at the previous release's schema with data
// in it, checks that SchemaStatus reports the pending migration without applying it, opens it
// with this store (which migrates) and reads the data back unchanged. The control: a database
// with a migration this binary does not know is reported as too new and refused.
func TestUpgradeFromPreviousSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	prev := storetest.PreviousSchema(t, migrations.SQLite)
	db, err := sql.Open("sqlite", "file:"+path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlbase.MigrateTo(ctx, sqlbase.SQLConn{DB: tx}, dialect, migrations.SQLite, "", prev); err != nil {
		t.Fatal(err)
	}
	seeded := storetest.SeedPrevious(ctx, t, sqlbase.SQLConn{DB: tx}, dialect)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := SchemaStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := migrations.Load(migrations.SQLite)
	if st.Version() != prev || len(st.Pending) != len(all)-prev || st.TooNew() != nil {
		t.Fatalf("status before the upgrade: version %d, %d pending, %v", st.Version(), len(st.Pending), st.TooNew())
	}
	if again, _ := SchemaStatus(ctx, path); again.Version() != prev {
		t.Fatal("SchemaStatus applied migrations")
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckSeeded(t, s, seeded)
	s.Close()
	if st, _ := SchemaStatus(ctx, path); len(st.Pending) != 0 || st.Version() != all[len(all)-1].Version {
		t.Errorf("after the upgrade: version %d, pending %v", st.Version(), st.Pending)
	}

	// Control: a newer schema is reported and refused.
	db, _ = sql.Open("sqlite", "file:"+path)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err = SchemaStatus(ctx, path)
	if err != nil || st.TooNew() == nil || !strings.Contains(st.TooNew().Error(), "999_from_the_future") {
		t.Errorf("too-new status: %v %v", err, st)
	}
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Error("a database newer than this binary was opened")
	}
}

// TestSchemaStatusCreatesNothing: asking about a database that does not exist creates no file.
func TestSchemaStatusCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	st, err := SchemaStatus(context.Background(), path)
	if err != nil || st.Version() != 0 || len(st.Pending) == 0 {
		t.Fatalf("status of a missing file: %v %+v", err, st)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("SchemaStatus created %s", path)
	}
}

// TestBackupOnline copies a database while payments are being written to it: the copy passes
// integrity_check, has the current schema, opens as a store, and holds every payment committed
// before the backup started (and none half-written). The control: a second backup to the same
// file is refused and leaves it alone.
func TestBackupOnline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	insert := func(i int) error {
		now := time.Now().UTC()
		return s.InTx(ctx, func(tx store.Tx) error {
			return tx.InsertPayment(ctx, &store.Payment{ID: store.NewID("pay_"), Account: "a", OutTradeNo: store.NewID("o"), Amount: core.Money{Value: int64(100 + i), Currency: "HKD"},
				Status: core.PaymentPending, CreatedAt: now, UpdatedAt: now})
		})
	}
	const before = 200
	for i := range before {
		if err := insert(i); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var during int
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := insert(before + i); err != nil {
				t.Error(err)
				return
			}
			during++
		}
	}()
	out := filepath.Join(dir, "backup.db")
	st, err := Backup(ctx, path, out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	all, _ := migrations.Load(migrations.SQLite)
	if st.Version() != all[len(all)-1].Version || len(st.Pending) != 0 {
		t.Errorf("backup schema: %d, pending %v", st.Version(), st.Pending)
	}
	for _, suffix := range []string{"-wal", "-shm", ".partial"} {
		if _, err := os.Stat(out + suffix); err == nil {
			t.Errorf("the backup left %s behind", out+suffix)
		}
	}
	b, err := Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var n int
	if err := b.reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < before || n > before+during {
		t.Errorf("backup holds %d payments; %d were committed before it and %d during", n, before, during)
	}
	t.Logf("backup holds %d payments (%d before, %d written during the backup)", n, before, during)

	info, _ := os.Stat(out)
	if _, err := Backup(ctx, path, out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup over an existing file: %v", err)
	}
	if again, _ := os.Stat(out); again.ModTime() != info.ModTime() || again.Size() != info.Size() {
		t.Error("the refused backup changed the existing file")
	}
}
