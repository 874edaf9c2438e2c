package sqlbase

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
)

// SQLConn adapts a *sql.DB, *sql.Conn or *sql.Tx to Conn.
type SQLConn struct {
	DB interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
}

// Exec implements Conn.
func (c SQLConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.DB.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query implements Conn.
func (c SQLConn) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := c.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// Route sends plain SELECTs to Read and everything else (including UPDATE ... RETURNING) to
// Write. SQLite uses it to let reads run on a pool while writes go through its one writer.
type Route struct{ Read, Write Conn }

// Exec implements Conn.
func (r Route) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return r.Write.Exec(ctx, query, args...)
}

// Query implements Conn.
func (r Route) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if strings.HasPrefix(query, "SELECT ") {
		return r.Read.Query(ctx, query, args...)
	}
	return r.Write.Query(ctx, query, args...)
}

// StmtCache keeps prepared statements of one *sql.DB, so that hot statements are parsed once
// per connection rather than on every call (SQLite spends a good share of a small write in
// its parser). database/sql re-uses a statement prepared on a connection when a transaction on
// that connection asks for it (Tx.StmtContext), so the cache serves transactions too.
//
// Inside a transaction a missing statement cannot be prepared on the DB: with one writer
// connection, the transaction holds it and the prepare would wait forever. Such statements run
// unprepared and are remembered; PreparePending prepares them once the connection is free.
type StmtCache struct {
	DB *sql.DB

	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

// maxCached bounds the cache: list queries with IN (...) of varying length are not worth
// keeping.
const maxCached = 256

func (c *StmtCache) get(ctx context.Context, query string, inTx bool) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	if len(c.m)+len(c.pending) >= maxCached {
		return nil, nil
	}
	if inTx {
		if c.pending == nil {
			c.pending = map[string]bool{}
		}
		c.pending[query] = true
		return nil, nil
	}
	return c.prepare(ctx, query)
}

// PreparePending prepares the statements that transactions missed. Call it when no
// transaction holds the connection.
func (c *StmtCache) PreparePending(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.pending {
		delete(c.pending, q)
		if _, err := c.prepare(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (c *StmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	s, err := c.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = s
	return s, nil
}

// Close closes the cached statements.
func (c *StmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.m {
		errs = append(errs, s.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// CachedConn runs statements through a StmtCache, in Tx when it is set.
type CachedConn struct {
	Cache *StmtCache
	Tx    *sql.Tx
}

func (c CachedConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s, err := c.Cache.get(ctx, query, c.Tx != nil)
	if err != nil || s == nil {
		return nil, err
	}
	if c.Tx != nil {
		return c.Tx.StmtContext(ctx, s), nil
	}
	return s, nil
}

func (c CachedConn) plain() SQLConn {
	if c.Tx != nil {
		return SQLConn{DB: c.Tx}
	}
	return SQLConn{DB: c.Cache.DB}
}

// Exec implements Conn.
func (c CachedConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	if s == nil {
		return c.plain().Exec(ctx, query, args...)
	}
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query implements Conn.
func (c CachedConn) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.plain().Query(ctx, query, args...)
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}
