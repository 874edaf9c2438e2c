// Package signing holds the Alipay "mapi" signing primitives shared by every provider of that
// family: the two canonical parameter strings, RSA (SHA1withRSA), RSA2 (SHA256withRSA) and
// MD5-with-key signatures, and key loading.
package signing

import (
	"slices"
	"strings"
)

// excluded reports whether a parameter is left out of every canonical string.
func excluded(k, v string) bool { return v == "" || k == "sign" || k == "sign_type" }

// pair is one parameter that takes part in signing.
type pair struct{ k, v string }

// signedPairs returns the parameters that take part in signing, sorted by key byte value, and
// the total length of their keys and values. Carrying the values along saves a map lookup per
// key later (a fifth of the cost of a 15-field canonical string).
func signedPairs(params map[string]string) ([]pair, int) {
	pairs := make([]pair, 0, len(params))
	n := 0
	for k, v := range params {
		if !excluded(k, v) {
			pairs = append(pairs, pair{k, v})
			n += len(k) + len(v)
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	return pairs, n
}

// CanonicalA is the pre-sign string of the SDK order string (mobile.securitypay.pay): keys
// sorted, `key="value"` joined by `&`, values raw, without sign, sign_type and empty values.
func CanonicalA(params map[string]string) string {
	pairs, n := signedPairs(params)
	var b strings.Builder
	b.Grow(n + 4*len(pairs))
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteString(`="`)
		b.WriteString(p.v)
		b.WriteByte('"')
	}
	return b.String()
}

// CanonicalB is the pre-sign string of server API requests, notifications and XML responses:
// keys sorted, `k=v` joined by `&`, values raw (never URL-encoded), without sign, sign_type and
// empty values.
func CanonicalB(params map[string]string) string {
	pairs, n := signedPairs(params)
	var b strings.Builder
	b.Grow(n + 2*len(pairs))
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}
