package correlate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// t0 comes from helpers_test.go

func pts(start time.Time, step time.Duration, vals ...float64) []sources.Point {
	out := make([]sources.Point, len(vals))
	for i, v := range vals {
		out[i] = sources.Point{T: start.Add(time.Duration(i) * step), V: v}
	}
	return out
}

func TestStoreAlignsPointsOnTheCommonClock(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
	s.Apply(&sources.Batch{Source: "gr", At: t0.Add(time.Minute), Series: []sources.Series{
		{Name: "iowait", Labels: map[string]string{"host": "db-1"}, Unit: "%", Role: sources.RoleResource, Layer: sources.LayerDB,
			Points: pts(t0.Add(3*time.Second), 10*time.Second, 1, 2, math.NaN(), 4)},
	}})
	snap := s.Snapshot(t0, t0.Add(50*time.Second), nil)
	if snap.N != 6 || len(snap.Series) != 1 {
		t.Fatalf("N=%d series=%d", snap.N, len(snap.Series))
	}
	got := snap.Series[0].Values
	want := []float64{1, 2, math.NaN(), 4, math.NaN(), math.NaN()}
	for i := range want {
		if !(got[i] == want[i] || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("values %v, want %v", got, want)
		}
	}
	if snap.Series[0].Key != `gr/iowait{host="db-1"}` || snap.Series[0].Layer != sources.LayerDB {
		t.Errorf("meta %+v", snap.Series[0].SeriesMeta)
	}
	if v, i := snap.Series[0].Last(); v != 4 || i != 3 {
		t.Errorf("Last = %v,%d", v, i)
	}
	if !snap.Now.Equal(t0.Add(time.Minute)) {
		t.Errorf("now %v", snap.Now)
	}
}

func TestStoreIsBoundedByRetention(t *testing.T) {
	s := NewStore(StoreOptions{Step: time.Second, Retention: 100 * time.Second})
	for i := 0; i < 1000; i++ {
		s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: "a", Points: pts(t0.Add(time.Duration(i)*time.Second), time.Second, float64(i))}}})
	}
	r := s.series["x/a"]
	if len(r.vals) > 100 {
		t.Fatalf("ring grew to %d slots, retention is 100", len(r.vals))
	}
	snap := s.Snapshot(t0, t0.Add(999*time.Second), nil)
	if snap.N != 100 {
		t.Fatalf("window clipped to %d, want 100", snap.N)
	}
	if snap.Series[0].Values[0] != 900 || snap.Series[0].Values[99] != 999 {
		t.Errorf("oldest kept %v newest %v", snap.Series[0].Values[0], snap.Series[0].Values[99])
	}
	// a point older than retention is dropped, not wrapped onto new data
	s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: "a", Points: pts(t0, time.Second, -1)}}})
	snap = s.Snapshot(t0.Add(900*time.Second), t0.Add(999*time.Second), nil)
	for _, v := range snap.Series[0].Values {
		if v == -1 {
			t.Fatal("a too-old point overwrote newer data")
		}
	}
}

func TestStoreBackfillOlderPointsAndGaps(t *testing.T) {
	s := NewStore(StoreOptions{Step: time.Second, Retention: time.Hour})
	s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: "a", Points: pts(t0.Add(100*time.Second), time.Second, 100)}}})
	// backfill arrives later, older than what is held
	s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: "a", Points: pts(t0, time.Second, 0, 1, 2)}}})
	// a jump forward leaves a gap of NaN, not stale values
	s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: "a", Points: pts(t0.Add(500*time.Second), time.Second, 500)}}})
	snap := s.Snapshot(t0, t0.Add(500*time.Second), nil)
	v := snap.Series[0].Values
	if v[0] != 0 || v[2] != 2 || v[100] != 100 || v[500] != 500 {
		t.Fatalf("v[0]=%v v[2]=%v v[100]=%v v[500]=%v", v[0], v[2], v[100], v[500])
	}
	for _, i := range []int{3, 50, 99, 101, 300, 499} {
		if !math.IsNaN(v[i]) {
			t.Errorf("v[%d]=%v, want a gap", i, v[i])
		}
	}
}

