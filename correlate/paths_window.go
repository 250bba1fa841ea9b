package correlate

import (
	"math"
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// Which probes a verdict is judged on: the newest stretch of a vantage's
// history in which its end-to-end loss held steady. A fault's probes are
// judged as soon as they are enough, without old clean ones diluting
// them, and every probe of a steady stretch adds to the evidence.

// window is the merged statistics of consecutive traces of one vantage.
type window struct {
	ttls    map[int]*wTTL
	maxTTL  int
	dist    int // TTL where the target answered (0 = never)
	e2eSent int
	e2eRecv int
	e2eMed  []time.Duration
	e2eMin  time.Duration
	rounds  int
	addr    string
	since   time.Time // the oldest trace's time
	// the newest MinSample end-to-end probes (merge fills them)
	recentSent, recentLost int
	flows                  map[int]*wFlow
	// ecmp are addresses known to answer beside another at one TTL
	// (branches of a load balancer): the judge sets it before analysis
	ecmp map[string]bool
}

// wFlow is one probe flow's share of a window.
type wFlow struct {
	rounds           int
	ttls             map[int]*wFlowTTL
	e2eSent, e2eRecv int
}

type wFlowTTL struct {
	sent int
	resp map[string]int
}

type wTTL struct {
	sent  int
	resp  map[string]int
	names map[string]string
	asn   map[string]int
	asnm  map[string]string
	mins  []time.Duration
	meds  []time.Duration
	limit bool
}

func (w *window) samples() int {
	if w.e2eSent > 0 {
		return w.e2eSent
	}
	return w.rounds
}

func (w *window) add(tr *sources.PathTrace) {
	w.rounds += tr.Rounds
	if w.since.IsZero() || tr.At.Before(w.since) {
		w.since = tr.At
	}
	if tr.Addr != "" {
		w.addr = tr.Addr
	}
	seenTTL := map[int]bool{}
	for _, h := range tr.Hops {
		t := w.ttls[h.TTL]
		if t == nil {
			t = &wTTL{resp: map[string]int{}, names: map[string]string{}, asn: map[string]int{}, asnm: map[string]string{}}
			w.ttls[h.TTL] = t
		}
		if !seenTTL[h.TTL] {
			t.sent += h.Sent
			seenTTL[h.TTL] = true
		}
		if h.RateLimited {
			t.limit = true
		}
		if h.Addr != "" && h.Received > 0 {
			t.resp[h.Addr] += h.Received
			if h.Name != "" {
				t.names[h.Addr] = h.Name
			}
			if h.ASN != 0 {
				t.asn[h.Addr], t.asnm[h.Addr] = h.ASN, h.ASName
			}
			t.mins = append(t.mins, h.Min)
			t.meds = append(t.meds, h.Median)
		}
		w.maxTTL = max(w.maxTTL, h.TTL)
	}
	// the newest trace that knows where the target is says it (windows
	// are filled newest first): a trace whose deepest answers were lost
	// is not a shorter path
	if d := targetDistance(tr); d > 0 && w.dist == 0 {
		w.dist = d
	}
	w.addFlows(tr.Flows)
	e := tr.EndToEnd
	w.e2eSent += e.Sent
	w.e2eRecv += e.Received
	if e.Received > 0 {
		w.e2eMed = append(w.e2eMed, e.Median)
		if w.e2eMin == 0 || e.Min < w.e2eMin {
			w.e2eMin = e.Min
		}
	}
}

// targetDistance is the TTL at which the trace's target answers: its
// end-to-end hop's, else the hop answering from the target's address; 0
// when the trace does not say.
func targetDistance(tr *sources.PathTrace) int {
	if tr.EndToEnd.TTL > 0 {
		return tr.EndToEnd.TTL
	}
	for _, h := range tr.Hops {
		if h.Addr != "" && h.Addr == tr.Addr && h.Received > 0 {
			return h.TTL
		}
	}
	return 0
}

func medianDur(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), v...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}

func minDur(v []time.Duration) time.Duration {
	m := time.Duration(0)
	for i, d := range v {
		if i == 0 || d < m {
			m = d
		}
	}
	return m
}

func newWindow() *window { return &window{ttls: map[int]*wTTL{}} }

