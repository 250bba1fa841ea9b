package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestMtrRawCapture parses a real `mtr -n --raw -c 10 -i 0.1` run (mtr-tiny
// 0.95, 30 % drop at the first router, target one hop behind it) and
// checks the counts against the x/p lines of the capture itself.
func TestMtrRawCapture(t *testing.T) {
	lines := readLines(t, "testdata/mtr-raw-0.95-loss.txt")
	sent, recv := map[string]int{}, map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		switch f[0] {
		case "x":
			sent[f[1]]++
		case "p":
			recv[f[1]]++
		}
	}
	p := NewMtrRaw("10.9.2.2", "10.9.2.2")
	ps := NewPathStats("mtr", "10.9.2.2")
	for _, l := range lines {
		rs, err := p.Line(l)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			ps.Add(&rs[i])
		}
	}
	for _, r := range p.Flush() {
		ps.Add(&r)
	}
	tr := ps.Trace()
	if !tr.Reached || len(tr.Hops) != 2 || tr.Hops[0].Addr != "10.9.1.1" || tr.Hops[1].Addr != "10.9.2.2" {
		t.Fatalf("trace: %+v", tr)
	}
	if tr.Hops[0].Sent != sent["0"] || tr.Hops[0].Received != recv["0"] {
		t.Errorf("hop 1: %d/%d, capture says %d/%d", tr.Hops[0].Received, tr.Hops[0].Sent, recv["0"], sent["0"])
	}
	if tr.EndToEnd.Sent != sent["1"] || tr.EndToEnd.Received != recv["1"] {
		t.Errorf("end to end: %d/%d, capture says %d/%d", tr.EndToEnd.Received, tr.EndToEnd.Sent, recv["1"], sent["1"])
	}
	if tr.Rounds < 9 {
		t.Errorf("%d rounds from -c 10", tr.Rounds)
	}
}

func TestMtrRawRejectsGarbage(t *testing.T) {
	p := NewMtrRaw("t", "10.0.0.1")
	for _, l := range []string{"x 0", "h 0 not-an-ip", "p a b c", "hello world", "x 99999 1"} {
		if _, err := p.Line(l); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
}

func FuzzMtrRaw(f *testing.F) {
	for _, l := range readLines(f, "testdata/mtr-raw-0.95-loss.txt") {
		f.Add(l + "\n" + l)
	}
	f.Add("x 0 1\nh 0 \x1b[31m\np 0 5 1\nx 0 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		p := NewMtrRaw("t", "10.9.2.2")
		ps := NewPathStats("v", "t")
		for _, l := range strings.Split(s, "\n") {
			rs, _ := p.Line(l)
			for i := range rs {
				ps.Add(&rs[i])
			}
		}
		for _, r := range p.Flush() {
			for _, pr := range r.Probes {
				if pr.TTL < 1 || pr.TTL > maxMtrHop+1 {
					t.Fatalf("TTL %d", pr.TTL)
				}
				if _, err := netip.ParseAddr(pr.From); pr.From != "" && err != nil {
					t.Fatalf("responder %q", pr.From)
				}
			}
			ps.Add(&r)
		}
		tr := ps.Trace()
		for _, h := range tr.Hops {
			if h.Loss < 0 || h.Loss > 1 || h.Received > h.Sent {
				t.Fatalf("hop %+v", h)
			}
		}
	})
}

