package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// Grouped transactions (store.GroupTxer). The notification intake's effect transaction (dedupe
// key, payment, outbox event) is a short transaction per notification, each with a commit (a
// WAL flush) of its own. InGroupTx runs every such transaction waiting when a runner is free
// in one PostgreSQL transaction on one connection, each caller's fn in its own SAVEPOINT, and
// commits them together: N intakes share one BEGIN/COMMIT and one WAL flush. The members run
// one after the other on the runner's goroutine, pipelined as pipeTx is: a member's held-back
// writes and its RELEASE go to the server with the next member's SAVEPOINT and first
// statement, so a member costs about one round trip.
//
// Guarantees (tested in TestGroupTx*, and storetest's GroupedIntakeRace on both stores):
//   - transactions with one key run on one runner, one batch at a time (see below);
//   - a caller returns nil only after the transaction holding its writes has committed;
//   - a member whose fn returns an error (or panics: re-raised on the caller's goroutine), or
//     whose held-back write fails on its own data (PostgreSQL error classes 22 and 23, or no
//     row where one was needed), is rolled back to its savepoint and gets exactly the error
//     InTx would have returned alone; the others are not touched. A held-back write is only
//     checked when the next member's first statement flushes it: that member is then run
//     again from its start on top of the rolled-back state (fn may run more than once, as
//     the InTx contract says), as are members that returned in between; nothing a re-run
//     member saw came from the failed one;
//   - anything else (the connection lost, the server shutting down, a deadlock or
//     serialisation failure, a statement or control statement failing otherwise, COMMIT
//     failing) fails every member of the batch and commits none; 40001 and 40P01 are
//     retried by each caller as InTx retries them (up to four attempts in all);
//   - statements run under the batch's own deadline, never a caller's context, so one caller
//     giving up cannot roll back the others; a caller whose context has ended before its fn
//     would run is answered without running it (fn never starts);
//   - a batch carries at most DefaultTxGroupBatch members: each member that writes is a
//     subtransaction with an xid of its own, and PostgreSQL keeps at most 64 of them per
//     backend in shared memory before every other backend's snapshots must look them up in
//     pg_subtrans ("suboverflow"); 32 stays well below.
//
// Sharing a transaction changes what members see: a later member sees the rows earlier ones
// wrote (uncommitted, but committed with its own or, if the earlier one is rolled back to its
// savepoint, before the later one ran or with the later one run again) and takes row locks
// the transaction already holds at once, where alone it would have waited for the earlier
// transaction to commit and then read the same rows under READ COMMITTED. So two members
// cannot deadlock each other, and the outcome is that of running them alone in batch order.
//
// What it adds: a member's row locks are held until the whole batch commits, and a batch holds
// the locks of several payments at once. Two batches in flight on two runners could then
// deadlock where the members alone would not: batch A's member claims dedupe key K1 and locks
// payment P1, batch B's claims K2 and locks P2, then A's next member wants K2 (a redelivery)
// while B's wants K1. The first end-to-end runs, with the notify scenario's 20% redeliveries
// and members spread over runners by arrival, met that (pg_stat_database counted deadlocks,
// p99 over 1 s: deadlock_timeout, then every member retried). So every InGroupTx has a key,
// the rows it may lock (the host: account and out_trade_no of the payment), and a key always
// goes to the same runner (runnerFor): transactions that may lock one row never run in two
// batches at once. A batch and a transaction run alone (InTx, or an intake whose key is "")
// cannot deadlock either as long as that transaction locks the rows of one payment only: a
// grouped intake locks its payment, its own notification row and its dedupe key, and a dedupe
// key is claimed again only by a redelivery of the same notification, whose key is the same.
// (A provider sending one dedupe key for two payments would void that; the deadlock detector
// would then break the cycle and the batch retry: latency, never a wrong outcome.)

// DefaultTxGroupBatch is the most members one grouped transaction carries (see above on
// subtransactions).
const DefaultTxGroupBatch = 32

// TxGroupRunners is how many grouped transactions may be in flight at once, each on its own
// pooled connection (every key has its runner, see above), for stores opened without the
// DSN parameter GroupTxParam. 0, the default, turns grouping off: InGroupTx runs fn alone, as
// InTx. Off because on the 2-core build machine, with PostgreSQL, host, plugin and load
// generator on the same loaded cores, grouping did not raise end-to-end intake throughput
// (docs/performance.md, "PostgreSQL intake"): members run one after the other on a runner's
// connection, and each round trip waits for a core, where separate transactions overlap
// their waits. It pays when callers outnumber the pool's connections (the store benchmark at
// 64 callers) and, presumably, when commits rather than CPU are the limit (a server with cores
// and a disk of its own): not measured here.
var TxGroupRunners = 0

