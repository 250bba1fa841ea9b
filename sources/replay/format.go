// Package replay is opsview's recording: the file format that keeps every
// batch the sources returned (plus the notes people add), its writer for
// `opsview record` and the TUI's `r`, its reader, and a Player that reads a
// recording back as a source with time control for the postmortem.
//
// It must not interpret what it records: batches go in and come out as the
// sources returned them (source names, times, NaN gaps), so a replay runs
// the same engine over the same data and reaches the same findings.
//
// # File format (version 1)
//
//	magic   "OPSVREC\x00" (8 bytes)
//	version uint16 LE, reserved uint16
//	frames  repeated until the end of the file:
//	  length  uint32 LE   bytes of body (compressed), at most MaxFrame
//	  crc     uint32 LE   CRC-32C (Castagnoli) of kind|flags|at|body
//	  kind    uint8       1 header, 2 batch, 3 annotation, 4 opening
//	  flags   uint8       batch: 1 has events, 2 has node states, 4 has paths,
//	                      8 part of the opening (the state when recording began)
//	  at      int64 LE    UnixNano of the batch's At / the annotation's At (0 = none)
//	  body    DEFLATE-compressed gob of the frame's value
//
// A recording started while opsview was already running begins with its
// opening: batch frames flagged 8 that rebuild the store's window as it
// was (the history the engine judges with), then one opening frame with
// the session's settings and the engine's memory, kept here as bytes this
// package does not read. A replay starts from there, so a recording begun
// in the middle of an incident explains it as the live screen did.
//
// The first frame is always the header (format version, creation time, the
// config with secrets removed). Each frame is compressed on its own: a frame
// cut off by a crash, or a corrupt one, costs only itself and what follows,
// and notes can be appended to a finished file without rewriting it. One
// DEFLATE stream flushed per batch would not compress better: a batch of
// 1,000 series is ~96 KB of gob, three times DEFLATE's 32 KB window, so a
// stream sees no more history than a frame does (measured: 12,086 against
// 12,020 bytes a batch). The default level is both smaller and, on this
// data, faster than BestSpeed (10.4 KB in 3.5 ms against 12.0 KB in 4.2 ms).
//
// gob carries the model's structs by field name, so a field added to the
// model later is recorded without a format change, and float64 travels as
// its bits, so NaN ("no data") survives.
package replay

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// Magic starts every recording.
const Magic = "OPSVREC\x00"

// Version is the format version this package writes and reads.
const Version = 1

// MaxFrame bounds one frame, compressed and uncompressed. A batch larger
// than this is refused by the writer; a frame claiming more is corrupt.
const MaxFrame = 64 << 20

const (
	fileHeaderLen  = len(Magic) + 4
	frameHeaderLen = 4 + 4 + 1 + 1 + 8
)

// FrameKind says what a frame holds.
type FrameKind uint8

const (
	KindHeader     FrameKind = 1
	KindBatch      FrameKind = 2
	KindAnnotation FrameKind = 3
	KindOpening    FrameKind = 4
)

