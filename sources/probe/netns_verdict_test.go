package probe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// The table of issue 14, end to end: the testbed probed from three
// vantage points through the exec backend, the probe source polled as
// often as it probes (one round or so per trace, as a config with
// `interval: 1s` and `probe_interval: 1s` do), every batch stepped through a correlate.Session
// as live, record, replay and check do. Each case runs a clean phase, then
// the fault, and asks the session's own verdicts and findings for the
// right answer, once and then at every evaluation until the end.

// judgeRound is one evaluation of the session during a scenario.
type judgeRound struct {
	at       time.Time
	faulty   bool // the fault was in place when the batch was polled
	rounds   int  // probe rounds of the first vantage since the fault
	verdict  correlate.PathVerdict
	findings []correlate.Finding // the open path findings
	changes  []correlate.Change  // path findings that changed
}

// scenario is a testbed run through a session.
type scenario struct {
	evals []judgeRound
}

// newTestbedNamed is newTestbed with namespaces prefixed by name, so
// scenarios can run side by side.
func newTestbedNamed(t *testing.T, name string) *testbed {
	t.Helper()
	need(t, "ip", "iptables")
	tb := &testbed{t: t, prefix: fmt.Sprintf("ov%d%s-", os.Getpid()%100000, name)}
	return tb.build()
}

// probeEvery is the probe and poll interval of the scenarios: five rounds
// a second, so a minute of test holds five minutes of rounds at the
// default rate (and the kernel's ICMP limit of 1/s drops 4 of 5 answers).
const probeEvery = 200 * time.Millisecond

// judge probes the testbed for clean, applies fault, and goes on for
// faulty, stepping every poll through a session.
func (tb *testbed) judge(bin string, clean time.Duration, fault func(), faulty time.Duration) *scenario {
	return tb.judgeFrom(bin, three(), clean, fault, faulty)
}

