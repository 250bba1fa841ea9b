// Package demo is opsview's built-in scenario: the field story "the melting
// volume" on a compressed clock. A database master's volume goes bad,
// iowait on db-1 climbs, and 5xx rise across the app pool behind the load
// balancer, then it recovers, and the cycle starts again. It feeds the same
// scheduler, store and UI as real sources, emitting the data model
// directly. It must stay deterministic: the same clock gives the same data.
package demo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// Scenario timings, in scenario (compressed) time from the start of a cycle.
const (
	Cycle        = 90 * time.Minute // one whole story; longer than the engine's baseline and window, so the last incident is not in the baseline
	Onset        = 12 * time.Minute // iowait on db-1 starts to climb
	ErrorsLag    = 40 * time.Second // 5xx follow iowait by this much
	Peak         = 15 * time.Minute // the volume is fully degraded
	Recovery     = 22 * time.Minute // the volume is replaced; things calm down
	DefaultSpeed = 5                // scenario seconds per real second
)

// Clock maps real time to scenario time: Start is the scenario time at
// real time Origin; it runs Speed times faster.
type Clock struct {
	Origin time.Time
	Start  time.Time
	Speed  float64
}

// Now converts a real time to scenario time.
func (c Clock) Now(real time.Time) time.Time {
	return c.Start.Add(time.Duration(float64(real.Sub(c.Origin)) * c.Speed))
}

// NewClock starts the scenario 90 s into the incident, so a newcomer's
// first frame already has findings (the onset is in the hour of history
// behind it) and the peak and the recovery follow within two minutes.
func NewClock(real time.Time, speed float64) Clock {
	if speed <= 0 {
		speed = DefaultSpeed
	}
	// start at a cycle boundary so the story begins where it should
	start := cycleStart(real).Add(Onset + 90*time.Second)
	return Clock{Origin: real, Start: start, Speed: speed}
}

// phase returns the position in the cycle of scenario time t.
func phase(t time.Time) time.Duration {
	p := time.Duration(t.UnixNano() % int64(Cycle))
	if p < 0 {
		p += Cycle
	}
	return p
}

// ramp is 0 before a, 1 after b, smooth between.
func ramp(x, a, b time.Duration) float64 {
	if x <= a {
		return 0
	}
	if x >= b {
		return 1
	}
	f := float64(x-a) / float64(b-a)
	return f * f * (3 - 2*f)
}

// severity of the incident at scenario time t: 0 calm … 1 worst.
func incident(t time.Time, lag time.Duration) float64 {
	p := phase(t) - lag
	up := ramp(p, Onset, Peak)
	down := 1 - ramp(p, Recovery, Recovery+3*time.Minute)
	return up * down
}

// noise is deterministic in (name, t): the same instant always gives the
// same value, so replays and tests are stable.
// It is FNV-1a of "name/unix-seconds", hashed in place: the demo draws
// every value of its backfilled hour through it at start.
func noise(name string, t time.Time) float64 { return noiseOf(name).at(t) }

// noiseKey is the FNV-1a state after "name/": a series hashes its names
// once, not at every value of its backfilled hour.
type noiseKey uint64

const fnvPrime = 1099511628211

func noiseOf(name string) noiseKey {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * fnvPrime
	}
	return noiseKey((h ^ '/') * fnvPrime)
}

// at is noise(name, t) for the key's name.
func (k noiseKey) at(t time.Time) float64 {
	h := uint64(k)
	if u := t.Unix(); u >= 1e9 && u < 1e10 {
		// ten digits (2001 to 2286): each one found on its own, with
		// no formatting, as the hash takes them one after the other
		for _, d := range [10]int64{u / 1e9, u / 1e8 % 10, u / 1e7 % 10, u / 1e6 % 10, u / 1e5 % 10,
			u / 1e4 % 10, u / 1e3 % 10, u / 100 % 10, u / 10 % 10, u % 10} {
			h = (h ^ uint64('0'+d)) * fnvPrime
		}
	} else {
		var buf [24]byte
		for _, c := range strconv.AppendInt(buf[:0], u, 10) {
			h = (h ^ uint64(c)) * fnvPrime
		}
	}
	return float64(h%10000)/10000*2 - 1 // -1..1
}

