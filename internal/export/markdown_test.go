package export

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)

// meltingVolume is the field story: db-1's volume goes bad, iowait pegs,
// 5xx rise on the load balancer, app-2 fails its checks and goes DOWN.
func meltingVolume(t *testing.T) *replay.Recording {
	t.Helper()
	return load(t, meltingVolumeFile(t))
}

// meltingVolumeFile is the recording's bytes.
func meltingVolumeFile(t *testing.T) []byte {
	return meltingVolumeFileWith(t, "opsview test", nil, nil)
}

// meltingVolumeFileWith records the story with a producer of its own,
// each batch passed through edit and each note through note before it is
// written.
func meltingVolumeFileWith(t *testing.T, producer string, edit func(*sources.Batch), note func(*replay.Annotation)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, replay.Header{Created: t0.Add(time.Hour), Config: "sources:\n  - name: lb-1\n    type: haproxy\n", Producer: producer})
	if err == nil {
		// judged as live judged it: a 10 s step and a 10 minute window
		err = w.WriteOpening(replay.Opening{Settings: replay.Settings{Step: 10 * time.Second, Window: 10 * time.Minute}}, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		fivexx, iow, sess := 0.1, 4.0, 120.0
		if i >= 15 && i < 40 {
			iow = 95
			fivexx = 12 + float64(i%3)
			sess = 60
		}
		if i == 25 || i == 26 {
			fivexx = math.NaN() // the stats socket did not answer
		}
		state, sev := "UP", sources.SevOK
		if i >= 20 && i < 38 {
			state, sev = "DOWN", sources.SevCritical
		}
		lb := &sources.Batch{Source: "lb-1", Type: "haproxy", At: at,
			Series: []sources.Series{
				{Name: "hrsp_5xx_rate", Labels: map[string]string{"backend": "be_app"}, Unit: "req/s", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "be_app", Points: []sources.Point{{T: at, V: fivexx}}},
				{Name: "scur", Labels: map[string]string{"backend": "be_app"}, Unit: "count", Role: sources.RoleTraffic, Layer: sources.LayerLB, Node: "be_app", Points: []sources.Point{{T: at, V: sess}}},
				{Name: "slim", Labels: map[string]string{"backend": "be_app"}, Unit: "count", Role: sources.RoleTraffic, Layer: sources.LayerLB, Node: "be_app", Points: []sources.Point{{T: at, V: 1000}}},
			},
			Nodes:  []sources.NodeState{{Kind: "server", ID: "lb-1/be_app/app-2", Name: "app-2", Layer: sources.LayerApp, State: state, Severity: sev}},
			Status: sources.Status{Health: sources.HealthOK},
		}
		if i == 20 {
			lb.Events = []sources.Event{{ID: "srv/app-2", Start: at, Severity: sources.SevCritical, Layer: sources.LayerApp, Node: "app-2", Title: "server be_app/app-2 DOWN", Text: "Layer7 wrong status"}}
		}
		if i == 38 {
			lb.Events = []sources.Event{{ID: "srv/app-2", End: at, Severity: sources.SevOK, Layer: sources.LayerApp, Node: "app-2", Title: "server be_app/app-2 UP"}}
		}
		prom := &sources.Batch{Source: "prom", Type: "prometheus", At: at.Add(3 * time.Second),
			Series: []sources.Series{{Name: "node_cpu_iowait_percent", Labels: map[string]string{"instance": "db-1:9100"}, Unit: "%", Role: sources.RoleResource, Layer: sources.LayerDB, Node: "db-1", Points: []sources.Point{{T: at, V: iow}}}},
			Status: sources.Status{Health: sources.HealthOK},
		}
		for _, b := range []*sources.Batch{lb, prom} {
			if edit != nil {
				edit(b)
			}
			if err := w.WriteBatch(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, a := range []replay.Annotation{
		{At: t0.Add(150 * time.Second), Author: "ana", Text: "db-1 iowait at 95%: EBS volume suspected", Written: t0.Add(2 * time.Hour)},
		{At: t0.Add(400 * time.Second), Author: "bo", Text: "volume detached | replaced, errors stop", Written: t0.Add(2 * time.Hour)},
	} {
		if note != nil {
			note(&a)
		}
		if err := w.WriteAnnotation(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// closeAndLoad finishes a recording written into buf and reads it back.
func closeAndLoad(t *testing.T, w *replay.Writer, buf *bytes.Buffer) *replay.Recording {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return load(t, buf.Bytes())
}

func load(t *testing.T, data []byte) *replay.Recording {
	t.Helper()
	rec, err := replay.Load(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestMarkdownPostmortemGolden(t *testing.T) {
	rec := meltingVolume(t)
	var out bytes.Buffer
	err := Markdown(&out, rec, Options{
		Title: "Melting volume on db-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "melting-volume.md")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("export differs from %s (run with -update after checking):\n%s", golden, out.String())
	}
	// the same recording gives the same document
	var again bytes.Buffer
	Markdown(&again, rec, Options{
		Title: "Melting volume on db-1",
	})
	if !bytes.Equal(again.Bytes(), out.Bytes()) {
		t.Fatal("two exports of one recording differ")
	}
	s := out.String()
	for _, want := range []string{
		"finding opened: server app-2 is DOWN",
		"finding resolved: server app-2 is DOWN",
		`volume detached \| replaced`,
		"### lb-1/hrsp_5xx_rate{backend=\"be_app\"}",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	// the symptom chart comes before the resource chart, the flat slim is left out
	if strings.Index(s, "hrsp_5xx_rate{") > strings.Index(s, "node_cpu_iowait_percent{") || strings.Contains(s, "### lb-1/slim") {
		t.Error("key series in the wrong order or a flat series charted")
	}
}

func TestDownsampleKeepsShortOutages(t *testing.T) {
	vals := make([]float64, 600)
	for i := range vals {
		vals[i] = 1
	}
	vals[301] = 50 // one bucket
	for i := 100; i < 120; i++ {
		vals[i] = math.NaN()
	}
	out, per := downsample(vals, 60)
	if per != 10 || len(out) != 60 {
		t.Fatalf("%d columns of %d", len(out), per)
	}
	if out[30] != 50 {
		t.Fatalf("the spike was averaged away: %v", out[30])
	}
	if !math.IsNaN(out[10]) || !math.IsNaN(out[11]) {
		t.Fatalf("the gap was filled: %v %v", out[10], out[11])
	}
}

func TestMarkdownOfEmptyRecording(t *testing.T) {
	var buf bytes.Buffer
	w, _ := replay.NewWriter(&buf, replay.Header{Created: t0})
	w.Close()
	rec, err := replay.Load(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Markdown(&out, rec, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No batches were recorded") {
		t.Fatal(out.String())
	}
}

// Findings with evidence list it in a table, and the evidence series are
// charted first, the symptom before the suspects, then resources before
// traffic.
func TestEvidenceTableAndChartOrder(t *testing.T) {
	store := correlate.NewStore(correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		v := func(base, high float64) float64 {
			if i >= 10 && i < 20 {
				return high
			}
			return base
		}
		store.Apply(&sources.Batch{Source: "s", At: at, Series: []sources.Series{
			{Name: "queue", Role: sources.RoleTraffic, Points: []sources.Point{{T: at, V: v(1, 50)}}},
			{Name: "errors", Role: sources.RoleSymptom, Points: []sources.Point{{T: at, V: v(0, 9)}}},
			{Name: "iowait", Role: sources.RoleResource, Points: []sources.Point{{T: at, V: v(3, 90)}}},
			{Name: "load", Role: sources.RoleResource, Points: []sources.Point{{T: at, V: v(1, 1.2)}}},
		}})
	}
	f := correlate.Finding{ID: "x", Rule: "suspects", Severity: sources.SevWarning, Title: "errors | follow iowait",
		Opened: t0.Add(100 * time.Second), Evidence: []correlate.Evidence{
			{Kind: correlate.EvSuspect, SeriesKey: "s/iowait", From: t0.Add(100 * time.Second), Until: t0.Add(200 * time.Second), Score: 7.5, Baseline: 3, Value: 90, Lead: 20 * time.Second, Text: "iowait rose first"},
			{Kind: correlate.EvSymptom, SeriesKey: "s/errors", Baseline: math.NaN(), Value: 9},
		}}
	d := &doc{opt: Options{MaxCharts: 3}, rec: &replay.Recording{}, tl: &timeline{
		Summary: &replay.Summary{From: t0, Until: t0.Add(290 * time.Second)}, Findings: []correlate.Finding{f}, Store: store,
	}}
	d.opt.defaults(d.rec)
	d.findings()
	d.charts()
	s := d.b.String()
	for _, want := range []string{
		"### WARNING: errors \\| follow iowait",
		"| suspect | s/iowait | 02:01:40–02:03:20 | 90 | 3 | 7.5 | 20s | iowait rose first |",
		"| symptom | s/errors | — | 9 | — | 0 | — |  |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q in\n%s", want, s)
		}
	}
	// evidence (symptom, then suspect), then resources before traffic;
	// three charts at most
	iErr, iIow, iLoad := strings.Index(s, "### s/errors"), strings.Index(s, "### s/iowait"), strings.Index(s, "### s/load")
	if iErr < 0 || iIow < iErr || iLoad < iIow || strings.Contains(s, "### s/queue") {
		t.Errorf("charts in the wrong order (errors %d, iowait %d, load %d) or beyond MaxCharts", iErr, iIow, iLoad)
	}
}

// What the engine could not check is one line of the finding, not rows
// of its evidence table.
func TestMarkdownSaysWhatCouldNotBeChecked(t *testing.T) {
	rec := meltingVolume(t)
	opts := Options{}
	opts.defaults(rec)
	tl, err := judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	tl.Findings = append(tl.Findings, correlate.Finding{
		ID: "symptom/x", Rule: "suspects", Severity: sources.SevWarning, Title: "be_app hrsp_5xx_rate rose", Opened: t0.Add(3 * time.Minute),
		Evidence: []correlate.Evidence{
			{Kind: correlate.EvSymptom, SeriesKey: `lb-1/hrsp_5xx_rate{backend="be_app"}`, Text: "be_app 5xx rose"},
			{Kind: correlate.EvExcluded, SeriesKey: "prom/a", Text: "db-2 cpu.iowait: stale"},
			{Kind: correlate.EvExcluded, SeriesKey: "prom/b", Text: "app-9 5xx: no traffic"},
		},
	})
	d := &doc{opt: opts, rec: rec, tl: tl}
	d.findings()
	out := d.b.String()
	if !strings.Contains(out, "- **Could not check:** db-2 cpu.iowait: stale; app-9 5xx: no traffic") {
		t.Errorf("no could-not-check line:\n%s", out)
	}
	if strings.Contains(out, "| excluded |") {
		t.Errorf("excluded series listed as evidence rows:\n%s", out)
	}
}

// The timeline keeps what is new about each thing and counts the rest.
func TestFoldKeepsWhatIsNew(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	check := func(s int, sev, title string) row {
		return row{at: at(s), key: "event checks/shop", severity: sev, cause: title, again: "repeated", source: "checks", title: title}
	}
	ended := func(r row) row { r.ended, r.severity = true, "ended"; return r }
	finding := func(s int, verb, sev, cause string) row {
		return row{at: at(s), order: 1, key: "finding x", severity: sev, cause: cause, again: "updated", source: "engine", verb: verb, title: cause}
	}
	note := row{at: at(7), order: 2, severity: "note", source: "ana", title: "volume replaced"}
	type kept struct {
		at     int
		sev    string
		title  string
		folded int
		last   int
	}
	cases := []struct {
		name string
		in   []row
		want []kept
	}{{
		name: "identical sendings fold into the first, counted until the last",
		in:   []row{check(0, "critical", "failing"), check(5, "critical", "failing"), check(10, "critical", "failing")},
		want: []kept{{0, "critical", "failing", 2, 10}},
	}, {
		name: "a change of severity or title is a row, and its repeats fold into it",
		in: []row{check(0, "warning", "failing"), check(5, "critical", "failing"), check(10, "critical", "failing"),
			check(15, "critical", "failing from 4 of 4"), check(20, "critical", "failing from 4 of 4")},
		want: []kept{{0, "warning", "failing", 0, 0}, {5, "critical", "failing", 1, 10}, {15, "critical", "failing from 4 of 4", 1, 20}},
	}, {
		name: "the end is a row; an end sent again is not, and is not counted",
		in:   []row{check(0, "critical", "failing"), ended(check(5, "ok", "failing")), ended(check(10, "ok", "failing")), check(15, "critical", "failing")},
		want: []kept{{0, "critical", "failing", 0, 0}, {5, "ended", "failing", 0, 0}, {15, "critical", "failing", 0, 0}},
	}, {
		name: "at one instant the last words about a thing are told in its first row",
		in:   []row{finding(0, "finding opened: ", "warning", "likely iowait"), finding(0, "finding updated: ", "critical", "likely queue"), finding(5, "finding updated: ", "critical", "likely queue")},
		want: []kept{{0, "critical", "likely queue", 1, 5}},
	}, {
		name: "things fold apart, and notes never fold",
		in: []row{check(0, "critical", "failing"), finding(0, "finding opened: ", "critical", "failing"), check(5, "critical", "failing"),
			note, note, finding(10, "finding updated: ", "critical", "failing")},
		want: []kept{{0, "critical", "failing", 1, 5}, {0, "critical", "failing", 1, 10}, {7, "note", "volume replaced", 0, 0}, {7, "note", "volume replaced", 0, 0}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fold(tc.in)
			var gk []kept
			for _, r := range got {
				k := kept{int(r.at.Sub(t0) / time.Second), r.severity, r.title, r.folded, 0}
				if r.folded > 0 {
					k.last = int(r.last.Sub(t0) / time.Second)
				}
				gk = append(gk, k)
			}
			if fmt.Sprint(gk) != fmt.Sprint(tc.want) {
				t.Errorf("folded\n%v\nwant\n%v", gk, tc.want)
			}
		})
	}
	// the first row of an instant keeps its verb: an opening stays one
	got := fold(cases[3].in)
	if got[0].verb != "finding opened: " {
		t.Errorf("verb %q", got[0].verb)
	}
}

// An engine title that only counts more servers or moves a value says
// nothing new; one that names another cause does.
func TestFindingTitleNumbersAreNotNews(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"app hrsp_5xx rose (+2): likely db-1 cpu.iowait", "app hrsp_5xx rose (+3): likely db-1 cpu.iowait", true},
		{"bottleneck: database (app hrsp_5xx +1)", "bottleneck: database (app hrsp_5xx +12)", true},
		{"app hrsp_5xx rose: likely db-1 cpu.iowait", "app hrsp_5xx rose: likely app jobs_queue_length", false},
		{"bottleneck: database (app hrsp_5xx)", "bottleneck: application layer (app hrsp_5xx)", false},
	} {
		if got := withoutNumbers(tc.a) == withoutNumbers(tc.b); got != tc.same {
			t.Errorf("%q and %q the same cause: %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
