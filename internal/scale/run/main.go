// Command run measures opsview's footprint at 1k, 10k and 100k series and
// prints the README's Scale table: `make scale` (or `go run
// ./internal/scale/run`). A synthetic exporter of N gauges is served on
// loopback by this process; a child process per size polls it every 5 s
// of its clock for 90 s (18 polls, store step 10 s, retention 1 h, the
// default rules), as the TUI would minus the drawing, then fills its
// store with an hour of the same series and times the engine's
// judgement. Peak RSS is the child's; CPU per poll is the child's CPU
// time over its polls (the exporter's is not counted).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/scale"
	"github.com/opsview/opsview/sources/prometheus"
)

type result struct {
	Series     int
	Polls      int
	PeakRSSMB  float64 // after the 90 s of polls
	CPUPerPoll time.Duration
	FullRSSMB  float64 // with an hour held and judged
	RankTime   time.Duration
}

func main() {
	child := flag.String("child", "", "internal: poll this exporter URL")
	n := flag.Int("n", 0, "internal: series")
	sizes := flag.String("sizes", "1000,10000,100000", "series counts to measure")
	tui := flag.Int("tui", 10000, "series for the run of the TUI itself (0: none)")
	backfill := flag.Int("backfill", 10000, "series for the TUI's hour backfilled from a real Prometheus (0: none)")
	flag.Parse()
	if *child != "" {
		r, err := measure(*child, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("| series | peak RSS, 90 s of polls | CPU per poll | RSS with 1 h held | rank time |\n|---:|---:|---:|---:|---:|\n")
	for _, f := range strings.Split(*sizes, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		r, err := runChild(size)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%d series: %v\n", size, err)
			os.Exit(1)
		}
		fmt.Printf("| %d | %.0f MB | %.1f ms | %.0f MB | %.0f ms |\n", r.Series, r.PeakRSSMB,
			float64(r.CPUPerPoll)/1e6, r.FullRSSMB, float64(r.RankTime)/1e6)
	}
	if *tui > 0 {
		report(*tui, runTUI, "the TUI at %d series",
			"The TUI itself (`opsview --config`, one exporter source of %d gauges every 5 s, store step 10 s, retention 1 h, 80x24)")
	}
	if *backfill > 0 {
		report(*backfill, runBackfillTUI, "the TUI backfilling %d series",
			"The TUI backfilling an hour of %d series at 10 s from a real Prometheus (one prometheus source, polled every 5 s after)")
	}
	fmt.Printf("\n%s, %d CPUs, %s\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
}

// runChild serves the exporter and runs a child that polls it.
func runChild(n int) (result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: &scale.Exporter{N: n}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe, "-child", "http://"+ln.Addr().String()+"/metrics", "-n", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, err
	}
	return r, nil
}

func measure(url string, n int) (result, error) {
	r := result{Series: n, Polls: 18}
	src, err := prometheus.NewExporterWith("synth", prometheus.ExporterOptions{URL: url, MaxSeries: n, MaxResponseMB: 256})
	if err != nil {
		return r, err
	}
	store := correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour, MaxSeries: n + 1}
	p := scale.NewPipeline("synth", "exporter", src, store)
	clock := time.Now().Truncate(10 * time.Second)
	cpu0 := cpuTime()
	for i := 0; i < r.Polls; i++ {
		if _, err := p.Poll(context.Background(), clock, 0); err != nil {
			return r, err
		}
		clock = clock.Add(5 * time.Second)
	}
	r.CPUPerPoll = (cpuTime() - cpu0) / time.Duration(r.Polls)
	r.PeakRSSMB = peakRSSMB()
	// an hour held: the engine judges full windows
	p2 := scale.NewPipeline("synth", "exporter", src, store)
	for lo := 0; lo < n; lo += 1000 {
		p2.Prefill(scale.HistoryOf(lo, min(lo+1000, n), clock.Add(-time.Hour), clock, 10*time.Second), clock)
	}
	var times []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		p2.Session.Evaluate()
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r.RankTime = times[1]
	r.FullRSSMB = peakRSSMB()
	return r, nil
}

// report runs one of the TUI's runs at n series and prints what it used,
// or says what failed (what names the run) and exits.
func report(n int, run func(int) (tuiResult, error), what, title string) {
	t, err := run(n)
	if err != nil {
		fmt.Fprintf(os.Stderr, what+": %v\n", n, err)
		os.Exit(1)
	}
	fmt.Printf("\n"+title+", over %s: CPU %.2f s, peak RSS %.0f MB (at the end: %.0f MB anonymous, %.0f MB of files, the binary's pages)\n",
		n, t.Span, t.CPU.Seconds(), t.PeakRSSMB, t.AnonMB, t.FileMB)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB is the process's peak resident set so far (VmHWM).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