// GroupTxParam is the DSN parameter that sets the number of grouped-transaction runners for
// one store (e.g. postgres://host/db?paymux_group_tx_runners=2): 0 turns grouping off. It is
// taken out of the DSN before connecting.
const GroupTxParam = "paymux_group_tx_runners"

// savepoint is the one savepoint name: members run one at a time, each released or rolled
// back before the next begins.
const savepoint = "paymux_m"

// errRerun is what a member's statements return once an earlier member's held-back write has
// failed: the member is run again from its start, whatever it returns now.
var errRerun = core.Errorf(core.EINTERNAL, "store: an earlier member of the grouped transaction failed; run again")

type txJob struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan txResult // buffered: the runner never blocks on a caller
}

type txResult struct {
	err      error
	panicked bool
	value    any // the panic value
}

type txGroup struct {
	pool     *pgxpool.Pool
	lone     func(ctx context.Context, fn func(store.Tx) error) error // one pipelined transaction (Store.pipeTx)
	maxBatch int
	jobs     []chan *txJob // per runner; a key always goes to the same one (runnerFor)
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once

	commits, txs atomic.Int64 // transactions committed (a lone member's too), members committed in them
}

func newTxGroup(pool *pgxpool.Pool, lone func(context.Context, func(store.Tx) error) error, n, maxBatch int) *txGroup {
	g := &txGroup{pool: pool, lone: lone, maxBatch: max(1, maxBatch), stop: make(chan struct{})}
	for range max(1, n) {
		jobs := make(chan *txJob)
		g.jobs = append(g.jobs, jobs)
		g.wg.Add(1)
		go g.run(jobs)
	}
	return g
}

// runnerFor is the runner of key's transactions: always the same one, so that two
// transactions with one key never run in two batches at once.
func (g *txGroup) runnerFor(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(g.jobs)))
}

