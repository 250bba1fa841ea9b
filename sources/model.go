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
	// Node names the thing the series describes: a host, a service, a
	// backend, a server, a volume. Dependencies between nodes come from the
	// config.
	Node string
	// Points in ascending time order.
	Points []Point
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

// Event is something that happened over a span of time: a server going
// DOWN, an AWS status event, a reload. An event with a zero End is open.
// A source sends the same ID again to update or resolve it.
type Event struct {
	ID       string
	Source   string // filled by the scheduler
	Start    time.Time
	End      time.Time // zero while open
	Updated  time.Time
	Severity Severity
	Layer    Layer
	Node     string
	Title    string // one line
	Text     string // details, may be several lines
	Labels   map[string]string
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

// NodeState is the current state of one thing a source watches: a
// frontend, a backend, a server, an AWS service in a region, an instance.
// A batch's NodeStates replace all earlier ones from the same source.
type NodeState struct {
	Source   string // filled by the store
	Kind     string // "frontend", "backend", "server", "service", …
	ID       string // unique within the source, e.g. "lb-1/be_app/app1"
	Name     string
	Parent   string // ID of the parent node, "" at the top
	Instance string // which instance of a fleet reported it
	Layer    Layer
	State    string   // the source's own word: "UP", "DOWN 1/2", "MAINT", "green"
	Severity Severity // what the state means: ok, warning, critical
	Since    time.Time
	Attrs    map[string]string  // check_status, last_chk, addr, …
	Values   map[string]float64 // scur, slim, rates, check duration, …
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
}
