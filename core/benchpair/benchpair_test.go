package benchpair

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRunReportsPairedMetrics(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) {
		Run(b, "ref", func() error { spin(200 * time.Microsecond); return nil },
			func() error { spin(100 * time.Microsecond); return nil })
	})
	for _, m := range []string{"op-ns/op", "ref-ns/op", "op/ref", "op/ref-p50", "op-allocs/op"} {
		if _, ok := r.Extra[m]; !ok {
			t.Errorf("metric %q missing: %v", m, r.Extra)
		}
	}
	// A busy machine stretches either side, so only the order of the ratio is checked.
	if ratio := r.Extra["op/ref-p50"]; ratio < 1.2 || ratio > 3 {
		t.Errorf("op/ref-p50 = %v for a 2:1 pair", ratio)
	}
}

func TestRunPreparedKeepsPrepareOutsideTheTiming(t *testing.T) {
	var prepared, ops int
	var mean time.Duration
	r := testing.Benchmark(func(b *testing.B) {
		prepared, ops = 0, 0
		mean = RunPrepared(b, "ref",
			func() error { prepared++; spin(time.Millisecond); return nil },
			func() error {
				if ops != prepared-1 {
					return fmt.Errorf("op %d ran after %d prepares", ops, prepared)
				}
				ops++
				spin(100 * time.Microsecond)
				return nil
			},
			func() error { spin(100 * time.Microsecond); return nil })
	})
	if r.N == 0 || ops != prepared {
		t.Fatalf("N=%d, %d ops after %d prepares", r.N, ops, prepared)
	}
	// prepare takes 10x op: were it timed, the ratio would be about 11.
	if ratio := r.Extra["op/ref-p50"]; ratio < 0.5 || ratio > 2 {
		t.Errorf("op/ref-p50 = %v for a 1:1 pair with untimed prepare", ratio)
	}
	if mean < 50*time.Microsecond || mean > 5*time.Millisecond {
		t.Errorf("RunPrepared returned mean op time %v for a 100us op", mean)
	}
}

func TestReferences(t *testing.T) {
	if len(RefMessage) != 400 {
		t.Fatalf("RefMessage is %d bytes, want 400", len(RefMessage))
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := BareSign(key)(); err != nil {
		t.Fatal(err)
	}
	verify, err := BareVerify(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	// An op that fails stops the benchmark instead of timing an error path.
	r := testing.Benchmark(func(b *testing.B) {
		Run(b, "ref", func() error { return errors.New("boom") }, func() error { return nil })
	})
	if r.N != 0 {
		t.Errorf("failing op ran %d iterations", r.N)
	}
}

// spin busy-waits: sleeps are rounded up to the timer resolution, which would hide the 2:1 ratio.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}
