package notify

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
)

const formCT = "application/x-www-form-urlencoded"

// golden returns a body of testdata/forms (written by gen-forms.sh) and the fields it must decode to.
func golden(tb testing.TB, name string) ([]byte, map[string]string) {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "forms", name+".form"))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "forms", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		tb.Fatal(err)
	}
	return body, want
}

func TestDecodeFormGolden(t *testing.T) {
	utf8Body, utf8Want := golden(t, "notify-utf8")
	gbkBody, gbkWant := golden(t, "notify-gbk")
	// The GBK body without its _input_charset field: only the Content-Type can name the charset.
	gbkNoField := bytes.Replace(gbkBody, []byte("_input_charset=gbk&"), nil, 1)
	gbkNoFieldWant := maps.Clone(gbkWant)
	delete(gbkNoFieldWant, "_input_charset")
	tests := []struct {
		name string
		body []byte
		ct   string
		want map[string]string
	}{
		{"utf-8, plain content type", utf8Body, formCT, utf8Want},
		{"utf-8, charset in content type", utf8Body, formCT + "; charset=UTF-8", utf8Want},
		{"utf-8, no content type", utf8Body, "", utf8Want},
		{"gbk named by _input_charset", gbkBody, formCT, gbkWant},
		{"gbk named by both", gbkBody, formCT + "; charset=GBK", gbkWant},
		{"gbk named by content type only", gbkNoField, formCT + "; charset=gbk", gbkNoFieldWant},
		{"gb2312 label", gbkNoField, formCT + "; charset=GB2312", gbkNoFieldWant},
		{"gb18030 label", gbkNoField, formCT + "; charset=\"gb18030\"", gbkNoFieldWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeForm(tt.body, tt.ct)
			if err != nil {
				t.Fatalf("DecodeForm: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("%s = %q, want %q", k, got[k], v)
					}
				}
				t.Fatalf("got %d fields, want %d", len(got), len(tt.want))
			}
		})
	}
}

