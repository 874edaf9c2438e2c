package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"time"
)

// Baseline is the throughput of bare crypto/rsa on this machine at the run's concurrency: the
// physical limit the product's figures are divided by (benchmarking.md's references).
type Baseline struct {
	SignPerSecond   float64 `json:"sign_per_second"`   // rsa.SignPKCS1v15, RSA-2048, SHA-256 of 400 bytes included
	VerifyPerSecond float64 `json:"verify_per_second"` // rsa.VerifyPKCS1v15 of the same
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
	sign := RunLoad(ctx, many, d, conc, func(context.Context, int) error {
		h := sha256.Sum256(baselineMessage)
		_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
		return err
	})
	verify := RunLoad(ctx, many, d, conc, func(context.Context, int) error {
		h := sha256.Sum256(baselineMessage)
		return rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig)
	})
	if sign.Errors > 0 || verify.Errors > 0 {
		return Baseline{}, fmt.Errorf("baseline: %s%s", sign.FirstError, verify.FirstError)
	}
	return Baseline{SignPerSecond: sign.PerSecond, VerifyPerSecond: verify.PerSecond}, nil
}
