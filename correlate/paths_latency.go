package correlate

import (
	"math"
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// Latency verdicts: a queue on a link delays every probe that crosses
// it without dropping any. Each vantage's end-to-end RTT is searched for
// its newest run of rounds above what it was before; the hops' median
// RTTs over that run, against the rounds before it, say where the rise
// starts and persists to the target (the floor rule again, on delay).

// latencyRun finds a vantage's newest run of raised RTT: the traces
// [run, len) against the baseline [base, run), and the rise of the
// median. decided is false while a run is too short to tell.
func latencyRun(trs []sources.PathTrace, opt PathOptions) (run, base int, rise time.Duration, decided bool) {
	m := len(trs)
	rtt := make([]time.Duration, m)
	for i := range trs {
		if e := trs[i].EndToEnd; e.Received > 0 {
			rtt[i] = e.Median
		}
	}
	// the run is found against the oldest rounds kept (a third of them,
	// at most LatencyBase), then measured against the rounds before it
	old := max(1, min(m/3, opt.LatencyBase))
	ref := rttMedian(rtt[:old])
	step := max(opt.LatencyStep, 4*rttMAD(rtt[:old], ref))
	run = raisedRun(rtt, ref+step/2)
	if run == m {
		return m, 0, 0, true // no run: decidedly nothing
	}
	base = max(0, run-opt.LatencyBase)
	ref = rttMedian(rtt[base:run])
	step = max(opt.LatencyStep, 4*rttMAD(rtt[base:run], ref))
	rise = rttMedian(rtt[run:]) - ref
	if over(rtt[max(run, m-opt.LatencyRounds):], ref+step/2) < 0.2 {
		return m, base, 0, true // the newest rounds are back down: over
	}
	rounds := 0
	for i := run; i < m; i++ {
		rounds += max(trs[i].Rounds, 1)
	}
	baseRounds := 0
	for i := base; i < run; i++ {
		baseRounds += max(trs[i].Rounds, 1)
	}
	if baseRounds < opt.MinSample {
		// nothing left to compare with (a queue older than the history
		// kept): undecided, so a verdict already open holds
		return m, base, 0, false
	}
	if rise < step {
		return run, base, rise, true
	}
	return run, base, rise, rounds >= opt.LatencyRounds
}

// raisedRun is the start of the newest run of RTTs at or above thr: the
// suffix with the best score, +1 a round above, -3 a round below (so a
// few quiet rounds inside a queue do not end it), m when none scores.
func raisedRun(rtt []time.Duration, thr time.Duration) int {
	m := len(rtt)
	best, bestAt, score := 0, m, 0
	for i := m - 1; i >= 0; i-- {
		switch {
		case rtt[i] == 0:
			continue // no answer: no RTT
		case rtt[i] >= thr:
			score++
		default:
			score -= 3
		}
		if score > best {
			best, bestAt = score, i
		}
	}
	return bestAt
}

// over is the share of the RTTs (of rounds that answered) at or above
// thr.
func over(rtt []time.Duration, thr time.Duration) float64 {
	n, a := 0, 0
	for _, d := range rtt {
		if d > 0 {
			n++
			if d >= thr {
				a++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(a) / float64(n)
}

func rttMedian(v []time.Duration) time.Duration {
	c := make([]time.Duration, 0, len(v))
	for _, d := range v {
		if d > 0 {
			c = append(c, d)
		}
	}
	if len(c) == 0 {
		return 0
	}
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}

// rttMAD is the median absolute deviation from med, scaled to a
// standard deviation for normal noise.
func rttMAD(v []time.Duration, med time.Duration) time.Duration {
	d := make([]time.Duration, 0, len(v))
	for _, x := range v {
		if x > 0 {
			d = append(d, time.Duration(math.Abs(float64(x-med))))
		}
	}
	return time.Duration(1.4826 * float64(rttMedian(d)))
}

// judgeLatency finds each vantage's raised run and where along its path
// the rise starts, and tells the target's latency verdict: shared when
// two or more vantages rise from one place, local when one does.
func judgeLatency(v *PathVerdict, hs []PathHistory, opt PathOptions) {
	v.LatencyKind, v.LatencyConfident = VerdictNone, true
	type rising struct {
		vantage string
		place   *Place
		rise    time.Duration
	}
	var rs []rising
	for _, h := range hs {
		run, base, _, decided := latencyRun(h.Traces, opt)
		if !decided {
			v.LatencyConfident = false
		}
		if run == len(h.Traces) || !decided {
			continue
		}
		now := analyse(h.Vantage, merge(h.Traces, run, len(h.Traces), opt), opt)
		was := analyse(h.Vantage, merge(h.Traces, base, run, opt), opt)
		p, r := latencyOnset(now, was, opt)
		if p == nil {
			continue
		}
		for j := range v.Paths {
			if v.Paths[j].Vantage == h.Vantage {
				v.Paths[j].LatencyOnset, v.Paths[j].LatencyRise = p, r
			}
		}
		rs = append(rs, rising{h.Vantage, p, r})
	}
	if len(rs) == 0 {
		return
	}
	// the place most vantages rise from, the nearest first
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].place.ToTTL < rs[j].place.ToTTL })
	best, bestN := 0, 0
	for i := range rs {
		n := 0
		for j := range rs {
			if samePlace(rs[i].place, rs[j].place) {
				n++
			}
		}
		if n > bestN {
			best, bestN = i, n
		}
	}
	p := *rs[best].place
	for _, r := range rs {
		if !samePlace(&p, r.place) {
			v.LatencyConfident = false // vantages disagree: wait
			continue
		}
		v.LatencyVants = append(v.LatencyVants, r.vantage)
		v.LatencyRise = max(v.LatencyRise, r.rise)
		if r.place.To != p.To && !containsKey(p.Aliases, r.place.To) {
			p.Aliases = append(append([]string(nil), p.Aliases...), r.place.To)
		}
	}
	sort.Strings(v.LatencyVants)
	v.LatencyPlace = &p
	v.LatencyKind = VerdictLocal
	if len(v.LatencyVants) >= 2 {
		v.LatencyKind = VerdictShared
	}
}

// latencyOnset compares the hops' median RTTs now and before (matched
// by TTL and address): the rise must persist to the target, and starts
// at the first hop from which it persists.
func latencyOnset(now, base VantagePath, opt PathOptions) (*Place, time.Duration) {
	baseBy := map[int]PathHop{}
	for _, h := range base.Hops {
		baseBy[h.TTL] = h
	}
	type d struct {
		i    int
		rise time.Duration
	}
	var rises []d
	for i, h := range now.Hops {
		b, ok := baseBy[h.TTL]
		if !ok || h.Received == 0 || b.Received == 0 || b.Addr != h.Addr {
			continue
		}
		rises = append(rises, d{i, h.MedianRTT - b.MedianRTT})
	}
	if len(rises) == 0 {
		return nil, 0
	}
	// floor of the rise towards the destination
	floor := time.Duration(math.MaxInt64)
	floors := make([]time.Duration, len(rises))
	for i := len(rises) - 1; i >= 0; i-- {
		floor = min(floor, rises[i].rise)
		floors[i] = floor
	}
	last := rises[len(rises)-1]
	if !now.Hops[last.i].Dest || floors[len(floors)-1] < opt.LatencyStep {
		return nil, 0
	}
	for i := range rises {
		if floors[i] >= opt.LatencyStep {
			from := ""
			if i > 0 {
				from = now.Hops[rises[i-1].i].Addr
			}
			p := placeOf(now.Hops, rises[i].i, from, newWindow())
			for k := max(0, i-1) + 1; k <= i; k++ {
				p.SegKeys = append(p.SegKeys, hopKeys(now.Hops, rises[k].i)...)
			}
			return p, floors[i]
		}
	}
	return nil, 0
}
