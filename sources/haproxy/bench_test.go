package haproxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// startPlainHAProxy runs one HAProxy with `backends` backends of `servers`
// servers each (no health checks, nothing listening behind them).
func startPlainHAProxy(tb testing.TB, bin, dir string, backends, servers int) string {
	sock := filepath.Join(dir, "admin.sock")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global\n    stats socket %s mode 600 level operator\n    maxconn 100\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n", sock)
	fmt.Fprintf(&cfg, "frontend web\n    bind 127.0.0.1:%d\n    default_backend be_0\n", freePort(tb))
	for b := 0; b < backends; b++ {
		fmt.Fprintf(&cfg, "backend be_%d\n", b)
		for s := 0; s < servers; s++ {
			fmt.Fprintf(&cfg, "    server srv%d 127.0.0.1:%d maxconn 10\n", s, 20000+s)
		}
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("haproxy in %s did not start", dir)
	return ""
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPollFleet20 polls 20 real HAProxy processes (unix sockets) in
// one source, the way a 1 s interval would, and reports the CPU time this
// process spends per poll round and what that is of one core at 1 s.
func BenchmarkPollFleet20(b *testing.B) {
	bin := requireHAProxy(b)
	for _, size := range []struct{ backends, servers int }{{3, 5}, {10, 20}} {
		b.Run(fmt.Sprintf("%dx%dservers", size.backends, size.servers), func(b *testing.B) {
			var opt Options
			for i := 0; i < 20; i++ {
				sock := startPlainHAProxy(b, bin, b.TempDir(), size.backends, size.servers)
				opt.Instances = append(opt.Instances, InstanceOptions{Name: fmt.Sprintf("lb-%d", i+1), Socket: sock})
			}
			s, err := New(sources.Env{Name: "fleet"}, opt)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Now()
			poll := func() {
				at = at.Add(time.Second)
				bt, err := s.Poll(context.Background(), sources.Request{Now: at})
				if err != nil {
					b.Fatal(err)
				}
				if len(bt.Nodes) < 20*size.backends*size.servers {
					b.Fatalf("nodes %d", len(bt.Nodes))
				}
			}
			poll() // level checks and the first (rate-less) round
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			n := 0
			for b.Loop() {
				poll()
				n++
			}
			cpu := (cpuTime() - c0) / time.Duration(n)
			b.ReportMetric(float64(cpu.Microseconds()), "cpu-µs/poll")
			b.ReportMetric(100*cpu.Seconds()/1.0, "%core@1s")
		})
	}
}