func TestStoreEventsUpdateAndResolveByID(t *testing.T) {
	s := NewStore(StoreOptions{MaxEvents: 3})
	s.Apply(&sources.Batch{Source: "lb", Events: []sources.Event{{ID: "app-1/down", Start: t0, Severity: sources.SevWarning, Title: "app-1 DOWN"}}})
	s.Apply(&sources.Batch{Source: "lb", Events: []sources.Event{{ID: "app-1/down", End: t0.Add(time.Minute), Severity: sources.SevWarning, Title: "app-1 DOWN"}}})
	snap := s.Snapshot(t0, t0.Add(5*time.Minute), nil)
	if len(snap.Events) != 1 || snap.Events[0].Open() || !snap.Events[0].Start.Equal(t0) || snap.Events[0].Source != "lb" {
		t.Fatalf("events %+v", snap.Events)
	}
	for i := 0; i < 5; i++ {
		s.Apply(&sources.Batch{Source: "lb", Events: []sources.Event{{ID: fmt.Sprint("e", i), Start: t0.Add(time.Duration(i) * time.Second)}}})
	}
	snap = s.Snapshot(t0, t0.Add(5*time.Minute), nil)
	if len(snap.Events) != 3 {
		t.Fatalf("%d events kept, max 3", len(snap.Events))
	}
	for _, e := range snap.Events {
		if e.ID == "app-1/down" {
			t.Error("the closed event should have gone first")
		}
	}
}

func TestStoreNodesStatusAndPaths(t *testing.T) {
	s := NewStore(StoreOptions{PathHistory: 2})
	s.Apply(&sources.Batch{Source: "lb", Nodes: []sources.NodeState{{ID: "a"}, {ID: "b"}}, Status: sources.Status{Health: sources.HealthOK}})
	s.Apply(&sources.Batch{Source: "lb", Nodes: []sources.NodeState{{ID: "c"}}})
	s.Apply(&sources.Batch{Source: "lb"}) // nil Nodes keep the old ones
	for i := 0; i < 3; i++ {
		s.Apply(&sources.Batch{Source: "pr", Paths: []sources.PathTrace{{Vantage: "v1", Target: "t", At: t0.Add(time.Duration(i) * time.Second), Rounds: i}}})
	}
	s.SetStatus(sources.Status{Source: "pr", Health: sources.HealthFailing, LastError: "boom"})
	snap := s.Snapshot(t0, t0, nil)
	if len(snap.Nodes) != 1 || snap.Nodes[0].ID != "c" {
		t.Errorf("nodes %+v", snap.Nodes)
	}
	if len(snap.Paths) != 1 || len(snap.Paths[0].Traces) != 2 || snap.Paths[0].Latest().Rounds != 2 || snap.Paths[0].Traces[0].Rounds != 1 {
		t.Errorf("paths %+v", snap.Paths)
	}
	if len(snap.Status) != 2 || snap.Status[1].Health != sources.HealthFailing || snap.Status[0].Source != "lb" {
		t.Errorf("status %+v", snap.Status)
	}
}

func TestStoreMaxSeries(t *testing.T) {
	s := NewStore(StoreOptions{MaxSeries: 2})
	for i := 0; i < 4; i++ {
		s.Apply(&sources.Batch{Source: "x", Series: []sources.Series{{Name: fmt.Sprint("s", i), Points: pts(t0, time.Second, 1)}}})
	}
	if s.SeriesCount() != 2 || s.Snapshot(t0, t0, nil).Dropped != 2 {
		t.Errorf("count %d", s.SeriesCount())
	}
}