func (k FrameKind) String() string {
	switch k {
	case KindHeader:
		return "header"
	case KindBatch:
		return "batch"
	case KindAnnotation:
		return "annotation"
	case KindOpening:
		return "opening"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Frame flags (batch frames), so a player can find events without decoding.
const (
	FlagEvents uint8 = 1 << iota
	FlagNodes
	FlagPaths
	// FlagOpening marks a batch of the opening: the state when recording
	// began, applied before the first batch and never played in time.
	FlagOpening
)

// castagnoli is made on the first frame read or written: its tables cost
// a start-up that never touches a recording some 0.3 ms.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// Header describes a recording.
type Header struct {
	Version int
	Created time.Time
	// Config is the configuration text with secrets removed
	// (config.Config.Redacted()); the caller passes it in.
	Config string
	// Producer names what wrote the file ("opsview 1.2.0 record").
	Producer string
}

// Settings are the session settings a recording was judged with, so a
// replay judges with the same.
type Settings struct {
	Step      time.Duration // the store's clock step
	Retention time.Duration
	Window    time.Duration // the engine's look-back
	Deps      []sources.Dependency
}

// Opening is the recording's opening frame: the settings and the engine's
// memory when recording began (opaque here: the engine reads it).
type Opening struct {
	Settings Settings
	Engine   []byte
}

// Annotation is a note a person attached to a moment of a recording.
type Annotation struct {
	At      time.Time // the moment the note is about (recording time)
	Author  string
	Text    string
	Written time.Time // when it was written (wall clock)
}

// batchFrame is what a batch frame's gob holds. gob does not send empty
// slices, so NodesSet keeps "this batch replaces the node states with
// none" apart from "this batch says nothing about nodes".
type batchFrame struct {
	Batch    *sources.Batch
	NodesSet bool
}

// Frame is one whole frame as read from a file.
type Frame struct {
	Kind   FrameKind
	Flags  uint8
	At     time.Time // zero when the frame carried none
	Offset int64     // of the frame's first byte in the file
	Body   []byte    // compressed; decode with DecodeBatch etc.
}

// DamageError says where a recording stops being readable. It is a warning:
// everything before it is whole and replays.
type DamageError struct {
	Offset int64 // byte offset of the damaged frame
	Frame  int   // its number (0 = the header frame)
	Cut    bool  // the file ends inside the frame (crash, kill -9, full disk)
	Reason string
}

func (e *DamageError) Error() string {
	if e.Cut {
		return fmt.Sprintf("recording cut off at byte %d, in frame %d (%s): the recorder stopped mid-write; every frame before it replays", e.Offset, e.Frame, e.Reason)
	}
	return fmt.Sprintf("recording damaged at byte %d, in frame %d (%s): replaying the frames before it, the rest is skipped", e.Offset, e.Frame, e.Reason)
}

// ErrNotRecording is returned for a file that does not start like a
// recording.
var ErrNotRecording = errors.New("not an opsview recording (bad magic); pass a file written by `opsview record`")

// FrameReader reads frames one by one from a stream, checking length
// bounds and checksums. It never reads more than MaxFrame for one frame.
type FrameReader struct {
	r     io.Reader
	off   int64
	n     int
	hdr   [frameHeaderLen]byte
	Limit int // max body size; MaxFrame when 0
}

// NewFrameReader checks the file header and returns a reader positioned at
// the first frame.
func NewFrameReader(r io.Reader) (*FrameReader, error) {
	var fh [fileHeaderLen]byte
	n, err := io.ReadFull(r, fh[:])
	if err != nil {
		if n < len(Magic) || string(fh[:len(Magic)]) != Magic {
			return nil, ErrNotRecording
		}
		return nil, fmt.Errorf("recording header cut off after %d bytes: %w", n, ErrNotRecording)
	}
	if string(fh[:len(Magic)]) != Magic {
		return nil, ErrNotRecording
	}
	if v := binary.LittleEndian.Uint16(fh[len(Magic):]); v != Version {
		return nil, fmt.Errorf("recording format version %d, this opsview reads version %d: use the opsview release that wrote it", v, Version)
	}
	return &FrameReader{r: r, off: int64(fileHeaderLen)}, nil
}

// Next returns the next whole frame. At a clean end it returns io.EOF; a
// frame cut short or failing its checksum gives a *DamageError and the
// reader must not be used further.
func (fr *FrameReader) Next() (Frame, error) {
	limit := fr.Limit
	if limit <= 0 {
		limit = MaxFrame
	}
	start := fr.off
	n, err := io.ReadFull(fr.r, fr.hdr[:])
	if err == io.EOF {
		return Frame{}, io.EOF
	}
	if err != nil {
		return Frame{}, fr.damage(start, true, fmt.Sprintf("frame header has %d of %d bytes", n, frameHeaderLen))
	}
	size := binary.LittleEndian.Uint32(fr.hdr[0:4])
	sum := binary.LittleEndian.Uint32(fr.hdr[4:8])
	if size > uint32(limit) {
		return Frame{}, fr.damage(start, false, fmt.Sprintf("frame claims %d bytes, more than the %d MiB limit", size, limit>>20))
	}
	// grow with what really arrives, so a cut or lying length never
	// allocates the claimed size up front
	var bb bytes.Buffer
	got, err := io.CopyN(&bb, fr.r, int64(size))
	if err != nil {
		return Frame{}, fr.damage(start, true, fmt.Sprintf("frame body has %d of %d bytes", got, size))
	}
	body := bb.Bytes()
	crc := crc32.Update(0, castagnoli(), fr.hdr[8:])
	crc = crc32.Update(crc, castagnoli(), body)
	if crc != sum {
		return Frame{}, fr.damage(start, false, "checksum mismatch")
	}
	f := Frame{
		Kind:   FrameKind(fr.hdr[8]),
		Flags:  fr.hdr[9],
		Offset: start,
		Body:   body,
	}
	if at := int64(binary.LittleEndian.Uint64(fr.hdr[10:18])); at != 0 {
		f.At = time.Unix(0, at).UTC()
	}
	fr.off += int64(frameHeaderLen) + int64(size)
	fr.n++
	return f, nil
}

// Offset is the byte offset just after the last whole frame read.
func (fr *FrameReader) Offset() int64 { return fr.off }

func (fr *FrameReader) damage(off int64, cut bool, reason string) *DamageError {
	return &DamageError{Offset: off, Frame: fr.n, Cut: cut, Reason: reason}
}

// inflate decompresses a frame body, bounded by MaxFrame.
func inflate(body []byte) ([]byte, error) {
	zr := flate.NewReader(bytes.NewReader(body))
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, MaxFrame+1))
	if err != nil {
		return nil, fmt.Errorf("decompress frame: %w", err)
	}
	if len(out) > MaxFrame {
		return nil, fmt.Errorf("frame decompresses to more than the %d MiB limit", MaxFrame>>20)
	}
	return out, nil
}

