package replay

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

func dump(b *sources.Batch) string { return fmt.Sprintf("%+v", *b) }

func TestRecordingRoundTripKeepsEverythingIncludingNaN(t *testing.T) {
	in := incidentBatches()
	// a batch that says "no node states any more" must stay apart from one
	// that says nothing about nodes
	in = append(in, &sources.Batch{Source: "lb-1", At: t0.Add(time.Hour), Nodes: []sources.NodeState{}})
	in = append(in, &sources.Batch{Source: "probe", At: t0.Add(time.Hour), Paths: []sources.PathTrace{{
		Vantage: "bastion", Target: "db-1", At: t0.Add(time.Hour), Rounds: 10,
		Hops:     []sources.Hop{{TTL: 1, Addr: "10.0.0.1", Sent: 10, Received: 7, Loss: 0.3, Avg: 3 * time.Millisecond, RateLimited: true}},
		EndToEnd: sources.Hop{Loss: 0, Avg: 12 * time.Millisecond}, Reached: true,
	}}})
	note := Annotation{At: t0.Add(3 * time.Minute), Author: "ana", Text: "failover\x1b[31m started", Written: t0.Add(2 * time.Hour)}
	data := writeRecording(t, in, []Annotation{note})
	rec := loadBytes(t, data)
	if rec.Warning != nil {
		t.Fatalf("whole file reported %v", rec.Warning)
	}
	if rec.Header.Version != Version || !rec.Header.Created.Equal(t0) || !strings.Contains(rec.Header.Config, "haproxy") {
		t.Fatalf("header %+v", rec.Header)
	}
	if rec.Len() != len(in) {
		t.Fatalf("read %d batches, wrote %d", rec.Len(), len(in))
	}
	for i := range in {
		got, err := rec.Batch(i)
		if err != nil {
			t.Fatal(err)
		}
		if dump(got) != dump(in[i]) {
			t.Fatalf("batch %d differs:\n got %s\nwant %s", i, dump(got), dump(in[i]))
		}
	}
	b20, _ := rec.Batch(40)
	if !math.IsNaN(b20.Series[0].Points[0].V) {
		t.Fatalf("NaN did not survive: %v", b20.Series[0].Points[0].V)
	}
	if n, _ := rec.Batch(len(in) - 2); n.Nodes == nil || len(n.Nodes) != 0 {
		t.Fatalf("empty node list came back as %#v", n.Nodes)
	}
	if n, _ := rec.Batch(1); n.Nodes != nil {
		t.Fatalf("absent node list came back as %#v", n.Nodes)
	}
	if rec.Batches[24].Flags&FlagEvents == 0 || rec.Batches[1].Flags&FlagEvents != 0 {
		t.Fatalf("event flags wrong: %v %v", rec.Batches[24].Flags, rec.Batches[1].Flags)
	}
	if len(rec.Annotations) != 1 || rec.Annotations[0].Text != "failover started" || !rec.Annotations[0].At.Equal(note.At) {
		t.Fatalf("annotations %+v (escapes must be stripped)", rec.Annotations)
	}
	from, until := rec.Window()
	if !from.Equal(t0) || !until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("window %v..%v", from, until)
	}
}

