package correlate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// Path triangulation: from the traces of several vantage points to one
// target, name the place to blame (or none). The rules, from
// path-probes.md §3:
//   - only loss that persists to the destination counts: the floor
//     F_k = min(loss_j, j ≥ k), with the destination's loss taken from its
//     end-to-end probes (ICMP echo or TCP), never from UDP port-unreachable;
//   - a hop whose own loss is well above its floor only rate-limits ICMP:
//     it is shown as such and never blamed;
//   - the onset is a segment (last clean hop, first hop answering
//     reliably after the rise], matched across vantages by address, rDNS
//     router token and successor hop;
//   - a good path crossing a place clears it;
//   - steps are judged by a two-proportion z-test with a minimum sample;
//   - a finding needs the same verdict in 2 of the last 3 windows.

// VerdictKind is the outcome of triangulating one target.
type VerdictKind string

const (
	VerdictNone         VerdictKind = "none"         // every path good
	VerdictShared       VerdictKind = "shared"       // one place on several vantages' paths
	VerdictLocal        VerdictKind = "local"        // one vantage only (or its return path)
	VerdictDestination  VerdictKind = "destination"  // loss only at the target
	VerdictMixed        VerdictKind = "mixed"        // bad paths disagree
	VerdictInsufficient VerdictKind = "insufficient" // not enough probes yet
)

// PathOptions tune triangulation.
type PathOptions struct {
	// MinSample is the probes a window needs per vantage (default 50).
	MinSample int
	// Z is the z-score a step needs (default 3).
	Z float64
	// MinStep is the smallest loss step that counts (default 0.05).
	MinStep float64
	// LatencyStep is the smallest persisting RTT rise that counts
	// (default 10ms).
	LatencyStep time.Duration
	// Windows is how many windows persistence looks at (default 3);
	// a verdict needs to hold in Windows-1 of them.
	Windows int
	// RateLimitZ is the z-score a hop's own loss needs above the loss
	// that persists past it to be read as ICMP rate limiting (default 4:
	// real rate limiting is a gross excess, and the floor is a minimum
	// of noisy estimates, so z 3 marks a lossy hop now and then by chance
	// and moves the blame downstream).
	RateLimitZ float64
}

func (o *PathOptions) defaults() {
	if o.MinSample <= 0 {
		o.MinSample = 50
	}
	if o.Z <= 0 {
		o.Z = 3
	}
	if o.MinStep <= 0 {
		o.MinStep = 0.05
	}
	if o.LatencyStep <= 0 {
		o.LatencyStep = 10 * time.Millisecond
	}
	if o.Windows <= 0 {
		o.Windows = 3
	}
	if o.RateLimitZ <= 0 {
		o.RateLimitZ = 4
	}
}

// Place is a segment of a path: the part between From (the last clean hop,
// "" = the vantage itself) and To (the first hop after the rise that
// answers reliably). Keys are what it was matched on.
type Place struct {
	From      string
	To        string
	ToTTL     int
	Name      string // rDNS of To
	ASN       int
	ASName    string
	Successor string // the next responsive hop after To
	// Aliases are other addresses the same place answered from (to
	// other vantage points).
	Aliases []string
	Keys    []string
	// SegKeys are the keys of every hop of the segment: paths whose
	// segments overlap are one place seen with different precision.
	SegKeys []string
}

// Label describes the place in a few words.
func (p Place) Label() string {
	var b strings.Builder
	from := p.From
	if from == "" {
		from = "vantage"
	}
	fmt.Fprintf(&b, "segment %s .. %s", from, p.To)
	if len(p.Aliases) > 0 {
		fmt.Fprintf(&b, " (also answering as %s)", strings.Join(p.Aliases, ", "))
	}
	if p.ASN != 0 {
		fmt.Fprintf(&b, " (AS%d", p.ASN)
		if p.ASName != "" {
			b.WriteString(" " + p.ASName)
		}
		b.WriteString(")")
	}
	return b.String()
}

