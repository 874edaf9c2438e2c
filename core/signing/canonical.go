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

// sortedKeys returns the keys that take part in signing, sorted by byte value.
func sortedKeys(params map[string]string) []string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if !excluded(k, v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// CanonicalA is the pre-sign string of the SDK order string (mobile.securitypay.pay): keys
// sorted, `key="value"` joined by `&`, values raw, without sign, sign_type and empty values.
func CanonicalA(params map[string]string) string {
	keys := sortedKeys(params)
	n := 0
	for _, k := range keys {
		n += len(k) + len(params[k]) + 4
	}
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(params[k])
		b.WriteByte('"')
	}
	return b.String()
}

// CanonicalB is the pre-sign string of server API requests, notifications and XML responses:
// keys sorted, `k=v` joined by `&`, values raw (never URL-encoded), without sign, sign_type and
// empty values.
func CanonicalB(params map[string]string) string {
	keys := sortedKeys(params)
	n := 0
	for _, k := range keys {
		n += len(k) + len(params[k]) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}
