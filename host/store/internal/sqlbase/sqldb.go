package sqlbase

import (
	"context"
	"database/sql"
	"strings"
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
