package signing

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

const (
	// alipay-crossborder.md section 4.6, made with the throw-away key printed there.
	doc46SHA1   = "n9k9a2hPt56o4crS6AmgjhCPIMIuSLBAqGySlC1vrX5Wsb5FZCmFS2JMD4YBlYAOV2yHy/Lw7omMJXAUOx5euwEcJKecSvbyelBb+lde9Cr+DkzdsUFTrBYVgxANS1s4niASRCACN8jXHb82yN0S3OXXUBQBocmTHIrvARDlN+Q="
	doc46SHA256 = "OPHkPDNX2YyLzpU7N/zbnrIsFJ82rPMYnXJuuWKmhpApGrNaX0gGIdl7esIyR6u7loE9PsNyEfwWl4SuEX/9bFFd6L8xTipkKfvRsYiVMWhaqiePpNpr5nXFQwFimQXgccjSnciTKZ32HEQLPvXE/ldLDEj7ZEiqXuCb3ronNy0="
	doc46Tail   = `"total_quantity":"2"}"&sign="n9k9a2hPt56o4crS6AmgjhCPIMIuSLBAqGySlC1vrX5Wsb5FZCmFS2JMD4YBlYAOV2yHy%2FLw7omMJXAUOx5euwEcJKecSvbyelBb%2Blde9Cr%2BDkzdsUFTrBYVgxANS1s4niASRCACN8jXHb82yN0S3OXXUBQBocmTHIrvARDlN%2BQ%3D"&sign_type="RSA"`
)

// signers returns the three sign types with the 2048-bit test key and the test MD5 key, keyed by
// the suffix of their golden files.
func testSigners(t *testing.T) map[string]struct {
	s Signer
	v Verifier
} {
	t.Helper()
	priv := loadPrivate(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	pub := loadPublic(t, "test-rsa2048-public-spki.pem")
	md5 := testMD5Key(t)
	return map[string]struct {
		s Signer
		v Verifier
	}{
		"RSA":  {mustRSASigner(t, RSA, priv), mustRSAVerifier(t, RSA, pub)},
		"RSA2": {mustRSASigner(t, RSA2, priv), mustRSAVerifier(t, RSA2, pub)},
		"MD5":  {md5, md5},
	}
}

// TestOpenSSLVectors: Go signs every golden canonical string exactly as openssl did, and verifies
// openssl's signatures, for RSA, RSA2 and MD5 and both formats.
func TestOpenSSLVectors(t *testing.T) {
	sv := testSigners(t)
	docPriv := loadPrivate(t, "test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem")
	extra := map[string]struct {
		s Signer
		v Verifier
	}{
		"doc46.RSA":   {mustRSASigner(t, RSA, docPriv), mustRSAVerifier(t, RSA, &docPriv.PublicKey)},
		"doc46.RSA2":  {mustRSASigner(t, RSA2, docPriv), mustRSAVerifier(t, RSA2, &docPriv.PublicKey)},
		"sandbox.MD5": {sandboxMD5Key(t), sandboxMD5Key(t)},
	}
	maps.Copy(extra, sv)
	kinds := slices.Sorted(maps.Keys(extra))
	for _, v := range loadVectors(t) {
		for _, format := range []string{"A", "B"} {
			for _, kind := range kinds {
				sv := extra[kind]
				t.Run(v.name+"/"+format+"/"+kind, func(t *testing.T) {
					want := v.sig(t, format, kind)
					content := v.canonical(format)
					got, err := sv.s.Sign(content)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("Sign = %s\nopenssl = %s", got, want)
					}
					if err := sv.v.Verify(content, want); err != nil {
						t.Errorf("Verify(openssl signature) = %v", err)
					}
				})
			}
		}
	}
}

