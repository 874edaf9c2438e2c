package mapisim

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/paymux/paymux/core/signing"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// The order string of alipay-crossborder.md §4.6 (documents' throw-away 1024-bit key) passes
// the order-string checker and can be paid.
func TestDocVectorOrderString46(t *testing.T) {
	for _, mode := range []string{"", "sorted", "literal", "either"} {
		t.Run("mode="+mode, func(t *testing.T) {
			sim := New(Config{OrderStringMode: mode, TimeScale: 1000})
			defer sim.Close()
			if err := sim.AddPartner(Partner{ID: "2088021017666931", SignType: "RSA", MerchantPublicKeyPEM: []byte(readTestdata(t, "doc46-public-key.pem"))}); err != nil {
				t.Fatal(err)
			}
			os := readTestdata(t, "crossborder-4.6.orderstring.txt")
			parsed, err := sim.CheckOrderString(os)
			if err != nil {
				t.Fatalf("4.6 vector rejected: %v", err)
			}
			if parsed.SignType != "RSA" || parsed.Get("total_fee") != "0.01" || len(parsed.Pairs) != 14 ||
				!strings.HasPrefix(parsed.Get("trade_information"), `{"business_type":"4"`) {
				t.Fatalf("parsed: %+v", parsed)
			}
			res, err := sim.PayOrderString(context.Background(), os)
			if err != nil || res.ResultStatus != ResultSuccess {
				t.Fatalf("pay: %+v %v", res, err)
			}
			// Tampering with any value breaks the signature.
			bad := strings.Replace(os, `total_fee="0.01"`, `total_fee="0.02"`, 1)
			if _, err := sim.CheckOrderString(bad); codeOfErr(err) != "ILLEGAL_SIGN" {
				t.Fatalf("tampered: %v", err)
			}
		})
	}
}

func codeOfErr(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return "?" + err.Error()
}

// The MD5 sandbox link of alipay-h5.md §6.4 is accepted by create_forex_trade_wap and leads to a
// return whose MD5 signature verifies with the sandbox key.
func TestDocVectorH5Link64(t *testing.T) {
	sim := New(Config{TimeScale: 1000})
	defer sim.Close()
	key := readTestdata(t, "alipay-sandbox-md5-key-PUBLISHED-TEST-ONLY.txt")
	if err := sim.AddPartner(Partner{ID: "2088101122136241", SignType: "MD5", MD5Key: key}); err != nil {
		t.Fatal(err)
	}
	link := readTestdata(t, "h5-6.4-redirect.txt")
	// No return_url in the vector: add none, the cashier then shows its own success page.
	ret, err := sim.PayH5(context.Background(), link)
	if err != nil {
		t.Fatalf("6.4 link rejected: %v", err)
	}
	if ret.URL != "" || ret.Params["trade_status"] != "TRADE_FINISHED" || ret.Params["total_fee"] != "350.45" || ret.Params["sign_type"] != "MD5" {
		t.Fatalf("return: %+v", ret)
	}
	m, _ := signing.NewMD5(key)
	if err := m.Verify(signing.CanonicalB(ret.Params), ret.Params["sign"]); err != nil {
		t.Fatalf("return signature: %v", err)
	}
	for _, k := range []string{"notify_id", "notify_type", "is_success"} {
		if _, ok := ret.Params[k]; ok {
			t.Errorf("return carries %s (alipay-h5.md §7.1 says it must not)", k)
		}
	}
	// The same link with a changed amount is refused with ILLEGAL_SIGN.
	bad := strings.Replace(link, "total_fee=350.45", "total_fee=350.46", 1)
	if _, err := sim.PayH5(context.Background(), strings.Replace(bad, "out_trade_no=12345", "out_trade_no=12346", 1)); codeOfErr(err) != "ILLEGAL_SIGN" {
		t.Fatalf("tampered link: %v", err)
	}
}

