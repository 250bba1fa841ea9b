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

// The collector's target tightens once the heap holds a lot and eases
// when it no longer does; after the first collection a small heap has
// the default; a GOGC of the user's is left alone.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer func(p int) {
		debug.SetGCPercent(p)
		gcTune.Lock()
		gcTune.big, gcTune.percent = false, p
		gcTune.Unlock()
	}(gcPercent())
	gcTune.Lock()
	gcTune.big, gcTune.percent = false, 400 // as set before the first collection
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
	if p := gcPercent(); p != bigHeapTarget {
		t.Errorf("48 MiB live: GOGC %d, want %d", p, bigHeapTarget)
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

// Before the first collection the runtime's floor (4 MB × GOGC/100) is
// firstTarget; after it, the default, or the big heap's target.
func TestGCPercentForTheFirstCollection(t *testing.T) {
	if p := gcPercentFor(0, false); 4<<20*p/100 != firstTarget {
		t.Errorf("no collection yet: GOGC %d, the runtime's floor %d, want %d", p, 4<<20*p/100, firstTarget)
	}
	for _, c := range []struct {
		cycles uint64
		big    bool
		want   int
	}{{1, false, 100}, {7, false, 100}, {1, true, bigHeapTarget}, {0, true, bigHeapTarget}} {
		if p := gcPercentFor(c.cycles, c.big); p != c.want {
			t.Errorf("%d collections, big %v: GOGC %d, want %d", c.cycles, c.big, p, c.want)
		}
	}
}