func FuzzDecodeRound(f *testing.F) {
	for _, l := range readLines(f, "testdata/probe-rounds-loopback.jsonl") {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"v":1,"target":"\u001b[2Jx","probes":[{"ttl":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Round
		if err := decodeRound(b, &r); err != nil {
			return
		}
		if strings.ContainsRune(r.Target, 0x1b) {
			t.Fatalf("escape kept in target %q", r.Target)
		}
		ps := NewPathStats("v", r.Target)
		ps.Add(&r)
		tr := ps.Trace()
		for _, h := range tr.Hops {
			if h.Loss < 0 || h.Loss > 1 {
				t.Fatalf("loss %v", h.Loss)
			}
		}
	})
}

func FuzzASNTable(f *testing.F) {
	f.Add("; pyasn\n10.2.0.0/16\t65002\tcarrier\n2001:db8::/32\tAS64500\n")
	f.Add("1.0.0.0/24\t13335\n::ffff:10.0.0.0/104\t1\n")
	f.Fuzz(func(t *testing.T, s string) {
		tb := NewASNTable()
		if err := tb.Read(strings.NewReader(s), "fuzz"); err != nil {
			return
		}
		tb.Lookup(netip.MustParseAddr("10.2.3.4"))
		tb.Lookup(netip.MustParseAddr("2001:db8::1"))
	})
}

func TestASNTable(t *testing.T) {
	tb := NewASNTable()
	err := tb.Read(strings.NewReader("; comment\n10.0.0.0/8\t64512\tbig\n10.2.0.0/16\tAS65002\tcarrier\n2001:db8::/32\t64500\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]int{"10.2.1.1": 65002, "10.9.9.9": 64512, "2001:db8::5": 64500, "192.0.2.1": 0} {
		got, _ := tb.Lookup(netip.MustParseAddr(addr))
		if got.ASN != want {
			t.Errorf("%s: AS%d, want AS%d", addr, got.ASN, want)
		}
	}
	if err := tb.Read(strings.NewReader("10.0.0.0/8 notanasn\n"), "bad.tsv"); err == nil || !strings.Contains(err.Error(), "bad.tsv:1") {
		t.Errorf("bad line: %v", err)
	}
}

func TestPathStats(t *testing.T) {
	ps := NewPathStats("v", "t")
	us := func(n int64) int64 { return n * 1000 }
	for i, rtt := range []int64{10, 30, 20, 40} {
		r := Round{V: 1, Target: "t", Addr: "10.0.0.9", Seq: i, Probes: []Probe{
			{TTL: 1, From: "10.0.0.1", Kind: KindTTL, RTTus: us(rtt)},
			{TTL: 2}, // lost
			{TTL: 3, From: "10.0.0.99", Kind: KindReached, RTTus: us(rtt)}, // a CPE pretending: not the target
		}, E2E: &EndToEnd{Method: "icmp", OK: i%2 == 0, RTTus: us(rtt)}}
		if i == 3 {
			r.Probes = append(r.Probes, Probe{TTL: 4, From: "10.0.0.9", Kind: KindReached, RTTus: us(rtt)})
		}
		ps.Add(&r)
	}
	tr := ps.Trace()
	if tr.EndToEnd.Sent != 4 || tr.EndToEnd.Received != 2 || tr.EndToEnd.Loss != 0.5 {
		t.Errorf("e2e %+v", tr.EndToEnd)
	}
	h := tr.Hops[0]
	if h.Min != 10*time.Millisecond || h.Max != 40*time.Millisecond || h.Median != 25*time.Millisecond || h.Last != 40*time.Millisecond {
		t.Errorf("rtt stats %+v", h)
	}
	// jitter = mean |Δ| = (20+10+20)/3
	if h.Jitter != 50*time.Millisecond/3 {
		t.Errorf("jitter %v", h.Jitter)
	}
	if tr.Hops[1].Addr != "" || tr.Hops[1].Loss != 1 {
		t.Errorf("silent hop %+v", tr.Hops[1])
	}
	if len(tr.Hops) != 4 || tr.Hops[3].Addr != "10.0.0.9" {
		t.Errorf("path must end where the target itself answered: %+v", tr.Hops)
	}
}

// A poll whose one round lost the answers of e (TTL 3) and of the target
// (TTL 4) while the echo came back is not a path ending at c: the trace
// still ends at the target's distance learnt before, with the last hops
// silent, and says where the target is.
func TestSilentLastHopsDoNotShortenThePath(t *testing.T) {
	ps := NewPathStats("v1", "10.4.0.2")
	full := Round{V: 1, Target: "10.4.0.2", Addr: "10.4.0.2", Probes: []Probe{
		{TTL: 1, From: "10.1.1.1", Kind: KindTTL, RTTus: 100},
		{TTL: 2, From: "10.2.1.1", Kind: KindTTL, RTTus: 200},
		{TTL: 3, From: "10.3.0.2", Kind: KindTTL, RTTus: 300},
		{TTL: 4, From: "10.4.0.2", Kind: KindReached, RTTus: 400},
	}, E2E: &EndToEnd{Method: "icmp", OK: true, RTTus: 400}}
	ps.Add(&full)
	if tr := ps.Trace(); len(tr.Hops) != 4 || tr.EndToEnd.TTL != 4 {
		t.Fatalf("full round: %+v", tr)
	}
	ps.Reset()
	cut := full
	cut.Probes = append([]Probe(nil), full.Probes...)
	cut.Probes[2], cut.Probes[3] = Probe{TTL: 3}, Probe{TTL: 4}
	ps.Add(&cut)
	tr := ps.Trace()
	if len(tr.Hops) != 4 || tr.Hops[2].Addr != "" || tr.Hops[3].Addr != "" || tr.Hops[3].Loss != 1 {
		t.Fatalf("want 4 hops, the last two silent: %+v", tr.Hops)
	}
	if tr.EndToEnd.TTL != 4 || !tr.Reached {
		t.Fatalf("the target is at TTL 4 and its echo answered: %+v reached=%v", tr.EndToEnd, tr.Reached)
	}
	// a router answering at the old distance: the path changed, the old
	// distance no longer holds
	ps.Reset()
	longer := cut
	longer.Probes = append([]Probe(nil), full.Probes[:3]...)
	longer.Probes = append(longer.Probes, Probe{TTL: 4, From: "10.9.9.9", Kind: KindTTL, RTTus: 400}, Probe{TTL: 5})
	ps.Add(&longer)
	if tr := ps.Trace(); tr.EndToEnd.TTL != 0 || len(tr.Hops) != 5 {
		t.Fatalf("a longer path: %+v", tr)
	}
}

func TestOptionsValidation(t *testing.T) {
	k, _ := sources.Lookup("probe")
	for _, bad := range []string{
		"probe_interval: 1s",
		"targets: [a]\nprobe_interval: 10ms",
		"targets: [a]\nprobe_timeout: 1h",
		"targets: [a]\nvantages: [{name: x, type: ftp}]",
		"targets: [a]\nvantages: [{name: x, type: agent}]",
		"targets: ['a; rm -rf /']",
		"targets: [a]\nasn_overrides: {\"10.0.0.0/8\": \"ASxyz\"}",
		"targets: [a]\nbackend: carrier-pigeon",
		"targets: [a]\nunknown_key: 1",
	} {
		o, err := config.OptionsFromYAML("t.yaml", bad)
		if err != nil {
			continue
		}
		if _, err := k.New(sources.Env{Name: "p"}, o); err == nil {
			t.Errorf("accepted: %s", bad)
		}
	}
}

func TestAgentTokenRules(t *testing.T) {
	if _, err := agentToken("0.0.0.0:9475", ""); err == nil {
		t.Error("non-loopback agent without a token accepted")
	}
	if _, err := agentToken("127.0.0.1:0", ""); err != nil {
		t.Error(err)
	}
	short := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := agentToken("0.0.0.0:1", short); err == nil {
		t.Error("short token accepted")
	}
}

// TestAgentAndAgentVantage runs a real agent on loopback with a token, and
// a probe source reading it as a vantage point.
func TestAgentAndAgentVantage(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunAgent(ctx, AgentOptions{Listen: "127.0.0.1:0", TokenFile: tok, Targets: []string{"127.0.0.1"},
			Interval: 100 * time.Millisecond, Ready: func(a string) { ready <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	addr := <-ready
	time.Sleep(700 * time.Millisecond)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("metrics without token: HTTP %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`opsview_probe_loss_ratio{target="127.0.0.1"} 0`, `opsview_probe_reached{target="127.0.0.1"} 1`, "# TYPE opsview_probe_hop_rtt_seconds gauge"} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, body.String())
		}
	}
	o, err := config.OptionsFromYAML("t.yaml", "targets: [127.0.0.1]\nreverse_dns: false\nvantages:\n  - {name: lo-agent, type: agent, url: \"http://"+addr+"\", token_file: "+tok+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sources.Lookup("probe")
	src, err := k.New(sources.Env{Name: "p"}, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Poll(context.Background(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Paths) != 1 || !b.Paths[0].Reached || b.Paths[0].Vantage != "lo-agent" || b.Paths[0].Rounds < 3 {
		t.Fatalf("agent vantage: %+v", b.Paths)
	}
	first := b.Paths[0].Rounds
	time.Sleep(300 * time.Millisecond)
	b, err = src.Poll(context.Background(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Paths) != 1 || b.Paths[0].Rounds > first {
		t.Fatalf("second poll must only carry new rounds: %d then %+v", first, b.Paths)
	}
}

// TestLocalBackendsLoopback probes 127.0.0.1 and ::1 with every backend
// this process may use.
func TestLocalBackendsLoopback(t *testing.T) {
	for _, target := range []string{"127.0.0.1", "::1"} {
		for _, be := range []string{BackendRaw, BackendUDP} {
			if be == BackendRaw && os.Geteuid() != 0 {
				continue
			}
			tr, err := NewTracer(target, netip.MustParseAddr(target), TracerOptions{Backend: be, Timeout: 300 * time.Millisecond, TCPPort: 1})
			if err != nil {
				t.Fatal(err)
			}
			r := tr.Round(context.Background(), 0)
			tr.Close()
			if r.Error != "" || len(r.Probes) != 1 || r.Probes[0].Kind != KindReached || r.E2E == nil || !r.E2E.OK {
				b, _ := json.Marshal(r)
				t.Errorf("%s via %s: %s", target, be, b)
			}
		}
	}
}

func TestRunCLIJSON(t *testing.T) {
	var out bytes.Buffer
	err := RunCLI(context.Background(), CLIOptions{Targets: []string{"127.0.0.1"}, JSON: true, Count: 2, Interval: 50 * time.Millisecond, Backend: BackendUDP, TCPPort: 1}, &out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		var r Round
		if err := decodeRound(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d rounds", n)
	}
}

func TestResolverAsyncCleanBounded(t *testing.T) {
	r := NewResolver(2)
	calls := make(chan string, 10)
	r.lookup = func(_ context.Context, addr string) ([]string, error) {
		calls <- addr
		return []string{"ae-1.\x1b[31mr1.example.net."}, nil
	}
	if n := r.Name("192.0.2.1"); n != "" {
		t.Fatalf("first call must not block for a name, got %q", n)
	}
	<-calls
	var n string
	for i := 0; i < 100 && n == ""; i++ {
		time.Sleep(5 * time.Millisecond)
		n = r.Name("192.0.2.1")
	}
	if n != "ae-1.r1.example.net" {
		t.Fatalf("name %q: escapes must be stripped, the root dot dropped", n)
	}
	for _, a := range []string{"192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		r.Name(a)
		<-calls
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	size := len(r.cache)
	r.mu.Unlock()
	if size > 2 {
		t.Fatalf("cache holds %d names, bound is 2", size)
	}
}

// TestExecVantageDiesOrLies: a vantage whose command fails, or prints
// something that is not probe output, shows as failing with its message.
func TestExecVantageDiesOrLies(t *testing.T) {
	k, _ := sources.Lookup("probe")
	dir := t.TempDir()
	for i, c := range []struct{ script, want string }{
		{"echo 'ssh: Could not resolve hostname bastion9' >&2; exit 255", "Could not resolve hostname bastion9"},
		{"echo '<html>login</html>'", "not a probe round"},
		{`echo '{"v":7}'`, "format version 7"},
	} {
		script := filepath.Join(dir, fmt.Sprintf("far%d.sh", i))
		os.WriteFile(script, []byte(c.script+"\n"), 0o755)
		o, err := config.OptionsFromYAML("t.yaml", "targets: [192.0.2.1]\nreverse_dns: false\nvantages:\n  - name: far\n    type: exec\n    command: sh "+script+"\n")
		if err != nil {
			t.Fatal(err)
		}
		src, err := k.New(sources.Env{Name: "p"}, o)
		if err != nil {
			t.Fatal(err)
		}
		var perr error
		for i := 0; i < 20 && perr == nil; i++ {
			time.Sleep(100 * time.Millisecond)
			_, perr = src.Poll(context.Background(), sources.Request{Now: time.Now()})
		}
		src.(sources.Closer).Close()
		if perr == nil || !strings.Contains(perr.Error(), c.want) {
			t.Errorf("%s: want an error with %q, got %v", c.script, c.want, perr)
		}
	}
}

// The probe rate and timeout of the source reach every exec vantage on
// its command line, and no argument is empty: ssh joins its arguments
// with spaces, and an empty --backend took the first target for the
// backend on the far side.
func TestExecVantageGetsTheProbeRateAndNoEmptyArgument(t *testing.T) {
	k, _ := sources.Lookup("probe")
	for _, c := range []struct{ yaml, backend string }{
		{"targets: [10.4.0.2, 10.4.0.3]\nprobe_interval: 250ms\nprobe_timeout: 200ms\nvantages: [{name: b, type: exec, command: ssh -o BatchMode=yes bastion}]", ""},
		{"targets: [10.4.0.2]\nprobe_interval: 2s\nvantages: [{name: b, type: exec, command: ssh bastion, backend: udp}]", "udp"},
	} {
		o, err := config.OptionsFromYAML("t.yaml", c.yaml)
		if err != nil {
			t.Fatal(err)
		}
		src, err := k.New(sources.Env{Name: "paths"}, o)
		if err != nil {
			t.Fatal(err)
		}
		s := src.(*Source)
		args := s.execArgs(&vantage{opt: s.opt.Vantages[0]})
		line := strings.Join(args, " ")
		for _, a := range args {
			if strings.TrimSpace(a) == "" {
				t.Fatalf("an empty argument in %q", args)
			}
		}
		want := "--interval " + s.opt.Interval.String()
		if !strings.Contains(line, want) || !strings.Contains(line, "--timeout ") {
			t.Fatalf("%q lacks %q or a timeout", line, want)
		}
		if got := strings.Contains(line, "--backend"); got != (c.backend != "") || (got && !strings.Contains(line, "--backend "+c.backend)) {
			t.Fatalf("%q: backend %q", line, c.backend)
		}
		if !strings.HasSuffix(line, strings.Join(s.opt.Targets, " ")) {
			t.Fatalf("%q must end with the targets", line)
		}
		t.Logf("%s", line)
	}
}
