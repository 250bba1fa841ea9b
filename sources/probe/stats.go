package probe

import (
	"math"
	"net/netip"
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// maxSamples bounds the RTT samples kept per responder for the median.
const maxSamples = 512

// rttStats accumulates round-trip times the way mtr does (Welford for the
// standard deviation, mean |Δ| for jitter) plus a bounded sample for the
// median.
type rttStats struct {
	n              int
	last, min, max time.Duration
	mean, m2       float64 // in ns
	jitterSum      float64
	samples        []time.Duration
	next           int
}

func (s *rttStats) add(d time.Duration) {
	if s.n > 0 {
		j := d - s.last
		if j < 0 {
			j = -j
		}
		s.jitterSum += float64(j)
	}
	s.n++
	if s.n == 1 || d < s.min {
		s.min = d
	}
	if d > s.max {
		s.max = d
	}
	s.last = d
	x := float64(d)
	old := s.mean
	s.mean += (x - old) / float64(s.n)
	s.m2 += (x - old) * (x - s.mean)
	if len(s.samples) < maxSamples {
		s.samples = append(s.samples, d)
	} else {
		s.samples[s.next] = d
		s.next = (s.next + 1) % maxSamples
	}
}

func (s *rttStats) fill(h *sources.Hop) {
	if s.n == 0 {
		return
	}
	h.Last, h.Min, h.Max = s.last, s.min, s.max
	h.Avg = time.Duration(s.mean)
	if s.n > 1 {
		h.StdDev = time.Duration(math.Sqrt(s.m2 / float64(s.n-1)))
		h.Jitter = time.Duration(s.jitterSum / float64(s.n-1))
	}
	h.Median = median(s.samples)
}

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), v...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

type ttlStats struct {
	sent  int
	resp  map[string]*rttStats // by responder address
	kinds map[string]ReplyKind
}

// PathStats aggregates rounds of one (vantage, target) into per (TTL,
// responder) statistics. It is not safe for concurrent use.
type PathStats struct {
	Vantage string
	Target  string
	addr    string
	rounds  int
	last    time.Time
	ttls    map[int]*ttlStats
	dist    int // smallest TTL at which the target answered, 0 = never
	// known is the target's distance from earlier polls: a poll whose
	// deepest answers were all lost still covers the whole path.
	known   int
	e2eSent int
	e2e     rttStats
	maxTTL  int
	flows   map[int]*flowStats
}

// flowStats are one probe flow's answers, per TTL and end to end.
type flowStats struct {
	rounds           int
	ttls             map[int]*flowTTL
	e2eSent, e2eRecv int
}

type flowTTL struct {
	sent int
	resp map[string]int
}

// NewPathStats makes an empty aggregate.
func NewPathStats(vantage, target string) *PathStats {
	return &PathStats{Vantage: vantage, Target: target, ttls: map[int]*ttlStats{}}
}

// Rounds is how many rounds were added since the last Reset.
func (p *PathStats) Rounds() int { return p.rounds }

// Add folds one round in. Rounds with an Error count as nothing.
func (p *PathStats) Add(r *Round) {
	if r.Error != "" {
		return
	}
	p.rounds++
	if r.At.After(p.last) {
		p.last = r.At
	}
	if r.Addr != "" {
		p.addr = r.Addr
	}
	for _, pr := range r.Probes {
		if pr.TTL <= 0 || pr.TTL > 255 {
			continue
		}
		t := p.ttls[pr.TTL]
		if t == nil {
			t = &ttlStats{resp: map[string]*rttStats{}, kinds: map[string]ReplyKind{}}
			p.ttls[pr.TTL] = t
		}
		if pr.TTL > p.maxTTL {
			p.maxTTL = pr.TTL
		}
		t.sent++
		if pr.From == "" || pr.Kind == KindNone {
			continue
		}
		from := canonAddr(pr.From)
		s := t.resp[from]
		if s == nil {
			s = &rttStats{}
			t.resp[from] = s
		}
		s.add(pr.RTT())
		t.kinds[from] = pr.Kind
		if pr.Kind == KindReached && (from == canonAddr(p.addr) || p.addr == "") {
			if p.dist == 0 || pr.TTL < p.dist {
				p.dist = pr.TTL
			}
		}
	}
	if r.E2E != nil {
		p.e2eSent++
		if r.E2E.OK {
			p.e2e.add(time.Duration(r.E2E.RTTus) * time.Microsecond)
		}
	}
	p.addFlow(r)
}

