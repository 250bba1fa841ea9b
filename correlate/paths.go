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
//   - each vantage is judged on the newest stretch of its probes in which
//     the end-to-end loss held steady (paths_window.go), so a fault is
//     judged on its own probes as soon as they are enough;
//   - a path is bad when its end-to-end loss (ICMP echo or TCP, never UDP
//     port-unreachable) is too many lost probes for a clean path (exact
//     binomial tail), good when it shows no sign of loss, and undecided in
//     between: no verdict is confident while a path is undecided;
//   - only loss that persists to the destination counts: the floor, a
//     fit of the loss non-decreasing along the path (neighbours that
//     differ by chance pooled), with the destination's loss from its
//     end-to-end probes;
//   - a hop whose own loss is well above the loss persisting past it only
//     rate-limits ICMP: it is shown as such and never blamed; one that is
//     merely doubtful cannot end a segment either;
//   - the onset is where the persisting loss most likely steps up; the
//     blamed segment runs from the last clean hop to the first hop
//     answering reliably after it, matched across vantages by address,
//     rDNS router token and successor hop (never the successor of a load
//     balancer's branch: branches share it);
//   - a path whose probe flows part at a load balancer is split by
//     branch when the branches' losses differ;
//   - a good path crossing a place clears it;
//   - an open verdict holds until a confident different one has held for
//     a while (PathJudge, paths_judge.go): findings do not close and
//     reopen while the fault holds.

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

// DefaultPathMinSample is the end-to-end probes a vantage needs since its
// loss last changed before it counts in a verdict: at the default rate
// of one round a second, a verdict takes about 20 to 30 seconds.
const DefaultPathMinSample = 20

// DefaultLatencyRounds is the rounds a rise of the RTT must last to count;
// a queue with no RTT from before is judged on twice as many changes of
// the RTT from one round to the next.
const DefaultLatencyRounds = 10

// PathOptions tune triangulation.
type PathOptions struct {
	// MinSample is the end-to-end probes a vantage's stretch needs
	// before it counts in a verdict (default 20).
	MinSample int
	// Z is the one-sided z a path's loss needs against Tolerance to be
	// bad (default 3.5; the stretch it is judged on begins at a change
	// the sequential test found, so chance alone rarely gets there).
	Z float64
	// GoodZ is the z below which a path shows no sign of loss (default
	// 2); between GoodZ and Z a path is undecided.
	GoodZ float64
	// Tolerance is the loss a clean path may have (default 0.01).
	Tolerance float64
	// MinStep is the smallest loss step that counts (default 0.05).
	MinStep float64
	// LatencyStep is the smallest persisting RTT rise that counts
	// (default 10ms; more when the RTT was noisier before).
	LatencyStep time.Duration
	// LatencyRounds is the rounds a rise must last to count (default
	// 10), LatencyBase the rounds it is measured against (default 120).
	LatencyRounds int
	LatencyBase   int
	// QueueJitter is the least jitter (the median change of the RTT from
	// one round to the next) that tells a queue from a long link where
	// there is no RTT from before to compare with (default 0.3ms), and
	// QueueRatio how many times the jitter before its segment it must be
	// (default 4).
	QueueJitter time.Duration
	QueueRatio  float64
	// RateLimitZ is the z-score a hop's own loss needs above the loss
	// that persists past it to be read as ICMP rate limiting (default 3.5:
	// real rate limiting is a gross excess; a lossy hop reads a little
	// high now and then by chance).
	RateLimitZ float64
	// OnsetZ is the z by which the persisting loss at an onset must
	// stand above the hop before it to start the segment there (default
	// 3).
	OnsetZ float64
	// DoubtZ is the z above which a hop's own answers are too lossy to
	// end a blamed segment, though not yet rate limiting (default 2).
	DoubtZ float64
	// SplitZ is the likelihood-ratio z at which a vantage's end-to-end
	// loss is taken to have changed (default 4), MinSplit the probes
	// needed on either side (default 8).
	SplitZ   float64
	MinSplit int
	// RecentZ is the z above which a path's newest MinSample probes show
	// loss, so the path is not good though its stretch is (default 3).
	RecentZ float64
	// RiseStep is the rise of the loss the sequential test looks for
	// (default 0.15), RiseH the evidence it needs (default 8).
	RiseStep float64
	RiseH    float64
	// SwitchRounds is how many probe rounds a confident verdict that
	// differs from the open one must hold before it replaces it (default
	// 10), CloseRounds the same for every path clean (default 20):
	// hysteresis against lucky streaks of probes.
	SwitchRounds int
	CloseRounds  int
	// MaxProbes bounds the end-to-end probes of one vantage judged at
	// once (default 300).
	MaxProbes int

	// ecmp are the branches of load balancers seen by any vantage of the
	// target being judged (set per target)
	ecmp map[string]bool
}

