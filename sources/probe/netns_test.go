package probe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// need skips (or fails under CI=true) when a tool or root is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	miss := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %s", why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		miss("network namespace tests need root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			miss(fmt.Sprintf("%s not installed (apt-get install -y iproute2 iptables mtr-tiny)", tool))
		}
	}
}

// testbed is path-probes.md §5.1 built in namespaces named <prefix>v1 …
// <prefix>t: three vantages, access routers a1..a3, a shared carrier c
// (answering each vantage from a different address), a provider edge e, a
// return-only router b and the target t 10.4.0.2.
type testbed struct {
	t      *testing.T
	prefix string
}

const target = "10.4.0.2"

func (tb *testbed) ns(n string) string { return tb.prefix + n }

func (tb *testbed) run(args ...string) {
	tb.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		tb.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// x runs a command inside namespace n.
func (tb *testbed) x(n string, args ...string) {
	tb.t.Helper()
	tb.run(append([]string{"ip", "netns", "exec", tb.ns(n)}, args...)...)
}

func (tb *testbed) link(n1, if1, a1, n2, if2, a2 string) {
	tb.t.Helper()
	tb.run("ip", "-n", tb.ns(n1), "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", tb.ns(n2))
	tb.run("ip", "-n", tb.ns(n1), "addr", "add", a1, "dev", if1)
	tb.run("ip", "-n", tb.ns(n1), "link", "set", if1, "up")
	tb.run("ip", "-n", tb.ns(n2), "addr", "add", a2, "dev", if2)
	tb.run("ip", "-n", tb.ns(n2), "link", "set", if2, "up")
}

// namespaces makes the named namespaces (left over ones first removed)
// with loopback up, and removes them when the test ends.
func (tb *testbed) namespaces(names []string) {
	tb.t.Helper()
	down := func() {
		for _, n := range names {
			exec.Command("ip", "netns", "del", tb.ns(n)).Run()
		}
	}
	down()
	tb.t.Cleanup(down)
	for _, n := range names {
		tb.run("ip", "netns", "add", tb.ns(n))
		tb.run("ip", "-n", tb.ns(n), "link", "set", "lo", "up")
	}
}

var allNS = []string{"v1", "v2", "v3", "a1", "a2", "a3", "c", "e", "t", "b"}

func newTestbed(t *testing.T) *testbed {
	need(t, "ip", "iptables")
	tb := &testbed{t: t, prefix: fmt.Sprintf("ovp%d-", os.Getpid())}
	return tb.build()
}

// build makes the testbed's namespaces, links and routes.
func (tb *testbed) build() *testbed {
	tb.t.Helper()
	tb.namespaces(allNS)
	for _, n := range allNS {
		tb.x(n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	for i := 1; i <= 3; i++ {
		s := fmt.Sprint(i)
		tb.link("v"+s, "eth0", "10.1."+s+".2/24", "a"+s, "ifv", "10.1."+s+".1/24")
		tb.link("a"+s, "ifc", "10.2."+s+".2/24", "c", "ifa"+s, "10.2."+s+".1/24")
		tb.run("ip", "-n", tb.ns("v"+s), "route", "add", "default", "via", "10.1."+s+".1")
		tb.run("ip", "-n", tb.ns("a"+s), "route", "add", "default", "via", "10.2."+s+".1")
		tb.run("ip", "-n", tb.ns("c"), "route", "add", "10.1."+s+".0/24", "via", "10.2."+s+".2")
	}
	tb.link("c", "ife", "10.3.0.1/24", "e", "ifc", "10.3.0.2/24")
	tb.link("e", "ift", "10.4.0.1/24", "t", "eth0", "10.4.0.2/24")
	tb.link("e", "ifb", "10.5.0.1/24", "b", "ife", "10.5.0.2/24")
	tb.link("b", "ifa3", "10.6.0.1/24", "a3", "ifb", "10.6.0.2/24")
	tb.run("ip", "-n", tb.ns("c"), "route", "add", "10.4.0.0/24", "via", "10.3.0.2")
	tb.run("ip", "-n", tb.ns("e"), "route", "add", "10.1.0.0/16", "via", "10.3.0.1")
	tb.run("ip", "-n", tb.ns("e"), "route", "add", "10.2.0.0/16", "via", "10.3.0.1")
	tb.run("ip", "-n", tb.ns("t"), "route", "add", "default", "via", "10.4.0.1")
	tb.run("ip", "-n", tb.ns("b"), "route", "add", "10.1.3.0/24", "via", "10.6.0.2")
	tb.run("ip", "-n", tb.ns("b"), "route", "add", "10.4.0.0/24", "via", "10.5.0.1")
	for _, n := range allNS {
		tb.x(n, "sh", "-c", "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done")
	}
	for _, n := range []string{"a1", "a2", "a3", "c", "e", "b"} {
		tb.x(n, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0") // clean baseline
	}
	return tb
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// probeBinary builds the probe mode (internal/testprobe) into a directory
// every user can read, so the unprivileged run can execute it.
func probeBinary(t *testing.T) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ovp-bin-")
		if err != nil {
			binErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "opsview")
		out, err := exec.Command("go", "build", "-o", binPath, "./internal/testprobe").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// collect runs the probe source for d, polling every 2 s like the
// scheduler, and returns the path histories it produced.
func collect(t *testing.T, yaml string, d time.Duration) []correlate.PathHistory {
	t.Helper()
	opts, err := config.OptionsFromYAML("test.yaml", yaml)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := sources.Lookup("probe")
	if !ok {
		t.Fatal("probe source not registered")
	}
	src, err := k.New(sources.Env{Name: "paths", Logf: t.Logf}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.(sources.Closer).Close()
	hist := map[string]*correlate.PathHistory{}
	var order []string
	end := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(end) {
		time.Sleep(2 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := src.Poll(ctx, sources.Request{Now: time.Now()})
		cancel()
		if err != nil {
			lastErr = err
			t.Logf("poll: %v", err)
			continue
		}
		for _, p := range b.Paths {
			key := p.Vantage + "|" + p.Target
			h := hist[key]
			if h == nil {
				h = &correlate.PathHistory{Source: "paths", Vantage: p.Vantage, Target: p.Target}
				hist[key] = h
				order = append(order, key)
			}
			h.Traces = append(h.Traces, p)
		}
	}
	var out []correlate.PathHistory
	for _, k := range order {
		out = append(out, *hist[k])
	}
	if len(out) == 0 {
		t.Fatalf("no paths measured (last error: %v)", lastErr)
	}
	return out
}

// vspec is one vantage of a test config.
type vspec struct {
	name, typ, prefix, backend string
}

func (tb *testbed) yaml(bin string, vs ...vspec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "targets: [%s]\nprobe_interval: 100ms\nasn_overrides:\n  \"10.2.0.0/16\": \"AS65002 carrier\"\n  \"10.3.0.0/24\": \"AS65002 carrier\"\n  \"10.4.0.0/24\": \"AS65004 provider\"\n  \"10.1.1.0/24\": \"AS65101 dc1\"\n  \"10.1.2.0/24\": \"AS65102 home\"\n  \"10.1.3.0/24\": \"AS65103 chicago\"\nreverse_dns: false\nvantages:\n", target)
	for _, v := range vs {
		typ := v.typ
		if typ == "" {
			typ = "exec"
		}
		fmt.Fprintf(&b, "  - name: %s\n    type: %s\n    command: ip netns exec %s %s\n    opsview: %s\n", v.name, typ, tb.ns(v.name), v.prefix, bin)
		if v.backend != "" {
			fmt.Fprintf(&b, "    backend: %s\n", v.backend)
		}
	}
	return b.String()
}

func three() []vspec { return []vspec{{name: "v1"}, {name: "v2"}, {name: "v3"}} }

func verdict(t *testing.T, paths []correlate.PathHistory) correlate.PathVerdict {
	t.Helper()
	vs := correlate.Triangulate(paths, nil)
	if len(vs) != 1 {
		t.Fatalf("want one verdict, got %d", len(vs))
	}
	v := vs[0]
	t.Logf("verdict %s: %s (probes %d, persistent %v)", v.Kind, v.Text, v.Probes, v.Persistent)
	for _, p := range v.Paths {
		var hs []string
		for _, h := range p.Hops {
			hs = append(hs, fmt.Sprintf("%d:%s %.0f%%/%.0f%%%s", h.TTL, h.Addr, h.Loss*100, h.Floor*100, map[bool]string{true: " RL"}[h.RateLimited]))
		}
		t.Logf("  %s e2e %.0f%% of %d: %s", p.Vantage, p.Loss*100, p.Sent, strings.Join(hs, "  "))
	}
	return v
}

// TestNetnsScenarios probes the namespace testbed from three vantage
// points through the exec backend (`ip netns exec … opsview probe --json`)
// and triangulates the result.
func TestNetnsScenarios(t *testing.T) {
	tb := newTestbed(t)
	bin := probeBinary(t)
	const dur = 16 * time.Second
	clear := func() {
		tb.x("c", "iptables", "-t", "raw", "-F")
		tb.x("a3", "iptables", "-t", "raw", "-F")
		tb.x("c", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	}

	t.Run("clean", func(t *testing.T) {
		clear()
		v := verdict(t, collect(t, tb.yaml(bin, three()...), dur))
		if v.Kind != correlate.VerdictNone || len(correlate.FindingsFromVerdicts([]correlate.PathVerdict{v})) != 0 {
			t.Fatalf("clean path: want no finding, got %s", v.Kind)
		}
	})

	t.Run("carrier-loss", func(t *testing.T) {
		clear()
		for i := 1; i <= 3; i++ {
			tb.x("c", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", fmt.Sprintf("ifa%d", i),
				"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
		}
		v := verdict(t, collect(t, tb.yaml(bin, three()...), dur))
		if v.Kind != correlate.VerdictShared || len(v.Vantages) != 3 || v.Total != 3 || !v.Persistent {
			t.Fatalf("want a persistent shared segment seen from 3 of 3, got %s %v/%d", v.Kind, v.Vantages, v.Total)
		}
		// c answers every vantage from a different address: still one
		// place. At 30 % loss and ~60 probes a window, one vantage's onset
		// can land a hop later by chance (about 2 % of draws in
		// TestTriangulateRobust's model); two of c's addresses merged into
		// the place already show the aliasing.
		got := append([]string{v.Place.To}, v.Place.Aliases...)
		merged := 0
		for i := 1; i <= 3; i++ {
			if contains(got, fmt.Sprintf("10.2.%d.1", i)) {
				merged++
			} else {
				t.Logf("place %v lacks c's address toward v%d", got, i)
			}
		}
		if merged < 2 {
			t.Fatalf("place %v holds %d of c's three addresses, want at least 2", got, merged)
		}
		if v.Place.Successor != "10.3.0.2" || v.Place.ASN != 65002 {
			t.Fatalf("place: %+v", v.Place)
		}
		fs := correlate.FindingsFromVerdicts([]correlate.PathVerdict{v})
		if len(fs) != 1 || !strings.Contains(fs[0].Title, "3 of 3") {
			t.Fatalf("findings: %+v", fs)
		}
	})

	t.Run("rate-limit", func(t *testing.T) {
		clear()
		tb.x("c", "sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000") // the Linux default
		paths := collect(t, tb.yaml(bin, three()...), dur)
		v := verdict(t, paths)
		if v.Kind != correlate.VerdictNone {
			t.Fatalf("ICMP rate limiting blamed: %s", v.Kind)
		}
		marked := 0
		for _, p := range paths {
			for _, tr := range p.Traces {
				if len(tr.Hops) > 1 && tr.Hops[1].RateLimited {
					marked++
					break
				}
			}
		}
		if marked != 3 {
			t.Errorf("the source marked c rate-limited on %d of 3 vantages", marked)
		}
		if len(v.RateLimited) == 0 {
			t.Fatal("c's rate limiting not shown")
		}
	})

	t.Run("local-access", func(t *testing.T) {
		clear()
		tb.x("a3", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", "ifv",
			"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
		v := verdict(t, collect(t, tb.yaml(bin, three()...), dur))
		if v.Kind != correlate.VerdictLocal || len(v.Vantages) != 1 || v.Vantages[0] != "v3" {
			t.Fatalf("want local to v3, got %s %v", v.Kind, v.Vantages)
		}
		if v.Place.To != "10.1.3.1" {
			t.Fatalf("want the access router blamed, got %+v", v.Place)
		}
	})

	t.Run("unprivileged-udp", func(t *testing.T) {
		need(t, "setpriv")
		clear()
		paths := collect(t, tb.yaml(bin, vspec{name: "v1", prefix: nobody}, vspec{name: "v2", prefix: nobody}), 8*time.Second)
		for _, p := range paths {
			tr := p.Latest()
			if !tr.Reached || len(tr.Hops) != 4 || tr.Hops[1].Addr == "" || tr.EndToEnd.Sent == 0 || tr.EndToEnd.Received == 0 {
				t.Fatalf("%s: unprivileged trace incomplete: %+v", p.Vantage, tr)
			}
		}
	})

	t.Run("unprivileged-ping-socket", func(t *testing.T) {
		need(t, "setpriv")
		clear()
		tb.x("v1", "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
		defer tb.x("v1", "sysctl", "-qw", "net.ipv4.ping_group_range=1 0")
		paths := collect(t, tb.yaml(bin, vspec{name: "v1", prefix: nobody, backend: "ping"}), 6*time.Second)
		tr := paths[0].Latest()
		if !tr.Reached || len(tr.Hops) != 4 || tr.Hops[1].Addr != "10.2.1.1" || tr.EndToEnd.Received == 0 {
			t.Fatalf("ping socket trace incomplete: %+v", tr)
		}
	})

	t.Run("no-permission-says-how", func(t *testing.T) {
		need(t, "setpriv")
		opts, err := config.OptionsFromYAML("t.yaml", tb.yaml(bin, vspec{name: "v2", prefix: nobody, backend: "icmp"}))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := sources.Lookup("probe")
		src, err := k.New(sources.Env{Name: "paths"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer src.(sources.Closer).Close()
		var perr error
		for i := 0; i < 10 && perr == nil; i++ {
			time.Sleep(500 * time.Millisecond)
			_, perr = src.Poll(context.Background(), sources.Request{Now: time.Now()})
		}
		if perr == nil || !strings.Contains(perr.Error(), "setcap cap_net_raw+ep") || !strings.Contains(perr.Error(), "ping_group_range") {
			t.Fatalf("want an error saying how to grant ICMP, got %v", perr)
		}
	})

	t.Run("mtr-vantage-carrier-loss", func(t *testing.T) {
		need(t, "mtr")
		clear()
		for i := 1; i <= 3; i++ {
			tb.x("c", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", fmt.Sprintf("ifa%d", i),
				"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
		}
		v := verdict(t, collect(t, tb.yaml(bin, vspec{name: "v1"}, vspec{name: "v2"}, vspec{name: "v3", typ: "mtr"}), dur))
		if v.Kind != correlate.VerdictShared || v.Total != 3 || len(v.Vantages) != 3 {
			t.Fatalf("want shared 3 of 3 with v3 through mtr --raw, got %s %v/%d", v.Kind, v.Vantages, v.Total)
		}
	})

	t.Run("return-path", func(t *testing.T) {
		clear()
		tb.run("ip", "-n", tb.ns("e"), "route", "replace", "10.1.3.0/24", "via", "10.5.0.2")
		defer tb.run("ip", "-n", tb.ns("e"), "route", "replace", "10.1.3.0/24", "via", "10.3.0.1")
		tb.x("b", "iptables", "-t", "raw", "-A", "PREROUTING", "-i", "ife",
			"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
		defer tb.x("b", "iptables", "-t", "raw", "-F")
		v := verdict(t, collect(t, tb.yaml(bin, three()...), dur))
		if v.Kind != correlate.VerdictLocal || v.Vantages[0] != "v3" || !v.Exonerated {
			t.Fatalf("want local to v3 with the return path suspected, got %s %v exonerated=%v", v.Kind, v.Vantages, v.Exonerated)
		}
	})
}

const nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all"

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestNetnsIPv6ThroughRouters probes over IPv6 through two routers in
// namespaces (v — r1 — r2 — t), with the raw ICMPv6 and the UDP backends:
// every hop answers from its own address, the target is reached, and
// 30 % loss entering r2 shows from r2 on and not before.
func TestNetnsIPv6ThroughRouters(t *testing.T) {
	need(t, "ip", "ip6tables")
	bin := probeBinary(t)
	prefix := fmt.Sprintf("ovp6%d-", os.Getpid())
	tb := &testbed{t: t, prefix: prefix}
	tb.namespaces([]string{"v", "r1", "r2", "t"})
	link := func(n1, if1, a1, n2, if2, a2 string) {
		tb.run("ip", "-n", tb.ns(n1), "link", "add", if1, "type", "veth", "peer", "name", if2, "netns", tb.ns(n2))
		for _, e := range [][3]string{{n1, if1, a1}, {n2, if2, a2}} {
			tb.run("ip", "-n", tb.ns(e[0]), "addr", "add", e[2], "dev", e[1], "nodad") // usable at once
			tb.run("ip", "-n", tb.ns(e[0]), "link", "set", e[1], "up")
		}
	}
	link("v", "eth0", "fd00:1::2/64", "r1", "ifv", "fd00:1::1/64")
	link("r1", "ifr", "fd00:2::1/64", "r2", "ifl", "fd00:2::2/64")
	link("r2", "ift", "fd00:3::1/64", "t", "eth0", "fd00:3::2/64")
	tb.run("ip", "-n", tb.ns("v"), "-6", "route", "add", "default", "via", "fd00:1::1")
	tb.run("ip", "-n", tb.ns("r1"), "-6", "route", "add", "fd00:3::/64", "via", "fd00:2::2")
	tb.run("ip", "-n", tb.ns("r2"), "-6", "route", "add", "fd00:1::/64", "via", "fd00:2::1")
	tb.run("ip", "-n", tb.ns("t"), "-6", "route", "add", "default", "via", "fd00:3::1")
	for _, n := range []string{"r1", "r2"} {
		tb.x(n, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	}
	for _, n := range []string{"r1", "r2", "t"} {
		tb.x(n, "sysctl", "-qw", "net.ipv6.icmp.ratelimit=0") // every probe answered
	}
	rounds := func(backend string, n int) []Round {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", tb.ns("v"), bin, "probe", "--json", "--count", fmt.Sprint(n),
			"--interval", "50ms", "--timeout", "300ms", "--backend", backend, "fd00:3::2").Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", backend, err, out)
		}
		var rs []Round
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var r Round
			if err := decodeRound([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v: %q", backend, err, line)
			}
			rs = append(rs, r)
		}
		return rs
	}
	// neighbour discovery and the link-local addresses settle first
	for i := 0; ; i++ {
		r := rounds(BackendRaw, 1)[0]
		if r.E2E != nil && r.E2E.OK && len(r.Probes) >= 3 && r.Probes[0].From != "" && r.Probes[1].From != "" {
			break
		}
		if i == 50 {
			t.Fatalf("the IPv6 path did not come up in 10 s: %+v", r)
		}
		if i > 0 && i%10 == 0 {
			t.Logf("waiting for the IPv6 path (%d tries)", i)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := map[int]string{1: "fd00:1::1", 2: "fd00:2::2", 3: "fd00:3::2"}
	for _, backend := range []string{BackendRaw, BackendUDP} {
		for _, r := range rounds(backend, 3) {
			if r.Error != "" || r.E2E == nil || !r.E2E.OK {
				t.Fatalf("%s: round %+v", backend, r)
			}
			for _, p := range r.Probes {
				if w, ok := want[p.TTL]; ok && p.From != w {
					t.Errorf("%s: TTL %d answered from %q, want %s", backend, p.TTL, p.From, w)
				}
				if p.TTL == 3 && p.Kind != KindReached {
					t.Errorf("%s: TTL 3 is %s, want reached", backend, p.Kind)
				}
			}
		}
	}
	// 30 % loss on the way into r2
	tb.x("r2", "ip6tables", "-t", "raw", "-A", "PREROUTING", "-i", "ifl",
		"-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP")
	sent, lost := map[int]int{}, map[int]int{}
	for _, r := range rounds(BackendRaw, 40) {
		for _, p := range r.Probes {
			if p.TTL > 3 {
				continue
			}
			sent[p.TTL]++
			if p.From == "" {
				lost[p.TTL]++
			}
		}
	}
	share := func(ttl int) float64 { return float64(lost[ttl]) / float64(max(1, sent[ttl])) }
	t.Logf("loss by TTL: 1 %.0f%%, 2 %.0f%%, 3 %.0f%% of %d", 100*share(1), 100*share(2), 100*share(3), sent[1])
	if share(1) > 0.05 || share(2) < 0.1 || share(3) < 0.1 {
		t.Fatalf("want no loss at r1 and loss from r2 on: %v lost of %v", lost, sent)
	}
}
