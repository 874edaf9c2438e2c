// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite, pure Go), in WAL
// mode with synchronous=FULL so that every commit is on disk before it returns (a notification
// acknowledged to a wallet survives a power cut). All writes go through one connection whose
// transactions begin IMMEDIATE, so writers queue in Go instead of failing with SQLITE_BUSY;
// reads use a separate pool and never wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	store.Register("sqlite", func(ctx context.Context, dsn string) (store.Store, error) { return Open(ctx, dsn) })
}

// Store is a store.Store on one SQLite file.
type Store struct {
	sqlbase.Queries // reads on the reader pool, writes on the writer

	path   string
	writer *sql.DB
	reader *sql.DB
}

var _ store.Store = (*Store)(nil)

var dialect = &sqlbase.Dialect{
	Name:         "sqlite",
	TimeAsMicros: true,
	Constraint:   constraint,
	ForeignKey: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
}

// uniqueColumns maps SQLite's "UNIQUE constraint failed: <columns>" to the constraint names
// of migrations/001_init.sql, which PostgreSQL reports directly.
var uniqueColumns = map[string]string{
	"payments.id": "payments_id_key",
	"payments.account, payments.out_trade_no": "payments_account_out_trade_no_key",
	"refunds.id":                                      "refunds_id_key",
	"refunds.account, refunds.out_refund_no":          "refunds_account_out_refund_no_key",
	"idempotency_keys.scope, idempotency_keys.key":    "idempotency_keys_pkey",
	"notifications.id":                                "notifications_id_key",
	"notifications.account, notifications.dedupe_key": "notifications_dedupe_key",
	"events.id": "events_id_key",
}

func constraint(err error) string {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return ""
	}
	if c := e.Code(); c != sqlite3.SQLITE_CONSTRAINT_UNIQUE && c != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return ""
	}
	msg := e.Error()
	_, cols, ok := strings.Cut(msg, "constraint failed: ")
	for ok && strings.Contains(cols, "constraint failed: ") {
		_, cols, _ = strings.Cut(cols, "constraint failed: ")
	}
	cols, _, _ = strings.Cut(cols, " (")
	if name, ok := uniqueColumns[strings.TrimSpace(cols)]; ok {
		return name
	}
	return "unique"
}

// Open opens (creating if needed) the SQLite database at path and applies pending migrations.
// A "sqlite:" or "file:" prefix is accepted and dropped; the path must not contain '?'.
func Open(ctx context.Context, path string) (*Store, error) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite:"), "file:")
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, core.Errorf(core.ECONFIG, "sqlite store: need a file path without '?' or '#', got %q", path)
	}
	const common = "&_busy_timeout=10000&_foreign_keys=1&_synchronous=FULL"
	writer, err := sql.Open("sqlite", "file:"+path+"?_journal_mode=WAL&_txlock=immediate"+common)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	// One writer: transactions queue for this connection in Go rather than spinning on
	// SQLITE_BUSY, and commits happen one at a time as SQLite requires anyway.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{path: path, writer: writer}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	reader, err := sql.Open("sqlite", "file:"+path+"?_query_only=1"+common)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	reader.SetMaxOpenConns(8)
	reader.SetMaxIdleConns(8)
	s.reader = reader
	s.Queries = sqlbase.Queries{
		C: sqlbase.Route{Read: sqlbase.SQLConn{DB: reader}, Write: sqlbase.SQLConn{DB: writer}},
		D: dialect,
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	return s.inTx(ctx, func(c sqlbase.Conn) error {
		if _, err := sqlbase.Migrate(ctx, c, dialect, migrations.SQLite, ""); err != nil {
			return fmt.Errorf("sqlite store %s: %w", s.path, err)
		}
		return nil
	})
}

// tx is one SQLite transaction.
type tx struct{ sqlbase.Queries }

// InTx implements store.Store. Transactions run on the one writer connection, so fn must not
// call methods of s itself (that would wait for the connection fn holds).
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.inTx(ctx, func(c sqlbase.Conn) error {
		return fn(tx{sqlbase.Queries{C: c, D: dialect}})
	})
}

func (s *Store) inTx(ctx context.Context, fn func(sqlbase.Conn) error) (err error) {
	t, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: begin transaction")
	}
	done := false
	defer func() {
		if !done {
			_ = t.Rollback()
		}
	}()
	if err := fn(sqlbase.SQLConn{DB: t}); err != nil {
		return err
	}
	done = true
	if err := t.Commit(); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: commit")
	}
	return nil
}

// ClaimDuePayments implements store.Store.
func (s *Store) ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Payment, error) {
	return s.writeQueries().ClaimDuePayments(ctx, now, limit, lease)
}

// ClaimDueRefunds implements store.Store.
func (s *Store) ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Refund, error) {
	return s.writeQueries().ClaimDueRefunds(ctx, now, limit, lease)
}

// ClaimDueEvents implements store.Store.
func (s *Store) ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Event, error) {
	return s.writeQueries().ClaimDueEvents(ctx, now, limit, lease)
}

func (s *Store) writeQueries() sqlbase.Queries {
	return sqlbase.Queries{C: sqlbase.SQLConn{DB: s.writer}, D: dialect}
}

// Ping implements store.Store: both pools must answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: sqlite writer unavailable")
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: sqlite reader unavailable")
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}
