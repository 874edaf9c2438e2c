package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// Bench runs the store benchmarks on s: payment insert and notification intake, each paired
// (see the design folder's benchmarking.md) with the physical limit of a durable commit, a
// bare 4 KiB write + fdatasync of a file in dir (which should be on the database's disk; for
// a server database, the same machine's disk is an approximation). Metrics:
//
//	op-us     microseconds per store operation
//	sync-us   microseconds per bare write + fdatasync, measured alternately in the same loop
//	op/sync   the ratio: how many durable syncs one operation costs
//
// The ParallelNx variants run N x GOMAXPROCS goroutines and report ops/s, the median and 99th
// percentile latency of one operation (p50-ms, p99-ms), the process's CPU time per operation
// (cpu-us/op, Linux), the bare syncs/s
// measured just before, and their ratio: above 1 means durable commits are shared (group
// commit); SQLite serialises writers, so without grouping the ratio cannot pass 1. A store
// with a CommitStats() (commits, txs int64) method (SQLite) also reports tx/commit, the
// batching factor, which unlike the sync reference does not depend on the disk's mood.
func Bench(b *testing.B, s store.Store, dir string) {
	sync := newSyncer(b, dir)
	sync.store = s
	b.Run("PaymentInsert", func(b *testing.B) {
		paired(b, sync, func(c context.Context) error {
			return s.InsertPayment(c, newPayment("acct-bench", 100))
		})
	})
	b.Run("NotificationIntake2Commits", func(b *testing.B) {
		ps := benchPayments(b, s, b.N)
		var i atomic.Int64
		paired(b, sync, func(c context.Context) error { return intake(c, s, ps[i.Add(1)-1], true) })
	})
	b.Run("NotificationIntake1Commit", func(b *testing.B) {
		ps := benchPayments(b, s, b.N)
		var i atomic.Int64
		paired(b, sync, func(c context.Context) error { return intake(c, s, ps[i.Add(1)-1], false) })
	})
	for _, par := range []int{8, 32, 128} {
		b.Run(fmt.Sprintf("NotificationIntake2CommitsParallel%dx", par), func(b *testing.B) {
			ps := benchPayments(b, s, b.N)
			var i atomic.Int64
			parallel(b, sync, par, func(c context.Context) error { return intake(c, s, ps[i.Add(1)-1], true) })
		})
	}
	b.Run("NotificationIntake1CommitParallel32x", func(b *testing.B) {
		ps := benchPayments(b, s, b.N)
		var i atomic.Int64
		parallel(b, sync, 32, func(c context.Context) error { return intake(c, s, ps[i.Add(1)-1], false) })
	})
	b.Run("PaymentInsertParallel32x", func(b *testing.B) {
		parallel(b, sync, 32, func(c context.Context) error {
			return s.InsertPayment(c, newPayment("acct-bench", 100))
		})
	})
}

// intake is the host's notification path: the raw request committed on its own (the design's
// "durable before any plugin code runs") when separate, then one transaction with the dedupe
// key, the payment transition and the outbox event.
func intake(c context.Context, s store.Store, p *store.Payment, separate bool) error {
	n := &store.Notification{ID: store.NewID("ntf_"), Account: p.Account, Method: "POST",
		Header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
		Body:   []byte("notify_id=" + p.OutTradeNo + "&trade_status=TRADE_SUCCESS&total_fee=1.00&out_trade_no=" + p.OutTradeNo + "&sign=" + string(make([]byte, 344)))}
	if separate {
		if err := s.InsertNotification(c, n); err != nil {
			return err
		}
	}
	return s.InTx(c, func(tx store.Tx) error {
		if !separate {
			if err := tx.InsertNotification(c, n); err != nil {
				return err
			}
		}
		q, err := tx.LockPaymentByOutTradeNo(c, p.Account, p.OutTradeNo)
		if err != nil {
			return err
		}
		n.Status, n.DedupeKey, n.PaymentID = store.NotificationProcessed, p.Account+":"+p.OutTradeNo, q.ID
		if err := tx.UpdateNotification(c, n); err != nil {
			return err
		}
		if err := core.PaymentTransition(q.Status, core.PaymentSucceeded); err != nil {
			return err
		}
		q.Status, q.ProviderRef, q.PaidAt = core.PaymentSucceeded, "2026"+q.OutTradeNo, time.Now()
		if err := tx.UpdatePayment(c, q); err != nil {
			return err
		}
		payload, err := json.Marshal(map[string]any{"id": q.ID, "amount": q.Amount, "status": q.Status})
		if err != nil {
			return err
		}
		return tx.InsertEvent(c, &store.Event{ID: store.NewID("evt_"), Type: store.EventPaymentSucceeded,
			Account: q.Account, PaymentID: q.ID, Payload: payload})
	})
}

