package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// meltingFindings are the findings of the melting volume as the engine
// writes them: the 5xx of backend app (its servers folded in) and the
// shop's probe both blame db-1's iowait, the shop's check event fails on
// the same site, app-3 is DOWN; web-9 flaps elsewhere.
func meltingFindings(opened time.Time) []correlate.Finding {
	iowait := correlate.Evidence{Kind: correlate.EvSuspect, SeriesKey: "graphite/servers.db-1.cpu.iowait", Label: "servers.db-1.cpu.iowait",
		Layer: sources.LayerDB, Node: "db-1", Baseline: 3, Value: 96, Lead: 40 * time.Second}
	symptom := func(key, label string, layer sources.Layer, node string, base, v float64) correlate.Evidence {
		return correlate.Evidence{Kind: correlate.EvSymptom, SeriesKey: key, Label: label, Layer: layer, Node: node, Baseline: base, Value: v}
	}
	return []correlate.Finding{
		{ID: `symptom/checks/probe_success{check="https://shop.example.com/"}`, Rule: "suspects", Severity: sources.SevCritical,
			Title: "www probe_success fell: likely servers.db-1.cpu.iowait", Layer: sources.LayerEdge, Node: "www", Opened: opened.Add(30 * time.Second),
			Evidence: []correlate.Evidence{symptom(`checks/probe_success{check="https://shop.example.com/"}`, "www probe_success", sources.LayerEdge, "www", 100, 0), iowait}},
		{ID: `symptom/lb-1/hrsp_5xx{backend="app"}`, Rule: "suspects", Severity: sources.SevCritical,
			Title: "app hrsp_5xx rose (+1): likely servers.db-1.cpu.iowait", Layer: sources.LayerLB, Node: "app", Opened: opened,
			Grouped: []string{`symptom/lb-1/hrsp_5xx{backend="app",server="app-3"}`},
			Evidence: []correlate.Evidence{symptom(`lb-1/hrsp_5xx{backend="app"}`, "app hrsp_5xx", sources.LayerLB, "app", 0.2, 48), iowait,
				{Kind: correlate.EvContext, SeriesKey: `lb-1/hrsp_5xx{backend="app",server="app-3"}`, Label: "app-3 hrsp_5xx", Layer: sources.LayerLB, Node: "app-3", Baseline: math.NaN()}}},
		{ID: "event/checks/shop", Rule: "event", Severity: sources.SevCritical, Title: "check https://shop.example.com/ failing",
			Explanation: "HTTP 502 Bad Gateway from 3 of 4 locations", Layer: sources.LayerEdge, Node: "www", Opened: opened.Add(50 * time.Second)},
		{ID: "node/lb-1/app/app-3", Rule: "node-state", Severity: sources.SevWarning, Title: "server app-3 is DOWN",
			Layer: sources.LayerLB, Node: "app-3", Opened: opened.Add(80 * time.Second)},
		{ID: "flapping/web-9", Rule: "flapping", Severity: sources.SevWarning, Title: "web-9 is flapping", Explanation: "6 state changes in the last 10 min.",
			Layer: sources.LayerLB, Node: "web-9", Opened: opened.Add(-time.Hour)},
	}
}

