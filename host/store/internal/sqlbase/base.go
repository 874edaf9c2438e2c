// Package sqlbase is the SQL shared by the SQLite and PostgreSQL stores: every query is written
// once here, against a small Conn interface that each driver adapts (database/sql for SQLite,
// pgx for PostgreSQL), and a Dialect that names the few differences (placeholders, time
// encoding, row locks, error codes).
package sqlbase

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Conn runs statements: a pool, a connection or a transaction.
type Conn interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Rows is the subset of *sql.Rows and pgx.Rows the queries use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is what differs between the databases.
type Dialect struct {
	Name string
	// Dollar placeholders ($1, $2, ...) instead of ?.
	Dollar bool
	// ForUpdate is appended to the row-locking reads (" FOR UPDATE"), SkipLocked to the
	// claiming subqueries (" FOR UPDATE SKIP LOCKED"); both empty for SQLite, whose write
	// transactions already exclude each other.
	ForUpdate  string
	SkipLocked string
	// TimeAsMicros stores times as integer microseconds (SQLite) instead of native timestamps.
	TimeAsMicros bool
	// IndexHints names the index of a bounded batch in the query (SQLite's INDEXED BY; see
	// IndexedBy).
	IndexHints bool
	// Constraint returns the name of the unique constraint err violates, in the PostgreSQL
	// naming of migrations/001_init.sql, or "" when err is no unique violation.
	Constraint func(err error) string
	// ForeignKey reports whether err is a foreign key violation.
	ForeignKey func(err error) bool

	rebound sync.Map // query with ? -> query with $n
}

// IndexedBy returns the clause that makes SQLite read a table through the named index (a
// statement the index cannot serve then fails to prepare, loudly), or "" where the planner
// has statistics to choose well (PostgreSQL). The janitor's, the dispatcher's and the
// pruner's batches use it for their partial index: SQLite keeps no statistics, and given a
// (status, seq) index too it chose that one and sorted every row of the status to take a
// batch (every delivered event, 1.4 s a batch, at 10 million payments).
func (d *Dialect) IndexedBy(index string) string {
	if !d.IndexHints {
		return ""
	}
	return " INDEXED BY " + index
}

// Q rewrites a query written with ? placeholders for the dialect.
func (d *Dialect) Q(query string) string {
	if !d.Dollar {
		return query
	}
	if v, ok := d.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	d.rebound.Store(query, out)
	return out
}

// T encodes a time for the dialect: NULL when zero, else UTC truncated to the microsecond.
func (d *Dialect) T(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if d.TimeAsMicros {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Now is the store's clock: UTC, microsecond precision, as stored.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// norm makes t what a round trip through the database would make it.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeScanner scans a nullable time column of either dialect.
type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

func tm(t *time.Time) timeScanner { return timeScanner{t} }

// internal wraps a database failure with what was being done; its code is EINTERNAL.
func internal(err error, format string, args ...any) error {
	if e, ok := heldBack(err); ok {
		return e
	}
	return core.WrapError(core.EINTERNAL, err, "store: "+format, args...)
}

// classify turns a driver error into a store error: unique violations become ECONFLICT with
// the message conflict gives for the constraint, foreign key violations ENOTFOUND with fkMsg,
// anything else EINTERNAL with what.
func (d *Dialect) classify(err error, what string, conflict func(constraint string) string, fkMsg string) error {
	if err == nil {
		return nil
	}
	if e, ok := heldBack(err); ok {
		return e
	}
	if c := d.Constraint(err); c != "" && conflict != nil {
		return core.WrapError(core.ECONFLICT, err, "%s", conflict(c))
	}
	if fkMsg != "" && d.ForeignKey(err) {
		return core.WrapError(core.ENOTFOUND, err, "%s", fkMsg)
	}
	return internal(err, "%s", what)
}

func limitOf(n int) int {
	switch {
	case n <= 0:
		return store.DefaultPageSize
	case n > store.MaxPageSize:
		return store.MaxPageSize
	}
	return n
}

func parseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(c, 10, 64)
	if err != nil || v <= 0 {
		return 0, core.Errorf(core.EINVALID, "malformed page cursor %q", c)
	}
	return v, nil
}

// where accumulates filter conditions.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+ph+")", args...)
}

