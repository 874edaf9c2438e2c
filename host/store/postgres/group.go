package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// Group writes. The notification intake commits the raw request on its own before any plugin
// code runs (the inbox rule), so every notification costs a transaction of one INSERT, and on
// PostgreSQL each such transaction is a round trip, a backend wake-up and a commit record of
// its own. The group writer sends every such write that is waiting when it is free as one
// pipelined transaction, BEGIN, the writes in arrival order, COMMIT, in one round trip: N
// waiting intakes share one commit (one WAL flush) and one round trip.
//
// Guarantees, tested in TestGroupWrite* and storetest's ConcurrentInsertsOneFails:
//   - a caller returns only after the transaction holding its write has committed (durable
//     with synchronous_commit on), or with an error when its write is not committed;
//   - a write that fails on its own account (its data: a unique or check violation, a data
//     exception; PostgreSQL error classes 22 and 23) gets its error, exactly as it would have
//     alone, and the others are sent again without it in a new transaction, so they neither
//     fail nor see its effects;
//   - any other failure (the connection lost mid-batch, the server shutting down, a deadlock,
//     the COMMIT failing) fails every member of the batch and commits none of them: the
//     transaction is atomic, so a crash mid-batch leaves no member half-written and none
//     acknowledged;
//   - statements run under the batch's own deadline, never a caller's context: a caller that
//     gives up while its write is in flight must not roll back the others. A caller whose
//     context has ended before its batch starts is not written.
// Only single-statement writes whose check fails only on a driver error (or, with needRows,
// on no row, which mustAffect turns into a server error) are grouped: a check that refused a
// successful statement could not stop the pipelined COMMIT.

// groupTimeout bounds one batch, from acquiring the connection to reading COMMIT's answer.
const groupTimeout = 30 * time.Second

// DefaultGroupBatch is the most writes one grouped transaction carries.
const DefaultGroupBatch = 128

// GroupWriters is how many grouped transactions may be in flight at once (each on its own
// pooled connection): while one waits for its commit, the next batch forms and can go.
var GroupWriters = 2

type groupJob struct {
	ctx  context.Context
	w    sqlbase.Write
	done chan error // buffered: the writer never blocks on a caller
}

type groupWriter struct {
	pool     *pgxpool.Pool
	maxBatch int
	jobs     chan *groupJob
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once

	commits, writes atomic.Int64 // grouped transactions committed, writes committed in them
}

// newGroupWriter starts n writer goroutines (each runs one batch at a time on a pooled
// connection).
func newGroupWriter(pool *pgxpool.Pool, n, maxBatch int) *groupWriter {
	g := &groupWriter{pool: pool, maxBatch: max(1, maxBatch), jobs: make(chan *groupJob), stop: make(chan struct{})}
	for range max(1, n) {
		g.wg.Add(1)
		go g.run()
	}
	return g
}

// do writes w in a grouped transaction and returns when that transaction has committed or
// w has failed.
func (g *groupWriter) do(ctx context.Context, w sqlbase.Write) error {
	j := &groupJob{ctx: ctx, w: w, done: make(chan error, 1)}
	select {
	case g.jobs <- j:
	case <-g.stop:
		return core.Errorf(core.EINTERNAL, "store: closed")
	case <-ctx.Done():
		return core.WrapError(core.EINTERNAL, ctx.Err(), "store: waiting to write")
	}
	return <-j.done
}

func (g *groupWriter) close() {
	g.stopOnce.Do(func() { close(g.stop) })
	g.wg.Wait()
}

