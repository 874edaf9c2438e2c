package signing

import (
	"strings"
	"testing"
)

func TestCanonicalTable(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		a, b   string
	}{
		{"nil map", nil, "", ""},
		{"empty map", map[string]string{}, "", ""},
		{"only excluded", map[string]string{"sign": "x", "sign_type": "RSA", "empty": ""}, "", ""},
		{"one field", map[string]string{"k": "v"}, `k="v"`, "k=v"},
		{
			"sorted by byte value; _ before lower, upper before _",
			map[string]string{"b": "2", "a": "1", "_input_charset": "utf-8", "Z": "z", "aa": "3"},
			`Z="z"&_input_charset="utf-8"&a="1"&aa="3"&b="2"`,
			"Z=z&_input_charset=utf-8&a=1&aa=3&b=2",
		},
		{
			"sign, sign_type and empty values left out, other sign-like keys kept",
			map[string]string{"sign": "abc", "sign_type": "RSA2", "signature": "kept", "Sign": "kept", "x": "", "y": "1"},
			`Sign="kept"&signature="kept"&y="1"`,
			"Sign=kept&signature=kept&y=1",
		},
		{
			"values raw: no URL encoding, no escaping of quotes or ampersands",
			map[string]string{"url": "https://e.com/n?a=1&b=%20", "q": `say "hi"`, "sp": " "},
			`q="say "hi""&sp=" "&url="https://e.com/n?a=1&b=%20"`,
			`q=say "hi"&sp= &url=https://e.com/n?a=1&b=%20`,
		},
		{
			"non-ASCII keys sort after ASCII by UTF-8 bytes",
			map[string]string{"é": "1", "z": "2", "中": "3"},
			`z="2"&é="1"&中="3"`,
			"z=2&é=1&中=3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalA(tt.params); got != tt.a {
				t.Errorf("CanonicalA = %q, want %q", got, tt.a)
			}
			if got := CanonicalB(tt.params); got != tt.b {
				t.Errorf("CanonicalB = %q, want %q", got, tt.b)
			}
		})
	}
}

// TestCanonicalGolden compares with the strings jq wrote in gen-vectors.sh.
func TestCanonicalGolden(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			if got := CanonicalA(v.params); got != v.a {
				t.Errorf("CanonicalA mismatch\n got: %s\nwant: %s", got, v.a)
			}
			if got := CanonicalB(v.params); got != v.b {
				t.Errorf("CanonicalB mismatch\n got: %s\nwant: %s", got, v.b)
			}
		})
	}
}

// The pre-sign strings printed in the protocol documents, byte for byte.
func TestCanonicalProtocolDocs(t *testing.T) {
	byName := map[string]vector{}
	for _, v := range loadVectors(t) {
		byName[v.name] = v
	}
	// alipay-crossborder.md section 4.6.
	const crossborder46 = `_input_charset="UTF-8"&appenv="system=android^version=3.0.1.2"&body="test"&currency="USD"&forex_biz="FP"&out_trade_no="out_trade_no_20200109_175417"&partner="2088021017666931"&payment_type="1"&product_code="NEW_WAP_OVERSEAS_SELLER"&seller_id="2088021017666931"&service="mobile.securitypay.pay"&subject="Mika's coffee shop"&total_fee="0.01"&trade_information="{"business_type":"4","goods_info":"Macbook 12 inch M3 8G 256G SSD^1|Apple iPad Pro 11 inch^1","total_quantity":"2"}"`
	if got := CanonicalA(byName["crossborder-4.6"].params); got != crossborder46 {
		t.Errorf("section 4.6 pre-sign:\n got: %s\nwant: %s", got, crossborder46)
	}
	// alipay-h5.md section 6.4.
	const h5 = `_input_charset=utf-8&currency=USD&notify_url=https://example.com/notify&out_trade_no=12345&partner=2088101122136241&service=create_forex_trade_wap&subject=product_name&supplier=company_name&total_fee=350.45`
	if got := CanonicalB(byName["h5-md5-sandbox"].params); got != h5 {
		t.Errorf("H5 6.4 pre-sign:\n got: %s\nwant: %s", got, h5)
	}
	// alipayhk.md section 4.3 (the document shows the string up to the cut-short signature).
	const hk = `_input_charset="utf-8"&currency="HKD"&forex_biz="FP"&it_b_pay="30m"&notify_url="https://example.com/notify"&out_trade_no="T1"&partner="2088000000000000"&payment_inst="ALIPAYHK"&payment_type="1"&product_code="NEW_WAP_OVERSEAS_SELLER"&seller_id="2088000000000000"&service="mobile.securitypay.pay"&subject="Test"&total_fee="0.10"`
	if got := CanonicalA(byName["hk-order"].params); got != hk {
		t.Errorf("HK 4.3 pre-sign:\n got: %s\nwant: %s", got, hk)
	}
	// alipay-h5.md section 6.4, the WAP return of a real JPY merchant.
	ret := map[string]string{
		"currency": "JPY", "out_trade_no": "1629976225", "rmb_fee": "0.10", "total_fee": "2.00",
		"trade_no": "2021082622001380751416021962", "trade_status": "TRADE_FINISHED", "sign_type": "RSA",
		"sign": "VGtbriGZeCtSBDqgTDzzRmQfAbyylIk+zGD7pIAkPXGsiHSHOZhItOAqb0vSlSIHERqQaceA6HHiMQCxEmKyhce3d7JbIC2YDj2ZEaHaNxWPbQ2jMr4/VSAl5KYElj69VyysIDJ0PNP2vaI9dyb3OyxQc6ynaGGNPEskFGSVww8=",
	}
	const retPre = `currency=JPY&out_trade_no=1629976225&rmb_fee=0.10&total_fee=2.00&trade_no=2021082622001380751416021962&trade_status=TRADE_FINISHED`
	if got := CanonicalB(ret); got != retPre {
		t.Errorf("H5 return pre-sign:\n got: %s\nwant: %s", got, retPre)
	}
}