func decodeGob(body []byte, v any) error {
	raw, err := inflate(body)
	if err != nil {
		return err
	}
	return decodeRaw(raw, v)
}

// decodeRaw decodes an uncompressed frame value.
func decodeRaw(raw []byte, v any) error {
	if err := checkGobLengths(raw); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	if err := gob.NewDecoder(bytes.NewReader(raw)).Decode(v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}

// DecodeBatch decodes a batch frame.
func DecodeBatch(f Frame) (*sources.Batch, error) {
	if f.Kind != KindBatch {
		return nil, fmt.Errorf("frame at byte %d is a %s, not a batch", f.Offset, f.Kind)
	}
	var bf batchFrame
	if err := decodeGob(f.Body, &bf); err != nil {
		return nil, fmt.Errorf("batch frame at byte %d: %w", f.Offset, err)
	}
	if bf.Batch == nil {
		return nil, fmt.Errorf("batch frame at byte %d is empty", f.Offset)
	}
	if bf.NodesSet && bf.Batch.Nodes == nil {
		bf.Batch.Nodes = []sources.NodeState{}
	}
	return bf.Batch, nil
}

// DecodeAnnotation decodes an annotation frame.
func DecodeAnnotation(f Frame) (Annotation, error) {
	var a Annotation
	if f.Kind != KindAnnotation {
		return a, fmt.Errorf("frame at byte %d is a %s, not an annotation", f.Offset, f.Kind)
	}
	if err := decodeGob(f.Body, &a); err != nil {
		return a, fmt.Errorf("annotation frame at byte %d: %w", f.Offset, err)
	}
	return a, nil
}

// DecodeOpening decodes an opening frame.
func DecodeOpening(f Frame) (Opening, error) {
	var o Opening
	if f.Kind != KindOpening {
		return o, fmt.Errorf("frame at byte %d is a %s, not an opening", f.Offset, f.Kind)
	}
	if err := decodeGob(f.Body, &o); err != nil {
		return o, fmt.Errorf("opening frame at byte %d: %w", f.Offset, err)
	}
	return o, nil
}

// DecodeHeader decodes the header frame.
func DecodeHeader(f Frame) (Header, error) {
	var h Header
	if f.Kind != KindHeader {
		return h, fmt.Errorf("first frame is a %s, not the header: %w", f.Kind, ErrNotRecording)
	}
	if err := decodeGob(f.Body, &h); err != nil {
		return h, fmt.Errorf("recording header: %w", err)
	}
	return h, nil
}

// checkGobLengths walks the gob messages in raw and checks that each
// claimed length fits in what is there: gob itself allocates a message's
// claimed size (up to 1 GiB) before reading it, which a damaged frame must
// not make it do.
func checkGobLengths(raw []byte) error {
	for len(raw) > 0 {
		n, w, ok := gobUint(raw)
		if !ok {
			return errors.New("gob message length cut off")
		}
		raw = raw[w:]
		if n > uint64(len(raw)) {
			return fmt.Errorf("gob message claims %d bytes, only %d left", n, len(raw))
		}
		raw = raw[n:]
	}
	return nil
}

// gobUint reads gob's unsigned integer encoding: one byte below 128, else
// a byte holding minus the count of big-endian bytes that follow.
func gobUint(b []byte) (v uint64, width int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1, true
	}
	n := -int(int8(b[0]))
	if n > 8 || len(b) < 1+n {
		return 0, 0, false
	}
	for _, c := range b[1 : 1+n] {
		v = v<<8 | uint64(c)
	}
	return v, 1 + n, true
}
