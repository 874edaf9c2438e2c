package core

import (
	"math"
	"strconv"
	"testing"
)

func TestCurrencyExponents(t *testing.T) {
	zero := []string{"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
	three := []string{"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
	four := []string{"CLF", "UYW"}
	want := map[string]int{}
	for _, c := range zero {
		want[c] = 0
	}
	for _, c := range three {
		want[c] = 3
	}
	for _, c := range four {
		want[c] = 4
	}
	for c, e := range want {
		got, ok := CurrencyExponent(c)
		if !ok || got != e {
			t.Errorf("CurrencyExponent(%s) = %d, %v; want %d", c, got, ok, e)
		}
	}
	// Every other code has two decimals, and the table only holds three upper-case letters.
	for c, e := range exponents {
		if len(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' || c[2] > 'Z' {
			t.Errorf("malformed code %q in the table", c)
		}
		if _, special := want[c]; !special && e != 2 {
			t.Errorf("%s has %d decimals; a code with other than 2 must be listed in this test", c, e)
		}
	}
	for _, c := range []string{"USD", "EUR", "HKD", "CNY", "GBP", "SGD", "AUD", "CAD", "CHF", "THB", "MOP", "TWD"} {
		if e, ok := CurrencyExponent(c); !ok || e != 2 {
			t.Errorf("CurrencyExponent(%s) = %d, %v; want 2", c, e, ok)
		}
	}
	for _, c := range []string{"", "usd", "Usd", "XXX", "XTS", "USDX", "US", "BTC", "HRK", "SLL", "VEF", "ZWL"} {
		if ValidCurrency(c) {
			t.Errorf("ValidCurrency(%q) = true", c)
		}
		if _, ok := CurrencyExponent(c); ok {
			t.Errorf("CurrencyExponent(%q) ok", c)
		}
	}
}

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"0.01", "USD", 1, true},
		{"12.30", "USD", 1230, true},
		{"12.3", "USD", 1230, true},
		{"12", "USD", 1200, true},
		{"0", "USD", 0, true},
		{"007.10", "HKD", 710, true},
		{"1000000.00", "USD", 100000000, true},
		{"12.345", "USD", 0, false},
		{"12.300", "USD", 0, false},
		{"100", "JPY", 100, true},
		{"100.", "JPY", 0, false},
		{"100.0", "JPY", 0, false},
		{"1", "KRW", 1, true},
		{"1.5", "KRW", 0, false},
		{"1.000", "KWD", 1000, true},
		{"1.234", "BHD", 1234, true},
		{"0.5", "OMR", 500, true},
		{"1.2345", "BHD", 0, false},
		{"1.2345", "CLF", 12345, true},
		// Malformed.
		{"", "USD", 0, false},
		{"1.", "USD", 0, false},
		{".5", "USD", 0, false},
		{".", "USD", 0, false},
		{"-1", "USD", 0, false},
		{"-0.01", "USD", 0, false},
		{"+1", "USD", 0, false},
		{"1e3", "USD", 0, false},
		{"1E3", "USD", 0, false},
		{" 1", "USD", 0, false},
		{"1 ", "USD", 0, false},
		{"1,00", "USD", 0, false},
		{"1.0.0", "USD", 0, false},
		{"0x10", "USD", 0, false},
		{"1_000", "USD", 0, false},
		{"١", "USD", 0, false}, // Arabic-Indic digit one
		{"NaN", "USD", 0, false},
		{"Inf", "USD", 0, false},
		// Overflow at the int64 bounds, in minor units.
		{"92233720368547758.07", "USD", math.MaxInt64, true},
		{"92233720368547758.08", "USD", 0, false},
		{"9223372036854775807", "JPY", math.MaxInt64, true},
		{"9223372036854775808", "JPY", 0, false},
		{"9223372036854775.807", "KWD", math.MaxInt64, true},
		{"9223372036854775.808", "KWD", 0, false},
		{"9223372036854775807", "USD", 0, false},
		{"99999999999999999999999999", "JPY", 0, false},
		// Unknown or lower-case currencies.
		{"1.00", "usd", 0, false},
		{"1.00", "Usd", 0, false},
		{"1.00", "XXX", 0, false},
		{"1.00", "", 0, false},
		{"1.00", "US", 0, false},
	}
	for _, tt := range tests {
		m, err := ParseMoney(tt.in, tt.cur)
		if !tt.ok {
			if err == nil {
				t.Errorf("ParseMoney(%q, %q) = %v, want error", tt.in, tt.cur, m)
			} else if ErrorCode(err) != EINVALID {
				t.Errorf("ParseMoney(%q, %q) code = %s, want %s", tt.in, tt.cur, ErrorCode(err), EINVALID)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMoney(%q, %q): %v", tt.in, tt.cur, err)
			continue
		}
		if m.Value != tt.want || m.Currency != tt.cur {
			t.Errorf("ParseMoney(%q, %q) = %+v, want %d %s", tt.in, tt.cur, m, tt.want, tt.cur)
		}
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{Money{1, "USD"}, "0.01"},
		{Money{10, "USD"}, "0.10"},
		{Money{0, "USD"}, "0.00"},
		{Money{1230, "USD"}, "12.30"},
		{Money{100, "JPY"}, "100"},
		{Money{0, "KRW"}, "0"},
		{Money{1, "KWD"}, "0.001"},
		{Money{1000, "BHD"}, "1.000"},
		{Money{12345, "OMR"}, "12.345"},
		{Money{1, "CLF"}, "0.0001"},
		{Money{-1, "USD"}, "-0.01"},
		{Money{-12345, "USD"}, "-123.45"},
		{Money{math.MaxInt64, "USD"}, "92233720368547758.07"},
		{Money{math.MinInt64, "USD"}, "-92233720368547758.08"},
		{Money{math.MinInt64, "JPY"}, "-9223372036854775808"},
	}
	for _, tt := range tests {
		if got := tt.m.Decimal(); got != tt.want {
			t.Errorf("%d %s: Decimal = %q, want %q", tt.m.Value, tt.m.Currency, got, tt.want)
		}
	}
	if got := (Money{150, "USD"}).String(); got != "1.50 USD" {
		t.Errorf("String = %q", got)
	}
	if got := (Money{150, "usd"}).String(); got != "150 usd" {
		t.Errorf("String of an unknown currency = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Decimal of an unknown currency did not panic")
		}
	}()
	_ = Money{1, "ABC"}.Decimal()
}

