package replay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// FrameInfo locates one batch frame of a recording without decoding it.
type FrameInfo struct {
	At     time.Time
	Flags  uint8
	offset int64 // of the compressed body
	size   int
}

// Recording is a recording read back: its header, an index of its batch
// frames, and its annotations. Batches are decoded on demand, so a long
// recording does not have to fit in memory decoded.
type Recording struct {
	Path    string
	Header  Header
	Batches []FrameInfo // batch frames in file order, the opening's left out
	// OpeningBatches rebuild the store's window as it was when recording
	// began (see Opening); empty for a recording made from the start.
	OpeningBatches []FrameInfo
	// Opening is the settings and engine memory when recording began; nil
	// when the file has none (an older recording).
	Opening     *Opening
	Annotations []Annotation // sorted by At, then in file order
	// Warning is nil for a whole file, or a *DamageError when the file was
	// cut off (crash, kill -9) or is damaged: every whole frame before the
	// damage is here. It is a warning to show, not a failure.
	Warning error
	// Size is the byte length of the whole frames.
	Size int64

	r      io.ReaderAt
	closer io.Closer
}

// Open reads a recording file: every whole frame up to the end of the file
// or to the first damaged frame (see Recording.Warning). Close it when done.
func Open(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open recording: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open recording: %w", err)
	}
	rec, err := Load(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("recording %s: %w", path, err)
	}
	rec.Path = path
	rec.closer = f
	return rec, nil
}

// Load reads a recording from r (size bytes long).
func Load(r io.ReaderAt, size int64) (*Recording, error) {
	bufSize := 256 << 10
	if size < int64(bufSize) {
		bufSize = max(int(size), 16)
	}
	fr, err := NewFrameReader(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), bufSize))
	if err != nil {
		return nil, err
	}
	rec := &Recording{r: r}
	first, err := fr.Next()
	if err != nil {
		var d *DamageError
		if errors.As(err, &d) || err == io.EOF {
			return nil, fmt.Errorf("header frame unreadable (%v): %w", err, ErrNotRecording)
		}
		return nil, err
	}
	if rec.Header, err = DecodeHeader(first); err != nil {
		return nil, err
	}
	for {
		f, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rec.Warning = err
			break
		}
		switch f.Kind {
		case KindBatch:
			fi := FrameInfo{At: f.At, Flags: f.Flags, offset: f.Offset + int64(frameHeaderLen), size: len(f.Body)}
			if f.Flags&FlagOpening != 0 {
				rec.OpeningBatches = append(rec.OpeningBatches, fi)
			} else {
				rec.Batches = append(rec.Batches, fi)
			}
		case KindOpening:
			o, err := DecodeOpening(f)
			if err != nil {
				rec.Warning = &DamageError{Offset: f.Offset, Frame: fr.n - 1, Reason: err.Error()}
				break
			}
			rec.Opening = &o
		case KindAnnotation:
			a, err := DecodeAnnotation(f)
			if err != nil {
				rec.Warning = &DamageError{Offset: f.Offset, Frame: fr.n - 1, Reason: err.Error()}
				break
			}
			rec.Annotations = append(rec.Annotations, a)
		default:
			// a newer writer's frame kind: skip it, whole frames stay readable
		}
		if rec.Warning != nil {
			break
		}
	}
	rec.Size = fr.Offset()
	if rec.Warning != nil {
		var d *DamageError
		if errors.As(rec.Warning, &d) {
			rec.Size = d.Offset
		}
	}
	sort.SliceStable(rec.Annotations, func(i, j int) bool { return rec.Annotations[i].At.Before(rec.Annotations[j].At) })
	return rec, nil
}

// Close releases the file.
func (r *Recording) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Len is the number of batches.
func (r *Recording) Len() int { return len(r.Batches) }

// Batch decodes batch i (in file order).
func (r *Recording) Batch(i int) (*sources.Batch, error) {
	if i < 0 || i >= len(r.Batches) {
		return nil, fmt.Errorf("batch %d out of range (recording has %d)", i, len(r.Batches))
	}
	return r.decode(r.Batches[i], i)
}

// Opened decodes the opening's batches, in file order.
func (r *Recording) Opened() ([]*sources.Batch, error) {
	out := make([]*sources.Batch, 0, len(r.OpeningBatches))
	for i, fi := range r.OpeningBatches {
		b, err := r.decode(fi, i)
		if err != nil {
			return nil, fmt.Errorf("opening: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

func (r *Recording) decode(fi FrameInfo, i int) (*sources.Batch, error) {
	body := make([]byte, fi.size)
	if _, err := r.r.ReadAt(body, fi.offset); err != nil {
		return nil, fmt.Errorf("read batch %d: %w", i, err)
	}
	return DecodeBatch(Frame{Kind: KindBatch, Flags: fi.Flags, At: fi.At, Offset: fi.offset - int64(frameHeaderLen), Body: body})
}

// Window is the time of the first and the last batch (zero when empty).
func (r *Recording) Window() (from, until time.Time) {
	for _, b := range r.Batches {
		if b.At.IsZero() {
			continue
		}
		if from.IsZero() || b.At.Before(from) {
			from = b.At
		}
		if b.At.After(until) {
			until = b.At
		}
	}
	return from, until
}

// EachWhole decodes the batches in file order and calls fn with every one
// that decodes. A batch that does not (its checksum held, its body does
// not decode) is skipped, as the Player skips it, and returned among the
// skipped: each error names the batch and its time.
func (r *Recording) EachWhole(fn func(i int, b *sources.Batch)) (skipped []error) {
	for i := range r.Batches {
		b, err := r.Batch(i)
		if err != nil {
			skipped = append(skipped, r.skipped(i, err))
			continue
		}
		fn(i, b)
	}
	return skipped
}

// skipped says which batch could not be decoded and that it is left out:
// the words of the replay and of the export.
func (r *Recording) skipped(i int, err error) error {
	return fmt.Errorf("batch %d of %d (%s) is damaged and was skipped: %w",
		i+1, len(r.Batches), r.Batches[i].At.UTC().Format("2006-01-02 15:04:05 MST"), err)
}

// Each decodes the batches in file order and calls fn with each; it stops
// at the first error (a decode error names the batch). EachWhole skips
// damaged batches instead.
func (r *Recording) Each(fn func(i int, b *sources.Batch) error) error {
	for i := range r.Batches {
		b, err := r.Batch(i)
		if err != nil {
			return err
		}
		if err := fn(i, b); err != nil {
			return err
		}
	}
	return nil
}
