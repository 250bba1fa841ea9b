package correlate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// synthHop is one hop of a synthetic path: who answers and how often its
// own answers are lost (icmp) on top of the forwarding loss up to it.
type synthHop struct {
	addr string
	asn  int
	icmp float64 // loss of this hop's own answers only (rate limiting)
	fwd  float64 // forwarding loss on entering this hop (persists downstream)
	rtt  time.Duration
	// queue is a delay on entering this hop (persists downstream), drawn
	// between half and one and a half of it per probe
	queue time.Duration
}

// synth draws traces of polls of `rounds` rounds each, hop by hop, with
// loss drawn per probe: forwarding loss accumulates, ICMP loss does not.
func synth(vantage, target string, hops []synthHop, polls, rounds int, seed uint64) PathHistory {
	r := rand.New(rand.NewPCG(seed, 7))
	h := PathHistory{Vantage: vantage, Target: target}
	t0 := time.Unix(1700000000, 0)
	for p := 0; p < polls; p++ {
		tr := sources.PathTrace{Vantage: vantage, Target: target, Addr: target, At: t0.Add(time.Duration(p) * time.Minute), Rounds: rounds, Reached: true}
		recv := make([]int, len(hops))
		e2e := 0
		for i := 0; i < rounds; i++ {
			for k := range hops {
				alive := true
				for j := 0; j <= k; j++ {
					if r.Float64() < hops[j].fwd {
						alive = false
						break
					}
				}
				if alive && r.Float64() >= hops[k].icmp {
					recv[k]++
				}
			}
			alive := true
			for j := range hops {
				if r.Float64() < hops[j].fwd {
					alive = false
				}
			}
			if alive {
				e2e++
			}
		}
		for k, sh := range hops {
			hop := sources.Hop{TTL: k + 1, Addr: sh.addr, ASN: sh.asn, Sent: rounds, Received: recv[k],
				Loss: 1 - float64(recv[k])/float64(rounds), Min: sh.rtt, Median: sh.rtt}
			if recv[k] == 0 {
				hop.Addr = ""
			}
			tr.Hops = append(tr.Hops, hop)
		}
		tr.EndToEnd = sources.Hop{TTL: len(hops), Addr: target, Sent: rounds, Received: e2e,
			Loss: 1 - float64(e2e)/float64(rounds), Min: hops[len(hops)-1].rtt, Median: hops[len(hops)-1].rtt}
		h.Traces = append(h.Traces, tr)
	}
	return h
}

const tgt = "10.4.0.2"

// seedBase varies the random draws (TestTriangulateRobust).
var seedBase uint64

// topo builds the testbed's three paths: v_i → a_i (10.1.i.1) → c (answers
// as 10.2.i.1) → e (10.3.0.2) → t. mod may change any hop per vantage.
func topo(mod func(v int, hops []synthHop)) []PathHistory { return topoSized(mod, 6, 20) }

// topoSized is topo with polls of rounds each.
func topoSized(mod func(v int, hops []synthHop), polls, rounds int) []PathHistory {
	var out []PathHistory
	for v := 1; v <= 3; v++ {
		hops := []synthHop{
			{addr: "10.1." + itoa(v) + ".1", asn: 65100 + v, rtt: time.Millisecond},
			{addr: "10.2." + itoa(v) + ".1", asn: 65002, rtt: 2 * time.Millisecond},
			{addr: "10.3.0.2", asn: 65002, rtt: 3 * time.Millisecond},
			{addr: tgt, asn: 65004, rtt: 4 * time.Millisecond},
		}
		if mod != nil {
			mod(v, hops)
		}
		out = append(out, synth("v"+itoa(v), tgt, hops, polls, rounds, seedBase+uint64(v)*1000+uint64(len(hops))))
	}
	return out
}

func itoa(i int) string { return string(rune('0' + i)) }

func one(t *testing.T, paths []PathHistory, ev []sources.Event) PathVerdict {
	t.Helper()
	vs := Triangulate(paths, ev)
	if len(vs) != 1 {
		t.Fatalf("want 1 verdict, got %d", len(vs))
	}
	t.Logf("verdict: %s (persistent %v, probes %d)", vs[0].Text, vs[0].Persistent, vs[0].Probes)
	return vs[0]
}

