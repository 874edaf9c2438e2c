package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// txBatchOf runs fns as one batch of s's grouped transactions, as if their callers had
// queued at the same moment (ctxs[i], or Background when nil), and returns each answer.
func txBatchOf(t *testing.T, s *Store, ctxs []context.Context, fns ...func(store.Tx) error) []txResult {
	t.Helper()
	jobs := make([]*txJob, len(fns))
	for i, fn := range fns {
		ctx := context.Background()
		if i < len(ctxs) && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		jobs[i] = &txJob{ctx: ctx, fn: fn, done: make(chan txResult, 1)}
	}
	s.txg.runBatch(jobs)
	out := make([]txResult, len(fns))
	for i, j := range jobs {
		select {
		case out[i] = <-j.done:
		default:
			t.Fatalf("member %d was not answered", i)
		}
	}
	return out
}

// fixture is a pending payment and a stored notification for it.
type fixture struct {
	p *store.Payment
	n *store.Notification
}

func newFixture(t *testing.T, s *Store) fixture {
	t.Helper()
	ctx := context.Background()
	p := &store.Payment{ID: store.NewID("pay_"), Account: "acct-t", OutTradeNo: store.NewID("otn_"),
		Amount: core.Money{Value: 100, Currency: "HKD"}, Status: core.PaymentPending}
	if err := s.InsertPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	n := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-t", Body: []byte("x")}
	if err := s.InsertNotification(ctx, n); err != nil {
		t.Fatal(err)
	}
	return fixture{p, n}
}

// intakeFn is the host's effect transaction for f: claim the dedupe key, lock the payment,
// mark it succeeded, write its event, record the outcome on notification ntfID (f.n's, or a
// missing one to make that last held-back write fail after fn returned). runs counts
// the runs of fn; after, when set, runs at the end of fn and its error is fn's.
func intakeFn(f fixture, ntfID string, runs *atomic.Int64, after func(tx store.Tx) error) func(store.Tx) error {
	return intakeFnCtx(context.Background(), f, ntfID, runs, after)
}

// intakeFnCtx is intakeFn whose statements are given ctx, as the host gives them its caller's.
func intakeFnCtx(ctx context.Context, f fixture, ntfID string, runs *atomic.Int64, after func(tx store.Tx) error) func(store.Tx) error {
	return func(tx store.Tx) error {
		runs.Add(1)
		n := *f.n
		n.Status, n.DedupeKey = store.NotificationProcessed, "acct-t:"+f.p.OutTradeNo
		if err := tx.UpdateNotification(ctx, &n); err != nil {
			return err
		}
		p, err := tx.LockPaymentByOutTradeNo(ctx, f.p.Account, f.p.OutTradeNo)
		if err != nil {
			return err
		}
		if err := core.PaymentTransition(p.Status, core.PaymentSucceeded); err != nil {
			return err
		}
		p.Status = core.PaymentSucceeded
		if err := tx.UpdatePayment(ctx, p); err != nil {
			return err
		}
		payload, _ := json.Marshal(map[string]string{"id": p.ID})
		if err := tx.InsertEvent(ctx, &store.Event{ID: store.NewID("evt_"), Type: store.EventPaymentSucceeded,
			Account: p.Account, PaymentID: p.ID, Payload: payload}); err != nil {
			return err
		}
		n.ID, n.PaymentID = ntfID, p.ID
		if err := tx.UpdateNotificationOutcome(ctx, &n); err != nil {
			return err
		}
		if after != nil {
			return after(tx)
		}
		return nil
	}
}

// writesOnly applies f's intake blind, every write held back and no statement that needs an
// answer: its writes go to the server only with the next member's first statement.
func writesOnly(f fixture, runs *atomic.Int64) func(store.Tx) error {
	return func(tx store.Tx) error {
		runs.Add(1)
		ctx := context.Background()
		p := *f.p
		p.Status = core.PaymentSucceeded
		if err := tx.UpdatePayment(ctx, &p); err != nil {
			return err
		}
		return tx.InsertEvent(ctx, &store.Event{ID: store.NewID("evt_"), Type: store.EventPaymentSucceeded,
			Account: p.Account, PaymentID: p.ID, Payload: []byte(`{}`)})
	}
}