// VantagePath is one vantage's view of a target in the newest window.
type VantagePath struct {
	Vantage string
	Sent    int     // end-to-end probes in the window
	Loss    float64 // end-to-end loss
	Good    bool
	Enough  bool // the window reached the minimum sample
	Onset   *Place
	// Rise is the persisting loss at the onset.
	Rise float64
	// LatencyOnset is where a persisting RTT rise against the oldest
	// window starts (nil when none).
	LatencyOnset *Place
	LatencyRise  time.Duration
	Hops         []PathHop
	SourceASN    int
}

// PathHop is one TTL of a vantage's path in a window.
type PathHop struct {
	TTL         int
	Addr        string // the most frequent responder
	Others      []string
	Name        string
	ASN         int
	Sent        int
	Received    int
	Loss        float64
	Floor       float64 // loss persisting from here to the destination
	MinRTT      time.Duration
	MedianRTT   time.Duration
	RateLimited bool
	Onset       bool // the blamed segment ends here
	Dest        bool
}

// PathVerdict is the triangulated state of one target.
type PathVerdict struct {
	Target     string
	Kind       VerdictKind
	Place      *Place   // blamed place (shared, local, destination)
	Places     []Place  // mixed: the smallest set of places explaining the bad paths
	Vantages   []string // vantages whose paths are bad
	Total      int      // vantages with enough data
	Exonerated bool     // local: a good path crosses the place → return path suspect
	LossMin    float64
	LossMax    float64
	// Latency: a persisting RTT rise against the oldest window.
	LatencyKind  VerdictKind
	LatencyPlace *Place
	LatencyRise  time.Duration
	LatencyVants []string
	RateLimited  []string // hops that only rate-limit ICMP (never blamed)
	Windows      int      // windows evaluated
	Persistent   bool     // same verdict in enough windows for a finding
	Provider     string   // "green", "red: <title>" or "" when unknown
	Paths        []VantagePath
	Text         string
}

// Triangulate judges every target of the path histories with the default
// options. providerEvents are events of Layer provider (status pages):
// with none open at warning or worse, the provider counts as green.
func Triangulate(paths []PathHistory, providerEvents []sources.Event) []PathVerdict {
	return TriangulateWith(paths, providerEvents, PathOptions{})
}

// TriangulateWith is Triangulate with options.
func TriangulateWith(paths []PathHistory, providerEvents []sources.Event, opt PathOptions) []PathVerdict {
	opt.defaults()
	byTarget := map[string][]PathHistory{}
	var targets []string
	for _, p := range paths {
		if _, ok := byTarget[p.Target]; !ok {
			targets = append(targets, p.Target)
		}
		byTarget[p.Target] = append(byTarget[p.Target], p)
	}
	sort.Strings(targets)
	provider := providerStatus(providerEvents)
	out := make([]PathVerdict, 0, len(targets))
	for _, t := range targets {
		hs := byTarget[t]
		sort.Slice(hs, func(i, j int) bool { return hs[i].Vantage < hs[j].Vantage })
		out = append(out, judgeTarget(t, hs, provider, opt))
	}
	return out
}

func providerStatus(evs []sources.Event) string {
	seen := false
	for _, e := range evs {
		if e.Layer != sources.LayerProvider {
			continue
		}
		seen = true
		if e.Open() && e.Severity >= sources.SevWarning {
			return "red: " + sources.Clean(e.Title)
		}
	}
	if seen {
		return "green"
	}
	return ""
}

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

// windows splits a history into windows of at least MinSample end-to-end
// probes, newest first.
func windows(h PathHistory, opt PathOptions, max int) []*window {
	var out []*window
	var cur *window
	for i := len(h.Traces) - 1; i >= 0 && len(out) < max; i-- {
		tr := &h.Traces[i]
		if cur == nil {
			cur = &window{ttls: map[int]*wTTL{}}
		}
		cur.add(tr)
		if cur.samples() >= opt.MinSample {
			out = append(out, cur)
			cur = nil
		}
	}
	if cur != nil && len(out) < max {
		out = append(out, cur) // an incomplete oldest window
	}
	return out
}

func (w *window) samples() int {
	if w.e2eSent > 0 {
		return w.e2eSent
	}
	return w.rounds
}

