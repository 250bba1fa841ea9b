package app

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/sources/replay"
)

// demoRounds are the demo's batches as the scheduler would hand them
// over: a backfill of the last hour, then one poll of every source per
// real second, for rounds seconds.
func demoRounds(rounds int) []*sources.Batch {
	real := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := real
	w := demo.NewWorld(demo.NewClock(real, demo.DefaultSpeed), 5*time.Second, func() time.Time { return now })
	var out []*sources.Batch
	for r := 0; r < rounds; r++ {
		for _, name := range demo.Names {
			b := w.Batch(name, r == 0, time.Hour)
			b.Source, b.Type = name, "demo"
			b.Status = sources.Status{Source: name, Type: "demo", Health: sources.HealthOK, Detail: b.Status.Detail}
			out = append(out, b)
		}
		now = now.Add(time.Second)
	}
	return out
}

func demoSessionOptions() correlate.SessionOptions {
	return Options{Deps: demo.Dependencies(), Store: correlate.StoreOptions{Step: 5 * time.Second}}.SessionOptions()
}

// The on-call engineer presses r in the middle of the incident; the
// postmortem replays and exports that file. Both must tell what the live
// screen told from then on: the recording's opening carries the window
// the engine judged with and the findings that were open.
func TestRecordingStartedMidIncidentTellsTheLiveStory(t *testing.T) {
	batches := demoRounds(60)
	live := correlate.NewSession(demoSessionOptions())
	const startAt = 20 * len("123456") // 20 rounds of the six demo sources
	for _, b := range batches[:startAt] {
		live.Step(b)
	}
	if len(live.Findings()) == 0 {
		t.Fatal("the demo has no finding 20 s in; the test needs one open when recording starts")
	}
	buf, want := recordRest(t, live, batches[startAt:])
	if !strings.Contains(want, "likely servers.db-1.cpu.iowait") {
		t.Fatalf("live never blamed db-1 iowait:\n%s", want)
	}

	rec, err := replay.Load(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Opening == nil || len(rec.OpeningBatches) == 0 || rec.Len() != len(batches)-startAt {
		t.Fatalf("opening %v, %d opening batches, %d batches", rec.Opening != nil, len(rec.OpeningBatches), rec.Len())
	}

	// export and the replay's "next finding" judge the whole file
	judged, err := Judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := Story(judged.Findings(), judged.Changes()); got != want {
		t.Fatalf("judged recording:\n%s\nlive:\n%s", got, want)
	}

	// the replay plays it in time, draining at uneven moments
	clk := time.Unix(1e9, 0)
	p := replay.NewPlayer(rec, replay.PlayerOptions{Clock: func() time.Time { return clk }})
	_ = p.SetSpeed(60)
	p.Play()
	rt, err := NewReplay(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; !p.Done() && i < 1000; i++ {
		due, err := p.Drain()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range due {
			rt.Ingest(b)
		}
		clk = clk.Add(time.Duration(137+i%5*211) * time.Millisecond)
	}
	if got := Story(rt.Session.Findings(), rt.Session.Changes()); got != want {
		t.Fatalf("replayed:\n%s\nlive:\n%s", got, want)
	}
}

// A recording made without an opening (from the start, or by an older
// opsview) is judged from its first batch with the default settings.
func TestRecordingWithoutOpeningIsJudgedFromTheStart(t *testing.T) {
	batches := demoRounds(5)
	var buf bytes.Buffer
	w, _ := replay.NewWriter(&buf, replay.Header{Producer: "test"})
	for _, b := range batches {
		if err := w.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	rec, err := replay.Load(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	live := correlate.NewSession(Options{}.SessionOptions())
	for _, b := range batches {
		live.Step(b)
	}
	if got, want := Story(sess.Findings(), sess.Changes()), Story(live.Findings(), live.Changes()); got != want || want == "" {
		t.Fatalf("judged:\n%s\nlive:\n%s", got, want)
	}
}

// A server that flaps (the split-brain story) opens its finding again
// after it resolved: the history keeps both openings.
func TestFlappingFindingAppearsOncePerOpening(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sess := correlate.NewSession(correlate.SessionOptions{Engine: correlate.EngineOptions{ResolveAfter: 30 * time.Second}})
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		state, sev := "UP", sources.SevOK
		if (i >= 3 && i < 6) || (i >= 15 && i < 18) {
			state, sev = "DOWN", sources.SevCritical
		}
		sess.Step(&sources.Batch{Source: "lb-1", At: at, Nodes: []sources.NodeState{{Kind: "server", ID: "be/app-1", Name: "app-1", State: state, Severity: sev}}})
	}
	h := sess.History()
	if len(h) != 2 || h[0].ID != h[1].ID {
		t.Fatalf("findings %+v", h)
	}
	first, second := h[0], h[1]
	if !first.Opened.Equal(t0.Add(30*time.Second)) || first.Resolved.IsZero() || !second.Opened.Equal(t0.Add(150*time.Second)) || second.Resolved.IsZero() {
		t.Fatalf("openings %v–%v and %v–%v", first.Opened, first.Resolved, second.Opened, second.Resolved)
	}
	// the cursor between the two openings sees neither; inside each, that one
	if fs := sess.FindingsAt(t0.Add(100 * time.Second)); len(fs) != 0 {
		t.Fatalf("between the openings: %+v", fs)
	}
	if fs := sess.FindingsAt(t0.Add(160 * time.Second)); len(fs) != 1 || !fs[0].Opened.Equal(second.Opened) {
		t.Fatalf("in the second opening: %+v", fs)
	}
}

// TestOneVoicePerSymptom: through the demo's incident the screen never
// shows, for one symptom, "… rose: likely db-1 iowait" beside "monitoring
// gap: … no internal signal moved" (or "could not check …"): the engine's
// newer answer about a symptom closes the other at once.
func TestOneVoicePerSymptom(t *testing.T) {
	s := correlate.NewSession(demoSessionOptions())
	for _, b := range demoRounds(300) {
		s.Step(b)
		voices := map[string][]string{}
		for _, f := range s.Findings() {
			if sym := f.Symptom(); sym != nil && (f.Rule == "suspects" || f.Rule == "gap") {
				voices[sym.SeriesKey] = append(voices[sym.SeriesKey], f.Title)
			}
		}
		for k, titles := range voices {
			if len(titles) > 1 {
				t.Fatalf("%s: %s has %d voices side by side: %q", b.At.Format("15:04:05"), k, len(titles), titles)
			}
		}
	}
}

// recordRest records live from now on, as `r` does: the opening, then
// every batch of rest as live steps through it. It gives the recording
// and the story live told meanwhile.
func recordRest(t *testing.T, live *correlate.Session, rest []*sources.Batch) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, replay.Header{Created: time.Unix(0, 0), Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(live.Changes())
	if err := live.OpeningThen(func(op *correlate.Opening) error { return WriteOpening(w, live.Options(), op) }); err != nil {
		t.Fatal(err)
	}
	for _, b := range rest {
		live.StepThen(b, func(b *sources.Batch) {
			if err := w.WriteBatch(b); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, Story(live.Findings(), live.Changes()[before:])
}