// applied reports whether f's intake committed (payment succeeded, one event) and fails the
// test on a half-applied one.
func applied(t *testing.T, s *Store, f fixture) bool {
	t.Helper()
	ctx := context.Background()
	p, err := s.GetPayment(ctx, f.p.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := s.ListEvents(ctx, store.EventFilter{PaymentID: f.p.ID})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case p.Status == core.PaymentSucceeded && len(evs) == 1:
		return true
	case p.Status == core.PaymentPending && len(evs) == 0:
		return false
	}
	t.Fatalf("payment %s half applied: %s, %d events", f.p.ID, p.Status, len(evs))
	return false
}

// TestGroupTxFailingMembers: in one batch, members fail in each way a member can fail on its
// own: fn returns an error after its savepoint reached the server; a held-back write fails
// after fn returned (found by the next member's first statement, so that member runs again;
// and found by the COMMIT, for the last member); a statement fails on the server (a taken
// payment id) and fn returns that error; fn panics. Each failing member gets exactly the
// error InTx gives it alone and leaves no trace; every other member commits, in one commit.
func TestGroupTxFailingMembers(t *testing.T) {
	s := open(t, testSchema(t))
	ctx := context.Background()
	var fx []fixture
	for range 10 {
		fx = append(fx, newFixture(t, s))
	}
	runs := make([]atomic.Int64, 10)
	boom := errors.New("boom")
	missing := store.NewID("ntf_missing_") // no such notification: the last write fails, ENOTFOUND
	taken := fx[0].p
	fns := []func(store.Tx) error{
		intakeFn(fx[0], fx[0].n.ID, &runs[0], nil),
		intakeFn(fx[1], fx[1].n.ID, &runs[1], func(store.Tx) error { return boom }),
		intakeFn(fx[2], fx[2].n.ID, &runs[2], nil),
		intakeFn(fx[3], missing, &runs[3], nil),
		writesOnly(fx[9], &runs[9]),                // returned before 3's failure was found: runs again
		intakeFn(fx[4], fx[4].n.ID, &runs[4], nil), // runs again: its first statement finds 3's failure
		intakeFn(fx[5], fx[5].n.ID, &runs[5], func(tx store.Tx) error {
			dup := *taken
			return tx.InsertPayment(ctx, &dup) // ECONFLICT on the server: the transaction is aborted
		}),
		intakeFn(fx[6], fx[6].n.ID, &runs[6], func(store.Tx) error { panic("member 6 panics") }),
		intakeFn(fx[7], fx[7].n.ID, &runs[7], nil), // first statement after the aborted member 5 and 6
		intakeFn(fx[8], missing, &runs[8], nil),    // last: its failure is found by the COMMIT
	}
	commits, txs := s.txg.commits.Load(), s.txg.txs.Load()
	res := txBatchOf(t, s, nil, fns...)
	res = append(res[:4], append(res[5:], res[4])...) // writesOnly's answer last, as fx[9]
	for _, i := range []int{0, 2, 4, 7, 9} {
		if res[i].err != nil || res[i].panicked || !applied(t, s, fx[i]) {
			t.Errorf("good member %d: %v (panicked %v), applied %v", i, res[i].err, res[i].panicked, applied(t, s, fx[i]))
		}
	}
	for _, i := range []int{1, 3, 5, 6, 8} {
		if res[i].err == nil || applied(t, s, fx[i]) {
			t.Errorf("failing member %d: %v, applied %v", i, res[i].err, applied(t, s, fx[i]))
		}
	}
	if !errors.Is(res[1].err, boom) {
		t.Errorf("member 1: %v, want fn's own error", res[1].err)
	}
	if !res[6].panicked || res[6].value != "member 6 panics" {
		t.Errorf("member 6: %+v, want its panic", res[6])
	}
	if runs[4].Load() != 2 || runs[9].Load() != 2 {
		t.Errorf("the members after 3 ran %d and %d times, want 2 (again after member 3's write failed)", runs[9].Load(), runs[4].Load())
	}
	if got, want := s.txg.commits.Load()-commits, int64(1); got != want {
		t.Errorf("%d commits, want %d", got, want)
	}
	if got := s.txg.txs.Load() - txs; got != 5 {
		t.Errorf("%d members committed, want 5", got)
	}
	// Alone, through InTx, the failing members get the same errors.
	for _, i := range []int{3, 5, 8} {
		var r atomic.Int64
		f := fixture{newFixture(t, s).p, fx[i].n}
		var after func(store.Tx) error
		if i == 5 {
			after = func(tx store.Tx) error { dup := *taken; return tx.InsertPayment(ctx, &dup) }
		}
		ntfID := fx[i].n.ID
		if i != 5 {
			ntfID = missing
		}
		alone := s.InTx(ctx, intakeFn(f, ntfID, &r, after))
		if alone == nil || core.ErrorCode(alone) != core.ErrorCode(res[i].err) || alone.Error() != res[i].err.Error() {
			t.Errorf("member %d: %v in the batch, %v alone", i, res[i].err, alone)
		}
	}
}