func (w *window) add(tr *sources.PathTrace) {
	w.rounds += tr.Rounds
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

// zTwo is the two-proportion z statistic of p1 (n1) above p2 (n2).
func zTwo(p1 float64, n1 int, p2 float64, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	p := (p1*float64(n1) + p2*float64(n2)) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		if p1 > p2 {
			return math.Inf(1)
		}
		return 0
	}
	return (p1 - p2) / se
}

func (o *PathOptions) above(p1 float64, n1 int, p2 float64, n2 int) bool {
	return p1-p2 >= o.MinStep && zTwo(p1, n1, p2, n2) >= o.Z
}

// analyse turns one window into a vantage path: hops, floor, onset.
func analyse(vantage string, w *window, opt PathOptions) VantagePath {
	vp := VantagePath{Vantage: vantage, Sent: w.e2eSent}
	end := w.maxTTL
	if w.dist > 0 {
		end = w.dist
	}
	for ttl := 1; ttl <= end; ttl++ {
		t := w.ttls[ttl]
		if t == nil {
			continue
		}
		h := PathHop{TTL: ttl, Sent: t.sent, Dest: ttl == w.dist}
		addrs := make([]string, 0, len(t.resp))
		for a, n := range t.resp {
			addrs = append(addrs, a)
			h.Received += n
		}
		sort.Slice(addrs, func(i, j int) bool {
			if t.resp[addrs[i]] != t.resp[addrs[j]] {
				return t.resp[addrs[i]] > t.resp[addrs[j]]
			}
			return addrs[i] < addrs[j]
		})
		if len(addrs) > 0 {
			h.Addr, h.Others = addrs[0], addrs[1:]
			h.Name, h.ASN = t.names[h.Addr], t.asn[h.Addr]
		}
		h.Received = min(h.Received, h.Sent)
		if h.Sent > 0 {
			h.Loss = 1 - float64(h.Received)/float64(h.Sent)
		}
		h.MinRTT, h.MedianRTT = minDur(t.mins), medianDur(t.meds)
		if h.Dest && w.e2eSent > 0 {
			// the destination's loss comes from its end-to-end probes
			h.Sent, h.Received = w.e2eSent, w.e2eRecv
			h.Loss = 1 - float64(w.e2eRecv)/float64(w.e2eSent)
		}
		vp.Hops = append(vp.Hops, h)
	}
	for _, h := range vp.Hops {
		if h.ASN != 0 {
			vp.SourceASN = h.ASN
			break
		}
	}
	// destination loss: end-to-end probes; never reached = 100 %
	switch {
	case w.e2eSent > 0:
		vp.Loss = 1 - float64(w.e2eRecv)/float64(w.e2eSent)
	case w.dist == 0:
		vp.Loss, vp.Sent = 1, w.rounds
	}
	vp.Enough = vp.Sent >= opt.MinSample
	n := max(vp.Sent, 1)
	vp.Good = w.dist > 0 && !opt.above(vp.Loss, n, 0, n)

	// floor: loss persisting to the destination; silent hops are unknown
	floor, floorN := vp.Loss, n
	if w.dist == 0 {
		floor = 1
	}
	for i := len(vp.Hops) - 1; i >= 0; i-- {
		h := &vp.Hops[i]
		if h.Received > 0 || h.Dest {
			if h.Loss < floor {
				floor, floorN = h.Loss, max(h.Sent, 1)
			}
		}
		h.Floor = floor
		_ = floorN
	}
	for i := range vp.Hops {
		h := &vp.Hops[i]
		if n := max(h.Sent, 1); h.Received > 0 && !h.Dest && h.Loss-h.Floor >= opt.MinStep && zTwo(h.Loss, n, h.Floor, n) >= opt.RateLimitZ {
			h.RateLimited = true
		}
	}
	if vp.Good {
		return vp
	}
	// onset: the path is bad (its end-to-end loss passed the z-test); the
	// onset is the first hop where the persisting loss is significant or
	// already most of the path's loss. The z-test alone would move the
	// onset downstream whenever sampling noise pulls one floor low (the
	// floor is a minimum of noisy estimates).
	k := -1
	need := math.Max(opt.MinStep, 0.5*vp.Loss)
	for i, h := range vp.Hops {
		if h.Received == 0 && !h.Dest {
			continue
		}
		if h.Floor >= need || opt.above(h.Floor, max(h.Sent, 1), 0, max(h.Sent, 1)) {
			k = i
			break
		}
	}
	if k < 0 {
		if w.dist == 0 {
			// nothing answers past some hop: blame the segment after the
			// last responsive hop
			k = len(vp.Hops) - 1
			for k > 0 && vp.Hops[k].Received == 0 {
				k--
			}
			if k < 0 {
				return vp
			}
		} else {
			return vp
		}
	}
	// j: the first hop from k on whose own answers are reliable
	j := k
	for ; j < len(vp.Hops); j++ {
		h := vp.Hops[j]
		if (h.Received > 0 || h.Dest) && !h.RateLimited {
			break
		}
	}
	if j >= len(vp.Hops) {
		j = len(vp.Hops) - 1
	}
	// the segment starts after the last hop whose floor is confidently
	// below the loss at the onset (a noisy, not quite significant floor
	// widens the segment instead of moving it)
	rise := vp.Hops[j].Floor
	start := -1
	for i := k - 1; i >= 0; i-- {
		h := vp.Hops[i]
		if h.Received == 0 {
			continue
		}
		if opt.above(rise, max(vp.Hops[j].Sent, 1), h.Floor, max(h.Sent, 1)) {
			start = i
			break
		}
	}
	from := ""
	if start >= 0 {
		from = vp.Hops[start].Addr
	}
	vp.Hops[j].Onset = true
	vp.Rise = vp.Hops[k].Floor
	vp.Onset = placeOf(vp.Hops, j, from, w)
	for i := start + 1; i <= j; i++ {
		vp.Onset.SegKeys = append(vp.Onset.SegKeys, hopKeys(vp.Hops, i)...)
	}
	return vp
}

