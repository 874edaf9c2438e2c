package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// Group commit. A durable SQLite commit costs one or more fsyncs (about a millisecond or more
// on a real disk), and SQLite commits one transaction at a time, so one transaction per commit
// caps the store at about a thousand writes a second however fast the statements are. The
// committer runs every transaction that is waiting when the previous commit finishes inside one
// SQLite transaction, each in its own SAVEPOINT, and commits them together: each caller's
// transaction is still atomic on its own (a failing one is rolled back to its savepoint without
// touching the others) and still durable when InTx returns, but N waiting transactions share
// one fsync. Under no load a batch is one transaction and nothing waits for a timer.

// ErrClosed is returned for transactions submitted after Close.
var ErrClosed = errors.New("sqlite store: closed")

// batchTimeout bounds one batch: when it passes, database/sql rolls the batch's transaction
// back. Statements in a batch never run under the caller's context: SQLite answers a
// cancelled statement with sqlite3_interrupt, which can roll back the whole transaction and so
// every other caller's work in it.
const batchTimeout = 30 * time.Second

type job struct {
	ctx  context.Context
	fn   func(sqlbase.Conn) error
	done chan result // buffered: the committer never blocks on a caller
}

type result struct {
	err      error
	panicked bool
	value    any // the panic value
}

type committer struct {
	db       *sql.DB
	stmts    *sqlbase.StmtCache
	maxBatch int
	jobs     chan *job
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once

	commits, txs atomic.Int64 // durable commits made, transactions committed in them
}

func newCommitter(db *sql.DB, stmts *sqlbase.StmtCache, maxBatch int) *committer {
	c := &committer{db: db, stmts: stmts, maxBatch: max(1, maxBatch), jobs: make(chan *job), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// do runs fn in a transaction of a batch and returns when that batch has committed (or
// failed). A panic in fn is re-raised here, on the caller's goroutine.
func (c *committer) do(ctx context.Context, fn func(sqlbase.Conn) error) error {
	j := &job{ctx: ctx, fn: fn, done: make(chan result, 1)}
	select {
	case c.jobs <- j:
	case <-c.stop:
		return core.WrapError(core.EINTERNAL, ErrClosed, "store: closed")
	case <-ctx.Done():
		return core.WrapError(core.EINTERNAL, ctx.Err(), "store: waiting to write")
	}
	r := <-j.done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

func (c *committer) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	for {
		var j *job
		select {
		case j = <-c.jobs:
		case <-c.stop:
			return
		}
		batch := []*job{j}
	drain:
		for len(batch) < c.maxBatch {
			select {
			case j := <-c.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		c.commit(batch)
		// Now that the writer is free, prepare what the batch ran unprepared. A failure
		// only means the statement keeps running unprepared.
		pctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		_ = c.stmts.PreparePending(pctx)
		cancel()
	}
}

// batchConn runs a job's statements under the batch's context, never the caller's (see
// batchTimeout).
type batchConn struct {
	c   sqlbase.Conn
	ctx context.Context
}

func (b batchConn) Exec(_ context.Context, q string, args ...any) (int64, error) {
	return b.c.Exec(b.ctx, q, args...)
}

func (b batchConn) Query(_ context.Context, q string, args ...any) (sqlbase.Rows, error) {
	return b.c.Query(b.ctx, q, args...)
}

func (c *committer) commit(batch []*job) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	results := make([]result, len(batch))
	fail := func(err error) {
		for i := range results {
			if results[i].err == nil && !results[i].panicked {
				results[i].err = err
			}
		}
	}
	deliver := func() {
		for i, j := range batch {
			j.done <- results[i]
		}
	}
	defer deliver()

	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		fail(core.WrapError(core.EINTERNAL, err, "store: begin transaction"))
		return
	}
	// Statements run under a context that cannot be cancelled: the driver starts a watcher
	// goroutine for every statement whose context can end (about 4% of all CPU in the intake
	// profile), and the batch deadline still rolls the whole transaction back through
	// BeginTx's context.
	conn := batchConn{sqlbase.CachedConn{Cache: c.stmts, Tx: tx}, context.WithoutCancel(ctx)}
	single := len(batch) == 1
	ok := 0
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i].err = core.WrapError(core.EINTERNAL, err, "store: transaction not started")
			continue
		}
		if !single {
			if _, err := conn.Exec(ctx, "SAVEPOINT paymux_job"); err != nil {
				_ = tx.Rollback()
				fail(core.WrapError(core.EINTERNAL, err, "store: savepoint"))
				return
			}
		}
		results[i] = runJob(j, conn)
		failed := results[i].err != nil || results[i].panicked
		if single {
			if failed {
				_ = tx.Rollback()
				return
			}
			ok++
			break
		}
		if failed {
			if _, err := conn.Exec(ctx, "ROLLBACK TO paymux_job"); err != nil {
				// The transaction itself is gone (e.g. disk full): nothing in it survives.
				_ = tx.Rollback()
				fail(core.WrapError(core.EINTERNAL, err, "store: batch aborted"))
				return
			}
		} else {
			ok++
		}
		if _, err := conn.Exec(ctx, "RELEASE paymux_job"); err != nil {
			_ = tx.Rollback()
			fail(core.WrapError(core.EINTERNAL, err, "store: batch aborted"))
			return
		}
	}
	if ok == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		fail(core.WrapError(core.EINTERNAL, err, "store: commit"))
		return
	}
	c.commits.Add(1)
	c.txs.Add(int64(ok))
}

func runJob(j *job, conn sqlbase.Conn) (r result) {
	defer func() {
		if v := recover(); v != nil {
			r = result{panicked: true, value: v, err: fmt.Errorf("panic in transaction: %v", v)}
		}
	}()
	return result{err: j.fn(conn)}
}
