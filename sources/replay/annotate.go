package replay

import (
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
)

// AppendAnnotation adds a note to a finished recording. It takes the
// file's lock (so it never interleaves with a running recorder), drops a
// torn last frame left by a crash (it could never be read), and appends
// the note as a frame of its own. A recording damaged in the middle is
// refused rather than cut further.
func AppendAnnotation(path string, a Annotation) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	defer f.Close()
	unlock, err := lockFile(f)
	if err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	defer unlock()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	rec, err := Load(f, st.Size())
	if err != nil {
		return fmt.Errorf("annotate %s: %w", path, err)
	}
	if rec.Warning != nil {
		var d *DamageError
		if !errors.As(rec.Warning, &d) || !d.Cut {
			return fmt.Errorf("annotate %s: %w; not writing into a damaged recording (annotate a copy cut at byte %d)", path, rec.Warning, rec.Size)
		}
		if err := f.Truncate(rec.Size); err != nil {
			return fmt.Errorf("annotate: drop the torn last frame: %w", err)
		}
	}
	if _, err := f.Seek(rec.Size, io.SeekStart); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	zw, _ := flate.NewWriter(io.Discard, flate.DefaultCompression)
	w := &Writer{dst: f, bw: bufio.NewWriter(f), zw: zw}
	if err := w.WriteAnnotation(a); err != nil {
		return fmt.Errorf("annotate %s: %w", path, err)
	}
	w.mu.Lock()
	err = w.flushLocked()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("annotate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("annotate %s: sync: %w", path, err)
	}
	return nil
}
