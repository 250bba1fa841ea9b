package correlate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// The scenario corpus: generated incidents, each an external symptom, one
// true cause that moves a realistic 20–120 s before it, and 200 decoys
// across every layer — seasonal, noisy, spiky, stale, with gaps, some
// anomalous at other times and some moving after the symptom (effects).

type metricKind struct {
	name, unit string
	role       sources.Role
	level, sd  float64
}

var corpusMetrics = map[sources.Layer][]metricKind{
	sources.LayerEdge: {{"req_rate", "req/s", sources.RoleTraffic, 800, 40}, {"tls_handshake_ms", "ms", sources.RoleResource, 12, 2}},
	sources.LayerLB: {{"qcur", "count", sources.RoleResource, 2, 1}, {"session_rate", "req/s", sources.RoleTraffic, 400, 25},
		{"retries", "count", sources.RoleResource, 1, 0.8}, {"check_duration_ms", "ms", sources.RoleResource, 3, 0.6}},
	sources.LayerApp: {{"latency_p99", "ms", sources.RoleResource, 180, 20}, {"threads_busy", "count", sources.RoleResource, 40, 5},
		{"gc_pause_ms", "ms", sources.RoleResource, 8, 2}, {"requests", "req/s", sources.RoleTraffic, 150, 12}, {"heap_free", "B", sources.RoleResource, 4e8, 3e7}},
	sources.LayerDB: {{"query_latency", "ms", sources.RoleResource, 4, 0.5}, {"connections", "count", sources.RoleResource, 60, 6},
		{"replication_lag", "s", sources.RoleResource, 0.5, 0.2}, {"queries", "req/s", sources.RoleTraffic, 2500, 120}, {"lock_waits", "count", sources.RoleResource, 3, 1}},
	sources.LayerHost: {{"cpu.iowait", "%", sources.RoleResource, 3, 0.6}, {"cpu.user", "%", sources.RoleResource, 35, 4},
		{"load1", "", sources.RoleResource, 2, 0.3}, {"mem.free", "B", sources.RoleResource, 2e9, 1e8}, {"disk.queue", "count", sources.RoleResource, 0.8, 0.3}},
	sources.LayerNetwork:  {{"loss", "%", sources.RoleResource, 0.2, 0.1}, {"rtt", "ms", sources.RoleResource, 25, 2}, {"retransmits", "count", sources.RoleResource, 5, 1.5}},
	sources.LayerProvider: {{"ebs.queue_length", "count", sources.RoleResource, 1, 0.3}, {"cpu_credit_usage", "", sources.RoleResource, 5, 1}},
}

var corpusNodes = map[sources.Layer][]string{
	sources.LayerEdge:     {"fe-1", "fe-2"},
	sources.LayerLB:       {"lb-1", "lb-2"},
	sources.LayerApp:      {"app-1", "app-2", "app-3", "app-4", "app-5", "app-6"},
	sources.LayerDB:       {"db-1", "db-2", "db-3"},
	sources.LayerHost:     {"host-1", "host-2", "host-3", "host-4", "host-5", "host-6", "host-7", "host-8"},
	sources.LayerNetwork:  {"sw-1", "sw-2", "transit"},
	sources.LayerProvider: {"ec2", "ebs"},
}

type incident struct {
	snap     *Snapshot
	symptom  int
	cause    string // key of the true cause
	lead     int
	describe string
}

