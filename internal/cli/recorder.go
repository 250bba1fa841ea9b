package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
	"github.com/opsview/opsview/ui"
)

// liveRecorder is the TUI's `r`: it starts and stops writing the
// session's opening and then every batch the runtime judges to a
// recording file.
type liveRecorder struct {
	rt   *app.Runtime
	hdr  replay.Header
	logf func(string, ...any)
	path func() string

	mu   sync.Mutex // the toggle's state
	w    *replay.Writer
	file string

	errMu sync.Mutex // taken by the tap, under the session's lock: never with mu held by the tap
	err   error
}

// screenRecordingPath names what `R` records by the time the screen
// shows (the store's newest time: the demo's scenario clock, the wall
// clock live), so the file and the screen agree.
func screenRecordingPath(rt *app.Runtime) string {
	if at := rt.Session.Store().Now(); !at.IsZero() {
		return recordingPathAt(at.In(time.Local))
	}
	return defaultRecordingPath()
}

// R, not r: r is "reset" in mtr, which the Paths view resembles
var recordKey = key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "record on / off (for replay and export)"))

func (r *liveRecorder) key(msg tea.KeyPressMsg, _ *ui.Context) (bool, tea.Cmd) {
	if !key.Matches(msg, recordKey) {
		return false, nil
	}
	r.toggle()
	return true, func() tea.Msg { return ui.DataMsg{} }
}

func (r *liveRecorder) setErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.err = err
}

func (r *liveRecorder) lastErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

func (r *liveRecorder) toggle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil {
		_ = r.rt.Record(nil, nil)
		if err := r.w.Close(); err != nil {
			r.logf("recording %s: %v", r.file, err)
		}
		r.logf("recording stopped: %s (%d frames)", r.file, r.w.Frames())
		r.w = nil
		return
	}
	r.file = r.path()
	w, err := startRecording(r.rt, r.file, r.hdr, func(err error) {
		if r.lastErr() == nil {
			r.logf("recording %s: %v", r.file, err)
		}
		r.setErr(err)
	})
	r.setErr(err)
	if err != nil {
		r.logf("recording: %v", err)
		return
	}
	r.w = w
	r.logf("recording to %s", r.file)
}

// startRecording creates the file, writes the session's opening (the
// window the engine judges with and its open findings) and then every
// batch the runtime judges; failed hears a write that failed.
func startRecording(rt *app.Runtime, path string, hdr replay.Header, failed func(error)) (*replay.Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	w, err := replay.Create(path, hdr)
	if err != nil {
		return nil, err
	}
	err = rt.Record(func(op *correlate.Opening) error {
		return app.WriteOpening(w, rt.Session.Options(), op)
	}, func(b *sources.Batch) {
		if err := w.WriteBatch(b); err != nil {
			failed(err)
		}
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// badge is the header's REC mark.
func (r *liveRecorder) badge() string {
	r.mu.Lock()
	on := r.w != nil
	file := r.file
	r.mu.Unlock()
	err := r.lastErr()
	switch {
	case on && err != nil:
		return "REC failing: " + err.Error()
	case on:
		return fmt.Sprintf("● REC %s", filepath.Base(file))
	case err != nil:
		return "REC failed: " + err.Error()
	}
	return ""
}

// stop closes a recording still open when the TUI ends.
func (r *liveRecorder) stop() {
	r.mu.Lock()
	on := r.w != nil
	r.mu.Unlock()
	if on {
		r.toggle()
	}
}