func TestStoreConcurrentReadersAndWriters(t *testing.T) {
	s := NewStore(StoreOptions{Step: time.Second, Retention: 10 * time.Minute})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				s.Apply(&sources.Batch{Source: fmt.Sprint("src", w), Series: []sources.Series{{Name: "a", Points: pts(t0.Add(time.Duration(i)*time.Second), time.Second, float64(i))}}})
			}
		}(w)
	}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				snap := s.Snapshot(t0, t0.Add(300*time.Second), nil)
				for _, ser := range snap.Series {
					if len(ser.Values) != snap.N {
						t.Error("ragged snapshot")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// benchStore fills a store with n series × pts points at step.
func benchStore(n, points int, step time.Duration) *Store {
	s := NewStore(StoreOptions{Step: step, Retention: time.Duration(points) * step, MaxSeries: n + 1})
	series := make([]sources.Series, n)
	for i := range series {
		series[i] = sources.Series{Name: "m", Labels: map[string]string{"i": fmt.Sprint(i)}}
	}
	for p := 0; p < points; p++ {
		for i := range series {
			series[i].Points = []sources.Point{{T: t0.Add(time.Duration(p) * step), V: float64(p + i)}}
		}
		s.Apply(&sources.Batch{Source: "b", Series: series})
	}
	return s
}

// BenchmarkStoreAppend: one poll of 10,000 series, one point each.
func BenchmarkStoreAppend(b *testing.B) {
	s := benchStore(10000, 10, 10*time.Second)
	series := make([]sources.Series, 10000)
	for i := range series {
		series[i] = sources.Series{Name: "m", Labels: map[string]string{"i": fmt.Sprint(i)}, Points: make([]sources.Point, 1)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		at := t0.Add(time.Duration(10+n) * 10 * time.Second)
		for i := range series {
			series[i].Points[0] = sources.Point{T: at, V: float64(n)}
		}
		s.Apply(&sources.Batch{Source: "b", Series: series})
	}
}

// BenchmarkStoreSnapshot: copy out one hour of 10,000 series at 10 s.
func BenchmarkStoreSnapshot(b *testing.B) {
	s := benchStore(10000, 360, 10*time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		snap := s.Snapshot(t0, t0.Add(359*10*time.Second), nil)
		if snap.N != 360 {
			b.Fatal(snap.N)
		}
	}
}

// BenchmarkStoreMemory10kSeries1h reports the heap held by 10,000 series
// × 1 h at 10 s steps (goal ≤ 64 MB).
func BenchmarkStoreMemory10kSeries1h(b *testing.B) {
	for n := 0; n < b.N; n++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s := benchStore(10000, 360, 10*time.Second)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "MB")
		runtime.KeepAlive(s)
	}
}

// Series are found by a hash of source, name and labels; a hash shared
// by another series (forced here) must not merge them.
func TestStoreSeriesLookupByHash(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second})
	at := t0
	pt := func(v float64) []sources.Point { return []sources.Point{{T: at, V: v}} }
	s.Apply(&sources.Batch{Source: "src", Series: []sources.Series{
		{Name: "m", Labels: map[string]string{"a": "1", "b": "2"}, Points: pt(1)},
		{Name: "m", Labels: map[string]string{"a": "2", "b": "1"}, Points: pt(2)},
	}})
	// the same labels in another map are the same series
	at = at.Add(10 * time.Second)
	s.Apply(&sources.Batch{Source: "src", Series: []sources.Series{
		{Name: "m", Labels: map[string]string{"b": "2", "a": "1"}, Points: pt(3)},
	}})
	if n := s.SeriesCount(); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
	// a collision: the new series' hash already points at another ring
	other := &sources.Series{Name: "m", Labels: map[string]string{"a": "9"}, Points: pt(4)}
	s.mu.Lock()
	s.byHash[s.seriesHash("src", other)] = s.order[0]
	s.mu.Unlock()
	s.Apply(&sources.Batch{Source: "src", Series: []sources.Series{*other}})
	if n := s.SeriesCount(); n != 3 {
		t.Fatalf("%d series after a hash collision, want 3", n)
	}
	snap := s.Snapshot(t0, at, nil)
	for _, sr := range snap.Series {
		last := sr.Values[len(sr.Values)-1]
		switch sr.Key {
		case `src/m{a="1",b="2"}`:
			if last != 3 {
				t.Errorf("%s: last %v, want 3", sr.Key, last)
			}
		case `src/m{a="9"}`:
			if last != 4 {
				t.Errorf("%s: last %v, want 4", sr.Key, last)
			}
		}
	}
}

