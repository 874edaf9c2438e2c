package core

import (
	"math"
	"strconv"
	"strings"
)

// Money is an amount in a currency's minor units (cents for USD, yen for JPY, fils for KWD).
// Floats never hold money anywhere in paymux.
type Money struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

// exponents maps every active ISO 4217 currency code to its number of decimals.
// Source: ISO 4217 list one (SIX), amendment 176. Codes absent here are rejected.
var exponents = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
	"AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
	"BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2,
	"CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2,
	"CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2,
	"ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
	"GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2,
	"ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2,
	"KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2,
	"LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
	"MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2,
	"MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3,
	"PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2,
	"RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
	"SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
	"THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
	"UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2,
	"VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0,
	"YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}

// CurrencyExponent returns the number of decimals of an ISO 4217 currency code.
func CurrencyExponent(currency string) (int, bool) {
	e, ok := exponents[currency]
	return e, ok
}

// ValidCurrency reports whether code is an active ISO 4217 code (upper case).
func ValidCurrency(code string) bool {
	_, ok := exponents[code]
	return ok
}

// ParseMoney parses a decimal string such as "12.30" in currency. It rejects signs, exponents,
// more decimals than the currency has, values that overflow int64 minor units, empty parts
// ("1.", ".5"), and unknown currencies. Fewer decimals than the currency has are accepted ("12.3").
func ParseMoney(s, currency string) (Money, error) {
	exp, ok := exponents[currency]
	if !ok {
		return Money{}, Errorf(EINVALID, "unknown currency %q", currency)
	}
	if s == "" {
		return Money{}, Errorf(EINVALID, "empty amount")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return Money{}, Errorf(EINVALID, "malformed amount %q", s)
	}
	if !allDigits(whole) || !allDigits(frac) {
		return Money{}, Errorf(EINVALID, "malformed amount %q: only digits and one '.' are allowed", s)
	}
	if len(frac) > exp {
		return Money{}, Errorf(EINVALID, "amount %q has more than %d decimals for %s", s, exp, currency)
	}
	frac += strings.Repeat("0", exp-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return Money{}, Errorf(EINVALID, "amount %q is out of range", s)
	}
	return Money{Value: v, Currency: currency}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal formats m with exactly the currency's number of decimals ("0.01", "100", "1.000").
// It panics on an unknown currency, which Validate would have refused.
func (m Money) Decimal() string {
	exp, ok := exponents[m.Currency]
	if !ok {
		panic("core: Decimal of unknown currency " + strconv.Quote(m.Currency))
	}
	neg := m.Value < 0
	var digits string
	if neg {
		// Handle math.MinInt64 without overflow.
		digits = strconv.FormatUint(uint64(-(m.Value+1))+1, 10)
	} else {
		digits = strconv.FormatInt(m.Value, 10)
	}
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// String is Decimal followed by the currency code, for logs and messages.
func (m Money) String() string {
	if !ValidCurrency(m.Currency) {
		return strconv.FormatInt(m.Value, 10) + " " + m.Currency
	}
	return m.Decimal() + " " + m.Currency
}

// Validate checks that the currency is known and the value is positive.
func (m Money) Validate() error {
	if !ValidCurrency(m.Currency) {
		return Errorf(EINVALID, "unknown currency %q", m.Currency)
	}
	if m.Value <= 0 {
		return Errorf(EINVALID, "amount must be positive, got %d", m.Value)
	}
	return nil
}

// Add returns m+o; the currencies must match and the sum must not overflow.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, Errorf(EINVALID, "currency mismatch: %s and %s", m.Currency, o.Currency)
	}
	if (o.Value > 0 && m.Value > math.MaxInt64-o.Value) || (o.Value < 0 && m.Value < math.MinInt64-o.Value) {
		return Money{}, Errorf(EINVALID, "amount overflow")
	}
	return Money{Value: m.Value + o.Value, Currency: m.Currency}, nil
}

// AmountRule limits the amounts a method accepts in one currency, in minor units.
// Min and Max of 0 mean no limit on that side.
type AmountRule struct {
	Currency string `json:"currency"`
	Min      int64  `json:"min,omitempty"`
	Max      int64  `json:"max,omitempty"`
	// ReportedInSettlement says that the wallet settles amounts priced in this currency in the
	// account's settlement currency, and reports them (in notifications and queries) in that
	// currency only, converted at its own rate. The host then cannot compare a reported amount
	// in another currency with the payment's or refund's: it trusts the verified status and
	// records the reported amount. A reported amount in the pricing currency is still compared.
	ReportedInSettlement bool `json:"reported_in_settlement,omitempty"`
}

// Check reports whether m is within the rule (whose currency must match m's).
func (r AmountRule) Check(m Money) error {
	if !ValidCurrency(m.Currency) {
		return Errorf(EINVALID, "unknown currency %q", m.Currency)
	}
	if m.Currency != r.Currency {
		return Errorf(EINVALID, "currency %s is not %s", m.Currency, r.Currency)
	}
	if r.Min > 0 && m.Value < r.Min {
		return Errorf(EINVALID, "amount %s is below the minimum %s", m.Decimal(), Money{r.Min, r.Currency}.Decimal())
	}
	if r.Max > 0 && m.Value > r.Max {
		return Errorf(EINVALID, "amount %s is above the maximum %s", m.Decimal(), Money{r.Max, r.Currency}.Decimal())
	}
	return nil
}