func (g *groupWriter) run() {
	defer g.wg.Done()
	for {
		var j *groupJob
		select {
		case j = <-g.jobs:
		case <-g.stop:
			return
		}
		batch := []*groupJob{j}
	drain:
		for len(batch) < g.maxBatch {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		g.commit(batch)
	}
}

// commit writes batch and answers every member: on a member's own failure that member gets
// its error and the rest are sent again without it.
func (g *groupWriter) commit(batch []*groupJob) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	live := make([]*groupJob, 0, len(batch))
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- core.WrapError(core.EINTERNAL, err, "store: write not started")
			continue
		}
		live = append(live, j)
	}
	for len(live) > 0 {
		results, failed, err := g.send(ctx, live)
		switch {
		case failed >= 0: // that member's own failure: answer it, send the others again
			live[failed].done <- err
			live = append(live[:failed], live[failed+1:]...)
			continue
		case err != nil:
			for _, j := range live {
				j.done <- err
			}
		default:
			// Counted before any member is answered: a caller that reads the counters
			// after its write returned sees its own commit.
			g.commits.Add(1)
			g.writes.Add(int64(len(live)))
			for i, j := range live {
				j.done <- results[i]
			}
		}
		return
	}
}

// send runs batch as one transaction and returns one of:
//   - (results, -1, nil): committed; results[i] is member i's answer (its check's verdict);
//   - (nil, i, e): member i failed on its own account with e; nothing was committed;
//   - (nil, -1, err): the transaction failed as a whole; nothing was committed (or, for a
//     connection lost during COMMIT, nothing is known): no member may be acknowledged.
func (g *groupWriter) send(ctx context.Context, batch []*groupJob) ([]error, int, error) {
	conn, err := g.pool.Acquire(ctx)
	if err != nil {
		return nil, -1, core.WrapError(core.EINTERNAL, err, "store: begin transaction")
	}
	defer conn.Release()
	if len(batch) == 1 {
		// Alone: one autocommit statement, no BEGIN and COMMIT to parse.
		query, args, needRows, check := batch[0].w.Parts()
		if needRows {
			query = mustAffect(query)
		}
		tag, err := conn.Exec(ctx, query, args...)
		rows := tag.RowsAffected()
		if needRows && noRows(err) {
			rows, err = 0, nil
		}
		return []error{check(rows, err)}, -1, nil
	}
	t := &pipeTx{conn: conn}
	b := &pgx.Batch{}
	b.Queue("begin")
	for _, j := range batch {
		query, args, needRows, _ := j.w.Parts()
		if needRows {
			query = mustAffect(query)
		}
		b.Queue(query, args...)
	}
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	abort := func() {
		_ = br.Close()
		t.rollback(ctx)
	}
	if _, err := br.Exec(); err != nil {
		abort()
		return nil, -1, core.WrapError(core.EINTERNAL, err, "store: begin transaction")
	}
	results := make([]error, len(batch))
	for i, j := range batch {
		_, _, needRows, check := j.w.Parts()
		tag, err := br.Exec()
		if err == nil {
			// A check that refused a successful statement answers its caller as a lone
			// autocommit statement would have; the others go on.
			results[i] = check(tag.RowsAffected(), nil)
			continue
		}
		closed := conn.Conn().PgConn().IsClosed()
		abort()
		if needRows && noRows(err) {
			// The server failed the statement (and so the transaction) on purpose: no row.
			return nil, i, check(0, nil)
		}
		if ownFault(err) && !closed {
			if e := check(tag.RowsAffected(), err); e != nil {
				return nil, i, e
			}
			return nil, i, core.WrapError(core.EINTERNAL, err, "store: group write")
		}
		return nil, -1, core.WrapError(core.EINTERNAL, err, "store: group write")
	}
	err = commitResult(br)
	if err != nil {
		t.rollback(ctx)
		return nil, -1, core.WrapError(core.EINTERNAL, err, "store: commit")
	}
	return results, -1, nil
}

// ownFault reports whether err is a statement's failure on its own data: a data exception
// (class 22) or an integrity constraint violation (class 23).
func ownFault(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) || len(e.Code) != 5 {
		return false
	}
	return e.Code[:2] == "22" || e.Code[:2] == "23"
}
