package correlate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// Verdicts round by round, as the engine sees them at the default rate of
// one probe round a second with one poll a second: each evaluation adds
// one trace of one round per vantage.

// phase is a stretch of rounds with the testbed's hops changed by mod.
type phase struct {
	rounds int
	mod    func(v int, hops []synthHop)
}

// testbedHops are the testbed's hops as vantage v sees them (see topo).
func testbedHops(v int) []synthHop {
	return []synthHop{
		{addr: "10.1." + itoa(v) + ".1", asn: 65100 + v, rtt: time.Millisecond},
		{addr: "10.2." + itoa(v) + ".1", asn: 65002, rtt: 2 * time.Millisecond},
		{addr: "10.3.0.2", asn: 65002, rtt: 3 * time.Millisecond},
		{addr: tgt, asn: 65004, rtt: 4 * time.Millisecond},
	}
}

// roundByRound draws one trace per round for the three vantages through
// the phases, one second apart.
func roundByRound(seed uint64, phases ...phase) []PathHistory {
	t0 := time.Unix(1700000000, 0)
	var out []PathHistory
	for v := 1; v <= 3; v++ {
		r := rand.New(rand.NewPCG(seed, uint64(v)))
		h := PathHistory{Source: "paths", Vantage: "v" + itoa(v), Target: tgt}
		i := 0
		for _, ph := range phases {
			hops := testbedHops(v)
			if ph.mod != nil {
				ph.mod(v, hops)
			}
			for k := 0; k < ph.rounds; k++ {
				h.Traces = append(h.Traces, drawRound(r, h.Vantage, hops, t0.Add(time.Duration(i)*time.Second)))
				i++
			}
		}
		out = append(out, h)
	}
	return out
}

// drawRound draws one round: each probe dies on entering a hop with that
// hop's forwarding loss; a hop's answer is then lost with its ICMP loss.
func drawRound(r *rand.Rand, vantage string, hops []synthHop, at time.Time) sources.PathTrace {
	tr := sources.PathTrace{Vantage: vantage, Target: tgt, Addr: tgt, At: at, Rounds: 1, Reached: true}
	alive := func(k int) bool {
		for j := 0; j <= k; j++ {
			if r.Float64() < hops[j].fwd {
				return false
			}
		}
		return true
	}
	// a queue holds the probes of a round alike: they are sent at once
	queued := make([]time.Duration, len(hops))
	for j := range hops {
		if q := hops[j].queue; q > 0 {
			queued[j] = q/2 + time.Duration(r.Float64()*float64(q))
		}
	}
	rtt := func(k int) time.Duration {
		d := hops[k].rtt + time.Duration(r.Float64()*float64(200*time.Microsecond))
		for j := 0; j <= k; j++ {
			d += queued[j]
		}
		return d
	}
	for k, sh := range hops {
		h := sources.Hop{TTL: k + 1, Sent: 1, Loss: 1}
		if alive(k) && r.Float64() >= sh.icmp {
			d := rtt(k)
			h.Addr, h.ASN, h.Received, h.Loss, h.Min, h.Median = sh.addr, sh.asn, 1, 0, d, d
		}
		tr.Hops = append(tr.Hops, h)
	}
	e := sources.Hop{TTL: len(hops), Addr: tgt, Sent: 1, Loss: 1}
	if alive(len(hops) - 1) {
		d := rtt(len(hops) - 1)
		e.Received, e.Loss, e.Min, e.Median = 1, 0, d, d
	}
	tr.EndToEnd = e
	return tr
}

// upTo is the histories as a snapshot holds them after n rounds (at most
// 360 traces each, as the store keeps).
func upTo(hs []PathHistory, n int) *Snapshot {
	snap := &Snapshot{}
	for _, h := range hs {
		c := h
		c.Traces = h.Traces[max(0, n-360):n]
		snap.Paths = append(snap.Paths, c)
		snap.Now = c.Traces[len(c.Traces)-1].At
	}
	return snap
}

// onset is a judged run: the round of the first verdict after the fault
// began, and every later evaluation that was not that verdict.
type judgedRun struct {
	first  int // rounds after the fault's start; -1 = never
	wrong  []string
	closed int // rounds after the fault's end until no finding; -1 = never
}