// do runs fn as a member of a grouped transaction and returns when that transaction has
// committed or fn's work has failed. A panic in fn is re-raised here.
func (g *txGroup) do(ctx context.Context, key string, fn func(store.Tx) error) error {
	j := &txJob{ctx: ctx, fn: fn, done: make(chan txResult, 1)}
	select {
	case g.jobs[g.runnerFor(key)] <- j:
	case <-g.stop:
		return core.Errorf(core.EINTERNAL, "store: closed")
	case <-ctx.Done():
		return core.WrapError(core.EINTERNAL, ctx.Err(), "store: waiting to begin a transaction")
	}
	r := <-j.done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

func (g *txGroup) close() {
	g.stopOnce.Do(func() { close(g.stop) })
	g.wg.Wait()
}

func (g *txGroup) run(jobs chan *txJob) {
	defer g.wg.Done()
	for {
		var j *txJob
		select {
		case j = <-jobs:
		case <-g.stop:
			return
		}
		batch := []*txJob{j}
	drain:
		for len(batch) < g.maxBatch {
			select {
			case j := <-jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		g.runBatch(batch)
	}
}

// notStarted answers a caller whose context ended before its fn could run (or run again):
// nothing of it is in the transaction.
func notStarted(err error) txResult {
	return txResult{err: core.WrapError(core.EINTERNAL, err, "store: transaction not run")}
}

// runBatch runs jobs and answers every one of them.
func (g *txGroup) runBatch(jobs []*txJob) {
	if len(jobs) == 1 {
		// Alone: a plain pipelined transaction (no savepoint), under the caller's context as
		// InTx runs it: nobody else's work depends on it.
		j := jobs[0]
		if err := j.ctx.Err(); err != nil {
			j.done <- notStarted(err)
			return
		}
		r := call(func() error { return g.lone(j.ctx, j.fn) })
		if r.err == nil && !r.panicked {
			g.commits.Add(1)
			g.txs.Add(1)
		}
		j.done <- r
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	t := &txBatch{g: g, ctx: ctx}
	for _, j := range jobs {
		m := &txMember{job: j}
		t.all = append(t.all, m)
		t.queue = append(t.queue, m)
	}
	conn, err := g.pool.Acquire(ctx)
	if err != nil {
		t.answerRest(txResult{err: core.WrapError(core.EINTERNAL, err, "store: begin transaction")})
		return
	}
	defer conn.Release()
	t.conn = conn
	for t.fatal == nil {
		if len(t.queue) > 0 {
			m := t.queue[0]
			t.queue = t.queue[1:]
			t.runMember(m)
			continue
		}
		if t.commit() {
			break
		}
	}
	if t.fatal != nil {
		t.rollback()
		t.answerRest(txResult{err: t.fatal})
	}
}

// call runs f, turning a panic into a result to re-raise on the caller's goroutine.
func call(f func() error) (r txResult) {
	defer func() {
		if v := recover(); v != nil {
			r = txResult{panicked: true, value: v, err: fmt.Errorf("panic in transaction: %v", v)}
		}
	}()
	return txResult{err: f()}
}

// txBatch is one grouped transaction: a pipeTx whose statements belong to members.
type txBatch struct {
	g       *txGroup
	ctx     context.Context // the batch's deadline; never a caller's
	conn    *pgxpool.Conn
	begun   bool      // BEGIN has been sent
	pending []txItem  // held back, in order
	fatal   error     // the batch has failed as a whole: nothing in it may commit
	undo    bool      // the last member's savepoint must be rolled back before anything is sent
	cur     *txMember // the member whose fn is running
	all     []*txMember
	queue   []*txMember // to run, in order
	ok      []*txMember // fn returned nil; committed with the batch unless a write of theirs fails
}

type txMember struct {
	job      *txJob
	sent     bool  // its SAVEPOINT has gone to the server in this run
	rerun    bool  // an earlier member's write failed during this run: run it again
	heldErr  error // its own held-back write failed (as pipeTx.err)
	aborted  bool  // one of its own statements failed on the server (class 22/23)
	answered bool
}

// txItem is a held-back statement: a member's write (check set) or a control statement
// (SAVEPOINT, RELEASE, ROLLBACK TO; check nil) whose failure fails the batch.
type txItem struct {
	owner    *txMember // nil for the batch's own statements
	query    string
	args     []any
	needRows bool
	check    func(int64, error) error
}

func (t *txBatch) control(owner *txMember, query string) {
	t.pending = append(t.pending, txItem{owner: owner, query: query})
}

func (t *txBatch) answer(m *txMember, r txResult) {
	if !m.answered {
		m.answered = true
		m.job.done <- r
	}
}

func (t *txBatch) answerRest(r txResult) {
	for _, m := range t.all {
		t.answer(m, r)
	}
}

func (t *txBatch) setFatal(err error, what string) error {
	if t.fatal == nil {
		t.fatal = core.WrapError(core.EINTERNAL, err, "%s", what)
	}
	return t.fatal
}

// dropPending removes m's held-back statements that have not been sent.
func (t *txBatch) dropPending(m *txMember) {
	t.pending = slices.DeleteFunc(t.pending, func(it txItem) bool { return it.owner == m })
}

// runMember runs m's fn in a savepoint of its own and settles what can be settled: a failed
// member is rolled back to its savepoint and answered; a member whose fn returned nil waits
// for the commit.
func (t *txBatch) runMember(m *txMember) {
	if err := m.job.ctx.Err(); err != nil {
		t.answer(m, notStarted(err))
		return
	}
	m.sent, m.rerun, m.heldErr, m.aborted = false, false, nil, false
	t.control(m, "savepoint "+savepoint)
	t.cur = m
	r := call(func() error { return m.job.fn(tx{sqlbase.Queries{C: memberConn{t, m}, D: dialect}}) })
	t.cur = nil
	if t.fatal != nil {
		if r.panicked {
			t.answer(m, r) // a panic is re-raised whatever else failed
		}
		return
	}
	if m.rerun {
		// memberFailed queued m again; what fn did since is void.
		t.dropPending(m)
		return
	}
	if r.err == nil && !r.panicked && m.heldErr == nil && !m.aborted {
		t.control(m, "release savepoint "+savepoint)
		t.ok = append(t.ok, m)
		return
	}
	if r.err == nil && !r.panicked {
		// fn carried on after its own failure: what InTx's commit would have returned.
		r.err = m.heldErr
		if r.err == nil {
			r.err = core.WrapError(core.EINTERNAL, errRolledBack, "store: commit")
		}
	}
	t.dropPending(m)
	if m.sent {
		t.undo = true
	}
	t.answer(m, r)
}

// memberFailed handles the failure of m's held-back write (err, its check's verdict), found
// while draining a batch of statements: the server's transaction is aborted inside m's
// savepoint and nothing sent after the failing write has run.
func (t *txBatch) memberFailed(m *txMember, err error) {
	if m == t.cur {
		m.heldErr = err // its later statements return it, as pipeTx's do
		return
	}
	// m's fn had returned nil: it gets the error its commit would have returned alone. The
	// members after it that ran (all in ok, their statements skipped) and the running one
	// are run again on top of the rolled-back state.
	t.answer(m, txResult{err: err})
	t.undo = true
	i := slices.Index(t.ok, m)
	if i < 0 { // cannot happen: only a member in ok or the running one has statements in flight
		t.setFatal(err, "store: grouped transaction: a write of no running member failed")
		return
	}
	again := slices.Clone(t.ok[i+1:])
	t.ok = t.ok[:i]
	if t.cur != nil {
		t.cur.rerun = true
		again = append(again, t.cur)
	}
	for _, a := range again {
		t.dropPending(a)
	}
	t.queue = append(again, t.queue...)
}

// rollbackMember rolls the transaction back to the savepoint of the member that failed and
// drops the savepoint, when undo says so. It goes alone, before anything else, as one simple
// query: the transaction may be aborted, and then the server refuses to prepare (parse)
// anything but ROLLBACK, which pgx does for a pipeline's new statements before sending it.
// This is the only round trip a failing member adds.
func (t *txBatch) rollbackMember() error {
	if !t.undo {
		return nil
	}
	t.undo = false
	if _, err := t.conn.Conn().PgConn().Exec(t.ctx, "rollback to savepoint "+savepoint+"; release savepoint "+savepoint).ReadAll(); err != nil {
		t.setFatal(err, "store: grouped transaction: rollback to savepoint")
		return errFlush
	}
	return nil
}

// queueTo adds BEGIN (once) and the held-back statements to b.
func (t *txBatch) queueTo(b *pgx.Batch) {
	if !t.begun {
		b.Queue("begin")
	}
	for _, it := range t.pending {
		b.Queue(it.query, it.args...)
		if it.owner != nil && it.check == nil && it.query == "savepoint "+savepoint {
			it.owner.sent = true
		}
	}
}

// errFlush says that draining stopped at a failure, already recorded (fatal, a member's
// heldErr, or a member run again).
var errFlush = errors.New("flush failed")

// drain reads the results of what queueTo added, in order, and stops at the first failure.
func (t *txBatch) drain(br pgx.BatchResults) error {
	if !t.begun {
		if _, err := br.Exec(); err != nil {
			t.setFatal(err, "store: begin transaction")
			return errFlush
		}
		t.begun = true
	}
	pending := t.pending
	t.pending = nil
	for _, it := range pending {
		tag, err := br.Exec()
		if it.check == nil {
			if err != nil {
				t.setFatal(err, "store: grouped transaction: "+it.query)
				return errFlush
			}
			continue
		}
		rows := tag.RowsAffected()
		raw := err
		if it.needRows && noRows(err) {
			rows, err = 0, nil
		}
		cerr := it.check(rows, err)
		if cerr == nil {
			continue
		}
		if raw == nil || !ownFault(raw) || t.conn.Conn().PgConn().IsClosed() {
			// Not the member's own data (or a check refusing a statement the server ran,
			// which a savepoint could no longer undo once the RELEASE behind it ran).
			if raw == nil {
				raw = cerr
			}
			t.setFatal(raw, "store: grouped transaction")
			return errFlush
		}
		t.memberFailed(it.owner, cerr)
		return errFlush
	}
	return nil
}

// blocked is what m's next statement returns without being sent, or nil.
func (t *txBatch) blocked(m *txMember) error {
	switch {
	case t.fatal != nil:
		return t.fatal
	case m.rerun:
		return errRerun
	case m.heldErr != nil:
		return &sqlbase.HeldBackError{Err: m.heldErr}
	}
	return nil
}

// observe classifies the error of one of m's own statements: its own data (class 22 or 23)
// aborts only m (its savepoint is rolled back when fn returns); anything else fails the batch.
func (t *txBatch) observe(m *txMember, err error) {
	if err == nil {
		return
	}
	if !t.conn.Conn().PgConn().IsClosed() {
		if ownFault(err) {
			m.aborted = true
			return
		}
		var e *pgconn.PgError
		if m.aborted && errors.As(err, &e) && e.Code == "25P02" {
			return // in failed transaction: m carried on after its own failure
		}
	}
	t.setFatal(err, "store: grouped transaction")
}

// memberConn is the sqlbase.Conn of one member: its statements go to the batch's connection
// under the batch's context (never the caller's: see txGroup).
type memberConn struct {
	t *txBatch
	m *txMember
}

var (
	_ sqlbase.Conn     = memberConn{}
	_ sqlbase.Deferrer = memberConn{}
)

// Defer implements sqlbase.Deferrer.
func (c memberConn) Defer(query string, args []any, needRows bool, check func(int64, error) error) {
	if needRows {
		query = mustAffect(query)
	}
	c.t.pending = append(c.t.pending, txItem{owner: c.m, query: query, args: args, needRows: needRows, check: check})
}

// send sends the held-back statements and query; on a failure before query it returns the
// error m's statement must return.
func (c memberConn) send(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	t := c.t
	if t.rollbackMember() != nil {
		return nil, t.blocked(c.m)
	}
	b := &pgx.Batch{}
	t.queueTo(b)
	b.Queue(query, args...)
	br := t.conn.SendBatch(ctx, b)
	if t.drain(br) != nil {
		_ = br.Close()
		return nil, t.blocked(c.m)
	}
	return br, nil
}

// Exec implements sqlbase.Conn.
func (c memberConn) Exec(_ context.Context, query string, args ...any) (int64, error) {
	t := c.t
	if err := t.blocked(c.m); err != nil {
		return 0, err
	}
	if t.begun && len(t.pending) == 0 && !t.undo {
		tag, err := t.conn.Exec(t.ctx, query, args...)
		t.observe(c.m, err)
		return tag.RowsAffected(), err
	}
	br, err := c.send(t.ctx, query, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	t.observe(c.m, err)
	return tag.RowsAffected(), err
}

// Query implements sqlbase.Conn. The rows hold the connection until closed; their error is
// classified when they close.
func (c memberConn) Query(_ context.Context, query string, args ...any) (sqlbase.Rows, error) {
	t := c.t
	if err := t.blocked(c.m); err != nil {
		return nil, err
	}
	if t.begun && len(t.pending) == 0 && !t.undo {
		rows, err := t.conn.Query(t.ctx, query, args...)
		if err != nil {
			t.observe(c.m, err)
			return nil, err
		}
		return &memberRows{Rows: rows, c: c}, nil
	}
	br, err := c.send(t.ctx, query, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		t.observe(c.m, err)
		return nil, err
	}
	return &memberRows{Rows: rows, br: br, c: c}, nil
}

type memberRows struct {
	pgx.Rows
	br     pgx.BatchResults // nil for a statement sent alone
	c      memberConn
	closed bool
}

func (r *memberRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	err := r.Rows.Err()
	if r.br != nil {
		if cerr := r.br.Close(); err == nil {
			err = cerr
		}
	}
	r.c.t.observe(r.c.m, err)
}

// commit sends what is held back and COMMIT. It reports false when a member's held-back
// write failed (members were queued to run again) and true when the batch is over: committed
// (every member in ok answered nil), or failed (t.fatal), or with nothing to commit.
func (t *txBatch) commit() bool {
	if len(t.ok) == 0 {
		t.rollback()
		return true
	}
	if t.rollbackMember() != nil {
		return true
	}
	b := &pgx.Batch{}
	t.queueTo(b)
	b.Queue("commit")
	br := t.conn.SendBatch(t.ctx, b)
	if t.drain(br) != nil {
		_ = br.Close()
		return t.fatal != nil
	}
	err := commitResult(br)
	if err != nil {
		t.setFatal(err, "store: commit")
		return true
	}
	// Counted before any member is answered (see groupWriter.commit).
	t.g.commits.Add(1)
	t.g.txs.Add(int64(len(t.ok)))
	for _, m := range t.ok {
		t.answer(m, txResult{})
	}
	return true
}

// rollback ends the transaction if one is open (see pipeTx.rollback).
func (t *txBatch) rollback() {
	pc := t.conn.Conn().PgConn()
	if pc.IsClosed() || pc.TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := t.conn.Exec(rctx, "rollback"); err != nil {
		_ = pc.Close(rctx)
	}
}
