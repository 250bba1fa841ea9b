package correlate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources"
)

// rareDips is an availability that fails a request now and then (500
// requests a bucket, so each failure is 0.2 point) with a few deep dips
// in its first 300 buckets: a past outage to 40 % for two buckets, one to
// 60 %, a slow stretch at 97 % for six.
func rareDips(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		fails := 0
		for k := 0; k < 5; k++ { // about 0.3 failures a bucket
			if r.Float64() < 0.06 {
				fails++
			}
		}
		v[i] = 100 - 0.2*float64(fails)
	}
	v[100], v[101], v[200] = 40, 40, 60
	for i := 150; i < 156; i++ {
		v[i] = 97
	}
	return v
}

// The steady spread is the scale of the usual variation: the rare deep
// dips that inflate the mean deviation (and so Spread) are left out of
// it, and on data with no such tail it is Spread.
func TestSteadySpreadLeavesRareDipsOut(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	v := rareDips(r, 360)
	var scratch []float64
	b := robustBaseline(v, UnitFloor("%"), true, &scratch)
	// the failures alone: 0.2·√0.3 ≈ 0.11 point
	if b.Steady > 0.16 || b.Steady < 0.1 {
		t.Errorf("steady spread %.3g, want the failures' ≈ 0.11 (the unit floor 0.1 at least)", b.Steady)
	}
	if b.Spread < 2*b.Steady {
		t.Errorf("spread %.3g, steady %.3g: the dips should widen Spread, not Steady", b.Spread, b.Steady)
	}
	// normal data: the same scale either way
	for i := range v {
		v[i] = 50 + 2*r.NormFloat64()
	}
	b = robustBaseline(v, 0, false, &scratch)
	if b.Steady > b.Spread || b.Steady < 0.9*b.Spread || math.Abs(b.Steady-2) > 0.3 {
		t.Errorf("normal data (σ 2): spread %.3g, steady %.3g, want both ≈ 2", b.Spread, b.Steady)
	}
	// too few points to leave one out: Steady is Spread
	b = robustBaseline([]float64{100, 100, 100, 99.8, 100, 100, 40, 100, 100, 100, 99.6, 100}, 0.1, true, &scratch)
	if b.Steady != b.Spread {
		t.Errorf("12 points: steady %.3g, spread %.3g, want equal", b.Steady, b.Spread)
	}
}

// A symptom whose baseline holds a past outage is active when it drops
// well below how it usually is, though not four full spreads: the
// outage's share of the mean deviation no longer hides it. Its usual
// variation stays quiet. Both the ranking's gate and the live findings.
func TestSymptomGateReadsTheSteadySpread(t *testing.T) {
	const n = 450
	build := func(drop bool) *Snapshot {
		r := rand.New(rand.NewPCG(73, 74))
		avail := rareDips(r, n)
		iowait := noise(r, n, 5, 0.5)
		if drop {
			for i := n - 12; i < n; i++ {
				avail[i] = 99 // 5 failed requests of 500, two minutes
			}
			stepUp(iowait, n-14, 30)
		}
		return mkSnap(tstep, n,
			series{name: "availability", unit: "%", node: "lb", role: sources.RoleSymptom, layer: sources.LayerLB, vals: avail},
			series{name: "iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: iowait})
	}
	for _, drop := range []bool{true, false} {
		snap := build(drop)
		rn := NewRanker(RankOptions{})
		w := LiveWindow(snap, rn.Opt)
		rk := rn.Rank(snap, 0, w)
		b := rk.Symptom.Base
		if drop {
			// the move is under SymptomZ against the full spread, so
			// the gate opens only on the steady one
			full := presentExcursion(snap.Series[0].Values, w, &b, Down, ScoreOptions{}, nil)
			if full.Sustained >= 4 || full.Peak >= 8 {
				t.Fatalf("the drop holds z %.1f (peak %.1f) against the full spread %.3g: the test needs one under 4", full.Sustained, full.Peak, b.Spread)
			}
		}
		if rk.Active != drop {
			t.Errorf("drop %v: ranking active %v (spread %.3g, steady %.3g)", drop, rk.Active, b.Spread, b.Steady)
		}
		if drop && (len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "db-1") {
			t.Errorf("suspects %v, want db-1 iowait first", rk.Suspects)
		}
		fs, _ := NewEngine(EngineOptions{}).Evaluate(snap)
		var got *Finding
		for i := range fs {
			if strings.HasSuffix(fs[i].ID, "/"+snap.Series[0].Key) {
				got = &fs[i]
			}
		}
		switch {
		case drop && got == nil:
			t.Errorf("no finding for the availability drop: %v", fs)
		case drop && got.ID != "symptom/"+snap.Series[0].Key:
			t.Errorf("finding %s %q, want the suspects finding", got.ID, got.Title)
		case !drop && got != nil:
			t.Errorf("usual variation opened %s %q", got.ID, got.Title)
		}
	}
}