// Every possible cut of a file (a crash at any byte) reads back every
// whole frame before the cut and reports the cut one.
func TestCutAtEveryByteReplaysWholeFrames(t *testing.T) {
	in := incidentBatches()[:4]
	data := writeRecording(t, in, nil)
	// frame boundaries
	var ends []int64
	fr, err := NewFrameReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fr.Next(); err != nil {
			break
		}
		ends = append(ends, fr.Offset())
	}
	headerEnd := ends[0]
	for cut := int64(0); cut < int64(len(data)); cut++ {
		rec, err := Load(bytes.NewReader(data[:cut]), cut)
		if cut < headerEnd {
			if !errors.Is(err, ErrNotRecording) {
				t.Fatalf("cut at %d inside the header: err %v", cut, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := 0
		for _, e := range ends[1:] {
			if e <= cut {
				whole++
			}
		}
		if rec.Len() != whole {
			t.Fatalf("cut at %d: %d batches, want %d", cut, rec.Len(), whole)
		}
		atBoundary := false
		for _, e := range ends {
			if e == cut {
				atBoundary = true
			}
		}
		var d *DamageError
		if atBoundary {
			if rec.Warning != nil {
				t.Fatalf("cut at a frame boundary %d warned %v", cut, rec.Warning)
			}
		} else if !errors.As(rec.Warning, &d) || !d.Cut || d.Frame != whole+1 {
			t.Fatalf("cut at %d: warning %#v, want a cut in frame %d", cut, rec.Warning, whole+1)
		}
		for i := 0; cut%13 == 0 && i < rec.Len(); i++ {
			if _, err := rec.Batch(i); err != nil {
				t.Fatalf("cut at %d: batch %d: %v", cut, i, err)
			}
		}
	}
}

func TestCorruptChecksumStopsThereWithWarning(t *testing.T) {
	data := writeRecording(t, incidentBatches()[:6], nil)
	fr, _ := NewFrameReader(bytes.NewReader(data))
	var offs []int64
	for {
		f, err := fr.Next()
		if err != nil {
			break
		}
		offs = append(offs, f.Offset)
	}
	bad := append([]byte(nil), data...)
	bad[offs[3]+frameHeaderLen+2] ^= 0x40 // a bit flips in the third batch
	rec := loadBytes(t, bad)
	var d *DamageError
	if !errors.As(rec.Warning, &d) || d.Cut || !strings.Contains(d.Reason, "checksum") {
		t.Fatalf("warning %v, want a checksum damage", rec.Warning)
	}
	if rec.Len() != 2 || d.Frame != 3 || d.Offset != offs[3] {
		t.Fatalf("%d batches, damage %+v", rec.Len(), d)
	}
	if !strings.Contains(rec.Warning.Error(), "damaged at byte") {
		t.Fatalf("message %q", rec.Warning)
	}
}

func TestOversizedFrameIsAClearError(t *testing.T) {
	data := writeRecording(t, incidentBatches()[:2], nil)
	fr, _ := NewFrameReader(bytes.NewReader(data))
	fr.Next()
	off := fr.Offset()
	bad := append([]byte(nil), data[:off]...)
	var hdr [frameHeaderLen]byte
	binary.LittleEndian.PutUint32(hdr[:], 1<<31)
	bad = append(bad, hdr[:]...)
	rec := loadBytes(t, bad)
	if rec.Warning == nil || !strings.Contains(rec.Warning.Error(), "more than the 64 MiB limit") {
		t.Fatalf("warning %v", rec.Warning)
	}
}

func TestNotARecording(t *testing.T) {
	for _, in := range []string{"", "OPSV", "sources:\n  - name: x\n", "OPSVREC\x00\x09\x00\x00\x00"} {
		_, err := Load(strings.NewReader(in), int64(len(in)))
		if err == nil {
			t.Fatalf("%q accepted", in)
		}
	}
	_, err := Load(strings.NewReader("OPSVREC\x00\x09\x00\x00\x00"), 12)
	if !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("version error %v", err)
	}
}

func TestWriterRefusesOversizedBatch(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{})
	if err != nil {
		t.Fatal(err)
	}
	w.maxFrame = 1 << 20 // the same check as at MaxFrame, without encoding 64 MiB
	huge := &sources.Batch{Source: "big", Events: []sources.Event{{ID: "x", Text: strings.Repeat("x", 1<<20+10)}}}
	if err := w.WriteBatch(huge); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized batch: %v", err)
	}
	// the writer stays usable
	if err := w.WriteBatch(incidentBatches()[0]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if rec := loadBytes(t, buf.Bytes()); rec.Len() != 1 || rec.Warning != nil {
		t.Fatalf("%d batches, %v", rec.Len(), rec.Warning)
	}
}

func TestFramesReachTheFileWithoutFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.opsrec")
	w, err := Create(path, Header{Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteBatch(incidentBatches()[0]); err != nil {
		t.Fatal(err)
	}
	// no Flush: the writer's own timer must push the frame out. Wait far
	// longer than FlushInterval; this checks that it happens, not how fast.
	deadline := time.Now().Add(20 * FlushInterval)
	for {
		rec, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n := rec.Len()
		rec.Close()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch never reached the file without Flush")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := Create(path, Header{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Create over an existing recording: %v", err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestAppendAnnotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.opsrec")
	data := writeRecording(t, incidentBatches()[:5], nil)
	six := writeRecording(t, incidentBatches()[:6], nil)
	// a crash left the start of a sixth frame at the end
	torn := six[:len(data)+25]
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"db-1 iowait climbs", "failover to db-2"} {
		a := Annotation{At: t0.Add(time.Duration(i+1) * time.Minute), Author: "bo", Text: text, Written: t0.Add(time.Hour)}
		if err := AppendAnnotation(path, a); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if rec.Warning != nil || rec.Len() != 5 || len(rec.Annotations) != 2 || rec.Annotations[1].Text != "failover to db-2" {
		t.Fatalf("warning %v, %d batches, notes %+v", rec.Warning, rec.Len(), rec.Annotations)
	}

	// a damaged (not cut) recording is refused
	bad := append([]byte(nil), data...)
	bad[len(bad)-5] ^= 1
	os.WriteFile(path, bad, 0o600)
	if err := AppendAnnotation(path, Annotation{Text: "x"}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("append to damaged: %v", err)
	}

	// a recording being written is locked
	live := filepath.Join(dir, "live.opsrec")
	w, err := Create(live, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := AppendAnnotation(live, Annotation{Text: "x"}); err == nil || !strings.Contains(err.Error(), "being written") {
		t.Fatalf("append to a live recording: %v", err)
	}
	w.Close()
	if err := AppendAnnotation(live, Annotation{Text: "after"}); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadFrames fuzzes the frame reader, seeded with recordings of
// synthetic incidents and of a real HAProxy capture. Run it with
// -fuzzminimizetime 0 (or small): minimizing a multi-KB input takes minutes.
func FuzzReadFrames(f *testing.F) {
	whole := writeRecording(f, incidentBatches()[:8], []Annotation{{At: t0, Author: "a", Text: "note"}})
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add(whole[:fileHeaderLen+3])
	f.Add([]byte(Magic))
	flipped := append([]byte(nil), whole...)
	flipped[len(flipped)/3] ^= 0xff
	f.Add(flipped)
	f.Add(writeRecording(f, []*sources.Batch{captureBatch(f)}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Load(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if rec.Size > int64(len(data)) {
			t.Fatalf("size %d beyond %d bytes", rec.Size, len(data))
		}
		for i := 0; i < rec.Len(); i++ {
			b, err := rec.Batch(i)
			if err == nil && b == nil {
				t.Fatal("nil batch without error")
			}
		}
	})
}

// FuzzDecodeFrameValue fuzzes (seeded with a real HAProxy capture among others) what is inside a frame once its checksum
// passed: the gob of a batch, an annotation or a header.
func FuzzDecodeFrameValue(f *testing.F) {
	for _, v := range []any{
		batchFrame{Batch: incidentBatches()[24], NodesSet: true},
		batchFrame{Batch: incidentBatches()[1]},
		batchFrame{Batch: captureBatch(f), NodesSet: true},
		Annotation{At: t0, Author: "ana", Text: "failover"},
		Header{Version: 1, Created: t0, Config: "sources: []\n"},
	} {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(v); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var bf batchFrame
		_ = decodeRaw(raw, &bf)
		var a Annotation
		_ = decodeRaw(raw, &a)
		var h Header
		_ = decodeRaw(raw, &h)
	})
}

// A recording begun in the middle of things starts with its opening: the
// batches that rebuild the store's window and the session's settings and
// engine memory. They come back apart from the played batches, and the
// recording's window is that of the played batches alone.
func TestOpeningIsKeptApartFromThePlayedBatches(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Created: t0, Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	opening := []*sources.Batch{
		{Source: "lb-1", At: t0, Series: []sources.Series{{Name: "hrsp_5xx", Points: []sources.Point{{T: t0.Add(-time.Hour), V: 1}, {T: t0, V: 9}}}}},
		{Source: "prom", At: t0},
	}
	settings := Settings{Step: 10 * time.Second, Retention: 2 * time.Hour, Window: 75 * time.Minute,
		Deps: []sources.Dependency{{From: "app", To: "db-1"}}}
	if err := w.WriteOpening(Opening{Settings: settings, Engine: []byte("engine memory")}, opening); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := w.WriteBatch(&sources.Batch{Source: "lb-1", At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec := loadBytes(t, buf.Bytes())
	if rec.Len() != 3 || len(rec.OpeningBatches) != 2 {
		t.Fatalf("%d played batches, %d opening batches", rec.Len(), len(rec.OpeningBatches))
	}
	if from, _ := rec.Window(); !from.Equal(t0.Add(time.Second)) {
		t.Fatalf("window starts at %v, want the first played batch", from)
	}
	if rec.Opening == nil || string(rec.Opening.Engine) != "engine memory" || rec.Opening.Settings.Step != settings.Step ||
		len(rec.Opening.Settings.Deps) != 1 || rec.Opening.Settings.Deps[0].To != "db-1" {
		t.Fatalf("opening %+v", rec.Opening)
	}
	got, err := rec.Opened()
	if err != nil || len(got) != 2 || len(got[0].Series[0].Points) != 2 || got[1].Source != "prom" {
		t.Fatalf("opened %+v %v", got, err)
	}
}