// addFlow counts a round under its flow.
func (p *PathStats) addFlow(r *Round) {
	if p.flows == nil {
		p.flows = map[int]*flowStats{}
	}
	f := p.flows[r.Flow]
	if f == nil {
		f = &flowStats{ttls: map[int]*flowTTL{}}
		p.flows[r.Flow] = f
	}
	f.rounds++
	for _, pr := range r.Probes {
		if pr.TTL <= 0 || pr.TTL > 255 {
			continue
		}
		t := f.ttls[pr.TTL]
		if t == nil {
			t = &flowTTL{resp: map[string]int{}}
			f.ttls[pr.TTL] = t
		}
		t.sent++
		if pr.From != "" && pr.Kind != KindNone {
			t.resp[canonAddr(pr.From)]++
		}
	}
	// an echo keeps the flow's identifier, so it took the flow's branch;
	// a TCP connect did not
	if r.E2E != nil && r.E2E.Method == "icmp" {
		f.e2eSent++
		if r.E2E.OK {
			f.e2eRecv++
		}
	}
}

// flowPaths renders the flows up to TTL end, when the rounds took turns
// on more than one.
func (p *PathStats) flowPaths(end int) []sources.FlowPath {
	if len(p.flows) < 2 {
		return nil
	}
	ids := make([]int, 0, len(p.flows))
	for id := range p.flows {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]sources.FlowPath, 0, len(ids))
	for _, id := range ids {
		f := p.flows[id]
		fp := sources.FlowPath{Flow: id, Rounds: f.rounds, E2ESent: f.e2eSent, E2EReceived: f.e2eRecv}
		for ttl := 1; ttl <= end; ttl++ {
			t := f.ttls[ttl]
			if t == nil {
				continue
			}
			h := sources.FlowHop{TTL: ttl, Sent: t.sent}
			for a, n := range t.resp {
				h.Received += n
				if n > t.resp[h.Addr] || (n == t.resp[h.Addr] && a < h.Addr) {
					h.Addr = a
				}
			}
			h.Received = min(h.Received, h.Sent)
			fp.Hops = append(fp.Hops, h)
		}
		out = append(out, fp)
	}
	return out
}

func canonAddr(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().String()
}

// Reset forgets the rounds so the next trace covers a fresh window. The
// target's distance is remembered.
func (p *PathStats) Reset() {
	if p.dist > 0 {
		p.known = p.dist
	}
	p.rounds, p.dist, p.e2eSent, p.maxTTL = 0, 0, 0, 0
	p.ttls = map[int]*ttlStats{}
	p.flows = nil
	p.e2e = rttStats{}
}

