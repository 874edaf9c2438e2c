// Package benchpair runs paired benchmarks: each iteration times the operation under test and a
// reference operation back to back, alternating which goes first, so that the noise of a shared
// machine hits both sides and their ratio stays stable (see shared/design/benchmarking.md).
package benchpair

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Run benchmarks op against ref and reports, besides the usual figures (which cover both):
//   - op-ns/op and <refName>-ns/op, the per-iteration time of each side;
//   - op/<refName>, the paired ratio of the totals (the figure benchmarking.md quotes);
//   - op/<refName>-p50, the median of the per-iteration ratios, which a preemption that hits
//     only one side of one iteration cannot move (quote it when the machine is busy);
//   - op-allocs/op, the allocations of op alone (measured once, before the timed loop).
//
// It returns op's mean time per iteration (zero if nothing ran), for callers that derive a
// throughput metric from it.
func Run(b *testing.B, refName string, op, ref func() error) time.Duration {
	b.Helper()
	return run(b, refName, nil, op, ref)
}

// RunPrepared is Run with prepare called before every op (the allocation count included),
// outside both the paired timings and the benchmark timer: for an op that consumes its input,
// such as a notification for a fresh payment.
func RunPrepared(b *testing.B, refName string, prepare, op, ref func() error) time.Duration {
	b.Helper()
	return run(b, refName, prepare, op, ref)
}

func run(b *testing.B, refName string, prepare, op, ref func() error) time.Duration {
	b.Helper()
	allocs, err := opAllocs(prepare, op)
	if err != nil {
		b.Fatalf("op: %v", err)
	}
	var opT, refT time.Duration
	var ratios []float64
	n := 0
	for b.Loop() {
		if prepare != nil {
			b.StopTimer()
			if err := prepare(); err != nil {
				b.Fatalf("prepare: %v", err)
			}
			b.StartTimer()
		}
		var err1, err2 error
		var o, r time.Duration
		if n&1 == 0 {
			t0 := time.Now()
			err1 = op()
			t1 := time.Now()
			err2 = ref()
			t2 := time.Now()
			o, r = t1.Sub(t0), t2.Sub(t1)
		} else {
			t0 := time.Now()
			err2 = ref()
			t1 := time.Now()
			err1 = op()
			t2 := time.Now()
			r, o = t1.Sub(t0), t2.Sub(t1)
		}
		opT += o
		refT += r
		if r > 0 {
			ratios = append(ratios, float64(o)/float64(r))
		}
		if err1 != nil || err2 != nil {
			b.Fatalf("op: %v, ref: %v", err1, err2)
		}
		n++
	}
	if n == 0 || refT == 0 {
		return 0
	}
	b.ReportMetric(float64(opT.Nanoseconds())/float64(n), "op-ns/op")
	b.ReportMetric(float64(refT.Nanoseconds())/float64(n), refName+"-ns/op")
	b.ReportMetric(float64(opT)/float64(refT), "op/"+refName)
	if len(ratios) > 0 {
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "op/"+refName+"-p50")
	}
	b.ReportMetric(allocs, "op-allocs/op")
	return opT / time.Duration(n)
}

// opAllocs is the mean number of allocations of op over 20 runs (after a warm-up run), with
// prepare, when set, called before each run and not counted.
func opAllocs(prepare, op func() error) (float64, error) {
	var opErr error
	call := func() {
		if err := op(); err != nil && opErr == nil {
			opErr = err
		}
	}
	if prepare == nil {
		return testing.AllocsPerRun(20, call), opErr
	}
	const runs = 20
	var before, after runtime.MemStats
	var mallocs uint64
	for i := range runs + 1 {
		if err := prepare(); err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
		runtime.ReadMemStats(&before)
		call()
		runtime.ReadMemStats(&after)
		if i > 0 { // the first run warms up, as in testing.AllocsPerRun
			mallocs += after.Mallocs - before.Mallocs
		}
	}
	return float64(mallocs) / runs, opErr
}

// RefMessage is the 400-byte message the reference operations sign, as benchmarking.md fixes it.
var RefMessage = []byte(strings.Repeat("paymux-benchmark-reference-message-0123456789/", 9)[:400])

// BareSign returns the reference for anything that signs: rsa.SignPKCS1v15 over SHA-256 of
// RefMessage, hash included, with key (RSA-2048 in every recorded figure).
func BareSign(key *rsa.PrivateKey) func() error {
	return func() error {
		d := sha256.Sum256(RefMessage)
		_, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
		return err
	}
}

// BareVerify returns the reference for anything that verifies: rsa.VerifyPKCS1v15 of a
// signature over RefMessage, hash included.
func BareVerify(key *rsa.PrivateKey) (func() error, error) {
	d := sha256.Sum256(RefMessage)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		return nil, err
	}
	pub := &key.PublicKey
	return func() error {
		d := sha256.Sum256(RefMessage)
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
	}, nil
}