// BenchmarkStoreSnapshotInto: the hour of 10,000 series at 10 s into the
// last snapshot's memory, as the session does every step: the store
// gets a new bucket of every series (not timed) and the window moves on
// by one bucket.
func BenchmarkStoreSnapshotInto(b *testing.B) {
	const step = 10 * time.Second
	s := benchStore(10000, 360, step)
	snap := s.SnapshotInto(nil, t0, t0.Add(359*step), nil)
	series := make([]sources.Series, 10000)
	for i := range series {
		series[i] = sources.Series{Name: "m", Labels: map[string]string{"i": fmt.Sprint(i)}, Points: make([]sources.Point, 1)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		at := t0.Add(time.Duration(360+n) * step)
		for i := range series {
			series[i].Points[0] = sources.Point{T: at, V: float64(n)}
		}
		s.Apply(&sources.Batch{Source: "b", Series: series})
		b.StartTimer()
		snap = s.SnapshotInto(snap, at.Add(-359*step), at, nil)
		if snap.N != 360 {
			b.Fatal(snap.N)
		}
	}
}

// A snapshot into an old one's memory holds what a new one holds, for a
// window of another size or a filter that picks fewer series too.
func TestSnapshotIntoReusesAndAgrees(t *testing.T) {
	s := benchStore(50, 30, 10*time.Second)
	old := s.Snapshot(t0, t0.Add(29*10*time.Second), nil)
	for _, c := range []struct {
		from, until time.Time
		f           Filter
	}{
		{t0, t0.Add(29 * 10 * time.Second), nil},
		{t0.Add(100 * time.Second), t0.Add(200 * time.Second), nil},
		{t0, t0.Add(40 * 10 * time.Second), func(m *SeriesMeta) bool { return m.Labels["i"] < "3" }},
		{t0.Add(-300 * time.Second), t0.Add(29 * 10 * time.Second), nil},
	} {
		want := s.Snapshot(c.from, c.until, c.f)
		got := s.SnapshotInto(old, c.from, c.until, c.f)
		if fmt.Sprint(got.Series) != fmt.Sprint(want.Series) || got.N != want.N || !got.Start.Equal(want.Start) {
			t.Fatalf("window %v–%v: snapshot into the old one differs", c.from, c.until)
		}
		old = got
	}
}

// Series beyond MaxSeries are dropped, counted by source and said in the
// source's status when its poll ends (after all its parts); the store
// counts what it holds.
func TestStoreBudgetNamesTheOverflowingSource(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second, MaxSeries: 3})
	pt := []sources.Point{{T: t0, V: 1}}
	s.Apply(&sources.Batch{Source: "small", At: t0, Series: []sources.Series{{Name: "a", Points: pt}, {Name: "b", Points: pt}},
		Status: sources.Status{Health: sources.HealthOK}})
	s.Apply(&sources.Batch{Source: "big", At: t0, Partial: true, Series: []sources.Series{{Name: "c", Points: pt}, {Name: "d", Points: pt}}})
	s.Apply(&sources.Batch{Source: "big", At: t0, Series: []sources.Series{{Name: "e", Points: pt}},
		Status: sources.Status{Health: sources.HealthOK, Detail: "3 series"}})
	st := s.Stats()
	if st.Series != 3 || st.Dropped != 2 || st.DroppedBy["big"] != 2 || st.DroppedBy["small"] != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Bytes < 3*64*4 { // float32 values
		t.Fatalf("%d bytes held for 3 series of 64 slots", st.Bytes)
	}
	snap := s.Snapshot(t0, t0, nil)
	var detail string
	for _, x := range snap.Status {
		if x.Source == "big" {
			detail = x.Detail
		}
	}
	if detail != "3 series; 2 new series dropped: the store holds store.max_series (3)" {
		t.Fatalf("status detail %q", detail)
	}
	if snap.Held.Series != 3 || snap.Held.Dropped != 2 {
		t.Fatalf("snapshot held %+v", snap.Held)
	}
}