// placeOf builds the place ending at hop j with its match keys.
func placeOf(hops []PathHop, j int, from string, w *window) *Place {
	h := hops[j]
	p := &Place{From: from, To: h.Addr, ToTTL: h.TTL, Name: h.Name, ASN: h.ASN}
	if t := w.ttls[h.TTL]; t != nil {
		p.ASName = t.asnm[h.Addr]
	}
	if p.To == "" {
		p.To = fmt.Sprintf("TTL %d (no answer)", h.TTL)
	} else {
		p.Keys = append(p.Keys, "ip:"+h.Addr)
		for _, o := range h.Others {
			p.Keys = append(p.Keys, "ip:"+o)
		}
	}
	if tok := RouterToken(h.Name); tok != "" {
		p.Keys = append(p.Keys, "rtr:"+tok)
	}
	for i := j + 1; i < len(hops); i++ {
		if hops[i].Addr != "" {
			p.Successor = hops[i].Addr
			p.Keys = append(p.Keys, fmt.Sprintf("succ:%s@%d", hops[i].Addr, hops[i].TTL-h.TTL))
			break
		}
	}
	if h.Dest {
		p.Keys = append(p.Keys, "dest")
	}
	return p
}

// hopKeys are the keys under which hop i of a path can be matched.
func hopKeys(hops []PathHop, i int) []string {
	h := hops[i]
	var ks []string
	if h.Addr != "" {
		ks = append(ks, "ip:"+h.Addr)
		for _, o := range h.Others {
			ks = append(ks, "ip:"+o)
		}
	}
	if tok := RouterToken(h.Name); tok != "" {
		ks = append(ks, "rtr:"+tok)
	}
	for k := i + 1; k < len(hops); k++ {
		if hops[k].Addr != "" {
			ks = append(ks, fmt.Sprintf("succ:%s@%d", hops[k].Addr, hops[k].TTL-h.TTL))
			break
		}
	}
	return ks
}

