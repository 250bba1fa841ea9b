package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

func valueAt(t *testing.T, ms []metric, name string, labels map[string]string, at time.Time) float64 {
	t.Helper()
	for _, m := range ms {
		if m.series.Name == name && sources.SeriesID(name, labels) == m.series.ID() {
			return m.value(at)
		}
	}
	t.Fatalf("no demo series %s", sources.SeriesID(name, labels))
	return math.NaN()
}

// The demo must tell the melting-volume story: iowait on db-1 climbs
// first, 5xx follow across the app pool, db-2 stays quiet, and it recovers.
func TestDemoTellsTheMeltingVolumeStory(t *testing.T) {
	ms := metrics()
	base := cycleStart(time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC))
	calm, peak, after := base.Add(5*time.Minute), base.Add(Peak+2*time.Minute), base.Add(Cycle-time.Minute)
	io := func(h string, at time.Time) float64 { return valueAt(t, ms, "servers."+h+".cpu.iowait", nil, at) }
	e5 := func(at time.Time) float64 { return valueAt(t, ms, "hrsp_5xx", map[string]string{"backend": "app"}, at) }
	if io("db-1", calm) > 10 || io("db-1", peak) < 90 || io("db-1", after) > 10 {
		t.Errorf("db-1 iowait calm %.1f peak %.1f after %.1f", io("db-1", calm), io("db-1", peak), io("db-1", after))
	}
	if io("db-2", peak) > 10 {
		t.Errorf("db-2 should stay quiet, got %.1f", io("db-2", peak))
	}
	if e5(calm) > 1 || e5(peak) < 30 || e5(after) > 1 {
		t.Errorf("5xx calm %.1f peak %.1f after %.1f", e5(calm), e5(peak), e5(after))
	}
	// iowait leads the 5xx: find both onsets
	onset := func(f func(time.Time) float64, thr float64) time.Duration {
		for d := time.Duration(0); d < Cycle; d += 5 * time.Second {
			if f(base.Add(d)) > thr {
				return d
			}
		}
		return -1
	}
	ioOn, e5On := onset(func(x time.Time) float64 { return io("db-1", x) }, 20), onset(e5, 5)
	if ioOn < 0 || e5On < 0 || e5On-ioOn < 20*time.Second || e5On-ioOn > 2*time.Minute {
		t.Errorf("iowait onset %v, 5xx onset %v: 5xx should follow by about %v", ioOn, e5On, ErrorsLag)
	}
}

func TestDemoIsDeterministicAndBackfills(t *testing.T) {
	real := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	clk := NewClock(real, 5)
	mk := func() *World {
		return NewWorld(clk, 5*time.Second, func() time.Time { return real.Add(7 * time.Second) })
	}
	a, b := mk().Batch("graphite", true, time.Hour), mk().Batch("graphite", true, time.Hour)
	if len(a.Series) == 0 || len(a.Series[0].Points) < 700 {
		t.Fatalf("backfill too short: %d series", len(a.Series))
	}
	for i := range a.Series {
		for j := range a.Series[i].Points {
			if a.Series[i].Points[j] != b.Series[i].Points[j] {
				t.Fatalf("not deterministic at %s[%d]", a.Series[i].Name, j)
			}
		}
	}
	w := mk()
	w.Batch("lb-1", true, time.Hour)
	inc := w.Batch("lb-1", false, 0)
	for _, s := range inc.Series {
		if len(s.Points) > 1 {
			t.Errorf("incremental poll at the same instant returned %d points for %s", len(s.Points), s.Name)
		}
	}
	if len(inc.Nodes) != 5 {
		t.Errorf("lb nodes %d", len(inc.Nodes))
	}
}

// TestDownServerTakesNoTraffic: while app-3 is DOWN the demo reports it
// as HAProxy does, with no sessions, requests or answers, and its backend
// as warning, not "ok" beside a DOWN server.
func TestDownServerTakesNoTraffic(t *testing.T) {
	w := NewWorld(Clock{Speed: 1}, 5*time.Second, nil)
	base := cycleStart(time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC))
	var at time.Time
	for d := time.Duration(0); d < Cycle; d += 5 * time.Second {
		if app3Down(base.Add(d)) {
			at = base.Add(d + time.Minute)
			break
		}
	}
	if at.IsZero() || !app3Down(at) {
		t.Fatal("app-3 never goes DOWN in the demo")
	}
	var total float64
	for _, n := range w.lbNodes(at) {
		switch {
		case n.Kind == sources.NodeBackend:
			if n.Severity != sources.SevWarning || n.LB.Down != 1 {
				t.Errorf("backend with a server DOWN: severity %v, %d down", n.Severity, n.LB.Down)
			}
		case n.Name == "app-3":
			if n.Class != sources.ClassDown || n.LB.Sessions != 0 || n.LB.Rates.Requests != 0 || n.LB.Rates.Resp5xx != 0 {
				t.Errorf("DOWN server reports traffic: %+v", *n.LB)
			}
		default:
			total += n.LB.Rates.Requests
		}
	}
	if want := w.value("req_rate", map[string]string{"frontend": "www"}, at); math.Abs(total-want) > 1e-6 {
		t.Errorf("the servers UP take %.1f req/s of %.1f", total, want)
	}
}

// noise is FNV-1a of "name/unix-seconds": the same values as hashing the
// formatted string, so the demo's screens do not move.
func TestNoiseIsFNVOfNameAndSecond(t *testing.T) {
	for _, c := range []struct {
		name string
		at   int64
	}{{"lb-1/hrsp_5xx", 1700000000}, {"", 0}, {"db-1/iowait", -5}, {"x", 1 << 40},
		{"5xxapp-1", 1e9}, {"5xxapp-1", 1e9 - 1}, {"q", 9999999999}, {"q", 1e10}, {"iowdb-1", 1796215487}} {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", c.name, c.at)
		want := float64(h.Sum64()%10000)/10000*2 - 1
		if got := noise(c.name, time.Unix(c.at, 0)); got != want {
			t.Errorf("noise(%q, %d) = %v, want %v", c.name, c.at, got, want)
		}
	}
}
