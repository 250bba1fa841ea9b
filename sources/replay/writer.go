package replay

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// FlushInterval is the longest a written frame waits in the writer's
// buffer before it reaches the file.
const FlushInterval = time.Second

// Writer appends frames to a recording. It is safe for concurrent use (the
// TUI's annotations and the batch stream may write from different
// goroutines). Frames reach the underlying writer at most FlushInterval
// after they were written, and at once on Flush and Close.
type Writer struct {
	mu         sync.Mutex
	dst        io.Writer
	bw         *bufio.Writer
	zw         *flate.Writer
	raw        bytes.Buffer
	zbuf       bytes.Buffer
	maxFrame   int // MaxFrame; smaller in tests
	timer      *time.Timer
	timerArmed bool
	err        error // sticky: the first write error
	closed     bool
	file       *os.File // set when the writer owns the file (Create)
	unlock     func()
	frames     int
	written    int64
}

// NewWriter starts a recording on w: it writes the file header and the
// header frame at once. When w is an *os.File it takes an exclusive lock
// on it for as long as the writer is open. Close does not close w.
func NewWriter(w io.Writer, hdr Header) (*Writer, error) {
	zw, err := flate.NewWriter(io.Discard, flate.DefaultCompression)
	if err != nil {
		return nil, err
	}
	wr := &Writer{dst: w, bw: bufio.NewWriterSize(w, 256<<10), zw: zw, maxFrame: MaxFrame}
	if f, ok := w.(*os.File); ok {
		unlock, err := lockFile(f)
		if err != nil {
			return nil, err
		}
		wr.unlock = unlock
	}
	var fh [fileHeaderLen]byte
	copy(fh[:], Magic)
	binary.LittleEndian.PutUint16(fh[len(Magic):], Version)
	if _, err := wr.bw.Write(fh[:]); err != nil {
		wr.release()
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	wr.written = int64(fileHeaderLen)
	hdr.Version = Version
	wr.mu.Lock()
	err = wr.writeFrame(KindHeader, 0, time.Time{}, hdr)
	if err == nil {
		err = wr.flushLocked()
	}
	wr.mu.Unlock()
	if err != nil {
		wr.release()
		return nil, err
	}
	return wr, nil
}

// Create makes a new recording file (never overwriting one) and a writer
// that owns it: Close closes the file.
func Create(path string, hdr Header) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("recording %s already exists: choose another --out or remove it", path)
		}
		return nil, fmt.Errorf("create recording: %w", err)
	}
	w, err := NewWriter(f, hdr)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	w.file = f
	return w, nil
}

// WriteBatch appends one batch as the sources returned it.
func (w *Writer) WriteBatch(b *sources.Batch) error { return w.writeBatch(b, 0) }

// WriteOpening writes the state when recording began: the batches that
// rebuild the store's window, then the settings and the engine's memory.
// Call it once, before the first WriteBatch.
func (w *Writer) WriteOpening(o Opening, batches []*sources.Batch) error {
	for _, b := range batches {
		if err := w.writeBatch(b, FlagOpening); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeFrame(KindOpening, 0, time.Time{}, o); err != nil {
		return fmt.Errorf("record opening: %w", err)
	}
	return nil
}

func (w *Writer) writeBatch(b *sources.Batch, flags uint8) error {
	if b == nil {
		return errors.New("record: nil batch")
	}
	if len(b.Events) > 0 {
		flags |= FlagEvents
	}
	if b.Nodes != nil {
		flags |= FlagNodes
	}
	if len(b.Paths) > 0 {
		flags |= FlagPaths
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeFrame(KindBatch, flags, b.At, batchFrame{Batch: b, NodesSet: b.Nodes != nil}); err != nil {
		return fmt.Errorf("record batch from %s: %w", b.Source, err)
	}
	return nil
}

// WriteAnnotation appends a note.
func (w *Writer) WriteAnnotation(a Annotation) error {
	a.Author, a.Text = sources.Clean(a.Author), sources.CleanText(a.Text)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeFrame(KindAnnotation, 0, a.At, a); err != nil {
		return fmt.Errorf("record annotation: %w", err)
	}
	return nil
}

// Frames is how many frames (header included) were written.
func (w *Writer) Frames() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frames
}

// Size is how many bytes were written so far (buffered included).
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// Flush sends every buffered frame to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close flushes, syncs a file to disk and releases the lock. It closes the
// file only when the writer was made by Create.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	err := w.flushLocked()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	if s, ok := w.dst.(interface{ Sync() error }); ok && err == nil {
		if serr := s.Sync(); serr != nil {
			err = fmt.Errorf("sync recording: %w", serr)
		}
	}
	w.release()
	if w.file != nil {
		if cerr := w.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close recording: %w", cerr)
		}
	}
	return err
}

func (w *Writer) release() {
	if w.unlock != nil {
		w.unlock()
		w.unlock = nil
	}
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write recording: %w", err)
		return w.err
	}
	return nil
}

// writeFrame encodes v into one frame and buffers it. w.mu is held.
func (w *Writer) writeFrame(kind FrameKind, flags uint8, at time.Time, v any) error {
	if w.closed {
		return errors.New("recording is closed")
	}
	if w.err != nil {
		return w.err
	}
	w.raw.Reset()
	if err := gob.NewEncoder(&w.raw).Encode(v); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	limit := w.maxFrame
	if limit <= 0 {
		limit = MaxFrame
	}
	if w.raw.Len() > limit {
		return fmt.Errorf("frame is %d KiB, more than the %d MiB limit: not recorded (split the source's batches)", w.raw.Len()>>10, limit>>20)
	}
	w.zbuf.Reset()
	w.zw.Reset(&w.zbuf)
	if _, err := w.zw.Write(w.raw.Bytes()); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	var hdr [frameHeaderLen]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(w.zbuf.Len()))
	hdr[8] = byte(kind)
	hdr[9] = flags
	var nanos int64
	if !at.IsZero() {
		nanos = at.UnixNano()
	}
	binary.LittleEndian.PutUint64(hdr[10:18], uint64(nanos))
	crc := crc32.Update(0, castagnoli(), hdr[8:])
	crc = crc32.Update(crc, castagnoli(), w.zbuf.Bytes())
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
	if _, err := w.bw.Write(hdr[:]); err != nil {
		w.err = fmt.Errorf("write recording: %w", err)
		return w.err
	}
	if _, err := w.bw.Write(w.zbuf.Bytes()); err != nil {
		w.err = fmt.Errorf("write recording: %w", err)
		return w.err
	}
	w.frames++
	w.written += int64(frameHeaderLen + w.zbuf.Len())
	w.armFlush()
	return nil
}

// armFlush makes sure buffered frames reach the file within FlushInterval
// even when no further frame comes to push them out.
func (w *Writer) armFlush() {
	// an armed timer already covers the older buffered bytes
	if w.bw.Buffered() == 0 || w.timerArmed {
		return
	}
	w.timerArmed = true
	if w.timer == nil {
		w.timer = time.AfterFunc(FlushInterval, w.timedFlush)
		return
	}
	w.timer.Reset(FlushInterval)
}

func (w *Writer) timedFlush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timerArmed = false
	if w.closed {
		return
	}
	_ = w.flushLocked()
}
