//go:build linux

package scale

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// cpuNanos is the CPU time of every thread of process pid so far, from
// /proc/pid/task/*/schedstat (its first field, nanoseconds on a CPU).
func cpuNanos(pid int) int64 {
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	var n int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64); err == nil {
			n += v
		}
	}
	return n
}

// BenchmarkExecToFirstFrame is the start-up as a user meets it: the built
// binary runs `opsview demo` on an 80x24 pseudo-terminal, and the figures
// are its CPU (all threads, from exec) when the first frame is on the
// terminal ("drawn-cpu-ms": the tab line and footer, sources still
// unknown) and when the first frame with every source's data is
// ("complete-cpu-ms": the Sources title counts the series held).
func BenchmarkExecToFirstFrame(b *testing.B) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		b.Skip("needs /proc for a process's CPU time")
	}
	for _, c := range []struct{ name, pkg string }{
		// the floor: a Bubble Tea v2 program drawing one line
		{"bare", "github.com/opsview/opsview/internal/scale/testdata/bare"},
		{"demo", "github.com/opsview/opsview/cmd/opsview"},
	} {
		b.Run(c.name, func(b *testing.B) {
			bin := filepath.Join(b.TempDir(), c.name)
			if out, err := exec.Command("go", "build", "-o", bin, c.pkg).CombinedOutput(); err != nil {
				b.Fatalf("build: %v\n%s", err, out)
			}
			var drawn, complete float64
			n := 0
			for b.Loop() {
				d, c := execOnce(b, bin)
				drawn += d
				complete += c
				n++
			}
			b.ReportMetric(drawn/float64(n), "drawn-cpu-ms")
			b.ReportMetric(complete/float64(n), "complete-cpu-ms")
		})
	}
}

func execOnce(b *testing.B, bin string) (drawn, complete float64) {
	cmd := exec.Command(bin, "demo")
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "OPSVIEW_CONFIG=", "XDG_CONFIG_HOME="+b.TempDir())
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = f.Close()
	}()
	chunks := make(chan []byte, 64)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			k, err := f.Read(buf)
			if k > 0 {
				chunks <- buf[:k]
			}
			if err != nil {
				return
			}
		}
	}()
	var seen []byte
	deadline := time.After(10 * time.Second)
	for complete == 0 {
		select {
		case c, ok := <-chunks:
			if !ok {
				b.Fatalf("opsview demo ended before its first complete frame:\n%q", seen)
			}
			seen = append(seen, c...)
			cpu := float64(cpuNanos(cmd.Process.Pid)) / 1e6
			if drawn == 0 && bytes.Contains(seen, []byte("Overview")) && bytes.Contains(seen, []byte("quit")) {
				drawn = cpu
			}
			if drawn != 0 && bytes.Contains(seen, []byte("held")) {
				complete = cpu
			}
		case <-deadline:
			b.Fatalf("no complete frame in 10 s:\n%q", seen)
		}
	}
	return drawn, complete
}
