package replay

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// fakeClock is a wall clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func recordToFile(t *testing.T, batches []*sources.Batch, notes []Annotation) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "incident.opsrec")
	w, err := Create(path, Header{Created: t0, Config: "sources: []\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := w.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range notes {
		if err := w.WriteAnnotation(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlayerTimeControl(t *testing.T) {
	batches := incidentBatches()
	path := recordToFile(t, batches, []Annotation{{At: t0.Add(4 * time.Minute), Author: "ana", Text: "failover"}})
	rec, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	clk := &fakeClock{t: time.Unix(2e9, 0)}
	p := NewPlayer(rec, PlayerOptions{Clock: clk.Now})

	// paused at the start: only the first batch is due
	due, _ := p.Drain()
	if len(due) != 1 || due[0].Source != "lb-1" || !due[0].At.Equal(t0) {
		t.Fatalf("at start: %d batches", len(due))
	}
	clk.Add(time.Minute)
	if due, _ := p.Drain(); len(due) != 0 {
		t.Fatalf("paused player handed out %d batches", len(due))
	}
	if err := p.SetSpeed(61); err == nil {
		t.Fatal("speed 61 accepted")
	}
	if err := p.SetSpeed(0.5); err == nil {
		t.Fatal("speed 0.5 accepted")
	}
	p.SetSpeed(10)
	p.Play()
	clk.Add(5 * time.Second) // 50 s of recording
	if got := p.Position(); !got.Equal(t0.Add(50 * time.Second)) {
		t.Fatalf("position %v", got)
	}
	due, _ = p.Drain()
	// batches after 0 up to 50 s: lb at 10,…,50 and prom at 2,…,42
	if len(due) != 10 {
		t.Fatalf("drained %d batches, want 10", len(due))
	}
	for _, b := range due {
		if b.Source != "lb-1" && b.Source != "prom" || b.At.After(t0.Add(50*time.Second)) {
			t.Fatalf("batch %s at %v", b.Source, b.At)
		}
	}
	p.Pause()
	clk.Add(time.Hour)
	if got := p.Position(); !got.Equal(t0.Add(50 * time.Second)) {
		t.Fatalf("paused position moved to %v", got)
	}

	at, reset, ok := p.NextEvent()
	if !ok || reset || !at.Equal(t0.Add(120*time.Second)) {
		t.Fatalf("NextEvent %v %v %v", at, reset, ok)
	}
	due, _ = p.Drain()
	if last := due[len(due)-1]; len(last.Events) != 1 || last.Events[0].Title != "server app-2 DOWN" {
		t.Fatalf("NextEvent did not land on the DOWN event: %+v", last.Events)
	}
	a, _, ok := p.NextAnnotation()
	if !ok || a.Text != "failover" {
		t.Fatalf("NextAnnotation %+v %v", a, ok)
	}
	at, _, ok = p.NextMoment([]time.Time{t0, t0.Add(4 * time.Minute), t0.Add(5 * time.Minute)})
	if !ok || !at.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("NextMoment %v %v", at, ok)
	}
	// back in time: the caller must rebuild, and gets everything again
	if reset := p.Seek(t0.Add(30 * time.Second)); !reset {
		t.Fatal("seeking back did not ask for a reset")
	}
	due, _ = p.Drain()
	if len(due) != 7 || !due[0].At.Equal(t0) {
		t.Fatalf("after reset drained %d batches", len(due))
	}
	if at, _, ok := p.PrevEvent(); ok {
		t.Fatalf("PrevEvent before any event: %v", at)
	}
	p.Seek(t0.Add(24 * time.Hour))
	p.Drain()
	if !p.Done() || !p.Position().Equal(p.End()) {
		t.Fatalf("seek past the end: done %v at %v", p.Done(), p.Position())
	}
}

// The same file replayed twice, drained at different moments, hands out
// the same batches in the same order.
func TestReplayIsDeterministic(t *testing.T) {
	path := recordToFile(t, incidentBatches(), nil)
	run := func(stepMs int) string {
		rec, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Close()
		clk := &fakeClock{t: time.Unix(3e9, 0)}
		p := NewPlayer(rec, PlayerOptions{Clock: clk.Now})
		p.SetSpeed(60)
		p.Play()
		var b strings.Builder
		for !p.Done() {
			due, _ := p.Drain()
			for _, x := range due {
				b.WriteString(dump(x))
			}
			clk.Add(time.Duration(stepMs) * time.Millisecond)
		}
		return b.String()
	}
	if a, b := run(100), run(2300); a != b || a == "" {
		t.Fatal("two replays of one file differ")
	}
}

func TestReplaySourceFromConfig(t *testing.T) {
	path := recordToFile(t, incidentBatches(), nil)
	kind, ok := sources.Lookup("replay")
	if !ok {
		t.Fatal("type replay not registered")
	}
	if !strings.HasPrefix(kind.Example, "- name:") {
		t.Fatalf("example %q", kind.Example)
	}
	opts, err := config.OptionsFromYAML("test.yaml", "file: "+path+"\nspeed: 60\n")
	if err != nil {
		t.Fatal(err)
	}
	src, err := kind.New(sources.Env{Name: "pm"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.(sources.Closer).Close()
	clk := &fakeClock{t: time.Unix(4e9, 0)}
	src.(*Source).clock = clk.Now
	b, err := src.Poll(context.Background(), sources.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) != 1 || b.Series[0].Labels["recorded_from"] != "lb-1" || b.Nodes == nil || b.Nodes[0].Name != "app-2" {
		t.Fatalf("first poll %+v", b)
	}
	if b.Status.Detail != "replay 2026-03-14 02:00:00 (60×)" {
		t.Fatalf("detail %q", b.Status.Detail)
	}
	// a second of wall time is a minute of recording at 60×: lb-1 at
	// 10…60 s and prom at 2…52 s, one series each
	clk.Add(time.Second)
	b, err = src.Poll(context.Background(), sources.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) != 12 || !b.At.Equal(t0.Add(time.Minute)) || b.Status.Detail != "replay 2026-03-14 02:01:00 (60×)" {
		t.Fatalf("second poll: %d series at %v, %q", len(b.Series), b.At, b.Status.Detail)
	}

	for _, bad := range []string{"speed: 2\n", "file: " + path + "\nspeed: 99\n", "file: x\nbogus: 1\n"} {
		o, err := config.OptionsFromYAML("test.yaml", bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kind.New(sources.Env{Name: "pm"}, o); err == nil {
			t.Fatalf("options %q accepted", bad)
		}
	}
	// a missing file loads (the config is fine) and fails at the poll, naming the path
	o, _ := config.OptionsFromYAML("test.yaml", "file: /nonexistent/x.opsrec\n")
	missing, err := kind.New(sources.Env{Name: "pm"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.Poll(context.Background(), sources.Request{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/x.opsrec") {
		t.Fatalf("missing file: %v", err)
	}
	// a file that is not a recording fails at the poll, with a reason
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("hello"), 0o600)
	o, _ = config.OptionsFromYAML("test.yaml", "file: "+junk+"\n")
	s2, err := kind.New(sources.Env{Name: "pm"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Poll(context.Background(), sources.Request{}); err == nil || !strings.Contains(err.Error(), "not an opsview recording") {
		t.Fatalf("junk file: %v", err)
	}
}

func TestAnnotateDuringReplay(t *testing.T) {
	path := recordToFile(t, incidentBatches(), []Annotation{{At: t0.Add(4 * time.Minute), Author: "ana", Text: "failover"}})
	rec, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	p := NewPlayer(rec, PlayerOptions{})
	if err := p.Annotate(Annotation{At: t0.Add(2 * time.Minute), Author: "bo", Text: "first 5xx\x1b]0;evil\x07"}); err != nil {
		t.Fatal(err)
	}
	notes := p.Annotations()
	if len(notes) != 2 || notes[0].Author != "bo" || notes[0].Text != "first 5xx" {
		t.Fatalf("notes %+v", notes)
	}
	// the note is in the file, and the open recording still reads its batches
	again, err := Open(path)
	if err != nil || len(again.Annotations) != 2 {
		t.Fatalf("reopened: %v, %d notes", err, len(again.Annotations))
	}
	again.Close()
	if _, err := rec.Batch(rec.Len() - 1); err != nil {
		t.Fatal(err)
	}
}

func TestRecordStopsAfterDurationOrCancel(t *testing.T) {
	dir := t.TempDir()
	// nothing arrives: only the duration ends the recording
	w, err := Create(filepath.Join(dir, "quiet.opsrec"), Header{Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := Record(context.Background(), w, make(chan *sources.Batch), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteBatch(incidentBatches()[0]); err == nil {
		t.Fatal("the writer accepted a batch after Record closed it")
	}

	// five batches handed over one by one, then the user stops it
	path := filepath.Join(dir, "headless.opsrec")
	w, err = Create(path, Header{Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *sources.Batch)
	done := make(chan error, 1)
	go func() { done <- Record(ctx, w, in, time.Hour) }()
	for _, b := range incidentBatches()[:5] {
		in <- b
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if rec.Len() != 5 || rec.Warning != nil {
		t.Fatalf("%d batches, %v", rec.Len(), rec.Warning)
	}
}

// Batches from different sources can land in the file slightly out of
// time order; seeking back before any batch handed out still resets.
func TestSeekBackResetsWithOutOfOrderBatches(t *testing.T) {
	batches := []*sources.Batch{
		{Source: "a", At: t0},
		{Source: "b", At: t0.Add(100 * time.Second)},
		{Source: "c", At: t0.Add(95 * time.Second)},
	}
	rec := loadBytes(t, writeRecording(t, batches, nil))
	clk := &fakeClock{t: time.Unix(5e9, 0)}
	p := NewPlayer(rec, PlayerOptions{Clock: clk.Now})
	p.Seek(t0.Add(100 * time.Second))
	if due, _ := p.Drain(); len(due) != 3 || due[1].Source != "b" || due[2].Source != "c" {
		t.Fatalf("drained %d", len(due))
	}
	if !p.Seek(t0.Add(97 * time.Second)) {
		t.Fatal("seeking before a batch already handed out did not ask for a reset")
	}
	if due, _ := p.Drain(); len(due) != 1 || due[0].Source != "a" {
		t.Fatalf("after reset drained %d", len(due))
	}
}