// judgeRun steps a judge through the rounds of a clean phase, a fault and
// a clean phase again.
func judgeRun(hs []PathHistory, clean, fault, after int, want func(*PathVerdict) string) judgedRun {
	j := NewPathJudge(PathOptions{})
	run := judgedRun{first: -1, closed: -1}
	key := ""
	for n := clean - 30; n <= clean+fault+after; n++ {
		vs := j.Judge(upTo(hs, n))
		v := &vs[0]
		fs := FindingsFromVerdicts(vs)
		switch {
		case n <= clean:
			if len(fs) > 0 {
				run.wrong = append(run.wrong, fmt.Sprintf("round %d before the fault: %s", n, v.Text))
			}
		case n <= clean+fault:
			w := want(v)
			if run.first < 0 {
				if w == "" && v.Persistent && len(fs) == 1 {
					run.first, key = n-clean, fs[0].ID
				} else if len(fs) > 0 {
					run.wrong = append(run.wrong, fmt.Sprintf("round %d of the fault, before the verdict: %s", n-clean, describe(v)))
				}
				continue
			}
			if w != "" || !v.Persistent || len(fs) != 1 || fs[0].ID != key {
				run.wrong = append(run.wrong, fmt.Sprintf("round %d of the fault: %s (%s)", n-clean, describe(v), w))
			}
		default:
			if run.closed < 0 && len(fs) == 0 {
				run.closed = n - clean - fault
			}
			for _, f := range fs {
				if f.ID != key {
					run.wrong = append(run.wrong, fmt.Sprintf("round %d after the fault: %s", n-clean-fault, describe(v)))
				}
			}
		}
	}
	return run
}

// pathCases are the loss cases of issue 14's table on the synthetic
// testbed, with what each must say.
var pathCases = []struct {
	name string
	mod  func(v int, h []synthHop)
	want func(v *PathVerdict) string
}{
	{"carrier loss, access router rate limiting", func(v int, h []synthHop) {
		h[1].fwd = 0.25
		if v == 1 {
			h[0].icmp = 0.8
		}
	}, func(v *PathVerdict) string {
		if v.Kind != VerdictShared || len(v.Vantages) < 2 || v.Place == nil || v.Place.Successor != "10.3.0.2" || contains(append(v.Place.Aliases, v.Place.To), "10.1.1.1") {
			return "want shared at the carrier"
		}
		return ""
	}},
	{"return path", func(v int, h []synthHop) {
		if v == 3 {
			h[2].addr = "10.5.0.1"
			h[2].fwd = 0.3
		}
	}, func(v *PathVerdict) string {
		if v.Kind != VerdictLocal || !v.Exonerated || v.Vantages[0] != "v3" {
			return "want local to v3, its return path"
		}
		return ""
	}},
	{"rate-limiting carrier, loss into the edge", func(v int, h []synthHop) {
		h[1].icmp = 0.8
		h[2].fwd = 0.2
	}, func(v *PathVerdict) string {
		if v.Kind != VerdictShared || v.Place == nil || v.Place.To != "10.3.0.2" {
			return "want shared ending at the edge"
		}
		for _, p := range v.Paths {
			for _, h := range p.Hops {
				if p.Bad() && h.TTL == 2 && h.Addr != "" && !h.RateLimited && !h.Doubtful {
					return "the carrier is not marked rate limiting (or doubtful) from " + p.Vantage
				}
			}
		}
		return ""
	}},
}

// TestVerdictsComeFastAndHold: after 200 clean rounds, each case's
// verdict comes within 30 rounds of the fault in two draws of three and
// within 60 in all (at one round a second: 30 s and a minute), and from
// then on every evaluation says it with the same finding; it closes
// within 70 rounds once the fault is gone.
func TestVerdictsComeFastAndHold(t *testing.T) {
	const seeds, clean, fault, after = 20, 200, 120, 70
	for _, c := range pathCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var firsts, closes []int
			slow, wrong := 0, 0
			for s := uint64(1); s <= seeds; s++ {
				run := judgeRun(roundByRound(s*1009, phase{clean, nil}, phase{fault, c.mod}, phase{after, nil}), clean, fault, after, c.want)
				firsts, closes = append(firsts, run.first), append(closes, run.closed)
				if run.first < 0 || run.first > 30 {
					slow++
				}
				if len(run.wrong) > 0 {
					wrong++
					t.Logf("seed %d: %d wrong evaluations, first: %s", s, len(run.wrong), run.wrong[0])
				}
			}
			sort.Ints(firsts)
			sort.Ints(closes)
			t.Logf("first verdict after %v rounds (median %d); closed %v rounds after the fault", firsts, firsts[len(firsts)/2], closes)
			if slow > seeds/3 || firsts[0] < 0 || firsts[len(firsts)-1] > 60 {
				t.Errorf("%d of %d draws took more than 30 rounds; the slowest %d", slow, seeds, firsts[len(firsts)-1])
			}
			if wrong > 0 {
				t.Errorf("%d of %d draws had evaluations that were not the verdict", wrong, seeds)
			}
			if closes[0] < 0 || closes[len(closes)-1] > 70 {
				t.Errorf("the finding closed %v rounds after the fault ended", closes)
			}
		})
	}
}