func (o *PathOptions) defaults() {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	defi := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defi(&o.MinSample, DefaultPathMinSample)
	def(&o.Z, 3.5)
	def(&o.GoodZ, 2)
	def(&o.Tolerance, 0.01)
	def(&o.MinStep, 0.05)
	def(&o.RateLimitZ, 3.5)
	def(&o.DoubtZ, 2)
	def(&o.OnsetZ, 3)
	def(&o.SplitZ, 4)
	defi(&o.MinSplit, 8)
	def(&o.RiseStep, 0.15)
	def(&o.RecentZ, 3)
	def(&o.RiseH, 8)
	defi(&o.MaxProbes, 300)
	defi(&o.SwitchRounds, 10)
	defi(&o.CloseRounds, 20)
	if o.LatencyStep <= 0 {
		o.LatencyStep = 10 * time.Millisecond
	}
	defi(&o.LatencyRounds, DefaultLatencyRounds)
	defi(&o.LatencyBase, 120)
	if o.QueueJitter <= 0 {
		o.QueueJitter = 300 * time.Microsecond
	}
	def(&o.QueueRatio, 4)
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
	// FromKeys are the keys of the hop the segment starts after.
	FromKeys []string
	// Balanced are the addresses of a load balancer's branches when the
	// place ends at one: To alone when flows told which branch, all of
	// them when they did not.
	Balanced []string
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
	switch {
	case len(p.Balanced) == 1:
		b.WriteString(" (one branch of a load-balanced hop)")
	case len(p.Balanced) > 1:
		fmt.Fprintf(&b, " (load-balanced over %s; the flows do not tell which branch)", strings.Join(p.Balanced, " | "))
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

// VantagePath is one vantage's view of a target over the newest stretch
// of its probes in which the end-to-end loss held steady.
type VantagePath struct {
	Vantage string
	Sent    int     // end-to-end probes in the stretch
	Loss    float64 // end-to-end loss
	// Good: no sign of loss. A path neither Good nor Undecided is bad.
	Good      bool
	Undecided bool
	Enough    bool // the stretch reached the minimum sample
	// Since is when the stretch began (the oldest trace judged).
	Since time.Time
	Onset *Place
	// OnsetSure: the rise of the persisting loss at the onset is
	// significant against the hops before it.
	OnsetSure bool
	// Rise is the persisting loss at the onset.
	Rise float64
	// LatencyOnset is where a persisting RTT rise against the stretch
	// before starts (nil when none).
	LatencyOnset *Place
	LatencyRise  time.Duration
	// LatencyJitter is, for a rise told by its jitter (no RTT from before
	// to compare with), the jitter persisting from the onset, and
	// LatencyJitterBefore the jitter persisting from the hop before it;
	// both 0 for a rise against the RTT before.
	LatencyJitter       time.Duration
	LatencyJitterBefore time.Duration
	// LatencyUndecided: its probes do not yet tell whether its RTT rose
	// (a young rise, or too few changes to judge its jitter).
	LatencyUndecided bool
	Hops             []PathHop
	SourceASN        int

	// Branch is, for a path split by its flows, the responder its flows
	// took at BranchTTL, where they parted.
	Branch    string
	BranchTTL int

	// the path judged on the probes since another vantage's newest
	// change, when its stretch began before and is good
	aligned *VantagePath
	w       *window // what it was judged on
}

// Bad reports whether the path's loss is decided to be a fault.
func (p *VantagePath) Bad() bool { return !p.Good && !p.Undecided }

// PathHop is one TTL of a vantage's path in a window.
type PathHop struct {
	TTL      int
	Addr     string // the most frequent responder
	Others   []string
	Name     string
	ASN      int
	Sent     int
	Received int
	Loss     float64
	// Floor is the loss persisting from here to the destination.
	Floor     float64
	MinRTT    time.Duration
	MedianRTT time.Duration
	// RateLimited: its own loss is well above the loss persisting past
	// it; it only rate-limits ICMP and is never blamed. Doubtful: above
	// it, though not clearly; it cannot end a blamed segment either.
	RateLimited bool
	Doubtful    bool
	Onset       bool // the blamed segment ends here
	Dest        bool
	// ECMP: the flows parted at this TTL; Addr and Others are branches
	// of a load balancer (or the one branch a path's flows took).
	ECMP bool

	floorN int // the probes behind Floor
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
	// Latency: a persisting rise of the median RTT against the stretch
	// before, told apart from loss (a queue delays without dropping).
	// LatencyKind is none, local or shared; the rest as for loss.
	LatencyKind       VerdictKind
	LatencyPlace      *Place
	LatencyRise       time.Duration
	LatencyJitter     time.Duration // the most of its vantages' LatencyJitter
	LatencyVants      []string
	LatencyConfident  bool
	LatencyPersistent bool
	LatencyHeld       bool
	LatencyKey        string
	LatencySince      time.Time
	RateLimited       []string // hops that only rate-limit ICMP (never blamed)
	// Doubtful are hops whose own loss is above what persists past
	// them, not yet clearly: not blamed either (the segment passes them).
	Doubtful []string
	// Balanced are the branches of load balancers the flows showed.
	Balanced []string
	// Parallel: a good path crosses a hop beside the place (the same
	// next hop, another address): perhaps the clean branch of a load
	// balancer the flows did not show.
	Parallel bool
	// Probes is the fewest end-to-end probes behind a vantage counted
	// in the verdict.
	Probes int
	// Confident: every path is decided, every onset sure; this
	// evaluation alone would open (or close) a finding.
	Confident bool
	// Persistent: the verdict is confident, or an earlier confident one
	// holds (Held) because nothing confident replaced it yet.
	Persistent bool
	Held       bool
	// Since is when the verdict was first reached (held verdicts keep
	// it); Key names its place steadily while it holds.
	Since    time.Time
	Key      string
	Provider string // "green", "red: <title>" or "" when unknown
	Paths    []VantagePath
	Text     string
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

// analyse turns one window into a vantage path: hops, its state (good,
// undecided, bad), the floor, the onset.
func analyse(vantage string, w *window, opt PathOptions) VantagePath {
	vp := VantagePath{Vantage: vantage, Sent: w.e2eSent, Since: w.since, w: w}
	vp.Hops = w.hops()
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
	lost := int(math.Round(vp.Loss * float64(n)))
	z := binomUpperZ(lost, n, opt.Tolerance)
	switch {
	case w.dist == 0 && vp.Sent > 0 && vp.Loss == 1:
		// never reached, nothing came back
	case vp.Loss < opt.Tolerance+opt.MinStep || z < opt.GoodZ:
		// good, unless its newest probes show loss that the stretch
		// does not yet (a fault too young to be told from the past)
		vp.Good = !w.recentLoss(opt)
		vp.Undecided = !vp.Good
	case z < opt.Z:
		vp.Undecided = true
	case w.recentDrop(vp.Loss, vp.Sent, opt):
		// bad, but its newest probes lost clearly less: perhaps the
		// fault is over and the stretch has not ended yet
		vp.Undecided = true
	}
	fitFloors(vp.Hops, lost, n, w.dist > 0, opt)
	if !vp.Good {
		vp.onset(w, opt)
	}
	if !vp.Enough && vp.Bad() && vp.Sent >= opt.MinSample*3/5 && z >= opt.Z+1 && vp.plainOnset(opt) {
		// a sequential look: a loss this far past the tolerance is
		// enough on fewer probes (3 of 5 of MinSample, a z one more),
		// when the hops' own answers up to the onset leave no doubt
		// about where it is
		vp.Enough = true
	}
	return vp
}

// plainOnset reports whether the path has a sure onset and no hop up to
// its end answers with more loss than persists past it that the tests
// could not yet tell: on few probes a hop a little lossier than the
// floor past it may be the onset or a rate-limiting router, so a path
// with one waits. A hop clearly rate limiting does not make it wait: it
// can never end the segment, which passes it whichever it is, so more
// probes would name the same place.
func (vp *VantagePath) plainOnset(opt PathOptions) bool {
	if vp.Onset == nil || !vp.OnsetSure {
		return false
	}
	for _, h := range vp.Hops {
		if h.TTL > vp.Onset.ToTTL {
			break
		}
		if h.Received > 0 && (h.Doubtful || (!h.RateLimited && h.Loss-h.Floor >= opt.MinStep)) {
			return false
		}
	}
	return true
}

// pathState is what end-to-end loss of lost out of sent says: good (no
// sign of loss), bad, or undecided between.
func pathState(lost, sent int, opt PathOptions) (good, bad bool) {
	loss := float64(lost) / float64(max(sent, 1))
	z := binomUpperZ(lost, max(sent, 1), opt.Tolerance)
	return loss < opt.Tolerance+opt.MinStep || z < opt.GoodZ, loss >= opt.Tolerance+opt.MinStep && z >= opt.Z
}

// alignTo checks a path against the probes since another vantage's
// newest change, when its own stretch began before. If those probes
// are enough and say otherwise than its stretch (a fault, or the end of
// one, that this path has not told from its own past yet), the path is
// judged on them instead; if they are too few, a path is undecided
// unless they agree with it.
func (vp VantagePath) alignTo(vantage string, trs []sources.PathTrace, since time.Time, opt PathOptions) VantagePath {
	from := sort.Search(len(trs), func(i int) bool { return !trs[i].At.Before(since) })
	sent, lost := countProbes(trs[from:])
	good, bad := pathState(lost, sent, opt)
	if sent >= opt.MinSample && good && float64(lost)/float64(sent) >= opt.Tolerance+opt.MinStep {
		good = false // clean by the test, not by the count
	}
	agree := good == vp.Good && bad == vp.Bad()
	if sent >= opt.MinSample && !agree {
		return analyse(vantage, merge(trs, from, len(trs), opt), opt)
	}
	switch {
	case agree && vp.Good && sent > 0:
		a := analyse(vantage, merge(trs, from, len(trs), opt), opt)
		vp.aligned = &a
	case agree:
	case vp.Good:
		// too few probes since to tell that this path is still clean
		vp.Good, vp.Undecided = false, true
	case vp.Bad() && zTwo(vp.Loss, vp.Sent, float64(lost)/float64(max(sent, 1)), max(sent, 1)) >= opt.GoodZ:
		// the loss fell since: perhaps the fault is over
		vp.Undecided = true
	}
	return vp
}

// recentDrop reports whether the window's newest probes lost clearly
// less than the whole (loss over sent).
func (w *window) recentDrop(loss float64, sent int, opt PathOptions) bool {
	if w.recentSent == 0 || w.recentSent >= sent {
		return false
	}
	recent := float64(w.recentLost) / float64(w.recentSent)
	return loss-recent >= opt.MinStep && zTwo(loss, sent, recent, w.recentSent) >= opt.GoodZ
}

// recentLoss reports whether the window's newest probes show loss.
func (w *window) recentLoss(opt PathOptions) bool {
	if w.recentSent == 0 {
		return false
	}
	loss := float64(w.recentLost) / float64(w.recentSent)
	return loss >= opt.Tolerance+opt.MinStep && binomUpperZ(w.recentLost, w.recentSent, opt.Tolerance) >= opt.RecentZ
}

// hops are the window's TTLs up to the target as path hops, the
// destination's loss taken from its end-to-end probes.
func (w *window) hops() []PathHop {
	end := w.maxTTL
	if w.dist > 0 {
		end = w.dist
	}
	var out []PathHop
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
			h.ECMP = w.ecmp[h.Addr]
		}
		h.Received = min(h.Received, h.Sent)
		if h.Sent > 0 {
			h.Loss = 1 - float64(h.Received)/float64(h.Sent)
		}
		h.MinRTT, h.MedianRTT = minDur(t.mins), medianDur(t.meds)
		if h.Dest && w.e2eSent > 0 {
			h.Sent, h.Received = w.e2eSent, w.e2eRecv
			h.Loss = 1 - float64(w.e2eRecv)/float64(w.e2eSent)
		}
		out = append(out, h)
	}
	return out
}

// lossBlock is a run of hops whose loss the floor pools.
type lossBlock struct {
	lost, sent int
	members    []int
}

func (b *lossBlock) mean() float64 { return float64(b.lost) / float64(max(b.sent, 1)) }

// fitFloors sets each hop's Floor, the loss persisting from it to the
// destination: from the destination back, a fit of the loss that never
// falls along the path, pooling neighbours whose order is only chance
// (pool adjacent violators), so a floor is not the luckiest of several
// noisy estimates. A hop whose own loss is well above the pooled loss
// past it is left out: RateLimited when clearly so, Doubtful when not
// quite. Silent hops are unknown, not 100 %: they take the floor past
// them. destLost/destSent are the end-to-end probes; without a reached
// destination the loss past the last hop is total.
func fitFloors(hops []PathHop, destLost, destSent int, reached bool, opt PathOptions) {
	var stack []lossBlock // stack[0] nearest the destination
	if !reached {
		stack = append(stack, lossBlock{lost: max(destSent, 1), sent: max(destSent, 1)})
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := &hops[i]
		if h.Received == 0 && !h.Dest {
			continue
		}
		lost, sent := h.Sent-h.Received, max(h.Sent, 1)
		if h.Dest {
			lost, sent = destLost, max(destSent, 1)
		} else if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if h.Loss-top.mean() >= opt.MinStep {
				z := zTwo(h.Loss, sent, top.mean(), top.sent)
				if z >= opt.RateLimitZ {
					h.RateLimited = true
					continue
				}
				if z >= opt.DoubtZ {
					h.Doubtful = true
					continue
				}
			}
		}
		b := lossBlock{lost: lost, sent: sent, members: []int{i}}
		for len(stack) > 0 && b.mean() >= stack[len(stack)-1].mean() {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			b = lossBlock{lost: b.lost + top.lost, sent: b.sent + top.sent, members: append(b.members, top.members...)}
		}
		stack = append(stack, b)
	}
	// a floor's probes are those of its block from the hop on: the
	// fit pools upstream hops into it, but only the hops past a hop
	// carry what persists past it
	member := make([]bool, len(hops))
	for _, b := range stack {
		for _, i := range b.members {
			hops[i].Floor, member[i] = b.mean(), true
			for _, m := range b.members {
				if m >= i {
					hops[i].floorN += max(hops[m].Sent, 1)
				}
			}
		}
	}
	floor, floorN := 1.0, 1
	if len(stack) > 0 {
		floor, floorN = stack[0].mean(), stack[0].sent
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if member[i] {
			floor, floorN = hops[i].Floor, hops[i].floorN
			continue
		}
		hops[i].Floor, hops[i].floorN = floor, floorN
	}
}

