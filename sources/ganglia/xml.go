// Package ganglia reads the XML dump gmond (TCP 8649) and gmetad (TCP
// 8651) write to whoever connects, and turns its clusters, hosts and
// metrics into resource series: every numeric metric of every host that
// still reports, and cluster-wide figures (hosts up and down, each
// metric's sum, or mean for percentages, as Ganglia's cluster view draws
// them). It must not retry or keep status (the scheduler does).
//
// The dump is outside data: it is read through the bounded reader, its
// nesting is bounded, and encoding/xml neither loads external entities
// nor expands the DTD's, so no entity expansion can blow it up.
package ganglia

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Dump is one gmond or gmetad XML dump.
type Dump struct {
	Source   string // "gmond" or "gmetad"
	Version  string
	Clusters []Cluster
}

// Cluster is one cluster of the dump, with its hosts, or (from a gmetad
// summary) only its totals.
type Cluster struct {
	Name      string
	Grid      string // the GRID it is in, "" for a gmond dump
	LocalTime time.Time
	Hosts     []Host
	Summary   *Summary
	// GridTotal marks the totals of a whole grid (Name is the grid's).
	GridTotal bool
}

// Summary is what gmetad says of a cluster or grid as a whole.
type Summary struct {
	Up, Down int
	Metrics  []Metric // Value is the SUM, Num the NUM
}

// Host is one host and its metrics.
type Host struct {
	Name     string
	IP       string
	Reported time.Time
	TN, TMAX int // seconds since it last reported; its reporting interval
	Metrics  []Metric
}

// Down reports whether the host stopped reporting: Ganglia's own rule,
// nothing heard for four reporting intervals.
func (h *Host) Down() bool { return h.TMAX > 0 && h.TN > 4*h.TMAX }

// Metric is one metric of a host (or a summary's total).
type Metric struct {
	Name  string
	Value float64 // NaN for string metrics and unreadable values
	Text  string  // the value as written (string metrics)
	Type  string  // string, int8 … uint32, float, double, timestamp
	Units string
	Slope string // zero, positive, negative, both, unspecified
	TN    int
	TMAX  int
	DMAX  int
	Num   int    // summary: how many hosts the SUM covers
	Group string // EXTRA_DATA GROUP
	Title string // EXTRA_DATA TITLE
}

// Numeric reports whether the metric carries a number worth a series.
func (m *Metric) Numeric() bool {
	switch m.Type {
	case "string", "timestamp":
		return false
	}
	return !math.IsNaN(m.Value)
}

// Stale reports whether gmond would already have deleted the metric.
func (m *Metric) Stale() bool { return m.DMAX > 0 && m.TN > m.DMAX }

// Bounds on a dump.
const (
	MaxDepth   = 16
	MaxMetrics = 500000
)

// Parse reads a dump from r. r should be bounded (the caller's bounded
// reader): Parse bounds the nesting and the number of metrics.
func Parse(r io.Reader) (*Dump, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = charsetReader
	p := &parser{d: d, dump: &Dump{}, cluster: -1}
	if err := p.run(); err != nil {
		return nil, err
	}
	if p.dump.Source == "" {
		return nil, errors.New("no GANGLIA_XML element: not a gmond or gmetad dump")
	}
	return p.dump, nil
}

type parser struct {
	d       *xml.Decoder
	dump    *Dump
	stack   []string
	grids   []string
	cluster int // index in dump.Clusters of the CLUSTER being read; -1 outside
	host    *Host
	metric  *Metric
	metrics int
	sawRoot bool
}