// Trace renders the aggregate as a sources.PathTrace: one Hop per (TTL,
// responder), TTLs with no answer as one Hop with an empty Addr, the path
// cut at the first TTL where the target answered. Loss is per TTL (several
// responders at one TTL are ECMP branches, not loss). When the target did
// not answer in these rounds but did before, and no router answered from
// as deep, the path still ends at the target's known distance: its
// silent last hops are loss, not a shorter path, and EndToEnd.TTL says
// where the target is.
func (p *PathStats) Trace() sources.PathTrace {
	tr := sources.PathTrace{Vantage: p.Vantage, Target: p.Target, Addr: p.addr, At: p.last, Rounds: p.rounds}
	end := p.maxTTL
	dist := p.dist
	if dist == 0 && p.known > 0 && !p.routerAtOrPast(p.known) {
		dist = p.known
	}
	if dist > 0 {
		end = dist
		tr.Reached = p.dist > 0
	} else {
		// trailing TTLs where nothing ever answered are not hops
		for end > 0 {
			t := p.ttls[end]
			if t != nil && len(t.resp) > 0 {
				break
			}
			end--
		}
		if end < p.maxTTL {
			end++ // keep one silent TTL so the view shows where it stops
		}
	}
	for ttl := 1; ttl <= end; ttl++ {
		t := p.ttls[ttl]
		if t == nil {
			continue
		}
		recv := 0
		for _, s := range t.resp {
			recv += s.n
		}
		loss := 0.0
		if t.sent > 0 {
			loss = 1 - float64(min(recv, t.sent))/float64(t.sent)
		}
		if len(t.resp) == 0 {
			tr.Hops = append(tr.Hops, sources.Hop{TTL: ttl, Sent: t.sent, Loss: loss})
			continue
		}
		addrs := make([]string, 0, len(t.resp))
		for a := range t.resp {
			addrs = append(addrs, a)
		}
		sort.Slice(addrs, func(i, j int) bool {
			if t.resp[addrs[i]].n != t.resp[addrs[j]].n {
				return t.resp[addrs[i]].n > t.resp[addrs[j]].n
			}
			return addrs[i] < addrs[j]
		})
		for _, a := range addrs {
			s := t.resp[a]
			h := sources.Hop{TTL: ttl, Addr: a, Sent: t.sent, Received: s.n, Loss: loss}
			s.fill(&h)
			tr.Hops = append(tr.Hops, h)
		}
	}
	markRateLimited(tr.Hops, p)
	e := sources.Hop{TTL: dist, Addr: p.addr, Sent: p.e2eSent, Received: p.e2e.n}
	if p.e2eSent > 0 {
		e.Loss = 1 - float64(p.e2e.n)/float64(p.e2eSent)
		if p.e2e.n > 0 {
			tr.Reached = true
		}
	}
	p.e2e.fill(&e)
	tr.EndToEnd = e
	tr.Flows = p.flowPaths(end)
	return tr
}

// routerAtOrPast reports whether a router (not the target) answered at
// TTL ttl or deeper: then the path changed and the known distance is old.
func (p *PathStats) routerAtOrPast(ttl int) bool {
	for k, t := range p.ttls {
		if k < ttl {
			continue
		}
		for _, kind := range t.kinds {
			if kind != KindReached {
				return true
			}
		}
	}
	return false
}

// markRateLimited flags hops whose own loss is well above the loss that
// persists to the later hops (and the target's end-to-end loss): they only
// rate-limit ICMP. Same rule as correlate's (z ≥ 4 and ≥ 5 points): real
// rate limiting is a gross excess, and the floor is a minimum of noisy
// estimates, so z 3 would mark a lossy hop now and then by chance.
func markRateLimited(hops []sources.Hop, p *PathStats) {
	floor := math.Inf(1)
	if p.e2eSent > 0 {
		floor = 1 - float64(p.e2e.n)/float64(p.e2eSent)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := &hops[i]
		if h.Received == 0 || h.Sent == 0 {
			continue
		}
		dest := h.Addr == canonAddr(p.addr)
		if !dest && !math.IsInf(floor, 1) && h.Loss-floor >= 0.05 && zStep(h.Loss, floor, h.Sent) >= 4 {
			h.RateLimited = true
		}
		if !dest {
			floor = math.Min(floor, h.Loss)
		}
	}
}

// zStep is the two-proportion z statistic of p1 above p2, both over n.
func zStep(p1, p2 float64, n int) float64 {
	p := (p1 + p2) / 2
	se := math.Sqrt(p * (1 - p) * 2 / float64(n))
	if se == 0 {
		return math.Inf(1)
	}
	return (p1 - p2) / se
}
