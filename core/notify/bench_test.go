package notify

import (
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/paymux/paymux/core/benchpair"
	"github.com/paymux/paymux/core/signing"
)

func BenchmarkDecodeForm(b *testing.B) {
	for _, name := range []string{"notify-utf8", "notify-gbk"} {
		body, _ := golden(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := DecodeForm(body, formCT); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeFormPaired pairs DecodeForm with the obvious decoder built on
// url.QueryUnescape (referenceDecode, also the fuzz oracle), the way DecodeForm was first written.
func BenchmarkDecodeFormPaired(b *testing.B) {
	body, _ := golden(b, "notify-utf8")
	benchpair.Run(b, "net-url", func() error { _, err := DecodeForm(body, formCT); return err }, func() error {
		if _, ok := referenceDecode(body); !ok {
			return errors.New("reference decode failed")
		}
		return nil
	})
}

// BenchmarkNotificationVerify is the whole intake check of an RSA2 notification: decode the body,
// build Format B, verify. Paired with a bare rsa.VerifyPKCS1v15; benchmarking.md quotes 1.08x for
// a minimal implementation and 1.17x-1.34x for popular SDKs.
func BenchmarkNotificationVerify(b *testing.B) {
	pem, err := os.ReadFile(filepath.Join("..", "signing", "testdata", "keys", "test-rsa2048-pkcs1-DO-NOT-USE.pem"))
	if err != nil {
		b.Fatal(err)
	}
	key, err := signing.ParsePrivateKey(pem)
	if err != nil {
		b.Fatal(err)
	}
	_, fields := golden(b, "notify-utf8")
	fields = maps.Clone(fields)
	fields["sign_type"] = string(signing.RSA2)
	s, _ := signing.NewRSASigner(signing.RSA2, key)
	v, _ := signing.NewRSAVerifier(signing.RSA2, &key.PublicKey)
	sig, err := s.Sign(signing.CanonicalB(fields))
	if err != nil {
		b.Fatal(err)
	}
	fields["sign"] = sig
	q := url.Values{}
	for k, val := range fields {
		q.Set(k, val)
	}
	body := []byte(q.Encode())
	ref, err := benchpair.BareVerify(key)
	if err != nil {
		b.Fatal(err)
	}
	benchpair.Run(b, "rsa-verify", func() error {
		f, err := DecodeForm(body, formCT)
		if err != nil {
			return err
		}
		return v.Verify(signing.CanonicalB(f), f["sign"])
	}, ref)
}
