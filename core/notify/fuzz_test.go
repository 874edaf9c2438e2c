package notify

import (
	"maps"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func seedForms(f *testing.F) {
	for _, name := range []string{"notify-utf8", "notify-gbk"} {
		body, _ := golden(f, name)
		f.Add(body, formCT)
		f.Add(body, formCT+"; charset=gbk")
	}
	f.Add([]byte("a=%zz&b"), "")
	f.Add([]byte("a=1&a=2"), "text/plain")
}

// FuzzDecodeForm: arbitrary bodies and content types never panic, and whatever is accepted is
// valid UTF-8 and within the size limit.
func FuzzDecodeForm(f *testing.F) {
	seedForms(f)
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		got, err := DecodeForm(body, ct)
		if err != nil {
			if strings.Contains(err.Error(), "malformed") {
				if _, ok := referenceDecode(body); ok {
					t.Fatalf("DecodeForm refused a body net/url accepts: %v", err)
				}
			}
			return
		}
		if len(body) > MaxBodyBytes {
			t.Fatal("accepted a body over the limit")
		}
		for k, v := range got {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("invalid UTF-8 in %q=%q", k, v)
			}
		}
		// Differential check against net/url for bodies not converted from GBK.
		if isGBK(got["_input_charset"]) || strings.Contains(strings.ToLower(ct), "gb") {
			return
		}
		want, ok := referenceDecode(body)
		if !ok || !maps.Equal(got, want) {
			t.Fatalf("DecodeForm = %q, net/url reference = %q (ok %v)", got, want, ok)
		}
	})
}

// referenceDecode is the obvious decoder built on url.QueryUnescape.
func referenceDecode(body []byte) (map[string]string, bool) {
	m := map[string]string{}
	for _, pair := range strings.Split(string(body), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		if _, dup := m[key]; dup {
			return nil, false
		}
		m[key] = val
	}
	return m, true
}

// FuzzDecodeFormRoundTrip: any map of UTF-8 strings encoded by url.Values decodes to itself.
// The map arrives flattened as k1 NUL v1 NUL k2 NUL v2 ...; seeds come from the golden bodies.
func FuzzDecodeFormRoundTrip(f *testing.F) {
	for _, name := range []string{"notify-utf8", "notify-gbk"} {
		_, fields := golden(f, name)
		var parts []string
		for k, v := range fields {
			if k != "_input_charset" {
				parts = append(parts, k, v)
			}
		}
		f.Add(strings.Join(parts, "\x00"))
	}
	f.Fuzz(func(t *testing.T, flat string) {
		parts := strings.Split(flat, "\x00")
		m := make(map[string]string, len(parts)/2)
		for i := 0; i+1 < len(parts); i += 2 {
			m[parts[i]] = parts[i+1]
		}
		for k, v := range m {
			// A map naming a GBK charset is decoded as GBK, by design; invalid UTF-8 is refused.
			if k == "_input_charset" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				return
			}
		}
		roundTrip(t, m)
	})
}
