package correlate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// blipThenMelt is the melting volume with a blip long before it: app's
// response time rose from 14 to 22 ms for a minute and one more session
// stayed open for that minute, ten minutes before the 5xx; db-1's iowait
// went from 2 to 90 % 30 s before the 5xx rose, and the app's response
// time and sessions followed. n = 480 buckets of 10 s, the 5xx rise at
// 470, so the window (15 min) holds both the blip and the fault.
func blipThenMelt(r *rand.Rand) *Snapshot {
	const n, at = 480, 470
	fivexx := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	stepUp(fivexx, at, 8)
	iow := clamp(noise(r, n, 2, 0.3), 0, 100)
	for i := at - 3; i < n; i++ {
		iow[i] = 89 + 2*r.Float64()
	}
	rtime := noise(r, n, 14, 0.4)
	for i := at - 60; i < at-54; i++ {
		rtime[i] = 22 + 0.3*r.Float64()
	}
	for i := at + 1; i < n; i++ {
		rtime[i] = 60 + 5*r.Float64()
	}
	scur := make([]float64, n)
	for i := range scur {
		scur[i] = 2
	}
	for i := at - 60; i < at-54; i++ {
		scur[i] = 3
	}
	for i := at + 1; i < n; i++ {
		scur[i] = 9
	}
	return mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fivexx},
		series{name: "rtime", unit: "ms", node: "app", role: sources.RoleResource, layer: sources.LayerLB, vals: rtime},
		series{name: "scur", unit: "sessions", node: "app", role: sources.RoleResource, layer: sources.LayerLB, vals: scur},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: iow},
		series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: noise(r, n, 30, 3)},
	)
}

// The onset of a move is where the excursion still going at the
// symptom's onset began, not the first blip in the window: the blip ten
// minutes before is over long before the 5xx, and leads nothing.
func TestOnsetIsTheExcursionStillGoing(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		snap := blipThenMelt(rand.New(rand.NewPCG(seed, 77)))
		rk := rankLive(snap)
		if !rk.Active || len(rk.Suspects) == 0 {
			t.Fatalf("seed %d: active %v, suspects %d", seed, rk.Active, len(rk.Suspects))
		}
		top := rk.Suspects[0]
		if top.Meta.Node != "db-1" || top.Meta.Name != "cpu.iowait" {
			t.Errorf("seed %d: top suspect %s (lead %d steps), want db-1 cpu.iowait", seed, top.Key, top.Lead)
		}
		for _, c := range rk.Order {
			lead := time.Duration(c.Lead) * snap.Step
			switch c.Meta.Name {
			case "cpu.iowait":
				// 30 s, or a step more where the noise just before stood a little high
				if lead != 30*time.Second && lead != 40*time.Second {
					t.Errorf("seed %d: iowait lead %v, want 30 s", seed, lead)
				}
			case "rtime", "scur":
				if c.Moved && lead > time.Minute {
					t.Errorf("seed %d: %s leads by %v: the blip long over was taken as its onset", seed, c.Meta.Name, lead)
				}
			}
		}
		f := findFinding(Detect(snap), "suspects")
		if f == nil || !strings.Contains(f.Title, "db-1 cpu.iowait") {
			t.Errorf("seed %d: the suspects finding does not blame db-1 cpu.iowait: %v", seed, titleOf(f))
		}
	}
}

func titleOf(f *Finding) string {
	if f == nil {
		return "(none)"
	}
	return f.Title + " — " + f.Explanation
}

// Counts of things (sessions, connections, queued requests) move one at
// a time: one more session is z 1 at most, however flat the series was.
func TestOneMoreSessionIsNotAMove(t *testing.T) {
	n := 200
	for _, unit := range []string{"sessions", "conns", "connections", "requests", "servers"} {
		v := make([]float64, n)
		for i := range v {
			v[i] = 2
		}
		snap := mkSnap(tstep, n, series{name: "scur", unit: unit, node: "app", role: sources.RoleTraffic, layer: sources.LayerLB, vals: v})
		b := ComputeBaseline(snap, &snap.Series[0], 0, n)
		if z := b.Z(3); z > 1 {
			t.Errorf("%s: 2 → 3 scores z %.1f, want ≤ 1", unit, z)
		}
	}
	// and a share of something keeps its own floor
	if f := UnitFloor("%"); f != 0.1 {
		t.Errorf("percent floor %v", f)
	}
}

