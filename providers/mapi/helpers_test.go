package mapi

import (
	"crypto/rsa"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/paymux/paymux/core/signing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testPartner = "2088101122136241"

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyPath returns a throw-away test key under testdata/keys.
func keyPath(name string) string { return filepath.Join("testdata", "keys", name) }

// rsaSettings returns RSA2 settings with the test merchant key and the test "Alipay" key as
// the gateway's public key.
func rsaSettings(t testing.TB, gateway string) (*Settings, map[string]string) {
	t.Helper()
	raw := map[string]string{
		SetPartner:        testPartner,
		SetGatewayURL:     gateway,
		SetSignType:       "RSA2",
		SetPrivateKeyFile: keyPath("test-merchant-rsa2048-DO-NOT-USE.pem"),
		SetPublicKeyFile:  keyPath("test-alipay-rsa2048-public.pem"),
		SetMD5Key:         "test-md5-key-DO-NOT-USE-0123456789",
	}
	s, err := ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s, raw
}

// gatewaySigner signs as "Alipay" would (with the test gateway key).
func gatewaySigner(t testing.TB, st signing.SignType) signing.Signer {
	t.Helper()
	key, err := signing.ParsePrivateKey(readFile(t, keyPath("test-alipay-rsa2048-DO-NOT-USE.pem")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.NewRSASigner(st, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func merchantKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := signing.ParsePrivateKey(readFile(t, keyPath("test-merchant-rsa2048-DO-NOT-USE.pem")))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// golden compares got (as indented JSON) with testdata/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFile(t, path)
	if string(want) != string(b) {
		t.Errorf("%s differs from golden:\n got %s\nwant %s", name, b, want)
	}
}
