package metrics_test

import (
	"context"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/host/metrics"
)

// BenchmarkInstrumentedCall measures what the instrumentation adds to one provider call,
// paired (benchmarking.md, core/benchpair): each iteration times the instrumented QueryPayment
// and the same call on the bare provider back to back, alternating the order. The reference is
// an in-process call, so op/bare is an upper bound; against a plugin call (about 163 us) what
// matters is the added time per call, op-ns/op minus bare-ns/op.
func BenchmarkInstrumentedCall(b *testing.B) {
	ctx := context.Background()
	raw := fakeProvider{}
	wrapped := metrics.New().InstrumentProvider(raw, "fake")
	req := &core.QueryPaymentRequest{Account: "acct", OutTradeNo: "o1"}
	b.ReportAllocs()
	benchpair.Run(b, "bare",
		func() error { _, err := wrapped.QueryPayment(ctx, req); return err },
		func() error { _, err := raw.QueryPayment(ctx, req); return err })
}
