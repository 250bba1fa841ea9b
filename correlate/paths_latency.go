package correlate

import (
	"math"
	"slices"
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
// two or more vantages rise from one place, local when one does. A
// vantage with no rise against its past (none, or no past to compare
// with: a queue older than the history, a check started while it is
// there) is judged without one, on where its jitter starts (queueOnset).
func judgeLatency(v *PathVerdict, hs []PathHistory, opt PathOptions) {
	v.LatencyKind, v.LatencyConfident = VerdictNone, true
	type rising struct {
		vantage string
		place   *Place
		rise    time.Duration
		jitter  time.Duration
	}
	var rs []rising
	var undecided []string
	defer func() {
		for j := range v.Paths {
			v.Paths[j].LatencyUndecided = containsKey(undecided, v.Paths[j].Vantage)
		}
		// a vantage not yet decided may still rise elsewhere, or alone;
		// it does not hold back a place two others already share
		if len(undecided) > 0 && len(v.LatencyVants) < 2 {
			v.LatencyConfident = false
		}
	}()
	for _, h := range hs {
		var p *Place
		var r, jit, before time.Duration
		run, base, _, decided := latencyRun(h.Traces, opt)
		if run < len(h.Traces) && !decided {
			undecided = append(undecided, h.Vantage) // a young rise: wait for it
			continue
		}
		if run < len(h.Traces) {
			now := analyse(h.Vantage, merge(h.Traces, run, len(h.Traces), opt), opt)
			was := analyse(h.Vantage, merge(h.Traces, base, run, opt), opt)
			p, r = latencyOnset(now, was, opt)
		}
		if p == nil {
			var ok bool
			p, r, jit, before, ok = queueOnset(h.Vantage, h.Traces, opt)
			if !ok {
				undecided = append(undecided, h.Vantage)
			}
		}
		if p == nil {
			continue
		}
		for j := range v.Paths {
			if v.Paths[j].Vantage == h.Vantage {
				v.Paths[j].LatencyOnset, v.Paths[j].LatencyRise = p, r
				v.Paths[j].LatencyJitter, v.Paths[j].LatencyJitterBefore = jit, before
			}
		}
		rs = append(rs, rising{h.Vantage, p, r, jit})
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
		v.LatencyJitter = max(v.LatencyJitter, r.jitter)
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

// Without a past to compare with, a queue is told from distance by its
// jitter: a long link adds the same delay to every probe, a queue a
// delay that varies with what it holds. queueOnset looks for the segment
// from which both persist to the target: the median RTT rises by at
// least LatencyStep across it, and the jitter from it on is at least
// QueueJitter and QueueRatio times the jitter before it. Jitter is the
// median change of the RTT from one round that answered to the next (a
// trace of up to three answers tells its RTTs in order; one of four or
// more counts once, with its mean change, mtr's Javg), so a change of
// level (a route, the end of a queue) is one change among many, not a
// spread; and only what persists to the target counts. It is judged on the
// newest rounds that give the target 2×LatencyRounds changes; ok is
// false while there are fewer.
func queueOnset(vantage string, trs []sources.PathTrace, opt PathOptions) (p *Place, rise, jitter, before time.Duration, ok bool) {
	dist := 0
	for i := len(trs) - 1; i >= 0 && dist == 0; i-- {
		dist = targetDistance(&trs[i])
	}
	if dist == 0 {
		return nil, 0, 0, 0, len(trs) > 0 // never reached: no RTT to judge
	}
	need := 2 * opt.LatencyRounds
	// the changes of each hop's RTT, keyed by the rounds they are
	// between (4i, 4i+1: within trace i; 4i+3: from trace i to the next
	// newer one that answered), so the hops' changes between the same
	// rounds line up; each hop's keys come newest first, descending
	type change struct {
		key int
		d   time.Duration
	}
	type hopRTT struct {
		meds  []time.Duration
		jit   []change
		first time.Duration // the oldest RTT of the newer trace (0: unknown)
		addr  string
	}
	by := make([]hopRTT, dist+1)
	// room for the changes and medians of the rounds judged, in one
	// piece for every hop (a hop that needs more grows its own)
	room := need + 8
	changes, medians := make([]change, (dist+1)*room), make([]time.Duration, (dist+1)*room)
	for ttl := range by {
		by[ttl].jit = changes[ttl*room : ttl*room : (ttl+1)*room]
		by[ttl].meds = medians[ttl*room : ttl*room : (ttl+1)*room]
	}
	from, rounds := len(trs), 0
	for i := len(trs) - 1; i >= 0 && len(by[dist].jit) < need; i-- {
		if rounds += max(trs[i].Rounds, 1); rounds > opt.LatencyBase {
			break
		}
		from = i
		for ttl := 1; ttl <= dist; ttl++ {
			h := mainHop(&trs[i], ttl, dist)
			if h == nil {
				continue
			}
			b := &by[ttl]
			b.meds = append(b.meds, h.Median)
			rtts := roundRTTs(h)
			if last := h.Last; last > 0 || len(rtts) > 0 {
				if len(rtts) > 0 {
					last = rtts[len(rtts)-1]
				}
				if b.first > 0 && b.addr == h.Addr {
					b.jit = append(b.jit, change{4*i + 3, (b.first - last).Abs()})
				}
			}
			switch {
			case len(rtts) > 1:
				for k := len(rtts) - 1; k >= 1; k-- {
					b.jit = append(b.jit, change{4*i + k - 1, (rtts[k] - rtts[k-1]).Abs()})
				}
			case h.Received > 1:
				b.jit = append(b.jit, change{4 * i, h.Jitter}) // mtr's Javg: the mean change
			}
			b.first, b.addr = 0, h.Addr
			if len(rtts) > 0 {
				b.first = rtts[0]
			}
		}
	}
	if len(by[dist].jit) < need {
		return nil, 0, 0, 0, false
	}
	// what persists from each hop on: for each change of the target's
	// RTT, the least change of any hop from there to the target between
	// the same rounds (a router's own slow answers vary at its hop only;
	// a queue moves every probe behind it alike, all sent at once); the
	// hop's jitter is their median. Its median RTT persists likewise.
	type hopQ struct {
		ttl        int
		pJit, pMed time.Duration
	}
	meds := make([]time.Duration, dist+1)
	for ttl := 1; ttl <= dist; ttl++ {
		if len(by[ttl].meds) >= 3 { // too few answers say nothing of where a rise starts
			meds[ttl] = medianDur(by[ttl].meds)
		}
	}
	floor := make([]time.Duration, len(by[dist].jit))
	for k, c := range by[dist].jit {
		floor[k] = c.d
	}
	var hq []hopQ
	for ttl := dist - 1; ttl >= 0; ttl-- { // the floors, from the target back
		if meds[ttl+1] > 0 {
			q := hopQ{ttl: ttl + 1, pJit: medianDur(floor), pMed: meds[ttl+1]}
			if len(hq) > 0 {
				q.pMed = min(q.pMed, hq[len(hq)-1].pMed)
			}
			hq = append(hq, q)
		}
		if ttl == 0 {
			break
		}
		cur := by[ttl].jit // its keys descend, as the target's do
		for k, c := range by[dist].jit {
			for len(cur) > 0 && cur[0].key > c.key {
				cur = cur[1:]
			}
			if len(cur) > 0 && cur[0].key == c.key {
				floor[k] = min(floor[k], cur[0].d)
			}
		}
	}
	slices.Reverse(hq)
	var prevJit, prevMed time.Duration // the vantage itself
	prevTTL := 0
	for _, q := range hq {
		thr := max(opt.QueueJitter, time.Duration(opt.QueueRatio*float64(prevJit)))
		if q.pJit >= thr && q.pMed-prevMed >= opt.LatencyStep {
			vp := analyse(vantage, merge(trs, from, len(trs), opt), opt)
			j, fromAddr := -1, ""
			for x, h := range vp.Hops {
				if h.TTL == q.ttl {
					j = x
				}
				if h.TTL == prevTTL {
					fromAddr = h.Addr
				}
			}
			if j < 0 {
				return nil, 0, 0, 0, true
			}
			p := placeOf(vp.Hops, j, fromAddr, newWindow())
			p.SegKeys = append(p.SegKeys, hopKeys(vp.Hops, j)...)
			return p, q.pMed - prevMed, q.pJit, prevJit, true
		}
		prevJit, prevMed, prevTTL = q.pJit, q.pMed, q.ttl
	}
	return nil, 0, 0, 0, true
}

// roundRTTs are a hop's RTTs round by round, as far as its statistics
// over the trace tell them: one or two answers always, three when the
// order of the first two follows from their mean change (mtr's Javg);
// nil for more.
func roundRTTs(h *sources.Hop) []time.Duration {
	switch {
	case h.Received == 1:
		return []time.Duration{h.Median}
	case h.Received == 2 && h.Last > 0:
		return []time.Duration{h.Min + h.Max - h.Last, h.Last}
	case h.Received == 3 && h.Last > 0:
		// the median of three is the middle one: the first two are the
		// two of min, median, max that are not the last
		v := []time.Duration{h.Min, h.Median, h.Max}
		for k, x := range v {
			if x == h.Last {
				v = append(v[:k], v[k+1:]...)
				break
			}
		}
		if len(v) != 2 {
			return nil
		}
		javg := func(a, b time.Duration) time.Duration { return ((b - a).Abs() + (h.Last - b).Abs()) / 2 }
		if (javg(v[1], v[0]) - h.Jitter).Abs() < (javg(v[0], v[1]) - h.Jitter).Abs() {
			v[0], v[1] = v[1], v[0]
		}
		return []time.Duration{v[0], v[1], h.Last}
	}
	return nil
}

// mainHop is a trace's hop at ttl that answered most, nil when none did.
// At the target (dist) its end-to-end probes come first: they are the
// ones its loss is judged on, one a round, where a burst of probes of
// every TTL at once may lose its last ones in a full queue.
func mainHop(tr *sources.PathTrace, ttl, dist int) *sources.Hop {
	if ttl == dist && tr.EndToEnd.Received > 0 {
		return &tr.EndToEnd
	}
	var best *sources.Hop
	for k := range tr.Hops {
		if h := &tr.Hops[k]; h.TTL == ttl && h.Received > 0 && h.Addr != "" && (best == nil || h.Received > best.Received) {
			best = h
		}
	}
	return best
}
