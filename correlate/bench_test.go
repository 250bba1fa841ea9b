package correlate

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// benchSnap is 10,000 candidate series × 720 points at 10 s plus one
// symptom, with 20 planted causes among them.
func benchSnap(nCand, n int) *Snapshot {
	r := rand.New(rand.NewPCG(42, 42))
	snap := &Snapshot{Start: t0, Step: 10 * time.Second, N: n}
	snap.Now = snap.Time(n - 1)
	backing := make([]float64, (nCand+1)*n)
	sym := backing[:n:n]
	for i := range sym {
		sym[i] = 0.3 + 0.05*r.NormFloat64()
		if i >= n-40 {
			sym[i] += 5
		}
	}
	snap.Series = append(snap.Series, SnapSeries{SeriesMeta: SeriesMeta{Key: "lb/5xx", Name: "hrsp_5xx", Unit: "%",
		Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "lb"}, Values: sym})
	layers := sources.Layers
	for c := 0; c < nCand; c++ {
		v := backing[(c+1)*n : (c+2)*n : (c+2)*n]
		lvl := 10 + 100*r.Float64()
		for i := range v {
			v[i] = lvl + r.NormFloat64()
		}
		if c%500 == 0 {
			for i := n - 45 - c%7; i < n; i++ {
				v[i] += 8
			}
		}
		snap.Series = append(snap.Series, SnapSeries{SeriesMeta: SeriesMeta{
			Key: fmt.Sprintf("src/node-%d/metric-%d", c%300, c), Name: fmt.Sprintf("metric-%d", c),
			Role: sources.RoleResource, Layer: layers[c%len(layers)], Node: fmt.Sprintf("node-%d", c%300)}, Values: v})
	}
	return snap
}

// cpuTime is the process's user+system CPU time: on a shared machine the
// wall clock of a benchmark says more about the neighbours than the code,
// so the benchmarks also report CPU ms per operation.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

var benchOpts = RankOptions{Window: 20 * time.Minute, Baseline: 100 * time.Minute, MaxLag: 10}

// BenchmarkRank10kx720 ranks 10,000 candidates against one symptom with
// a ±10-step lag search, baselines cached (the steady state of a refresh).
func BenchmarkRank10kx720(b *testing.B) { benchRank(b, benchSnap(10000, 720)) }

// benchRank ranks snap's candidates against its first series, baselines
// cached by a first query.
func benchRank(b *testing.B, snap *Snapshot) {
	r := NewRanker(benchOpts)
	w := LiveWindow(snap, r.Opt)
	rk := r.Rank(snap, 0, w) // warm the cache
	if len(rk.Suspects) == 0 {
		b.Fatal("no suspects")
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		r.Rank(snap, 0, w)
	}
	reportCPU(b, c0)
}

// BenchmarkBaselineRefresh10kx720 recomputes every baseline of the same
// data (the window moved to the next grid step).
func BenchmarkBaselineRefresh10kx720(b *testing.B) {
	snap := benchSnap(10000, 720)
	w := LiveWindow(snap, benchOpts)
	c := NewBaselineCache()
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for b.Loop() {
		c.Invalidate()
		for i := range snap.Series {
			c.Get(snap, &snap.Series[i], w.BaseFrom, w.BaseTo, nil)
		}
	}
	reportCPU(b, c0)
}

// TestEngineWorkingMemory measures what a ranker keeps between queries
// (baseline cache, scratch) plus what one query allocates, against the
// raw data it reads; the goal is ≤ 2× the raw data.
func TestEngineWorkingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 60 MB")
	}
	snap := benchSnap(10000, 720)
	raw := float64(len(snap.Series) * snap.N * 8)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	r := NewRanker(benchOpts)
	w := LiveWindow(snap, r.Opt)
	rk := r.Rank(snap, 0, w)
	runtime.ReadMemStats(&m1)
	peak := float64(m1.TotalAlloc - m0.TotalAlloc)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	kept := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
	runtime.KeepAlive(r)
	runtime.KeepAlive(rk)
	t.Logf("raw data %.1f MB; first query allocated %.1f MB (%.2f× raw); kept after GC %.1f MB (%.2f× raw)",
		raw/1e6, peak/1e6, peak/raw, kept/1e6, kept/raw)
	if peak > 2*raw {
		t.Errorf("engine working memory %.1f MB is more than twice the raw data (%.1f MB)", peak/1e6, raw/1e6)
	}
}

// BenchmarkRank10kx720Deps is BenchmarkRank10kx720 with a dependency
// graph over the 300 nodes (each calls three deeper ones), so the
// deepest-anomalous walk runs for every lag candidate.
func BenchmarkRank10kx720Deps(b *testing.B) {
	snap := benchSnap(10000, 720)
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 299; i++ {
		for k := 0; k < 3; k++ {
			j := i + 1 + r.IntN(300-i-1)
			snap.Deps = append(snap.Deps, sources.Dependency{From: fmt.Sprintf("node-%d", i), To: fmt.Sprintf("node-%d", j)})
		}
	}
	benchRank(b, snap)
}
