package signing

import (
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/paymux/paymux/core/benchpair"
)

// The benchmarks use the realistic 15-field parameter map of testdata/vectors/realistic-15.json
// and the 2048-bit test key. Sign and verify are paired with bare crypto/rsa (benchpair), so the
// figure to quote is op/rsa-sign or op/rsa-verify.

func benchVector(b *testing.B) vector {
	b.Helper()
	for _, v := range loadVectors(b) {
		if v.name == "realistic-15" {
			return v
		}
	}
	b.Fatal("realistic-15 vector missing")
	return vector{}
}

// bareMD5 is the reference for MD5: the same digest with no interface, no canonicalisation.
func bareMD5(content, key string) func() error {
	return func() error {
		h := md5.Sum([]byte(content + key))
		_ = hex.EncodeToString(h[:])
		return nil
	}
}

func BenchmarkSign(b *testing.B) {
	v := benchVector(b)
	key := loadPrivate(b, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	content := v.b
	for _, t := range []SignType{RSA, RSA2} {
		s := mustRSASigner(b, t, key)
		b.Run(string(t), func(b *testing.B) {
			benchpair.Run(b, "rsa-sign", func() error { _, err := s.Sign(content); return err }, benchpair.BareSign(key))
		})
	}
	m := testMD5Key(b)
	b.Run("MD5", func(b *testing.B) {
		benchpair.Run(b, "md5", func() error { _, err := m.Sign(content); return err }, bareMD5(content, m.key))
	})
}

func BenchmarkVerify(b *testing.B) {
	v := benchVector(b)
	key := loadPrivate(b, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	content := v.b
	ref, err := benchpair.BareVerify(key)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []SignType{RSA, RSA2} {
		sig, err := mustRSASigner(b, t, key).Sign(content)
		if err != nil {
			b.Fatal(err)
		}
		ver := mustRSAVerifier(b, t, &key.PublicKey)
		b.Run(string(t), func(b *testing.B) {
			benchpair.Run(b, "rsa-verify", func() error { return ver.Verify(content, sig) }, ref)
		})
	}
	m := testMD5Key(b)
	sig, _ := m.Sign(content)
	b.Run("MD5", func(b *testing.B) {
		benchpair.Run(b, "md5", func() error { return m.Verify(content, sig) }, bareMD5(content, m.key))
	})
}

// BenchmarkOrderString is the whole create-order signing path of the app product: Format A,
// RSA signature, assembly. benchmarking.md quotes 1.006x a bare sign for a minimal implementation.
func BenchmarkOrderString(b *testing.B) {
	v := benchVector(b)
	key := loadPrivate(b, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	for _, t := range []SignType{RSA, RSA2} {
		s := mustRSASigner(b, t, key)
		b.Run(string(t), func(b *testing.B) {
			benchpair.Run(b, "rsa-sign", func() error { _, err := OrderString(v.params, s); return err }, benchpair.BareSign(key))
		})
	}
}

func BenchmarkCanonical(b *testing.B) {
	v := benchVector(b)
	b.Run("A", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = CanonicalA(v.params)
		}
	})
	b.Run("B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = CanonicalB(v.params)
		}
	})
}