// inOrNone adds "col IN (vals)" when vals is not nil and reports false when vals is empty but
// not nil: the filter matches nothing, and the caller answers an empty page without a query.
func (w *where) inOrNone(col string, vals []string) bool {
	if vals == nil {
		return true
	}
	if len(vals) == 0 {
		return false
	}
	if len(vals) > store.MaxPageSize {
		vals = vals[:store.MaxPageSize]
	}
	w.in(col, vals)
	return true
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page runs a newest-first list query: cols FROM table + filter, with cursor and limit, and
// scans each row with scan (which must scan seq first).
func page[T any](ctx context.Context, c Conn, d *Dialect, cols, table string, w *where, cursor string, limit int,
	scan func(Rows) (T, int64, error)) ([]T, string, error) {
	after, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if after > 0 {
		w.add("seq < ?", after)
	}
	n := limitOf(limit)
	q := "SELECT " + cols + " FROM " + table + w.sql() + " ORDER BY seq DESC LIMIT " + strconv.Itoa(n+1)
	rows, err := c.Query(ctx, d.Q(q), w.args...)
	if err != nil {
		return nil, "", internal(err, "list %s", table)
	}
	defer rows.Close()
	var out []T
	var last int64
	next := ""
	for rows.Next() {
		if len(out) == n {
			next = strconv.FormatInt(last, 10)
			break
		}
		v, seq, err := scan(rows)
		if err != nil {
			return nil, "", internal(err, "scan %s", table)
		}
		out = append(out, v)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal(err, "list %s", table)
	}
	return out, next, nil
}

// one scans the single row of a query, or returns ENOTFOUND with notFound.
func one[T any](ctx context.Context, c Conn, q string, args []any, scan func(Rows) (T, int64, error), what, notFound string) (T, error) {
	var zero T
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return zero, internal(err, "%s", what)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return zero, internal(err, "%s", what)
		}
		return zero, core.Errorf(core.ENOTFOUND, "%s", notFound)
	}
	v, _, err := scan(rows)
	if err != nil {
		return zero, internal(err, "scan: %s", what)
	}
	return v, nil
}

// all scans every row of a query.
func all[T any](ctx context.Context, c Conn, q string, args []any, scan func(Rows) (T, int64, error), what string) ([]T, error) {
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return nil, internal(err, "%s", what)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, _, err := scan(rows)
		if err != nil {
			return nil, internal(err, "scan: %s", what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, internal(err, "%s", what)
	}
	return out, nil
}

// Deferrer is a Conn of a transaction that may hold back writes whose only result is an error
// (PostgreSQL pipelines them with the next statement that needs an answer, or with COMMIT, so
// that a transaction of N such writes costs one round trip instead of N). The held-back
// statements run in the order they were deferred and before any later statement, so the
// transaction sees its own writes; check turns a statement's outcome (rows affected, driver
// error) into the store error the write would have returned. When a check fails, the Conn
// returns that error from the statement that flushed it and from every later one, and the
// transaction cannot commit: InTx returns the error, as it would have had fn returned it.
//
// needRows says that check fails when the statement affected no row: the Conn must then make
// the failure abort the transaction on the server too, since COMMIT may be in the same batch.
type Deferrer interface {
	Defer(query string, args []any, needRows bool, check func(rows int64, err error) error)
}

// HeldBackError carries a held-back write's store error (ECONFLICT, ENOTFOUND, ...) out of the
// statement that flushed it. internal and classify return the write's error unchanged rather
// than wrapping it as a failure of that statement, so fn sees the code the write would have
// returned.
type HeldBackError struct{ Err error }

func (e *HeldBackError) Error() string { return e.Err.Error() }
func (e *HeldBackError) Unwrap() error { return e.Err }

// heldBack returns the write's error when err carries one.
func heldBack(err error) (error, bool) {
	var h *HeldBackError
	if errors.As(err, &h) {
		return h.Err, true
	}
	return nil, false
}

// write runs a statement whose only result is an error, deferred when the Conn allows it.
func (q Queries) write(ctx context.Context, query string, args []any, needRows bool, check func(rows int64, err error) error) error {
	if d, ok := q.C.(Deferrer); ok {
		d.Defer(query, args, needRows, check)
		return nil
	}
	n, err := q.C.Exec(ctx, query, args...)
	return check(n, err)
}