// genIncident builds one incident. n = 720 buckets of 10 s (2 h); the
// symptom starts in the last 10 minutes.
func genIncident(seed uint64, decoys int) incident {
	r := rand.New(rand.NewPCG(seed, seed*7919+1))
	const n = 720
	step := 10 * time.Second
	ts := 660 + r.IntN(40)
	lead := 2 + r.IntN(11)
	layers := sources.Layers
	var ss []series
	used := map[string]bool{}
	pick := func() (sources.Layer, string, metricKind, string) {
		for {
			l := layers[r.IntN(len(layers))]
			node := corpusNodes[l][r.IntN(len(corpusNodes[l]))]
			m := corpusMetrics[l][r.IntN(len(corpusMetrics[l]))]
			key := fmt.Sprintf("src/%s/%s", node, m.name)
			if !used[key] {
				used[key] = true
				return l, node, m, key
			}
			// name variants so 200 decoys fit the catalogue
			key = fmt.Sprintf("src/%s/%s#%d", node, m.name, r.IntN(1000))
			if !used[key] {
				used[key] = true
				return l, node, m, key
			}
		}
	}
	base := func(m metricKind) []float64 {
		v := noise(r, n, m.level, m.sd)
		if r.IntN(3) == 0 { // daily-ish wave, visible over 2 h
			per := float64(60 + r.IntN(400))
			amp := m.sd * (1 + 2*r.Float64())
			ph := r.Float64() * 2 * math.Pi
			for i := range v {
				v[i] += amp * math.Sin(2*math.Pi*float64(i)/per+ph)
			}
		}
		return v
	}
	harmSign := func(m metricKind) float64 {
		meta := SeriesMeta{Name: m.name, Role: m.role, Harm: sources.GuessHarm(m.name), Measure: sources.GuessMeasure(m.name)}
		switch HarmfulDirection(&meta) {
		case Down:
			return -1
		case Both:
			if r.IntN(2) == 0 {
				return -1
			}
		}
		return 1
	}
	// the symptom: 5xx share on the edge balancer
	sym := clamp(noise(r, n, 0.3, 0.05), 0, 100)
	// the cause
	cl, cnode, cm, ckey := pick()
	cv := base(cm)
	size := (4 + 8*r.Float64()) * cm.sd * harmSign(cm)
	ramp := 1 + r.IntN(6)
	onset := ts - lead
	for i := onset; i < n; i++ {
		f := math.Min(1, float64(i-onset+1)/float64(ramp))
		cv[i] += size * f
	}
	// the symptom follows the cause's excess, lagged
	amp := 2 + 6*r.Float64()
	for i := ts; i < n; i++ {
		sym[i] += amp * (0.7 + 0.3*math.Min(1, float64(i-ts+1)/3)) * (1 + 0.1*r.NormFloat64())
	}
	ss = append(ss, series{key: "src/lb-1/hrsp_5xx_share", name: "hrsp_5xx_share", unit: "%", node: "lb-1",
		role: sources.RoleSymptom, layer: sources.LayerLB, vals: sym})
	ss = append(ss, series{key: ckey, name: cm.name, unit: cm.unit, node: cnode, role: cm.role, layer: cl, vals: cv})
	for d := 0; d < decoys; d++ {
		l, node, m, key := pick()
		v := base(m)
		sg := harmSign(m)
		switch k := r.IntN(20); {
		case k < 3: // anomalous long before: a bump in the baseline that recovered
			at := 100 + r.IntN(400)
			for i := at; i < at+20+r.IntN(60); i++ {
				v[i] += sg * (5 + 10*r.Float64()) * m.sd
			}
		case k < 5: // an excursion inside the window that ended before the symptom
			at := ts - 60 - r.IntN(20)
			for i := at; i < at+5+r.IntN(15); i++ {
				v[i] += sg * (5 + 10*r.Float64()) * m.sd
			}
		case k < 8: // an effect: moves after the symptom, often by more than the cause
			at := ts + 2 + r.IntN(20)
			for i := at; i < n; i++ {
				v[i] += sg * (5 + 20*r.Float64()) * m.sd
			}
		case k < 10: // spikes: one or two points, anywhere, also near the symptom
			for j := 0; j < 1+r.IntN(3); j++ {
				at := 600 + r.IntN(n-600)
				v[at] += sg * (6 + 20*r.Float64()) * m.sd
			}
		case k < 12: // heavy-tailed noise
			for i := range v {
				if r.IntN(50) == 0 {
					v[i] += m.sd * 4 * r.NormFloat64()
				}
			}
		case k < 13: // gaps: no data is not zero
			for i := range v {
				if r.IntN(4) == 0 {
					v[i] = math.NaN()
				}
			}
		case k < 14: // stale: the source stopped, and its last values were odd
			stop := ts - r.IntN(60)
			for i := stop - 5; i < n; i++ {
				if i >= stop {
					v[i] = math.NaN()
				} else {
					v[i] += sg * 8 * m.sd
				}
			}
		}
		ss = append(ss, series{key: key, name: m.name, unit: m.unit, node: node, role: m.role, layer: l, vals: v})
	}
	snap := mkSnap(step, n, ss...)
	snap.Deps = []sources.Dependency{
		{From: "lb-1", To: "app-1"}, {From: "lb-1", To: "app-2"}, {From: "lb-1", To: "app-3"},
		{From: "app-1", To: "db-1"}, {From: "app-2", To: "db-1"}, {From: "app-3", To: "db-2"},
		{From: "db-1", To: "host-1"}, {From: "db-2", To: "host-2"}, {From: "app-1", To: "host-3"},
	}
	return incident{snap: snap, symptom: 0, cause: ckey, lead: lead,
		describe: fmt.Sprintf("%s %s %+.1fσ lead %d", cnode, cm.name, size/cm.sd, lead)}
}