func TestTriangulateClean(t *testing.T) {
	v := one(t, topo(nil), nil)
	if v.Kind != VerdictNone || len(FindingsFromVerdicts([]PathVerdict{v})) != 0 {
		t.Fatalf("clean paths: got %s", v.Kind)
	}
}

func TestTriangulateSharedCarrier(t *testing.T) {
	paths := topo(func(v int, h []synthHop) { h[1].fwd = 0.3 })
	v := one(t, paths, []sources.Event{{ID: "aws", Layer: sources.LayerProvider, Severity: sources.SevOK, Title: "EC2 us-east-1 operating normally"}})
	if v.Kind != VerdictShared || len(v.Vantages) != 3 || v.Total != 3 {
		t.Fatalf("want shared 3/3, got %s %v/%d", v.Kind, v.Vantages, v.Total)
	}
	if !strings.Contains(v.Place.Successor, "10.3.0.2") || v.Place.ASN != 65002 || len(v.Place.Aliases) != 2 {
		t.Fatalf("place: %+v", v.Place)
	}
	if v.LossMin < 0.15 || v.LossMax > 0.45 {
		t.Fatalf("loss range %.2f–%.2f for 30 %% injected", v.LossMin, v.LossMax)
	}
	fs := FindingsFromVerdicts([]PathVerdict{v})
	if len(fs) != 1 || fs[0].Severity != sources.SevCritical || !strings.HasPrefix(fs[0].Title, "provider green, path red") {
		t.Fatalf("findings: %+v", fs)
	}
	if !strings.Contains(fs[0].Title, "3 of 3 vantage points") || !strings.Contains(fs[0].Title, "AS65002") {
		t.Fatalf("title: %s", fs[0].Title)
	}
}

func TestTriangulateRateLimitNotBlamed(t *testing.T) {
	paths := topo(func(v int, h []synthHop) { h[1].icmp = 0.7 })
	v := one(t, paths, nil)
	if v.Kind != VerdictNone {
		t.Fatalf("rate limiting blamed: %s", v.Kind)
	}
	if len(v.RateLimited) != 3 {
		t.Fatalf("want c's three addresses marked rate-limited, got %v", v.RateLimited)
	}
}

func TestTriangulateComboRateLimitAndLoss(t *testing.T) {
	// c rate-limits and e drops: the segment extends to e, the first hop
	// whose own answers match the floor
	paths := topo(func(v int, h []synthHop) { h[1].icmp = 0.7; h[2].fwd = 0.25 })
	v := one(t, paths, nil)
	if v.Kind != VerdictShared || v.Place.To != "10.3.0.2" {
		t.Fatalf("want shared ending at 10.3.0.2, got %s %+v", v.Kind, v.Place)
	}
}

func TestTriangulateLocalAccess(t *testing.T) {
	paths := topo(func(v int, h []synthHop) {
		if v == 3 {
			h[0].fwd = 0.3
		}
	})
	v := one(t, paths, nil)
	if v.Kind != VerdictLocal || len(v.Vantages) != 1 || v.Vantages[0] != "v3" || v.Place.To != "10.1.3.1" {
		t.Fatalf("want local to v3 at 10.1.3.1, got %s %v %+v", v.Kind, v.Vantages, v.Place)
	}
	if v.Exonerated {
		t.Fatal("v3's access router is on no good path; it must not be cleared")
	}
}

func TestTriangulateReturnPathExonerated(t *testing.T) {
	// v3 sees loss from e, which answers it as 10.5.0.1; v1/v2 cross e
	// (successor 10.4.0.2) cleanly
	paths := topo(func(v int, h []synthHop) {
		if v == 3 {
			h[2].addr = "10.5.0.1"
			h[2].fwd = 0.3
		}
	})
	v := one(t, paths, nil)
	if v.Kind != VerdictLocal || !v.Exonerated || !strings.Contains(v.Text, "return path") {
		t.Fatalf("want local with return-path suspicion, got %s exonerated=%v", v.Kind, v.Exonerated)
	}
}

func TestTriangulateDestination(t *testing.T) {
	paths := topo(func(v int, h []synthHop) { h[3].fwd = 0.3 })
	v := one(t, paths, nil)
	if v.Kind != VerdictDestination {
		t.Fatalf("want destination, got %s", v.Kind)
	}
}