func TestOrderStringChecker(t *testing.T) {
	e := newEnv(t, Config{})
	good := func(mut func(p map[string]string)) map[string]string {
		p := e.orderParams(globalPID, "OS1", "10.00", "USD")
		if mut != nil {
			mut(p)
		}
		return p
	}
	hk := func(mut func(p map[string]string)) map[string]string {
		p := e.orderParams(hkPID, "HK1", "10.00", "HKD")
		p["payment_inst"] = "ALIPAYHK"
		if mut != nil {
			mut(p)
		}
		return p
	}
	tests := []struct {
		name string
		os   string
		code string
	}{
		{"valid RSA", e.orderString(good(nil), signing.RSA), ""},
		{"valid RSA2", e.orderString(good(nil), signing.RSA2), ""},
		{"valid HK ALIPAYHK", e.orderString(hk(nil), signing.RSA), ""},
		{"valid HK ALIPAYCN", e.orderString(hk(func(p map[string]string) { p["payment_inst"] = "ALIPAYCN" }), signing.RSA), ""},
		{"valid rmb_fee", e.orderString(good(func(p map[string]string) { delete(p, "total_fee"); p["rmb_fee"] = "100.30" }), signing.RSA), ""},
		{"valid JPY integer", e.orderString(good(func(p map[string]string) { p["currency"] = "JPY"; p["total_fee"] = "500" }), signing.RSA), ""},
		{"valid absolute it_b_pay", e.orderString(good(func(p map[string]string) { p["it_b_pay"] = "2026-11-21 10:00:00" }), signing.RSA), ""},
		{"empty", "", "ILLEGAL_ARGUMENT"},
		{"unquoted", "partner=2088000000000001&service=mobile.securitypay.pay", "ILLEGAL_ARGUMENT"},
		{"unclosed quote", `partner="2088000000000001&service="x`, "ILLEGAL_ARGUMENT"},
		{"no signature", signing.CanonicalA(good(nil)), "ILLEGAL_ARGUMENT"},
		{"wrong service", e.orderString(good(func(p map[string]string) { p["service"] = "create_forex_trade" }), signing.RSA), "ILLEGAL_SERVICE"},
		{"unknown partner", e.orderString(good(func(p map[string]string) { p["partner"] = "2088999999999999" }), signing.RSA), "ILLEGAL_PARTNER"},
		{"MD5 sign type", strings.Replace(e.orderString(good(nil), signing.RSA), `sign_type="RSA"`, `sign_type="MD5"`, 1), "ILLEGAL_SIGN_TYPE"},
		{"lower-case sign type", strings.Replace(e.orderString(good(nil), signing.RSA), `sign_type="RSA"`, `sign_type="rsa"`, 1), "ILLEGAL_SIGN_TYPE"},
		{"RSA signature labelled RSA2", strings.Replace(e.orderString(good(nil), signing.RSA), `sign_type="RSA"`, `sign_type="RSA2"`, 1), "ILLEGAL_SIGN"},
		{"tampered amount", strings.Replace(e.orderString(good(nil), signing.RSA), `total_fee="10.00"`, `total_fee="1.00"`, 1), "ILLEGAL_SIGN"},
		{"sign not URL-encoded", strings.NewReplacer("%2B", "+", "%2F", "/", "%3D", "=").Replace(e.orderString(good(nil), signing.RSA)), "ILLEGAL_SIGN"},
		{"sign URL-encoded twice", strings.ReplaceAll(e.orderString(good(nil), signing.RSA), "%3D", "%253D"), "ILLEGAL_SIGN"},
		{"duplicate key", strings.Replace(e.orderString(good(nil), signing.RSA), `&subject=`, `&subject="x"&subject=`, 1), "ILLEGAL_ARGUMENT"},
		{"missing subject", e.orderString(good(func(p map[string]string) { delete(p, "subject") }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"missing out_trade_no", e.orderString(good(func(p map[string]string) { delete(p, "out_trade_no") }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"both fees", e.orderString(good(func(p map[string]string) { p["rmb_fee"] = "1.00" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"no fee", e.orderString(good(func(p map[string]string) { delete(p, "total_fee") }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"three decimals", e.orderString(good(func(p map[string]string) { p["total_fee"] = "100.999" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"JPY decimals", e.orderString(good(func(p map[string]string) { p["currency"] = "JPY"; p["total_fee"] = "5.50" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"zero amount", e.orderString(good(func(p map[string]string) { p["total_fee"] = "0.00" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"over the maximum", e.orderString(good(func(p map[string]string) { p["total_fee"] = "1000000.01" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"CNY currency", e.orderString(good(func(p map[string]string) { p["currency"] = "CNY" }), signing.RSA), "ILLEGAL_CURRENCY"},
		{"HK in USD", e.orderString(hk(func(p map[string]string) { p["currency"] = "USD" }), signing.RSA), "ILLEGAL_CURRENCY"},
		{"HK bad payment_inst", e.orderString(hk(func(p map[string]string) { p["payment_inst"] = "GCASH" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"payment_inst on global", e.orderString(good(func(p map[string]string) { p["payment_inst"] = "ALIPAYHK" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"it_b_pay decimal", e.orderString(good(func(p map[string]string) { p["it_b_pay"] = "1.5h" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"it_b_pay too long", e.orderString(good(func(p map[string]string) { p["it_b_pay"] = "16d" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"wrong forex_biz", e.orderString(good(func(p map[string]string) { p["forex_biz"] = "XX" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"GBK charset", e.orderString(good(func(p map[string]string) { p["_input_charset"] = "GBK" }), signing.RSA), "ILLEGAL_CHARSET"},
		{"relative notify_url", e.orderString(good(func(p map[string]string) { p["notify_url"] = "/notify" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"ftp return_url", e.orderString(good(func(p map[string]string) { p["return_url"] = "ftp://x/y" }), signing.RSA), "ILLEGAL_ARGUMENT"},
		{"subject too long", e.orderString(good(func(p map[string]string) { p["subject"] = strings.Repeat("x", 257) }), signing.RSA), "ILLEGAL_ARGUMENT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.sim.CheckOrderString(tc.os)
			if got := codeOfErr(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			res, err := e.sim.CancelOrderString(context.Background(), tc.os)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code != "" && (res.ResultStatus != ResultFailed || !strings.HasPrefix(res.Memo, tc.code)) {
				t.Fatalf("SDK result for a rejected string: %+v", res)
			}
			if tc.code == "" && res.ResultStatus != ResultCancelled {
				t.Fatalf("SDK result for cancel: %+v", res)
			}
		})
	}
}

func TestOrderStringLiteralMode(t *testing.T) {
	e := newEnv(t, Config{OrderStringMode: "literal"})
	// An old-style unsorted string signed over its literal text.
	key, _ := signing.ParsePrivateKey(TestMerchantPrivateKeyPEM)
	signer, _ := signing.NewRSASigner(signing.RSA, key)
	p := e.orderParams(globalPID, "LIT1", "1.00", "USD")
	var parts []string
	for _, k := range []string{"partner", "seller_id", "out_trade_no", "subject", "total_fee", "currency", "service",
		"_input_charset", "payment_type", "forex_biz", "product_code", "notify_url", "it_b_pay"} {
		parts = append(parts, k+`="`+p[k]+`"`)
	}
	pre := strings.Join(parts, "&")
	sig, _ := signer.Sign(pre)
	os := pre + `&sign="` + url.QueryEscape(sig) + `"&sign_type="RSA"`
	if _, err := e.sim.CheckOrderString(os); err != nil {
		t.Fatalf("literal mode: %v", err)
	}
	sorted := New(Config{})
	defer sorted.Close()
	sorted.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM})
	if _, err := sorted.CheckOrderString(os); codeOfErr(err) != "ILLEGAL_SIGN" {
		t.Fatalf("sorted mode accepted an unsorted signature: %v", err)
	}
}

func TestParseOrderStringDuplicates(t *testing.T) {
	for _, s := range []string{
		`a="1"&a="2"`,
		`a="1"&sign="x"&sign="y"`,
		`a="1"&sign_type=""&sign_type="RSA"`,
	} {
		if _, err := ParseOrderString(s); codeOfErr(err) != "ILLEGAL_ARGUMENT" {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestAcceptUnencodedSign(t *testing.T) {
	e := newEnv(t, Config{AcceptUnencodedSign: true})
	os := strings.NewReplacer("%2B", "+", "%2F", "/", "%3D", "=").Replace(e.orderString(e.orderParams(globalPID, "U1", "1.00", "USD"), signing.RSA))
	if _, err := e.sim.CheckOrderString(os); err != nil {
		t.Fatalf("lenient mode: %v", err)
	}
}
