package mapi

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

func signWith(t *testing.T, keyFile string, st signing.SignType, content string) string {
	t.Helper()
	key, err := signing.ParsePrivateKey(readFile(t, keyPath(keyFile)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.NewRSASigner(st, key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(content)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestKeyRotationSettings: during an Alipay key rotation the account lists both public keys and
// a message signed with either verifies (one signed with a third key does not); signing_key
// names the merchant key that signs; md5_key may list the new and the old key, the first signs
// and both verify.
func TestKeyRotationSettings(t *testing.T) {
	const content = "out_trade_no=pmx1&total_fee=1.00"
	both := filepath.Join(t.TempDir(), "alipay-public-keys.pem")
	pems := append(readFile(t, keyPath("test-alipay-rsa2048-public.pem")), readFile(t, keyPath("test-merchant-rsa2048-public.pem"))...)
	if err := os.WriteFile(both, pems, 0o600); err != nil {
		t.Fatal(err)
	}
	_, raw := rsaSettings(t, "https://gateway.example/gateway.do")
	raw[SetPublicKeyFile] = both
	s, err := ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Verifier("RSA2")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"test-alipay-rsa2048-DO-NOT-USE.pem", "test-merchant-rsa2048-DO-NOT-USE.pem"} {
		if err := v.Verify(content, signWith(t, k, signing.RSA2, content)); err != nil {
			t.Errorf("a message signed with %s does not verify during the rotation: %v", k, err)
		}
	}
	if err := v.Verify(content, signWith(t, "test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem", signing.RSA2, content)); err == nil {
		t.Error("a message signed with a third key verifies")
	}
	// Control: with the old key alone, the new key's signature does not verify.
	_, raw1 := rsaSettings(t, "https://gateway.example/gateway.do")
	s1, err := ParseSettings(raw1)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := s1.Verifier("RSA2")
	if err := v1.Verify(content, signWith(t, "test-merchant-rsa2048-DO-NOT-USE.pem", signing.RSA2, content)); err == nil {
		t.Error("control: the new key verifies without being listed")
	}

	// signing_key: current signs with private_key_file, next with next_private_key_file.
	merchantPub, err := signing.ParsePublicKey(readFile(t, keyPath("test-merchant-rsa2048-public.pem")))
	if err != nil {
		t.Fatal(err)
	}
	nextPub, err := signing.ParsePublicKey(readFile(t, keyPath("test-alipay-rsa2048-public.pem")))
	if err != nil {
		t.Fatal(err)
	}
	raw[SetNextPrivateKeyFile] = keyPath("test-alipay-rsa2048-DO-NOT-USE.pem")
	for _, c := range []struct {
		signingKey string
		pub        any
	}{{"", merchantPub}, {"current", merchantPub}, {"next", nextPub}} {
		raw[SetSigningKey] = c.signingKey
		s, err := ParseSettings(raw)
		if err != nil {
			t.Fatalf("signing_key %q: %v", c.signingKey, err)
		}
		sig, err := s.Signer.Sign(content)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []signing.SignType{signing.RSA2, signing.RSA} {
			if st == signing.RSA {
				signer, err := s.RSASigner(raw, st)
				if err != nil {
					t.Fatal(err)
				}
				if sig, err = signer.Sign(content); err != nil {
					t.Fatal(err)
				}
			}
			ver, _ := signing.NewRSAVerifier(st, c.pub.(*rsa.PublicKey))
			if err := ver.Verify(content, sig); err != nil {
				t.Errorf("signing_key %q, %s: not signed with the named key: %v", c.signingKey, st, err)
			}
		}
	}
	raw[SetSigningKey] = "newest"
	if _, err := ParseSettings(raw); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("signing_key newest: %v", err)
	}
	raw[SetSigningKey] = "next"
	delete(raw, SetNextPrivateKeyFile)
	if _, err := ParseSettings(raw); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("signing_key next without next_private_key_file: %v", err)
	}

	// MD5: the first key signs, every listed key verifies.
	const newMD5, oldMD5, otherMD5 = "newmd5keyDONOTUSE0123456789abcde", "oldmd5keyDONOTUSE0123456789abcde", "othermd5keyDONOTUSE0123456789abc"
	md5Raw := map[string]string{SetPartner: testPartner, SetGatewayURL: "https://gateway.example/gateway.do", SetSignType: "MD5",
		SetMD5Key: newMD5 + ", " + oldMD5}
	ms, err := ParseSettings(md5Raw)
	if err != nil {
		t.Fatal(err)
	}
	mv, _ := ms.Verifier("MD5")
	for _, k := range []string{newMD5, oldMD5} {
		m, _ := signing.NewMD5(k)
		sig, _ := m.Sign(content)
		if err := mv.Verify(content, sig); err != nil {
			t.Errorf("MD5 signed with a listed key does not verify: %v", err)
		}
	}
	other, _ := signing.NewMD5(otherMD5)
	if sig, _ := other.Sign(content); mv.Verify(content, sig) == nil {
		t.Error("MD5 signed with an unlisted key verifies")
	}
	newSigner, _ := signing.NewMD5(newMD5)
	want, _ := newSigner.Sign(content)
	if got, _ := ms.Signer.Sign(content); got != want {
		t.Error("the first md5_key does not sign")
	}
}

// TestMD5RotationSettings: md5_signing_key names the key that signs pages (by its position in
// md5_key) and that server calls try first; md5_sign_refusal_codes defaults to ILLEGAL_SIGN
// and refuses codes that do not prove the gateway did nothing.
func TestMD5RotationSettings(t *testing.T) {
	const content = "out_trade_no=pmx1&total_fee=1.00"
	const newMD5, oldMD5 = "newmd5keyDONOTUSE0123456789abcde", "oldmd5keyDONOTUSE0123456789abcde"
	parse := func(extra map[string]string) (*Settings, error) {
		raw := map[string]string{SetPartner: testPartner, SetGatewayURL: "https://gateway.example/gateway.do", SetSignType: "MD5",
			SetMD5Key: newMD5 + "," + oldMD5}
		for k, v := range extra {
			raw[k] = v
		}
		return ParseSettings(raw)
	}
	sign := func(key string) string {
		m, _ := signing.NewMD5(key)
		sig, _ := m.Sign(content)
		return sig
	}
	for _, c := range []struct {
		pos, key string
	}{{"", newMD5}, {"1", newMD5}, {" 2 ", oldMD5}} {
		s, err := parse(map[string]string{SetMD5SigningKey: c.pos})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Signer.Sign(content); got != sign(c.key) {
			t.Errorf("md5_signing_key %q does not sign with its key", c.pos)
		}
		if got, _ := s.MD5Signer().Sign(content); got != sign(c.key) {
			t.Errorf("MD5Signer with md5_signing_key %q is not its key", c.pos)
		}
		if want := slices.Index([]string{newMD5, oldMD5}, c.key); int(s.md5.next.Load()) != want {
			t.Errorf("md5_signing_key %q: server calls try key %d first, want %d", c.pos, s.md5.next.Load(), want)
		}
		if !slices.Equal(s.md5.refusals, []string{"ILLEGAL_SIGN"}) {
			t.Errorf("default refusal codes %v", s.md5.refusals)
		}
	}
	for _, bad := range []map[string]string{
		{SetMD5SigningKey: "0"}, {SetMD5SigningKey: "3"}, {SetMD5SigningKey: "old"},
		{SetMD5SignRefusals: "TRADE_NOT_EXIST"},      // a business answer: the gateway judged the request
		{SetMD5SignRefusals: "SYSTEM_ERROR"},         // an unknown outcome: the gateway may have acted
		{SetMD5SignRefusals: "RETURN_AMOUNT_EXCEED"}, // a decline
		{SetMD5SignRefusals: "illegal sign"},
	} {
		if _, err := parse(bad); core.ErrorCode(err) != core.ECONFIG {
			t.Errorf("%v: %v, want ECONFIG", bad, err)
		}
	}
	s, err := parse(map[string]string{SetMD5SignRefusals: "ILLEGAL_SIGN, ILLEGAL_DYN_MD5_KEY,NEW_SIGN_CODE"})
	if err != nil || !slices.Equal(s.md5.refusals, []string{"ILLEGAL_SIGN", "ILLEGAL_DYN_MD5_KEY", "NEW_SIGN_CODE"}) {
		t.Errorf("listed refusal codes: %v, %v", s, err)
	}
	if s, err := parse(map[string]string{SetMD5SignRefusals: "none"}); err != nil || len(s.md5.refusals) != 0 {
		t.Errorf("none: %v", err)
	}
	_, rsaRaw := rsaSettings(t, "https://gateway.example/gateway.do")
	delete(rsaRaw, SetMD5Key)
	rsaRaw[SetMD5SigningKey] = "1"
	if _, err := ParseSettings(rsaRaw); core.ErrorCode(err) != core.ECONFIG {
		t.Errorf("md5_signing_key without md5_key: %v", err)
	}
}