func TestTriangulateInsufficientAndPersistence(t *testing.T) {
	// 10 rounds: too few for any verdict
	v := one(t, topoSized(func(v int, h []synthHop) { h[1].fwd = 0.3 }, 1, 10), nil)
	if v.Kind != VerdictInsufficient || v.Persistent {
		t.Fatalf("10 probes must not give a verdict: %s persistent=%v", v.Kind, v.Persistent)
	}
	// 30 rounds of 40 %: enough for all three, at once
	v = one(t, topoSized(func(v int, h []synthHop) { h[1].fwd = 0.4 }, 1, 30), nil)
	if v.Kind != VerdictShared || !v.Persistent || !v.Confident {
		t.Fatalf("30 probes of 40 %% loss: want a persistent shared verdict, got %s persistent=%v", v.Text, v.Persistent)
	}
	// 20 rounds of 5 %: not clean, not clearly bad: undecided, no verdict yet
	v = one(t, topoSized(func(v int, h []synthHop) { h[1].fwd = 0.08 }, 1, 20), nil)
	if v.Persistent && v.Kind != VerdictNone {
		t.Fatalf("8 %% over 20 probes: %s persistent=%v", v.Kind, v.Persistent)
	}
}

func TestTriangulateMixed(t *testing.T) {
	paths := topo(func(v int, h []synthHop) {
		switch v {
		case 1:
			h[0].fwd = 0.35
		case 2:
			h[0].fwd = 0.35
		}
	})
	v := one(t, paths, nil)
	if v.Kind != VerdictMixed || len(v.Places) != 2 {
		t.Fatalf("want mixed with 2 places, got %s %d", v.Kind, len(v.Places))
	}
}

func TestTriangulateLatencyUsesMedian(t *testing.T) {
	paths := topo(nil)
	for i := range paths {
		// the newest three polls: +50 ms from e on (median and min, the
		// echoes too), and a huge mean-only spike at c that must not
		// matter
		for j := len(paths[i].Traces) - 3; j < len(paths[i].Traces); j++ {
			e := &paths[i].Traces[j].EndToEnd
			e.Median += 50 * time.Millisecond
			e.Min += 50 * time.Millisecond
			for k := range paths[i].Traces[j].Hops {
				h := &paths[i].Traces[j].Hops[k]
				if h.TTL >= 3 {
					h.Median += 50 * time.Millisecond
					h.Min += 50 * time.Millisecond
				}
				if h.TTL == 2 {
					h.Avg = time.Second
				}
			}
		}
	}
	v := one(t, paths, nil)
	if v.LatencyKind != VerdictShared || v.LatencyPlace == nil || v.LatencyPlace.ToTTL != 3 {
		t.Fatalf("want shared latency rise at TTL 3, got %s %+v", v.LatencyKind, v.LatencyPlace)
	}
}

// One trace whose last hops were all lost (and whose target answered
// only its echo) must not shorten the window's path: the router at its
// end is not the target, and its loss is not read from the echoes.
func TestOneCutTraceDoesNotMakeARouterTheTarget(t *testing.T) {
	paths := topo(func(v int, h []synthHop) { h[1].icmp = 0.7 })
	for i := range paths {
		tr := &paths[i].Traces[len(paths[i].Traces)-2]
		// the trace as an older prober sent it: cut after c, reached by
		// its echoes, no distance
		tr.Hops = tr.Hops[:2]
		tr.EndToEnd.TTL = 0
	}
	v := one(t, paths, nil)
	for _, p := range v.Paths {
		last := p.Hops[len(p.Hops)-1]
		if !last.Dest || last.TTL != 4 || last.Addr != tgt {
			t.Fatalf("%s: the path ends at %+v, want the target at TTL 4", p.Vantage, last)
		}
	}
	if v.Kind != VerdictNone {
		t.Fatalf("want none (c only rate-limits), got %s", v.Text)
	}
}

