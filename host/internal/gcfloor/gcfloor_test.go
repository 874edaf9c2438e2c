package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, floor int64
		base, want  int
	}{
		{2 * mb, 16 * mb, 100, 700},  // goal 2 x 8 = 16 MB
		{8 * mb, 16 * mb, 100, 100},  // live x 2 already reaches the floor
		{20 * mb, 16 * mb, 100, 100}, // above the floor: the default
		{4 * mb, 16 * mb, 400, 400},  // a higher base is kept
		{1024, 16 * mb, 100, 1600},   // tiny heap: bounded
		{0, 16 * mb, 100, 100},       // unknown live heap
		{2 * mb, 0, 100, 100},        // no floor
	} {
		if got := Percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

func TestStartRaisesAndFollows(t *testing.T) {
	t.Setenv("GOGC", "")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if !Start(16 << 20) {
		t.Fatal("Start refused without GOGC")
	}
	// The test binary's live heap is a few MB: the percent must now be above the default, and
	// stay so after collections (the finalizer re-tunes and re-arms).
	for range 3 {
		runtime.GC()
		runtime.GC() // the finalizer of the first runs before the second returns
	}
	if p := debug.SetGCPercent(100); p <= 100 {
		t.Errorf("GC percent %d after Start with a 16 MB floor", p)
	}
	if Start(16 << 20) {
		t.Error("a second Start started a second tuner")
	}
}

func TestStartRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "50")
	if Start(16 << 20) {
		t.Error("Start tuned although GOGC is set")
	}
}
