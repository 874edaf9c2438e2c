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