func (p *parser) run() error {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			if len(p.stack) > 0 {
				return fmt.Errorf("the dump ends inside <%s>: cut short", p.stack[len(p.stack)-1])
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(p.stack) >= MaxDepth {
				return fmt.Errorf("elements nested deeper than %d: not a Ganglia dump", MaxDepth)
			}
			p.stack = append(p.stack, t.Name.Local)
			if err := p.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			p.end(t.Name.Local)
			p.stack = p.stack[:len(p.stack)-1]
		}
	}
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func unix(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

func number(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

func (p *parser) start(t xml.StartElement) error {
	parent := ""
	if len(p.stack) > 1 {
		parent = p.stack[len(p.stack)-2]
	}
	switch t.Name.Local {
	case "GANGLIA_XML":
		if parent != "" || p.sawRoot {
			return errors.New("GANGLIA_XML inside another element")
		}
		p.sawRoot = true
		p.dump.Source = attr(t, "SOURCE")
		if p.dump.Source == "" {
			p.dump.Source = "gmond"
		}
		p.dump.Version = attr(t, "VERSION")
	case "GRID":
		p.grids = append(p.grids, attr(t, "NAME"))
	case "CLUSTER":
		p.dump.Clusters = append(p.dump.Clusters, Cluster{Name: attr(t, "NAME"), Grid: p.grid(), LocalTime: unix(attr(t, "LOCALTIME"))})
		p.cluster = len(p.dump.Clusters) - 1
	case "HOST":
		if p.cluster < 0 || parent != "CLUSTER" {
			return errors.New("a HOST outside a CLUSTER")
		}
		c := &p.dump.Clusters[p.cluster]
		c.Hosts = append(c.Hosts, Host{Name: attr(t, "NAME"), IP: attr(t, "IP"), Reported: unix(attr(t, "REPORTED")),
			TN: atoi(attr(t, "TN")), TMAX: atoi(attr(t, "TMAX"))})
		p.host = &c.Hosts[len(c.Hosts)-1]
	case "HOSTS":
		s := p.summary(parent)
		s.Up, s.Down = atoi(attr(t, "UP")), atoi(attr(t, "DOWN"))
	case "METRIC", "METRICS":
		if p.metrics++; p.metrics > MaxMetrics {
			return fmt.Errorf("more than %d metrics in one dump", MaxMetrics)
		}
		m := Metric{Name: attr(t, "NAME"), Text: attr(t, "VAL"), Type: attr(t, "TYPE"), Units: strings.TrimSpace(attr(t, "UNITS")),
			Slope: attr(t, "SLOPE"), TN: atoi(attr(t, "TN")), TMAX: atoi(attr(t, "TMAX")), DMAX: atoi(attr(t, "DMAX")), Value: math.NaN()}
		if t.Name.Local == "METRICS" {
			m.Text, m.Num = attr(t, "SUM"), atoi(attr(t, "NUM"))
		}
		if m.Type != "string" && m.Type != "timestamp" {
			m.Value = number(m.Text)
		}
		switch {
		case t.Name.Local == "METRIC" && parent == "HOST" && p.host != nil:
			p.host.Metrics = append(p.host.Metrics, m)
			p.metric = &p.host.Metrics[len(p.host.Metrics)-1]
		case t.Name.Local == "METRICS":
			s := p.summary(parent)
			s.Metrics = append(s.Metrics, m)
			p.metric = &s.Metrics[len(s.Metrics)-1]
		default:
			return fmt.Errorf("a %s inside <%s>", t.Name.Local, parent)
		}
	case "EXTRA_ELEMENT":
		if p.metric != nil {
			switch attr(t, "NAME") {
			case "GROUP":
				p.metric.Group = attr(t, "VAL")
			case "TITLE":
				p.metric.Title = attr(t, "VAL")
			}
		}
	}
	return nil
}

// summary is the totals of the element being read: a cluster's, or a
// grid's (kept as a Cluster with GridTotal set, named after the grid).
func (p *parser) summary(parent string) *Summary {
	var c *Cluster
	switch {
	case parent == "GRID":
		name := p.grid()
		for i := range p.dump.Clusters {
			if p.dump.Clusters[i].GridTotal && p.dump.Clusters[i].Name == name {
				c = &p.dump.Clusters[i]
			}
		}
		if c == nil {
			p.dump.Clusters = append(p.dump.Clusters, Cluster{Name: name, Grid: name, GridTotal: true})
			c = &p.dump.Clusters[len(p.dump.Clusters)-1]
		}
	case p.cluster >= 0 && parent == "CLUSTER":
		c = &p.dump.Clusters[p.cluster]
	default:
		p.dump.Clusters = append(p.dump.Clusters, Cluster{})
		c = &p.dump.Clusters[len(p.dump.Clusters)-1]
	}
	if c.Summary == nil {
		c.Summary = &Summary{}
	}
	return c.Summary
}

func (p *parser) grid() string {
	if len(p.grids) == 0 {
		return ""
	}
	return p.grids[len(p.grids)-1]
}

func (p *parser) end(name string) {
	switch name {
	case "GRID":
		if len(p.grids) > 0 {
			p.grids = p.grids[:len(p.grids)-1]
		}
		p.cluster = -1
	case "CLUSTER":
		p.cluster = -1
	case "HOST":
		p.host = nil
	case "METRIC", "METRICS":
		p.metric = nil
	}
}

// charsetReader reads the encodings gmond and gmetad declare: ISO-8859-1
// (every byte is its own code point) and US-ASCII.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		return &latin1{r: in}, nil
	case "utf-8", "utf8":
		return in, nil
	}
	return nil, fmt.Errorf("encoding %q (gmond and gmetad write ISO-8859-1)", label)
}

type latin1 struct {
	r   io.Reader
	in  [2048]byte
	buf [4096]byte
	out []byte
}

func (l *latin1) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		n, err := l.r.Read(l.in[:])
		l.out = l.buf[:0]
		for _, c := range l.in[:n] {
			l.out = utf8.AppendRune(l.out, rune(c))
		}
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}