// RouterToken pulls a router name out of a reverse-DNS name by dropping the
// interface label: "ae-2.r21.asbnva02.us.bb.gin.ntt.net" →
// "r21.asbnva02.us.bb.gin.ntt.net". Names with fewer than four labels give
// "" (too little to tell routers apart).
func RouterToken(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	labels := strings.Split(name, ".")
	if len(labels) < 4 {
		return ""
	}
	first := labels[0]
	iface := false
	for _, p := range []string{"ae", "xe", "ge", "et", "te", "be", "eth", "gi", "hu", "po", "bundle", "vlan", "irb", "lo"} {
		if strings.HasPrefix(first, p) && len(first) > len(p) && strings.ContainsAny(first[len(p):], "0123456789") {
			iface = true
			break
		}
	}
	if !iface {
		return name
	}
	return strings.Join(labels[1:], ".")
}

func shares(a, b []string) bool {
	for _, x := range a {
		if x == "dest" {
			continue
		}
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// crosses reports whether a good path crosses the place.
func crosses(good VantagePath, p *Place) bool {
	for i := range good.Hops {
		if good.Hops[i].Dest {
			continue
		}
		if shares(p.Keys, hopKeys(good.Hops, i)) {
			return true
		}
	}
	return false
}

// judgeWindow triangulates one window of every vantage: the bad paths'
// onsets are grouped into places, good paths clear the places they
// cross, and what is left is blamed.
func judgeWindow(target string, vps []VantagePath, opt PathOptions) PathVerdict {
	v := PathVerdict{Target: target, Paths: vps}
	good, bad := v.splitPaths(vps)
	if v.Total == 0 {
		v.Kind = VerdictInsufficient
		return v
	}
	if len(bad) == 0 {
		v.Kind = VerdictNone
		return v
	}
	v.LossMin, v.LossMax = 1, 0
	for _, p := range bad {
		v.Vantages = append(v.Vantages, p.Vantage)
		rise := p.Loss // persisting to the target: its end-to-end loss
		v.LossMin, v.LossMax = math.Min(v.LossMin, rise), math.Max(v.LossMax, rise)
	}
	if atDestination(bad) {
		v.Kind = VerdictDestination
		v.Place = bad[0].Onset
		return v
	}
	groups := groupOnsets(bad)
	clearPlaces(groups, good, opt)
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].members) > len(groups[j].members) })
	v.blame(groups, len(bad))
	return v
}

// splitPaths splits the paths with enough data into good and bad,
// counting them in Total and listing the hops that only rate-limit ICMP.
func (v *PathVerdict) splitPaths(vps []VantagePath) (good, bad []VantagePath) {
	rl := map[string]bool{}
	for _, p := range vps {
		if !p.Enough {
			continue
		}
		v.Total++
		for _, h := range p.Hops {
			if h.RateLimited && !rl[h.Addr] {
				rl[h.Addr] = true
				v.RateLimited = append(v.RateLimited, h.Addr)
			}
		}
		if p.Good {
			good = append(good, p)
		} else {
			bad = append(bad, p)
		}
	}
	sort.Strings(v.RateLimited)
	return good, bad
}

// atDestination reports whether the destination side is to blame:
// every bad path's onset is the target itself.
func atDestination(bad []VantagePath) bool {
	for _, p := range bad {
		if p.Onset == nil || !containsKey(p.Onset.Keys, "dest") {
			return false
		}
	}
	return true
}

// onsetGroup is one place the bad paths' onsets point at, and the
// vantages that point there.
type onsetGroup struct {
	place    *Place
	keys     []string
	seg      []string
	loss     []float64
	n        int
	members  []string
	asns     map[int]bool
	unknown  int
	cleared  bool
	clearing []string
}

// groupOnsets groups the onsets of the bad paths into places: onsets
// whose segments share a key are one place.
func groupOnsets(bad []VantagePath) []*onsetGroup {
	var groups []*onsetGroup
	for _, p := range bad {
		if p.Onset == nil {
			continue
		}
		var g *onsetGroup
		for _, x := range groups {
			if shares(x.seg, p.Onset.SegKeys) {
				g = x
				break
			}
		}
		if g == nil {
			g = &onsetGroup{place: p.Onset, asns: map[int]bool{}}
			groups = append(groups, g)
		} else if len(p.Onset.SegKeys) < len(g.place.SegKeys) {
			// the narrower segment names the place
			old := g.place
			cp := *p.Onset
			if old.To != cp.To && !containsKey(cp.Aliases, old.To) {
				cp.Aliases = append(append([]string(nil), old.Aliases...), old.To)
			}
			g.place = &cp
		}
		g.add(&p)
	}
	return groups
}

