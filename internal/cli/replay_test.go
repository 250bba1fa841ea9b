package cli

import (
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/demo"
	"github.com/opsview/opsview/sources/replay"
	"github.com/opsview/opsview/ui"
)

// writeDemoRecording records 10 minutes of the demo's load balancer.
func writeDemoRecording(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.opsrec")
	w, err := replay.Create(path, replay.Header{Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	real := start
	world := demo.NewWorld(demo.NewClock(start, 1), 5*time.Second, func() time.Time { return real })
	for i := 0; i < 60; i++ {
		real = start.Add(time.Duration(i) * 10 * time.Second)
		b := world.Batch("lb-1", i == 0, 10*time.Minute)
		b.Source, b.Type = "lb-1", "demo"
		b.Status = sources.Status{Source: "lb-1", Type: "demo", Health: sources.HealthOK}
		if err := w.WriteBatch(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(cmd tea.Cmd) tea.Msg {
	if cmd == nil {
		return nil
	}
	return cmd()
}

// Replay drives the recorded batches into the runtime, space pauses, +
// speeds up, and a writes a note into the recording and onto the timeline.
func TestReplayKeysAndNotes(t *testing.T) {
	path := writeDemoRecording(t)
	rec, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	rt, err := app.NewReplay(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := replay.NewPlayer(rec, replay.PlayerOptions{})
	r := &replayer{player: p, rt: rt}
	_ = p.SetSpeed(60)
	p.Play()
	deadline := time.Now().Add(20 * time.Second)
	for !p.Done() {
		r.drain()
		if time.Now().After(deadline) {
			t.Fatal("replay at 60x did not finish 10 minutes in 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	snap := rt.Store().Snapshot(rt.Store().Now().Add(-15*time.Minute), rt.Store().Now(), nil)
	if len(snap.Series) == 0 || len(snap.Status) != 1 || snap.Status[0].Source != "lb-1" {
		t.Fatalf("replayed store: %d series, status %+v", len(snap.Series), snap.Status)
	}

	if handled, _ := r.key(tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}, nil); !handled || p.Playing() {
		t.Errorf("space should pause (handled %v, playing %v)", handled, p.Playing())
	}
	r.key(tea.KeyPressMsg{Code: '+', Text: "+"}, nil)
	if p.Speed() <= 1 {
		t.Errorf("speed %v after +", p.Speed())
	}
	if handled, _ := r.key(tea.KeyPressMsg{Code: 'x', Text: "x"}, nil); handled {
		t.Error("x is not a replay key")
	}

	ctx := &ui.Context{Snap: snap, Cursor: 5}
	handled, cmd := r.key(tea.KeyPressMsg{Code: 'm', Text: "m"}, ctx)
	prompt, ok := runCmd(cmd).(ui.PromptMsg)
	if !handled || !ok {
		t.Fatalf("a should ask for a note (handled %v, %T)", handled, runCmd(cmd))
	}
	if _, isData := runCmd(prompt.Submit("volume replaced")).(ui.DataMsg); !isData {
		t.Error("submitting a note should refresh the screen")
	}
	again, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if len(again.Annotations) != 1 || again.Annotations[0].Text != "volume replaced" || !again.Annotations[0].At.Equal(snap.Time(5)) {
		t.Fatalf("annotations in the file: %+v", again.Annotations)
	}
	snap = rt.Store().Snapshot(snap.Time(0), rt.Store().Now(), nil)
	found := false
	for _, e := range snap.Events {
		if e.Source == "notes" && e.Text == "volume replaced" {
			found = true
		}
	}
	if !found {
		t.Error("the note is not on the timeline")
	}
}
