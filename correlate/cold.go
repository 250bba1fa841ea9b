package correlate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// Cold start: the ranking compares a symptom with its own past, which a
// load balancer's counters do not have in a check's two polls or the
// first minutes of a live run. A share of 5xx answers needs no past to be
// news: a frontend or backend answering more than ColdErrorShare of its
// requests with 5xx, over at least ColdMinRequests a second, is a
// finding now, and what stands away from its own baseline at this moment
// (from the sources that keep history) is what likely explains it.

// ColdErrorShare is the share of 5xx answers that is news without a
// baseline; ColdCriticalShare makes it critical.
const (
	ColdErrorShare    = 0.05
	ColdCriticalShare = 0.20
	ColdMinRequests   = 1.0 // requests a second, so two requests are not a rate
)

// maxColdSuspects bounds the suspects of a cold finding.
const maxColdSuspects = 3

// coldFindings are the load balancer proxies answering a large share of
// 5xx whose symptom series have no baseline yet.
func coldFindings(snap *Snapshot, r *Ranker) []Finding {
	w := LiveWindow(snap, r.Opt)
	if w.To-w.From < 1 {
		return nil
	}
	var out []Finding
	var suspects []coldSuspect
	ranked := false
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		share, ok := errorShare(n)
		if !ok || share < ColdErrorShare || warmSymptom(snap, r, n, w) {
			continue
		}
		if long, ok := longRunShare(n); ok && share < long+ColdErrorShare {
			// it has answered this share of 5xx all along: no news
			continue
		}
		if !ranked {
			suspects, ranked = awayNow(snap, r, w), true
		}
		sus, checked, scoped := orderFor(snap, n, suspects)
		out = append(out, coldFinding(snap, n, share, sus, checked, scoped))
	}
	return out
}

// errorShare is the share of a frontend's or backend's requests answered
// with 5xx since the source's previous poll.
func errorShare(n *sources.NodeState) (float64, bool) {
	if n.LB == nil || (n.Kind != sources.NodeFrontend && n.Kind != sources.NodeBackend) || n.LB.Mode == sources.LBModeTCP {
		return 0, false
	}
	req, bad := n.LB.Rates.Requests, n.LB.Rates.Resp5xx
	if math.IsNaN(req) || math.IsNaN(bad) || req < ColdMinRequests {
		return 0, false
	}
	return math.Min(bad/req, 1), true
}

// longRunMinRequests is the fewest requests the long run must hold for
// its share of 5xx to be a baseline.
const longRunMinRequests = 100

// longRunShare is the share of 5xx a frontend or backend answered from
// the load balancer's start to the first poll (LBNode.LongRun).
func longRunShare(n *sources.NodeState) (float64, bool) {
	lr := &n.LB.LongRun
	if math.IsNaN(lr.Requests) || math.IsNaN(lr.Resp5xx) || lr.Requests*n.LB.LongRunSecs < longRunMinRequests {
		return 0, false
	}
	return math.Min(lr.Resp5xx/lr.Requests, 1), true
}

// warmSymptom reports whether a symptom series of the node has a baseline:
// then the ranking judges it, with leads, and the cold rule stays out.
func warmSymptom(snap *Snapshot, r *Ranker, n *sources.NodeState, w Window) bool {
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleSymptom || s.Source != n.Source || s.Node != n.Name {
			continue
		}
		if b := r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, nil); b.Valid(r.Opt.MinPoints) {
			return true
		}
	}
	return false
}

// coldSuspect is an internal series away from its baseline now.
type coldSuspect struct {
	s    *SnapSeries
	a    Anomaly
	b    Baseline
	away bool // moved, and still away from its baseline
}

// awayNow are the resources with a baseline, each with its move over the
// window and whether it moved, in its harmful direction, and is still
// away from its baseline at the end of the window.
func awayNow(snap *Snapshot, r *Ranker, w Window) []coldSuspect {
	o := r.Opt
	var out []coldSuspect
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleResource {
			continue
		}
		b := r.Cache.Get(snap, s, w.BaseFrom, w.BaseTo, nil)
		if !b.Valid(o.MinPoints) {
			continue
		}
		a := ScoreWindow(s.Values, w.From, w.To, &b, HarmfulDirection(&s.SeriesMeta), o.Score, nil)
		out = append(out, coldSuspect{s, a, b, a.Sustained >= o.SymptomZ && a.Last >= o.SymptomZ})
	}
	return out
}