// destSure reports whether a path blaming the target itself has the hop
// before it clean beyond doubt (z ≥ Z+1).
func (vp *VantagePath) destSure(opt PathOptions) bool {
	j := -1
	for i, h := range vp.Hops {
		if h.Onset {
			j = i
		}
	}
	if j < 0 {
		return false
	}
	rise, riseN := vp.Hops[j].Floor, vp.Hops[j].floorN
	for i := j - 1; i >= 0; i-- {
		if h := vp.Hops[i]; h.reliable() {
			return rise-h.Floor >= opt.MinStep && zTwo(rise, riseN, h.Floor, h.floorN) >= opt.Z+1
		}
	}
	return true
}

// stepAt is the hop where the loss persisting to the target steps up:
// the most likely split of the reliable hops' answers (the destination's
// end-to-end probes last) into a clean-ish part and a lossy part, against
// the whole path lossy from the first hop on; each rate estimated costs
// half the log of the probes (BIC), so a step must earn its place. Every
// probe of every hop counts, so two hops that differ only by chance do
// not move the onset between them as a threshold on each would.
func stepAt(hops []PathHop) int {
	var idx []int
	for i := range hops {
		if hops[i].reliable() {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	cs, cl := make([]int, len(idx)+1), make([]int, len(idx)+1)
	for n, i := range idx {
		cs[n+1], cl[n+1] = cs[n]+max(hops[i].Sent, 1), cl[n]+max(hops[i].Sent-hops[i].Received, 0)
	}
	m := len(idx)
	pen := 0.5 * math.Log(float64(max(cs[m], 2)))
	best, bestLL := 0, binomLL(cl[m], cs[m])-pen
	for s := 1; s < m; s++ {
		l1, n1, l2, n2 := cl[s], cs[s], cl[m]-cl[s], cs[m]-cs[s]
		if l2*n1 <= l1*n2 {
			continue // not a step up
		}
		if ll := binomLL(l1, n1) + binomLL(l2, n2) - 2*pen; ll > bestLL {
			best, bestLL = s, ll
		}
	}
	return idx[best]
}

// reliable: the hop's own answers can end a blamed segment.
func (h *PathHop) reliable() bool {
	return (h.Received > 0 || h.Dest) && !h.RateLimited && !h.Doubtful
}

// onset finds where the loss of a path that is not good starts: the
// first answering hop whose floor carries most of the path's loss; the
// segment ends at the first hop from there whose own answers are
// reliable and starts after the last hop whose floor is confidently
// lower. An unreached path is blamed after its last answering hop.
func (vp *VantagePath) onset(w *window, opt PathOptions) {
	hops := vp.Hops
	k := -1
	if w.dist > 0 {
		if km := stepAt(hops); km >= 0 {
			// the segment takes in the hops left out of the fit before
			// the step (rate limiting, doubtful, silent)
			k = km
			for k > 0 && !hops[k-1].reliable() {
				k--
			}
		}
	} else {
		need := math.Max(opt.MinStep, 0.5*vp.Loss)
		for i, h := range hops {
			if (h.Received > 0 || h.Dest) && h.Floor >= need {
				k = i
				break
			}
		}
	}
	if k < 0 {
		if w.dist > 0 {
			return
		}
		k = len(hops) - 1
		for k > 0 && hops[k].Received == 0 {
			k--
		}
		if k < 0 {
			return
		}
	}
	j := k
	for j < len(hops) && !hops[j].reliable() {
		j++
	}
	if j >= len(hops) {
		j = len(hops) - 1
	}
	if hops[j].Dest {
		// passing a doubtful hop would blame the target itself: a hop
		// that is only doubtful ends the segment instead (one clearly
		// rate limiting does not)
		for i := j - 1; i >= k; i-- {
			if hops[i].Doubtful {
				j = i
				break
			}
		}
	}
	rise, riseN := hops[j].Floor, hops[j].floorN
	start := -1
	for i := k - 1; i >= 0; i-- {
		h := hops[i]
		if h.Received == 0 {
			continue
		}
		if rise-h.Floor >= opt.MinStep && zTwo(rise, riseN, h.Floor, h.floorN) >= opt.OnsetZ {
			start = i
			break
		}
	}
	from := ""
	if start >= 0 {
		from = hops[start].Addr
	}
	// sure: when the segment ends at the target, which would blame the
	// target itself, the hop before it must be confidently clean (a
	// segment from further back says less, and waits for more probes)
	vp.OnsetSure = true
	if hops[j].Dest {
		for i := k - 1; i >= 0; i-- {
			if h := hops[i]; h.reliable() {
				vp.OnsetSure = rise-h.Floor >= opt.MinStep && zTwo(rise, riseN, h.Floor, h.floorN) >= opt.Z
				break
			}
		}
	}
	hops[j].Onset = true
	vp.Rise = hops[k].Floor
	vp.Onset = placeOf(hops, j, from, w)
	if start >= 0 {
		vp.Onset.FromKeys = hopKeys(hops, start)
	}
	for i := start + 1; i <= j; i++ {
		vp.Onset.SegKeys = append(vp.Onset.SegKeys, hopKeys(hops, i)...)
	}
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
			if !h.ECMP {
				p.Keys = append(p.Keys, fmt.Sprintf("succ:%s@%d", hops[i].Addr, hops[i].TTL-h.TTL))
			}
			break
		}
	}
	if h.Dest {
		p.Keys = append(p.Keys, "dest")
	}
	if h.ECMP {
		p.Balanced = append(append([]string{h.Addr}, h.Others...), p.Balanced...)
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
	// the next hop names a router seen from elsewhere under another
	// address, but not a branch of a load balancer: its branches share
	// the next hop and are different routers
	for k := i + 1; k < len(hops) && !h.ECMP; k++ {
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
func crosses(good VantagePath, p *Place) bool { return crossing(good, p) >= 0 }

// crossing is the hop at which a good path crosses the place, -1 if none.
func crossing(good VantagePath, p *Place) int {
	for i := range good.Hops {
		if good.Hops[i].Dest {
			continue
		}
		if shares(p.Keys, hopKeys(good.Hops, i)) {
			return i
		}
	}
	return -1
}

// judgeWindow triangulates the paths of every vantage: the bad paths'
// onsets are grouped into places, good paths clear the places they
// cross, and what is left is blamed. The verdict is confident when every
// path had enough probes and is decided, and every onset is sure.
func judgeWindow(target string, vps []VantagePath, opt PathOptions) PathVerdict {
	v := PathVerdict{Target: target, Paths: vps}
	good, bad, waiting := v.splitPaths(vps)
	if v.Total == 0 {
		v.Kind = VerdictInsufficient
		return v
	}
	if len(bad) == 0 {
		v.Kind = VerdictNone
		v.Confident = waiting == 0
		return v
	}
	v.LossMin, v.LossMax = 1, 0
	for _, p := range bad {
		if !containsKey(v.Vantages, p.Vantage) {
			v.Vantages = append(v.Vantages, p.Vantage)
		}
		rise := p.Loss // persisting to the target: its end-to-end loss
		v.LossMin, v.LossMax = math.Min(v.LossMin, rise), math.Max(v.LossMax, rise)
	}
	if atDestination(bad) {
		for _, p := range bad {
			if !p.OnsetSure && p.Bad() {
				waiting++
			}
		}
		v.Kind = VerdictDestination
		v.Place = bad[0].Onset
		for _, p := range bad {
			if p.Undecided {
				waiting++
			}
		}
		if len(good) > 0 {
			// others reach the target cleanly: not the target itself, but
			// these vantages' way back from it (or to it); the hop before
			// must be clean beyond doubt to say so
			v.Kind, v.Exonerated = VerdictLocal, true
			if len(bad) > 1 {
				v.Kind = VerdictShared
			}
			for _, p := range bad {
				if !p.destSure(opt) {
					waiting++
				}
			}
		}
		v.Confident = waiting == 0
		return v
	}
	bad = returnViaBranch(bad, opt)
	groups := groupOnsets(bad)
	waiting += undecidedApart(bad, groups, opt)
	waiting += unsureApart(bad, groups)
	if adjacent(groups) {
		waiting++ // two places side by side on one path: one place seen twice, perhaps
	}
	if clearPlaces(groups, good, opt) {
		waiting++ // a good path crosses a place, not yet clearly better
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].members) > len(groups[j].members) })
	v.blame(groups, len(bad))
	v.Confident = waiting == 0
	return v
}

