package mapi

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// Names of the product settings both mapi payment products read the same way (their values
// differ: the cross-border product settles in one of many currencies, AlipayHK only in HKD).
const (
	SetCurrency    = "currency"     // the contract's settlement currency
	SetProductCode = "product_code" // product_code of payments (and cross-border refunds)
	SetItBPay      = "it_b_pay"     // app order timeout when a payment has no expiry
)

// DefaultProductCode is the product_code of the app and h5 payments of both products
// (alipay-crossborder.md 4.2, alipayhk.md 5.1).
const DefaultProductCode = "NEW_WAP_OVERSEAS_SELLER"

// MaxItBPay is the longest relative it_b_pay the gateway documents (15d).
const MaxItBPay = 15 * 24 * time.Hour

var (
	productCodeRE = regexp.MustCompile(`^[A-Z_]{1,64}$`)
	// itBPayRE is a relative it_b_pay: whole minutes, hours or days, or 1c (close at 00:00).
	itBPayRE = regexp.MustCompile(`^([1-9][0-9]{0,4})([mhd])$|^1c$`)
)

// ParseCurrency reads the settlement currency setting. allowed are the currencies the product
// settles in; when it is a single one the setting is optional and defaults to it, else it is
// required. Any other value, CNY included (a CNY price is rmb_fee, never a settlement
// currency), is an ECONFIG error.
func ParseCurrency(raw map[string]string, allowed ...string) (string, error) {
	v := strings.TrimSpace(raw[SetCurrency])
	switch {
	case v == "" && len(allowed) == 1:
		return allowed[0], nil
	case v == "":
		return "", core.Errorf(core.ECONFIG, "setting %s is required (the settlement currency, e.g. USD)", SetCurrency)
	case slices.Contains(allowed, v):
		return v, nil
	case len(allowed) == 1:
		return "", core.Errorf(core.ECONFIG, "setting %s must be %s (the product settles in %s only), got %q", SetCurrency, allowed[0], allowed[0], v)
	case v == "CNY":
		return "", core.Errorf(core.ECONFIG, "setting %s must be the foreign settlement currency, never CNY", SetCurrency)
	}
	return "", core.Errorf(core.ECONFIG, "setting %s %q is not a settlement currency of the product (%s)", SetCurrency, v, strings.Join(allowed, ", "))
}

// ParseProductCode reads product_code: DefaultProductCode when unset, else upper-case letters
// and underscores (anything else would be refused by the gateway or break the order string).
func ParseProductCode(raw map[string]string) (string, error) {
	v := strings.TrimSpace(raw[SetProductCode])
	if v == "" {
		return DefaultProductCode, nil
	}
	if !productCodeRE.MatchString(v) {
		return "", core.Errorf(core.ECONFIG, "setting %s must be upper-case letters and underscores such as %s, got %q", SetProductCode, DefaultProductCode, v)
	}
	return v, nil
}

// ParseItBPay reads the it_b_pay setting, the timeout of app orders whose payment has no
// expiry; def is used when it is unset ("" leaves it_b_pay out of the order). The value must be
// a relative it_b_pay (CheckItBPay).
func ParseItBPay(raw map[string]string, def string) (string, error) {
	v := strings.TrimSpace(raw[SetItBPay])
	if v == "" {
		return def, nil
	}
	if err := CheckItBPay(v); err != nil {
		return "", core.Errorf(core.ECONFIG, "setting %s: %s", SetItBPay, core.ErrorMessage(err))
	}
	return v, nil
}

// CheckItBPay accepts the relative forms of it_b_pay: 1m..15d in whole minutes, hours or days
// (90m, not 1.5h), or 1c. Anything else is EINVALID.
func CheckItBPay(v string) error {
	m := itBPayRE.FindStringSubmatch(v)
	if m == nil {
		return core.Errorf(core.EINVALID, "it_b_pay must be a whole number of m, h or d (e.g. 30m, 2h, 1d) or 1c, got %q", v)
	}
	if v == "1c" {
		return nil
	}
	n := time.Duration(0)
	for _, c := range m[1] {
		n = n*10 + time.Duration(c-'0')
	}
	unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	if n*unit > MaxItBPay {
		return core.Errorf(core.EINVALID, "it_b_pay %q is longer than 15d", v)
	}
	return nil
}

// ItBPayFor is the it_b_pay of a payment that expires at expires: the time left, rounded up to
// whole minutes (the order never closes before the host's expiry) and written in the largest
// whole unit (1d, 2h, 90m). A zero expires gives def (the account's setting). An expiry that
// has passed, or lies beyond MaxItBPay, is EINVALID.
func ItBPayFor(expires, now time.Time, def string) (string, error) {
	if expires.IsZero() {
		return def, nil
	}
	left := expires.Sub(now)
	if left <= 0 {
		return "", core.Errorf(core.EINVALID, "the payment's expiry is in the past")
	}
	if left > MaxItBPay {
		return "", core.Errorf(core.EINVALID, "the payment's expiry is more than 15 days away (the it_b_pay limit)")
	}
	mins := int64((left + time.Minute - 1) / time.Minute)
	switch {
	case mins%(24*60) == 0:
		return strconv.FormatInt(mins/(24*60), 10) + "d", nil
	case mins%60 == 0:
		return strconv.FormatInt(mins/60, 10) + "h", nil
	}
	return strconv.FormatInt(mins, 10) + "m", nil
}

// MaxTimeoutRule is the longest timeout_rule create_forex_trade_wap documents (15d).
const MaxTimeoutRule = 15 * 24 * time.Hour

// ParseTimeoutRule reads a timeout_rule value (1m..15d in whole m, h or d) as a duration.
func ParseTimeoutRule(v string) (time.Duration, error) {
	if v == "1c" || CheckItBPay(v) != nil {
		return 0, core.Errorf(core.EINVALID, "timeout_rule must be a whole number of m, h or d between 1m and 15d, got %q", v)
	}
	n, _ := strconv.Atoi(v[:len(v)-1])
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[v[len(v)-1]]
	return time.Duration(n) * unit, nil
}

// TimeoutRuleFor is the timeout_rule of an H5 payment that expires at expires: the time left,
// rounded down to whole minutes so that the wallet closes an unpaid trade no later than paymux
// expires the payment, written in the largest whole unit (1d, 2h, 29m), and at most max when
// max is positive (an account enabled for shorter values only). Less than a minute left, or
// more than 15 days, is EINVALID.
func TimeoutRuleFor(expires, now time.Time, max time.Duration) (string, error) {
	left := expires.Sub(now)
	if max > 0 && left > max {
		left = max
	}
	if left < time.Minute {
		return "", core.Errorf(core.EINVALID, "the payment expires in less than a minute (the shortest timeout_rule)")
	}
	if left > MaxTimeoutRule {
		return "", core.Errorf(core.EINVALID, "the payment's expiry is more than 15 days away (the timeout_rule limit)")
	}
	mins := int64(left / time.Minute)
	switch {
	case mins%(24*60) == 0:
		return strconv.FormatInt(mins/(24*60), 10) + "d", nil
	case mins%60 == 0:
		return strconv.FormatInt(mins/60, 10) + "h", nil
	}
	return strconv.FormatInt(mins, 10) + "m", nil
}
