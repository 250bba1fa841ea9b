//go:build unix

package replay

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// BenchmarkWriteBatch is the recording overhead of one poll of 1,000
// series × 1 point, and the file size it costs (B/batch; MB/hour at one
// batch every 10 s = 360 batches an hour).
func BenchmarkWriteBatch(b *testing.B) {
	batches := make([]*sources.Batch, 360)
	for i := range batches {
		batches[i] = syntheticBatch("prom", t0.Add(time.Duration(i)*10*time.Second), 1000)
	}
	w, err := NewWriter(io.Discard, Header{Created: t0})
	if err != nil {
		b.Fatal(err)
	}
	start := w.Size()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := w.WriteBatch(batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
	b.StopTimer()
	per := float64(w.Size()-start) / float64(b.N)
	b.ReportMetric(per, "B/batch")
	b.ReportMetric(per*360/1e6, "MB/hour")
	w.Close()
}

// BenchmarkDecodeBatch is the cost of reading one such batch back.
func BenchmarkDecodeBatch(b *testing.B) {
	data := writeRecording(b, []*sources.Batch{syntheticBatch("prom", t0, 1000)}, nil)
	rec := loadBytes(b, data)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := rec.Batch(0); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

func hourFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "hour.opsrec")
	w, err := Create(path, Header{Created: t0})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 360; i++ {
		if err := w.WriteBatch(syntheticBatch("prom", t0.Add(time.Duration(i)*10*time.Second), 1000)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkReplayHourAt60x replays one hour of 1,000 series at 10 s (360
// batches) at 60×: open the file, drain the player once per second of
// (simulated) wall time, apply every batch to a store. The time per op is
// the CPU the replay costs for the whole hour, not the 60 s it plays for.
func BenchmarkReplayHourAt60x(b *testing.B) {
	path := hourFile(b)
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "MB/file")
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		replayHour(b, path)
	}
	reportCPU(b, cpu0)
}

func replayHour(b *testing.B, path string) {
	rec, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	clk := &fakeClockB{t: time.Unix(1e9, 0)}
	p := NewPlayer(rec, PlayerOptions{Clock: clk.Now})
	p.SetSpeed(60)
	p.Play()
	n := 0
	series := map[string]bool{}
	for !p.Done() {
		due, err := p.Drain()
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range due {
			for i := range batch.Series {
				series[batch.Series[i].ID()] = true
			}
			n++
		}
		clk.t = clk.t.Add(time.Second)
	}
	if n != 360 || len(series) != 1000 {
		b.Fatalf("replayed %d batches, %d series", n, len(series))
	}
}

type fakeClockB struct{ t time.Time }

func (c *fakeClockB) Now() time.Time { return c.t }

// cpuTime is the process's user+system CPU so far. The machine the
// benchmarks run on is shared, so wall time per op overstates the cost;
// cpu-ns/op is what the work itself took.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
