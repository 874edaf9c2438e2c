package mapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

// settingsOrder is the argument order of FuzzParseSettings and of the seed files.
var settingsOrder = []string{SetPartner, SetGatewayURL, SetSignType, SetPrivateKeyFile, SetPublicKeyFile, SetMD5Key, SetAcceptSignTypes, SetTimeout}

// FuzzParseSettings feeds account settings (config: outside input) through ParseSettings, seeded
// from testdata/settings. It must never panic, an accepted account must be able to sign and to
// verify its own type, and no error may quote a secret setting's value.
func FuzzParseSettings(f *testing.F) {
	files, _ := filepath.Glob("testdata/settings/*.settings")
	if len(files) == 0 {
		f.Fatal("no seed files")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
		a := func(i int) string { return kv[settingsOrder[i]] }
		f.Add(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7))
	}
	f.Fuzz(func(t *testing.T, partner, gateway, signType, priv, pub, md5, accept, timeout string) {
		vals := []string{partner, gateway, signType, priv, pub, md5, accept, timeout}
		raw := map[string]string{}
		for i, k := range settingsOrder {
			if vals[i] != "" {
				raw[k] = vals[i]
			}
		}
		s, err := ParseSettings(raw)
		if err != nil {
			if core.ErrorCode(err) != core.ECONFIG && core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("error of kind %s: %v", core.ErrorCode(err), err)
			}
			for _, secret := range []string{md5, priv} {
				secret = strings.TrimSpace(secret)
				if len(secret) < 12 || strings.Contains(partner+gateway+signType+pub+accept+timeout, secret) {
					continue // too short to tell from other text, or quoted as another setting
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error quotes a secret setting: %v", err)
				}
			}
			return
		}
		if s.Signer == nil || s.Signer.Type() != s.SignType {
			t.Fatalf("accepted an account that cannot sign with %s", s.SignType)
		}
		if _, err := s.Verifier(string(s.SignType)); err != nil {
			t.Fatalf("accepted an account that cannot verify its own type: %v", err)
		}
		for _, st := range s.Accepted {
			if _, err := s.Verifier(string(st)); err != nil {
				t.Fatalf("accepts %s but cannot verify it: %v", st, err)
			}
		}
	})
}
