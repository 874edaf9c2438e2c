package mapisim

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// Error is a rejection in the gateway's own vocabulary: Code is the mapi error code
// (ILLEGAL_SIGN, RETURN_AMOUNT_EXCEED, ...), Detail says why in words. Details never carry keys.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "mapisim: " + e.Code
	}
	return "mapisim: " + e.Code + ": " + e.Detail
}

func gwErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Pair is one `key="value"` item of an order string, value unquoted and raw.
type Pair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OrderString is a parsed mobile.securitypay.pay order string (Format A).
type OrderString struct {
	Pairs    []Pair // in the order sent, without sign and sign_type
	Sign     string // URL-decoded base64
	RawSign  string // as it appeared in the string (URL-encoded when the merchant did it right)
	SignType string
}

// Params returns the pairs as a map (without sign and sign_type).
func (o *OrderString) Params() map[string]string {
	m := make(map[string]string, len(o.Pairs))
	for _, p := range o.Pairs {
		m[p.Key] = p.Value
	}
	return m
}

// Get returns the value of key or "".
func (o *OrderString) Get(key string) string {
	for _, p := range o.Pairs {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// MaxOrderStringBytes bounds an order string; trade_information alone may be 6000 bytes.
const MaxOrderStringBytes = 32 << 10

// ParseOrderString splits an SDK order string `k1="v1"&k2="v2"&...&sign="<urlenc>"&sign_type="RSA"`.
// A value ends at the first `"&` or at a final `"`, so values may contain quotes (JSON in
// trade_information) but not the two-character sequence `"&`, which the protocol forbids anyway.
// Keys must be unique. The sign value is URL-decoded; other values are taken raw, as signed.
func ParseOrderString(s string) (*OrderString, error) {
	if len(s) > MaxOrderStringBytes {
		return nil, gwErr("ILLEGAL_ARGUMENT", "order string is %d bytes, over %d", len(s), MaxOrderStringBytes)
	}
	if s == "" {
		return nil, gwErr("ILLEGAL_ARGUMENT", "empty order string")
	}
	out := &OrderString{Pairs: make([]Pair, 0, strings.Count(s, `"&`)+1)}
	seen := func(key string) bool { // linear: an order string has a few dozen keys at most
		for _, p := range out.Pairs {
			if p.Key == key {
				return true
			}
		}
		return false
	}
	rest := s
	signSeen, typeSeen := false, false
	for rest != "" {
		eq := strings.Index(rest, `="`)
		if eq <= 0 {
			return nil, gwErr("ILLEGAL_ARGUMENT", "order string item %q is not key=\"value\"", clip(rest))
		}
		key := rest[:eq]
		if strings.ContainsAny(key, "&=\" ") {
			return nil, gwErr("ILLEGAL_ARGUMENT", "malformed key %q", clip(key))
		}
		rest = rest[eq+2:]
		var val string
		if end := strings.Index(rest, `"&`); end >= 0 {
			val, rest = rest[:end], rest[end+2:]
			if rest == "" {
				return nil, gwErr("ILLEGAL_ARGUMENT", "order string ends with '&'")
			}
		} else if strings.HasSuffix(rest, `"`) {
			val, rest = rest[:len(rest)-1], ""
		} else {
			return nil, gwErr("ILLEGAL_ARGUMENT", "value of %q is not closed by a quote", key)
		}
		if seen(key) || (key == "sign" && signSeen) || (key == "sign_type" && typeSeen) {
			return nil, gwErr("ILLEGAL_ARGUMENT", "parameter %q appears twice", key)
		}
		switch key {
		case "sign":
			signSeen = true
			dec, err := url.QueryUnescape(val)
			if err != nil {
				return nil, gwErr("ILLEGAL_SIGN", "sign is not URL-encoded base64")
			}
			out.Sign, out.RawSign = dec, val
		case "sign_type":
			typeSeen = true
			out.SignType = val
		default:
			out.Pairs = append(out.Pairs, Pair{Key: key, Value: val})
		}
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// checkedOrder is an order string that passed CheckOrderString.
type checkedOrder struct {
	os       *OrderString
	params   map[string]string
	partner  *partnerState
	money    core.Money // settlement amount
	rmbFee   string
	expiry   time.Duration // 0 = none
	deadline time.Time     // absolute it_b_pay, zero = none
}

// CheckOrderString parses and checks an order string the way the wallet SDK and the gateway
// would: known partner, sign type, Format A signature with the merchant's key, required fields,
// amounts, currency and it_b_pay. It returns the parsed string or an *Error.
func (s *Sim) CheckOrderString(orderString string) (*OrderString, error) {
	c, err := s.checkOrderString(orderString)
	if err != nil {
		return nil, err
	}
	return c.os, nil
}

func (s *Sim) checkOrderString(orderString string) (*checkedOrder, error) {
	os, err := ParseOrderString(orderString)
	if err != nil {
		return nil, err
	}
	p := os.Params()
	if p["service"] != "mobile.securitypay.pay" {
		return nil, gwErr("ILLEGAL_SERVICE", "service is %q, want mobile.securitypay.pay", clip(p["service"]))
	}
	s.mu.Lock()
	ps := s.partners[p["partner"]]
	s.mu.Unlock()
	if ps == nil {
		return nil, gwErr("ILLEGAL_PARTNER", "unknown partner %q", clip(p["partner"]))
	}
	if os.SignType == "" || os.Sign == "" {
		return nil, gwErr("ILLEGAL_ARGUMENT", "sign and sign_type are required")
	}
	// The SDK URL-decodes sign: an unencoded base64 '+' would turn into a space and '=' padding
	// (always present for 1024- and 2048-bit keys) shows the encoding step was skipped.
	if !s.cfg.AcceptUnencodedSign && strings.ContainsAny(os.RawSign, "+/=") {
		return nil, gwErr("ILLEGAL_SIGN", "sign is not URL-encoded")
	}
	st, err := signing.ParseSignType(os.SignType)
	if err != nil || st == signing.MD5 || ps.pub == nil {
		return nil, gwErr("ILLEGAL_SIGN_TYPE", "sign_type %q is not accepted for the order string (RSA or RSA2 with an uploaded merchant key)", clip(os.SignType))
	}
	v, err := signing.NewRSAVerifier(st, ps.pub)
	if err != nil {
		return nil, gwErr("ILLEGAL_SIGN_TYPE", "%v", err)
	}
	if !s.orderSignatureOK(v, orderString, p, os.Sign) {
		return nil, gwErr("ILLEGAL_SIGN", "order string signature does not verify with the merchant key")
	}
	for _, f := range s.cfg.RequiredOrderFields {
		if p[f] == "" {
			return nil, gwErr("ILLEGAL_ARGUMENT", "%s is required", f)
		}
	}
	if cs := p["_input_charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
		return nil, gwErr("ILLEGAL_CHARSET", "_input_charset %q: the SDK takes UTF-8 only", clip(cs))
	}
	if err := checkConstants(p); err != nil {
		return nil, err
	}
	c, err := s.checkOrderFields(ps, os, p)
	if err != nil {
		return nil, err
	}
	if tb := p["it_b_pay"]; tb != "" {
		if c.expiry, c.deadline, err = parseItBPay(tb); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkOrderFields runs the checks the app order string and the H5 request share (field
// lengths, URLs, amount and payment_inst) and returns the order without its expiry, which each
// channel reads from its own parameter (it_b_pay, timeout_rule).
func (s *Sim) checkOrderFields(ps *partnerState, os *OrderString, p map[string]string) (*checkedOrder, error) {
	if err := checkLengths(p); err != nil {
		return nil, err
	}
	if err := checkURLs(p); err != nil {
		return nil, err
	}
	m, rmb, err := s.checkAmount(ps, p["currency"], p["total_fee"], p["rmb_fee"])
	if err != nil {
		return nil, err
	}
	if err := checkPaymentInst(ps, p["payment_inst"]); err != nil {
		return nil, err
	}
	return &checkedOrder{os: os, params: p, partner: ps, money: m, rmbFee: rmb}, nil
}

// orderSignatureOK checks the order-string signature over the text OrderStringMode names.
func (s *Sim) orderSignatureOK(v signing.Verifier, raw string, p map[string]string, sig string) bool {
	sorted := func() bool { return v.Verify(signing.CanonicalA(p), sig) == nil }
	literal := func() bool {
		i := strings.Index(raw, `&sign=`)
		j := strings.Index(raw, `&sign_type=`)
		if j >= 0 && (i < 0 || j < i) {
			i = j
		}
		return i > 0 && v.Verify(raw[:i], sig) == nil
	}
	switch s.cfg.OrderStringMode {
	case "literal":
		return literal()
	case "either":
		return sorted() || literal()
	}
	return sorted()
}

// orderConstants are the fixed values of the order string (when sent).
var orderConstants = map[string]string{"payment_type": "1", "forex_biz": "FP", "product_code": "NEW_WAP_OVERSEAS_SELLER"}

// fieldLimits are the documented maximum lengths in bytes.
var fieldLimits = map[string]int{"out_trade_no": 64, "subject": 256, "body": 512, "notify_url": 200, "return_url": 200,
	"seller_id": 64, "trade_information": 6000, "out_return_no": 64, "reason": 256}

func checkConstants(p map[string]string) error {
	for k, v := range orderConstants {
		if got := p[k]; got != "" && got != v {
			return gwErr("ILLEGAL_ARGUMENT", "%s is %q, want %q", k, clip(got), v)
		}
	}
	return nil
}

// checkURLs requires notify_url and return_url, when given, to be absolute http(s) URLs.
func checkURLs(p map[string]string) error {
	for _, k := range []string{"notify_url", "return_url", "refer_url"} {
		v := p[k]
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return gwErr("ILLEGAL_ARGUMENT", "%s is not an absolute http(s) URL", k)
		}
	}
	return nil
}

func checkLengths(p map[string]string) error {
	for k, n := range fieldLimits {
		if len(p[k]) > n {
			return gwErr("ILLEGAL_ARGUMENT", "%s is longer than %d bytes", k, n)
		}
	}
	return nil
}

func checkPaymentInst(ps *partnerState, inst string) error {
	switch inst {
	case "":
		return nil
	case "ALIPAYHK", "ALIPAYCN":
		if ps.Flavour != FlavourHK {
			return gwErr("ILLEGAL_ARGUMENT", "payment_inst is an AlipayHK parameter")
		}
		return nil
	}
	return gwErr("ILLEGAL_ARGUMENT", "payment_inst %q is neither ALIPAYHK nor ALIPAYCN", clip(inst))
}

// maxAmount is 1,000,000.00 in a currency's minor units.
func maxAmount(currency string) int64 {
	e, _ := core.CurrencyExponent(currency)
	v := int64(1000000)
	for range e {
		v *= 10
	}
	return v
}

// checkAmount validates currency and exactly one of total_fee/rmb_fee, and returns the amount in
// the settlement currency (rmb_fee converted at the simulator's rate).
func (s *Sim) checkAmount(ps *partnerState, currency, totalFee, rmbFee string) (core.Money, string, error) {
	if currency == "" {
		return core.Money{}, "", gwErr("ILLEGAL_ARGUMENT", "currency is required")
	}
	if currency == "CNY" || !core.ValidCurrency(currency) {
		return core.Money{}, "", gwErr("ILLEGAL_CURRENCY", "currency %q is not a settlement currency", clip(currency))
	}
	if ps.Flavour == FlavourHK && currency != "HKD" {
		return core.Money{}, "", gwErr("ILLEGAL_CURRENCY", "AlipayHK settles in HKD only, not %s", currency)
	}
	if len(ps.Currencies) > 0 && !slices.Contains(ps.Currencies, currency) {
		return core.Money{}, "", gwErr("ILLEGAL_CURRENCY", "currency %s is not in the partner's contract", currency)
	}
	if (totalFee == "") == (rmbFee == "") {
		return core.Money{}, "", gwErr("ILLEGAL_ARGUMENT", "exactly one of total_fee and rmb_fee is required")
	}
	if totalFee != "" {
		m, err := parseAmount(totalFee, currency)
		return m, "", err
	}
	rmb, err := parseAmount(rmbFee, "CNY")
	if err != nil {
		return core.Money{}, "", err
	}
	rate, ok := rates[currency]
	if !ok {
		return core.Money{}, "", gwErr("ILLEGAL_CURRENCY", "no CNY rate for %s", currency)
	}
	e, _ := core.CurrencyExponent(currency)
	num := rmb.Value * 10000 // fen * 1e4
	for range e {
		num *= 10
	}
	v := (num/100 + rate/2) / rate
	if v <= 0 {
		v = 1
	}
	return core.Money{Value: v, Currency: currency}, rmbFee, nil
}

func parseAmount(s, currency string) (core.Money, error) {
	m, err := core.ParseMoney(s, currency)
	if err != nil {
		return core.Money{}, gwErr("ILLEGAL_ARGUMENT", "amount %q: %s", clip(s), core.ErrorMessage(err))
	}
	if m.Value <= 0 || m.Value > maxAmount(currency) {
		return core.Money{}, gwErr("ILLEGAL_ARGUMENT", "amount %s is outside 0.01-1,000,000.00", s)
	}
	return m, nil
}

var itbPayRe = regexp.MustCompile(`^([0-9]{1,5})([mhd])$`)

// parseItBPay reads it_b_pay: 1m..15d relative, "1c" (close at the end of today, Beijing), or an
// absolute "yyyy-MM-dd HH:mm:ss" in GMT+8.
func parseItBPay(v string) (time.Duration, time.Time, error) {
	if v == "1c" {
		return -1, time.Time{}, nil
	}
	if m := itbPayRe.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
		d := time.Duration(n) * unit
		if d < time.Minute || d > 15*24*time.Hour {
			return 0, time.Time{}, gwErr("ILLEGAL_ARGUMENT", "it_b_pay %q is outside 1m-15d", v)
		}
		return d, time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", v, beijing); err == nil {
		return 0, t, nil
	}
	return 0, time.Time{}, gwErr("ILLEGAL_ARGUMENT", "it_b_pay %q is not 1m..15d, 1c or yyyy-MM-dd HH:mm:ss", clip(v))
}
