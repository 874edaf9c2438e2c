// Package postgres is the store for more than one host: PostgreSQL through pgx (pgxpool).
// Unique constraints carry idempotency and dedupe across hosts, SELECT ... FOR UPDATE
// serialises changes to one payment, and the janitor's and the outbox's claims use FOR UPDATE
// SKIP LOCKED with a lease, so several hosts share the work without handing one item to two of
// them. Migrations run at Open under a transaction-scoped advisory lock, so hosts that start
// together apply them once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
	"github.com/paymux/paymux/host/store/migrations"
)

func init() {
	store.Register("postgres", func(ctx context.Context, dsn string) (store.Store, error) { return Open(ctx, dsn) })
}

// Store is a store.Store on a PostgreSQL database (in the schema the DSN's search_path names).
type Store struct {
	sqlbase.Queries
	pool  *pgxpool.Pool
	group *groupWriter // the raw notification inserts (see group.go)
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.BacklogReader = (*Store)(nil)
	_ store.Pruner        = (*Store)(nil)
)

var dialect = &sqlbase.Dialect{
	Name:       "postgres",
	Dollar:     true,
	ForUpdate:  " FOR UPDATE",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	Constraint: func(err error) string {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.Code == "23505" {
			if e.ConstraintName != "" {
				return e.ConstraintName
			}
			return "unique"
		}
		return ""
	},
	ForeignKey: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23503"
	},
}

// migrationLock serialises migrations per schema: two hosts starting on one database wait
// for each other, while tests in separate schemas do not.
const migrationLock = `SELECT pg_advisory_xact_lock(hashtext('paymux.migrations.' || current_schema()))`

// Open connects to the database at dsn (a postgres:// URL or key=value string; pool settings
// such as pool_max_conns are accepted, see ParseConfig) and applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// DefaultMaxConns is the pool size when the DSN does not set pool_max_conns: 4 x CPUs, at
// least 8. pgxpool's own default, max(4, CPUs), let too few transactions share a WAL flush
// (PostgreSQL flushes once for every backend waiting on it); far more connections than cores
// only add context switches, now that a transaction is two round trips (see pipeTx). On the
// 2-core build machine, 64 intake callers did best with 8 (p99 about half that of 32, and
// the same or better throughput; 4 lost a fifth of it). The connections open on demand; mind
// the server's max_connections when several hosts share it.
var DefaultMaxConns = int32(max(8, 4*runtime.NumCPU()))

// ParseConfig parses dsn as pgxpool.ParseConfig does and sets MaxConns to DefaultMaxConns
// unless the DSN says pool_max_conns.
func ParseConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: say what is wrong without echoing it.
		return nil, core.Errorf(core.ECONFIG, "postgres store: malformed DSN")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	return cfg, nil
}

// OpenConfig is Open with a parsed pool configuration.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, core.WrapError(core.EINTERNAL, err, "postgres store: connect")
	}
	s := &Store{pool: pool, Queries: sqlbase.Queries{C: pgConn{pool}, D: dialect}}
	if err := s.inTx(ctx, func(c sqlbase.Conn) error {
		_, err := sqlbase.Migrate(ctx, c, dialect, migrations.Postgres, migrationLock)
		return err
	}); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	s.group = newGroupWriter(pool, GroupWriters, DefaultGroupBatch)
	return s, nil
}

// pgConn adapts a pool, connection or transaction to sqlbase.Conn.
type pgConn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

func (c pgConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (c pgConn) Query(ctx context.Context, query string, args ...any) (sqlbase.Rows, error) {
	return c.q.Query(ctx, query, args...)
}

type tx struct{ sqlbase.Queries }

// InTx implements store.Store. A serialisation failure or deadlock (which READ COMMITTED with
// row locks can still meet when two transactions lock in different orders) is retried up to
// three times.
func (s *Store) InTx(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = s.pipeTx(ctx, fn)
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// pipeTx runs fn in one pipelined transaction (see pipeTx). When fn returns nil but one of
// its held-back writes failed, that write's error is returned, as fn would have returned it.
func (s *Store) pipeTx(ctx context.Context, fn func(store.Tx) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: begin transaction")
	}
	t := &pipeTx{conn: conn}
	done := false
	defer func() {
		if !done {
			t.rollback(ctx)
		}
		conn.Release()
	}()
	if err := fn(tx{sqlbase.Queries{C: t, D: dialect}}); err != nil {
		return err
	}
	err = t.commit(ctx)
	done = err == nil
	return err
}

func retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40001" || e.Code == "40P01")
}

func (s *Store) inTx(ctx context.Context, fn func(sqlbase.Conn) error) error {
	t, err := s.pool.Begin(ctx)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: begin transaction")
	}
	done := false
	defer func() {
		if !done {
			// Rollback with its own deadline: ctx may be the reason we are rolling back.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = t.Rollback(rctx)
			cancel()
		}
	}()
	if err := fn(pgConn{t}); err != nil {
		return err
	}
	done = true
	if err := t.Commit(ctx); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: commit")
	}
	return nil
}

// ClaimDuePayments implements store.Store.
func (s *Store) ClaimDuePayments(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Payment, error) {
	return s.Queries.ClaimDuePayments(ctx, now, limit, lease)
}

// ClaimDueRefunds implements store.Store.
func (s *Store) ClaimDueRefunds(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Refund, error) {
	return s.Queries.ClaimDueRefunds(ctx, now, limit, lease)
}

// ClaimDueEvents implements store.Store.
func (s *Store) ClaimDueEvents(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]*store.Event, error) {
	return s.Queries.ClaimDueEvents(ctx, now, limit, lease)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: postgres unavailable")
	}
	return nil
}

// InsertNotification implements store.Queries: the raw request's insert, the intake's first
// commit, goes through the group writer and shares its transaction with the other intakes
// waiting at the time. It returns once that transaction has committed.
func (s *Store) InsertNotification(ctx context.Context, n *store.Notification) error {
	w, err := sqlbase.NotificationInsert(dialect, n)
	if err != nil {
		return err
	}
	return s.group.do(ctx, w)
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.group.close()
	s.pool.Close()
	return nil
}
