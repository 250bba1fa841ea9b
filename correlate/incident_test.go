package correlate

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// meltingIncident is field story 2 across the stack: db-1's iowait rises
// 40 s before the 5xx of backend app and of its servers app-1..3; the
// shop's check (edge, node www) fails with them and app-3 goes DOWN.
// Elsewhere web-9 flaps, for reasons of its own.
func meltingIncident() *Snapshot {
	snap := meltingVolume(rand.New(rand.NewPCG(1, 2)), true)
	snap.Series[0].Labels = map[string]string{"backend": "app"}
	r := rand.New(rand.NewPCG(3, 4))
	for _, sv := range []string{"app-1", "app-2", "app-3"} {
		snap.Series = append(snap.Series, SnapSeries{
			SeriesMeta: SeriesMeta{Key: "src/" + sv + "/hrsp_5xx", Source: "src", Name: "hrsp_5xx", Unit: "%", Role: sources.RoleSymptom,
				Layer: sources.LayerLB, Node: sv, Labels: map[string]string{"backend": "app", "server": sv}},
			Values: stepUp(clamp(noise(r, snap.N, 0.2, 0.05), 0, 100), 440, 6),
		})
	}
	ok := clamp(noise(r, snap.N, 100, 0.1), 0, 100)
	for i := 441; i < snap.N; i++ {
		ok[i] = 0
	}
	snap.Series = append(snap.Series, SnapSeries{
		SeriesMeta: SeriesMeta{Key: "checks/probe_success", Source: "checks", Name: "probe_success", Unit: "%", Role: sources.RoleSymptom, Kind: sources.SeriesRatio, Harm: sources.HarmDown,
			Layer: sources.LayerEdge, Node: "www", Labels: map[string]string{"check": "https://shop.example.com/"}},
		Values: ok,
	})
	snap.Nodes = []sources.NodeState{{Kind: "server", ID: "lb-1/app/app-3", Name: "app-3", Parent: "lb-1/app",
		Layer: sources.LayerLB, State: "DOWN", Severity: sources.SevWarning}}
	snap.Events = []sources.Event{
		{ID: "shop", Source: "checks", Start: snap.Time(442), Severity: sources.SevCritical, Layer: sources.LayerEdge, Node: "www",
			Title: "check https://shop.example.com/ failing"},
		{ID: "flap", Source: "lb-2", Start: snap.Time(470), Severity: sources.SevWarning, Layer: sources.LayerLB, Node: "web-9",
			Title: "web-9 is flapping (6 changes)", Kind: sources.EventFlapping},
	}
	return snap
}

// activeAfter runs an engine over full as its buckets arrive, from
// bucket `from` on, each snapshot with the events started by then, and
// returns the findings active at the end.
func activeAfter(full *Snapshot, from int) []Finding {
	e := NewEngine(EngineOptions{})
	var active []Finding
	for n := from; n <= full.N; n += 2 {
		s := cutSnap(full, n)
		s.Events = nil
		for _, ev := range full.Events {
			if !ev.Start.After(s.Now) {
				s.Events = append(s.Events, ev)
			}
		}
		active, _ = e.Evaluate(s)
	}
	return active
}

// Findings as the rules write them, for the cases the engine's scenario
// does not reach.
func suspectsAbout(sym, symLabel string, layer sources.Layer, node string, sev sources.Severity, suspect, susLabel, susNode string) Finding {
	return Finding{ID: "symptom/" + sym, Rule: "suspects", Severity: sev, Layer: layer, Node: node,
		Title: symLabel + " rose: likely " + susLabel, Opened: t0,
		Evidence: []Evidence{
			{Kind: EvSymptom, SeriesKey: sym, Label: symLabel, Layer: layer, Node: node, Baseline: 0.2, Value: 6},
			{Kind: EvSuspect, SeriesKey: suspect, Label: susLabel, Layer: sources.LayerDB, Node: susNode, Baseline: 3, Value: 96},
		}}
}