// The 5xx rose with nothing inside moving but one more connection to
// the database two minutes before: that is no internal signal, and the
// finding is the monitoring gap.
func TestOneMoreConnectionDoesNotExplainErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, at = 480, 440
	fivexx := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	stepUp(fivexx, at, 6)
	conns := make([]float64, n)
	for i := range conns {
		conns[i] = 20
	}
	for i := at - 12; i < n; i++ {
		conns[i] = 21
	}
	snap := mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fivexx},
		series{name: "connections", unit: "connections", node: "db-1", role: sources.RoleResource, layer: sources.LayerDB, vals: conns},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: clamp(noise(r, n, 3, 0.5), 0, 100)},
	)
	fs := Detect(snap)
	if g := findFinding(fs, "gap"); g == nil {
		t.Fatalf("no gap finding; suspects: %v", titleOf(findFinding(fs, "suspects")))
	}
}

// longLeadSnap: the 5xx rise at 470 in one step; app-1's CPU went from 30
// to 60 % seven minutes before and held there, moving no more as the 5xx
// came; db-1's iowait rose from 3 to 9 % 30 s before the 5xx.
func longLeadSnap(r *rand.Rand) *Snapshot {
	const n, at = 480, 470
	fivexx := clamp(noise(r, n, 0.2, 0.05), 0, 100)
	stepUp(fivexx, at, 8)
	cpu := stepUp(noise(r, n, 30, 1), at-42, 30)
	iow := stepUp(noise(r, n, 3, 0.5), at-3, 6)
	return mkSnap(tstep, n,
		series{name: "hrsp_5xx", unit: "%", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: fivexx},
		series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: cpu},
		series{name: "cpu.iowait", unit: "%", node: "db-1", role: sources.RoleResource, layer: sources.LayerHost, vals: iow},
	)
}

// A lead far longer than the symptom took to rise counts in full only
// with stronger evidence (the candidate moving with the symptom too): a
// CPU that stepped up seven minutes before and held still through the
// 5xx does not outrank the iowait that rose just before them.
func TestLongLeadNeedsStrongerEvidence(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		snap := longLeadSnap(rand.New(rand.NewPCG(seed, 99)))
		rk := rankLive(snap)
		if len(rk.Suspects) == 0 {
			t.Fatalf("seed %d: no suspects", seed)
		}
		var lead int
		for _, c := range rk.Order {
			if c.Meta.Name == "cpu.user" {
				lead = c.Lead
			}
		}
		if lead < 30 {
			t.Fatalf("seed %d: the CPU's lead is %d steps; the test needs a long one", seed, lead)
		}
		if top := rk.Suspects[0]; top.Meta.Name != "cpu.iowait" {
			t.Errorf("seed %d: top suspect %s (lead %d, r %.2f), want db-1 cpu.iowait", seed, top.Key, top.Lead, top.R)
		}
	}
}

// The evidence says how far a move went and where it is now: iowait that
// climbed through 11 % to 90 % and eased to 70 % rose "to 90 % (now
// 70 %)", not to the first value that reached the z cap.
func TestEvidenceSaysThePeakAndTheValueNow(t *testing.T) {
	snap := blipThenMelt(rand.New(rand.NewPCG(1, 77)))
	iow := snap.Series[3].Values
	const at = 470
	ramp := []float64{11, 40, 75}
	for i := at - 3; i < len(iow); i++ {
		switch k := i - (at - 3); {
		case k < len(ramp):
			iow[i] = ramp[k]
		case i >= len(iow)-2:
			iow[i] = 70
		default:
			iow[i] = 90
		}
	}
	f := findFinding(Detect(snap), "suspects")
	if f == nil {
		t.Fatal("no suspects finding")
	}
	var text string
	for _, e := range f.Evidence {
		if e.Kind == EvSuspect && e.Node == "db-1" {
			text = e.Text
		}
	}
	if !strings.Contains(text, "rose from 2 % to 90 % (now 70 %)") {
		t.Errorf("iowait evidence %q, want it to say 2 %% to 90 %% (now 70 %%)", text)
	}
	if !strings.Contains(f.Explanation, "to 90 % (now 70 %)") {
		t.Errorf("explanation %q lacks the peak and the value now", f.Explanation)
	}
}

