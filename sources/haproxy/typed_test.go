package haproxy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
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

// Every event HAProxy gives says what it is: a server's state changes,
// the backend with no server UP, a reload.
func TestEventsSayTheirKind(t *testing.T) {
	as, ts := seriesCaptures(t)
	seq := append(as[:len(as):len(as)], answer{stat: as[0].stat, info: info(200, 1)}) // then a new process
	s := newReplaySource(t, []string{"lb-1"}, seq)
	seen := map[sources.EventKind]int{}
	for i := range seq {
		at := ts[len(ts)-1].Add(time.Second)
		if i < len(ts) {
			at = ts[i]
		}
		for _, e := range poll(t, s, at).Events {
			want := sources.EventOther
			switch {
			case strings.Contains(e.ID, "/no-server-up/"):
				want = sources.EventAlert
			case strings.Contains(e.ID, "/reload/"):
				want = sources.EventReload
			case strings.Contains(e.ID, "/flap/"):
				want = sources.EventFlapping
			case strings.Contains(e.ID, "/failover/"):
				want = sources.EventFailover
			case strings.Contains(e.ID, "@"): // server transitions: key@instance/state/time
				want = sources.EventState
			}
			if e.Kind != want || want == sources.EventOther {
				t.Errorf("event %s %q: kind %v, want %v", e.ID, e.Title, e.Kind, want)
			}
			seen[e.Kind]++
		}
	}
	for _, k := range []sources.EventKind{sources.EventState, sources.EventAlert, sources.EventReload} {
		if seen[k] == 0 {
			t.Errorf("no %v event in the capture (seen %v)", k, seen)
		}
	}
}

// When every active server of a backend is down and a backup server is
// UP, HAProxy has failed over: a failover event, open while it lasts.
func TestBackupServersTakingOverIsAFailover(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/show_stat.csv")
	onBackup := base
	for _, sv := range []string{"app1", "app2", "app4"} { // app3 is DOWN already, bk1 UP
		onBackup = setField(t, onBackup, "be_app", sv, "status", "DOWN")
	}
	s := newReplaySource(t, []string{"lb-1"}, []answer{{stat: base, info: info(1, 1)}, {stat: onBackup, info: info(1, 2)}, {stat: base, info: info(1, 3)}})
	t0 := time.Unix(1795417700, 0)
	failover := func(b *sources.Batch) *sources.Event {
		for i := range b.Events {
			if b.Events[i].Kind == sources.EventFailover {
				return &b.Events[i]
			}
		}
		return nil
	}
	if e := failover(poll(t, s, t0)); e != nil {
		t.Fatalf("failover with active servers UP: %+v", e)
	}
	e := failover(poll(t, s, t0.Add(10*time.Second)))
	if e == nil || !e.Open() || e.Node != "be_app" || e.Severity != sources.SevWarning || !strings.Contains(e.Title, "Active: 0/4, backup UP: 1") {
		t.Fatalf("failover event: %+v", e)
	}
	back := failover(poll(t, s, t0.Add(20*time.Second)))
	if back == nil || back.ID != e.ID || back.Open() {
		t.Errorf("failover not closed when the active servers came back: %+v", back)
	}
}

// Field story 4 through the typed contract: a flapping server's node
// counts its flaps and its event says it is flapping, and the engine finds
// it flapping from either, with no word "flapping" anywhere it could read.
func TestFlappingReachesTheEngineWithoutWords(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/show_stat.csv")
	var seq []answer
	for i, cd := range []int{0, 1, 1, 2, 3, 3} {
		seq = append(seq, answer{stat: setField(t, base, "be_app", "app1", "chkdown", strconv.Itoa(cd)), info: info(100, 10+i)})
	}
	s := newReplaySource(t, []string{"lb-1"}, seq)
	t0 := time.Unix(1795417700, 0)
	var batches []*sources.Batch
	for i := range seq {
		b := poll(t, s, t0.Add(time.Duration(i)*10*time.Second))
		b.Source, b.Type = "lb", "haproxy"
		batches = append(batches, b)
	}
	last := batches[len(batches)-1]
	node := findNode(last, "lb/be_app/app1")
	if node == nil || !node.Flapping || node.Flaps != 3 || node.FlapWindow != DefaultFlapWindow {
		t.Fatalf("flapping server node: %+v", node)
	}
	if be := findNode(last, "lb/be_app/BACKEND"); be.LB.Flapping != 1 {
		t.Errorf("backend counts %d flapping servers, want 1", be.LB.Flapping)
	}
	flaps := 0
	for _, b := range batches {
		for i := range b.Events {
			e := &b.Events[i]
			if e.Kind == sources.EventFlapping {
				flaps++
			}
			// nothing the engine reads may say it
			e.Title, e.Text, e.Labels = fmt.Sprintf("event %d", i), "", nil
		}
		for i := range b.Nodes {
			b.Nodes[i].Attrs = nil
		}
	}
	if flaps == 0 {
		t.Fatal("no event of kind flapping")
	}
	found := func(edit func(*sources.Batch)) bool {
		store := correlate.NewStore(correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
		for _, b := range batches {
			c := *b
			c.Events = append([]sources.Event(nil), b.Events...)
			c.Nodes = append([]sources.NodeState(nil), b.Nodes...)
			edit(&c)
			store.Apply(&c)
		}
		now := t0.Add(time.Minute)
		for _, f := range correlate.Detect(store.Snapshot(now.Add(-30*time.Minute), now, nil)) {
			if f.Rule == "flapping" && f.Node == "app1" {
				return true
			}
		}
		return false
	}
	if !found(func(*sources.Batch) {}) {
		t.Error("no flapping finding for app1")
	}
	if !found(func(b *sources.Batch) {
		for i := range b.Nodes {
			b.Nodes[i].Flapping = false
		}
	}) {
		t.Error("no flapping finding from the flapping event alone")
	}
	if !found(func(b *sources.Batch) {
		for i := range b.Events {
			b.Events[i].Kind = sources.EventOther
		}
	}) {
		t.Error("no flapping finding from the node alone")
	}
	if found(func(b *sources.Batch) {
		for i := range b.Nodes {
			b.Nodes[i].Flapping = false
		}
		for i := range b.Events {
			b.Events[i].Kind = sources.EventOther
		}
	}) {
		t.Error("a flapping finding without anything saying so")
	}
}