func gapAbout(sym, symLabel string, node string, members ...string) Finding {
	f := Finding{ID: "gap/" + sym, Rule: "gap", Severity: sources.SevWarning, Layer: sources.LayerLB, Node: node,
		Title: "monitoring gap: " + symLabel + " rose and no internal signal moved", Opened: t0,
		Evidence: []Evidence{{Kind: EvSymptom, SeriesKey: sym, Label: symLabel, Layer: sources.LayerLB, Node: node, Baseline: 0.2, Value: 6}}}
	for _, m := range members {
		f.Grouped = append(f.Grouped, "gap/src/"+m+"/hrsp_5xx")
		f.Evidence = append(f.Evidence, Evidence{Kind: EvContext, SeriesKey: "src/" + m + "/hrsp_5xx", Label: m + " hrsp_5xx", Layer: sources.LayerLB, Node: m})
	}
	return f
}

func serverDown(name string, opened time.Time) Finding {
	return Finding{ID: "node/lb-1/" + name, Rule: "node-state", Severity: sources.SevWarning, Layer: sources.LayerLB, Node: name,
		Title: "server " + name + " is DOWN", Opened: opened}
}

// twoTargetsThroughACarrier is the carrier router of field story 1 on
// the paths to two targets, and a loss local to one vantage point on
// the way to a third.
func twoTargetsThroughACarrier() []Finding {
	var paths []PathHistory
	for v := 1; v <= 3; v++ {
		for ti, target := range []string{"10.4.0.2", "10.4.0.3", "10.4.0.4"} {
			hops := []synthHop{
				{addr: "10.1." + itoa(v) + ".1", asn: 65100 + v, rtt: time.Millisecond},
				{addr: "10.2." + itoa(v) + ".1", asn: 65002, rtt: 2 * time.Millisecond},
				{addr: "10.3.0.2", asn: 65002, rtt: 3 * time.Millisecond},
				{addr: target, asn: 65004, rtt: 4 * time.Millisecond},
			}
			switch {
			case ti < 2:
				hops[1].fwd = 0.3 // the carrier drops
			case v == 1:
				hops[0].fwd = 0.3 // only vantage 1's access router drops
			}
			paths = append(paths, synth("v"+itoa(v), target, hops, 6, 20, uint64(v*100+ti)))
		}
	}
	return FindingsFromVerdicts(Triangulate(paths, nil))
}

