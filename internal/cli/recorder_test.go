package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/sources/replay"
)

// `r` in the TUI records what the sources return; `r` again stops, and the
// file replays.
func TestRecordKeyTogglesARecording(t *testing.T) {
	w := demo.NewWorld(demo.NewClock(time.Now(), 5), 5*time.Second, time.Now)
	rt := app.New(app.Options{Entries: w.Entries()})
	file := filepath.Join(t.TempDir(), "tui.opsrec")
	r := &liveRecorder{rt: rt, hdr: replay.Header{Producer: "test"}, logf: t.Logf, path: func() string { return file }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(ctx, nil); close(done) }()
	defer func() { cancel(); <-done }()

	if handled, _ := r.key(tea.KeyPressMsg{Code: 'x', Text: "x"}, nil); handled {
		t.Fatal("x is not the record key")
	}
	if handled, _ := r.key(tea.KeyPressMsg{Code: 'R', Text: "R"}, nil); !handled {
		t.Fatal("r not handled")
	}
	if b := r.badge(); !strings.Contains(b, "REC") || !strings.Contains(b, "tui.opsrec") {
		t.Fatalf("badge %q", b)
	}
	// Demo sources poll every second; on a loaded machine a poll can take
	// longer, so wait for the batches (two a source) rather than a fixed time.
	r.mu.Lock()
	rw := r.w
	r.mu.Unlock()
	start := rw.Frames()
	for deadline := time.Now().Add(30 * time.Second); rw.Frames()-start < 2*len(demo.Names) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	r.key(tea.KeyPressMsg{Code: 'R', Text: "R"}, nil)
	if b := r.badge(); b != "" {
		t.Fatalf("badge after stop %q", b)
	}
	rec, err := replay.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if rec.Warning != nil || rec.Len() < len(demo.Names) {
		t.Fatalf("%d batches, warning %v", rec.Len(), rec.Warning)
	}
	seen := map[string]bool{}
	for i := 0; i < rec.Len(); i++ {
		b, err := rec.Batch(i)
		if err != nil {
			t.Fatal(err)
		}
		seen[b.Source] = true
	}
	for _, n := range demo.Names {
		if !seen[n] {
			t.Errorf("no batch from %s", n)
		}
	}
}

// TestDemoRecordingIsNamedByTheDemoClock: in the demo the screen shows
// scenario time, so the recording `R` starts is named by it, not by the
// wall clock.
func TestDemoRecordingIsNamedByTheDemoClock(t *testing.T) {
	real := time.Date(2026, 11, 23, 9, 30, 0, 0, time.Local)
	clk := demo.NewClock(real, 5)
	w := demo.NewWorld(clk, 5*time.Second, func() time.Time { return real })
	rt := app.New(app.Options{Entries: w.Entries()})
	for _, name := range demo.Names {
		b := w.Batch(name, true, time.Hour)
		b.Source, b.Type = name, "demo"
		rt.Session.Step(b)
	}
	shown := rt.Session.Store().Now()
	got := filepath.Base(screenRecordingPath(rt))
	if want := "opsview-" + shown.In(time.Local).Format("20060102-150405") + ".opsrec"; got != want || shown.Equal(real) {
		t.Fatalf("recording %s, want %s (screen clock %s, wall %s)", got, want, shown, real)
	}
}