// seasonal is a slow daily-ish wave, so baselines have something to learn.
func seasonal(t time.Time, period time.Duration) float64 {
	return math.Sin(2 * math.Pi * float64(t.UnixNano()%int64(period)) / float64(period))
}

// metric describes one demo series.
type metric struct {
	source string
	series sources.Series
	value  func(t time.Time) float64
}

var appServers = []string{"app-1", "app-2", "app-3", "app-4"}

// Dependencies is the demo's topology: the site calls the app tier, which
// calls both databases.
func Dependencies() []sources.Dependency {
	return []sources.Dependency{{From: "www", To: "app"}, {From: "app", To: "db-1"}, {From: "app", To: "db-2"}}
}

func metrics() []metric {
	var ms []metric
	add := func(src, name string, labels map[string]string, unit string, role sources.Role, layer sources.Layer, node string, f func(time.Time) float64) {
		// the demo knows its series: rates per second, shares in %, the
		// rest levels; a check's success hurts going down, traffic either
		// way, everything else going up
		kind, harm := sources.SeriesGauge, sources.HarmUp
		switch unit {
		case "req/s":
			kind = sources.SeriesRate
		case "%":
			kind = sources.SeriesRatio
		}
		switch {
		case name == "probe_success":
			harm = sources.HarmDown
		case role == sources.RoleTraffic:
			harm = sources.HarmBoth
		}
		ms = append(ms, metric{source: src, series: sources.Series{Name: name, Labels: labels, Unit: unit, Role: role, Layer: layer, Node: node,
			Kind: kind, Harm: harm}, value: f})
	}
	// the load balancer: 5xx per server and backend, sessions, queue
	for i, s := range appServers {
		s, i := s, i
		n5xx, n5xxi, nscur := noiseOf("5xx"+s), noiseOf("5xxi"+s), noiseOf("scur"+s)
		add("lb-1", "hrsp_5xx", map[string]string{"backend": "app", "server": s}, "req/s", sources.RoleSymptom, sources.LayerLB, s, func(t time.Time) float64 {
			v := 0.05 + 0.05*n5xx.at(t)
			return math.Max(0, v+incident(t, ErrorsLag)*(9+float64(i)+2*n5xxi.at(t)))
		})
		add("lb-1", "scur", map[string]string{"backend": "app", "server": s}, "", sources.RoleTraffic, sources.LayerLB, s, func(t time.Time) float64 {
			return math.Round(math.Max(0, 22+6*seasonal(t, 20*time.Minute)+3*nscur.at(t)+incident(t, ErrorsLag)*35))
		})
	}
	add("lb-1", "hrsp_5xx", map[string]string{"backend": "app"}, "req/s", sources.RoleSymptom, sources.LayerLB, "app", func(t time.Time) float64 {
		v := 0.2 + 0.1*noise("5xxb", t)
		return math.Max(0, v+incident(t, ErrorsLag)*(46+4*noise("5xxbi", t)))
	})
	add("lb-1", "req_rate", map[string]string{"frontend": "www"}, "req/s", sources.RoleTraffic, sources.LayerEdge, "www", func(t time.Time) float64 {
		return math.Max(0, 420+60*seasonal(t, 20*time.Minute)+15*noise("req", t)-incident(t, ErrorsLag)*90)
	})
	add("lb-1", "qcur", map[string]string{"backend": "app"}, "", sources.RoleSymptom, sources.LayerLB, "app", func(t time.Time) float64 {
		return math.Max(0, math.Round(incident(t, ErrorsLag/2)*28+noise("q", t)*1.5))
	})
	// the external check: a synthetic probe of the shop's front page
	add("checks", "probe_success", map[string]string{"check": "https://shop.example.com/"}, "%", sources.RoleSymptom, sources.LayerEdge, "www", func(t time.Time) float64 {
		if incident(t, ErrorsLag) > 0.55 && noise("probe", t) > -0.2 {
			return 0
		}
		return 100
	})
	add("checks", "probe_duration", map[string]string{"check": "https://shop.example.com/"}, "ms", sources.RoleSymptom, sources.LayerEdge, "www", func(t time.Time) float64 {
		return math.Max(40, 180+25*noise("pd", t)+incident(t, ErrorsLag)*2400)
	})
	// graphite: the hosts
	for _, h := range []string{"db-1", "db-2"} {
		h := h
		niow := noiseOf("iow" + h)
		add("graphite", "servers."+h+".cpu.iowait", nil, "%", sources.RoleResource, sources.LayerDB, h, func(t time.Time) float64 {
			v := 3 + 1.5*niow.at(t) + 0.5*seasonal(t, 30*time.Minute)
			if h == "db-1" {
				v += incident(t, 0) * 93
			}
			return math.Min(100, math.Max(0, v))
		})
	}
	for _, h := range appServers {
		h := h
		ncpu := noiseOf("cpu" + h)
		add("graphite", "servers."+h+".cpu.user", nil, "%", sources.RoleResource, sources.LayerApp, h, func(t time.Time) float64 {
			return math.Max(0, 35+10*seasonal(t, 20*time.Minute)+4*ncpu.at(t)-incident(t, ErrorsLag)*12)
		})
	}
	add("graphite", "mysql.db-1.queries_per_second", nil, "req/s", sources.RoleTraffic, sources.LayerDB, "db-1", func(t time.Time) float64 {
		return math.Max(0, 2400+300*seasonal(t, 20*time.Minute)+60*noise("qps", t)-incident(t, 0)*1900)
	})
	add("graphite", "mysql.db-2.replication_lag", nil, "s", sources.RoleResource, sources.LayerDB, "db-2", func(t time.Time) float64 {
		return math.Max(0, 0.3+0.2*noise("lag", t))
	})
	// prometheus: the job queue of the app tier and mail sent
	add("prometheus", "jobs_queue_length", map[string]string{"queue": "orders"}, "", sources.RoleResource, sources.LayerApp, "app", func(t time.Time) float64 {
		return math.Max(0, math.Round(40+10*noise("queue", t)+incident(t, ErrorsLag/2)*900))
	})
	add("prometheus", "mail_sent_rate", map[string]string{"job": "mailer"}, "req/s", sources.RoleTraffic, sources.LayerApp, "mailer", func(t time.Time) float64 {
		return math.Max(0, 12+3*seasonal(t, 15*time.Minute)+noise("mail", t))
	})
	return ms
}

