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
	"io/fs"
	"os"
	"strings"

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
	group  *committer
	wstmts *sqlbase.StmtCache
	rstmts *sqlbase.StmtCache
}

// Options tune a store. The zero value is the default.
type Options struct {
	// MaxBatch is how many waiting transactions one durable commit may carry (group commit,
	// see group.go). 0 means DefaultMaxBatch; 1 turns grouping off (one commit per
	// transaction).
	MaxBatch int
}

// DefaultMaxBatch is the default Options.MaxBatch.
const DefaultMaxBatch = 256

var (
	_ store.Store         = (*Store)(nil)
	_ store.BacklogReader = (*Store)(nil)
	_ store.Pruner        = (*Store)(nil)
)

var dialect = &sqlbase.Dialect{
	Name:         "sqlite",
	TimeAsMicros: true,
	IndexHints:   true,
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

// createPrivate creates the database file readable and writable by its owner only (0600)
// when it does not exist yet: it holds payment and notification data, and SQLite itself would
// create it 0644. SQLite gives the -wal and -shm files the database file's mode. An existing
// file keeps its mode (the operator's choice).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Open opens (creating if needed) the SQLite database at path and applies pending migrations.
// A "sqlite:" or "file:" prefix is accepted and dropped; the path must not contain '?'.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "sqlite:"), "file:")
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, core.Errorf(core.ECONFIG, "sqlite store: need a file path without '?' or '#', got %q", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	const common = "&_busy_timeout=10000&_foreign_keys=1&_synchronous=FULL"
	// temp_store=memory keeps the statement journal of the group commit's savepoints in
	// memory rather than in a temporary file written with a syscall per page.
	wopts := "?_journal_mode=WAL&_txlock=immediate&_pragma=temp_store(memory)"
	writer, err := sql.Open("sqlite", "file:"+path+wopts+common)
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
	if opts.MaxBatch == 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	s.wstmts = &sqlbase.StmtCache{DB: writer}
	s.rstmts = &sqlbase.StmtCache{DB: reader}
	s.group = newCommitter(writer, s.wstmts, opts.MaxBatch)
	s.Queries = sqlbase.Queries{
		C: sqlbase.Route{Read: sqlbase.CachedConn{Cache: s.rstmts}, Write: sqlbase.CachedConn{Cache: s.wstmts}},
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

// InTx implements store.Store. Transactions run on the one writer connection, grouped with
// other waiting transactions into one durable commit (see group.go): fn runs on the
// committer's goroutine, must be quick (no network calls while it holds the writer), and must
// not call methods of s itself (that would wait for the writer fn holds). Statements in fn run
// under the store's batch deadline rather than ctx, because cancelling one SQLite statement
// can roll back the whole shared transaction; ctx still stops fn from starting.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.group.do(ctx, func(c sqlbase.Conn) error {
		return fn(tx{sqlbase.Queries{C: c, D: dialect}})
	})
}

// inTx runs fn in a transaction of its own, outside the committer (for migrations).
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

// CommitStats returns how many durable commits the store has made and how many transactions
// they carried: their ratio is the group commit's batching factor (for metrics).
func (s *Store) CommitStats() (commits, txs int64) {
	return s.group.commits.Load(), s.group.txs.Load()
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

// Close implements store.Store. Transactions already submitted finish first.
func (s *Store) Close() error {
	s.group.close()
	return errors.Join(s.rstmts.Close(), s.wstmts.Close(), s.reader.Close(), s.writer.Close())
}
