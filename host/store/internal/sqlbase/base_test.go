package sqlbase

import (
	"strconv"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

func TestQ(t *testing.T) {
	pg := &Dialect{Dollar: true}
	lite := &Dialect{}
	for _, tc := range []struct{ in, pg string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"VALUES (?,?,?)", "VALUES ($1,$2,$3)"},
	} {
		if got := pg.Q(tc.in); got != tc.pg {
			t.Errorf("pg.Q(%q) = %q, want %q", tc.in, got, tc.pg)
		}
		if got := pg.Q(tc.in); got != tc.pg { // cached
			t.Errorf("cached pg.Q(%q) = %q", tc.in, got)
		}
		if got := lite.Q(tc.in); got != tc.in {
			t.Errorf("sqlite Q(%q) = %q", tc.in, got)
		}
	}
}

func TestT(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	if got := (&Dialect{TimeAsMicros: true}).T(at); got != at.UnixMicro() {
		t.Errorf("sqlite T = %v", got)
	}
	if got := (&Dialect{}).T(at); got != at.UTC().Truncate(time.Microsecond) {
		t.Errorf("pg T = %v", got)
	}
	if (&Dialect{}).T(time.Time{}) != nil || (&Dialect{TimeAsMicros: true}).T(time.Time{}) != nil {
		t.Error("zero time is not NULL")
	}
	var back time.Time
	if err := tm(&back).Scan(at.UnixMicro()); err != nil || !back.Equal(at.Truncate(time.Microsecond)) || back.Location() != time.UTC {
		t.Errorf("scan micros: %v %v", back, err)
	}
	if err := tm(&back).Scan(nil); err != nil || !back.IsZero() {
		t.Errorf("scan NULL: %v %v", back, err)
	}
	if err := tm(&back).Scan("2026"); err == nil {
		t.Error("scan of a string succeeded")
	}
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		code string
	}{
		{"", 0, ""},
		{"42", 42, ""},
		{"0", 0, core.EINVALID},
		{"-1", 0, core.EINVALID},
		{"abc", 0, core.EINVALID},
		{"99999999999999999999", 0, core.EINVALID},
	} {
		got, err := parseCursor(tc.in)
		if got != tc.want || core.ErrorCode(err) != tc.code {
			t.Errorf("parseCursor(%q) = %d, %v; want %d, %q", tc.in, got, err, tc.want, tc.code)
		}
	}
}

// FuzzParseCursor: cursors come from API callers; any string must give either a positive
// sequence number that formats back to itself, or EINVALID.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "1", "42", "0", "-1", "1e3", " 1", "9223372036854775807", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseCursor(s)
		switch {
		case err != nil:
			if core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("parseCursor(%q): %v", s, err)
			}
		case s == "":
			if v != 0 {
				t.Fatalf("empty cursor = %d", v)
			}
		case v <= 0:
			t.Fatalf("parseCursor(%q) = %d", s, v)
		case strconv.FormatInt(v, 10) != s && "+"+strconv.FormatInt(v, 10) != s && !leadingZeros(s):
			t.Fatalf("parseCursor(%q) = %d does not round-trip", s, v)
		}
	})
}

func leadingZeros(s string) bool { return len(s) > 1 && (s[0] == '0' || (s[0] == '+' && s[1] == '0')) }
