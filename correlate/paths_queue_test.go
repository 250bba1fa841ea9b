package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// A queue already in place when the probes begin (a check, or the screen
// started during it) has no RTT from before to be measured against: it
// is told from a long link by the jitter it adds. A long link, clean
// paths and rate-limiting routers must give no latency finding.

// queueAlready is the testbed's tbf queue on the link into the edge
// about as measured there: 55 ms more from the edge on, varying over
// 4 ms with what the queue holds (the testbed's RTT there changed by a
// median 1.27 ms from one round to the next; this draws 1.2 ms).
func queueAlready(v int, h []synthHop) {
	for k := 2; k < len(h); k++ {
		h[k].rtt += 55 * time.Millisecond
	}
	h[2].queue = 4 * time.Millisecond
}

// longLink is 50 ms more from the edge on, the same for every probe.
func longLink(v int, h []synthHop) {
	for k := 2; k < len(h); k++ {
		h[k].rtt += 50 * time.Millisecond
	}
}

// pairRounds folds each two traces of every history into one of two
// rounds, as a check polling every two seconds sees one round a second:
// a hop's median of two answers is their mean, its jitter their change.
func pairRounds(hs []PathHistory) []PathHistory {
	out := make([]PathHistory, len(hs))
	for i, h := range hs {
		out[i] = h
		out[i].Traces = nil
		for k := 0; k+1 < len(h.Traces); k += 2 {
			a, b := h.Traces[k], h.Traces[k+1]
			tr := b
			tr.Rounds = 2
			tr.Hops = nil
			for j := range a.Hops {
				tr.Hops = append(tr.Hops, pairHop(a.Hops[j], b.Hops[j]))
			}
			tr.EndToEnd = pairHop(a.EndToEnd, b.EndToEnd)
			out[i].Traces = append(out[i].Traces, tr)
		}
	}
	return out
}

func pairHop(a, b sources.Hop) sources.Hop {
	h := b
	h.Sent = a.Sent + b.Sent
	h.Received = a.Received + b.Received
	h.Loss = 1 - float64(h.Received)/float64(h.Sent)
	switch {
	case a.Received > 0 && b.Received > 0:
		h.Min, h.Max, h.Median, h.Last = min(a.Median, b.Median), max(a.Median, b.Median), (a.Median+b.Median)/2, b.Median
		h.Jitter = (a.Median - b.Median).Abs()
	case a.Received > 0:
		h.Addr, h.Min, h.Max, h.Median, h.Last = a.Addr, a.Min, a.Max, a.Median, a.Median
	}
	return h
}

// freshLatency judges the histories from their start with a judge that
// saw nothing before, and returns the round of the first latency finding
// (-1: none) with its verdict, and the first evaluation after it that
// did not say the same (or a finding of loss).
func freshLatency(hs []PathHistory) (first int, v PathVerdict, wrong string) {
	j := NewPathJudge(PathOptions{})
	first, key := -1, ""
	for n := 2; n <= len(hs[0].Traces); n++ {
		vs := j.Judge(upTo(hs, n))
		fs := FindingsFromVerdicts(vs)
		for _, f := range fs {
			switch {
			case !strings.Contains(f.ID, "/latency/"):
				return first, v, fmt.Sprintf("round %d: a finding of loss: %s", n, f.Title)
			case first < 0:
				first, key, v = n, f.ID, vs[0]
			case f.ID != key:
				return first, v, fmt.Sprintf("round %d: %s after %s", n, f.ID, key)
			}
		}
		if first >= 0 && len(fs) == 0 && wrong == "" {
			wrong = fmt.Sprintf("round %d: the latency finding closed (%s)", n, describe(&vs[0]))
		}
	}
	return first, v, wrong
}