// benchPayments inserts n pending payments (outside the timer) for intake to complete.
func benchPayments(b *testing.B, s store.Store, n int) []*store.Payment {
	b.StopTimer()
	defer b.StartTimer()
	c := context.Background()
	ps := make([]*store.Payment, n)
	for i := range ps {
		ps[i] = newPayment("acct-bench", 100)
	}
	// In batches, so that setting up a large b.N does not take a commit per payment.
	for i := 0; i < n; i += 500 {
		batch := ps[i:min(n, i+500)]
		if err := s.InTx(c, func(tx store.Tx) error {
			for _, p := range batch {
				if err := tx.InsertPayment(c, p); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	return ps
}

func paired(b *testing.B, s *syncer, op func(context.Context) error) {
	c := context.Background()
	var opD, syncD time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if i%2 == 0 {
			if err := op(c); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			s.sync(b)
			opD += t1.Sub(t0)
			syncD += time.Since(t1)
		} else {
			s.sync(b)
			t1 := time.Now()
			if err := op(c); err != nil {
				b.Fatal(err)
			}
			syncD += t1.Sub(t0)
			opD += time.Since(t1)
		}
	}
	b.ReportMetric(float64(opD.Microseconds())/float64(b.N), "op-us")
	b.ReportMetric(float64(syncD.Microseconds())/float64(b.N), "sync-us")
	b.ReportMetric(float64(opD)/float64(syncD), "op/sync")
}

func parallel(b *testing.B, s *syncer, par int, op func(context.Context) error) {
	c := context.Background()
	// The reference: bare syncs per second measured in the same run, before the load.
	t0 := time.Now()
	const refN = 20
	for range refN {
		s.sync(b)
	}
	syncPerSec := refN / time.Since(t0).Seconds()
	b.SetParallelism(par) // par x GOMAXPROCS goroutines
	stats, hasStats := s.store.(interface{ CommitStats() (commits, txs int64) })
	var c0, t0x int64
	if hasStats {
		c0, t0x = stats.CommitStats()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			t := time.Now()
			if err := op(c); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
	})
	perSec := float64(b.N) / time.Since(start).Seconds()
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// Less at the mercy of the disk and the neighbours than ops/s: what one operation
		// costs this process (the store's client side; for SQLite, the whole database).
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	if hasStats {
		// Deterministic where the sync reference is noisy: how many transactions shared
		// each durable commit.
		c1, t1 := stats.CommitStats()
		if c1 > c0 {
			b.ReportMetric(float64(t1-t0x)/float64(c1-c0), "tx/commit")
		}
	}
	b.ReportMetric(perSec, "ops/s")
	b.ReportMetric(syncPerSec, "syncs/s")
	b.ReportMetric(perSec/syncPerSec, "ops/sync")
}

// syncer is the reference: the cheapest durable write a database could do.
type syncer struct {
	store store.Store // for optional statistics
	mu    sync.Mutex
	f     *os.File
	buf   []byte
}

func newSyncer(b *testing.B, dir string) *syncer {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("fsync-ref-%d", time.Now().UnixNano())))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := f.WriteAt(buf, 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	return &syncer{f: f, buf: buf}
}

func (s *syncer) sync(b *testing.B) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(s.buf, 0); err != nil {
		b.Fatal(err)
	}
	if err := fdatasync(s.f); err != nil {
		b.Fatal(err)
	}
}
