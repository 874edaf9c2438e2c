package signing

import (
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Test fixtures live in testdata/ and are produced by testdata/gen-vectors.sh with openssl and
// jq, never by the code under test.

func readTestdata(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		tb.Fatalf("read testdata: %v", err)
	}
	return b
}

func readKeyFile(tb testing.TB, name string) []byte {
	tb.Helper()
	return readTestdata(tb, "keys", name)
}

func loadPrivate(tb testing.TB, name string) *rsa.PrivateKey {
	tb.Helper()
	k, err := ParsePrivateKey(readKeyFile(tb, name))
	if err != nil {
		tb.Fatalf("ParsePrivateKey(%s): %v", name, err)
	}
	return k
}

func loadPublic(tb testing.TB, name string) *rsa.PublicKey {
	tb.Helper()
	k, err := ParsePublicKey(readKeyFile(tb, name))
	if err != nil {
		tb.Fatalf("ParsePublicKey(%s): %v", name, err)
	}
	return k
}

// vector is one parameter map of testdata/vectors with its golden canonical strings.
type vector struct {
	name   string
	params map[string]string
	a, b   string
}

func (v vector) canonical(format string) string {
	if format == "A" {
		return v.a
	}
	return v.b
}

// sig returns a golden signature file, e.g. sig("A", "RSA2") or sig("B", "doc46.RSA").
func (v vector) sig(tb testing.TB, format, kind string) string {
	tb.Helper()
	return string(readTestdata(tb, "vectors", v.name+"."+format+"."+kind+".sig"))
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no vectors in testdata/vectors (%v)", err)
	}
	var out []vector
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		v := vector{name: name}
		if err := json.Unmarshal(readTestdata(tb, "vectors", name+".json"), &v.params); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		v.a = string(readTestdata(tb, "vectors", name+".A.txt"))
		v.b = string(readTestdata(tb, "vectors", name+".B.txt"))
		out = append(out, v)
	}
	return out
}

func testMD5Key(tb testing.TB) *MD5Key {
	tb.Helper()
	m, err := NewMD5(string(readKeyFile(tb, "test-md5-key-DO-NOT-USE.txt")))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func sandboxMD5Key(tb testing.TB) *MD5Key {
	tb.Helper()
	m, err := NewMD5(string(readKeyFile(tb, "alipay-sandbox-md5-key-PUBLISHED-TEST-ONLY.txt")))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func mustRSASigner(tb testing.TB, t SignType, k *rsa.PrivateKey) Signer {
	tb.Helper()
	s, err := NewRSASigner(t, k)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustRSAVerifier(tb testing.TB, t SignType, k *rsa.PublicKey) Verifier {
	tb.Helper()
	v, err := NewRSAVerifier(t, k)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