// TestGroupTxCrashMidBatch: the backend dies in the middle of a batch (pg_terminate_backend,
// as a crash or a restart would end it), after a member's writes went to the server. No member
// is acknowledged and none is stored; the same intakes then commit in a control batch.
func TestGroupTxCrashMidBatch(t *testing.T) {
	s := open(t, testSchema(t))
	a, b := newFixture(t, s), newFixture(t, s)
	var runs atomic.Int64
	crash := func(tx store.Tx) error {
		_, err := tx.(txOf).C.Exec(context.Background(), "SELECT pg_terminate_backend(pg_backend_pid())")
		return err
	}
	res := txBatchOf(t, s, nil, intakeFn(a, a.n.ID, &runs, nil), crash, intakeFn(b, b.n.ID, &runs, nil))
	for i, r := range res {
		if r.err == nil {
			t.Errorf("member %d acknowledged although its transaction died", i)
		}
	}
	if core.ErrorCode(res[0].err) != core.EINTERNAL {
		t.Errorf("member 0: %v, want an internal error", res[0].err)
	}
	if applied(t, s, a) || applied(t, s, b) {
		t.Error("a member of the crashed batch is stored")
	}
	res = txBatchOf(t, s, nil, intakeFn(a, a.n.ID, &runs, nil), intakeFn(b, b.n.ID, &runs, nil))
	if res[0].err != nil || res[1].err != nil || !applied(t, s, a) || !applied(t, s, b) {
		t.Errorf("control batch after the crash: %v, %v", res[0].err, res[1].err)
	}
}

// txOf is the Tx a member's fn gets: its Queries' Conn is the member's (memberConn).
type txOf = tx

// TestGroupTxCancelledCaller: a caller whose context has ended before its fn would run is
// answered without running it; a caller that gives up while its fn runs (its context is
// cancelled) neither stops its statements nor rolls back the others: the batch commits.
func TestGroupTxCancelledCaller(t *testing.T) {
	s := open(t, testSchema(t))
	fx := []fixture{newFixture(t, s), newFixture(t, s), newFixture(t, s)}
	runs := make([]atomic.Int64, 3)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	during, cancelDuring := context.WithCancel(context.Background())
	defer cancelDuring()
	res := txBatchOf(t, s, []context.Context{nil, gone, during},
		intakeFn(fx[0], fx[0].n.ID, &runs[0], nil),
		intakeFn(fx[1], fx[1].n.ID, &runs[1], nil),
		func(tx store.Tx) error {
			cancelDuring() // the caller gives up in the middle; its statements get its context
			return intakeFnCtx(during, fx[2], fx[2].n.ID, &runs[2], nil)(tx)
		})
	if runs[1].Load() != 0 || !errors.Is(res[1].err, context.Canceled) || applied(t, s, fx[1]) {
		t.Errorf("cancelled caller: ran %d times, %v", runs[1].Load(), res[1].err)
	}
	if res[0].err != nil || res[2].err != nil || !applied(t, s, fx[0]) || !applied(t, s, fx[2]) {
		t.Errorf("the others: %v, %v", res[0].err, res[2].err)
	}
}

