package correlate

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

// waveNoise is a daily-ish wave with noise, seeded so the test is repeatable.
func waveNoise(n int, seed int64) []float64 {
	r := rand.New(rand.NewSource(seed))
	out := make([]float64, n)
	for i := range out {
		out[i] = 50 + 10*math.Sin(float64(i)*2*math.Pi/96) + r.NormFloat64()
	}
	return out
}

func TestNeighbourDetectorFindsAShiftAndHolds(t *testing.T) {
	vals := waveNoise(1400, 1)
	const at = 1100
	for i := at; i < len(vals); i++ {
		vals[i] += 8 // a level shift of 8 standard deviations of the noise
	}
	d := NewNeighbourDetector(NeighbourOptions{Train: 300})
	o := d.Options()
	var alarms []int
	for i, v := range vals {
		s := d.Next(v)
		if s < 0 || s > 1 {
			t.Fatalf("row %d: score %v out of [0, 1]", i, s)
		}
		if i < o.Train-1 && s != 0 {
			t.Fatalf("row %d: score %v while learning", i, s)
		}
		if s >= 1 {
			alarms = append(alarms, i)
		}
	}
	found := false
	for k, a := range alarms {
		if a >= at && a < at+3 {
			found = true
		}
		if k > 0 && a-alarms[k-1] <= o.Hold {
			t.Errorf("alarms at %d and %d, within the hold of %d", alarms[k-1], a, o.Hold)
		}
	}
	if !found {
		t.Errorf("alarms at %v: none within 3 rows of the shift at %d", alarms, at)
	}
	if len(alarms) > 4 {
		t.Errorf("alarms at %v: more than the shift and a few by chance", alarms)
	}
}