// The symptom's own onset is where its present excursion began: a short
// burst of 5xx ten minutes before the melt does not make the iowait that
// rose 30 s before the real rise an effect of it.
func TestSymptomOnsetIsItsPresentExcursion(t *testing.T) {
	for seed := uint64(0); seed < 3; seed++ {
		snap := blipThenMelt(rand.New(rand.NewPCG(seed, 78)))
		five := snap.Series[0].Values
		for i := 470 - 60; i < 470-55; i++ {
			five[i] = 4
		}
		rk := rankLive(snap)
		if got := rk.Symptom.Onset; got != 470 {
			t.Errorf("seed %d: symptom onset %d, want 470 (the rise still going)", seed, got)
		}
		if len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Name != "cpu.iowait" || rk.Suspects[0].Lead < 3 || rk.Suspects[0].Lead > 4 {
			var got []string
			for _, c := range rk.Order {
				got = append(got, c.Key)
			}
			t.Errorf("seed %d: suspects %v, want db-1 cpu.iowait leading by 30 s", seed, got)
		}
	}
}

// A symptom is active on its present excursion: a burst held far above
// the bar earlier in the window that is over does not make a later,
// small excursion (held under SymptomZ) an incident now.
func TestSymptomActiveOnItsPresentExcursion(t *testing.T) {
	const n = 240
	for seed := uint64(0); seed < 5; seed++ {
		r := rand.New(rand.NewPCG(seed, 19))
		// 100 ± 0.5 ms: a spread of 1 ms (1 % of the level)
		rt := make([]float64, n)
		for i := range rt {
			rt[i] = 99.5 + float64(i%2)
		}
		for i := 150; i < 165; i++ {
			rt[i] = 130 // z about 25, held, then over
		}
		for i := 225; i < 229; i++ {
			rt[i] = 103.5 // z 3.5: over the move threshold, under SymptomZ
		}
		snap := mkSnap(tstep, n,
			series{name: "rtime", unit: "ms", node: "app", role: sources.RoleSymptom, layer: sources.LayerLB, vals: rt},
			series{name: "cpu.user", unit: "%", node: "app-1", role: sources.RoleResource, layer: sources.LayerApp, vals: noise(r, n, 30, 3)},
		)
		w := Window{BaseFrom: 0, BaseTo: 120, From: 120, To: n}
		rk := NewRanker(RankOptions{}).Rank(snap, 0, w)
		if rk.Symptom.Sustained < 10 {
			t.Fatalf("seed %d: the earlier burst scores %.1f", seed, rk.Symptom.Sustained)
		}
		if rk.Active {
			t.Errorf("seed %d: active on a burst that is over (onset %d, sustained %.1f)", seed, rk.Symptom.Onset, rk.Symptom.Sustained)
		}
		// the same burst still going is active
		for i := 165; i < n; i++ {
			rt[i] = 130
		}
		if rk := NewRanker(RankOptions{}).Rank(snap, 0, w); !rk.Active {
			t.Errorf("seed %d: a burst still going is not active", seed)
		}
	}
}

// A move already out at its first point in the window, while the
// symptom's own start is seen, has a lead nobody saw: it does not
// outrank a move that began with the symptom. The window starts two
// steps before the symptom (as PetShop's issues do); "drift" was out
// from the window's start and stays at one level throughout.
func TestMoveAlreadyOutAtTheWindowStartDoesNotLead(t *testing.T) {
	const nb, n = 100, 105
	for seed := uint64(0); seed < 5; seed++ {
		r := rand.New(rand.NewPCG(seed, 23))
		lat := noise(r, n, 100, 1)
		cause := noise(r, n, 50, 1)
		drift := noise(r, n, 20, 1)
		for i := nb + 2; i < n; i++ {
			lat[i] = 115 + r.Float64()
			cause[i] = 60 + r.Float64()
		}
		for i := nb; i < n; i++ {
			drift[i] = 35 + r.Float64()
		}
		if !searchFirst(t, n, nb, lat, cause, drift) {
			t.Errorf("seed %d: want search first", seed)
		}
	}
}

// A symptom with a point twice SymptomZ away and its neighbour still
// over the move threshold is held, only unevenly: active. A lone spike
// that high, its neighbours back at the level, is not.
func TestSymptomActiveOnAHeldPeak(t *testing.T) {
	const nb, n = 100, 105
	o := RankOptions{LeadLimit: 24 * time.Hour, MaxLag: 1, MinPoints: 10, Score: ScoreOptions{Sustain: 2}}
	for _, tc := range []struct {
		name   string
		z      [5]float64
		active bool
	}{
		{"held peak", [5]float64{0, 9, 3.5, 0, 0}, true},
		{"lone spike", [5]float64{0, 9, 0.5, 0, 0}, false},
		{"held under the bar", [5]float64{0, 3.5, 3.5, 0, 0}, false},
	} {
		lat := make([]float64, n)
		for i := range lat {
			lat[i] = 99.5 + float64(i%2) // a spread of 1 (1 % of the level)
		}
		for k, z := range tc.z {
			lat[nb+k] = 100 + z
		}
		snap := mkSnap(5*time.Minute, n,
			series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerApp, vals: lat},
		)
		rk := NewRanker(o).Rank(snap, 0, Window{BaseFrom: 0, BaseTo: nb, From: nb, To: n})
		if rk.Active != tc.active {
			t.Errorf("%s: active %v (sustained %.1f, peak %.1f), want %v", tc.name, rk.Active, rk.Symptom.Sustained, rk.Symptom.Peak, tc.active)
		}
	}
}