// Every non-negative value in every currency survives Decimal then ParseMoney.
func TestDecimalRoundTrip(t *testing.T) {
	values := []int64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001, 123456789, math.MaxInt64 - 1, math.MaxInt64}
	for c := range exponents {
		for _, v := range values {
			m := Money{v, c}
			back, err := ParseMoney(m.Decimal(), c)
			if err != nil || back != m {
				t.Errorf("%d %s: Decimal %q parsed back as %+v, %v", v, c, m.Decimal(), back, err)
			}
		}
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"0.01", "12.3", "100", "1.", ".5", "-1", "+1", "1e3", " 1", "92233720368547758.07", "92233720368547758.08", "9223372036854775.807"} {
		for _, c := range []string{"USD", "JPY", "KWD", "usd"} {
			f.Add(s, c)
		}
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		m, err := ParseMoney(s, cur)
		if err != nil {
			return
		}
		if m.Value < 0 || m.Currency != cur || !ValidCurrency(cur) {
			t.Fatalf("ParseMoney(%q, %q) = %+v", s, cur, m)
		}
		// The accepted text is the canonical decimal up to leading zeros and missing trailing zeros.
		back, err := ParseMoney(m.Decimal(), cur)
		if err != nil || back != m {
			t.Fatalf("round trip of %q: %q -> %+v, %v", s, m.Decimal(), back, err)
		}
		exp, _ := CurrencyExponent(cur)
		if v, err := strconv.ParseUint(trimDot(s, exp), 10, 64); err != nil || int64(v) != m.Value {
			t.Fatalf("ParseMoney(%q, %q) = %d, independent parse %d (%v)", s, cur, m.Value, v, err)
		}
	})
}

// trimDot turns an accepted amount into its minor-unit digits the slow way.
func trimDot(s string, exp int) string {
	whole, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
		}
	}
	for len(frac) < exp {
		frac += "0"
	}
	return whole + frac
}

func TestValidateAndAdd(t *testing.T) {
	for _, tc := range []struct {
		m  Money
		ok bool
	}{
		{Money{1, "USD"}, true}, {Money{0, "USD"}, false}, {Money{-1, "USD"}, false},
		{Money{1, "usd"}, false}, {Money{1, ""}, false}, {Money{math.MaxInt64, "JPY"}, true},
	} {
		if err := tc.m.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.m, err)
		} else if err != nil && ErrorCode(err) != EINVALID {
			t.Errorf("Validate(%+v) code %s", tc.m, ErrorCode(err))
		}
	}
	sum, err := Money{150, "USD"}.Add(Money{250, "USD"})
	if err != nil || sum != (Money{400, "USD"}) {
		t.Errorf("Add = %+v, %v", sum, err)
	}
	for _, tc := range []struct{ a, b Money }{
		{Money{1, "USD"}, Money{1, "HKD"}},
		{Money{math.MaxInt64, "USD"}, Money{1, "USD"}},
		{Money{math.MinInt64, "USD"}, Money{-1, "USD"}},
	} {
		if _, err := tc.a.Add(tc.b); ErrorCode(err) != EINVALID {
			t.Errorf("%+v + %+v: err = %v, want EINVALID", tc.a, tc.b, err)
		}
	}
	if s, err := (Money{math.MaxInt64, "USD"}).Add(Money{math.MinInt64, "USD"}); err != nil || s.Value != -1 {
		t.Errorf("MaxInt64 + MinInt64 = %+v, %v", s, err)
	}
}

func TestAmountRule(t *testing.T) {
	r := AmountRule{Currency: "USD", Min: 1, Max: 100000000}
	for _, tc := range []struct {
		m  Money
		ok bool
	}{
		{Money{1, "USD"}, true}, {Money{100000000, "USD"}, true}, {Money{0, "USD"}, false},
		{Money{100000001, "USD"}, false}, {Money{5, "HKD"}, false},
	} {
		if err := r.Check(tc.m); (err == nil) != tc.ok {
			t.Errorf("Check(%+v) = %v", tc.m, err)
		}
	}
	// An unknown currency is an error, not a panic in the message formatting.
	if err := (AmountRule{Currency: "usd", Max: 5}).Check(Money{10, "usd"}); ErrorCode(err) != EINVALID {
		t.Errorf("unknown currency: %v", err)
	}
	if err := (AmountRule{Currency: "JPY"}).Check(Money{math.MaxInt64, "JPY"}); err != nil {
		t.Errorf("no limits: %v", err)
	}
	err := r.Check(Money{100000001, "USD"})
	if want := "amount 1000000.01 is above the maximum 1000000.00"; ErrorMessage(err) != want {
		t.Errorf("message %q, want %q", ErrorMessage(err), want)
	}
}