// describe tells a verdict with each path's hops, for a failing test.
func describe(v *PathVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [confident %v held %v]", v.Text, v.Confident, v.Held)
	for _, p := range v.Paths {
		fmt.Fprintf(&b, "\n    %s good=%v undecided=%v sure=%v e2e %d/%d:", p.Vantage, p.Good, p.Undecided, p.OnsetSure, int(math.Round(p.Loss*float64(p.Sent))), p.Sent)
		for _, h := range p.Hops {
			fmt.Fprintf(&b, " %d:%s %d/%d f%.0f%%", h.TTL, h.Addr, h.Sent-h.Received, h.Sent, h.Floor*100)
			if h.RateLimited {
				b.WriteString(" RL")
			}
			if h.Doubtful {
				b.WriteString(" doubt")
			}
			if h.Onset {
				b.WriteString(" ←")
			}
		}
	}
	return b.String()
}

// A recording started in the middle of a fault replays the path verdicts
// the live session showed: the opening carries the traces and the
// verdicts held open, so the finding keeps its name and is not reopened.
func TestPathVerdictsReplayFromAnOpeningMidFault(t *testing.T) {
	hs := roundByRound(77, phase{120, nil}, phase{100, pathCases[0].mod}, phase{60, nil})
	batch := func(n int) *sources.Batch {
		b := &sources.Batch{Source: "paths", Type: "probe", Status: sources.Status{Health: sources.HealthOK}}
		for _, h := range hs {
			b.Paths = append(b.Paths, h.Traces[n])
			b.At = h.Traces[n].At
		}
		return b
	}
	opt := SessionOptions{Engine: EngineOptions{Paths: true}}
	live := NewSession(opt)
	var replay *Session
	for n := 0; n < 280; n++ {
		b := batch(n)
		live.Step(b)
		if n == 160 { // 40 rounds into the fault: the finding is open
			if fs := live.Findings(); len(fs) != 1 {
				t.Fatalf("round %d: want the path finding open, got %d findings", n, len(fs))
			}
			o, err := live.Opening()
			if err != nil {
				t.Fatal(err)
			}
			replay = NewSession(opt)
			if err := replay.Restore(o); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if replay == nil {
			continue
		}
		replay.Step(b)
		lv, rv := live.Paths(), replay.Paths()
		if len(lv) != 1 || len(rv) != 1 || lv[0].Kind != rv[0].Kind || lv[0].Key != rv[0].Key || lv[0].Persistent != rv[0].Persistent || lv[0].Text != rv[0].Text {
			t.Fatalf("round %d: live %q, replayed %q", n, lv[0].Text, rv[0].Text)
		}
	}
	for _, c := range replay.Changes() {
		if c.Kind == ChangeOpened {
			t.Errorf("the replay opened %s again", c.Finding.ID)
		}
	}
}

// A queue on the link into the edge (latency only, no loss): a latency
// finding naming the segment ending at the edge, for every vantage, soon
// after the queue builds and steadily while it holds; no loss finding;
// it closes within 35 rounds once the queue is gone.
func TestQueueIsALatencyFindingThatHolds(t *testing.T) {
	queue := func(v int, h []synthHop) { h[2].queue = 50 * time.Millisecond }
	for seed := uint64(1); seed <= 10; seed++ {
		hs := roundByRound(seed*31, phase{150, nil}, phase{100, queue}, phase{60, nil})
		j := NewPathJudge(PathOptions{})
		first, key, closed := -1, "", -1
		for n := 120; n <= 310; n++ {
			vs := j.Judge(upTo(hs, n))
			v := &vs[0]
			fs := FindingsFromVerdicts(vs)
			var lat []Finding
			for _, f := range fs {
				if !strings.Contains(f.ID, "/latency/") {
					t.Fatalf("seed %d round %d: a finding that is not latency: %s", seed, n, f.Title)
				}
				lat = append(lat, f)
			}
			switch {
			case n <= 150:
				if len(lat) > 0 {
					t.Fatalf("seed %d round %d before the queue: %s", seed, n, lat[0].Title)
				}
			case n <= 250:
				if first < 0 {
					if len(lat) == 1 {
						first, key = n-150, lat[0].ID
						if v.LatencyKind != VerdictShared || len(v.LatencyVants) != 3 || v.LatencyPlace.To != "10.3.0.2" || v.LatencyRise < 30*time.Millisecond {
							t.Fatalf("seed %d: %s", seed, lat[0].Title)
						}
					}
					continue
				}
				if len(lat) != 1 || lat[0].ID != key {
					t.Fatalf("seed %d round %d of the queue: findings %v, want only %s (%s)", seed, n-150, lat, key, latencyText(v))
				}
			default:
				if closed < 0 && len(lat) == 0 {
					closed = n - 250
				}
			}
		}
		t.Logf("seed %d: latency finding after %d rounds, closed %d rounds after the queue", seed, first, closed)
		if first < 0 || first > 30 {
			t.Errorf("seed %d: the latency finding came after %d rounds", seed, first)
		}
		if closed < 0 || closed > 35 {
			t.Errorf("seed %d: the latency finding closed %d rounds after the queue went", seed, closed)
		}
	}
}

// ecmpHops are the testbed's hops with two equal-cost routers, m1 and m2,
// between the carrier and the edge; branch picks one.
func ecmpHops(v int, branch string, m1loss float64) []synthHop {
	h := []synthHop{
		{addr: "10.1." + itoa(v) + ".1", asn: 65100 + v, rtt: time.Millisecond},
		{addr: "10.2." + itoa(v) + ".1", asn: 65002, rtt: 2 * time.Millisecond},
		{addr: branch, asn: 65002, rtt: 3 * time.Millisecond},
		{addr: "10.3.0.2", asn: 65002, rtt: 4 * time.Millisecond},
		{addr: tgt, asn: 65004, rtt: 5 * time.Millisecond},
	}
	if branch == "10.7.1.2" {
		h[2].fwd = m1loss
	}
	return h
}

// ecmpRounds draws rounds of three vantages over a load balancer, each
// round on the next of flows flows; a flow keeps to its branch (which
// branch depends on the vantage and the flow, as a hash would). With
// one flow, vantage 3's only flow takes m2 and the others m1.
func ecmpRounds(seed uint64, flows, rounds, faultAt int) []PathHistory {
	t0 := time.Unix(1700000000, 0)
	var out []PathHistory
	for v := 1; v <= 3; v++ {
		r := rand.New(rand.NewPCG(seed, uint64(v)))
		h := PathHistory{Source: "paths", Vantage: "v" + itoa(v), Target: tgt}
		for i := 0; i < rounds; i++ {
			f := i % flows
			branch := "10.7.1.2"
			if (flows == 1 && v == 3) || (flows > 1 && (f+v)%2 == 1) {
				branch = "10.7.2.2"
			}
			loss := 0.0
			if i >= faultAt {
				loss = 0.3
			}
			tr := drawRound(r, h.Vantage, ecmpHops(v, branch, loss), t0.Add(time.Duration(i)*time.Second))
			if flows > 1 {
				fp := sources.FlowPath{Flow: f, Rounds: 1, E2ESent: 1, E2EReceived: tr.EndToEnd.Received}
				for _, hop := range tr.Hops {
					fp.Hops = append(fp.Hops, sources.FlowHop{TTL: hop.TTL, Addr: hop.Addr, Sent: 1, Received: hop.Received})
				}
				tr.Flows = []sources.FlowPath{fp}
			}
			h.Traces = append(h.Traces, tr)
		}
		out = append(out, h)
	}
	return out
}

// Loss on one branch of a load balancer. With flows taking turns, the
// flows show both branches and tell them apart: a shared verdict naming
// m1 as one branch, never cleared by the clean branch (the two share the
// edge as their next hop). With one flow a vantage, the clean branch is
// still not taken for the place (another address of it) clearing it: the
// verdict names m1 and says a hop beside it is clean.
func TestLossOnOneBranchOfALoadBalancer(t *testing.T) {
	for _, flows := range []int{4, 1} {
		hs := ecmpRounds(5, flows, 400, 200)
		j := NewPathJudge(PathOptions{})
		var last PathVerdict
		shared := false
		for n := 150; n <= 400; n++ {
			vs := j.Judge(upTo(hs, n))
			v := vs[0]
			if v.Persistent && v.Kind != VerdictShared && (shared || v.Kind != VerdictNone) {
				t.Fatalf("%d flows, round %d of the fault: %s", flows, n-200, describe(&v))
			}
			shared = shared || (v.Persistent && v.Kind == VerdictShared)
			last = v
		}
		t.Logf("%d flows: %s", flows, last.Text)
		if !placeHasAddr(last.Place, "10.7.1.2") || placeHasAddr(last.Place, "10.7.2.2") {
			t.Errorf("%d flows: want m1 named alone, got %s", flows, last.Place.Label())
		}
		switch flows {
		case 4:
			if len(last.Balanced) != 2 || !strings.Contains(last.Text, "one branch of a load-balanced hop") {
				t.Errorf("the flows' branches are not shown: %v %s", last.Balanced, last.Text)
			}
		case 1:
			if !last.Parallel || len(last.Vantages) != 2 {
				t.Errorf("one flow: want 2 vantages and the clean hop beside m1 said, got %s", last.Text)
			}
		}
	}
}

func placeHasAddr(p *Place, a string) bool {
	return p != nil && (p.To == a || contains(p.Aliases, a))
}

// A finding's place keeps its name while the fault holds: the carrier
// answers each vantage from another address, and the finding's title
// went from one of them to the next as the evaluations came (four
// wordings of one finding in 90 s on the testbed). Only a narrower
// segment renames it.
func TestPlaceKeepsItsNameWhileTheFaultHolds(t *testing.T) {
	c := pathCases[0]
	renamed := 0
	for s := uint64(1); s <= 6; s++ {
		hs := roundByRound(s*4099, phase{120, nil}, phase{90, c.mod})
		j := NewPathJudge(PathOptions{})
		to, seg := "", 0 // the place's name, and its segment's width
		for n := 120; n <= 210; n++ {
			vs := j.Judge(upTo(hs, n))
			v := &vs[0]
			if !v.Persistent || v.Place == nil || v.Kind != VerdictShared {
				continue
			}
			switch {
			case to == "":
			case v.Place.To != to && len(v.Place.SegKeys) >= seg:
				renamed++
				t.Logf("seed %d round %d: %s after %s", s, n-120, v.Place.Label(), to)
			case len(v.Place.SegKeys) > seg:
				t.Errorf("seed %d round %d: the segment widened to %s", s, n-120, v.Place.Label())
			}
			to, seg = v.Place.To, len(v.Place.SegKeys)
		}
	}
	if renamed > 0 {
		t.Errorf("the place was renamed %d times while the fault held", renamed)
	}
}

// A held place is renamed when the flows come to tell the branch of a
// load balancer (the testbed's finding said "the flows do not tell which
// branch" for its whole life once names were held), never back.
func TestHeldPlaceTakesTheBranchTheFlowsTell(t *testing.T) {
	j := NewPathJudge(PathOptions{})
	now := time.Unix(1700000000, 0)
	seg := []string{"addr:10.7.1.2"}
	both := &PathMemo{Target: tgt, Kind: VerdictShared, Place: &Place{To: "10.7.1.2", Keys: seg, SegKeys: seg, Balanced: []string{"10.7.1.2", "10.7.2.2"}}}
	one := &PathMemo{Target: tgt, Kind: VerdictShared, Place: &Place{To: "10.7.1.2", Keys: seg, SegKeys: seg, Balanced: []string{"10.7.1.2"}}}
	j.decide(tgt, both, true, now, time.Second)
	if say, _ := j.decide(tgt, one, true, now.Add(time.Second), time.Second); len(say.Place.Balanced) != 1 {
		t.Fatalf("the branch told is not said: %s", say.Place.Label())
	}
	again := *both
	if say, _ := j.decide(tgt, &again, true, now.Add(2*time.Second), time.Second); len(say.Place.Balanced) != 1 {
		t.Fatalf("the branch is forgotten again: %s", say.Place.Label())
	}
}

// Where the flows told the lossy branch of a load balancer, an onset seen
// at the other branch (from a vantage whose flows did not tell) is not
// named as another address of the same place: the place is one branch.
func TestAnotherBranchIsNoAliasOfTheLossyOne(t *testing.T) {
	lossy := &Place{To: "10.7.1.2", Keys: []string{"10.7.1.2", "succ:10.3.0.2@1"}, SegKeys: []string{"10.7.1.2"}, Balanced: []string{"10.7.1.2"}}
	other := &Place{To: "10.7.2.2", Keys: []string{"10.7.2.2", "succ:10.3.0.2@1"}, SegKeys: []string{"10.7.2.2"}, Balanced: []string{"10.7.2.2", "10.7.1.2"}}
	g := &onsetGroup{onsets: []*Place{lossy, other}}
	g.name()
	if g.place == nil || g.place.To != "10.7.1.2" || len(g.place.Aliases) != 0 {
		t.Fatalf("place %+v: want the lossy branch alone", g.place)
	}
	// two addresses of one plain router stay one place
	a := &Place{To: "10.2.1.1", Keys: []string{"10.2.1.1", "rtr:carrier"}, SegKeys: []string{"10.2.1.1"}}
	b := &Place{To: "10.2.2.1", Keys: []string{"10.2.2.1", "rtr:carrier"}, SegKeys: []string{"10.2.2.1"}}
	g = &onsetGroup{onsets: []*Place{a, b}}
	g.name()
	if g.place == nil || len(g.place.Aliases) != 1 {
		t.Fatalf("place %+v: want one alias", g.place)
	}
}

// A vantage whose forward probes took the clean branch of a load
// balancer sees loss at the target alone when the target's answers come
// back over the lossy branch: that is no second place against the branch
// the others blame. Without a balancer on its way, or with no branch
// blamed, its loss at the target stays a place of its own.
func TestLossAtTheTargetBehindABalancerIsNoSecondPlace(t *testing.T) {
	branch := &Place{To: "10.7.1.2", Keys: []string{"10.7.1.2"}, SegKeys: []string{"10.7.1.2"}, Balanced: []string{"10.7.1.2"}}
	dest := &Place{To: "10.4.0.2", Keys: []string{"dest", "10.4.0.2"}, SegKeys: []string{"10.3.0.2"}}
	via := func(addr string) []PathHop {
		return []PathHop{{TTL: 1, Addr: "10.1.2.1"}, {TTL: 2, Addr: "10.2.2.1"}, {TTL: 3, Addr: addr}, {TTL: 4, Addr: "10.3.0.2"}, {TTL: 5, Addr: "10.4.0.2", Dest: true}}
	}
	v1 := VantagePath{Vantage: "v1", Onset: branch, Hops: via("10.7.1.2")}
	v3 := VantagePath{Vantage: "v3", Onset: branch, Hops: via("10.7.1.2")}
	v2 := VantagePath{Vantage: "v2", Onset: dest, Hops: via("10.7.2.2")}
	opt := PathOptions{ecmp: map[string]bool{"10.7.1.2": true, "10.7.2.2": true}}
	names := func(ps []VantagePath) (out []string) {
		for _, p := range ps {
			out = append(out, p.Vantage)
		}
		return out
	}
	if got := names(returnViaBranch([]VantagePath{v1, v2, v3}, opt)); strings.Join(got, ",") != "v1,v3" {
		t.Errorf("blamed from %v, want v1 and v3 (v2's loss came back over the branch)", got)
	}
	plain := v2
	plain.Hops = via("10.9.9.9")
	if got := names(returnViaBranch([]VantagePath{v1, plain, v3}, opt)); len(got) != 3 {
		t.Errorf("no balancer on v2's way: blamed from %v, want all three", got)
	}
	unbalanced := *branch
	unbalanced.Balanced = nil
	w1, w3 := v1, v3
	w1.Onset, w3.Onset = &unbalanced, &unbalanced
	if got := names(returnViaBranch([]VantagePath{w1, v2, w3}, opt)); len(got) != 3 {
		t.Errorf("no branch blamed: blamed from %v, want all three", got)
	}
	groups := groupOnsets(returnViaBranch([]VantagePath{v1, v2, v3}, opt))
	if len(groups) != 1 {
		t.Errorf("%d places, want the branch alone", len(groups))
	}
}
