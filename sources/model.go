// Package sources holds opsview's one data model (series, events, path
// traces, node states, source status), the Source contract every kind of
// source implements, and the scheduler that drives them. It must not know
// any protocol: those live in the sub-packages, one per kind of source.
package sources

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Role says what a series means to the person in the incident.
type Role int

const (
	RoleUnknown  Role = iota
	RoleSymptom       // an external symptom: 5xx rate, failed probe, DOWN servers
	RoleResource      // an internal resource: iowait, queue length, replica lag
	RoleTraffic       // traffic: sessions, bytes, queries per second
)

var roleNames = [...]string{"unknown", "symptom", "resource", "traffic"}

func (r Role) String() string {
	if int(r) < len(roleNames) && r >= 0 {
		return roleNames[r]
	}
	return "unknown"
}

// ParseRole accepts the config spellings of a role.
func ParseRole(s string) (Role, bool) {
	switch strings.ToLower(s) {
	case "symptom", "external", "external-symptom":
		return RoleSymptom, true
	case "resource", "internal", "internal-resource":
		return RoleResource, true
	case "traffic":
		return RoleTraffic, true
	case "unknown", "":
		return RoleUnknown, true
	}
	return RoleUnknown, false
}

// Layer is where in the stack a series, event or node sits.
type Layer string

const (
	LayerUnknown  Layer = ""
	LayerEdge     Layer = "edge"
	LayerLB       Layer = "lb"
	LayerApp      Layer = "app"
	LayerDB       Layer = "db"
	LayerHost     Layer = "host"
	LayerNetwork  Layer = "network"
	LayerProvider Layer = "provider"
)

// Layers lists the known layers from the outside in.
var Layers = []Layer{LayerEdge, LayerLB, LayerApp, LayerDB, LayerHost, LayerNetwork, LayerProvider}

// Depth orders layers from the outside (edge, 0) inwards; deeper layers are
// more likely causes. Unknown layers sort last.
func (l Layer) Depth() int {
	// a switch, not a walk over Layers: the ranking asks for every series
	switch l {
	case LayerEdge:
		return 0
	case LayerLB:
		return 1
	case LayerApp:
		return 2
	case LayerDB:
		return 3
	case LayerHost:
		return 4
	case LayerNetwork:
		return 5
	case LayerProvider:
		return 6
	}
	return len(Layers)
}

// ParseLayer accepts a layer name from the config.
func ParseLayer(s string) (Layer, bool) {
	l := Layer(strings.ToLower(s))
	if l == LayerUnknown {
		return l, true
	}
	for _, x := range Layers {
		if x == l {
			return l, true
		}
	}
	return LayerUnknown, false
}

// Point is one sample. A NaN value means "no data" and is never read as 0.
type Point struct {
	T time.Time
	V float64
}

// Missing reports whether the point carries no data.
func (p Point) Missing() bool { return math.IsNaN(p.V) }

// SeriesKind says how a series' values come about, so nobody has to tell
// from its name or unit.
type SeriesKind uint8

const (
	SeriesUnknown SeriesKind = iota // not said
	SeriesGauge                     // a level at each instant: sessions, iowait, queue length, lag
	SeriesRate                      // a counter turned into a rate per second: requests/s, errors/s
	SeriesRatio                     // a share of a whole, in % or 0..1: error share, availability, hit ratio
	SeriesCounter                   // a running total as read (not turned into a rate)
)

var seriesKindNames = [...]string{"unknown", "gauge", "rate", "ratio", "counter"}

func (k SeriesKind) String() string {
	if int(k) < len(seriesKindNames) {
		return seriesKindNames[k]
	}
	return "unknown"
}

// ParseSeriesKind accepts the config spellings of a series kind.
func ParseSeriesKind(s string) (SeriesKind, bool) {
	switch strings.ToLower(s) {
	case "", "unknown":
		return SeriesUnknown, true
	case "gauge", "level":
		return SeriesGauge, true
	case "rate":
		return SeriesRate, true
	case "ratio", "share", "percent":
		return SeriesRatio, true
	case "counter", "total":
		return SeriesCounter, true
	}
	return SeriesUnknown, false
}

// Harm says which way a series hurts: the direction in which a move is
// bad news. The engine scores anomalies in that direction only.
type Harm uint8

const (
	// HarmUnset leaves it to the role: traffic hurts either way, symptoms
	// and resources going up.
	HarmUnset Harm = iota
	HarmUp         // more is worse: latency, errors, iowait, queue length, lag
	HarmDown       // less is worse: availability, success, free space, idle time
	HarmBoth       // either way is news: traffic
)