// add counts bad path p in the group, and names the place by another
// address when p's onset is the same place seen from elsewhere.
func (g *onsetGroup) add(p *VantagePath) {
	g.seg = append(g.seg, p.Onset.SegKeys...)
	g.keys = append(g.keys, p.Onset.Keys...)
	g.members = append(g.members, p.Vantage)
	g.loss = append(g.loss, p.Loss)
	g.n += p.Sent
	if p.Onset.To != g.place.To && !containsKey(g.place.Aliases, p.Onset.To) && shares(g.place.Keys, p.Onset.SegKeys) && !containsKey(p.Onset.Keys, "dest") {
		cp := *g.place
		cp.Aliases = append(append([]string(nil), cp.Aliases...), p.Onset.To)
		if cp.From == "" && p.Onset.From != "" {
			// prefer the narrower segment as the representative
			cp.Aliases[len(cp.Aliases)-1] = cp.To
			cp.From, cp.To, cp.Name = p.Onset.From, p.Onset.To, p.Onset.Name
		}
		g.place = &cp
	}
	if p.SourceASN != 0 {
		g.asns[p.SourceASN] = true
	} else {
		g.unknown++
	}
}

// clearPlaces marks each place a good path crosses with confidently
// less loss than the bad paths through it.
func clearPlaces(groups []*onsetGroup, good []VantagePath, opt PathOptions) {
	for _, g := range groups {
		pl := &Place{Keys: g.place.Keys}
		gl := 0.0
		for _, l := range g.loss {
			gl += l
		}
		gl /= float64(len(g.loss))
		gn := max(g.n/len(g.loss), 1)
		for _, gp := range good {
			// only a path confidently better than the bad ones clears a
			// place: a path that merely missed the z-test does not
			if crosses(gp, pl) && opt.above(gl, gn, gp.Loss, max(gp.Sent, 1)) {
				g.cleared = true
				g.clearing = append(g.clearing, gp.Vantage)
			}
		}
	}
}

// blame names the place from the groups, most vantages first. One group
// holding every bad path is shared when two or more independent vantages
// see it and no good path clears it, local when one vantage does;
// anything else is mixed, blamed on the places not cleared.
func (v *PathVerdict) blame(groups []*onsetGroup, bad int) {
	if len(groups) == 1 && len(groups[0].members) == bad {
		g := groups[0]
		v.Place = g.place
		votes := len(g.asns) + g.unknown
		if len(g.members) >= 2 && votes >= 2 && !g.cleared {
			v.Kind = VerdictShared
			return
		}
		if len(g.members) == 1 {
			v.Kind = VerdictLocal
			v.Exonerated = g.cleared
			return
		}
	}
	// mixed: greedy hitting set over the places not cleared, most
	// vantages first
	v.Kind = VerdictMixed
	for _, g := range groups {
		if !g.cleared {
			v.Places = append(v.Places, *g.place)
		}
	}
	if len(v.Places) > 0 {
		v.Place = &v.Places[0]
	}
}

func containsKey(ks []string, k string) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// latency: a persisting rise of the median RTT against the oldest window,
// hop by hop (matched by TTL and address), floor-style.
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
	_ = base
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
			w := &window{ttls: map[int]*wTTL{}}
			p := placeOf(now.Hops, rises[i].i, from, w)
			return p, floors[i]
		}
	}
	return nil, 0
}