func TestRouterToken(t *testing.T) {
	for in, want := range map[string]string{
		"ae-2.r21.asbnva02.us.bb.gin.ntt.net": "r21.asbnva02.us.bb.gin.ntt.net",
		"ae-5.r21.asbnva02.us.bb.gin.ntt.net": "r21.asbnva02.us.bb.gin.ntt.net",
		"host.example.com":                    "",
		"core1.fra.example.net":               "core1.fra.example.net",
	} {
		if got := RouterToken(in); got != want {
			t.Errorf("RouterToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestZTwo(t *testing.T) {
	// path-probes.md §3.2: 30 % vs 0 % at n=30 is significant, 10 % is not
	if z := zTwo(0.3, 30, 0, 30); z < 3 {
		t.Fatalf("z(30%%,30) = %.2f", z)
	}
	if z := zTwo(0.1, 30, 0, 30); z >= 3 {
		t.Fatalf("z(10%%,30) = %.2f", z)
	}
	if z := zTwo(0.1, 100, 0, 100); z < 3 {
		t.Fatalf("z(10%%,100) = %.2f", z)
	}
}

func BenchmarkTriangulate20x30(b *testing.B) {
	var paths []PathHistory
	for v := 0; v < 20; v++ {
		var hops []synthHop
		for k := 0; k < 30; k++ {
			hops = append(hops, synthHop{addr: "10." + itoa(v%10) + "." + itoa(k%10) + ".1", rtt: time.Duration(k) * time.Millisecond})
		}
		hops[15].fwd = 0.2
		p := synth("v"+itoa(v%10)+itoa(v/10), "t", hops, 6, 20, uint64(v))
		paths = append(paths, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		Triangulate(paths, nil)
	}
}

// TestTriangulateRobust repeats the scenarios over many random draws: the
// verdict must hold for nearly all of them (sampling noise at n≈60).
func TestTriangulateRobust(t *testing.T) {
	defer func() { seedBase = 0 }()
	cases := []struct {
		name string
		mod  func(v int, h []synthHop)
		want VerdictKind
	}{
		{"clean", nil, VerdictNone},
		{"shared", func(v int, h []synthHop) { h[1].fwd = 0.3 }, VerdictShared},
		{"ratelimit", func(v int, h []synthHop) { h[1].icmp = 0.7 }, VerdictNone},
		{"combo", func(v int, h []synthHop) { h[1].icmp = 0.7; h[2].fwd = 0.25 }, VerdictShared},
		{"local", func(v int, h []synthHop) {
			if v == 3 {
				h[0].fwd = 0.3
			}
		}, VerdictLocal},
		{"return-path", func(v int, h []synthHop) {
			if v == 3 {
				h[2].addr = "10.5.0.1"
				h[2].fwd = 0.3
			}
		}, VerdictLocal},
		{"destination", func(v int, h []synthHop) { h[3].fwd = 0.3 }, VerdictDestination},
	}
	for _, c := range cases {
		bad := 0
		const runs = 200
		for s := 1; s <= runs; s++ {
			seedBase = uint64(s) * 7777
			vs := Triangulate(topo(c.mod), nil)
			if vs[0].Kind != c.want {
				bad++
			}
		}
		t.Logf("%s: %d of %d draws wrong", c.name, bad, runs)
		if bad > runs/50 {
			t.Errorf("%s: %d of %d draws give the wrong verdict", c.name, bad, runs)
		}
	}
}

// A lossy hop is not rate limiting: the floor is the smallest of several
// noisy loss estimates, so reading a hop's own loss above it as ICMP rate
// limiting at z 3 marked a hop that really drops packets now and then,
// and moved the blame past it (a namespace run saw 49 % at c against a
// floor of 23 %, z 3.0). Real rate limiting stays marked.
func TestLossIsNotReadAsRateLimiting(t *testing.T) {
	defer func() { seedBase = 0 }()
	const runs = 400
	marked := 0
	for s := 1; s <= runs; s++ {
		seedBase = uint64(s) * 7919
		for _, p := range topo(func(v int, h []synthHop) { h[1].fwd = 0.3 }) {
			// one poll of 60 probes, as the namespace run had
			p.Traces = p.Traces[:3]
			for _, vp := range Triangulate([]PathHistory{p}, nil)[0].Paths {
				for _, h := range vp.Hops {
					if h.RateLimited {
						marked++
					}
				}
			}
		}
	}
	t.Logf("%d of %d paths with 30 %% forwarding loss had a hop marked rate-limited", marked, 3*runs)
	if marked > 0 {
		t.Errorf("%d of %d lossy paths marked a hop rate-limited", marked, 3*runs)
	}
	seedBase = 1
	if v := one(t, topo(func(v int, h []synthHop) { h[1].icmp = 0.7 }), nil); len(v.RateLimited) != 3 {
		t.Errorf("real rate limiting: %v marked, want c's three addresses", v.RateLimited)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
