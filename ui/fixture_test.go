package ui

import (
	"math"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// t0 is the fixed clock of every test: no time.Now anywhere near rendering.
var t0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

const step = 5 * time.Second

// incident fills a store with the "melting volume" story over 20 minutes:
// a 5xx rate on the lb layer rising, iowait on db-1 rising first, a queue
// length, a traffic series with a gap, events, and two sources of which
// one is failing.
type meltingVolume struct {
	store *correlate.Store
	at    time.Time // newest applied time
	i     int       // buckets applied
}

func newIncident() *meltingVolume {
	return &meltingVolume{store: correlate.NewStore(correlate.StoreOptions{Step: step, Retention: 2 * time.Hour})}
}

// seriesAt gives every series' value at bucket i (deterministic).
func seriesAt(i int) (fivexx, fivexx2, iowait, queue, qps, latency float64) {
	ramp := func(start, span int) float64 {
		x := float64(i-start) / float64(span)
		return math.Min(math.Max(x, 0), 1)
	}
	wob := math.Sin(float64(i)/3) * 0.5
	fivexx = 0.2 + wob*0.2 + 40*ramp(150, 60)
	fivexx2 = 0.1 + 25*ramp(160, 60) + wob*0.1
	iowait = 3 + wob + 85*ramp(120, 50)
	queue = 2 + 60*ramp(140, 60) + wob
	qps = 1200 + 150*math.Sin(float64(i)/10) - 500*ramp(150, 60)
	latency = 40 + 900*ramp(140, 60) + 5*wob
	return
}

// advance applies n more buckets of data and returns the store time.
func (in *meltingVolume) advance(n int) time.Time {
	for k := 0; k < n; k++ {
		at := t0.Add(time.Duration(in.i) * step)
		a, a2, io, q, qps, lat := seriesAt(in.i)
		if in.i >= 100 && in.i < 112 {
			qps = math.NaN() // a gap: the exporter was not scraped
		}
		hap := &sources.Batch{Source: "lb-1", Type: "haproxy", At: at,
			Series: []sources.Series{
				{Name: "hrsp_5xx_rate", Labels: map[string]string{"backend": "be_app"}, Unit: "req/s", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "be_app", Points: []sources.Point{{T: at, V: a}}},
				{Name: "hrsp_5xx_rate", Labels: map[string]string{"backend": "be_api"}, Unit: "req/s", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "be_api", Points: []sources.Point{{T: at, V: a2}}},
				{Name: "rtime", Labels: map[string]string{"backend": "be_app"}, Unit: "ms", Role: sources.RoleSymptom, Layer: sources.LayerLB, Node: "be_app", Points: []sources.Point{{T: at, V: lat}}},
				{Name: "req_rate", Labels: map[string]string{"frontend": "www"}, Unit: "req/s", Role: sources.RoleTraffic, Layer: sources.LayerLB, Node: "www", Points: []sources.Point{{T: at, V: qps}}},
			},
			Status: sources.Status{Health: sources.HealthOK, Latency: 12 * time.Millisecond, LastSuccess: at, Detail: "2 backends"},
		}
		gr := &sources.Batch{Source: "graphite", Type: "graphite", At: at,
			Series: []sources.Series{
				{Name: "servers.db-1.cpu.iowait", Unit: "%", Role: sources.RoleResource, Layer: sources.LayerDB, Node: "db-1", Points: []sources.Point{{T: at, V: io}}},
				{Name: "servers.app-1.queue.length", Unit: "count", Role: sources.RoleResource, Layer: sources.LayerApp, Node: "app-1", Points: []sources.Point{{T: at, V: q}}},
				{Name: "servers.db-1.disk.write_bytes", Unit: "B/s", Role: sources.RoleResource, Layer: sources.LayerDB, Node: "db-1", Points: []sources.Point{{T: at, V: 2.5e6 + io*1e5}}},
			},
			Status: sources.Status{Health: sources.HealthOK, Latency: 85 * time.Millisecond, LastSuccess: at},
		}
		in.store.Apply(hap)
		if in.i < 200 {
			in.store.Apply(gr)
		} else {
			in.store.SetStatus(sources.Status{Source: "graphite", Type: "graphite", Health: sources.HealthFailing,
				LastError: `GET http://graphite:8080/render: context deadline exceeded (check that graphite-web answers)`,
				Failures:  in.i - 199, LastAttempt: at, Latency: 5 * time.Second})
		}
		switch in.i {
		case 150:
			in.store.Apply(&sources.Batch{Source: "lb-1", Type: "haproxy", At: at, Status: sources.Status{Health: sources.HealthOK, Latency: 12 * time.Millisecond, Detail: "2 backends"}, Events: []sources.Event{
				{ID: "srv-app-3", Start: at, Severity: sources.SevCritical, Layer: sources.LayerLB, Node: "app-3", Title: "Server be_app/app-3 is DOWN", Text: "Layer7 check failed: HTTP status 503\ncheck duration 2001ms"},
			}})
		case 130:
			in.store.Apply(&sources.Batch{Source: "lb-1", Type: "haproxy", At: at, Status: sources.Status{Health: sources.HealthOK, Latency: 12 * time.Millisecond, Detail: "2 backends"}, Events: []sources.Event{
				{ID: "reload", Start: at, End: at.Add(10 * time.Second), Severity: sources.SevInfo, Layer: sources.LayerLB, Node: "lb-1", Title: "HAProxy reloaded", Text: "configuration reloaded by systemd"},
				{ID: "flap", Start: at.Add(-30 * time.Second), End: at.Add(-5 * time.Second), Severity: sources.SevWarning, Layer: sources.LayerLB, Node: "app-2", Title: "Server be_app/app-2 flapped (3 changes in 25s)"},
			}})
		}
		in.at = at
		in.i++
	}
	return in.at
}

// findings is a fixed set of findings for the fixture, with baselines for
// two series.
func fixtureFindings() []correlate.Finding {
	return []correlate.Finding{
		{ID: "f2", Rule: "gap", Severity: sources.SevWarning, Title: "5xx on be_api with no internal signal moving", Node: "be_api", Opened: t0.Add(14 * time.Minute)},
		{ID: "f1", Rule: "suspects", Severity: sources.SevCritical, Title: "5xx on be_app; iowait on db-1 moved 2m before", Node: "db-1", Layer: sources.LayerDB, Opened: t0.Add(13 * time.Minute),
			Evidence: []correlate.Evidence{
				{Kind: correlate.EvSymptom, SeriesKey: `lb-1/hrsp_5xx_rate{backend="be_app"}`, Baseline: 0.3},
				{Kind: correlate.EvSuspect, SeriesKey: "graphite/servers.db-1.cpu.iowait", Baseline: 3.5},
			}},
		{ID: "f3", Rule: "source", Severity: sources.SevWarning, Title: "source graphite failing: context deadline exceeded", Node: "graphite", Opened: t0.Add(17 * time.Minute)},
	}
}

// newTestApp builds an app over the fixture at the given size, fed
// n buckets.
func newTestApp(theme *themes.Theme, w, h, n int) (*App, *meltingVolume) {
	in := newIncident()
	in.advance(n)
	return newAppOver(in, Options{Theme: theme}, w, h), in
}

func newTestAppOpts(opt Options, w, h, n int) *App {
	in := newIncident()
	in.advance(n)
	return newAppOver(in, opt, w, h)
}

func newAppOver(in *meltingVolume, opt Options, w, h int) *App {
	fs := fixtureFindings()
	opt.Store = in.store
	opt.Findings = func() []correlate.Finding { return fs }
	opt.Mode = "demo — no configuration found"
	opt.Location = time.UTC
	a := New(opt)
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	a.Update(DataMsg{})
	return a
}

// pathVerdicts is what the engine's path rule concludes over a snapshot's
// traces: the Paths view is given these, as Options.Paths gives the
// engine's.
func pathVerdicts(snap *correlate.Snapshot) []correlate.PathVerdict {
	return correlate.PathVerdicts(snap)
}

func pressKeys(a *App, keys ...string) {
	for _, k := range keys {
		a.Update(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}