func TestCheckReportLeadsWithIncidents(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	fs := meltingFindings(now.Add(-3 * time.Minute))
	rep := buildReport(&correlate.Snapshot{Now: now, Status: []sources.Status{{Source: "lb-1", Type: "haproxy", Health: sources.HealthOK}}}, fs)
	if len(rep.Incidents) != 2 || rep.Code != ExitCritical {
		t.Fatalf("code %d, %d incidents: %+v", rep.Code, len(rep.Incidents), rep.Incidents)
	}
	melt := rep.Incidents[0]
	const headline = "app hrsp_5xx rose and www probe_success fell: likely servers.db-1.cpu.iowait (since 13:57:00, 4 findings)"
	if melt.Headline != headline || melt.Cause != "suspect" || !melt.Explained || melt.CauseKey != "graphite/servers.db-1.cpu.iowait" {
		t.Errorf("first incident %+v, want %q explained by db-1's iowait", melt, headline)
	}
	if len(melt.Findings) != 4 || slices.Contains(melt.Findings, "flapping/web-9") || rep.Incidents[1].Findings[0] != "flapping/web-9" {
		t.Errorf("incidents hold %q and %q", melt.Findings, rep.Incidents[1].Findings)
	}

	var b bytes.Buffer
	writeText(&b, rep, false)
	lines := strings.Split(b.String(), "\n")
	if want := "CRITICAL - " + headline + "; 1 sources, 5 findings in 2 incidents"; statusText(lines[0]) != want {
		t.Errorf("status line\n%s\nwant\n%s", lines[0], want)
	}
	// after the source's line: the headline, its findings beneath, then
	// the incident of one finding as one line with the finding's detail
	want := []string{
		"  CRITICAL " + headline,
		"    CRITICAL app hrsp_5xx rose (+1): likely servers.db-1.cpu.iowait",
		"    CRITICAL www probe_success fell: likely servers.db-1.cpu.iowait",
		"    CRITICAL check https://shop.example.com/ failing — HTTP 502 Bad Gateway from 3 of 4 locations",
		"    WARNING  server app-3 is DOWN",
		"  WARNING  web-9 is flapping (since 12:57:00, 1 finding) — 6 state changes in the last 10 min.",
	}
	if got := lines[2 : len(lines)-1]; !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant after the sources:\n%s", b.String(), strings.Join(want, "\n"))
	}

	b.Reset()
	writeJSON(&b, rep)
	var back struct {
		Findings  []map[string]any `json:"findings"`
		Incidents []CheckIncident  `json:"incidents"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Findings) != 5 || back.Findings[0]["title"] != fs[0].Title || back.Findings[0]["severity"] != "critical" || back.Findings[0]["id"] != fs[0].ID || back.Findings[0]["rule"] != "suspects" {
		t.Errorf("findings changed: %v", back.Findings)
	}
	if len(back.Incidents) != 2 || back.Incidents[0].Headline != headline || !back.Incidents[0].Since.Equal(now.Add(-3*time.Minute)) {
		t.Errorf("incidents in JSON: %+v", back.Incidents)
	}
}

// Nothing wrong: the status line is as it always was, and the JSON has an
// empty incidents list, not null.
func TestCheckReportWithoutFindingsHasNoIncidents(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	rep := buildReport(&correlate.Snapshot{Now: now, Status: []sources.Status{{Source: "lb-1", Type: "haproxy", Health: sources.HealthOK}}}, nil)
	var b bytes.Buffer
	writeText(&b, rep, false)
	if !strings.HasPrefix(b.String(), "OK - 1 sources, 0 findings | ") {
		t.Errorf("report:\n%s", b.String())
	}
	b.Reset()
	writeJSON(&b, CheckReport{Status: "unknown", Code: ExitUnknown})
	if !strings.Contains(b.String(), `"incidents": []`) {
		t.Errorf("json:\n%s", b.String())
	}
}

// A check whose sample is too short for a path verdict does not say OK:
// it says which path it could not judge and how to give it the time.
func TestCheckSaysWhatItCouldNotJudge(t *testing.T) {
	snap := &correlate.Snapshot{Now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
		Status: []sources.Status{{Source: "paths", Type: "probe", Health: sources.HealthOK}}}
	rep := buildReport(snap, nil)
	if rep.Code != ExitOK {
		t.Fatalf("without paths: %s", rep.Status)
	}
	rep.notJudged([]correlate.PathVerdict{
		{Target: "shop.example.com", Kind: correlate.VerdictInsufficient, Probes: 4},
		{Target: "api.example.com", Kind: correlate.VerdictNone, Persistent: true, LatencyPersistent: true, Probes: 60},
	}, 2*time.Second, true)
	if rep.Code != ExitUnknown || len(rep.NotJudged) != 1 || !strings.Contains(rep.NotJudged[0], "shop.example.com") {
		t.Fatalf("%s %q", rep.Status, rep.NotJudged)
	}
	var out bytes.Buffer
	writeText(&out, rep, false)
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.HasPrefix(first, "UNKNOWN - ") || !strings.Contains(first, "1 not judged") || !strings.Contains(out.String(), "--paths-wait") {
		t.Fatalf("report:\n%s", out.String())
	}
	// loss judged, latency not yet (a queue with no RTT from before is
	// judged on its jitter): not OK either
	rep = buildReport(snap, nil)
	rep.notJudged([]correlate.PathVerdict{{Target: "api.example.com", Kind: correlate.VerdictNone, Persistent: true, Probes: 60}}, 20*time.Second, true)
	if rep.Code != ExitUnknown || len(rep.NotJudged) != 1 || !strings.Contains(rep.NotJudged[0], "latency") {
		t.Fatalf("latency not judged: %s %q", rep.Status, rep.NotJudged)
	}
	// something wrong elsewhere stays the status: the unjudged path is said, not counted over it
	rep = buildReport(snap, []correlate.Finding{{ID: "node/x", Rule: "node-state", Severity: sources.SevCritical, Title: "backend app has no server UP"}})
	rep.notJudged([]correlate.PathVerdict{{Target: "shop.example.com", Kind: correlate.VerdictInsufficient}}, time.Second, true)
	if rep.Code != ExitCritical {
		t.Fatalf("a critical finding with an unjudged path: %s", rep.Status)
	}
	// path probes whose vantages sent no round yet (exec vantages still
	// starting) are not judged either: the check once said OK for them
	// while 25 % of the probes were lost
	rep = buildReport(snap, nil)
	rep.notJudged(nil, 2*time.Second, true)
	if rep.Code != ExitUnknown || len(rep.NotJudged) != 1 || !strings.Contains(rep.NotJudged[0], "no probe round") {
		t.Fatalf("no verdict at all: %s %q", rep.Status, rep.NotJudged)
	}
	rep = buildReport(snap, nil)
	if rep.notJudged(nil, 2*time.Second, false); rep.Code != ExitOK {
		t.Fatalf("no path probes configured: %s %q", rep.Status, rep.NotJudged)
	}
}

// Names come from load balancers and monitoring: a 10 kB server name or a
// message over several lines must leave every line of the text report
// short, and the words of two lines apart.
func TestCheckTextBoundsLongNamesAndKeepsLinesApart(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	long := strings.Repeat("app-", 2500) // 10 kB
	rep := buildReport(&correlate.Snapshot{Now: now,
		Status: []sources.Status{{Source: long, Type: "haproxy", Health: sources.HealthFailing, LastError: "dial tcp: refused\nretrying in 2s\x1b[31m", Detail: long}},
		Nodes:  []sources.NodeState{{ID: "n", Attrs: map[string]string{"check": "backend " + long + "\nActive: 1/3"}}},
	}, []correlate.Finding{
		{ID: "node/" + long, Rule: "node-state", Severity: sources.SevCritical, Title: "server " + long + " is DOWN", Node: long, Opened: now,
			Explanation: "Layer7 wrong status\nHTTP 500 from the health check"},
		{ID: "event/x", Rule: "event", Severity: sources.SevWarning, Title: "two\nlines", Node: "web-1", Opened: now},
	})
	var b bytes.Buffer
	writeText(&b, rep, false)
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 2*maxMessageText {
			t.Errorf("a line of %d characters: %.120s…", n, l)
		}
	}
	if len(lines) != 5 { // status, source, check, the two findings
		t.Errorf("%d lines, want 5:\n%s", len(lines), out)
	}
	for _, want := range []string{"refused retrying in 2s", "wrong status HTTP 500", "two lines", "Active: 1/3", "is DOWN", "…"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, joined := range []string{"refusedretrying", "statusHTTP", "twolines", "\x1b"} {
		if strings.Contains(out, joined) {
			t.Errorf("report holds %q:\n%s", joined, out)
		}
	}
}