func judgeTarget(target string, hs []PathHistory, provider string, opt PathOptions) PathVerdict {
	maxWin := max(opt.Windows, 2) + 8 // keep older windows as a latency baseline
	perV := make([][]*window, len(hs))
	nWin := 0
	for i, h := range hs {
		perV[i] = windows(h, opt, maxWin)
		nWin = max(nWin, len(perV[i]))
	}
	verdictAt := func(wi int) PathVerdict {
		var vps []VantagePath
		for i, h := range hs {
			if wi < len(perV[i]) {
				vps = append(vps, analyse(h.Vantage, perV[i][wi], opt))
			}
		}
		return judgeWindow(target, vps, opt)
	}
	v := verdictAt(0)
	v.Provider = provider
	// persistence over the last windows
	agree, looked := 1, 1
	for wi := 1; wi < min(opt.Windows, nWin); wi++ {
		o := verdictAt(wi)
		looked++
		if o.Kind == v.Kind && samePlace(o.Place, v.Place) {
			agree++
		}
	}
	v.Windows = looked
	need := max(opt.Windows-1, 2)
	v.Persistent = agree >= need || (v.Kind == VerdictNone && agree >= 1)
	// latency against the oldest window of each vantage
	var lv []string
	var lp *Place
	var lrise time.Duration
	for i, h := range hs {
		if len(perV[i]) < 2 || perV[i][len(perV[i])-1].samples() < opt.MinSample {
			continue
		}
		now := analyse(h.Vantage, perV[i][0], opt)
		base := analyse(h.Vantage, perV[i][len(perV[i])-1], opt)
		if p, r := latencyOnset(now, base, opt); p != nil {
			for j := range v.Paths {
				if v.Paths[j].Vantage == h.Vantage {
					v.Paths[j].LatencyOnset, v.Paths[j].LatencyRise = p, r
				}
			}
			lv = append(lv, h.Vantage)
			if lp == nil || p.ToTTL < lp.ToTTL {
				lp = p
			}
			lrise = max(lrise, r)
		}
	}
	if len(lv) > 0 {
		v.LatencyPlace, v.LatencyRise, v.LatencyVants = lp, lrise, lv
		v.LatencyKind = VerdictLocal
		if len(lv) >= 2 {
			v.LatencyKind = VerdictShared
		}
	} else {
		v.LatencyKind = VerdictNone
	}
	v.Text = verdictText(&v)
	return v
}

func samePlace(a, b *Place) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return shares(a.Keys, b.Keys) || (containsKey(a.Keys, "dest") && containsKey(b.Keys, "dest"))
}

func pct(lo, hi float64) string {
	a, b := math.Round(lo*100), math.Round(hi*100)
	if a == b {
		return fmt.Sprintf("%.0f %%", a)
	}
	return fmt.Sprintf("%.0f–%.0f %%", a, b)
}

func verdictText(v *PathVerdict) string {
	var s string
	switch v.Kind {
	case VerdictNone:
		s = fmt.Sprintf("no persisting loss to %s from %d vantage points", v.Target, v.Total)
		if len(v.RateLimited) > 0 {
			s += fmt.Sprintf("; ICMP rate limiting at %s (not blamed)", strings.Join(v.RateLimited, ", "))
		}
	case VerdictInsufficient:
		s = fmt.Sprintf("not enough probes to %s yet", v.Target)
	case VerdictShared:
		s = fmt.Sprintf("loss of %s starts at the %s, seen from %d of %d vantage points, persisting to the target",
			pct(v.LossMin, v.LossMax), v.Place.Label(), len(v.Vantages), v.Total)
	case VerdictLocal:
		s = fmt.Sprintf("loss of %s local to vantage %s, starting at the %s", pct(v.LossMin, v.LossMax), v.Vantages[0], v.Place.Label())
		if v.Exonerated {
			s += "; other vantages cross that place cleanly: suspect the return path to " + v.Vantages[0]
		}
	case VerdictDestination:
		s = fmt.Sprintf("loss of %s at the target %s itself, clean up to it, from %d of %d vantage points",
			pct(v.LossMin, v.LossMax), v.Target, len(v.Vantages), v.Total)
	case VerdictMixed:
		var ls []string
		for _, p := range v.Places {
			ls = append(ls, p.Label())
		}
		s = fmt.Sprintf("loss of %s to %s from %s; the vantage points disagree", pct(v.LossMin, v.LossMax), v.Target, strings.Join(v.Vantages, ", "))
		if len(ls) > 0 {
			s += "; candidates: " + strings.Join(ls, "; ")
		}
	}
	if v.LatencyKind == VerdictShared || v.LatencyKind == VerdictLocal {
		s += fmt.Sprintf("; median RTT +%s from the %s (%s)", v.LatencyRise.Round(time.Millisecond), v.LatencyPlace.Label(), strings.Join(v.LatencyVants, ", "))
	}
	if v.Provider != "" && v.Kind != VerdictNone && v.Kind != VerdictInsufficient {
		s += "; provider status " + v.Provider
	}
	return s
}

