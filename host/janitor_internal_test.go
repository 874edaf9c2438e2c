package host

import (
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

func TestFirstQueryAndNextAfter(t *testing.T) {
	now := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	exp := now.Add(30 * time.Minute)
	query := &core.Description{Capabilities: []core.Capability{core.CapQuery}, QuerySchedule: []time.Duration{time.Minute, 10 * time.Minute}}
	noSchedule := &core.Description{Capabilities: []core.Capability{core.CapQuery}}
	noQuery := &core.Description{}
	longFirst := &core.Description{Capabilities: []core.Capability{core.CapQuery}, QuerySchedule: []time.Duration{time.Hour}}
	for _, tc := range []struct {
		name    string
		d       *core.Description
		expires time.Time
		want    time.Time
	}{
		{"schedule", query, exp, now.Add(time.Minute)},
		{"default schedule", noSchedule, exp, now.Add(DefaultQuerySchedule[0])},
		{"no query: at expiry", noQuery, exp, exp},
		{"no query, no expiry: never", noQuery, time.Time{}, time.Time{}},
		{"expiry first", longFirst, exp, exp},
		{"no expiry", longFirst, time.Time{}, now.Add(time.Hour)},
	} {
		if got := firstQuery(tc.d, now, tc.expires); !got.Equal(tc.want) {
			t.Errorf("%s: firstQuery = %v, want %v", tc.name, got, tc.want)
		}
	}

	j := &Janitor{retry: 4 * time.Minute, repeat: 6 * time.Hour}
	for _, tc := range []struct {
		name     string
		now      time.Time
		attempts int
		want     time.Time
	}{
		{"next offset from creation", now.Add(time.Minute), 1, now.Add(10 * time.Minute)},
		{"late host catches up one gap at a time", now.Add(9*time.Minute + 30*time.Second), 1, now.Add(10*time.Minute + 30*time.Second)},
		{"schedule used up: repeat", now.Add(time.Hour), 2, now.Add(7 * time.Hour)},
	} {
		if got := j.nextAfter(query, now, tc.now, tc.attempts); !got.Equal(tc.want) {
			t.Errorf("%s: nextAfter = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzReconcileRequest: the days of a reconciliation request (outside input from the API and
// the CLI) either parse into a bounded range or are refused with EINVALID, never panic.
func FuzzReconcileRequest(f *testing.F) {
	for _, s := range [][3]string{
		{"2026-11-20", "2026-11-20", ""}, {"20261101", "20261110", "Asia/Shanghai"}, {"2026-11-20", "2026-11-19", "UTC"},
		{"2026-01-01", "2026-12-31", ""}, {"", "", "Mars/Olympus"}, {"2026-02-30", "2026-13-01", "../etc"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, from, to, tz string) {
		r := &ReconcileRequest{Account: "acct", From: from, To: to, TimeZone: tz}
		a, b, loc, err := r.days()
		if err != nil {
			if code := core.ErrorCode(err); code != core.EINVALID {
				t.Fatalf("error code %s: %v", code, err)
			}
			return
		}
		if loc == nil || b.Before(a) || b.Sub(a) >= MaxReconcileDays*24*time.Hour {
			t.Fatalf("accepted %q..%q (%v) as %v..%v", from, to, loc, a, b)
		}
	})
}
