package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

func testPayment(i int) *store.Payment {
	return &store.Payment{ID: fmt.Sprintf("pay_%03d", i), Account: "acct", OutTradeNo: fmt.Sprintf("otn%03d", i),
		Amount: core.Money{Value: 1, Currency: "HKD"}, Status: core.PaymentPending}
}

// TestGroupCommitIsolation holds the writer with one transaction while 40 more queue, so that
// they run as one batch: the failing and panicking ones must leave no trace, the others must
// all commit, and each caller must get its own outcome.
func TestGroupCommitIsolation(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "paymux.db"))
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var first sync.WaitGroup
	first.Add(1)
	go func() {
		defer first.Done()
		_ = s.InTx(ctx, func(tx store.Tx) error {
			close(started)
			<-release
			return tx.InsertPayment(ctx, testPayment(0))
		})
	}()
	<-started
	c0, _ := s.CommitStats()
	const n = 40
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i-1] = recover() }()
			errs[i-1] = s.InTx(ctx, func(tx store.Tx) error {
				if err := tx.InsertPayment(ctx, testPayment(i)); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errBoom
				case 2:
					panic(fmt.Sprintf("panic %d", i))
				case 3:
					// A statement error inside the batch: a duplicate out_trade_no.
					dup := testPayment(i)
					dup.ID += "_dup"
					return tx.InsertPayment(ctx, dup)
				}
				return nil
			})
		}()
	}
	time.Sleep(200 * time.Millisecond) // let them queue behind the held writer
	close(release)
	wg.Wait()
	first.Wait()
	for i := 1; i <= n; i++ {
		err, p := errs[i-1], panics[i-1]
		_, getErr := s.GetPayment(ctx, testPayment(i).ID)
		switch i % 4 {
		case 0:
			if err != nil || p != nil || getErr != nil {
				t.Errorf("tx %d: err %v panic %v, stored: %v", i, err, p, getErr)
			}
		case 1:
			if !errors.Is(err, errBoom) || core.ErrorCode(getErr) != core.ENOTFOUND {
				t.Errorf("tx %d: err %v, stored: %v", i, err, getErr)
			}
		case 2:
			if p != fmt.Sprintf("panic %d", i) || core.ErrorCode(getErr) != core.ENOTFOUND {
				t.Errorf("tx %d: panic %v, stored: %v", i, p, getErr)
			}
		case 3:
			if core.ErrorCode(err) != core.ECONFLICT || core.ErrorCode(getErr) != core.ENOTFOUND {
				t.Errorf("tx %d: err %v, stored: %v", i, err, getErr)
			}
		}
	}
	c1, _ := s.CommitStats()
	if commits := c1 - c0; commits > 5 {
		t.Errorf("%d commits for 41 queued transactions: they were not grouped", commits)
	}
}

var errBoom = errors.New("boom")

func TestGroupCommitContext(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "paymux.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := s.InTx(ctx, func(tx store.Tx) error { ran = true; return nil })
	if err == nil || ran {
		t.Errorf("cancelled context: err %v, ran %v", err, ran)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err = s.InTx(context.Background(), func(tx store.Tx) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestNoGrouping checks that MaxBatch 1 still works (one commit per transaction).
func TestNoGrouping(t *testing.T) {
	s, err := OpenOptions(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.InsertPayment(context.Background(), testPayment(i)) }()
	}
	wg.Wait()
	commits, txs := s.CommitStats()
	if commits != 10 || txs != 10 {
		t.Errorf("commits %d, txs %d; want 10 and 10", commits, txs)
	}
}
