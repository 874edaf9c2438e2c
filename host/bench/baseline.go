package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// Baseline is the throughput of bare crypto/rsa on this machine at the run's concurrency: the
// physical limit the product's figures are divided by (benchmarking.md's references).
type Baseline struct {
	SignPerSecond   float64 `json:"sign_per_second"`   // rsa.SignPKCS1v15, RSA-2048, SHA-256 of 400 bytes included
	VerifyPerSecond float64 `json:"verify_per_second"` // rsa.VerifyPKCS1v15 of the same
	// SignCPU and VerifyCPU are the CPU time of this process per bare operation during the
	// measurement (the host and its plugins are idle then): what one signature costs in CPU,
	// whatever the other tenants do to wall time. Zero when /proc is unreadable.
	SignCPU   time.Duration `json:"sign_cpu_ns"`
	VerifyCPU time.Duration `json:"verify_cpu_ns"`
}

// baselineMessage is the 400-byte reference message of benchmarking.md.
var baselineMessage = func() []byte {
	b := make([]byte, 400)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// MeasureBaseline runs bare RSA-2048 signing, then verifying, with conc workers for d each.
func MeasureBaseline(ctx context.Context, key *rsa.PrivateKey, conc int, d time.Duration) (Baseline, error) {
	h := sha256.Sum256(baselineMessage)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline sign: %w", err)
	}
	const many = 1 << 30 // bounded by d
	self := os.Getpid()
	c0 := CPUTime(self)
	sign := RunLoad(ctx, many, d, conc, func(context.Context, int) error {
		h := sha256.Sum256(baselineMessage)
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
		return err
	})
	c1 := CPUTime(self)
	verify := RunLoad(ctx, many, d, conc, func(context.Context, int) error {
		h := sha256.Sum256(baselineMessage)
		return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig)
	})
	c2 := CPUTime(self)
	if sign.Errors > 0 || verify.Errors > 0 {
		return Baseline{}, fmt.Errorf("baseline: %s%s", sign.FirstError, verify.FirstError)
	}
	return Baseline{SignPerSecond: sign.PerSecond, VerifyPerSecond: verify.PerSecond,
		SignCPU: perOp(c1-c0, sign.Ops), VerifyCPU: perOp(c2-c1, verify.Ops)}, nil
}

// perOp divides a CPU time by a count (0 for no operations).
func perOp(cpu time.Duration, ops int) time.Duration {
	if ops <= 0 {
		return 0
	}
	return cpu / time.Duration(ops)
}