var harmNames = [...]string{"unset", "up", "down", "both"}

func (h Harm) String() string {
	if int(h) < len(harmNames) {
		return harmNames[h]
	}
	return "unset"
}

// ParseHarm accepts the config spellings of a harmful direction ("up":
// going up is bad).
func ParseHarm(s string) (Harm, bool) {
	switch strings.ToLower(s) {
	case "", "unset":
		return HarmUnset, true
	case "up", "higher", "rise":
		return HarmUp, true
	case "down", "lower", "fall":
		return HarmDown, true
	case "both", "either":
		return HarmBoth, true
	}
	return HarmUnset, false
}

// Measure says what a series measures, where a rule of the engine needs
// to know (the bottleneck rule wants errors and query latency; a share of
// requests is read only where there are requests; a replica's lag is not
// a query's latency). It is a set: a success ratio of requests is
// MeasureSuccess, a 5xx rate MeasureErrors.
type Measure uint8

const (
	MeasureErrors         Measure = 1 << iota // failed requests or operations: 5xx, errors, failures
	MeasureClientErrors                       // requests refused as the client's fault: 4xx
	MeasureSuccess                            // availability, successful requests
	MeasureLatency                            // how long something takes: latency, durations, response times
	MeasureReplicationLag                     // how far a replica is behind
	// MeasurePart is a part of another series of its node and source: the
	// DNS, connect, TLS and first-byte times of an HTTP check are parts
	// of its total time. A part rising with its whole is the whole told
	// again, never its cause.
	MeasurePart
)

var measureNames = []struct {
	m    Measure
	name string
}{{MeasureErrors, "errors"}, {MeasureClientErrors, "client-errors"}, {MeasureSuccess, "success"},
	{MeasureLatency, "latency"}, {MeasureReplicationLag, "replication-lag"}, {MeasurePart, "part"}}

