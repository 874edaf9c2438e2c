// Package notify holds the notification primitives shared by the mapi providers: decoding a
// form-encoded notification body (UTF-8 or GBK), the wallet's retry schedule, acknowledgement
// bodies and dedupe keys.
package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paymux/paymux/core"
)

// MaxBodyBytes bounds a notification body. Real mapi notifications are under 4 KiB.
const MaxBodyBytes = 64 << 10

// RetrySchedule is the wallet's delay before each redelivery of an unacknowledged notification:
// eight deliveries in all, over 24h22m.
var RetrySchedule = []time.Duration{
	2 * time.Minute, 10 * time.Minute, 10 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour,
}

// Acks the mapi wallets understand: `success` stops redelivery, anything else asks for it.
var (
	AckSuccess = core.Ack{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte("success")}
	AckRetry   = core.Ack{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte("fail")}
)

// DecodeForm decodes an application/x-www-form-urlencoded notification body. Only the body is
// read, never the URL query (a notify_url may carry its own parameters, which are not signed).
// The charset comes from the Content-Type, else from an `_input_charset` field, else UTF-8;
// GBK/GB2312/GB18030 bodies are converted to UTF-8. A key given twice is an error: the signed
// value and the used value could otherwise differ.
func DecodeForm(body []byte, contentType string) (map[string]string, error) {
	if len(body) > MaxBodyBytes {
		return nil, core.Errorf(core.EINVALID, "notification body is %d bytes, over the %d limit", len(body), MaxBodyBytes)
	}
	charset := ""
	if contentType != "" && contentType != "application/x-www-form-urlencoded" {
		mt, params, err := mime.ParseMediaType(contentType)
		if err == nil {
			if mt != "application/x-www-form-urlencoded" {
				return nil, core.Errorf(core.EINVALID, "notification content type is %q, want application/x-www-form-urlencoded", mt)
			}
			charset = params["charset"]
		}
	}
	// All keys and values are unescaped into one buffer that becomes one string; the fields are
	// substrings of it. That is a fixed handful of allocations for the whole body instead of two
	// to four per field (see docs/performance.md). Any field kept alive keeps that one string,
	// at most MaxBodyBytes, alive with it.
	buf := make([]byte, 0, len(body))
	spans := make([]int, 0, 2*(bytes.Count(body, []byte{'&'})+1)) // end offsets: key, value, key, ...
	for len(body) > 0 {
		pair := body
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(pair) == 0 {
			continue
		}
		k, v := pair, pair[len(pair):]
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			k, v = pair[:i], pair[i+1:]
		}
		var err error
		start := len(buf)
		if buf, err = appendUnescaped(buf, k); err != nil {
			return nil, core.Errorf(core.EINVALID, "malformed form key: %v", err)
		}
		spans = append(spans, len(buf))
		if buf, err = appendUnescaped(buf, v); err != nil {
			return nil, core.Errorf(core.EINVALID, "malformed value of %q: %v", printable(string(buf[start:spans[len(spans)-1]])), err)
		}
		spans = append(spans, len(buf))
	}
	all := string(buf)
	fields := make(map[string]string, len(spans)/2)
	start := 0
	for i := 0; i < len(spans); i += 2 {
		key, val := all[start:spans[i]], all[spans[i]:spans[i+1]]
		start = spans[i+1]
		if _, dup := fields[key]; dup {
			return nil, core.Errorf(core.EINVALID, "field %q appears more than once", printable(key))
		}
		fields[key] = val
	}
	if charset == "" {
		charset = fields["_input_charset"]
	}
	if isGBK(charset) {
		return fromGBK(fields)
	}
	// One pass over the whole text: it is valid and no field boundary splits a character, or
	// some field is invalid and the slow loop names it.
	valid := utf8.ValidString(all)
	for _, end := range spans {
		if !valid {
			break
		}
		valid = end == len(all) || utf8.RuneStart(all[end])
	}
	if !valid {
		for k, v := range fields {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, core.Errorf(core.EINVALID, "field %q is not valid UTF-8", printable(k))
			}
		}
	}
	return fields, nil
}

// appendUnescaped appends the form-decoded s to buf: '+' is a space and %XX a byte, exactly as
// url.QueryUnescape does. Runs of plain bytes are copied whole.
func appendUnescaped(buf, s []byte) ([]byte, error) {
	run := 0 // start of the plain bytes not yet copied
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			buf = append(append(buf, s[run:i]...), ' ')
			run = i + 1
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				bad := s[i:min(i+3, len(s))]
				return buf, fmt.Errorf("invalid URL escape %q", strings.ToValidUTF8(string(bad), "?"))
			}
			buf = append(append(buf, s[run:i]...), unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			run = i + 1
		}
	}
	return append(buf, s[run:]...), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isGBK(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "gbk", "gb2312", "gb18030", "cp936":
		return true
	}
	return false
}

func fromGBK(in map[string]string) (map[string]string, error) {
	dec := simplifiedchinese.GB18030.NewDecoder() // a superset of GBK and GB2312
	out := make(map[string]string, len(in))
	for k, v := range in {
		kk, err := dec.String(k)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "field key is not valid GBK")
		}
		vv, err := dec.String(v)
		if err != nil {
			return nil, core.Errorf(core.EINVALID, "field %q is not valid GBK", printable(kk))
		}
		out[kk] = vv
	}
	return out, nil
}

// printable shortens and cleans a key for an error message.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// DedupeKey returns a key that is the same for every redelivery of one notification: the
// account and notify_id when there is one, else a hash of the account and every field except
// the delivery-specific ones (sign, notify_time).
func DedupeKey(account string, fields map[string]string) string {
	if id := fields["notify_id"]; id != "" {
		return account + ":" + id
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "sign" && k != "notify_time" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	// Every string is length-prefixed, so that values containing separators (a form value may
	// hold %00) cannot make two different field sets hash alike.
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	write := func(s string) {
		h.Write(binary.AppendUvarint(n[:0], uint64(len(s))))
		h.Write([]byte(s))
	}
	write(account)
	for _, k := range keys {
		write(k)
		write(fields[k])
	}
	return account + ":sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}
