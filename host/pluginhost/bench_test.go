package pluginhost

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
)

// BenchmarkSupervisedCall is the manager's cost per call (plugin lookup, in-flight slot,
// deadline, liveness check), paired: each iteration calls QueryPayment through the supervised
// handle and directly on the same process's SDK client, alternating the order (core/benchpair:
// op/direct and op/direct-p50). With 8 callers only the ratio of the totals, op/direct, is
// reported.
func BenchmarkSupervisedCall(b *testing.B) {
	m := New(Options{RuntimeDir: shortDir(b), Logger: logger(), DisableAutoMTLS: true})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{spec(nil)}); err != nil {
		b.Fatal(err)
	}
	if err := m.Configure(ctx, "example", "acct1", settings); err != nil {
		b.Fatal(err)
	}
	h, _ := m.Provider("example")
	s, _ := m.get("example")
	p, err := s.current()
	if err != nil {
		b.Fatal(err)
	}
	direct := p.Provider()
	if _, err := h.CreatePayment(ctx, create("o1")); err != nil {
		b.Fatal(err)
	}
	q := &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"}
	call := func(pr core.Provider) error {
		_, err := pr.QueryPayment(ctx, q)
		return err
	}
	b.Run("sequential", func(b *testing.B) {
		benchpair.Run(b, "direct", func() error { return call(h) }, func() error { return call(direct) })
	})
	b.Run("parallel8", func(b *testing.B) {
		var sup, dir atomic.Int64
		timed := func(pr core.Provider) int64 {
			t0 := time.Now()
			if err := call(pr); err != nil {
				b.Error(err)
			}
			return int64(time.Since(t0))
		}
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sup.Add(timed(h))
				dir.Add(timed(direct))
			}
		})
		b.ReportMetric(float64(sup.Load())/float64(dir.Load()), "op/direct")
	})
}
