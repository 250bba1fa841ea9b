package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opsview/opsview/internal/scale"
)

// runBackfillTUI measures the TUI backfilling an hour of n series through
// a prometheus source from a real Prometheus (Debian's prometheus and
// promtool): the synthetic exporter's series over the last hour at 10 s
// are written as OpenMetrics, made into a TSDB block by promtool, and
// served by a Prometheus on loopback; opsview starts with one prometheus
// source asking for every one of them, and runs for 90 s (the hour's
// answer, then its polls).
func runBackfillTUI(n int) (tuiResult, error) {
	r := tuiResult{Series: n, Span: 90 * time.Second}
	for _, bin := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(bin); err != nil {
			return r, fmt.Errorf("%s not found (apt-get install prometheus): %v", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "opsview-backfill")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	step := 10 * time.Second
	end := time.Now().Truncate(step)
	om := filepath.Join(dir, "hour.om")
	if err := writeOpenMetrics(om, n, end.Add(-time.Hour), end, step); err != nil {
		return r, err
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", om, data).CombinedOutput(); err != nil {
		return r, fmt.Errorf("promtool: %v\n%s", err, out)
	}
	_ = os.Remove(om)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte("global: {}\n"), 0o600); err != nil {
		return r, err
	}
	prom := exec.Command("prometheus", "--config.file="+conf, "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=1d", "--web.listen-address="+addr)
	if err := prom.Start(); err != nil {
		return r, err
	}
	defer func() { _ = prom.Process.Kill(); _ = prom.Wait() }()
	url := "http://" + addr
	ready := false
	for i := 0; i < 300 && !ready; i++ {
		time.Sleep(200 * time.Millisecond)
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	if !ready {
		return r, fmt.Errorf("prometheus on %s not ready in 60 s", addr)
	}
	yaml := fmt.Sprintf("store: {step: 10s, retention: 1h, max_series: %d}\nsources:\n  - name: prom\n    type: prometheus\n    interval: 5s\n    url: %s\n    queries:\n      - query: '{__name__=~\"%s\"}'\n",
		n+1000, url, scale.NamePattern())
	return runOpsview(r, yaml, "prom")
}

// writeOpenMetrics writes the exporter's n series over [from, until] at
// step, one family after the other, each series' samples in time order.
func writeOpenMetrics(path string, n int, from, until time.Time, step time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for k, name := range scale.Names() {
		fmt.Fprintf(w, "# TYPE %s gauge\n", name)
		for i := k; i < n; i += len(scale.Names()) {
			for t := from; !t.After(until); t = t.Add(step) {
				scale.WriteSample(w, i, t, true)
			}
		}
	}
	w.WriteString("# EOF\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