// The symptom's onset walks back over points under the move threshold
// (z 1.5 here); a move that began at the symptom's first point over the
// threshold began with it, and is a suspect, not an effect.
func TestMoveAtTheSymptomsCrossingIsNoEffect(t *testing.T) {
	const nb, n = 100, 105
	o := RankOptions{LeadLimit: 24 * time.Hour, MaxLag: 1, MinPoints: 10, Score: ScoreOptions{Sustain: 2}}
	flat := func(level float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = level - 0.005*level + 0.01*level*float64(i%2) // a spread of 1 % of the level
		}
		return v
	}
	lat, cause := flat(100), flat(50)
	for k, z := range []float64{1.5, 1.5, 10, 10, 10} {
		lat[nb+k] = 100 + z
	}
	for k, z := range []float64{0, 0, 8, 8, 8} {
		cause[nb+k] = 50 + 0.5*z
	}
	snap := mkSnap(5*time.Minute, n,
		series{name: "latency", unit: "ms", node: "site", role: sources.RoleSymptom, layer: sources.LayerApp, vals: lat},
		series{name: "latency", unit: "ms", node: "search", role: sources.RoleResource, layer: sources.LayerApp, vals: cause},
	)
	rk := NewRanker(o).Rank(snap, 0, Window{BaseFrom: 0, BaseTo: nb, From: nb, To: n})
	if !rk.Active || len(rk.Suspects) == 0 || rk.Suspects[0].Meta.Node != "search" {
		for _, c := range rk.Order {
			t.Logf("%s lead %d group %s", c.Key, c.Lead, c.Group)
		}
		t.Errorf("active %v, symptom onset %d, suspects %d: want search", rk.Active, rk.Symptom.Onset-nb, len(rk.Suspects))
	}
}

// The same with a lead of 0: "drift" has no point at the window's start
// and is out from its first one, the step the symptom rises at; its
// start was not seen, so it does not outrank the move whose start was.
func TestMoveOutFromItsFirstPointIsNoCauseAtLeadZero(t *testing.T) {
	const nb, n = 100, 105
	// levels ± 0.5 %: spreads of 1 % of the level
	flat := func(level float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = level * (0.995 + 0.01*float64(i%2))
		}
		return v
	}
	for _, step := range []float64{12, 13, 14} {
		lat, cause, drift := flat(100), flat(50), flat(20)
		for i := nb + 1; i < n; i++ {
			lat[i] = 115
			cause[i] = 55
			drift[i] = 20 + 0.2*step
		}
		drift[nb] = math.NaN()
		if !searchFirst(t, n, nb, lat, cause, drift) {
			t.Errorf("drift z %.0f: want search first", step)
		}
	}
}

// searchFirst ranks site's latency (the symptom) against search's (the
// cause) and steps' (a drift), 5-minute points, the window from nb on,
// and says whether search comes first; the order is logged when not.
func searchFirst(t *testing.T, n, nb int, lat, cause, drift []float64) bool {
	t.Helper()
	snap := mkSnap(5*time.Minute, n,
		series{name: "latency", unit: "s", node: "site", role: sources.RoleSymptom, layer: sources.LayerApp, vals: lat},
		series{name: "latency", unit: "s", node: "search", role: sources.RoleResource, layer: sources.LayerApp, vals: cause},
		series{name: "latency", unit: "s", node: "steps", role: sources.RoleResource, layer: sources.LayerApp, vals: drift},
	)
	o := RankOptions{LeadLimit: 24 * time.Hour, MaxLag: 1, MinPoints: 10, Score: ScoreOptions{Sustain: 2}}
	rk := NewRanker(o).Rank(snap, 0, Window{BaseFrom: 0, BaseTo: nb, From: nb, To: n})
	if len(rk.Order) > 0 && rk.Order[0].Meta.Node == "search" {
		return true
	}
	for _, c := range rk.Order {
		t.Logf("%s lead %d score %.2f", c.Key, c.Lead, c.Score)
	}
	return false
}