// probeSource is the probe source of the testbed's config for the
// vantages vs, probing every `every`.
func (tb *testbed) probeSource(bin string, vs []vspec, every time.Duration) sources.Source {
	t := tb.t
	t.Helper()
	yaml := strings.Replace(tb.yaml(bin, vs...), "probe_interval: 100ms", "probe_interval: "+every.String(), 1)
	opts, err := config.OptionsFromYAML("test.yaml", yaml)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sources.Lookup("probe")
	src, err := k.New(sources.Env{Name: "paths", Logf: t.Logf}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// judgeFrom is judge from the given vantages.
func (tb *testbed) judgeFrom(bin string, vs []vspec, clean time.Duration, fault func(), faulty time.Duration) *scenario {
	t := tb.t
	t.Helper()
	src := tb.probeSource(bin, vs, probeEvery)
	defer src.(sources.Closer).Close()
	sess := correlate.NewSession(correlate.SessionOptions{Engine: correlate.EngineOptions{Paths: true}})
	sc := &scenario{}
	start := time.Now()
	faultAt := time.Time{}
	rounds := 0
	for time.Since(start) < clean+faulty {
		time.Sleep(probeEvery)
		if faultAt.IsZero() && time.Since(start) >= clean {
			fault()
			faultAt = time.Now()
			t.Logf("fault in place after %s", time.Since(start).Round(time.Millisecond))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := src.Poll(ctx, sources.Request{Now: time.Now()})
		cancel()
		if err != nil {
			t.Logf("poll: %v", err)
			continue
		}
		b.Source, b.Type, b.At = "paths", "probe", time.Now()
		b.Status = sources.Status{Source: "paths", Type: "probe", Health: sources.HealthOK, Detail: b.Status.Detail}
		changes := sess.Step(b)
		if !faultAt.IsZero() {
			for _, p := range b.Paths {
				if p.Vantage == "v1" {
					rounds += p.Rounds
				}
			}
		}
		jr := judgeRound{at: time.Now(), faulty: !faultAt.IsZero(), rounds: rounds}
		if vs := sess.Paths(); len(vs) == 1 {
			jr.verdict = vs[0]
		}
		for _, f := range sess.Findings() {
			if f.Rule == "path" {
				jr.findings = append(jr.findings, f)
			}
		}
		for _, c := range changes {
			if c.Finding.Rule == "path" {
				jr.changes = append(jr.changes, c)
			}
		}
		sc.evals = append(sc.evals, jr)
	}
	return sc
}

// holds checks that the scenario reached the wanted verdict after the
// fault and kept it, with one steady finding, at every later evaluation;
// and that no path finding was open before the fault.
func (sc *scenario) holds(t *testing.T, finding bool, want func(v *correlate.PathVerdict) string) {
	t.Helper()
	first := -1
	var id string
	bad := 0
	for i := range sc.evals {
		e := &sc.evals[i]
		if !e.faulty {
			if len(e.findings) > 0 {
				t.Errorf("before the fault: finding %q", e.findings[0].Title)
			}
			continue
		}
		for _, c := range e.changes {
			t.Logf("  %s after %d rounds: %s %s", c.Kind, e.rounds, c.Finding.ID, c.Finding.Title)
		}
		why := want(&e.verdict)
		if first < 0 {
			if why == "" && e.verdict.Persistent && (len(e.findings) == 1) == finding && (finding || len(e.findings) == 0) {
				first = i
				if finding {
					id = e.findings[0].ID
				}
				t.Logf("first verdict after %d rounds: %s", e.rounds, e.verdict.Text)
			}
			continue
		}
		switch {
		case why != "":
			bad++
			if bad <= 5 {
				t.Errorf("after %d rounds the verdict changed: %s (%s: %s)", e.rounds, why, e.verdict.Kind, e.verdict.Text)
				if bad <= 2 {
					logVerdict(t, &e.verdict)
				}
			}
		case !e.verdict.Persistent:
			bad++
			if bad <= 5 {
				t.Errorf("after %d rounds the verdict is not persistent: %s", e.rounds, e.verdict.Text)
			}
		case finding && (len(e.findings) != 1 || e.findings[0].ID != id), !finding && len(e.findings) > 0:
			bad++
			if bad <= 5 {
				var ts []string
				for _, f := range e.findings {
					ts = append(ts, f.ID)
				}
				t.Errorf("after %d rounds the findings are %v, want only %s", e.rounds, ts, id)
			}
		}
	}
	last := sc.evals[len(sc.evals)-1]
	logVerdict(t, &last.verdict)
	if first < 0 {
		t.Fatalf("no steady verdict in %d rounds after the fault: %s", last.rounds, why(want, &last.verdict))
	}
	if bad > 0 {
		t.Errorf("%d of %d evaluations after the first verdict were not it", bad, len(sc.evals)-first-1)
	}
}

func why(want func(v *correlate.PathVerdict) string, v *correlate.PathVerdict) string {
	if w := want(v); w != "" {
		return w
	}
	return "right but not persistent"
}

func logVerdict(t *testing.T, v *correlate.PathVerdict) {
	t.Helper()
	t.Logf("verdict %s: %s (confident %v, persistent %v, held %v)", v.Kind, v.Text, v.Confident, v.Persistent, v.Held)
	if v.LatencyKind != correlate.VerdictNone && v.LatencyPlace != nil {
		t.Logf("latency %s: %s (confident %v, persistent %v, held %v)", v.LatencyKind, v.LatencyPlace.Label(), v.LatencyConfident, v.LatencyPersistent, v.LatencyHeld)
	}
	for _, p := range v.Paths {
		var hs []string
		for _, h := range p.Hops {
			hs = append(hs, fmt.Sprintf("%d:%s %d/%d %.0f%%%s%s%s", h.TTL, h.Addr, h.Received, h.Sent, h.Floor*100,
				map[bool]string{true: " RL"}[h.RateLimited], map[bool]string{true: " doubt"}[h.Doubtful], map[bool]string{true: " ←"}[h.Onset]))
		}
		t.Logf("  %s e2e %.0f%% of %d since %s: %s", p.Vantage, p.Loss*100, p.Sent, p.Since.Format("15:04:05.0"), strings.Join(hs, "  "))
		if p.LatencyOnset != nil {
			t.Logf("  %s median RTT +%s from the %s (jitter %s, %s before)", p.Vantage, p.LatencyRise, p.LatencyOnset.Label(), p.LatencyJitter, p.LatencyJitterBefore)
		}
	}
}

// placeHas reports whether the place answers as addr.
func placeHas(p *correlate.Place, addr string) bool {
	return p != nil && (p.To == addr || contains(p.Aliases, addr))
}

const (
	verdictClean   = 8 * time.Second
	verdictFaulty  = 40 * time.Second
	carrierTowards = "ifa%d" // c's interface toward access router i
)

// TestCarrierLossWithRateLimitedAccessRouter: 25 % loss entering the
// carrier from every access router while a1 rate-limits its ICMP answers
// (the Linux default, 1/s): one steady shared finding at the carrier, and
// a1 never a candidate.
func TestCarrierLossWithRateLimitedAccessRouter(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "cl")
	bin := probeBinary(t)
	tb.x("a1", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000")
	sc := tb.judge(bin, verdictClean, func() {
		for i := 1; i <= 3; i++ {
			tb.x("c", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", fmt.Sprintf(carrierTowards, i),
				"-m", "statistic", "--mode", "random", "--probability", "0.25", "-j", "DROP")
		}
	}, verdictFaulty)
	sc.holds(t, true, func(v *correlate.PathVerdict) string {
		switch {
		case v.Kind != correlate.VerdictShared:
			return "want shared, got " + string(v.Kind)
		case len(v.Vantages) != 3:
			return fmt.Sprintf("want 3 of 3 vantages, got %v", v.Vantages)
		case !placeHas(v.Place, "10.2.1.1") && !placeHas(v.Place, "10.2.2.1") && !placeHas(v.Place, "10.2.3.1"):
			return fmt.Sprintf("want the carrier blamed, got %s", v.Place.Label())
		case placeHas(v.Place, "10.1.1.1"):
			return "the rate-limiting access router is named: " + v.Place.Label()
		}
		return ""
	})
}

// TestReturnPathLossIsLocal: v3's answers come back through b, which
// drops 30 %: local to v3, its return path suspected; never the target.
func TestReturnPathLossIsLocal(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "rp")
	bin := probeBinary(t)
	sc := tb.judge(bin, verdictClean, func() {
		tb.run("ip", "-n", tb.ns("e"), "route", "replace", "10.1.3.0/24", "via", "10.5.0.2")
		tb.x("b", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", "ife",
			"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
	}, verdictFaulty)
	sc.holds(t, true, func(v *correlate.PathVerdict) string {
		switch {
		case v.Kind != correlate.VerdictLocal:
			return "want local, got " + string(v.Kind)
		case len(v.Vantages) != 1 || v.Vantages[0] != "v3":
			return fmt.Sprintf("want v3, got %v", v.Vantages)
		case !v.Exonerated:
			return "the return path is not suspected"
		}
		return ""
	})
}

// TestRateLimitedCarrierAndEdgeLinkLoss: c rate-limits its ICMP answers
// and 20 % are lost on the link from c into e: the segment ending at e,
// c marked as rate limiting and never taken for the target.
func TestRateLimitedCarrierAndEdgeLinkLoss(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "ce")
	bin := probeBinary(t)
	sc := tb.judge(bin, verdictClean, func() {
		tb.x("c", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000")
		tb.x("e", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", "ifc",
			"-m", "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP")
	}, verdictFaulty)
	sc.holds(t, true, func(v *correlate.PathVerdict) string {
		switch {
		case v.Kind != correlate.VerdictShared:
			return "want shared, got " + string(v.Kind)
		case v.Place == nil || v.Place.To != "10.3.0.2":
			return fmt.Sprintf("want the segment ending at e (10.3.0.2), got %+v", v.Place)
		case placeHas(v.Place, "10.2.1.1") || placeHas(v.Place, "10.2.2.1") || placeHas(v.Place, "10.2.3.1"):
			return "the rate-limiting carrier is named: " + v.Place.Label()
		}
		// c is never blamed: rate limiting, or while the evidence is
		// young, doubtful
		notBlamed := append(append([]string(nil), v.RateLimited...), v.Doubtful...)
		for i := 1; i <= 3; i++ {
			if a := fmt.Sprintf("10.2.%d.1", i); !contains(notBlamed, a) {
				return fmt.Sprintf("c's address %s is not marked, rate limiting %v, doubtful %v", a, v.RateLimited, v.Doubtful)
			}
		}
		return ""
	})
	last := sc.evals[len(sc.evals)-1].verdict
	for i := 1; i <= 3; i++ {
		if a := fmt.Sprintf("10.2.%d.1", i); !contains(last.RateLimited, a) {
			t.Errorf("at the end, c's address %s is not marked rate limiting: %v", a, last.RateLimited)
		}
	}
}

// TestCleanPathsStayClean is the control: no fault, no finding, a
// persistent verdict of none.
func TestCleanPathsStayClean(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "ok")
	bin := probeBinary(t)
	sc := tb.judge(bin, verdictClean, func() {}, 20*time.Second)
	sc.holds(t, false, func(v *correlate.PathVerdict) string {
		if v.Kind != correlate.VerdictNone {
			return "want none, got " + string(v.Kind)
		}
		return ""
	})
}

// load sends UDP from namespace n to the target at bytesPerSec for d,
// in the background: a bounded flow that fills a shaped queue.
func (tb *testbed) load(n string, bytesPerSec int, d time.Duration) {
	tb.t.Helper()
	need(tb.t, "python3")
	prog := `import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
end=time.time()+float(sys.argv[1]);rate=float(sys.argv[2]);b=b'x'*1200;n=0;t0=time.time()
while time.time()<end:
  s.sendto(b,(sys.argv[3],9));n+=1
  w=t0+n*1200/rate-time.time()
  if w>0:time.sleep(w)`
	cmd := exec.Command("ip", "netns", "exec", tb.ns(n), "python3", "-c", prog, fmt.Sprint(d.Seconds()), fmt.Sprint(bytesPerSec), target)
	if err := cmd.Start(); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// TestQueueIntoTheEdgeIsALatencyFinding: a shaped queue on the carrier's
// link into the edge, filled by a bounded flow from v1 (latency, no loss
// worth the name): a latency finding naming the segment ending at the
// edge, for all three vantages, steadily.
func TestQueueIntoTheEdgeIsALatencyFinding(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "lq")
	bin := probeBinary(t)
	sc := tb.judge(bin, verdictClean, func() {
		tb.x("c", "tc", "qdisc", "add", "dev", "ife", "root", "tbf", "rate", "4mbit", "burst", "5kb", "latency", "50ms")
		tb.load("v1", 6_000_000/8, verdictFaulty+5*time.Second)
	}, verdictFaulty)
	sc.holds(t, true, func(v *correlate.PathVerdict) string {
		switch {
		case !v.LatencyPersistent || v.LatencyKind != correlate.VerdictShared:
			return fmt.Sprintf("want a shared latency verdict, got %s (persistent %v)", v.LatencyKind, v.LatencyPersistent)
		case len(v.LatencyVants) != 3:
			return fmt.Sprintf("want all three vantages, got %v", v.LatencyVants)
		case v.LatencyPlace == nil || v.LatencyPlace.To != "10.3.0.2":
			return fmt.Sprintf("want the segment ending at the edge, got %+v", v.LatencyPlace)
		case v.LatencyRise < 10*time.Millisecond:
			return fmt.Sprintf("a rise of %s", v.LatencyRise)
		}
		return ""
	})
}

// ecmp adds two equal-cost routers m1 and m2 between the carrier and the
// edge (path-probes.md §5.2): c balances 10.4.0.0/24 over them, hashing
// addresses, protocol and ports, so a flow keeps its branch and another
// flow may take the other.
func (tb *testbed) ecmp() {
	tb.t.Helper()
	tb.namespaces(append(allNS, "m1", "m2")[len(allNS):])
	for _, m := range []string{"1", "2"} {
		n := "m" + m
		tb.x(n, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0")
		tb.link("c", "ifm"+m, "10.7."+m+".1/24", n, "ifc", "10.7."+m+".2/24")
		tb.link(n, "ife", "10.8."+m+".1/24", "e", "ifm"+m, "10.8."+m+".2/24")
		tb.run("ip", "-n", tb.ns(n), "route", "add", "10.4.0.0/24", "via", "10.8."+m+".2")
		tb.run("ip", "-n", tb.ns(n), "route", "add", "10.1.0.0/16", "via", "10.7."+m+".1")
		tb.x(n, "sh", "-c", "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done")
	}
	tb.x("e", "sh", "-c", "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done")
	tb.x("c", "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=3", "net.ipv4.fib_multipath_hash_fields=0x0037")
	tb.run("ip", "-n", tb.ns("c"), "route", "replace", "10.4.0.0/24", "nexthop", "via", "10.7.1.2", "nexthop", "via", "10.7.2.2")
}

// TestLossOnOneECMPBranch: 30 % loss entering m1, one of two equal-cost
// routers behind the carrier, probed with UDP (the kernel's balancer
// hashes ports, not ICMP identifiers) on four flows a vantage. The clean
// branch must not clear the lossy one (they share the edge as their
// next hop): the flows show both branches and the verdict names m1.
func TestLossOnOneECMPBranch(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "ec")
	tb.ecmp()
	tb.x("t", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0") // UDP probes: the target's port-unreachables
	bin := probeBinary(t)
	vs := []vspec{{name: "v1", backend: "udp"}, {name: "v2", backend: "udp"}, {name: "v3", backend: "udp"}}
	sc := tb.judgeFrom(bin, vs, verdictClean, func() {
		tb.x("m1", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", "ifc",
			"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
	}, verdictFaulty)
	sc.holds(t, true, func(v *correlate.PathVerdict) string {
		switch {
		case v.Kind != correlate.VerdictShared && v.Kind != correlate.VerdictLocal:
			return "want shared or local, got " + string(v.Kind)
		case v.Exonerated:
			return "the lossy branch cleared by the clean one: " + v.Text
		case !placeHas(v.Place, "10.7.1.2") || placeHas(v.Place, "10.7.2.2"):
			return "want m1 (10.7.1.2) named, got " + v.Place.Label()
		case !contains(v.Balanced, "10.7.1.2") || !contains(v.Balanced, "10.7.2.2"):
			return fmt.Sprintf("the load balancer's branches are not shown: %v", v.Balanced)
		}
		return ""
	})
}

// checkEvery is how often `opsview check` polls while it waits for the
// path verdicts, and checkWait how long it waits at most (--paths-wait).
const (
	checkEvery = 2 * time.Second
	checkWait  = 25 * time.Second
)

// checkRun is what a check said: the verdict and the path findings when
// it stopped, whether every verdict was decided then, and after how long.
type checkRun struct {
	verdict  correlate.PathVerdict
	findings []correlate.Finding
	judged   bool
	took     time.Duration
}

// check probes the testbed as `opsview check` does, with the fault
// already there: a fresh source and session (nothing from before), the
// default probe rounds of one a second, polled every two seconds until
// the path's loss and every vantage's latency are decided, for at most checkWait
// after the first poll of the sample (which starts the vantages).
func (tb *testbed) check(bin string) checkRun {
	t := tb.t
	t.Helper()
	src := tb.probeSource(bin, three(), time.Second)
	defer src.(sources.Closer).Close()
	sess := correlate.NewSession(correlate.SessionOptions{Engine: correlate.EngineOptions{Paths: true}})
	start := time.Now()
	var run checkRun
	for n := 0; time.Since(start) < checkWait+checkEvery; n++ {
		if n > 0 {
			time.Sleep(checkEvery) // the first poll starts the vantages
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := src.Poll(ctx, sources.Request{Now: time.Now()})
		cancel()
		if err != nil {
			t.Logf("poll: %v", err)
			continue
		}
		b.Source, b.Type, b.At = "paths", "probe", time.Now()
		b.Status = sources.Status{Source: "paths", Type: "probe", Health: sources.HealthOK, Detail: b.Status.Detail}
		sess.Step(b)
		vs := sess.Paths()
		if len(vs) != 1 {
			continue
		}
		run = checkRun{verdict: vs[0], took: time.Since(start)}
		for _, f := range sess.Findings() {
			if f.Rule == "path" {
				run.findings = append(run.findings, f)
			}
		}
		v := &run.verdict
		t.Logf("check after %s: loss %s persistent %v (probes %d), latency %s persistent %v",
			run.took.Round(100*time.Millisecond), v.Kind, v.Persistent, v.Probes, v.LatencyKind, v.LatencyPersistent)
		run.judged = v.Persistent && v.Kind != correlate.VerdictInsufficient && v.LatencyPersistent
		settled := run.judged
		for _, p := range v.Paths {
			settled = settled && !p.LatencyUndecided // a vantage may yet join
		}
		if settled {
			break
		}
	}
	t.Logf("check: judged %v after %s", run.judged, run.took.Round(time.Second))
	logVerdict(t, &run.verdict)
	for _, f := range run.findings {
		t.Logf("  finding %s", f.Title)
		for _, e := range f.Evidence {
			t.Logf("    %s", e.Text)
		}
	}
	return run
}

// queue puts the testbed's queue in place: a tbf on the carrier's link
// into the edge, filled by a bounded flow from v1.
func (tb *testbed) queue(d time.Duration) {
	tb.x("c", "tc", "qdisc", "add", "dev", "ife", "root", "tbf", "rate", "4mbit", "burst", "5kb", "latency", "50ms")
	tb.load("v1", 6_000_000/8, d)
}

// TestCheckSeesAQueueAlreadyThere: a check started while the queue is in
// place has no RTT from before; the queue's jitter tells it from a long
// link: a latency finding naming the segment ending at the edge, for
// every vantage, and no loss finding.
func TestCheckSeesAQueueAlreadyThere(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "qc")
	bin := probeBinary(t)
	tb.queue(checkWait + 10*time.Second)
	time.Sleep(time.Second) // the queue fills
	run := tb.check(bin)
	v := &run.verdict
	switch {
	case !run.judged:
		t.Fatalf("not judged in %s", checkWait)
	case v.Kind != correlate.VerdictNone:
		t.Errorf("want no loss verdict, got %s: %s", v.Kind, v.Text)
	case v.LatencyKind != correlate.VerdictShared || !v.LatencyPersistent:
		t.Fatalf("want a shared latency verdict, got %s (persistent %v)", v.LatencyKind, v.LatencyPersistent)
	case len(v.LatencyVants) != 3:
		t.Errorf("want all three vantages, got %v", v.LatencyVants)
	case v.LatencyPlace == nil || v.LatencyPlace.To != "10.3.0.2":
		t.Errorf("want the segment ending at the edge, got %+v", v.LatencyPlace)
	case v.LatencyRise < 30*time.Millisecond:
		t.Errorf("a rise of %s", v.LatencyRise)
	}
	if len(run.findings) != 1 || !strings.Contains(run.findings[0].ID, "/latency/") {
		t.Errorf("want one latency finding, got %d", len(run.findings))
	}
}

// longLink puts a long link between the carrier and the edge: their link
// runs through namespace d, which holds every frame delay each way (a
// fixed delay, no queue: what `tc netem delay` would do, absent here).
// report says how steadily the line held them.
func (tb *testbed) longLink(delay time.Duration) (report func() (time.Duration, string)) {
	tb.t.Helper()
	tb.namespaces([]string{"d"})
	tb.x("d", "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	tb.run("ip", "-n", tb.ns("c"), "link", "del", "ife") // and its peer in e, and the routes through it
	tb.run("ip", "-n", tb.ns("c"), "link", "add", "ife", "type", "veth", "peer", "name", "x0", "netns", tb.ns("d"))
	tb.run("ip", "-n", tb.ns("e"), "link", "add", "ifc", "type", "veth", "peer", "name", "x1", "netns", tb.ns("d"))
	tb.run("ip", "-n", tb.ns("c"), "addr", "add", "10.3.0.1/24", "dev", "ife")
	tb.run("ip", "-n", tb.ns("e"), "addr", "add", "10.3.0.2/24", "dev", "ifc")
	for _, l := range [][2]string{{"c", "ife"}, {"e", "ifc"}, {"d", "x0"}, {"d", "x1"}} {
		tb.run("ip", "-n", tb.ns(l[0]), "link", "set", l[1], "up")
	}
	tb.run("ip", "-n", tb.ns("d"), "link", "set", "x0", "promisc", "on")
	tb.run("ip", "-n", tb.ns("d"), "link", "set", "x1", "promisc", "on")
	tb.run("ip", "-n", tb.ns("c"), "route", "add", "10.4.0.0/24", "via", "10.3.0.2")
	tb.run("ip", "-n", tb.ns("e"), "route", "add", "10.1.0.0/16", "via", "10.3.0.1")
	tb.run("ip", "-n", tb.ns("e"), "route", "add", "10.2.0.0/16", "via", "10.3.0.1")
	return delayLine(tb.t, tb.ns("d"), "x0", "x1", delay)
}

// TestLongLinkStaysClean is the control of the queue: 50 ms more on the
// link into the edge, the same for every probe (no queue), there from
// the start: clean, with no latency verdict, live and in a check.
func TestLongLinkStaysClean(t *testing.T) {
	t.Parallel()
	tb := newTestbedNamed(t, "ll")
	bin := probeBinary(t)
	report := tb.longLink(25 * time.Millisecond)
	sc := tb.judge(bin, 0, func() {}, 20*time.Second)
	run := tb.check(bin)
	// the line is a timer in a virtual machine: when the host stalls it,
	// it holds frames unevenly, as a small queue does, and then says
	// nothing of a long link (0.3 ms is the least jitter read as a queue)
	fired := run.verdict.LatencyKind != correlate.VerdictNone
	for _, e := range sc.evals {
		fired = fired || e.verdict.LatencyKind != correlate.VerdictNone
	}
	if late90, summary := report(); fired && late90 >= 300*time.Microsecond {
		t.Skipf("the emulated long link was not steady (%s): its frames were held as unevenly as a queue holds them", summary)
	}
	sc.holds(t, false, func(v *correlate.PathVerdict) string {
		switch {
		case v.Kind != correlate.VerdictNone:
			return "want none, got " + string(v.Kind)
		case v.LatencyKind != correlate.VerdictNone:
			return fmt.Sprintf("want no latency verdict, got %s: %+v", v.LatencyKind, v.LatencyPlace)
		}
		return ""
	})
	last := sc.evals[len(sc.evals)-1].verdict
	for _, p := range last.Paths {
		for _, h := range p.Hops {
			if h.Dest && h.MedianRTT < 45*time.Millisecond {
				t.Fatalf("%s: the target's median RTT is %s: the long link is not there", p.Vantage, h.MedianRTT)
			}
		}
	}
	switch v := &run.verdict; {
	case !run.judged:
		t.Errorf("not judged in %s", checkWait)
	case v.Kind != correlate.VerdictNone || v.LatencyKind != correlate.VerdictNone || len(run.findings) > 0:
		t.Errorf("the check says %s, latency %s, %d findings", v.Kind, v.LatencyKind, len(run.findings))
	}
}
