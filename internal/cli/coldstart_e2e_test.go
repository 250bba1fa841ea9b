package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/app"
	"github.com/opsview/opsview/internal/export"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

// coldLead is how long opsview runs before the fault: the product's first
// use is starting it in the middle of things, with no history of the
// load balancer's own.
const coldLead = 2 * time.Minute

// liveRun is opsview's live runtime on a lab's config, recording from its
// first batch.
type liveRun struct {
	rt   *app.Runtime
	file string
	w    *replay.Writer
	werr atomic.Value
	stop func()
}

func startLive(t *testing.T, config string) *liveRun {
	t.Helper()
	g := &globals{config: config}
	logf := func(string, ...any) {}
	p, err := loadPlan(context.Background(), g, logf, false)
	if err != nil {
		t.Fatal(err)
	}
	lr := &liveRun{rt: app.New(runtimeOptions(p, logf)), file: filepath.Join(t.TempDir(), "incident.opsrec")}
	lr.w, err = startRecording(lr.rt, lr.file, replay.Header{Producer: "test"}, func(err error) { lr.werr.Store(err) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lr.rt.Run(ctx, nil); close(done) }()
	lr.stop = func() { cancel(); <-done; app.Close(p.entries) }
	t.Cleanup(func() { lr.stop() })
	return lr
}

// naming is the first active finding whose title names what, or nil.
func naming(fs []correlate.Finding, what string) *correlate.Finding {
	for i := range fs {
		if strings.Contains(fs[i].Title, what) {
			return &fs[i]
		}
	}
	return nil
}

// finish stops the recording between two batches and judges and exports
// the file: what the export and the recording's judgement concluded.
func (lr *liveRun) finish(t *testing.T) (judged []correlate.Finding, md string) {
	t.Helper()
	lr.rt.Session.OpeningThen(func(*correlate.Opening) error {
		if err := lr.rt.Record(nil, nil); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	if err := lr.w.Close(); err != nil {
		t.Fatal(err)
	}
	if e := lr.werr.Load(); e != nil {
		t.Fatal(e)
	}
	rec, err := replay.Open(lr.file)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	sess, err := app.Judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := export.Markdown(&b, rec, export.Options{}); err != nil {
		t.Fatal(err)
	}
	return sess.History(), b.String()
}

// The melting volume on a fresh stack: opsview (and HAProxy) started two
// minutes before db-1's iowait rose from 2 to 90 %, and 30 s later three
// answers in five became 500s. Prometheus holds db-1's calm hour. Live
// names db-1's iowait within 60 s of the 5xx; the check run at the height
// of it is CRITICAL and names it; the recording, judged and exported,
// blames it too; with and without dependencies in the config. The same
// fault with nothing internal moving is a monitoring gap.
func TestColdStartMeltingVolumeIsBlamedOnIowait(t *testing.T) {
	type lab struct {
		name string
		l    *incidentLab
		live *liveRun
	}
	var labs []*lab
	for _, c := range []struct {
		name string
		deps bool
		hist time.Duration
	}{{"without dependencies", false, 80 * time.Minute}, {"with dependencies", true, 80 * time.Minute}, {"nothing internal moves", false, 80 * time.Minute}} {
		l := startIncidentLab(t, labOptions{checkPath: "/health", history: c.hist, deps: c.deps})
		labs = append(labs, &lab{name: c.name, l: l, live: startLive(t, l.config)})
	}
	gap := labs[2]
	time.Sleep(coldLead)
	for _, b := range labs {
		for _, f := range b.live.rt.Findings() {
			if f.Severity == sources.SevCritical {
				t.Fatalf("%s: critical before the fault: %s", b.name, f.Title)
			}
		}
		// the screen says the load balancer's symptoms still warm up, for
		// a quarter of an hour and a little more
		ws := b.live.rt.Session.Warming()
		if len(ws) != 1 || ws[0].Source != "lb-1" || ws[0].Series == 0 ||
			ws[0].Until.Before(time.Now().Add(10*time.Minute)) || ws[0].Until.After(time.Now().Add(20*time.Minute)) {
			t.Errorf("%s: warming up %+v, want lb-1's symptoms until about a quarter of an hour from now", b.name, ws)
		}
	}
	for _, b := range labs[:2] {
		b.l.iowait(t, 90)
	}
	time.Sleep(30 * time.Second)
	for _, b := range labs {
		b.l.failing.Store(true)
	}
	at := time.Now()
	named := map[*lab]time.Duration{}
	for {
		for _, b := range labs[:2] {
			if _, ok := named[b]; !ok && naming(b.live.rt.Findings(), "likely db-1 cpu_iowait") != nil {
				named[b] = time.Since(at)
			}
		}
		if len(named) == 2 && naming(gap.live.rt.Findings(), "monitoring gap") != nil {
			break
		}
		if time.Since(at) > time.Minute {
			for _, b := range labs {
				for _, f := range b.live.rt.Findings() {
					t.Logf("%s: %s %s [%s]", b.name, f.Severity, f.Title, f.Rule)
				}
			}
			t.Fatalf("no findings naming db-1's iowait (named: %d of 2) and the gap a minute after the 5xx began", len(named))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for b, d := range named {
		t.Logf("%s: db-1 cpu_iowait named %v after the 5xx began", b.name, d.Round(time.Second))
	}
	time.Sleep(5 * time.Second) // the height of it
	for _, b := range labs {
		code, out, errb := run(t, "check", "--config", b.l.config, "--format", "json")
		var rep CheckReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", b.name, err, out, errb)
		}
		var titles []string
		ok := false
		for _, f := range rep.Findings {
			titles = append(titles, f.Title)
			if b == gap {
				ok = ok || strings.Contains(f.Title, "monitoring gap")
			} else {
				ok = ok || f.Severity == "critical" && strings.Contains(f.Title, "likely db-1 cpu_iowait")
			}
		}
		if code != ExitCritical || !ok {
			t.Errorf("%s: check exit %d, findings %q\n%s\n%s", b.name, code, titles, out, errb)
			for _, f := range b.live.rt.Findings() {
				t.Logf("%s live: %s %s [%s] %s", b.name, f.Severity, f.Title, f.Rule, f.Explanation)
			}
		}
		if b != gap && naming(b.live.rt.Findings(), "likely db-1 cpu_iowait") == nil {
			t.Errorf("%s: live no longer names db-1's iowait at the height of it", b.name)
		}
	}
	for _, b := range labs {
		judged, md := b.live.finish(t)
		want := "likely db-1 cpu_iowait"
		if b == gap {
			want = "monitoring gap"
		}
		var titles []string
		found := false
		for _, f := range judged {
			titles = append(titles, f.Title)
			found = found || strings.Contains(f.Title, want)
			if b != gap && strings.Contains(f.Title, "likely") && !strings.Contains(f.Title, want) {
				t.Errorf("%s: the recording blames something else: %q", b.name, f.Title)
			}
		}
		if !found {
			t.Errorf("%s: the recording, judged, has no finding %q: %q", b.name, want, titles)
		}
		if !strings.Contains(md, want) {
			t.Errorf("%s: the export does not say %q", b.name, want)
		}
	}
}
