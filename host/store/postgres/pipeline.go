package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// pipeTx is one transaction on a pooled connection that pipelines what it can. A plain
// pgx.Tx costs a round trip per statement: BEGIN, the locking read, three or four writes and
// COMMIT made the notification intake seven round trips, and with the server on the same
// loaded cores each round trip is two context switches. Here BEGIN is sent with the first
// statement, writes whose only result is an error are held back (sqlbase.Deferrer) and sent
// with the next statement that needs an answer or with COMMIT, all as one pgx.Batch, so the
// intake's effect transaction is two round trips: BEGIN + the locking read, then the writes +
// COMMIT. The server still runs every statement in the order fn issued it.
type pipeTx struct {
	conn    *pgxpool.Conn
	begun   bool       // BEGIN has been sent
	pending []deferred // held-back writes, in order
	err     error      // the first failed held-back write: the transaction cannot commit
}

type deferred struct {
	query    string
	args     []any
	needRows bool // query is wrapped by mustAffect
	check    func(rows int64, err error) error
}

// mustAffect wraps a write whose check fails when it affects no row, so that the server fails
// it too (division by zero) and the COMMIT pipelined behind it cannot commit.
func mustAffect(query string) string {
	return "WITH w AS (" + query + " RETURNING 1) SELECT 1 / count(*) FROM w"
}

// noRows reports the error of a mustAffect statement that affected no row.
func noRows(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "22012"
}

var (
	_ sqlbase.Conn     = (*pipeTx)(nil)
	_ sqlbase.Deferrer = (*pipeTx)(nil)
)

// errRolledBack is a COMMIT the server answered with ROLLBACK: a statement had failed and fn
// carried on regardless.
var errRolledBack = errors.New("transaction was rolled back by the server")

// commitResult reads the result of a batch's last statement, its COMMIT, and closes the batch:
// nil only when the server committed (a COMMIT answered with ROLLBACK is errRolledBack).
func commitResult(br pgx.BatchResults) error {
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() == "ROLLBACK" {
		err = errRolledBack
	}
	return err
}

// Defer implements sqlbase.Deferrer.
func (t *pipeTx) Defer(query string, args []any, needRows bool, check func(int64, error) error) {
	if needRows {
		query = mustAffect(query)
	}
	t.pending = append(t.pending, deferred{query, args, needRows, check})
}

// queue adds BEGIN (once) and the held-back writes to b.
func (t *pipeTx) queue(b *pgx.Batch) {
	if !t.begun {
		b.Queue("begin")
	}
	for _, d := range t.pending {
		b.Queue(d.query, d.args...)
	}
}

// drain reads the results of what queue added, in order, and stops at the first failure.
func (t *pipeTx) drain(br pgx.BatchResults) error {
	if !t.begun {
		if _, err := br.Exec(); err != nil {
			return core.WrapError(core.EINTERNAL, err, "store: begin transaction")
		}
		t.begun = true
	}
	pending := t.pending
	t.pending = nil
	for _, d := range pending {
		tag, err := br.Exec()
		rows := tag.RowsAffected() // for mustAffect: the one row of its SELECT
		if d.needRows && noRows(err) {
			rows, err = 0, nil
		}
		if cerr := d.check(rows, err); cerr != nil {
			t.err = cerr
			return &sqlbase.HeldBackError{Err: cerr}
		}
	}
	return nil
}

// direct reports whether a statement can go to the connection on its own (nothing to send
// with it).
func (t *pipeTx) direct() bool { return t.begun && len(t.pending) == 0 }

// Exec implements sqlbase.Conn.
func (t *pipeTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if t.err != nil {
		return 0, &sqlbase.HeldBackError{Err: t.err}
	}
	if t.direct() {
		tag, err := t.conn.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
	b := &pgx.Batch{}
	t.queue(b)
	b.Queue(query, args...)
	br := t.conn.SendBatch(ctx, b)
	if err := t.drain(br); err != nil {
		_ = br.Close()
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

// Query implements sqlbase.Conn. The rows keep the batch open until they are closed.
func (t *pipeTx) Query(ctx context.Context, query string, args ...any) (sqlbase.Rows, error) {
	if t.err != nil {
		return nil, &sqlbase.HeldBackError{Err: t.err}
	}
	if t.direct() {
		return t.conn.Query(ctx, query, args...)
	}
	b := &pgx.Batch{}
	t.queue(b)
	b.Queue(query, args...)
	br := t.conn.SendBatch(ctx, b)
	if err := t.drain(br); err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return batchRows{rows, br}, nil
}

// batchRows closes the batch with the rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

// commit sends the held-back writes and COMMIT in one round trip. A transaction that never
// sent anything has nothing to commit.
func (t *pipeTx) commit(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	if !t.begun && len(t.pending) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	t.queue(b)
	b.Queue("commit")
	br := t.conn.SendBatch(ctx, b)
	if err := t.drain(br); err != nil {
		_ = br.Close()
		if t.err != nil {
			return t.err // a held-back write's own error, as fn would have returned it
		}
		return err
	}
	err := commitResult(br)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "store: commit")
	}
	return nil
}

// rollback ends a transaction that did not commit, under its own deadline (ctx may be why we
// are rolling back). A connection that cannot roll back is closed rather than returned to the
// pool inside a transaction.
func (t *pipeTx) rollback(ctx context.Context) {
	pc := t.conn.Conn().PgConn()
	if pc.IsClosed() || pc.TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := t.conn.Exec(rctx, "rollback"); err != nil {
		_ = pc.Close(rctx)
	}
}
