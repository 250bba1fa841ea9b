package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
	"github.com/opsview/opsview/ui"
)

// liveRecorder is the TUI's `r`: it starts and stops writing every batch
// the runtime sees to a recording file.
type liveRecorder struct {
	rt   *app.Runtime
	hdr  replay.Header
	logf func(string, ...any)
	path func() string

	mu   sync.Mutex
	w    *replay.Writer
	file string
	err  error
}

var recordKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "record on / off (for replay and export)"))

func (r *liveRecorder) key(msg tea.KeyPressMsg, _ *ui.Context) (bool, tea.Cmd) {
	if !key.Matches(msg, recordKey) {
		return false, nil
	}
	r.toggle()
	return true, func() tea.Msg { return ui.DataMsg{} }
}

func (r *liveRecorder) toggle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil {
		r.rt.SetTap(nil)
		if err := r.w.Close(); err != nil {
			r.logf("recording %s: %v", r.file, err)
		}
		r.logf("recording stopped: %s (%d frames)", r.file, r.w.Frames())
		r.w = nil
		return
	}
	r.file = r.path()
	if err := os.MkdirAll(filepath.Dir(r.file), 0o700); err != nil {
		r.err = err
		return
	}
	w, err := replay.Create(r.file, r.hdr)
	if err != nil {
		r.err = err
		r.logf("recording: %v", err)
		return
	}
	r.w, r.err = w, nil
	r.logf("recording to %s", r.file)
	r.rt.SetTap(func(b *sources.Batch) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.w == nil {
			return
		}
		if err := r.w.WriteBatch(b); err != nil && r.err == nil {
			r.err = err
			r.logf("recording %s: %v", r.file, err)
		}
	})
}

// badge is the header's REC mark.
func (r *liveRecorder) badge() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.w != nil && r.err != nil:
		return "REC failing: " + r.err.Error()
	case r.w != nil:
		return fmt.Sprintf("● REC %s", filepath.Base(r.file))
	case r.err != nil:
		return "REC failed: " + r.err.Error()
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