func (m Measure) String() string {
	var out []string
	for _, n := range measureNames {
		if m&n.m != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

// ParseMeasure accepts the config spellings of a measure: one or more of
// errors, client-errors, success, latency, replication-lag, part,
// separated by commas.
func ParseMeasure(s string) (Measure, bool) {
	var m Measure
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		found := false
		for _, n := range measureNames {
			if w == n.name || (w == "lag" && n.m == MeasureReplicationLag) || (w == "availability" && n.m == MeasureSuccess) {
				m, found = m|n.m, true
			}
		}
		if !found {
			return 0, false
		}
	}
	return m, true
}

// Series is a numeric time series as a source returned it.
type Series struct {
	// Name is the metric's name as the source knows it (e.g.
	// "servers.db-1.cpu.iowait", "node_cpu_seconds_total", "hrsp_5xx").
	Name string
	// Labels qualify the name (backend, server, instance, mode…).
	Labels map[string]string
	// Unit is a short human unit: "%", "ms", "s", "req/s", "B/s", "B", "count", "".
	Unit string
	// Role and Layer say what the series is; config rules may override both.
	Role  Role
	Layer Layer
	// Kind says how the values come about and Harm which way they hurt;
	// the source sets them where it knows, config rules may override both.
	Kind SeriesKind
	Harm Harm
	// Measure says what it measures (errors, latency, …) where the engine's
	// rules need to know; a source or a rule sets it, else its name is read
	// once when it arrives (GuessMeasure).
	Measure Measure
	// Node names the thing the series describes: a host, a service, a
	// backend, a server, a volume. Dependencies between nodes come from the
	// config.
	Node string
	// Points in ascending time order.
	Points []Point
	// Hash identifies Name and Labels (SeriesHash), once worked out: a
	// source that knows its series from one poll to the next may set
	// it, else the classifier does; 0 until then. Whoever finds a series
	// by it checks Name and Labels too, so a stale one costs time, never
	// the wrong series. It is this process's (the seed is random): the
	// store sets it back to 0 once it has found the series, so it never
	// reaches a recording.
	Hash uint64
}

// ID is the series' identity within its source: the name plus its labels in
// sorted order, e.g. `hrsp_5xx{backend="app",server="app-1"}`.
func (s *Series) ID() string { return SeriesID(s.Name, s.Labels) }

// SeriesID renders a name and labels the way Prometheus does.
func SeriesID(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(labels[k])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// Severity of an event, a node state or a finding.
type Severity int

const (
	SevOK Severity = iota
	SevInfo
	SevWarning
	SevCritical
)

var sevNames = [...]string{"ok", "info", "warning", "critical"}

func (s Severity) String() string {
	if s >= 0 && int(s) < len(sevNames) {
		return sevNames[s]
	}
	return "unknown"
}

// EventKind says what an event is, so that no reader has to tell from its
// title or labels.
type EventKind uint8

const (
	EventOther    EventKind = iota // not said
	EventState                     // a node changed state: a server went DOWN, came back, was drained
	EventFlapping                  // a node keeps going DOWN and back within its source's window
	EventFailover                  // traffic moved to a standby: backup servers took over, a replica was promoted
	EventReload                    // a process reloaded or restarted: its counters started over
	EventAlert                     // something is failing: a check, a backend with no server UP, an unreachable part of a source
	EventProvider                  // a provider's status or health event (AWS)
	EventNote                      // a note a person wrote
)

var eventKindNames = [...]string{"other", "state", "flapping", "failover", "reload", "alert", "provider", "note"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "other"
}

// ParseEventKind reads a kind back from its String.
func ParseEventKind(s string) (EventKind, bool) {
	for i, n := range eventKindNames {
		if strings.EqualFold(s, n) {
			return EventKind(i), true
		}
	}
	return EventOther, s == ""
}

// Event is something that happened over a span of time: a server going
// DOWN, an AWS status event, a reload. An event with a zero End is open.
// A source sends the same ID again to update or resolve it.
type Event struct {
	ID       string
	Source   string // filled by the scheduler
	Kind     EventKind
	Start    time.Time
	End      time.Time // zero while open
	Updated  time.Time
	Severity Severity
	Layer    Layer
	Node     string
	Title    string // one line, for people: no reader decides from it
	Text     string // details, may be several lines
	Labels   map[string]string
	// Alert is what a monitoring system says of an event of kind
	// EventAlert (Nagios, Icinga, Alertmanager, an external HTTP check);
	// nil for other events.
	Alert *Alert
}

// AlertOrigin says where an alert looks from: outside, as a user meets
// the service (an HTTP check, a CDN's or Pingdom-style alert), or inside
// (Nagios, Icinga or Alertmanager about a host or a service). An external
// alert with no internal one firing is a gap in the internal alerting.
type AlertOrigin uint8

const (
	OriginUnknown AlertOrigin = iota
	OriginExternal
	OriginInternal
)

var originNames = [...]string{"unknown", "external", "internal"}

func (o AlertOrigin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return "unknown"
}

// ParseAlertOrigin accepts the config spellings of an origin.
func ParseAlertOrigin(s string) (AlertOrigin, bool) {
	switch strings.ToLower(s) {
	case "", "unknown":
		return OriginUnknown, true
	case "external", "outside":
		return OriginExternal, true
	case "internal", "inside":
		return OriginInternal, true
	}
	return OriginUnknown, false
}

// Alert is one alert as its monitoring system tells it.
type Alert struct {
	Origin AlertOrigin
	System string // what raised it: "nagios", "icinga2", "alertmanager", "http"
	Check  string // the service, alert or check name, for people
	State  string // the system's own word, for people: "CRITICAL", "firing", "503"
	// Hard is Nagios' and Icinga's HARD state (confirmed by retries); a
	// SOFT state may still clear. Systems without the idea set it true.
	Hard         bool
	Acknowledged bool // someone said they are on it
	Downtime     bool // in scheduled downtime, or silenced or inhibited
	Flapping     bool // the system itself says it flaps
}

// Open reports whether the event has not ended.
func (e *Event) Open() bool { return e.End.IsZero() }

// Hop is one responder at one TTL of a path, with its statistics over the
// rounds seen so far.
type Hop struct {
	TTL      int
	Addr     string // IP address as text; "" when nothing answered
	Name     string // reverse DNS, escape-stripped; "" when unknown
	ASN      int    // 0 when unknown
	ASName   string
	Sent     int
	Received int
	Loss     float64 // 0..1
	Last     time.Duration
	Min      time.Duration
	Median   time.Duration
	Avg      time.Duration
	Max      time.Duration
	StdDev   time.Duration
	Jitter   time.Duration
	// RateLimited marks a hop whose loss does not persist to later hops:
	// it only rate-limits ICMP and must never be blamed.
	RateLimited bool
}

// PathTrace is one vantage point's view of the path to one target.
type PathTrace struct {
	Vantage string
	Target  string // as configured (name or address)
	Addr    string // resolved address of the target
	At      time.Time
	Rounds  int
	Hops    []Hop
	// Reached is true only when the target itself answered.
	Reached bool
	// EndToEnd is the loss and latency to the target itself (ICMP echo or
	// TCP probes, never UDP port-unreachable).
	EndToEnd Hop
	// Flows are the probe flows of the rounds, each on its own, when the
	// rounds took turns on several: a flow keeps to one branch of a load
	// balancer, so flows that part at a TTL show its branches.
	Flows []FlowPath
}

// FlowPath is one probe flow's share of a trace.
type FlowPath struct {
	Flow        int
	Rounds      int
	Hops        []FlowHop
	E2ESent     int
	E2EReceived int
}

// FlowHop is one TTL of a flow: who answered it most, and how often.
type FlowHop struct {
	TTL      int
	Addr     string // "" when nothing answered
	Sent     int
	Received int
}

// NodeKind says what a node is.
type NodeKind string

const (
	NodeFrontend NodeKind = "frontend" // where a load balancer takes traffic in
	NodeBackend  NodeKind = "backend"  // a load balancer's pool of servers
	NodeServer   NodeKind = "server"   // one server of a backend
	NodeService  NodeKind = "service"  // a provider's service in a region
)

// StateClass is what a node's state means, whatever word its source uses
// for it ("DOWN 1/2", "no check", "disruption").
type StateClass uint8

const (
	ClassUnknown  StateClass = iota
	ClassUp                  // serving: UP, no check, OPEN, operational
	ClassDown                // not serving: DOWN, STOP, a provider's disruption
	ClassMaint               // taken out on purpose: MAINT, PAUSED
	ClassDrain               // finishing its sessions, taking no new ones: DRAIN, NOLB
	ClassDegraded            // serving, with trouble: a degraded provider service, a FULL frontend
)

var classNames = [...]string{"unknown", "up", "down", "maint", "drain", "degraded"}

func (c StateClass) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// ParseStateClass reads a class back from its String.
func ParseStateClass(s string) (StateClass, bool) {
	for i, n := range classNames {
		if strings.EqualFold(s, n) {
			return StateClass(i), true
		}
	}
	return ClassUnknown, false
}

// NodeState is the current state of one thing a source watches: a
// frontend, a backend, a server, an AWS service in a region, an instance.
// A batch's NodeStates replace all earlier ones from the same source.
type NodeState struct {
	Source   string // filled by the store
	Kind     NodeKind
	ID       string // unique within the source, e.g. "lb-1/be_app/app1"
	Name     string
	Parent   string // ID of the parent node, "" at the top
	Instance string // which instance of a fleet reported it
	Layer    Layer
	State    string     // the source's own word, for people: "UP", "DOWN 1/2", "MAINT", "green"
	Class    StateClass // what that word means, for every reader
	Severity Severity   // what the state means: ok, warning, critical
	Since    time.Time
	// Flaps counts the node's DOWN transitions within FlapWindow, as its
	// source saw them; Flapping is the source's verdict that this is too
	// many (its own threshold).
	Flaps      int
	FlapWindow time.Duration
	Flapping   bool
	// LB is what a load balancer says of a frontend, backend or server;
	// Provider what a cloud provider's status says of a service. Nil for
	// other nodes.
	LB       *LBNode
	Provider *ProviderNode
	// Attrs are free-form extras for display (a check line): nothing
	// decides from them.
	Attrs map[string]string
}

// LBMode is a load balancer proxy's mode.
type LBMode uint8

const (
	LBModeUnknown LBMode = iota
	LBModeHTTP
	LBModeTCP
)

func (m LBMode) String() string {
	switch m {
	case LBModeHTTP:
		return "http"
	case LBModeTCP:
		return "tcp"
	}
	return ""
}

// LBNode is what a load balancer says of a frontend, a backend or a
// server, as figures. A figure the load balancer does not give is NaN,
// never 0: NewLBNode starts with all of them NaN.
type LBNode struct {
	Proxy  string // the frontend's or backend's name; a server's backend
	Mode   LBMode
	Algo   string // balance algorithm, for display
	Addr   string // a server's address, for display ("" when the stats level hides it)
	Backup bool   // a backup server: it takes traffic only when no active server can

	// A backend's servers: able to take traffic, all, DOWN, flapping.
	Up, Total, Down, Flapping int
	// Instances is how many load balancers a fleet node sums; 0 for one
	// load balancer's own node.
	Instances int

	Check LBCheck // a server's last health check

	Sessions     float64 // current (scur)
	SessionLimit float64 // slim; NaN or 0 when unlimited
	Queue        float64 // requests waiting for a server (qcur)
	Weight       float64
	ResponseTime float64 // ms, averaged over the last 1024 requests
	Downs        float64 // UP→DOWN transitions since the load balancer started (chkdown)
	Downtime     float64 // seconds DOWN in all

	Rates LBRates // per second, since the previous poll
	// LongRun are the counters per second from the load balancer's start
	// to the first poll of it: what it did before anyone watched, a
	// baseline for the rates before there is history of its own. NaN
	// when it had not run for LongRunMin then.
	LongRun LBRates
	// LongRunSecs is the span LongRun covers, in seconds (0: none).
	LongRunSecs float64
}

// LongRunMin is the least a load balancer must have run before its first
// poll for its counters to say what it does in the long run.
const LongRunMin = 10 * time.Minute

// LBRates are a frontend's, backend's or server's counters per second.
type LBRates struct {
	Sessions     float64
	Requests     float64
	Resp4xx      float64
	Resp5xx      float64
	BadRequests  float64 // requests the frontend refused as malformed (ereq)
	ConnErrors   float64 // failed connections to servers (econ)
	RespErrors   float64 // bad or aborted responses from servers (eresp)
	Retries      float64
	Redispatches float64
	BytesIn      float64
	BytesOut     float64
	Downs        float64 // UP→DOWN transitions
}

// LBCheck is a server's last health check.
type LBCheck struct {
	Status   string  // the load balancer's word for the result (L4OK, L7STS…), for display
	Failed   bool    // the check failed: refused, timed out, a bad answer
	Last     string  // what the check got ("Connection refused", "HTTP status check returned code <500>"), for display
	Desc     string  // the load balancer's description of the status, for display
	Duration float64 // ms; NaN when there was none
}

// NewLBNode returns an LBNode for proxy with every figure unknown (NaN).
func NewLBNode(proxy string) *LBNode {
	nan := math.NaN()
	return &LBNode{Proxy: proxy, Check: LBCheck{Duration: nan},
		Sessions: nan, SessionLimit: nan, Queue: nan, Weight: nan, ResponseTime: nan, Downs: nan, Downtime: nan,
		Rates:   LBRates{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan},
		LongRun: LBRates{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan}}
}

// ProviderNode is what a cloud provider's status page says of one of its
// services in one region.
type ProviderNode struct {
	Provider string // who says it, as people call it: "AWS"
	Service  string // "ec2"
	Region   string // "us-east-1"; "" for a global service
	Event    string // the title of the provider's event behind the state; "" when there is none
	EventID  string
}

// Health of a source as the scheduler sees it.
type Health int

const (
	HealthUnknown Health = iota // not polled yet
	HealthOK
	HealthSlow
	HealthFailing
)

var healthNames = [...]string{"unknown", "ok", "slow", "failing"}

func (h Health) String() string {
	if h >= 0 && int(h) < len(healthNames) {
		return healthNames[h]
	}
	return "unknown"
}

// Status is a source's health, kept by the scheduler.
type Status struct {
	Source      string
	Type        string
	Health      Health
	LastError   string
	LastAttempt time.Time
	LastSuccess time.Time
	Latency     time.Duration // of the last poll
	Failures    int           // consecutive
	NextPoll    time.Time
	// Detail is a short line the source wants shown with its status (e.g.
	// "metrics/hour 1,240", "3 instances"), set by the source in its batch.
	Detail string
	// Watched is what an alerting source looked at in its last poll, set
	// by the source in its batch; nil for other sources.
	Watched *Watched
}

// Watched is what an alerting source (Nagios, Icinga, Alertmanager)
// looked at in its last poll, so that a rule that says "no internal
// alert fired" can say what it checked.
type Watched struct {
	System string      // as people call it: "Nagios", "Icinga 2", "Alertmanager"
	Origin AlertOrigin // what its alerts are unless one says otherwise
	// Hosts and Services are the host and service checks it knows (Nagios,
	// Icinga); Alerts the alerts it lists (Alertmanager), firing or not.
	Hosts, Services, Alerts int
	// Checks is the word for what Services counts where they are not
	// services ("threshold" for Munin's); "" for services.
	Checks string
}

// Batch is everything one poll of one source returned.
type Batch struct {
	Source string    // filled by the scheduler
	Type   string    // filled by the scheduler
	At     time.Time // when the poll finished
	Series []Series
	Events []Event
	Paths  []PathTrace
	// Nodes replace the source's earlier node states when non-nil.
	Nodes  []NodeState
	Status Status
	// Partial marks a part of a poll's answer handed over before the
	// poll ended (Request.Emit): stored, not judged on its own.
	Partial bool
}