// probeCounts are a trace's end-to-end probes, sent and lost; without
// end-to-end probes, its rounds and those the target did not answer.
func probeCounts(tr *sources.PathTrace) (sent, lost int) {
	if e := tr.EndToEnd; e.Sent > 0 {
		return e.Sent, e.Sent - min(e.Received, e.Sent)
	}
	if tr.Rounds <= 0 {
		return 0, 0
	}
	for _, h := range tr.Hops {
		if h.Addr != "" && h.Addr == tr.Addr {
			return tr.Rounds, tr.Rounds - min(h.Received, tr.Rounds)
		}
	}
	return tr.Rounds, tr.Rounds
}

// countProbes sums the end-to-end probes of traces.
func countProbes(trs []sources.PathTrace) (sent, lost int) {
	for i := range trs {
		s, l := probeCounts(&trs[i])
		sent, lost = sent+s, lost+l
	}
	return sent, lost
}

// stretches finds where the newest stretch of steady end-to-end loss
// starts (an index into trs) and where the stretch before it starts (0
// when there is none before): a binary segmentation toward the newest
// traces, splitting where the likelihood ratio says the loss changed
// (|z| ≥ SplitZ, MinSplit probes on either side).
func stretches(trs []sources.PathTrace, opt PathOptions) (start, before int) {
	m := len(trs)
	cs, cl := make([]int, m+1), make([]int, m+1)
	for i := range trs {
		s, l := probeCounts(&trs[i])
		cs[i+1], cl[i+1] = cs[i]+s, cl[i]+l
	}
	lo, prev := 0, 0
	for {
		best, bz := -1, 0.0
		for c := lo + 1; c < m; c++ {
			n1, n2 := cs[c]-cs[lo], cs[m]-cs[c]
			if n1 < opt.MinSplit || n2 < opt.MinSplit {
				continue
			}
			if z := math.Abs(splitZ(cl[c]-cl[lo], n1, cl[m]-cl[c], n2)); z > bz {
				best, bz = c, z
			}
		}
		if best < 0 || bz < opt.SplitZ {
			break
		}
		prev, lo = lo, best
	}
	if c := riseSince(cs, cl, lo, opt); c > lo {
		prev, lo = lo, c
	}
	return lo, prev
}

// riseSince runs a CUSUM over the stretch from lo (prefix sums cs, cl of
// probes sent and lost): the log likelihood ratio of the loss being
// RiseStep above the stretch's level (at least Tolerance) against it
// staying there, summed and floored at zero. When the sum ends above
// RiseH, the loss has risen since the sum last left zero, and that is
// returned; else lo. A rise shows within about 15 probes at 25 % loss,
// before the likelihood-ratio split above can tell it from the whole
// stretch.
func riseSince(cs, cl []int, lo int, opt PathOptions) int {
	m := len(cs) - 1
	n := cs[m] - cs[lo]
	if n == 0 {
		return lo
	}
	// the level a rise is measured from: the stretch's own loss, or its
	// older half's when lower (a young fault lifts the whole stretch)
	half := lo
	for half < m && cs[half]-cs[lo] < n/2 {
		half++
	}
	p0 := float64(cl[m]-cl[lo]) / float64(n)
	if nh := cs[half] - cs[lo]; nh > 0 {
		p0 = math.Min(p0, float64(cl[half]-cl[lo])/float64(nh))
	}
	p0 = math.Max(opt.Tolerance, p0)
	p1 := math.Min(p0+opt.RiseStep, 0.99)
	if p1 <= p0 {
		return lo
	}
	up, down := math.Log(p1/p0), math.Log((1-p1)/(1-p0))
	sum, from := 0.0, lo
	for i := lo; i < m; i++ {
		sent, lost := cs[i+1]-cs[i], cl[i+1]-cl[i]
		sum += float64(lost)*up + float64(sent-lost)*down
		if sum <= 0 {
			sum, from = 0, i+1
		}
	}
	if sum < opt.RiseH || cs[m]-cs[from] < opt.MinSplit {
		return lo
	}
	// where the sum last left zero is a noisy start (a fault's first
	// probes may all pass): the most likely split since lo, on the
	// rising side, is a better one
	best, bz := from, 0.0
	for c := lo + 1; c < m; c++ {
		n1, n2 := cs[c]-cs[lo], cs[m]-cs[c]
		if n1 < opt.MinSplit || n2 < opt.MinSplit {
			continue
		}
		if z := splitZ(cl[c]-cl[lo], n1, cl[m]-cl[c], n2); z > bz {
			best, bz = c, z
		}
	}
	return best
}

