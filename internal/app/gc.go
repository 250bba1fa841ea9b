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
// a quarter of what is live, at least 8 MiB: GOGC=50 at 16 MiB live, 28
// at 28 MiB, 25 from 32 MiB on. A collection costs about 1 ms of CPU per
// MB live, so at 10,000 series that is one collection every three or four
// polls, and a bastion's resident memory stays near what is held. While
// the heap is small (a few sources) the default stays: there a tighter
// target only adds collections. Before the first collection the target is
// firstTarget: Go's default collects first at 4 MB, and the start-up (the
// packages' tables, the hour of backfill, the first judgement, the first
// frame) then took two or three collections of a few MB, a fifth of the
// CPU to the first frame. A GOGC set by the user wins.
const (
	firstTarget = 16 << 20 // the heap at the first collection
	smallHeap   = 16 << 20 // bytes live after a collection: the default below
	minRoom     = 8 << 20  // the least the heap may grow by once larger
)

var gcTune = struct {
	sync.Mutex
	percent int // the GOGC set last
}{percent: 100}

var gcState = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}

// gcPercentFor is the GOGC after cycles collections with live bytes live
// after the last: before the first, the one whose runtime floor (4 MB ×
// GOGC/100) is firstTarget; then the default below smallHeap, and room
// for a quarter of what is live, at least minRoom, above it.
func gcPercentFor(live, cycles uint64) int {
	switch {
	case cycles == 0:
		return firstTarget / (4 << 20) * 100
	case live < smallHeap:
		return 100
	}
	room := max(uint64(minRoom), live/4)
	return int(100 * room / live)
}

// TuneGC sets the collector's target (gcPercentFor); once past the first
// collection it changes it only when the target moves by 5 or more, or
// back to the default. Cheap: call it at start and after each batch.
func TuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	gcTune.Lock()
	defer gcTune.Unlock()
	metrics.Read(gcState)
	if gcState[0].Value.Kind() != metrics.KindUint64 || gcState[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	live, cycles := gcState[0].Value.Uint64(), gcState[1].Value.Uint64()
	p, cur := gcPercentFor(live, cycles), gcTune.percent
	if p != cur && (cycles == 0 || p == 100 || cur > 100 || p-cur >= 5 || cur-p >= 5) {
		gcTune.percent = p
		debug.SetGCPercent(p)
	}
}