// TestCrossborder46 reproduces alipay-crossborder.md section 4.6 byte for byte, including the
// final order string.
func TestCrossborder46(t *testing.T) {
	var v vector
	for _, x := range loadVectors(t) {
		if x.name == "crossborder-4.6" {
			v = x
		}
	}
	key := loadPrivate(t, "test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem")
	pre := CanonicalA(v.params)
	for _, tc := range []struct {
		t    SignType
		want string
	}{{RSA, doc46SHA1}, {RSA2, doc46SHA256}} {
		got, err := mustRSASigner(t, tc.t, key).Sign(pre)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s signature = %s, want %s", tc.t, got, tc.want)
		}
	}
	order, err := OrderString(v.params, mustRSASigner(t, RSA, key))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(order, pre+`&sign="`) || !strings.HasSuffix(order, doc46Tail) {
		t.Errorf("order string = %s\nwant prefix the pre-sign string and tail %s", order, doc46Tail)
	}
	if want := pre + `&sign="` + url.QueryEscape(doc46SHA1) + `"&sign_type="RSA"`; order != want {
		t.Errorf("order string = %s\nwant %s", order, want)
	}
	// RSA2 order strings name their type.
	order2, err := OrderString(v.params, mustRSASigner(t, RSA2, key))
	if err != nil {
		t.Fatal(err)
	}
	if want := pre + `&sign="` + url.QueryEscape(doc46SHA256) + `"&sign_type="RSA2"`; order2 != want {
		t.Errorf("RSA2 order string = %s\nwant %s", order2, want)
	}
}

// The alipay-h5.md section 6.4 vectors: sandbox MD5 requests and a real production RSA return
// signed with Alipay's legacy mapi RSA-1024 key (alipayhk.md section 4.1).
func TestH5Vectors(t *testing.T) {
	md5 := sandboxMD5Key(t)
	base := map[string]string{
		"service": "create_forex_trade_wap", "_input_charset": "utf-8", "partner": "2088101122136241",
		"notify_url": "https://example.com/notify", "subject": "product_name", "out_trade_no": "12345",
		"total_fee": "350.45", "currency": "USD", "supplier": "company_name",
	}
	desktop := maps.Clone(base)
	desktop["service"] = "create_forex_trade"
	rmb := maps.Clone(desktop)
	delete(rmb, "total_fee")
	rmb["rmb_fee"] = "0.10"
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"wap", base, "c19f42a597963f118c4f99f2fc7f716f"},
		{"desktop", desktop, "2dd75a3023c0a3a795a83109966bbc7d"},
		{"desktop rmb_fee", rmb, "4986b31c8febb978ee6d6c45f76614ac"},
	} {
		got, err := md5.Sign(CanonicalB(tc.params))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: MD5 sign = %s, want %s", tc.name, got, tc.want)
		}
	}
	// The GET link (url.Values.Encode sorts keys).
	sig, _ := md5.Sign(CanonicalB(base))
	q := url.Values{}
	for k, v := range base {
		q.Set(k, v)
	}
	q.Set("sign", sig)
	q.Set("sign_type", string(MD5))
	const link = "https://mapi.alipaydev.com/gateway.do?_input_charset=utf-8&currency=USD&notify_url=https%3A%2F%2Fexample.com%2Fnotify&out_trade_no=12345&partner=2088101122136241&service=create_forex_trade_wap&sign=c19f42a597963f118c4f99f2fc7f716f&sign_type=MD5&subject=product_name&supplier=company_name&total_fee=350.45"
	if got := "https://mapi.alipaydev.com/gateway.do?" + q.Encode(); got != link {
		t.Errorf("GET link = %s\nwant %s", got, link)
	}

	// Real return, verified with the legacy Alipay public key (bare base64 SPKI, 1024 bits).
	pub := loadPublic(t, "alipay-legacy-mapi-rsa1024-public.b64")
	if w := KeyWarning(pub.N.BitLen()); w == "" {
		t.Error("1024-bit legacy key: KeyWarning is empty")
	}
	ret := map[string]string{
		"currency": "JPY", "out_trade_no": "1629976225", "rmb_fee": "0.10", "total_fee": "2.00",
		"trade_no": "2021082622001380751416021962", "trade_status": "TRADE_FINISHED", "sign_type": "RSA",
		"sign": "VGtbriGZeCtSBDqgTDzzRmQfAbyylIk+zGD7pIAkPXGsiHSHOZhItOAqb0vSlSIHERqQaceA6HHiMQCxEmKyhce3d7JbIC2YDj2ZEaHaNxWPbQ2jMr4/VSAl5KYElj69VyysIDJ0PNP2vaI9dyb3OyxQc6ynaGGNPEskFGSVww8=",
	}
	if err := mustRSAVerifier(t, RSA, pub).Verify(CanonicalB(ret), ret["sign"]); err != nil {
		t.Errorf("real WAP return does not verify: %v", err)
	}
	// The document: dropping rmb_fee or using SHA-256 makes verification fail.
	noRMB := maps.Clone(ret)
	delete(noRMB, "rmb_fee")
	if err := mustRSAVerifier(t, RSA, pub).Verify(CanonicalB(noRMB), ret["sign"]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("without rmb_fee: err = %v, want ErrBadSignature", err)
	}
	if err := mustRSAVerifier(t, RSA2, pub).Verify(CanonicalB(ret), ret["sign"]); !errors.Is(err, ErrBadSignature) {
		t.Errorf("as RSA2: err = %v, want ErrBadSignature", err)
	}
	// A form decoder that turned '+' into ' ' still verifies.
	if err := mustRSAVerifier(t, RSA, pub).Verify(CanonicalB(ret), strings.ReplaceAll(ret["sign"], "+", " ")); err != nil {
		t.Errorf("signature with '+' as ' ': %v", err)
	}
}