// TestGroupTxRetryable: a serialisation failure in one member fails the whole batch (nothing
// committed, every member gets the retryable error); through InGroupTx the callers run again,
// as InTx retries, and commit.
func TestGroupTxRetryable(t *testing.T) {
	s := open(t, testSchema(t))
	a, b := newFixture(t, s), newFixture(t, s)
	var runs atomic.Int64
	serialization := func(tx store.Tx) error {
		_, err := tx.(txOf).C.Exec(context.Background(), "DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '40001'; END $$")
		return err
	}
	res := txBatchOf(t, s, nil, intakeFn(a, a.n.ID, &runs, nil), serialization, intakeFn(b, b.n.ID, &runs, nil))
	for i, r := range res {
		if !retryable(r.err) {
			t.Errorf("member %d: %v, want the retryable 40001", i, r.err)
		}
	}
	if applied(t, s, a) || applied(t, s, b) {
		t.Error("a member of the failed batch is stored")
	}
	var first atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.InGroupTx(ctx, "acct-t\x00"+a.p.OutTradeNo, func(tx store.Tx) error {
		if !first.Swap(true) {
			return serialization(tx)
		}
		return intakeFn(a, a.n.ID, &runs, nil)(tx)
	})
	if err != nil || !applied(t, s, a) {
		t.Errorf("InGroupTx after a serialisation failure: %v", err)
	}
}

// TestGroupTxKeyedRunners: transactions with one key never run at once (they go to one
// runner), so two groups never hold locks on one payment's rows at the same time; other keys
// run beside them on the other runners.
func TestGroupTxKeyedRunners(t *testing.T) {
	if TxGroupRunners < 2 {
		t.Skip("one runner")
	}
	s := open(t, testSchema(t))
	var inFlight, most, others atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	ctx := context.Background()
	for i := range 64 {
		key := "acct-t\x00same"
		if i%2 == 1 {
			key = "acct-t\x00other-" + strconv.Itoa(i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := s.InGroupTx(ctx, key, func(tx store.Tx) error {
				if key != "acct-t\x00same" {
					others.Add(1)
					return nil
				}
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if most.Load() != 1 || others.Load() != 32 {
		t.Errorf("at most %d transactions of one key ran at once (want 1); %d others ran", most.Load(), others.Load())
	}
}

// TestGroupTxParam: the DSN parameter sets the runners (and is not sent to the server as a
// setting, which would refuse it); 0 turns grouping off, InGroupTx then runs as InTx; a bad
// value is a configuration error.
func TestGroupTxParam(t *testing.T) {
	cfg := testSchema(t)
	ctx := context.Background()
	for _, tc := range []struct {
		value   string
		runners int
	}{{"3", 3}, {"0", 0}} {
		c := cfg.Copy()
		c.ConnConfig.RuntimeParams[GroupTxParam] = tc.value
		s := open(t, c)
		got := 0
		if s.txg != nil {
			got = len(s.txg.jobs)
		}
		if got != tc.runners {
			t.Errorf("%s=%s: %d runners", GroupTxParam, tc.value, got)
		}
		f := newFixture(t, s)
		var runs atomic.Int64
		if err := s.InGroupTx(ctx, "acct-t\x00"+f.p.OutTradeNo, intakeFn(f, f.n.ID, &runs, nil)); err != nil || !applied(t, s, f) {
			t.Errorf("%s=%s: InGroupTx: %v", GroupTxParam, tc.value, err)
		}
	}
	c := cfg.Copy()
	c.ConnConfig.RuntimeParams[GroupTxParam] = "many"
	if s, err := OpenConfig(ctx, c); core.ErrorCode(err) != core.ECONFIG {
		if s != nil {
			s.Close()
		}
		t.Errorf("%s=many: %v, want a configuration error", GroupTxParam, err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams[GroupTxParam]; ok {
		t.Error("the caller's configuration was changed")
	}
}
