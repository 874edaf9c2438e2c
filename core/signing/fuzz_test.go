package signing

import (
	"errors"
	"path/filepath"
	"testing"
)

// FuzzVerifySignature feeds arbitrary signature text, as it arrives in a notification, to every
// verifier: it must never panic and never accept anything but the real signature.
func FuzzVerifySignature(f *testing.F) {
	priv := loadPrivate(f, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	content := string(readTestdata(f, "vectors", "notify-utf8.B.txt"))
	rsa1 := mustRSAVerifier(f, RSA, &priv.PublicKey)
	rsa2 := mustRSAVerifier(f, RSA2, &priv.PublicKey)
	md5 := testMD5Key(f)
	valid := map[Verifier]map[string]bool{rsa1: {}, rsa2: {}, md5: {}}
	for _, kind := range []string{"RSA", "RSA2", "MD5"} {
		sig := string(readTestdata(f, "vectors", "notify-utf8.B."+kind+".sig"))
		f.Add(sig)
		switch kind {
		case "RSA":
			valid[rsa1][sig] = true
		case "RSA2":
			valid[rsa2][sig] = true
		case "MD5":
			valid[md5][sig] = true
		}
	}
	f.Add("")
	f.Add("====")
	f.Add("a b\r\nc")
	f.Fuzz(func(t *testing.T, sig string) {
		for v, ok := range valid {
			err := v.Verify(content, sig)
			if err == nil && !ok[sig] && !equivalentEncoding(v, sig, ok) {
				t.Fatalf("%s accepted an unexpected signature %q", v.Type(), sig)
			}
			if err != nil && ok[sig] {
				t.Fatalf("%s rejected the golden signature: %v", v.Type(), err)
			}
		}
	})
}

// equivalentEncoding allows the spellings of a valid signature that Verify is documented to
// accept: upper-case hex for MD5; unpadded, wrapped or '+'-as-space base64 for RSA. It checks by
// normalising and comparing the decoded bytes.
func equivalentEncoding(v Verifier, sig string, valid map[string]bool) bool {
	for good := range valid {
		if v.Type() == MD5 {
			if len(sig) == len(good) && toLowerASCII(sig) == good {
				return true
			}
			continue
		}
		a, errA := decodeBase64(sig)
		b, errB := decodeBase64(good)
		if errA == nil && errB == nil && string(a) == string(b) {
			return true
		}
	}
	return false
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// FuzzParseKey: key loading never panics, and whatever it accepts is an RSA key of at least
// MinKeyBits. Seeded with every committed test key.
func FuzzParseKey(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "keys", "*"))
	for _, name := range files {
		f.Add(readKeyFile(f, filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePrivateKey(data); err == nil {
			if k.N.BitLen() < MinKeyBits {
				t.Fatalf("accepted a %d-bit private key", k.N.BitLen())
			}
		} else if !errors.As(err, new(interface{ Unwrap() error })) && err.Error() == "" {
			t.Fatal("empty error")
		}
		if k, err := ParsePublicKey(data); err == nil && k.N.BitLen() < MinKeyBits {
			t.Fatalf("accepted a %d-bit public key", k.N.BitLen())
		}
	})
}