// Names of the demo's sources, in the order the header shows them.
var Names = []string{"lb-1", "graphite", "prometheus", "checks", "aws-status", "paths"}

// World is the shared scenario behind the demo's sources.
type World struct {
	Clock   Clock
	Step    time.Duration
	metrics []metric
	now     func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // newest scenario bucket emitted per source
}

// NewWorld makes the scenario. now is the real clock (time.Now in use, a
// fixed clock in tests).
func NewWorld(clock Clock, step time.Duration, now func() time.Time) *World {
	if step <= 0 {
		step = 5 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &World{Clock: clock, Step: step, metrics: metrics(), now: now, last: map[string]time.Time{}}
}

// Entries returns the demo's sources for the scheduler.
func (w *World) Entries() []sources.Entry {
	var out []sources.Entry
	for _, name := range Names {
		out = append(out, sources.Entry{Name: name, Type: "demo", Source: &source{w: w, name: name}, Interval: time.Second, Timeout: 2 * time.Second})
	}
	return out
}

type source struct {
	w    *World
	name string
}

func (s *source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	return s.w.Batch(s.name, req.Backfill, req.Until.Sub(req.From)), nil
}

// Batch is what source name reports at the present real time. On a
// backfill it returns history covering window (in real time, scaled to
// scenario time) so graphs are full from the first frame.
func (w *World) Batch(name string, backfill bool, window time.Duration) *sources.Batch {
	now := w.Clock.Now(w.now()).Truncate(w.Step)
	w.mu.Lock()
	from, seen := w.last[name]
	if backfill || !seen {
		if window <= 0 {
			window = time.Hour
		}
		from = now.Add(-window)
	} else {
		from = from.Add(w.Step)
	}
	w.last[name] = now
	w.mu.Unlock()
	b := &sources.Batch{At: now}
	for _, m := range w.metrics {
		if m.source != name {
			continue
		}
		s := m.series
		if !from.After(now) {
			s.Points = make([]sources.Point, 0, int(now.Sub(from)/w.Step)+1)
		}
		for t := from; !t.After(now); t = t.Add(w.Step) {
			s.Points = append(s.Points, sources.Point{T: t, V: m.value(t)})
		}
		if len(s.Points) > 0 {
			b.Series = append(b.Series, s)
		}
	}
	switch name {
	case "lb-1":
		b.Nodes = w.lbNodes(now)
		b.Events = w.lbEvents(now)
		b.Status.Detail = "1 instance"
	case "checks":
		b.Events = w.checkEvents(now)
	case "aws-status":
		b.Nodes = []sources.NodeState{
			{Kind: "service", ID: "ec2/us-east-1", Name: "EC2 us-east-1", Layer: sources.LayerProvider, State: "operational", Severity: sources.SevOK, Since: now.Add(-72 * time.Hour)},
			{Kind: "service", ID: "ebs/us-east-1", Name: "EBS us-east-1", Layer: sources.LayerProvider, State: "operational", Severity: sources.SevOK, Since: now.Add(-72 * time.Hour)},
		}
		b.Status.Detail = "2 services green"
	case "graphite":
		b.Status.Detail = "8 targets"
	case "paths":
		b.Paths = w.paths(now)
		b.Status.Detail = "3 vantages, 1 target"
	}
	return b
}

// app-3 fails its health checks while the incident is at its worst.
func app3Down(t time.Time) bool { return incident(t, ErrorsLag) > 0.8 }

func cycleStart(t time.Time) time.Time { return t.Add(-phase(t)) }

// firstTime finds when pred first holds within the cycle of t, up to t.
func firstTime(t time.Time, step time.Duration, pred func(time.Time) bool) (time.Time, bool) {
	for x := cycleStart(t); !x.After(t); x = x.Add(step) {
		if pred(x) {
			return x, true
		}
	}
	return time.Time{}, false
}

// value finds the demo metric name{labels} at t.
func (w *World) value(name string, labels map[string]string, t time.Time) float64 {
	id := sources.SeriesID(name, labels)
	for _, m := range w.metrics {
		if m.series.ID() == id {
			return m.value(t)
		}
	}
	return math.NaN()
}

// lbNodes are what the HAProxy source reports for the demo's backend: the
// same kinds, IDs, classes and figures, so the Load balancers view and the
// check report read them alike.
func (w *World) lbNodes(now time.Time) []sources.NodeState {
	var nodes []sources.NodeState
	up := 0
	var scurSum float64
	reqs := w.value("req_rate", map[string]string{"frontend": "www"}, now)
	serving := len(appServers) // the requests go to the servers UP
	if app3Down(now) {
		serving--
	}
	for _, s := range appServers {
		lb := sources.NewLBNode("app")
		lb.Mode, lb.SessionLimit, lb.Weight = sources.LBModeHTTP, 100, 1
		lb.Sessions = w.value("scur", map[string]string{"backend": "app", "server": s}, now)
		lb.Rates.Resp5xx = w.value("hrsp_5xx", map[string]string{"backend": "app", "server": s}, now)
		lb.Rates.Requests = reqs / float64(serving)
		lb.Check = sources.LBCheck{Status: "L7OK", Last: "HTTP status check returned code <200>", Duration: 2 + 3*incident(now, ErrorsLag)}
		n := sources.NodeState{Kind: sources.NodeServer, ID: "lb-1/app/" + s, Name: s, Parent: "lb-1/app", Instance: "lb-1", Layer: sources.LayerLB,
			State: "UP", Class: sources.ClassUp, Severity: sources.SevOK, Since: cycleStart(now), LB: lb}
		if s == "app-3" && app3Down(now) {
			// a DOWN server takes no traffic: HAProxy counts no session,
			// request or answer for it, as the source then reports
			lb.Sessions, lb.Rates.Requests, lb.Rates.Resp5xx = 0, 0, 0
			n.State, n.Class, n.Severity = "DOWN", sources.ClassDown, sources.SevWarning
			lb.Check.Status, lb.Check.Failed, lb.Check.Last = "L7STS", true, "HTTP status check returned code <500>"
			if at, ok := firstTime(now, w.Step, app3Down); ok {
				n.Since = at
			}
		} else {
			up++
		}
		scurSum += lb.Sessions
		nodes = append(nodes, n)
	}
	lb := sources.NewLBNode("app")
	lb.Mode, lb.Up, lb.Total, lb.Down = sources.LBModeHTTP, up, len(appServers), len(appServers)-up
	lb.Sessions, lb.SessionLimit = scurSum, float64(100*len(appServers))
	lb.Queue = w.value("qcur", map[string]string{"backend": "app"}, now)
	lb.Rates.Resp5xx = w.value("hrsp_5xx", map[string]string{"backend": "app"}, now)
	lb.Rates.Requests = reqs
	// as the HAProxy source judges a backend: warning with a server DOWN
	sev := sources.SevOK
	if up < len(appServers) {
		sev = sources.SevWarning
	}
	return append([]sources.NodeState{{
		Kind: sources.NodeBackend, ID: "lb-1/app", Name: "app", Instance: "lb-1", Layer: sources.LayerLB,
		State: "UP", Class: sources.ClassUp, Severity: sev, Since: cycleStart(now), LB: lb,
		Attrs: map[string]string{"check": fmt.Sprintf("app (Active: %d/%d) sessions %.0f/%d", up, len(appServers), scurSum, 100*len(appServers))},
	}}, nodes...)
}

func (w *World) lbEvents(now time.Time) []sources.Event {
	return w.spanEvent(now, app3Down, sources.Event{
		ID: "app/app-3/down", Kind: sources.EventState, Severity: sources.SevWarning, Layer: sources.LayerLB, Node: "app-3",
		Title: "app/app-3 is DOWN (L7STS)", Text: "Layer7 wrong status: HTTP status check returned code <500>",
	})
}

func (w *World) checkEvents(now time.Time) []sources.Event {
	failing := func(t time.Time) bool { return incident(t, ErrorsLag) > 0.55 }
	return w.spanEvent(now, failing, sources.Event{
		ID: "shop", Kind: sources.EventAlert, Severity: sources.SevCritical, Layer: sources.LayerEdge, Node: "www",
		Title: "check https://shop.example.com/ failing", Text: "HTTP 502 Bad Gateway from 3 of 4 locations",
	})
}

// spanEvent is ev over the span of this cycle in which cond holds: it
// starts when cond first held and ends when it stopped (open while it
// holds). The ID gets the start, so each cycle's event is its own.
func (w *World) spanEvent(now time.Time, cond func(time.Time) bool, ev sources.Event) []sources.Event {
	at, ok := firstTime(now, w.Step, cond)
	if !ok {
		return nil
	}
	ev.ID, ev.Start = fmt.Sprintf("%s/%d", ev.ID, at.Unix()), at
	if !cond(now) {
		if back, ok := firstTime(now, w.Step, func(t time.Time) bool { return t.After(at) && !cond(t) }); ok {
			ev.End = back
		}
	}
	return []sources.Event{ev}
}

// paths: the network is not to blame in this story: three vantage points
// see a clean path to the shop, through their access routers, a shared
// carrier and the provider's edge.
func (w *World) paths(now time.Time) []sources.PathTrace {
	vantages := []string{"bastion-1", "bastion-2", "agent-dc2"}
	var out []sources.PathTrace
	for v, name := range vantages {
		hop := func(ttl int, addr, rname string, asn int, asName string, base float64) sources.Hop {
			rtt := time.Duration((base + 0.3*noise(fmt.Sprint(name, addr), now)) * float64(time.Millisecond))
			return sources.Hop{TTL: ttl, Addr: addr, Name: rname, ASN: asn, ASName: asName, Sent: 10, Received: 10,
				Last: rtt, Min: rtt, Median: rtt, Avg: rtt, Max: rtt}
		}
		access := fmt.Sprintf("10.1.%d.1", v+1)
		hops := []sources.Hop{
			hop(1, access, fmt.Sprintf("gw%d.office.example", v+1), 65101, "office", 0.8+float64(v)),
			hop(2, "198.51.100.1", "ae-1.r1.carrier.example", 64500, "carrier", 8+float64(v)),
			hop(3, "203.0.113.1", "edge-1.provider.example", 16509, "provider", 19+float64(v)),
			hop(4, "203.0.113.10", "shop.example.com", 16509, "provider", 20+float64(v)),
		}
		e2e := hops[3]
		out = append(out, sources.PathTrace{Vantage: name, Target: "shop.example.com", Addr: "203.0.113.10", At: now,
			Rounds: 10, Hops: hops, Reached: true, EndToEnd: e2e}) // ten rounds a second, as exec vantages probe
	}
	return out
}