func TestCanonicalDoesNotModifyInput(t *testing.T) {
	p := map[string]string{"sign": "s", "sign_type": "RSA", "e": "", "k": "v"}
	_ = CanonicalA(p)
	_ = CanonicalB(p)
	if len(p) != 4 || p["sign"] != "s" || p["e"] != "" {
		t.Fatalf("input map changed: %v", p)
	}
}

// checkCanonicalProperties is shared by the fuzz target: the string is deterministic, leaves out
// sign, sign_type and empty values, and lists the remaining keys in byte order.
func checkCanonicalProperties(t *testing.T, params map[string]string) {
	t.Helper()
	a, b := CanonicalA(params), CanonicalB(params)
	if a != CanonicalA(params) || b != CanonicalB(params) {
		t.Fatal("canonical strings are not deterministic")
	}
	// Rebuild the expected strings the slow, obvious way.
	var keys []string
	for k, v := range params {
		if k == "sign" || k == "sign_type" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: independent of slices.Sort
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	var wa, wb []string
	for _, k := range keys {
		wa = append(wa, k+`="`+params[k]+`"`)
		wb = append(wb, k+"="+params[k])
	}
	if want := strings.Join(wa, "&"); a != want {
		t.Fatalf("CanonicalA = %q, want %q", a, want)
	}
	if want := strings.Join(wb, "&"); b != want {
		t.Fatalf("CanonicalB = %q, want %q", b, want)
	}
	// Adding sign, sign_type or an empty value never changes the result.
	with := make(map[string]string, len(params)+3)
	for k, v := range params {
		with[k] = v
	}
	with["sign"], with["sign_type"], with["\x00empty"] = "zzz", "RSA2", ""
	if CanonicalA(with) != a || CanonicalB(with) != b {
		t.Fatal("sign, sign_type or an empty value changed the canonical string")
	}
}

func FuzzCanonical(f *testing.F) {
	for _, v := range loadVectors(f) {
		// Each seed is the map flattened as k1, v1, k2, v2, ... separated by NUL.
		var parts []string
		for k, val := range v.params {
			parts = append(parts, k, val)
		}
		f.Add(strings.Join(parts, "\x00"))
	}
	f.Add("sign\x00x\x00sign_type\x00RSA\x00a\x00\x00b\x00c")
	f.Fuzz(func(t *testing.T, flat string) {
		parts := strings.Split(flat, "\x00")
		params := make(map[string]string, len(parts)/2)
		for i := 0; i+1 < len(parts); i += 2 {
			params[parts[i]] = parts[i+1]
		}
		checkCanonicalProperties(t, params)
	})
}