// rankOf is the 1-based position of key in the ranking, 0 if absent.
func rankOf(rk *Ranking, key string) int {
	for i, c := range rk.Order {
		if c.Key == key {
			return i + 1
		}
	}
	return 0
}

func TestScenarioCorpusAccuracy(t *testing.T) {
	incidents := 40
	if testing.Short() {
		incidents = 30
	}
	var at1, at3 int
	var leadErr []int
	for i := 0; i < incidents; i++ {
		inc := genIncident(uint64(i+1), 200)
		r := NewRanker(RankOptions{})
		w := LiveWindow(inc.snap, r.Opt)
		rk := r.Rank(inc.snap, inc.symptom, w)
		if !rk.Symptom.Moved && rk.Symptom.Sustained < 4 {
			t.Fatalf("incident %d: symptom not anomalous (z %.1f)", i, rk.Symptom.Sustained)
		}
		pos := rankOf(rk, inc.cause)
		if pos == 1 {
			at1++
		}
		if pos >= 1 && pos <= 3 {
			at3++
		}
		if pos >= 1 {
			leadErr = append(leadErr, rk.Order[pos-1].Lead-inc.lead)
		}
		if pos != 1 {
			top := rk.Order[0]
			t.Logf("incident %2d: cause %s ranked %d; first %s (score %.1f, lead %d, kind %s)", i, inc.describe, pos, top.Key, top.Score, top.Lead, top.Kind)
			for _, c := range append(rk.Order, rk.Excluded...) {
				if c.Key == inc.cause && testing.Verbose() {
					t.Logf("   cause: moved %v sus %.1f peak %.1f onset %d lead %d kind %s excl %q overlap %.2f r %.2f score %.2f base %.3g±%.3g", c.Moved, c.Sustained, c.Peak, c.Onset, c.Lead, c.Kind, c.Excluded, c.Overlap, c.R, c.Score, c.Base.Level, c.Base.Spread)
				}
			}
		}
	}
	ac1 := float64(at1) / float64(incidents)
	ac3 := float64(at3) / float64(incidents)
	exact := 0
	for _, e := range leadErr {
		if abs(e) <= 1 {
			exact++
		}
	}
	t.Logf("scenario corpus: %d incidents × 201 candidates: AC@1 %.3f, AC@3 %.3f (goal 0.8 / 0.95); onset lead within ±1 step in %d/%d",
		incidents, ac1, ac3, exact, len(leadErr))
	// the goal, reached: AC@1 0.85, AC@3 0.95 on 40 incidents; the misses
	// are small causes (4–6σ) on strongly seasonal series
	if ac1 < 0.8 || ac3 < 0.95 {
		t.Errorf("AC@1 %.3f, AC@3 %.3f below the goal 0.8 / 0.95", ac1, ac3)
	}
}
