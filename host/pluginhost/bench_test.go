package pluginhost

import (
	"context"
	"fmt"
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

// BenchmarkShadowLiveLatency is what a shadow costs the live path, paired (core/benchpair): each
// iteration sends the same notification through a plugin with a shadow and through an
// identical plugin without one, alternating the order; op/plain near 1 means the shadow adds
// nothing beyond noise. Sub-benchmarks: off (neither has a shadow: the noise floor), same (an
// identical shadow build that answers), hang (a shadow that never answers: its calls wait out
// their deadline, the in-flight bound fills and the rest are dropped) and crash (a shadow that
// exits every 20 calls and is restarted with the default backoff).
func BenchmarkShadowLiveLatency(b *testing.B) {
	cases := []struct {
		name string
		env  map[string]string
	}{
		{"off", nil},
		{"same", map[string]string{}},
		{"hang", map[string]string{"PAYMUX_EXAMPLE_HANG": "ParseNotification"}},
		{"crash", map[string]string{"PAYMUX_EXAMPLE_CRASH_AFTER": "20"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			m := New(Options{RuntimeDir: shortDir(b), Logger: logger(), DisableAutoMTLS: true})
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_ = m.Shutdown(ctx)
			})
			shadowed := spec(nil)
			if tc.env != nil {
				shadowed.Shadow = &ShadowSpec{Command: examplePath, SHA256: exampleSHA, Env: tc.env, Timeout: 2 * time.Second}
			}
			plain := spec(nil)
			plain.Name = "plain"
			ctx := context.Background()
			if err := m.Start(ctx, []Spec{shadowed, plain}); err != nil {
				b.Fatal(err)
			}
			for _, name := range []string{"example", "plain"} {
				if err := m.Configure(ctx, name, "acct1", settings); err != nil {
					b.Fatal(err)
				}
			}
			hs, _ := m.Provider("example")
			hp, _ := m.Provider("plain")
			n := notification("o1", 1234, "paid")
			call := func(p core.Provider) func() error {
				return func() error {
					res, err := p.ParseNotification(ctx, n)
					if err == nil && !res.Verified {
						err = fmt.Errorf("not verified: %s", res.RejectReason)
					}
					return err
				}
			}
			benchpair.Run(b, "plain", call(hs), call(hp))
			if tc.env != nil {
				r, err := m.ShadowReport("example")
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range r.Calls {
					if c.Method == MethodParseNotification {
						b.ReportMetric(float64(c.Same), "shadow-same")
						b.ReportMetric(float64(c.Dropped), "shadow-dropped")
						b.ReportMetric(float64(c.ShadowFailed), "shadow-failed")
						if c.Different != 0 {
							b.Errorf("an identical shadow build differs: %+v", c)
						}
					}
				}
			}
		})
	}
}