// TestTamper: for every sign type, changing, adding or removing any one signed field makes
// verification fail, while changing sign or sign_type (never signed) does not.
func TestTamper(t *testing.T) {
	sv := testSigners(t)
	for _, v := range loadVectors(t) {
		for _, kind := range []string{"RSA", "RSA2", "MD5"} {
			t.Run(v.name+"/"+kind, func(t *testing.T) {
				s := sv[kind]
				sig, err := s.s.Sign(CanonicalB(v.params))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.v.Verify(CanonicalB(v.params), sig); err != nil {
					t.Fatalf("untouched: %v", err)
				}
				for k, val := range v.params {
					p := maps.Clone(v.params)
					p[k] = val + "1"
					err := s.v.Verify(CanonicalB(p), sig)
					signed := k != "sign" && k != "sign_type"
					if signed && !errors.Is(err, ErrBadSignature) {
						t.Errorf("changed %q: err = %v, want ErrBadSignature", k, err)
					}
					if !signed && err != nil {
						t.Errorf("changed unsigned %q: err = %v", k, err)
					}
					if signed && val != "" {
						delete(p, k)
						if err := s.v.Verify(CanonicalB(p), sig); !errors.Is(err, ErrBadSignature) {
							t.Errorf("removed %q: err = %v, want ErrBadSignature", k, err)
						}
					}
				}
				p := maps.Clone(v.params)
				p["zz_added"] = "x"
				if err := s.v.Verify(CanonicalB(p), sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("added field: err = %v, want ErrBadSignature", err)
				}
				// A flipped signature character fails too.
				// ('0' and '1' are digits of both base64 and hex.)
				bad := []byte(sig)
				if bad[3] == '0' {
					bad[3] = '1'
				} else {
					bad[3] = '0'
				}
				if err := s.v.Verify(CanonicalB(v.params), string(bad)); err == nil {
					t.Error("flipped signature verified")
				}
			})
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	sv := testSigners(t)
	content := "a=1&b=2"
	for _, kind := range []string{"RSA", "RSA2", "MD5"} {
		v := sv[kind].v
		for _, sig := range []string{"", "!!!not base64!!!", "YWJj", strings.Repeat("0", 32)} {
			err := v.Verify(content, sig)
			if err == nil {
				t.Errorf("%s: Verify(%q) = nil", kind, sig)
				continue
			}
			if code := core.ErrorCode(err); code != core.EUNAUTHORIZED {
				t.Errorf("%s: Verify(%q) code = %s, want %s", kind, sig, code, core.EUNAUTHORIZED)
			}
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: Verify(%q) = %v, not ErrBadSignature", kind, sig, err)
			}
		}
	}
	// RSA and RSA2 signatures are not interchangeable.
	s1, _ := sv["RSA"].s.Sign(content)
	if err := sv["RSA2"].v.Verify(content, s1); !errors.Is(err, ErrBadSignature) {
		t.Errorf("RSA signature verified as RSA2: %v", err)
	}
}

func TestSignatureEncodings(t *testing.T) {
	sv := testSigners(t)
	content := CanonicalB(map[string]string{"out_trade_no": "T1", "total_fee": "0.10"})
	sig, _ := sv["RSA2"].s.Sign(content)
	var wrapped strings.Builder
	for i := 0; i < len(sig); i += 64 {
		wrapped.WriteString(sig[i:min(i+64, len(sig))])
		wrapped.WriteString("\r\n")
	}
	for name, s := range map[string]string{
		"standard":   sig,
		"unpadded":   strings.TrimRight(sig, "="),
		"wrapped":    wrapped.String(),
		"plus→space": strings.ReplaceAll(sig, "+", " "),
	} {
		if err := sv["RSA2"].v.Verify(content, s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	md5sig, _ := sv["MD5"].s.Sign(content)
	if md5sig != strings.ToLower(md5sig) || len(md5sig) != 32 {
		t.Errorf("MD5 signature %q is not 32 lowercase hex digits", md5sig)
	}
	if err := sv["MD5"].v.Verify(content, strings.ToUpper(md5sig)); err != nil {
		t.Errorf("upper-case MD5: %v", err)
	}
}

func TestConstructors(t *testing.T) {
	priv := loadPrivate(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"signer MD5 type", func() error { _, err := NewRSASigner(MD5, priv); return err }(), core.EINVALID},
		{"signer unknown type", func() error { _, err := NewRSASigner("DSA", priv); return err }(), core.EINVALID},
		{"signer nil key", func() error { _, err := NewRSASigner(RSA, nil); return err }(), core.ECONFIG},
		{"verifier MD5 type", func() error { _, err := NewRSAVerifier(MD5, &priv.PublicKey); return err }(), core.EINVALID},
		{"verifier nil key", func() error { _, err := NewRSAVerifier(RSA2, nil); return err }(), core.ECONFIG},
		{"empty MD5 key", func() error { _, err := NewMD5(""); return err }(), core.ECONFIG},
	} {
		if got := core.ErrorCode(tc.err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, tc.err, tc.code)
		}
	}
	for _, s := range []string{"RSA", "RSA2", "MD5"} {
		if got, err := ParseSignType(s); err != nil || string(got) != s {
			t.Errorf("ParseSignType(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "rsa", "rsa2", "md5", "DSA", "RSA "} {
		if _, err := ParseSignType(s); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("ParseSignType(%q) err = %v, want EINVALID", s, err)
		}
	}
	s := mustRSASigner(t, RSA2, priv)
	if s.Type() != RSA2 || mustRSAVerifier(t, RSA, &priv.PublicKey).Type() != RSA {
		t.Error("Type() does not report the constructor's type")
	}
}

// Printing a signer or MD5 key in any verb never shows key material.
func TestNoKeyMaterialInOutput(t *testing.T) {
	priv := loadPrivate(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	key := string(readKeyFile(t, "test-md5-key-DO-NOT-USE.txt"))
	md5, _ := NewMD5(key)
	rs := mustRSASigner(t, RSA, priv)
	d := priv.D.String()[:20]
	for _, f := range []string{"%v", "%+v", "%s", "%#v"} {
		if out := fmt.Sprintf(f, md5); strings.Contains(out, key) {
			t.Errorf("%s of MD5Key shows the key: %s", f, out)
		}
	}
	for _, f := range []string{"%v", "%+v", "%s", "%#v"} {
		if out := fmt.Sprintf(f, rs); strings.Contains(out, d) {
			t.Errorf("%s of RSA signer shows the private exponent", f)
		}
	}
	// Errors from a broken key never carry its bytes.
	_, err := ParsePrivateKey([]byte("MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu" + "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ"))
	if err == nil || strings.Contains(err.Error(), "MIIBOgIBAAJBAKj") {
		t.Errorf("error leaks key text or is nil: %v", err)
	}
}
