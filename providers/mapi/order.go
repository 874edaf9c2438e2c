package mapi

import (
	"net/url"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// OrderString returns the signed SDK order string of mobile.securitypay.pay (Format A): the
// sorted `k="v"` pre-sign string, then `&sign="<URL-encoded base64>"&sign_type="<type>"` last.
// Values must not contain `"` (the SDK string has no escaping); that is an EINVALID error.
func OrderString(params map[string]string, signer signing.Signer) (string, error) {
	for k, v := range params {
		if k == "trade_information" || k == "split_fund_info" {
			// JSON values keep their quotes, but `"&` followed by `key=` is where a reader of
			// the order string ends a value: inside the JSON it would smuggle in a field (say a
			// second total_fee) that the signature covers but the merchant never set.
			if strings.Contains(v, `"&`) {
				return "", core.Errorf(core.EINVALID, "parameter %s must not contain '\"&'", k)
			}
			continue
		}
		if strings.ContainsRune(v, '"') {
			return "", core.Errorf(core.EINVALID, "parameter %s must not contain a double quote", k)
		}
	}
	return signing.OrderString(params, signer)
}

// ParseOrderString splits a Format A string (an order string or the SDK's `result`) into its
// fields, in order. Values are the raw text between the quotes (an order string's sign stays
// URL-encoded; ParseSDKResult decodes it). JSON values may contain `"`: a field ends at `"&`
// followed by a key and `=`, or at the end.
func ParseOrderString(s string) ([][2]string, error) {
	var out [][2]string
	for len(s) > 0 {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsAny(k, `"&`) {
			return nil, core.Errorf(core.EINVALID, "malformed order string near %q", truncate(s, 20))
		}
		if !strings.HasPrefix(rest, `"`) {
			return nil, core.Errorf(core.EINVALID, "value of %s is not quoted", truncate(k, 40))
		}
		rest = rest[1:]
		end := valueEnd(rest)
		if end < 0 {
			return nil, core.Errorf(core.EINVALID, "value of %s is not closed", truncate(k, 40))
		}
		out = append(out, [2]string{k, rest[:end]})
		s = rest[end+1:]
		if s != "" {
			if s[0] != '&' {
				return nil, core.Errorf(core.EINVALID, "malformed order string after %s", truncate(k, 40))
			}
			s = s[1:]
		}
	}
	return out, nil
}

// valueEnd finds the closing quote of a value: a `"` followed by the end, or by `&key=`.
func valueEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		if i == len(s)-1 {
			return i
		}
		if s[i+1] == '&' {
			next := s[i+2:]
			if k, _, ok := strings.Cut(next, "="); ok && k != "" && !strings.ContainsAny(k, `"&{}:, `) {
				return i
			}
		}
	}
	return -1
}

// SDKResult is the parsed `result` of the wallet SDK's synchronous answer to an order string.
type SDKResult struct {
	Content  string            // the signed part: everything before `&sign_type=`
	Fields   map[string]string // every field with its raw value
	Sign     string
	SignType string
}

// ParseSDKResult splits the SDK's result string. sign and sign_type are its last two fields,
// in either order (the SDK appends sign_type then sign after success="true"; other versions
// the reverse); the signed content is the string before the first of them.
func ParseSDKResult(result string) (*SDKResult, error) {
	idx := min(lastField(result, "sign_type"), lastField(result, "sign"))
	if idx < 0 {
		return nil, core.Errorf(core.EINVALID, "result carries no sign and sign_type")
	}
	fields, err := ParseOrderString(result)
	if err != nil {
		return nil, err
	}
	if n := len(fields); n < 3 || !isSignPair(fields[n-2][0], fields[n-1][0]) {
		return nil, core.Errorf(core.EINVALID, "result must end with sign and sign_type")
	}
	r := &SDKResult{Content: result[:idx], Fields: make(map[string]string, len(fields))}
	for _, f := range fields {
		if _, dup := r.Fields[f[0]]; dup {
			return nil, core.Errorf(core.EINVALID, "result field %s appears twice", truncate(f[0], 40))
		}
		r.Fields[f[0]] = f[1]
	}
	r.Sign, r.SignType = r.Fields["sign"], r.Fields["sign_type"]
	if r.Sign == "" || r.SignType == "" {
		return nil, core.Errorf(core.EINVALID, "result lacks sign or sign_type")
	}
	// The order string URL-encodes the signature; the SDK's echo usually does not. Accept both.
	if strings.Contains(r.Sign, "%") {
		if u, err := url.QueryUnescape(r.Sign); err == nil {
			r.Sign = u
		}
	}
	return r, nil
}

// lastField returns the index of the last `&name="` in s, -1 when there is none.
func lastField(s, name string) int {
	return strings.LastIndex(s, "&"+name+`="`)
}

func isSignPair(a, b string) bool {
	return a == "sign" && b == "sign_type" || a == "sign_type" && b == "sign"
}

// Verify checks the result's signature with the account's verifier for its sign type (see
// Settings.ClientResultVerifier).
func (r *SDKResult) Verify(s *Settings) error {
	v, err := s.ClientResultVerifier(r.SignType)
	if err != nil {
		return err
	}
	return v.Verify(r.Content, r.Sign)
}

// ResultStatusHint maps the SDK's resultStatus to what it suggests: 9000 paid, 4000 failed,
// everything else (8000 processing, 6001 cancelled, 6002 network, 6004 unknown) still pending.
func ResultStatusHint(code string) core.PaymentStatus {
	switch code {
	case "9000":
		return core.PaymentSucceeded
	case "4000":
		return core.PaymentFailed
	}
	return core.PaymentPending
}
