package pluginhost

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

// BenchmarkSupervisedCall is the manager's cost per call (plugin lookup, in-flight slot,
// deadline, liveness check), paired: each iteration calls QueryPayment through the supervised
// handle and directly on the same process's SDK client, alternating the order.
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
	call := func(pr core.Provider) time.Duration {
		t0 := time.Now()
		if _, err := pr.QueryPayment(ctx, q); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	b.Run("sequential", func(b *testing.B) {
		var sup, dir time.Duration
		ratios := make([]float64, 0, b.N)
		for i := 0; i < b.N; i++ {
			var a, c time.Duration
			if i%2 == 0 {
				a, c = call(h), call(direct)
			} else {
				c, a = call(direct), call(h)
			}
			sup, dir = sup+a, dir+c
			ratios = append(ratios, float64(a)/float64(c))
		}
		slices.Sort(ratios)
		b.ReportMetric(float64(sup.Nanoseconds())/float64(b.N)/1e3, "supervised-µs")
		b.ReportMetric(float64(dir.Nanoseconds())/float64(b.N)/1e3, "direct-µs")
		b.ReportMetric(float64(sup)/float64(dir), "supervised/direct")
		b.ReportMetric(ratios[len(ratios)/2], "supervised/direct-p50")
	})
	b.Run("parallel8", func(b *testing.B) {
		var sup, dir atomic.Int64
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sup.Add(int64(call(h)))
				dir.Add(int64(call(direct)))
			}
		})
		b.ReportMetric(float64(sup.Load())/float64(dir.Load()), "supervised/direct")
	})
}
