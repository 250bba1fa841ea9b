package app

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func liveBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// The collector's target tightens once the heap holds a lot and eases
// when it no longer does; a small heap is collected at heapFloor; a GOGC
// of the user's is left alone.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer func(p int) {
		debug.SetGCPercent(p)
		gcTune.Lock()
		gcTune.big, gcTune.percent = false, p
		gcTune.Unlock()
	}(gcPercent())
	gcTune.Lock()
	gcTune.big, gcTune.percent = false, gcPercent()
	gcTune.Unlock()
	runtime.GC()
	TuneGC()
	if p, live := gcPercent(), liveBytes(); live >= heapFloor/2 || p <= 100 || p > 400 {
		t.Errorf("%d bytes live: GOGC %d, want the target raised to heapFloor", live, p)
	}
	mid := make([][]byte, 12)
	for i := range mid {
		mid[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	TuneGC()
	if p := gcPercent(); p != 100 {
		t.Errorf("12 MiB live: GOGC %d, want 100", p)
	}
	runtime.KeepAlive(mid)
	mid = nil
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
	if p := gcPercent(); p <= 100 {
		t.Errorf("the heap released: GOGC %d, want the target raised to heapFloor", p)
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

// Under half of heapFloor live, the target (live × (1 + GOGC/100)) is
// heapFloor, never more, at most GOGC=400 (where the runtime's own
// 4 MB × GOGC/100 floor is heapFloor); above, the default or the big
// heap's target.
func TestGCPercentForAHeapFloor(t *testing.T) {
	for _, live := range []uint64{0, 1 << 20, 3 << 20, 4 << 20, 5<<20 + 12345, 7 << 20, 8<<20 - 1} {
		p := gcPercentFor(live, false)
		if p < 100 || p > 400 {
			t.Errorf("%d live: GOGC %d, want 100…400", live, p)
			continue
		}
		goal := live * uint64(100+p) / 100
		if live >= heapFloor/5 && (goal > heapFloor || goal < heapFloor-live/100-1) {
			t.Errorf("%d live: GOGC %d, target %d, want %d", live, p, goal, heapFloor)
		}
	}
	if p := gcPercentFor(0, false); 4<<20*p/100 != heapFloor {
		t.Errorf("nothing live: GOGC %d, the runtime's floor %d, want %d", p, 4<<20*p/100, heapFloor)
	}
	for _, c := range []struct {
		live uint64
		big  bool
		want int
	}{{heapFloor / 2, false, 100}, {bigHeap, false, 100}, {bigHeap, true, bigHeapTarget}, {1 << 20, true, bigHeapTarget}} {
		if p := gcPercentFor(c.live, c.big); p != c.want {
			t.Errorf("%d live, big %v: GOGC %d, want %d", c.live, c.big, p, c.want)
		}
	}
}