// merge folds traces [from, to) into a window, newest first, up to
// MaxProbes end-to-end probes.
func merge(trs []sources.PathTrace, from, to int, opt PathOptions) *window {
	w := newWindow()
	w.ecmp = opt.ecmp
	for i := to - 1; i >= from; i-- {
		w.add(&trs[i])
		if w.recentSent < opt.MinSample {
			s, l := probeCounts(&trs[i])
			w.recentSent, w.recentLost = w.recentSent+s, w.recentLost+l
		}
		if w.samples() >= opt.MaxProbes {
			break
		}
	}
	return w
}

func (w *window) addFlows(fps []sources.FlowPath) {
	if len(fps) == 0 {
		return
	}
	if w.flows == nil {
		w.flows = map[int]*wFlow{}
	}
	for i := range fps {
		fp := &fps[i]
		f := w.flows[fp.Flow]
		if f == nil {
			f = &wFlow{ttls: map[int]*wFlowTTL{}}
			w.flows[fp.Flow] = f
		}
		f.rounds += fp.Rounds
		f.e2eSent += fp.E2ESent
		f.e2eRecv += fp.E2EReceived
		for _, h := range fp.Hops {
			t := f.ttls[h.TTL]
			if t == nil {
				t = &wFlowTTL{resp: map[string]int{}}
				f.ttls[h.TTL] = t
			}
			t.sent += h.Sent
			if h.Addr != "" && h.Received > 0 {
				t.resp[h.Addr] += h.Received
			}
		}
	}
}

// minBranchAnswers is how many answers a flow needs at a TTL for its
// responder there to count as its branch.
const minBranchAnswers = 3

// flowAt is the responder a flow's probes took at a TTL, "" when it did
// not answer enough.
func (f *wFlow) flowAt(ttl int) string {
	t := f.ttls[ttl]
	if t == nil {
		return ""
	}
	best := ""
	for a, n := range t.resp {
		if n >= minBranchAnswers && (best == "" || n > t.resp[best] || (n == t.resp[best] && a < best)) {
			best = a
		}
	}
	return best
}

// branches finds the first TTL (before the target) at which the
// window's flows part: its flows by the responder they took there. ttl
// is 0 when every flow took the same hops.
func (w *window) branches() (ttl int, by map[string][]int) {
	end := w.maxTTL
	if w.dist > 0 {
		end = w.dist - 1
	}
	ids := make([]int, 0, len(w.flows))
	for id := range w.flows {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for k := 1; k <= end; k++ {
		by = map[string][]int{}
		for _, id := range ids {
			if a := w.flows[id].flowAt(k); a != "" {
				by[a] = append(by[a], id)
			}
		}
		if len(by) >= 2 {
			return k, by
		}
	}
	return 0, nil
}

// ecmpAddrs are the responders of the TTLs at which the window's flows
// part.
func (w *window) ecmpAddrs(into map[string]bool) {
	for k := 1; k <= w.maxTTL; k++ {
		seen := map[string]bool{}
		for _, f := range w.flows {
			if a := f.flowAt(k); a != "" {
				seen[a] = true
			}
		}
		if len(seen) >= 2 {
			for a := range seen {
				into[a] = true
			}
		}
	}
}

// branch is the window of the flows ids only: the probes that took one
// branch of a load balancer. Names, ASNs and RTTs come from the whole
// window.
func (w *window) branch(ids []int) *window {
	b := &window{ttls: map[int]*wTTL{}, maxTTL: w.maxTTL, dist: w.dist, addr: w.addr, since: w.since, ecmp: w.ecmp}
	for _, id := range ids {
		f := w.flows[id]
		b.rounds += f.rounds
		b.e2eSent += f.e2eSent
		b.e2eRecv += f.e2eRecv
		for ttl, ft := range f.ttls {
			t := b.ttls[ttl]
			if t == nil {
				src := w.ttls[ttl]
				t = &wTTL{resp: map[string]int{}, names: map[string]string{}, asn: map[string]int{}, asnm: map[string]string{}}
				if src != nil {
					t.names, t.asn, t.asnm, t.mins, t.meds = src.names, src.asn, src.asnm, src.mins, src.meds
				}
				b.ttls[ttl] = t
			}
			t.sent += ft.sent
			for a, n := range ft.resp {
				t.resp[a] += n
			}
		}
	}
	if b.e2eSent == 0 && b.dist > 0 {
		// the end-to-end probes did not keep to the flows (TCP connects):
		// the flows' own probes answered by the target stand in
		if t := b.ttls[b.dist]; t != nil {
			b.e2eSent, b.e2eRecv = t.sent, min(t.resp[b.addr], t.sent)
		}
	}
	return b
}