// A tracked snapshot (SnapshotInto without a filter, into the last one)
// copies only what changed; whatever the store was given in between
// (new points, a point rewritten in the past, a backfill, new series,
// points older than the window, a gap, a metadata change, a Reset), it
// holds what a whole new snapshot holds.
func TestSnapshotIntoSlidesAndAgrees(t *testing.T) {
	const step = 10 * time.Second
	s := NewStore(StoreOptions{Step: step, Retention: 40 * step})
	rnd := rand.New(rand.NewPCG(1, 2))
	var snap *Snapshot
	at := t0
	slid := 0
	for round := 0; round < 400; round++ {
		b := &sources.Batch{Source: "s", At: at}
		for i := 0; i < 5+round/20; i++ {
			if rnd.IntN(4) == 0 {
				continue // no point this time: a gap
			}
			t := at
			switch rnd.IntN(10) {
			case 0:
				t = at.Add(-time.Duration(rnd.IntN(60)) * step) // late, maybe older than retention
			case 1:
				t = at.Add(-time.Duration(rnd.IntN(8)) * step)
			}
			unit := ""
			if rnd.IntN(20) == 0 {
				unit = []string{"ms", "s"}[rnd.IntN(2)]
			}
			b.Series = append(b.Series, sources.Series{Name: "m", Labels: map[string]string{"i": strconv.Itoa(i)},
				Unit: unit, Points: []sources.Point{{T: t, V: float64(round*100 + i)}}})
		}
		s.Apply(b)
		if round == 250 {
			s.Reset()
		}
		if rnd.IntN(3) > 0 {
			now := s.Now()
			from := now.Add(-time.Duration(5+rnd.IntN(30)) * step)
			if rnd.IntN(2) == 0 {
				from = now.Add(-time.Hour) // clipped to retention
			}
			if snap != nil && snap == s.tracked {
				slid++
			}
			snap = s.SnapshotInto(snap, from, now, nil)
			want := s.Snapshot(from, now, nil)
			if snap.N != want.N || !snap.Start.Equal(want.Start) || len(snap.Series) != len(want.Series) {
				t.Fatalf("round %d: window %d from %v (%d series), want %d from %v (%d)", round, snap.N, snap.Start, len(snap.Series), want.N, want.Start, len(want.Series))
			}
			for i := range want.Series {
				g, w := &snap.Series[i], &want.Series[i]
				if fmt.Sprint(g.SeriesMeta) != fmt.Sprint(w.SeriesMeta) || fmt.Sprint(g.Values) != fmt.Sprint(w.Values) {
					t.Fatalf("round %d, %s:\n got %v %v\nwant %v %v", round, w.Key, g.Unit, g.Values, w.Unit, w.Values)
				}
			}
		}
		at = at.Add(time.Duration(rnd.IntN(3)) * step / 2)
	}
	if slid < 100 {
		t.Fatalf("only %d snapshots slid in place", slid)
	}
}

// A series' Hash is a shortcut, checked: a stale one (another series')
// files the series under its own key all the same, and the store clears
// it once used, so that no recording of the batch carries it.
func TestStoreChecksAndClearsTheSeriesHash(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second})
	a := sources.Series{Name: "m", Labels: map[string]string{"i": "a"}, Points: []sources.Point{{T: t0, V: 1}}}
	a.Hash = sources.SeriesHash(a.Name, a.Labels)
	b := sources.Series{Name: "m", Labels: map[string]string{"i": "b"}, Hash: a.Hash, Points: []sources.Point{{T: t0, V: 2}}}
	batch := &sources.Batch{Source: "s", Series: []sources.Series{a, b}}
	s.Apply(batch)
	for _, x := range batch.Series {
		if x.Hash != 0 {
			t.Errorf("%s: hash %x left in the batch", x.ID(), x.Hash)
		}
	}
	snap := s.Snapshot(t0, t0, nil)
	if len(snap.Series) != 2 || snap.Find(`s/m{i="b"}`) == nil || snap.Find(`s/m{i="b"}`).Values[0] != 2 {
		t.Fatalf("a stale hash misfiled a series: %v", snap.Series)
	}
}

// A source that keeps its label maps is found by place in its batch
// first; a batch in another order, or with a series more or less, or in
// parts, still files every value under its own series.
func TestStoreFindsSeriesByPlaceAndChecks(t *testing.T) {
	s := NewStore(StoreOptions{Step: time.Second, MaxSeries: 4})
	maps := []map[string]string{{"i": "0"}, {"i": "1"}, {"i": "2"}, {"i": "3"}, {"i": "4"}}
	want := map[string]float64{}
	for poll, order := range [][]int{{0, 1, 2}, {0, 1, 2}, {1, 0, 2}, {0, 2}, {3, 0, 1, 2}, {4, 0, 1, 2, 3}, {0, 1, 2, 3}} {
		at := t0.Add(time.Duration(poll) * time.Second)
		var series []sources.Series
		for _, i := range order {
			v := float64(poll*10 + i)
			series = append(series, sources.Series{Name: "m", Labels: maps[i], Points: []sources.Point{{T: at, V: v}}})
			if i != 4 { // the fifth is over MaxSeries
				want[fmt.Sprintf(`s/m{i="%d"}`, i)] = v
			}
		}
		// the last poll comes in two parts
		if poll == 6 {
			s.Apply(&sources.Batch{Source: "s", At: at, Partial: true, Series: series[:2]})
			series = series[2:]
		}
		s.Apply(&sources.Batch{Source: "s", At: at, Series: series})
		snap := s.Snapshot(at, at, nil)
		for _, sr := range snap.Series {
			if got := sr.Values[0]; !math.IsNaN(got) && got != want[sr.Key] {
				t.Fatalf("poll %d: %s holds %v, want %v", poll, sr.Key, got, want[sr.Key])
			}
		}
		if poll == 6 && len(snap.Series) != 4 {
			t.Fatalf("%d series, want 4", len(snap.Series))
		}
	}
}

