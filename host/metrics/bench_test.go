package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/metrics"
)

// BenchmarkInstrumentedCall measures what the instrumentation adds to one provider call,
// paired (benchmarking.md): each iteration times the instrumented QueryPayment and the same call
// on the bare provider back to back, alternating the order. The reference is an in-process call,
// so the ratio is an upper bound; against a plugin call (about 163 us) the added ns/call is what
// matters.
func BenchmarkInstrumentedCall(b *testing.B) {
	ctx := context.Background()
	raw := fakeProvider{}
	wrapped := metrics.New().InstrumentProvider(raw, "fake")
	req := &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "o1"}
	var op, ref time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if i%2 == 0 {
			_, _ = wrapped.QueryPayment(ctx, req)
			t1 := time.Now()
			_, _ = raw.QueryPayment(ctx, req)
			t2 := time.Now()
			op, ref = op+t1.Sub(t0), ref+t2.Sub(t1)
		} else {
			_, _ = raw.QueryPayment(ctx, req)
			t1 := time.Now()
			_, _ = wrapped.QueryPayment(ctx, req)
			t2 := time.Now()
			ref, op = ref+t1.Sub(t0), op+t2.Sub(t1)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(op.Nanoseconds())/n, "instrumented-ns/call")
	b.ReportMetric(float64(op-ref)/n, "added-ns/call")
	b.ReportMetric(float64(op)/float64(ref), "op/ref")
}