// PathFindings turns the snapshot's path histories into findings: one per
// target whose verdict persisted.
func PathFindings(snap *Snapshot) []Finding { return FindingsFromVerdicts(PathVerdicts(snap)) }

// PathVerdicts judges every target of the snapshot's path histories.
// Provider status comes from events of Layer provider and from provider
// service node states.
func PathVerdicts(snap *Snapshot) []PathVerdict {
	if snap == nil || len(snap.Paths) == 0 {
		return nil
	}
	var prov []sources.Event
	for _, e := range snap.Events {
		if e.Layer == sources.LayerProvider {
			prov = append(prov, e)
		}
	}
	for _, n := range snap.Nodes {
		if n.Kind == "service" && n.Layer == sources.LayerProvider {
			prov = append(prov, sources.Event{ID: n.ID, Layer: n.Layer, Severity: n.Severity, Title: n.Name + " " + n.State})
		}
	}
	return Triangulate(snap.Paths, prov)
}

// FindingsFromVerdicts makes findings of persistent verdicts.
func FindingsFromVerdicts(vs []PathVerdict) []Finding {
	var out []Finding
	for _, v := range vs {
		if !v.Persistent {
			continue
		}
		sev := sources.SevWarning
		node, key := v.Target, ""
		switch v.Kind {
		case VerdictShared:
			sev = sources.SevCritical
		case VerdictLocal, VerdictDestination, VerdictMixed:
		default:
			continue
		}
		if v.Place != nil {
			// the smallest address of the place keeps the ID stable when
			// another vantage's address names it in the next window
			node, key = v.Place.To, v.Place.To
			for _, a := range v.Place.Aliases {
				if a < key {
					key = a
				}
			}
		}
		f := Finding{
			ID:          "path/" + v.Target + "/" + string(v.Kind) + "/" + key,
			Rule:        "path",
			Severity:    sev,
			Title:       v.Text,
			Explanation: explain(&v),
			Layer:       sources.LayerNetwork,
			Node:        node,
			Segment:     key,
		}
		if v.Kind == VerdictShared && v.Provider == "green" {
			f.Title = "provider green, path red: " + f.Title
		}
		for _, p := range v.Paths {
			kind := EvContext
			if !p.Good {
				kind = EvSymptom
				if p.Onset != nil {
					kind = EvSuspect
				}
			}
			txt := fmt.Sprintf("%s → %s: end-to-end loss %.0f %% over %d probes", p.Vantage, v.Target, p.Loss*100, p.Sent)
			if p.Onset != nil {
				txt += fmt.Sprintf(", persisting loss %.0f %% from the %s", p.Rise*100, p.Onset.Label())
			}
			out2 := Evidence{Kind: kind, Layer: sources.LayerNetwork, Node: v.Target, Value: p.Loss, Baseline: math.NaN(), Text: txt}
			f.Evidence = append(f.Evidence, out2)
		}
		out = append(out, f)
	}
	return out
}

func explain(v *PathVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Verdict over %d windows of at least the minimum sample; ", v.Windows)
	b.WriteString("loss counts only where it persists to the target (floor rule), the target's loss from ICMP echo or TCP probes.")
	if len(v.RateLimited) > 0 {
		fmt.Fprintf(&b, "\nICMP rate limiting (not loss, never blamed): %s.", strings.Join(v.RateLimited, ", "))
	}
	if v.Kind == VerdictLocal && v.Exonerated {
		b.WriteString("\nA good path from another vantage point crosses the same place, so the forward path there is fine: the return path to this vantage point is the suspect.")
	}
	return b.String()
}
