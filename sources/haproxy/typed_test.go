package haproxy

import (
	"testing"

	"github.com/opsview/opsview/sources"
)

// HAProxy knows its series: counters arrive as rates, the rest as levels;
// errors and queues hurt going up, traffic either way, the process's idle
// time going down.
func TestSeriesSayTheirKindAndHarm(t *testing.T) {
	as, ts := seriesCaptures(t)
	s := newReplaySource(t, []string{"lb-1"}, as[:2])
	poll(t, s, ts[0])
	b := poll(t, s, ts[1])
	want := map[string]struct {
		kind sources.SeriesKind
		harm sources.Harm
	}{
		"hrsp_5xx":         {sources.SeriesRate, sources.HarmUp},
		"req_tot":          {sources.SeriesRate, sources.HarmBoth},
		"scur":             {sources.SeriesGauge, sources.HarmBoth},
		"qcur":             {sources.SeriesGauge, sources.HarmUp},
		"rtime":            {sources.SeriesGauge, sources.HarmUp},
		"servers_down":     {sources.SeriesGauge, sources.HarmUp},
		"haproxy_idle_pct": {sources.SeriesRatio, sources.HarmDown},
	}
	seen := map[string]bool{}
	for _, sr := range b.Series {
		if sr.Kind == sources.SeriesUnknown || sr.Harm == sources.HarmUnset {
			t.Errorf("%s says no kind or harm: %v %v", sr.ID(), sr.Kind, sr.Harm)
		}
		if w, ok := want[sr.Name]; ok {
			seen[sr.Name] = true
			if sr.Kind != w.kind || sr.Harm != w.harm {
				t.Errorf("%s: kind %v harm %v, want %v %v", sr.ID(), sr.Kind, sr.Harm, w.kind, w.harm)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no %s series", name)
		}
	}
}
