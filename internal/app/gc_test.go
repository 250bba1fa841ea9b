package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// Before the first collection the runtime's floor (4 MB × GOGC/100) is
// firstTarget. After it the heap may grow by a quarter of what is live,
// at least 8 MiB, once more than 16 MiB is live; below that Go's
// default stays.
func TestGCPercentForTheLiveHeap(t *testing.T) {
	if p := gcPercentFor(0, 0); 4<<20*p/100 != firstTarget {
		t.Errorf("no collection yet: GOGC %d, the runtime's floor %d, want %d", p, 4<<20*p/100, firstTarget)
	}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {4 << 20, 100}, {16<<20 - 1, 100},
		{16 << 20, 50}, {20 << 20, 40}, {28 << 20, 28}, {32 << 20, 25}, {66 << 20, 25}, {1 << 30, 25},
	} {
		if got := gcPercentFor(c.live, 3); got != c.want {
			t.Errorf("%d MiB live: GOGC %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// The collector's target tightens once the heap holds a lot and eases
// when it no longer does; a GOGC of the user's is left alone.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer func(p int) {
		debug.SetGCPercent(p)
		gcTune.Lock()
		gcTune.percent = p
		gcTune.Unlock()
	}(gcPercent())
	gcTune.Lock()
	gcTune.percent = 400 // as set before the first collection
	gcTune.Unlock()
	debug.SetGCPercent(400)
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("collected, a small heap: GOGC %d, want 100", p)
	}
	held := make([][]byte, 48)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 25 {
		t.Errorf("48 MiB live: GOGC %d, want 25", p)
	}
	runtime.KeepAlive(held)
	held = nil
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("the heap released: GOGC %d, want 100", p)
	}

	t.Setenv("GOGC", "100")
	debug.SetGCPercent(100) // as the runtime read it at start
	held = make([][]byte, 48)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC=100 set by the user: GOGC %d after tuning", p)
	}
	runtime.KeepAlive(held)
}
