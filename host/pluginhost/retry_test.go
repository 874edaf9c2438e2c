package pluginhost

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/plugins/sdk"
)

// TestRetryOnceOnlyForSafeCalls kills a plugin under two in-flight calls after a second,
// healthy process has taken its place: the query (safe to repeat) is retried on the new
// process; the refund (not safe) is not, and reports an unknown outcome.
func TestRetryOnceOnlyForSafeCalls(t *testing.T) {
	m := newManager(t, Options{DisableAutoMTLS: true})
	ctx := context.Background()
	if err := m.Start(ctx, []Spec{spec(map[string]string{"PAYMUX_EXAMPLE_HANG": "QueryPayment,Refund"})}); err != nil {
		t.Fatal(err)
	}
	s, _ := m.get("example")
	old, err := s.current()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Provider("example")

	type result struct {
		err  error
		took time.Duration
	}
	query, refund := make(chan result, 1), make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := p.QueryPayment(ctx, &core.QueryPaymentRequest{Account: "acct1", OutTradeNo: "o1"})
		query <- result{err, time.Since(start)}
	}()
	go func() {
		start := time.Now()
		_, err := p.Refund(ctx, &core.RefundRequest{Account: "acct1", OutTradeNo: "o1", OutRefundNo: "r1"})
		refund <- result{err, time.Since(start)}
	}()
	// Both calls hold their slots, and so have taken the old process (current() comes right
	// after the slot). Nothing shows when their requests have reached it: give them 300 ms.
	waitFor(t, "both calls in flight", func() bool { return len(s.sem) == 2 })
	time.Sleep(300 * time.Millisecond)

	// A healthy replacement, published as the supervisor would after a restart.
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	fresh, err := sdk.Launch(lctx, sdk.LaunchConfig{Name: "example", Path: examplePath, SHA256: exampleSHA, RuntimeDir: m.opts.RuntimeDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fresh.Kill)
	s.mu.Lock()
	s.cur = fresh
	s.mu.Unlock()
	if err := syscall.Kill(old.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	q := <-query
	// The retry reached the fresh process, which has no account acct1: the provider's own
	// ECONFIG proves it (without the retry this would be provider_unavailable).
	if core.ErrorCode(q.err) != core.ECONFIG || sdk.IsBoundaryError(q.err) {
		t.Fatalf("query after the crash: %v; want the fresh process's ECONFIG", q.err)
	}
	r := <-refund
	if core.ErrorCode(r.err) != core.EUNKNOWN {
		t.Fatalf("refund after the crash: %v; want %s and no retry", r.err, core.EUNKNOWN)
	}
}