func TestIncidents(t *testing.T) {
	hourLater := t0.Add(time.Hour)
	cases := []struct {
		name     string
		findings func() []Finding
		// per incident, worst first: its findings' IDs (any order when
		// anyOrder), its cause, and words its headline must hold
		want     [][]string
		anyOrder bool
		cause    []CauseKind
		headline []string
	}{{
		name:     "the melting volume is one incident and a flapping server elsewhere another",
		findings: func() []Finding { return activeAfter(meltingIncident(), 444) },
		want: [][]string{
			{"event/checks/shop", "symptom/checks/probe_success", "symptom/src/app/hrsp_5xx", "node/lb-1/app/app-3"},
			{"flapping/web-9"},
		},
		anyOrder: true,
		cause:    []CauseKind{CauseSuspect, CauseOwn},
		headline: []string{
			"check https://shop.example.com/ failing and app hrsp_5xx rose: likely db-1 cpu.iowait (since ",
			"web-9 is flapping (since ",
		},
	}, {
		name: "two symptoms blaming one series are one incident",
		findings: func() []Finding {
			return []Finding{
				suspectsAbout("src/app/hrsp_5xx", "app hrsp_5xx", sources.LayerLB, "app", sources.SevCritical, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1"),
				suspectsAbout("src/api/hrsp_5xx", "api hrsp_5xx", sources.LayerLB, "api", sources.SevWarning, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1"),
			}
		},
		want:     [][]string{{"symptom/src/app/hrsp_5xx", "symptom/src/api/hrsp_5xx"}},
		cause:    []CauseKind{CauseSuspect},
		headline: []string{"app hrsp_5xx rose and api hrsp_5xx rose: likely db-1 cpu.iowait (since 09:00:00, 2 findings)"},
	}, {
		name: "the suspects and bottleneck findings of one symptom are one incident",
		findings: func() []Finding {
			bn := Finding{ID: "bottleneck/src/app/hrsp_5xx", Rule: "bottleneck", Severity: sources.SevWarning, Layer: sources.LayerDB, Node: "app",
				Title: "bottleneck: database (app hrsp_5xx)", Opened: t0.Add(10 * time.Second),
				Evidence: []Evidence{{Kind: EvSymptom, SeriesKey: "src/app/hrsp_5xx", Label: "app hrsp_5xx", Layer: sources.LayerLB, Node: "app", Baseline: 0.2, Value: 6}}}
			return []Finding{bn, suspectsAbout("src/app/hrsp_5xx", "app hrsp_5xx", sources.LayerLB, "app", sources.SevCritical, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1")}
		},
		want:     [][]string{{"symptom/src/app/hrsp_5xx", "bottleneck/src/app/hrsp_5xx"}},
		cause:    []CauseKind{CauseSuspect},
		headline: []string{"app hrsp_5xx rose: likely db-1 cpu.iowait (since 09:00:00, 2 findings)"},
	}, {
		name: "a server DOWN joins its backend's finding; one of another backend stays its own",
		findings: func() []Finding {
			return []Finding{serverDown("app-9", t0), gapAbout("src/app/hrsp_5xx", "app hrsp_5xx", "app", "app-1", "app-3"), serverDown("app-3", t0.Add(time.Minute))}
		},
		want:     [][]string{{"gap/src/app/hrsp_5xx", "node/lb-1/app-3"}, {"node/lb-1/app-9"}},
		cause:    []CauseKind{CauseGroup, CauseOwn},
		headline: []string{"app hrsp_5xx rose: no internal cause found (since 09:00:00, 2 findings)", "server app-9 is DOWN (since 09:00:00, 1 finding)"},
	}, {
		name:     "paths that lose packets at one carrier segment are one incident; a loss local to one vantage point is its own",
		findings: twoTargetsThroughACarrier,
		want:     [][]string{{"path/10.4.0.2/shared/10.2.1.1", "path/10.4.0.3/shared/10.2.1.1"}, {"path/10.4.0.4/local/10.1.1.1"}},
		cause:    []CauseKind{CausePath, CausePath},
		headline: []string{"the path to 10.4.0.2 and the path to 10.4.0.3: likely the network at 10.2.1.1 (2 findings)", "loss of "},
	}, {
		name: "one cause an hour apart is two incidents",
		findings: func() []Finding {
			first := suspectsAbout("src/app/hrsp_5xx", "app hrsp_5xx", sources.LayerLB, "app", sources.SevWarning, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1")
			first.Resolved = t0.Add(10 * time.Minute)
			again := first
			again.Opened, again.Resolved = hourLater, time.Time{}
			return []Finding{first, again}
		},
		want:     [][]string{{"symptom/src/app/hrsp_5xx"}, {"symptom/src/app/hrsp_5xx"}},
		cause:    []CauseKind{CauseSuspect, CauseSuspect},
		headline: []string{"(since 09:00:00, 1 finding)", "(since 10:00:00, 1 finding)"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.findings()
			incs := Incidents(fs)
			if len(incs) != len(tc.want) {
				var hs []string
				for _, inc := range incs {
					hs = append(hs, inc.Headline+" "+strings.Join(inc.Findings, ","))
				}
				t.Fatalf("%d incidents, want %d:\n%s", len(incs), len(tc.want), strings.Join(hs, "\n"))
			}
			for i, inc := range incs {
				got := inc.Findings
				want := tc.want[i]
				if tc.anyOrder {
					got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
				}
				if !slices.Equal(got, want) {
					t.Errorf("incident %d holds %q, want %q", i, inc.Findings, tc.want[i])
				}
				if inc.Cause != tc.cause[i] || inc.Explained != (inc.Cause == CauseSuspect) {
					t.Errorf("incident %d: cause %s (explained %v), want %s", i, inc.Cause, inc.Explained, tc.cause[i])
				}
				if !strings.Contains(inc.Summary(), tc.headline[i]) {
					t.Errorf("incident %d summary %q lacks %q", i, inc.Summary(), tc.headline[i])
				}
				if strings.Contains(inc.Headline, "(since") {
					t.Errorf("incident %d headline %q carries its time: the screen shows that apart", i, inc.Headline)
				}
			}
			ids := map[string]bool{}
			for _, inc := range incs {
				if ids[inc.ID] {
					t.Errorf("two incidents share the ID %s", inc.ID)
				}
				ids[inc.ID] = true
			}
		})
	}
}

// An incident is as bad as its worst finding, as old as its oldest, and
// lists its findings worst first; it ends when its last finding does.
func TestIncidentTakesTheWorstAndTheEarliest(t *testing.T) {
	app := suspectsAbout("src/app/hrsp_5xx", "app hrsp_5xx", sources.LayerLB, "app", sources.SevWarning, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1")
	app.Opened, app.Updated, app.Resolved = t0.Add(time.Minute), t0.Add(3*time.Minute), t0.Add(3*time.Minute)
	api := suspectsAbout("src/api/hrsp_5xx", "api hrsp_5xx", sources.LayerLB, "api", sources.SevCritical, "src/db-1/cpu.iowait", "db-1 cpu.iowait", "db-1")
	api.Opened, api.Updated, api.Resolved = t0.Add(2*time.Minute), t0.Add(4*time.Minute), t0.Add(5*time.Minute)
	incs := Incidents([]Finding{app, api})
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	inc := incs[0]
	if inc.Severity != sources.SevCritical || !inc.Since.Equal(app.Opened) || !inc.Updated.Equal(api.Updated) || !inc.Until.Equal(api.Resolved) {
		t.Errorf("severity %s, since %v, updated %v, until %v", inc.Severity, inc.Since, inc.Updated, inc.Until)
	}
	if !slices.Equal(inc.Findings, []string{api.ID, app.ID}) || inc.Node != "api" {
		t.Errorf("findings %q led by %s, want the critical api first", inc.Findings, inc.Node)
	}
	if inc.ID != "incident/suspect/src/db-1/cpu.iowait" || inc.CauseKey != "src/db-1/cpu.iowait" {
		t.Errorf("ID %s, cause key %s", inc.ID, inc.CauseKey)
	}
	api.Resolved = time.Time{}
	if inc := Incidents([]Finding{app, api})[0]; !inc.Until.IsZero() {
		t.Errorf("until %v while a finding is active", inc.Until)
	}
}

// The same findings in any order tell the same incidents.
func TestIncidentsDoNotDependOnTheOrderOfFindings(t *testing.T) {
	fs := activeAfter(meltingIncident(), 444)
	fs = append(fs, twoTargetsThroughACarrier()...)
	want := Incidents(fs)
	r := rand.New(rand.NewPCG(9, 9))
	for range 20 {
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		got := Incidents(fs)
		if len(got) != len(want) {
			t.Fatalf("%d incidents, then %d", len(want), len(got))
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].Headline != want[i].Headline || !slices.Equal(got[i].Findings, want[i].Findings) {
				t.Fatalf("incident %d differs:\n%+v\n%+v", i, want[i], got[i])
			}
		}
	}
}

func TestNoFindingsNoIncidents(t *testing.T) {
	if incs := Incidents(nil); incs == nil || len(incs) != 0 {
		t.Errorf("%v, want an empty list", incs)
	}
}