// The distances carried along their lag must be the ones summed afresh,
// through a spike and a flat stretch (where rounding would leave a
// flat stretch after the spike reading as strange).
func TestNeighbourDetectorCarriedDistancesAreExact(t *testing.T) {
	vals := waveNoise(2000, 2)
	vals[700] = 1e6
	for i := 900; i < 1300; i++ {
		vals[i] = 42
	}
	vals[1000] = 5e5
	d := NewNeighbourDetector(NeighbourOptions{Train: 200, Dim: 12, K: 5})
	checked := 0
	for i, v := range vals {
		d.Next(v)
		if d.hi < d.lo || i%7 != 0 {
			continue
		}
		for L := d.lo; L <= d.hi; L++ {
			want := d.dist(i, i-L, math.Inf(1))
			if got := d.dg[L]; math.Abs(got-want) > 1e-9*want+1e-12 {
				t.Fatalf("row %d lag %d: carried %v, summed %v", i, L, got, want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

func TestNeighbourDetectorFlatAfterSpikeIsQuiet(t *testing.T) {
	vals := make([]float64, 1200)
	for i := range vals {
		vals[i] = 7
	}
	vals[600] = 1e9
	d := NewNeighbourDetector(NeighbourOptions{Train: 150})
	for i, v := range vals {
		s := d.Next(v)
		switch {
		case i == 600 && s < 1:
			t.Errorf("the spike scored %v", s)
		case i > 600+d.Options().Hold && s != 0:
			t.Errorf("row %d: flat again but scored %v", i, s)
		}
	}
}

func TestNeighbourDetectorSkipsNaN(t *testing.T) {
	a := NewNeighbourDetector(NeighbourOptions{Train: 100})
	b := NewNeighbourDetector(NeighbourOptions{Train: 100})
	vals := waveNoise(400, 3)
	for i, v := range vals {
		if i%10 == 0 {
			if s := a.Next(math.NaN()); s != 0 {
				t.Fatalf("NaN scored %v", s)
			}
			a.Next(math.Inf(1))
		}
		if sa, sb := a.Next(v), b.Next(v); sa != sb {
			t.Fatalf("row %d: %v with gaps, %v without", i, sa, sb)
		}
	}
}

// BenchmarkNeighbourDetector is the cost of one point with a day of
// 5-minute points (288) and with NAB's longest reference set (750).
func BenchmarkNeighbourDetector(b *testing.B) {
	for _, tr := range []int{288, 750} {
		b.Run(map[int]string{288: "train288", 750: "train750"}[tr], func(b *testing.B) {
			vals := waveNoise(20000, 4)
			d := NewNeighbourDetector(NeighbourOptions{Train: tr})
			for _, v := range vals[:3*tr] {
				d.Next(v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Next(vals[i%len(vals)])
			}
		})
	}
}

// The first scores, carried along each lag, must be the strangeness of
// each reference stretch summed afresh from its K nearest (through a
// spike and a flat stretch after it).
func TestNeighbourDetectorFirstScoresAreExact(t *testing.T) {
	vals := waveNoise(260, 5)
	vals[90] = 1e6
	for i := 100; i < 180; i++ {
		vals[i] = 42
	}
	o := NeighbourOptions{Train: 250, Dim: 12, K: 5}
	d := NewNeighbourDetector(o)
	for _, v := range vals[:249] {
		d.Next(v)
	}
	got := d.selfScores()
	if len(got) != d.t1-d.t0+1 || len(got) < 200 {
		t.Fatalf("%d scores for stretches %d…%d", len(got), d.t0, d.t1)
	}
	for e := d.t0; e <= d.t1; e++ {
		var ds []float64
		for j := d.t0; j <= d.t1; j++ {
			if j != e {
				ds = append(ds, d.dist(e, j, math.Inf(1)))
			}
		}
		sort.Float64s(ds)
		var want float64
		for _, v := range ds[:d.o.K] {
			want += v
		}
		if g := got[e-d.t0]; math.Abs(g-want) > 1e-9*want+1e-12 {
			t.Fatalf("stretch %d: carried %v, summed %v", e, g, want)
		}
	}
}

// BenchmarkNeighbourDetectorFirstHour is the detector's start on one
// symptom series with the engine's flag options: an hour of 5-second
// buckets backfilled at once (the reference fills, then the rest is
// scored), what each symptom costs before the first complete frame.
func BenchmarkNeighbourDetectorFirstHour(b *testing.B) {
	vals := waveNoise(720, 6)
	b.ReportAllocs()
	for b.Loop() {
		d := NewNeighbourDetector(DefaultFlagOptions)
		for _, v := range vals {
			d.Next(v)
		}
	}
}

// selfScores takes the pairs stretch by stretch and selects each one's
// nearest; the scores must be selfScoresInsertion's (pairs lag by lag,
// kept in order) bit for bit, so the flags do not move: on noise, on
// values of a few levels (ties), flat, with a spike, past the refresh,
// with the reference at its smallest (K = m-1), with values whose
// squares overflow (left to selfScoresInsertion), and with distances
// that grow or shrink from one stretch to the next (where the earlier
// stretch's nearest bound the next one's selection badly).
func TestNeighbourSelfScoresAreTheInsertionOnes(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	levels := make([]float64, 500)
	for i := range levels {
		levels[i] = float64(r.Intn(3))
	}
	spiky := waveNoise(500, 9)
	spiky[120] = 1e6
	for i := 200; i < 300; i++ {
		spiky[i] = 42
	}
	huge := waveNoise(500, 10)
	huge[100], huge[101] = 1e200, -1e200
	// distances growing stretch by stretch: the earlier one's nearest
	// say little of the next one's
	growing, shrinking := make([]float64, 500), make([]float64, 500)
	for i := range growing {
		growing[i] = math.Pow(1.2, float64(i)/2)
		shrinking[i] = 1e30 * math.Pow(0.8, float64(i)/2)
	}
	for _, c := range []struct {
		name string
		vals []float64
		o    NeighbourOptions
	}{
		{"noise", waveNoise(500, 7), DefaultFlagOptions},
		{"levels", levels, DefaultFlagOptions},
		{"flat", make([]float64, 500), DefaultFlagOptions},
		{"spiky", spiky, NeighbourOptions{Train: 300, Dim: 12, K: 5}},
		{"smallest", waveNoise(500, 11), NeighbourOptions{Train: 10, Dim: 4, K: 4}},
		{"overflow", huge, NeighbourOptions{Train: 300}},
		{"growing", growing, NeighbourOptions{Train: 300}},
		{"shrinking", shrinking, NeighbourOptions{Train: 300}},
	} {
		d := NewNeighbourDetector(c.o)
		for _, v := range c.vals[:d.o.Train-1] {
			d.Next(v)
		}
		got, want := d.selfScores(), d.selfScoresInsertion()
		if len(got) != len(want) || len(got) != d.t1-d.t0+1 {
			t.Fatalf("%s: %d scores, want %d", c.name, len(got), len(want))
		}
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Errorf("%s: stretch %d scores %v, by insertion %v", c.name, i, got[i], want[i])
				break
			}
		}
	}
}