// parallel reports whether two key sets meet on next-hop keys only.
func parallel(a, b []string) bool {
	met := false
	for _, x := range a {
		for _, y := range b {
			if x == y {
				if !strings.HasPrefix(x, "succ:") {
					return false
				}
				met = true
			}
		}
	}
	return met
}

// distinct are the names without repeats.
func distinct(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !containsKey(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// adjacent reports whether a group's segment starts where another's
// ends: the hop between them is then the only thing telling them apart,
// and its estimate may be off by chance.
func adjacent(groups []*onsetGroup) bool {
	for _, a := range groups {
		for _, b := range groups {
			if a != b && shares(a.from, b.keys) {
				return true
			}
		}
	}
	return false
}

// undecidedApart counts the undecided paths whose verdict could still
// change the whole: all but those whose sure onset joins a place that two
// decided bad paths already share (they add a vantage to a shared
// verdict, nothing else).
func undecidedApart(bad []VantagePath, groups []*onsetGroup, opt PathOptions) int {
	n := 0
	for _, p := range bad {
		if !p.Undecided {
			continue
		}
		joined := false
		for _, g := range groups {
			if p.Onset == nil || !p.OnsetSure || !containsKey(g.members, p.Vantage) {
				continue
			}
			// two decided paths share the place; or one does, this one's
			// onset ends where it does, and the place's probes pooled
			// over its paths leave no doubt
			if g.decided >= 2 || (g.decided >= 1 && shares(p.Onset.Keys, g.place.Keys) && binomUpperZ(g.lost, g.n, opt.Tolerance) >= opt.Z+1) {
				joined = true
			}
		}
		if !joined {
			n++
		}
	}
	return n
}

// unsureApart counts the bad paths whose onset is not sure (their loss
// may start at the target itself), except those in a place that two
// decided bad paths with sure onsets share: their own onset only adds a
// vantage to that verdict, it does not change it.
func unsureApart(bad []VantagePath, groups []*onsetGroup) int {
	n := 0
	for _, p := range bad {
		if p.OnsetSure || !p.Bad() {
			continue
		}
		joined := false
		for _, g := range groups {
			if containsKey(g.members, p.Vantage) && g.sure >= 2 {
				joined = true
			}
		}
		if !joined {
			n++
		}
	}
	return n
}

// splitPaths splits the paths with enough probes into good and bad (the
// undecided with the bad, so that the verdict they tend to shows),
// counting them in Total and listing the hops that only rate-limit
// ICMP. waiting counts the paths with too few probes since they last
// changed: they keep the verdict from being confident.
func (v *PathVerdict) splitPaths(vps []VantagePath) (good, bad []VantagePath, waiting int) {
	rl, dbt := map[string]bool{}, map[string]bool{}
	var counted []string
	for _, p := range vps {
		for _, h := range p.Hops {
			if h.RateLimited && !rl[h.Addr] {
				rl[h.Addr] = true
				v.RateLimited = append(v.RateLimited, h.Addr)
			}
			if h.Doubtful && !dbt[h.Addr] {
				dbt[h.Addr] = true
				v.Doubtful = append(v.Doubtful, h.Addr)
			}
		}
		if !p.Enough {
			if p.Sent > 0 {
				waiting++
			}
			continue
		}
		if !containsKey(counted, p.Vantage) {
			counted = append(counted, p.Vantage) // its branches count once
			v.Total++
		}
		if v.Probes == 0 || p.Sent < v.Probes {
			v.Probes = p.Sent
		}
		if p.Good {
			good = append(good, p)
		} else {
			bad = append(bad, p)
		}
	}
	sort.Strings(v.RateLimited)
	sort.Strings(v.Doubtful)
	return good, bad, waiting
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

// returnViaBranch leaves out of the blame a bad path whose loss begins at
// the target alone (every hop clean) when it crosses a load balancer
// whose branch other bad paths blame: its forward probes took a clean
// branch, but the target's answers come back through the balancer too,
// hashed onto a branch of their own, and may cross the lossy one. Its
// loss says nothing against the branch; kept, it would make a second
// place and the vantages would seem to disagree. It still counts among
// the vantages that see the loss.
func returnViaBranch(bad []VantagePath, opt PathOptions) []VantagePath {
	if len(opt.ecmp) == 0 || atDestination(bad) {
		return bad
	}
	branchBlamed := false
	for _, p := range bad {
		if p.Onset != nil && !containsKey(p.Onset.Keys, "dest") && len(p.Onset.Balanced) > 0 {
			branchBlamed = true
		}
	}
	if !branchBlamed {
		return bad
	}
	kept := bad[:0:0]
	for _, p := range bad {
		if p.Onset != nil && containsKey(p.Onset.Keys, "dest") && crossesBranch(p, opt.ecmp) {
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return bad
	}
	return kept
}

// crossesBranch reports whether a path's hops answer from a branch of a
// load balancer.
func crossesBranch(p VantagePath, ecmp map[string]bool) bool {
	for _, h := range p.Hops {
		if h.Dest {
			continue
		}
		if ecmp[h.Addr] {
			return true
		}
		for _, o := range h.Others {
			if ecmp[o] {
				return true
			}
		}
	}
	return false
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
	decided  int      // members whose paths are decided bad
	sure     int      // of those, the ones whose onset is sure
	lost     int      // the members' end-to-end probes lost (of n)
	from     []string // the keys of the hops the members' segments start after
	onsets   []*Place // of the decided members
	parallel bool     // a good path crosses a hop beside it (same next hop)
	clearing []string
}

// groupOnsets groups the onsets of the bad paths into places: onsets
// whose segments share a key are one place.
func groupOnsets(bad []VantagePath) []*onsetGroup {
	var groups []*onsetGroup
	// decided paths first: an undecided path joins a place, it does not
	// name it (its onset may come from probes older than the fault)
	order := make([]VantagePath, 0, len(bad))
	for _, p := range bad {
		if !p.Undecided {
			order = append(order, p)
		}
	}
	for _, p := range bad {
		if p.Undecided {
			order = append(order, p)
		}
	}
	for _, p := range order {
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
		}
		g.add(&p)
	}
	for _, g := range groups {
		g.name()
	}
	return groups
}

// name picks the place of a group: of the decided members' onsets, the
// one whose last hop most members' segments hold (where the segments
// meet), the narrowest first; the other members' onsets at that same
// hop (another address toward another vantage) are its aliases.
func (g *onsetGroup) name() {
	if len(g.onsets) == 0 {
		return
	}
	best, bestN := 0, -1
	for i, o := range g.onsets {
		n := 0
		for _, x := range g.onsets {
			if shares(o.Keys, x.SegKeys) {
				n++
			}
		}
		if n > bestN || (n == bestN && len(o.SegKeys) < len(g.onsets[best].SegKeys)) {
			best, bestN = i, n
		}
	}
	p := *g.onsets[best]
	p.Aliases = nil
	for _, o := range g.onsets {
		// two branches of a load balancer are two places (the flows
		// tell them apart, or Balanced lists both), never one place's
		// two addresses
		branches := len(p.Balanced) > 0 && len(o.Balanced) > 0
		if o.To != p.To && !branches && !containsKey(p.Aliases, o.To) && !containsKey(o.Keys, "dest") && shares(p.Keys, o.Keys) {
			p.Aliases = append(p.Aliases, o.To)
		}
	}
	g.place = &p
}

// add counts bad path p in the group, and names the place by another
// address when p's onset is the same place seen from elsewhere.
func (g *onsetGroup) add(p *VantagePath) {
	g.seg = append(g.seg, p.Onset.SegKeys...)
	g.keys = append(g.keys, p.Onset.Keys...)
	g.from = append(g.from, p.Onset.FromKeys...)
	g.members = append(g.members, p.Vantage)
	if p.Bad() {
		g.decided++
		if p.OnsetSure {
			g.sure++
		}
	}
	g.loss = append(g.loss, p.Loss)
	g.n += p.Sent
	g.lost += int(math.Round(p.Loss * float64(p.Sent)))
	if !p.Undecided {
		g.onsets = append(g.onsets, p.Onset)
	}
	if p.SourceASN != 0 {
		g.asns[p.SourceASN] = true
	} else {
		g.unknown++
	}
}

// clearPlaces marks each place a good path crosses with confidently
// less loss than the bad paths through it (z ≥ OnsetZ), and reports
// whether a good path crosses one without being confidently better yet.
func clearPlaces(groups []*onsetGroup, good []VantagePath, opt PathOptions) (unsure bool) {
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
			// place: a path that merely missed the z-test does not. It
			// is judged on the probes since the bad paths changed (its
			// own stretch may be long and clean from before), by the loss
			// persisting past the place: every probe it sent through the
			// place counts, its answers there and beyond as well as its
			// end-to-end ones.
			if gp.aligned != nil {
				gp = *gp.aligned
			}
			i := crossing(gp, pl)
			if i < 0 {
				continue
			}
			loss, n := gp.Hops[i].Floor, gp.Hops[i].floorN
			better := gl-loss >= opt.MinStep && zTwo(gl, gn, loss, max(n, 1)) >= opt.OnsetZ
			if better && parallel(pl.Keys, hopKeys(gp.Hops, i)) && len(distinct(g.members)) >= 2 {
				// it crosses a hop with the same next hop only: another
				// address of the place, or a router beside it (a load
				// balancer whose branches the flows did not show); two
				// vantages seeing loss there make the second likelier
				g.parallel = true
				continue
			}
			switch {
			case better:
				g.cleared = true
				g.clearing = append(g.clearing, gp.Vantage)
			case g.sure >= 2 && zTwo(gl, gn, loss, max(n, 1)) < opt.GoodZ:
				// its loss past the place is no sign lower than the bad
				// paths': a path through the fault that passed by luck
				// so far, not one that clears the place
			default:
				unsure = true
			}
		}
	}
	return unsure
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
			v.Kind, v.Parallel = VerdictShared, g.parallel
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

// judgeTarget judges one target from each vantage's newest steady
// stretch of probes, without memory of earlier evaluations.
func judgeTarget(target string, hs []PathHistory, provider string, opt PathOptions) PathVerdict {
	vps := make([]VantagePath, 0, len(hs))
	starts := alignStarts(hs, opt)
	var latest time.Time // the newest change seen by any vantage
	opt.ecmp = map[string]bool{}
	for i, h := range hs {
		if starts[i] > 0 && h.Traces[starts[i]].At.After(latest) {
			latest = h.Traces[starts[i]].At
		}
		merge(h.Traces, starts[i], len(h.Traces), opt).ecmpAddrs(opt.ecmp)
	}
	for i, h := range hs {
		vp := analyse(h.Vantage, merge(h.Traces, starts[i], len(h.Traces), opt), opt)
		if !latest.IsZero() && len(h.Traces) > 0 && h.Traces[starts[i]].At.Before(latest) {
			vp = vp.alignTo(h.Vantage, h.Traces, latest, opt)
		}
		vps = append(vps, vp.byBranch(opt)...)
	}
	v := judgeWindow(target, vps, opt)
	for a := range opt.ecmp {
		v.Balanced = append(v.Balanced, a)
	}
	sort.Strings(v.Balanced)
	v.Provider = provider
	v.Persistent = v.Confident
	judgeLatency(&v, hs, opt)
	v.LatencyPersistent = v.LatencyConfident
	v.Text = verdictText(&v)
	return v
}

// byBranch splits a path whose flows parted at a load balancer into a
// path per branch when the flows tell the branches apart: each branch
// with enough end-to-end probes, their losses clearly different. Else
// the path stays whole (its hop there marked as load-balanced).
func (vp VantagePath) byBranch(opt PathOptions) []VantagePath {
	if vp.w == nil || len(vp.w.flows) < 2 {
		return []VantagePath{vp}
	}
	ttl, by := vp.w.branches()
	if ttl == 0 {
		return []VantagePath{vp}
	}
	addrs := make([]string, 0, len(by))
	for a := range by {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	// the branches are told apart by the loss persisting from the
	// balancer's hop on (each branch's answers there and past it, and
	// its end-to-end probes)
	var out []VantagePath
	lo, hi := 1.0, 0.0
	var nlo, nhi int
	for _, a := range addrs {
		bp := analyse(vp.Vantage, vp.w.branch(by[a]), opt)
		if bp.Sent < opt.MinSample/2 {
			return []VantagePath{vp}
		}
		bp.Enough = true
		bp.Branch, bp.BranchTTL = a, ttl
		loss, n := bp.Loss, bp.Sent
		for _, h := range bp.Hops {
			if h.TTL == ttl && h.floorN > 0 {
				loss, n = h.Floor, h.floorN
			}
		}
		if loss < lo {
			lo, nlo = loss, n
		}
		if loss > hi {
			hi, nhi = loss, n
		}
		out = append(out, bp)
	}
	if hi-lo < opt.MinStep || zTwo(hi, nhi, lo, nlo) < opt.OnsetZ {
		return []VantagePath{vp} // the flows do not tell the branches apart
	}
	return out
}

// alignStarts finds each vantage's newest steady stretch, and moves the
// start of a stretch that began with a change back to the earliest change
// of another vantage, by at most MinSample probes and not past its own
// change before: a fault shared by several paths starts at one time,
// and the probes of a path that passed by luck at first are the fault's
// probes too (each path's own estimate of the start comes late by its
// lucky run).
func alignStarts(hs []PathHistory, opt PathOptions) []int {
	starts, befores := make([]int, len(hs)), make([]int, len(hs))
	rose := make([]bool, len(hs))
	var earliest time.Time
	for i, h := range hs {
		starts[i], befores[i] = stretches(h.Traces, opt)
		if starts[i] == 0 {
			continue
		}
		s1, l1 := countProbes(h.Traces[befores[i]:starts[i]])
		s2, l2 := countProbes(h.Traces[starts[i]:])
		if rose[i] = l2*s1 > l1*s2; rose[i] {
			if at := h.Traces[starts[i]].At; earliest.IsZero() || at.Before(earliest) {
				earliest = at
			}
		}
	}
	for i, h := range hs {
		if !rose[i] {
			continue
		}
		moved := 0
		for j := starts[i] - 1; j > befores[i] && !h.Traces[j].At.Before(earliest); j-- {
			s, _ := probeCounts(&h.Traces[j])
			if moved += s; moved > opt.MinSample {
				break
			}
			starts[i] = j
		}
	}
	return starts
}

// samePlace reports whether two places are one seen with different
// precision: their segments share a hop, or both end at the target.
func samePlace(a, b *Place) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return shares(append(a.Keys, a.SegKeys...), append(b.Keys, b.SegKeys...)) ||
		(containsKey(a.Keys, "dest") && containsKey(b.Keys, "dest"))
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
		if v.Parallel {
			s += "; a hop beside it (the same next hop) is clean: perhaps the other branch of a load balancer"
		}
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
	if v.Provider != "" && v.Kind != VerdictNone && v.Kind != VerdictInsufficient {
		s += "; provider status " + v.Provider
	}
	return s
}

// latencyText tells a latency verdict in a sentence.
func latencyText(v *PathVerdict) string {
	rise := "raised"
	if v.LatencyRise > 0 {
		rise = "+" + v.LatencyRise.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("median RTT to %s %s from the %s, seen from %s, persisting to the target",
		v.Target, rise, v.LatencyPlace.Label(), strings.Join(v.LatencyVants, ", "))
}

// PathFindings turns the snapshot's path histories into findings: one per
// target whose verdict persisted.
func PathFindings(snap *Snapshot) []Finding { return FindingsFromVerdicts(PathVerdicts(snap)) }

// PathVerdicts judges every target of the snapshot's path histories.
// Provider status comes from events of Layer provider and from provider
// service node states.
func PathVerdicts(snap *Snapshot) []PathVerdict { return pathVerdicts(snap, PathOptions{}) }

func pathVerdicts(snap *Snapshot, opt PathOptions) []PathVerdict {
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
	return TriangulateWith(snap.Paths, prov, opt)
}

// FindingsFromVerdicts makes findings of persistent verdicts.
func FindingsFromVerdicts(vs []PathVerdict) []Finding {
	var out []Finding
	for _, v := range vs {
		if f, ok := latencyFinding(&v); ok {
			out = append(out, f)
		}
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
			node, key = v.Place.To, segmentKey(v.Place)
		}
		if v.Key != "" {
			key = v.Key // the key the verdict opened with, while it holds
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

// segmentKey names a place steadily: its smallest address, so another
// vantage's address naming it in the next evaluation keeps the ID.
func segmentKey(p *Place) string {
	if p == nil {
		return ""
	}
	key := p.To
	for _, a := range p.Aliases {
		if a < key {
			key = a
		}
	}
	return key
}

// latencyFinding is the finding of a persistent latency verdict.
func latencyFinding(v *PathVerdict) (Finding, bool) {
	if !v.LatencyPersistent || (v.LatencyKind != VerdictShared && v.LatencyKind != VerdictLocal) || v.LatencyPlace == nil {
		return Finding{}, false
	}
	key := v.LatencyKey
	if key == "" {
		key = segmentKey(v.LatencyPlace)
	}
	f := Finding{
		ID:       "path/" + v.Target + "/latency/" + key,
		Rule:     "path",
		Severity: sources.SevWarning,
		Title:    latencyText(v),
		Explanation: "The median round-trip time of the newest rounds against the rounds before them, hop by hop; " +
			"the rise counts from the first hop where it persists to the target (a queue delays every probe that crosses it). " +
			"With no rounds from before to compare with (a queue older than the probes), the rise across a segment counts when the jitter " +
			"persisting from it to the target is far above the jitter before it: a queue delays by what it holds, a long link by the same for every probe.",
		Layer:   sources.LayerNetwork,
		Node:    v.LatencyPlace.To,
		Segment: key,
	}
	for _, p := range v.Paths {
		kind, txt := EvContext, fmt.Sprintf("%s → %s: no lasting rise of the median RTT", p.Vantage, v.Target)
		if p.LatencyOnset != nil {
			kind = EvSuspect
			txt = fmt.Sprintf("%s → %s: median RTT +%s from the %s", p.Vantage, v.Target, p.LatencyRise.Round(time.Millisecond), p.LatencyOnset.Label())
			if p.LatencyJitter > 0 {
				txt += fmt.Sprintf(", jitter %s from there on, %s before it (a queue, not distance)", roundJitter(p.LatencyJitter), roundJitter(p.LatencyJitterBefore))
			}
		}
		f.Evidence = append(f.Evidence, Evidence{Kind: kind, Layer: sources.LayerNetwork, Node: v.Target, Value: p.LatencyRise.Seconds(), Baseline: math.NaN(), Text: txt})
	}
	return f, true
}

// roundJitter rounds a jitter for people: to 0.1 ms, to 0.01 ms below 1 ms.
func roundJitter(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

func explain(v *PathVerdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Verdict on the newest stretch of steady loss of each vantage point (at least %d end-to-end probes each); ", v.Probes)
	b.WriteString("loss counts only where it persists to the target (floor rule), the target's loss from ICMP echo or TCP probes.")
	if len(v.RateLimited) > 0 {
		fmt.Fprintf(&b, "\nICMP rate limiting (not loss, never blamed): %s.", strings.Join(v.RateLimited, ", "))
	}
	if v.Kind == VerdictLocal && v.Exonerated {
		b.WriteString("\nA good path from another vantage point crosses the same place, so the forward path there is fine: the return path to this vantage point is the suspect.")
	}
	return b.String()
}
