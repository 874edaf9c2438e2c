package mapisim

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFiles adds every file of testdata/<dir> to the corpus.
func seedFiles(f *testing.F, dir string) []string {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

// FuzzParseOrderString: the parser never panics, rejects with *Error, and what it accepts
// re-serialises (in sent order) to a string that parses to the same pairs.
func FuzzParseOrderString(f *testing.F) {
	for _, s := range seedFiles(f, "orderstrings") {
		f.Add(s)
	}
	b, _ := os.ReadFile("testdata/crossborder-4.6.orderstring.txt")
	f.Add(strings.TrimSpace(string(b)))
	f.Fuzz(func(t *testing.T, s string) {
		os, err := ParseOrderString(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error is not a coded *Error: %v", err)
			}
			return
		}
		var parts []string
		for _, p := range os.Pairs {
			parts = append(parts, p.Key+`="`+p.Value+`"`)
		}
		if os.SignType != "" || os.Sign != "" {
			parts = append(parts, `sign="`+url.QueryEscape(os.Sign)+`"`, `sign_type="`+os.SignType+`"`)
		}
		if len(parts) == 0 { // e.g. `sign=""`: nothing to round-trip
			return
		}
		again, err := ParseOrderString(strings.Join(parts, "&"))
		if err != nil {
			t.Fatalf("re-serialised string rejected: %v", err)
		}
		if len(again.Pairs) != len(os.Pairs) || again.SignType != os.SignType || again.Sign != os.Sign {
			t.Fatalf("round trip changed the string: %+v vs %+v", again, os)
		}
		for i := range os.Pairs {
			if again.Pairs[i] != os.Pairs[i] {
				t.Fatalf("pair %d: %+v vs %+v", i, again.Pairs[i], os.Pairs[i])
			}
		}
	})
}

// FuzzCheckOrderString: the whole checker (parse, partner, signature, fields, amounts) never
// panics and accepts nothing that is not signed by the merchant key.
func FuzzCheckOrderString(f *testing.F) {
	for _, s := range seedFiles(f, "orderstrings") {
		f.Add(s)
	}
	sim := New(Config{})
	defer sim.Close()
	sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM})
	golden := readTestdata(f, "orderstrings/golden-RSA.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := sim.CheckOrderString(s)
		if err == nil && s != golden && !strings.HasPrefix(s, strings.SplitN(golden, "&sign=", 2)[0]+"&sign=") {
			// Only the golden content carries a valid signature of the test key.
			t.Fatalf("accepted a string with other content: %q", s)
		}
	})
}

// FuzzReadGatewayParams: request parsing (query, form body, charset) never panics and returns
// coded errors.
func FuzzReadGatewayParams(f *testing.F) {
	for _, s := range seedFiles(f, "forms") {
		f.Add("GET", s, "", "")
		f.Add("POST", "_input_charset=utf-8", s, "application/x-www-form-urlencoded")
		f.Add("POST", "_input_charset=gbk", s, "application/x-www-form-urlencoded; charset=gbk")
	}
	f.Fuzz(func(t *testing.T, method, query, body, ct string) {
		if method != "GET" && method != "POST" && method != "PUT" {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/gateway.do", nil)
		r.Method = method
		r.URL.RawQuery = query
		r.Body = http.NoBody
		if body != "" {
			r.Body = httptest.NewRequest(method, "/", strings.NewReader(body)).Body
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		_, err := ReadGatewayParams(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != "ILLEGAL_ARGUMENT" {
				t.Fatalf("unexpected error type: %v", err)
			}
		}
	})
}

// FuzzGateway: whatever the query, the gateway answers a well-formed response (no panic, no
// 5xx) and never accepts an unsigned request for a signed service.
func FuzzGateway(f *testing.F) {
	for _, s := range seedFiles(f, "forms") {
		f.Add(s)
	}
	f.Add("service=notify_verify&partner=" + globalPID + "&notify_id=x")
	f.Add("service=create_forex_trade_wap&partner=" + globalPID + "&_input_charset=utf-8&sign_type=MD5&sign=00")
	sim := New(Config{})
	defer sim.Close()
	sim.AddPartner(Partner{ID: globalPID, MerchantPublicKeyPEM: TestMerchantPublicKeyPEM, MD5Key: TestMD5Key})
	h := sim.Handler()
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "/gateway.do", nil)
		r.URL.RawQuery = query
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q", w.Code, query)
		}
		if strings.Contains(w.Body.String(), "<is_success>T</is_success>") {
			t.Fatalf("unsigned request accepted: %q", query)
		}
	})
}

func FuzzParseItBPay(f *testing.F) {
	for _, s := range []string{"30m", "1c", "15d", "2026-11-21 10:00:00", "1.5h", "0m", "99999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, at, err := parseItBPay(s)
		if err == nil && d == 0 && at.IsZero() {
			t.Fatalf("%q accepted without a timeout", s)
		}
		if err == nil && d > 15*24*60*60*1e9 {
			t.Fatalf("%q over 15 days", s)
		}
	})
}
