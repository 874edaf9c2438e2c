// Package gcfloor keeps the Go heap goal of a process with a small live heap above a floor.
//
// paymux serve keeps about 2 MB of live Go heap (the SQLite page cache lives outside it) while
// it allocates tens of kilobytes per request, so with the default GOGC=100 its heap goal is the
// runtime's 4 MB minimum and a collection runs every few dozen milliseconds under load; each
// one costs mark work, write barriers, and the scavenger returning and re-faulting the pages.
// Raising the goal to a fixed floor costs at most that floor in memory and nothing once the
// live heap is large: the goal is max(floor, live x (1 + GOGC/100)), recomputed after every
// collection.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap goal paymux serve keeps at least.
const DefaultFloor = 16 << 20

// maxPercent bounds the GC percent the floor may set (the goal then still follows the heap,
// at a ratio a tiny live heap cannot make absurd).
const maxPercent = 1600

var once sync.Once

// Start raises the heap goal to at least floor bytes for the rest of the process, unless the
// environment sets GOGC or floor is not positive (then it does nothing and returns false). The
// base percent is the one in force when it starts (100 by default). Only the first call of a
// process starts a tuner; later calls return false.
func Start(floor int64) bool {
	if floor <= 0 || os.Getenv("GOGC") != "" {
		return false
	}
	started := false
	once.Do(func() { started = start(floor) })
	return started
}

func start(floor int64) bool {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base <= 0 {
		return false // GC off: nothing to raise
	}
	t := &tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	t.arm()
	return true
}

type tuner struct {
	floor  int64
	base   int
	sample []metrics.Sample
}

// arm sets a finalizer on a fresh object: it runs after the next collection, retunes, and
// re-arms.
func (t *tuner) arm() {
	s := new([16]byte)
	runtime.SetFinalizer(s, func(*[16]byte) {
		t.tune()
		t.arm()
	})
}

// tune sets the percent so that the goal is at least the floor.
func (t *tuner) tune() {
	debug.SetGCPercent(Percent(t.liveHeap(), t.floor, t.base))
}

func (t *tuner) liveHeap() int64 {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(t.sample[0].Value.Uint64())
}

// Percent is the GC percent that makes the heap goal max(floor, live x (1 + base/100)),
// between base and maxPercent. An unknown (zero) live heap gets base.
func Percent(live, floor int64, base int) int {
	if live <= 0 || floor <= 0 {
		return base
	}
	p := int((floor - live) * 100 / live)
	return max(base, min(p, maxPercent))
}