func TestQueueAlreadyInPlaceIsALatencyFinding(t *testing.T) {
	for _, paired := range []bool{false, true} {
		for seed := uint64(1); seed <= 20; seed++ {
			hs := roundByRound(seed*7919+5, phase{80, queueAlready})
			rounds := 1
			if paired {
				hs, rounds = pairRounds(hs), 2
			}
			first, v, wrong := freshLatency(hs)
			if wrong != "" {
				t.Errorf("seed %d, %d rounds a trace: %s", seed, rounds, wrong)
			}
			switch {
			case first < 0:
				t.Fatalf("seed %d, %d rounds a trace: no latency finding in 80 rounds", seed, rounds)
			case first*rounds > 25:
				t.Errorf("seed %d, %d rounds a trace: the latency finding came after %d rounds", seed, rounds, first*rounds)
			case v.LatencyKind != VerdictShared || len(v.LatencyVants) != 3 || v.LatencyPlace == nil || v.LatencyPlace.To != "10.3.0.2":
				t.Fatalf("seed %d: want shared latency ending at the edge for three vantages, got %s", seed, latencyText(&v))
			case v.LatencyRise < 50*time.Millisecond || v.LatencyJitter < 500*time.Microsecond:
				t.Errorf("seed %d: rise %s, jitter %s", seed, v.LatencyRise, v.LatencyJitter)
			}
			if seed == 1 {
				t.Logf("%d rounds a trace, after %d rounds: %s", rounds, first*rounds, latencyText(&v))
				for _, e := range FindingsFromVerdicts([]PathVerdict{v})[0].Evidence {
					t.Logf("  %s", e.Text)
				}
			}
		}
	}
}

// TestQueueTextIsOneVoice: a queue seen rising against the RTT before and
// one judged by its jitter are the same verdict, told the same way.
func TestQueueTextIsOneVoice(t *testing.T) {
	queue := func(v int, h []synthHop) { h[2].queue = 50 * time.Millisecond }
	rising := roundByRound(3, phase{150, nil}, phase{40, queue})
	already := roundByRound(3, phase{40, queue})
	a := Triangulate(rising, nil)[0]
	b := Triangulate(already, nil)[0]
	for _, v := range []*PathVerdict{&a, &b} {
		if v.LatencyKind != VerdictShared || v.LatencyPlace == nil || v.LatencyPlace.To != "10.3.0.2" {
			t.Fatalf("want a shared latency verdict ending at the edge, got %s %+v", v.LatencyKind, v.LatencyPlace)
		}
	}
	if a.LatencyJitter != 0 || b.LatencyJitter == 0 {
		t.Errorf("the rise against the past says jitter %s, the one without a past %s", a.LatencyJitter, b.LatencyJitter)
	}
	shape := func(v *PathVerdict) string {
		s := latencyText(v)
		return s[:strings.Index(s, "+")] + s[strings.Index(s, " from the "):]
	}
	if shape(&a) != shape(&b) {
		t.Errorf("two voices:\n  %s\n  %s", latencyText(&a), latencyText(&b))
	}
	fa, fb := FindingsFromVerdicts([]PathVerdict{a}), FindingsFromVerdicts([]PathVerdict{b})
	if len(fa) != 1 || len(fb) != 1 || fa[0].ID != fb[0].ID {
		t.Fatalf("findings %v and %v, want one each with one ID", fa, fb)
	}
}

// TestNoQueueOnALongLinkCleanOrRateLimitedPaths: without a past to
// compare with, a long link (a fixed delay), clean paths and routers
// that rate-limit ICMP give no latency finding in any round, and the
// latency verdict is decided (a check does not wait in vain).
func TestNoQueueOnALongLinkCleanOrRateLimitedPaths(t *testing.T) {
	controls := []struct {
		name string
		mod  func(v int, h []synthHop)
	}{
		{"long link", longLink},
		{"clean", nil},
		{"long link, carrier rate-limiting", func(v int, h []synthHop) { longLink(v, h); h[1].icmp = 0.7 }},
		{"long link, edge and access rate-limiting", func(v int, h []synthHop) { longLink(v, h); h[0].icmp, h[2].icmp = 0.8, 0.5 }},
		{"carrier CoPP, unfair", func(v int, h []synthHop) { h[1].icmp = []float64{0, 0.97, 0.13, 0.93}[v] }},
	}
	for _, c := range controls {
		t.Run(c.name, func(t *testing.T) {
			for _, paired := range []bool{false, true} {
				for seed := uint64(1); seed <= 10; seed++ {
					hs := roundByRound(seed*104729+1, phase{120, c.mod})
					if paired {
						hs = pairRounds(hs)
					}
					if first, v, _ := freshLatency(hs); first >= 0 {
						t.Fatalf("seed %d (paired %v): round %d: %s", seed, paired, first, latencyText(&v))
					}
					v := Triangulate(hs, nil)[0]
					if !v.LatencyConfident {
						t.Errorf("seed %d (paired %v): the latency verdict is not decided after %d traces", seed, paired, len(hs[0].Traces))
					}
				}
			}
		})
	}
}