// A SnapshotMeta holds the picked series' metadata without values; Load
// copies a series' window as Snapshot would have, once, and a snapshot
// taken before a Reset loads nothing of what came after.
func TestSnapshotMetaLoadsValuesWhenAsked(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		var ss []sources.Series
		for k := 0; k < 5; k++ {
			ss = append(ss, sources.Series{Name: "load", Labels: map[string]string{"host": strconv.Itoa(k)}, Points: pts(at, 0, float64(100*k+i))})
		}
		s.Apply(&sources.Batch{Source: "gr", At: at, Series: ss})
	}
	from, until := t0.Add(5*10*time.Second), t0.Add(29*10*time.Second)
	odd := func(m *SeriesMeta) bool { h, _ := strconv.Atoi(m.Labels["host"]); return h%2 == 1 }
	full := s.Snapshot(from, until, odd)
	meta := s.SnapshotMeta(nil, from, until, odd)
	if meta.N != full.N || len(meta.Series) != len(full.Series) || len(full.Series) != 2 {
		t.Fatalf("meta %d × %d, full %d × %d", meta.N, len(meta.Series), full.N, len(full.Series))
	}
	for i := range meta.Series {
		m := &meta.Series[i]
		if m.Key != full.Series[i].Key || m.Values != nil {
			t.Fatalf("series %d: %s with %d values, want %s without", i, m.Key, len(m.Values), full.Series[i].Key)
		}
		got := meta.Load(m)
		if fmt.Sprint(got) != fmt.Sprint(full.Series[i].Values) || &meta.Load(m)[0] != &got[0] {
			t.Errorf("%s: loaded %v, want %v, once", m.Key, got, full.Series[i].Values)
		}
	}
	// into the same memory, after a reset: nothing of before
	first := &meta.Series[0]
	again := s.SnapshotMeta(meta, from, until, odd)
	if &again.Series[0] != first || again.Series[0].Values != nil {
		t.Errorf("a snapshot into an old one took new memory, or kept its values")
	}
	s.Reset()
	for _, v := range again.Load(&again.Series[1]) {
		if !math.IsNaN(v) {
			t.Fatalf("loaded %v from a store reset since the snapshot", again.Series[1].Values)
		}
	}
}

// A new series takes firstSlots buckets of room and doubles as it
// fills: at 10,000 series the first minutes hold 0.6 MB of values, not
// the 2.5 MB 64 slots took; what it holds is all there after growing.
func TestANewSeriesStartsSmallAndGrows(t *testing.T) {
	s := NewStore(StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
	put := func(i int) {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		s.Apply(&sources.Batch{Source: "x", At: at, Series: []sources.Series{{Name: "a", Points: pts(at, 0, float64(i))}}})
	}
	put(0)
	r := s.series["x/a"]
	if len(r.vals) != firstSlots || firstSlots > 16 {
		t.Fatalf("a new series holds %d slots", len(r.vals))
	}
	before := s.Stats().Bytes
	for i := 1; i < 100; i++ {
		put(i)
	}
	if len(r.vals) != 128 || s.Stats().Bytes-before != (128-firstSlots)*4 {
		t.Errorf("after 100 buckets: %d slots, %d bytes more held", len(r.vals), s.Stats().Bytes-before)
	}
	snap := s.Snapshot(t0, t0.Add(99*10*time.Second), nil)
	for i, v := range snap.Series[0].Values {
		if v != float64(i) {
			t.Fatalf("bucket %d: %v after growing", i, v)
		}
	}
}