// orderFor orders the suspects for one node: those the node depends on
// (when the config says; only they explain it then), then deeper layers,
// then the larger move. It also says, layer by layer, how many resources
// it looked at (those the node depends on, when the config says) and the
// largest harmful z among them now; scoped when the config says what the
// node depends on.
func orderFor(snap *Snapshot, n *sources.NodeState, all []coldSuspect) (sus []coldSuspect, checked []LayerCheck, scoped bool) {
	var reach map[string]bool // nil when the config says nothing of the node
	if g := newDepGraph(snap.Deps); len(g.out[n.Name]) > 0 {
		reach = g.reach(n.Name)
	}
	var out []coldSuspect
	var layers []LayerCheck
	for i := range all {
		c := &all[i]
		if reach != nil && !reach[c.s.Node] {
			continue
		}
		lc := layerCheck(&layers, c.s.Layer)
		lc.Series++
		if c.a.Last == c.a.Last && c.a.Last > lc.MaxZ {
			lc.MaxZ = c.a.Last
		}
		if c.away {
			lc.Moved++
			out = append(out, *c)
		}
	}
	sort.Slice(layers, func(i, j int) bool { return layers[i].Layer.Depth() < layers[j].Layer.Depth() })
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if da, db := a.s.Layer.Depth(), b.s.Layer.Depth(); da != db && reach == nil {
			return da > db
		}
		if a.a.Last != b.a.Last {
			return a.a.Last > b.a.Last
		}
		return a.s.Key < b.s.Key
	})
	return out[:min(len(out), maxColdSuspects)], layers, reach != nil
}

// layerCheck is l's entry in layers, added on first use.
func layerCheck(layers *[]LayerCheck, l sources.Layer) *LayerCheck {
	for i := range *layers {
		if (*layers)[i].Layer == l {
			return &(*layers)[i]
		}
	}
	*layers = append(*layers, LayerCheck{Layer: l})
	return &(*layers)[len(*layers)-1]
}

func coldFinding(snap *Snapshot, n *sources.NodeState, share float64, sus []coldSuspect, checked []LayerCheck, scoped bool) Finding {
	sev := sources.SevWarning
	if share >= ColdCriticalShare {
		sev = sources.SevCritical
	}
	// the title holds still while the share moves poll to poll: it says
	// the threshold passed; the share itself is in the explanation
	bound := ColdErrorShare
	if sev == sources.SevCritical {
		bound = ColdCriticalShare
	}
	what := fmt.Sprintf("%s %s answers 5xx to over %.0f %% of requests", n.Kind, n.Name, 100*bound)
	f := Finding{ID: "cold/" + n.Source + "/" + n.ID, Rule: "cold-errors", Severity: sev, Layer: n.Layer, Node: n.Name}
	text := []string{fmt.Sprintf("%.0f %% of its requests (%.1f of %.1f a second) were answered 5xx since the previous poll; there is no history of its own yet to say what moved first.",
		100*share, n.LB.Rates.Resp5xx, n.LB.Rates.Requests)}
	if long, ok := longRunShare(n); ok {
		text = append(text, fmt.Sprintf("In the %s from the load balancer's start to the first poll, %s of its requests were 5xx (%.1f requests a second).",
			FormatDuration(time.Duration(n.LB.LongRunSecs)*time.Second), FormatValue(100*long, "%"), n.LB.LongRun.Requests))
	}
	if len(sus) == 0 {
		// errors with nothing inside away from its baseline: internal
		// monitoring has a blind spot there, as the ranking's gap says
		f.Rule = "gap"
		f.Title = "monitoring gap: " + what + " and no internal series is away from its baseline"
		var parts []string
		for _, lc := range checked {
			parts = append(parts, fmt.Sprintf("%s: %d series, max z %.1f now", layerName(lc.Layer), lc.Series, lc.MaxZ))
		}
		of := "internal"
		if scoped {
			of = "that it depends on"
		}
		if len(parts) == 0 {
			text = append(text, "No series "+of+" has a history yet to compare with.")
		} else {
			text = append(text, "Nothing "+of+" with a history stands away from its baseline now. Checked "+strings.Join(parts, "; ")+".")
		}
	} else {
		top := sus[0]
		f.Title = what + ": likely " + Label(&top.s.SeriesMeta)
		var names []string
		for _, c := range sus {
			last, _ := c.s.Last()
			names = append(names, fmt.Sprintf("%s at %s (baseline %s)", Label(&c.s.SeriesMeta), FormatValue(last, c.s.Unit), FormatValue(c.b.Level, c.s.Unit)))
			f.Evidence = append(f.Evidence, Evidence{Kind: EvSuspect, SeriesKey: c.s.Key, Label: Label(&c.s.SeriesMeta), Layer: c.s.Layer, Node: c.s.Node,
				From: snap.Time(0), Until: snap.Now, Score: c.a.Last, Baseline: c.b.Level, Spread: c.b.Spread, Value: last,
				Text: fmt.Sprintf("%s is away from its baseline now (z %.1f)", Label(&c.s.SeriesMeta), c.a.Last)})
		}
		text = append(text, "Away from their baselines now: "+strings.Join(names, "; ")+".")
	}
	f.Explanation = strings.Join(text, " ")
	return f
}