func TestDecodeFormCases(t *testing.T) {
	tests := []struct {
		name string
		body string
		ct   string
		want map[string]string
	}{
		{"empty body", "", formCT, map[string]string{}},
		{"plus is space, %2B is plus", "a=1+2&b=1%2B2", formCT, map[string]string{"a": "1 2", "b": "1+2"}},
		{"empty pairs skipped", "&&a=1&&", formCT, map[string]string{"a": "1"}},
		{"key without '='", "flag&a=1", formCT, map[string]string{"flag": "", "a": "1"}},
		{"empty value kept", "a=&b=2", formCT, map[string]string{"a": "", "b": "2"}},
		{"'=' inside a value", "a=x=y", formCT, map[string]string{"a": "x=y"}},
		{"escaped key", "out%5Ftrade%5Fno=1", formCT, map[string]string{"out_trade_no": "1"}},
		{"lower- and upper-case hex", "a=%c3%A9%e4%B8%ad%2f%2F", formCT, map[string]string{"a": "é中//"}},
		{"semicolon is not a separator", "a=1;b=2", formCT, map[string]string{"a": "1;b=2"}},
		{"unparsable content type is ignored", "a=1", "text/plain; charset", map[string]string{"a": "1"}},
		{"unknown charset treated as UTF-8", "a=%C3%A9", formCT + "; charset=latin1", map[string]string{"a": "é"}},
		{"utf-8 _input_charset", "_input_charset=UTF-8&a=%E4%B8%AD", "", map[string]string{"_input_charset": "UTF-8", "a": "中"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeForm([]byte(tt.body), tt.ct)
			if err != nil {
				t.Fatalf("DecodeForm: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeFormErrors(t *testing.T) {
	gbkBody, _ := golden(t, "notify-gbk")
	gbkNoField := bytes.Replace(gbkBody, []byte("_input_charset=gbk&"), nil, 1)
	tests := []struct {
		name    string
		body    []byte
		ct      string
		message string
	}{
		{"over the size limit", bytes.Repeat([]byte("a"), MaxBodyBytes+1), formCT, "limit"},
		{"JSON content type", []byte(`{"a":1}`), "application/json", "content type"},
		{"multipart content type", []byte("a=1"), "multipart/form-data; boundary=x", "content type"},
		{"bad escape in value", []byte("a=%zz"), formCT, "malformed value"},
		{"bad escape in key", []byte("%G1=1"), formCT, "malformed form key"},
		{"truncated escape", []byte("a=1%2"), formCT, "malformed value"},
		{"duplicate key", []byte("total_fee=1.00&total_fee=100.00"), formCT, "more than once"},
		{"duplicate key after unescaping", []byte("a_b=1&a%5Fb=2"), formCT, "more than once"},
		{"long duplicate key is shortened", []byte(strings.Repeat("中", 20) + "=1&" + strings.Repeat("中", 20) + "=2"), formCT, strings.Repeat("中", 13) + "..."},
		{"GBK bytes without a charset", gbkNoField, formCT, "not valid UTF-8"},
		{"invalid UTF-8 in a key", []byte("%FF=1"), formCT, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeForm(tt.body, tt.ct)
			if err == nil {
				t.Fatalf("no error; got %q", got)
			}
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("code = %s, want %s", core.ErrorCode(err), core.EINVALID)
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("error message is not valid UTF-8: %q", err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
	// Exactly at the limit is fine.
	body := append([]byte("a="), bytes.Repeat([]byte("x"), MaxBodyBytes-2)...)
	if _, err := DecodeForm(body, formCT); err != nil {
		t.Errorf("body of exactly MaxBodyBytes: %v", err)
	}
}

// Invalid GBK sequences never make DecodeForm fail silently with garbage: either an error or
// valid UTF-8 (the decoder maps undecodable bytes to U+FFFD).
func TestDecodeFormBadGBK(t *testing.T) {
	for _, body := range []string{"_input_charset=gbk&a=%81", "_input_charset=gbk&a=%FF%FF", "_input_charset=gbk&%81=1"} {
		got, err := DecodeForm([]byte(body), formCT)
		if err != nil {
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("%s: code %s", body, core.ErrorCode(err))
			}
			continue
		}
		for k, v := range got {
			if !isUTF8(k) || !isUTF8(v) {
				t.Errorf("%s: invalid UTF-8 in result %q=%q", body, k, v)
			}
		}
	}
}

func TestRetrySchedule(t *testing.T) {
	want := []time.Duration{2 * time.Minute, 10 * time.Minute, 10 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour}
	if len(RetrySchedule) != len(want) {
		t.Fatalf("%d redeliveries, want %d (eight deliveries in all)", len(RetrySchedule), len(want))
	}
	var total time.Duration
	for i, d := range RetrySchedule {
		if d != want[i] {
			t.Errorf("delay %d = %v, want %v", i, d, want[i])
		}
		total += d
	}
	if total != 24*time.Hour+22*time.Minute {
		t.Errorf("schedule spans %v, want 24h22m", total)
	}
}

func TestAcks(t *testing.T) {
	if string(AckSuccess.Body) != "success" || AckSuccess.Status != 200 {
		t.Errorf("AckSuccess = %+v", AckSuccess)
	}
	if string(AckRetry.Body) == "success" || AckRetry.Status != 200 {
		t.Errorf("AckRetry = %+v", AckRetry)
	}
}

func TestDedupeKey(t *testing.T) {
	_, fields := golden(t, "notify-utf8")
	k := DedupeKey("acct_1", fields)
	if k != "acct_1:"+fields["notify_id"] {
		t.Errorf("with notify_id: %q", k)
	}
	noID := maps.Clone(fields)
	delete(noID, "notify_id")
	k1 := DedupeKey("acct_1", noID)
	if !strings.HasPrefix(k1, "acct_1:sha256:") {
		t.Errorf("without notify_id: %q", k1)
	}
	redelivery := maps.Clone(noID)
	redelivery["notify_time"] = "2026-11-20 14:05:11"
	redelivery["sign"] = "another signature"
	if got := DedupeKey("acct_1", redelivery); got != k1 {
		t.Errorf("redelivery key %q differs from %q", got, k1)
	}
	if DedupeKey("acct_2", noID) == k1 {
		t.Error("accounts share a key")
	}
	changed := maps.Clone(noID)
	changed["trade_status"] = "TRADE_CLOSED"
	if DedupeKey("acct_1", changed) == k1 {
		t.Error("a different event has the same key")
	}
	// Field boundaries cannot be forged by values that contain separators.
	a := DedupeKey("acct", map[string]string{"a": "b\x00c\x00d"})
	b := DedupeKey("acct", map[string]string{"a": "b", "c": "d"})
	if a == b {
		t.Error("values with NUL bytes collide with other field sets")
	}
	if DedupeKey("acct", map[string]string{"ab": "c"}) == DedupeKey("acct", map[string]string{"a": "bc"}) {
		t.Error("key/value boundary is ambiguous")
	}
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// roundTrip checks that DecodeForm returns exactly a map that url.Values encoded.
func roundTrip(t *testing.T, m map[string]string) {
	t.Helper()
	v := url.Values{}
	for k, val := range m {
		v.Set(k, val)
	}
	got, err := DecodeForm([]byte(v.Encode()), formCT)
	if err != nil {
		t.Fatalf("DecodeForm(%q): %v", v.Encode(), err)
	}
	if !maps.Equal(got, m) {
		t.Fatalf("round trip: got %q, want %q", got, m)
	}
}

func TestDecodeFormRoundTrip(t *testing.T) {
	_, fields := golden(t, "notify-utf8")
	roundTrip(t, fields)
	roundTrip(t, map[string]string{"": "empty key", "k": "", "&=%+ ": "&=%+ ", "\x00": "\x7f"})
}
