package munin

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func TestThresholdsAreMuninsRanges(t *testing.T) {
	gs, err := ParseConfig("df", fixture(t, "config_df.txt"))
	if err != nil {
		t.Fatal(err)
	}
	root := gs[0].has("_dev_vda")
	if root == nil || root.Warning.String() != "92" || root.Critical.String() != "98" || !root.Critical.Outside(98.5) || root.Critical.Outside(97) {
		t.Fatalf("%+v", root)
	}
	for in, want := range map[string]struct {
		s           string
		low, inside float64
	}{
		"10":    {"10", math.Inf(-1), 10},
		":10":   {"10", math.Inf(-1), -5},
		"5:":    {"5:", 4, 1e9},
		"5:10":  {"5:10", 4.9, 7},
		" 5 : ": {"5:", 4, 6},
	} {
		r := parseRange(in)
		if r.String() != want.s || r.Outside(want.inside) || !math.IsInf(want.low, -1) && !r.Outside(want.low) || r.Outside(math.NaN()) {
			t.Errorf("%q: %+v (%s)", in, r, r)
		}
	}
	for _, bad := range []string{"", "x", ":", "abc:def", "inf"} {
		if r := parseRange(bad); r.Set() {
			t.Errorf("%q bounds %+v", bad, r)
		}
	}
}

// A field's crossings of its thresholds are alert events: one from the
// fetch that crossed until the one back inside, its state following
// (WARNING to CRITICAL), an unknown value leaving it as it was.
func TestAFieldOutsideItsThresholdIsAnAlertUntilItIsBack(t *testing.T) {
	n := &node{host: "db-1", prev: map[string]sample{}, alerts: map[string]crossing{}, graphs: map[string]*Graph{}}
	gs, err := ParseConfig("df", []string{"graph_vlabel %", "root.label /", "root.warning 92", "root.critical 98"})
	if err != nil {
		t.Fatal(err)
	}
	n.graphs["df"] = &gs[0]
	t0 := time.Unix(1795420000, 0)
	fetch := func(i int, v float64) []sources.Event {
		_, js := n.seriesOf([]Value{{Graph: "df", Field: "root", V: v}}, t0.Add(time.Duration(i)*time.Minute))
		return n.judge(js, t0)
	}
	if evs := fetch(0, 50); len(evs) != 0 {
		t.Fatalf("inside: %+v", evs)
	}
	evs := fetch(1, 93)
	if len(evs) != 1 {
		t.Fatalf("%+v", evs)
	}
	ev := evs[0]
	if ev.Kind != sources.EventAlert || !ev.Open() || ev.Severity != sources.SevWarning || ev.Node != "db-1" || ev.Layer != sources.LayerHost ||
		ev.Alert.System != "munin" || ev.Alert.Origin != sources.OriginInternal || ev.Alert.Check != "df.root" || ev.Alert.State != "WARNING" ||
		ev.Text != "df.root (/) is 93 %, outside its warning range 92 (munin-node's threshold)" {
		t.Fatalf("%+v %+v", ev, ev.Alert)
	}
	if evs := fetch(2, 99); len(evs) != 1 || evs[0].ID != ev.ID || evs[0].Severity != sources.SevCritical || evs[0].Alert.State != "CRITICAL" {
		t.Fatalf("the same crossing, now CRITICAL: %+v", evs)
	}
	if evs := fetch(3, math.NaN()); len(evs) != 1 || !evs[0].Open() || evs[0].Severity != sources.SevCritical {
		t.Fatalf("unknown leaves it: %+v", evs)
	}
	evs = fetch(4, 60)
	if len(evs) != 1 || evs[0].ID != ev.ID || evs[0].Open() || !evs[0].End.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("back inside closes it: %+v", evs)
	}
	if evs := fetch(5, 61); len(evs) != 0 {
		t.Fatalf("closed once: %+v", evs)
	}
}

// A real munin-node whose uptime plugin is told (by its environment, as
// plugin-conf.d's env.uptime_critical would) that any uptime above 9
// seconds is critical, and whose load plugin warns only above 1000.
func TestARealMuninNodesThresholdCrossedIsAnAlert(t *testing.T) {
	p, addr, err := realserver.MuninNodeEnv(t.TempDir(), `^127\.0\.0\.1$`, []string{"uptime_warning=0.00001", "uptime_critical=0.0001", "load_warning=1000"})
	if errors.Is(err, realserver.ErrNotInstalled) && !realserver.InCI() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	s := newSource(t, fmt.Sprintf("nodes: [%s]\nplugins: [uptime, load]\n", addr))
	b, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 1 {
		t.Fatalf("events: %+v", b.Events)
	}
	ev := b.Events[0]
	if ev.Severity != sources.SevCritical || ev.Alert == nil || ev.Alert.Check != "uptime.uptime" || ev.Alert.State != "CRITICAL" ||
		!strings.Contains(ev.Text, "outside its critical range 0.0001") {
		t.Fatalf("%+v %+v", ev, ev.Alert)
	}
	w := b.Status.Watched
	if w == nil || w.System != "Munin" || w.Origin != sources.OriginInternal || w.Services != 2 || w.Checks != "threshold" || !strings.Contains(b.Status.Detail, "2 thresholds, 1 crossed") {
		t.Fatalf("watched %+v, detail %q", w, b.Status.Detail)
	}
	// the next poll says it again, the same event
	b2, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil || len(b2.Events) != 1 || b2.Events[0].ID != ev.ID || !b2.Events[0].Open() {
		t.Fatalf("%v %+v", err, b2)
	}
}
