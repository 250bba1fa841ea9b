package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/creack/pty"

	"github.com/opsview/opsview/internal/scale"
)

// tuiResult is the TUI's own footprint over a run.
type tuiResult struct {
	Series         int
	Span           time.Duration
	CPU            time.Duration // every thread, from exec
	PeakRSSMB      float64       // VmHWM
	AnonMB, FileMB float64       // RssAnon, RssFile at the end
}

// runTUI builds opsview, serves n gauges on loopback and runs the TUI on
// an 80x24 pseudo-terminal with one exporter source polled every 5 s for
// 90 s, as a user at a bastion would, and reads its CPU and peak RSS.
func runTUI(n int) (tuiResult, error) {
	r := tuiResult{Series: n, Span: 90 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	srv := &http.Server{Handler: &scale.Exporter{N: n}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	yaml := fmt.Sprintf("store: {step: 10s, retention: 1h, max_series: %d}\nsources:\n  - name: synth\n    type: exporter\n    interval: 5s\n    url: http://%s/metrics\n    max_series: %d\n    max_response_mb: 256\n",
		n+1000, ln.Addr(), n)
	return runOpsview(r, yaml, "synth")
}

// runOpsview builds opsview as the release does (no cgo, -trimpath), runs
// it with config on an 80x24 pseudo-terminal for r.Span and fills in its
// CPU and RSS; the screen must have named the source.
func runOpsview(r tuiResult, config, source string) (tuiResult, error) {
	dir, err := os.MkdirTemp("", "opsview-scale")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "opsview")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/opsview")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return r, fmt.Errorf("go build ./cmd/opsview (run from the module's root): %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "opsview.yaml")
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		return r, err
	}
	cmd := exec.Command(bin, "--config", conf)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "XDG_CONFIG_HOME="+dir, "XDG_STATE_HOME="+dir)
	if p := os.Getenv("OPSVIEW_SCALE_STDERR"); p != "" { // e.g. with GODEBUG=gctrace=1
		if cmd.Stderr, err = os.Create(p); err != nil {
			return r, err
		}
	}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return r, err
	}
	defer f.Close()
	var screen bytes.Buffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 64<<10)
		for {
			k, err := f.Read(buf)
			if screen.Len() < 1<<20 {
				screen.Write(buf[:k])
			}
			if err != nil {
				return
			}
		}
	}()
	pid := cmd.Process.Pid
	time.Sleep(r.Span)
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return r, err
	}
	r.CPU = procCPU(pid)
	r.PeakRSSMB = statusMB(st, "VmHWM:")
	r.AnonMB = statusMB(st, "RssAnon:")
	r.FileMB = statusMB(st, "RssFile:")
	_, _ = f.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	_ = f.Close()
	<-drained
	if !bytes.Contains(screen.Bytes(), []byte(source)) {
		return r, fmt.Errorf("the TUI never showed its source:\n%q", tail(screen.Bytes(), 2000))
	}
	if held := fmt.Sprintf("%d series", r.Series); !bytes.Contains(screen.Bytes(), []byte(held)) {
		return r, fmt.Errorf("the TUI never said it held %s:\n%q", held, tail(screen.Bytes(), 2000))
	}
	return r, nil
}

// procCPU is the user and system time of process pid, every thread
// (/proc/pid/stat fields 14 and 15, in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

func statusMB(status []byte, key string) float64 {
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, key) {
			if f := strings.Fields(l); len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
