package haproxy

import (
	"math"
	"testing"
)

// HAProxy's counters at the first poll are what it did before anyone
// watched: over its uptime, each row's long-run rate, a baseline before
// there is history of our own, kept on the nodes from then on. Started
// only a minute before, it has no long run to tell.
func TestFirstPollGivesTheLongRunRates(t *testing.T) {
	as, ts := seriesCaptures(t)
	for i := range as {
		as[i].info = info(100, 3600+i)
	}
	s := newReplaySource(t, []string{"lb-1"}, as)
	for i := range as {
		b := poll(t, s, ts[i])
		n := findNode(b, "lb/be_app/BACKEND")
		if n == nil || n.LB == nil {
			t.Fatalf("poll %d: no be_app backend node", i)
		}
		for _, c := range []struct {
			name string
			got  float64
		}{{"req_tot", n.LB.LongRun.Requests}, {"hrsp_5xx", n.LB.LongRun.Resp5xx}, {"stot", n.LB.LongRun.Sessions}} {
			want := csvField(t, as[0].stat, "be_app", "BACKEND", c.name) / 3600
			if math.Abs(c.got-want) > 1e-12 {
				t.Errorf("poll %d: long-run %s %v, want %v (the first poll's counter over its uptime)", i, c.name, c.got, want)
			}
		}
		if n.LB.LongRunSecs != 3600 {
			t.Errorf("poll %d: long run over %v s", i, n.LB.LongRunSecs)
		}
	}

	as, ts = seriesCaptures(t) // uptime 10 s on
	s = newReplaySource(t, []string{"lb-1"}, as)
	for i := 0; i < 3; i++ {
		n := findNode(poll(t, s, ts[i]), "lb/be_app/BACKEND")
		if !math.IsNaN(n.LB.LongRun.Requests) || n.LB.LongRunSecs != 0 {
			t.Errorf("poll %d: HAProxy up 10 s has a long run: %+v", i, n.LB.LongRun)
		}
	}
}
