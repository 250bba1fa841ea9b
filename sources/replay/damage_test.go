package replay

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// damageBatch overwrites the body of batch i with bytes that are not
// DEFLATE and fixes the frame's checksum: a frame that reads whole and
// does not decode.
func damageBatch(t *testing.T, data []byte, i int) []byte {
	t.Helper()
	rec := loadBytes(t, data)
	fi := rec.Batches[i]
	out := append([]byte(nil), data...)
	body := out[fi.offset : fi.offset+int64(fi.size)]
	for j := range body {
		body[j] = 0xff
	}
	hdr := out[fi.offset-int64(frameHeaderLen) : fi.offset]
	crc := crc32.Update(0, castagnoli(), hdr[8:])
	crc = crc32.Update(crc, castagnoli(), body)
	binary.LittleEndian.PutUint32(hdr[4:8], crc)
	return out
}

// replay and export read a damaged batch alike: both skip it, say which,
// and go on with the rest
func TestDamagedBatchIsSkippedAndReportedAlike(t *testing.T) {
	batches := incidentBatches()
	const damaged = 7
	rec := loadBytes(t, damageBatch(t, writeRecording(t, batches, nil), damaged))
	if rec.Warning != nil {
		t.Fatalf("a frame with a good checksum made the file damaged: %v", rec.Warning)
	}

	var seen []int
	skipped := rec.EachWhole(func(i int, _ *sources.Batch) { seen = append(seen, i) })
	if len(skipped) != 1 || len(seen) != len(batches)-1 {
		t.Fatalf("EachWhole: %d batches, skipped %v", len(seen), skipped)
	}
	msg := skipped[0].Error()
	for _, want := range []string{"batch 8 of 96", "02:00:32 UTC", "skipped", "flate"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}

	sm, err := Summarize(rec)
	if err != nil {
		t.Fatalf("Summarize stopped at the damaged batch: %v", err)
	}
	if len(sm.Skipped) != 1 || sm.Skipped[0].Error() != msg {
		t.Fatalf("Summarize skipped %v", sm.Skipped)
	}
	polls := 0
	for _, s := range sm.Sources {
		polls += s.Batches
	}
	if polls != len(batches)-1 {
		t.Errorf("the summary counted %d polls, want %d", polls, len(batches)-1)
	}

	p := NewPlayer(rec, PlayerOptions{Clock: func() time.Time { return time.Unix(2e9, 0) }})
	p.Seek(t0.Add(time.Hour))
	played, derr := p.Drain()
	if len(played) != len(batches)-1 || derr == nil || derr.Error() != msg {
		t.Fatalf("the player played %d and said %v, want %d and %q", len(played), derr, len(batches)-1, msg)
	}
}
