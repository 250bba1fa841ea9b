package app

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The collector's target. Go's default lets the heap grow by as much as
// was live after the last collection (GOGC=100) before it collects
// again, so resident memory runs at up to twice what is held. opsview's
// heap is mostly what it holds (the series, the engine's snapshot), and a
// poll allocates little against it (about 2 MB at 10,000 series, against
// 25 to 70 MB held), so once the heap is large the room it may grow by is
// a quarter of what is live, at least 8 MiB: GOGC=50 at 16 MiB live, 29
// at 28 MiB, 25 from 32 MiB on. A collection costs about 1 ms of CPU per
// MB live, so at 10,000 series that is one collection every three or four
// polls, some 7 ms a poll, and a bastion's resident memory stays near
// what is held. While the heap is small (start-up, a few sources) the
// default stays: there a tighter target only adds collections. A GOGC
// set by the user wins.
const (
	smallHeap = 16 << 20 // bytes live after a collection: the default below
	minRoom   = 8 << 20  // the least the heap may grow by once larger
)

var gcTune struct {
	sync.Mutex
	percent int // what TuneGC last set (0: nothing yet, the default)
}

var liveHeap = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}

// gcPercentFor is the GOGC for a heap of live bytes after a collection.
func gcPercentFor(live uint64) int {
	if live < smallHeap {
		return 100
	}
	room := max(uint64(minRoom), live/4)
	return int(100 * room / live)
}

// TuneGC sets the collector's target for the heap live after the last
// collection (gcPercentFor); it changes it only when the target moves by
// 5 or more. Cheap: call it after each batch.
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	gcTune.Lock()
	defer gcTune.Unlock()
	metrics.Read(liveHeap)
	if liveHeap[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercentFor(liveHeap[0].Value.Uint64())
	cur := gcTune.percent
	if cur == 0 {
		cur = 100
	}
	if p != cur && (p == 100 || p-cur >= 5 || cur-p >= 5) {
		debug.SetGCPercent(p)
		gcTune.percent = p
	}
}