// TestUndecidedVantageJoinsTheQueueLater: a vantage whose probes are too
// few to judge its jitter yet does not hold back a queue two others
// already place in one segment; it is marked undecided (a check waits
// for it while it may), and joins once it has rounds enough.
func TestUndecidedVantageJoinsTheQueueLater(t *testing.T) {
	hs := roundByRound(17, phase{40, queueAlready})
	late := hs[2].Traces
	hs[2].Traces = late[len(late)-8:] // v3 started late
	v := Triangulate(hs, nil)[0]
	if !v.LatencyConfident || v.LatencyKind != VerdictShared || strings.Join(v.LatencyVants, ",") != "v1,v2" {
		t.Fatalf("want a confident shared verdict from v1 and v2, got %s %v (confident %v)", v.LatencyKind, v.LatencyVants, v.LatencyConfident)
	}
	for _, p := range v.Paths {
		if p.LatencyUndecided != (p.Vantage == "v3") {
			t.Errorf("%s undecided %v", p.Vantage, p.LatencyUndecided)
		}
	}
	hs[2].Traces = late
	if v = Triangulate(hs, nil)[0]; len(v.LatencyVants) != 3 {
		t.Errorf("v3 did not join: %v", v.LatencyVants)
	}
	// alone, an undecided vantage beside one that rises is no verdict yet
	hs = roundByRound(17, phase{40, queueAlready})[:2]
	hs[1].Traces = hs[1].Traces[len(hs[1].Traces)-8:]
	if v = Triangulate(hs, nil)[0]; v.LatencyConfident {
		t.Errorf("one vantage rising, one undecided: confident %s %v", v.LatencyKind, v.LatencyVants)
	}
}

// TestRoundRTTsFromTraceStatistics: a trace of up to three answers tells
// its RTTs in order from its min, median, max, last and mean change.
func TestRoundRTTsFromTraceStatistics(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for n := 1; n <= 3; n++ {
		for k := 0; k < 200; k++ {
			rtts := make([]time.Duration, n)
			for i := range rtts {
				rtts[i] = time.Duration(1+r.IntN(100000)) * time.Microsecond
			}
			h := sources.Hop{Received: n, Min: slices.Min(rtts), Max: slices.Max(rtts), Last: rtts[n-1]}
			sorted := slices.Clone(rtts)
			slices.Sort(sorted)
			h.Median = sorted[n/2]
			if n == 2 {
				h.Median = (sorted[0] + sorted[1]) / 2
			}
			var sum time.Duration
			for i := 1; i < n; i++ {
				sum += (rtts[i] - rtts[i-1]).Abs()
			}
			if n > 1 {
				h.Jitter = sum / time.Duration(n-1)
			}
			got := roundRTTs(&h)
			// a tie of the mean change leaves the order open; the changes
			// are the same either way
			if !slices.Equal(got, rtts) && !(n == 3 && (rtts[2]-rtts[1]).Abs() == (rtts[2]-rtts[0]).Abs()) {
				t.Fatalf("%v told as %v", rtts, got)
			}
		}
	}
	if got := roundRTTs(&sources.Hop{Received: 4, Last: time.Millisecond}); got != nil {
		t.Errorf("four answers: %v", got)
	}
}
