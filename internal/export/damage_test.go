package export

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/replay"
)

// damageBatches overwrites the bodies of the given batch frames (counted
// from 0, the opening's left out) with bytes that are not DEFLATE and
// fixes their checksums: frames that read whole and do not decode.
func damageBatches(t *testing.T, data []byte, which ...int) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	fr, err := replay.NewFrameReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{}
	for _, i := range which {
		want[i] = true
	}
	const frameHeader = 4 + 4 + 1 + 1 + 8 // length, crc, kind, flags, at
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for n := 0; ; {
		f, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind != replay.KindBatch || f.Flags&replay.FlagOpening != 0 {
			continue
		}
		if want[n] {
			hdr := out[f.Offset : f.Offset+frameHeader]
			body := out[f.Offset+frameHeader : f.Offset+frameHeader+int64(len(f.Body))]
			for j := range body {
				body[j] = 0xff
			}
			crc := crc32.Update(0, castagnoli, hdr[8:])
			binary.LittleEndian.PutUint32(hdr[4:8], crc32.Update(crc, castagnoli, body))
		}
		n++
	}
	return out
}

// the replay skips a damaged batch and plays the rest; the export does
// the same and says so in the document
func TestExportSkipsADamagedBatchAndSaysSo(t *testing.T) {
	data := damageBatches(t, meltingVolumeFile(t), 30)
	rec, err := replay.Load(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Markdown(&out, rec, Options{Title: "Melting volume on db-1"}); err != nil {
		t.Fatalf("export failed on a damaged batch the replay skips: %v", err)
	}
	s := out.String()
	for _, want := range []string{
		"- **Warning:** batch 31 of 120 (2026-03-14 02:02:30 UTC) is damaged and was skipped",
		"finding opened: server app-2 is DOWN", // the rest was judged
		"finding resolved: server app-2 is DOWN",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("export lacks %q:\n%s", want, s[:min(len(s), 1500)])
		}
	}
}

func TestExportCountsManyDamagedBatches(t *testing.T) {
	data := damageBatches(t, meltingVolumeFile(t), 1, 3, 5, 7, 9, 11, 13, 15)
	rec, err := replay.Load(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Markdown(&out, rec, Options{}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if n := strings.Count(s, "is damaged and was skipped"); n != maxSkippedTold {
		t.Errorf("%d damaged batches named, want %d", n, maxSkippedTold)
	}
	if !strings.Contains(s, "- **Warning:** 3 more damaged batches were skipped") {
		t.Errorf("the rest are not counted:\n%s", s[:min(len(s), 1500)])
	}
}
