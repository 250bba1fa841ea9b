// Package munin reads munin-node's text protocol (TCP 4949: list, config,
// fetch) and turns its graphs into resource series with their units and
// labels. It speaks to the node directly, as munin's own master does, so
// no munin master or RRD files are needed. It must not retry or keep
// status (the scheduler does) and sends only read commands (cap, list,
// config, fetch, quit).
package munin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources/internal/bounded"
)

// Graph is one munin graph: a plugin, or one graph of a multigraph plugin.
type Graph struct {
	Name     string // the plugin's name, or the multigraph's ("diskstats_latency.vda")
	Title    string
	VLabel   string // the vertical axis' label: munin's word for the unit
	Category string
	Period   string // graph_period: "second" unless the plugin says otherwise
	Fields   []Field
}

// Field is one data source of a graph.
type Field struct {
	Name     string
	Label    string
	Type     string  // GAUGE (default), DERIVE, COUNTER, ABSOLUTE
	Min, Max float64 // NaN when not set
	// Scale is a cdef of the form "field,N,*" (or "/"): the factor munin
	// draws the field with (bytes to bits). 1 when there is none.
	Scale float64
	// Warning and Critical are munin's thresholds (field.warning,
	// field.critical): a value outside the range is a problem.
	Warning, Critical Range
}

// Range is a munin threshold: "max", "min:max", "min:" or ":max". The
// zero Range bounds nothing.
type Range struct {
	Min, Max       float64
	HasMin, HasMax bool
}

// Set reports whether the range bounds anything.
func (r Range) Set() bool { return r.HasMin || r.HasMax }

// Outside reports whether v crosses the range; NaN crosses nothing.
func (r Range) Outside(v float64) bool {
	return !math.IsNaN(v) && (r.HasMin && v < r.Min || r.HasMax && v > r.Max)
}

// String is the range as munin writes it.
func (r Range) String() string {
	b := func(has bool, v float64) string {
		if !has {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if !r.HasMin {
		return b(r.HasMax, r.Max)
	}
	return b(true, r.Min) + ":" + b(r.HasMax, r.Max)
}

// parseRange reads a threshold; a bound it cannot read bounds nothing.
func parseRange(s string) Range {
	lo, hi, two := strings.Cut(strings.TrimSpace(s), ":")
	if !two {
		lo, hi = "", lo
	}
	var r Range
	if v := parseLimit(strings.TrimSpace(lo)); !math.IsNaN(v) {
		r.Min, r.HasMin = v, true
	}
	if v := parseLimit(strings.TrimSpace(hi)); !math.IsNaN(v) {
		r.Max, r.HasMax = v, true
	}
	return r
}

func (g *Graph) field(name string) *Field {
	for i := range g.Fields {
		if g.Fields[i].Name == name {
			return &g.Fields[i]
		}
	}
	g.Fields = append(g.Fields, newField(name))
	return &g.Fields[len(g.Fields)-1]
}

func newField(name string) Field {
	return Field{Name: name, Type: "GAUGE", Min: math.NaN(), Max: math.NaN(), Scale: 1}
}

// Value is one fetched value.
type Value struct {
	Graph string
	Field string
	V     float64   // NaN for munin's "U" (unknown)
	At    time.Time // the value's own time ("field.value epoch:value"); zero when not given
}

// Bounds on a munin-node's answers: its lines are short and a plugin's
// answer a few KB; these stop a runaway node.
const (
	MaxLine        = 64 << 10
	MaxAnswerLines = 100000
	MaxSession     = 16 << 20
	MaxFields      = 10000
)

// ErrNodeSays is wrapped by the errors a node answers in words ("# Unknown
// service", "# Timed out", "# Bad exit").
var ErrNodeSays = errors.New("munin-node says")

// readLine reads one line, without its newline, at most MaxLine bytes.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > MaxLine {
			return "", fmt.Errorf("a line longer than %s: not munin-node", bounded.Size(MaxLine))
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// readAnswer reads a multi-line answer (config, fetch) up to its "." line.
// An answer that is only a "# …" comment is the node refusing: an error
// wrapping ErrNodeSays.
func readAnswer(r *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		l, err := readLine(r)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("the node closed the connection in the middle of an answer: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		if l == "." {
			break
		}
		if len(lines) >= MaxAnswerLines {
			return nil, fmt.Errorf("an answer of more than %d lines: not munin-node", MaxAnswerLines)
		}
		lines = append(lines, l)
	}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		onlyComments := true
		for _, l := range lines {
			if !strings.HasPrefix(l, "#") {
				onlyComments = false
				break
			}
		}
		if onlyComments {
			return nil, fmt.Errorf("%w %q", ErrNodeSays, strings.TrimSpace(strings.TrimPrefix(lines[0], "#")))
		}
	}
	return lines, nil
}

var cdefScale = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z0-9_]+),([0-9.eE+-]+),([*/])$`) })

// ParseConfig reads the lines of a `config <plugin>` answer into its
// graphs: one, or one per `multigraph` line.
func ParseConfig(plugin string, lines []string) ([]Graph, error) {
	var graphs []Graph
	cur := -1
	start := func(name string) {
		graphs = append(graphs, Graph{Name: name, Period: "second"})
		cur = len(graphs) - 1
	}
	fields := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		key, val, _ := strings.Cut(l, " ")
		val = strings.TrimSpace(val)
		if key == "multigraph" {
			if val == "" {
				return nil, errors.New("a multigraph line without a name")
			}
			start(val)
			continue
		}
		if cur < 0 {
			start(plugin)
		}
		g := &graphs[cur]
		if attr, ok := strings.CutPrefix(key, "graph_"); ok {
			switch attr {
			case "title":
				g.Title = val
			case "vlabel":
				g.VLabel = val
			case "category":
				g.Category = val
			case "period":
				if val != "" {
					g.Period = val
				}
			}
			continue
		}
		name, attr, ok := strings.Cut(key, ".")
		if !ok || name == "" || attr == "" {
			continue // a directive of a newer munin, or a stray word
		}
		if g.has(name) == nil {
			fields++
			if fields > MaxFields {
				return nil, fmt.Errorf("more than %d fields: not munin-node", MaxFields)
			}
		}
		f := g.field(name)
		switch attr {
		case "label":
			f.Label = val
		case "type":
			switch t := strings.ToUpper(val); t {
			case "GAUGE", "DERIVE", "COUNTER", "ABSOLUTE":
				f.Type = t
			default:
				return nil, fmt.Errorf("field %s: type %q (want GAUGE, DERIVE, COUNTER or ABSOLUTE)", name, val)
			}
		case "min":
			f.Min = parseLimit(val)
		case "max":
			f.Max = parseLimit(val)
		case "warning":
			f.Warning = parseRange(val)
		case "critical":
			f.Critical = parseRange(val)
		case "cdef":
			if m := cdefScale().FindStringSubmatch(val); m != nil && m[1] == name {
				if n, err := strconv.ParseFloat(m[2], 64); err == nil && n != 0 && !math.IsInf(n, 0) {
					f.Scale = n
					if m[3] == "/" {
						f.Scale = 1 / n
					}
				}
			}
		}
	}
	return graphs, nil
}

func (g *Graph) has(name string) *Field {
	for i := range g.Fields {
		if g.Fields[i].Name == name {
			return &g.Fields[i]
		}
	}
	return nil
}

func parseLimit(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

// ParseFetch reads the lines of a `fetch <plugin>` answer.
func ParseFetch(plugin string, lines []string) ([]Value, error) {
	var out []Value
	graph := plugin
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		key, val, _ := strings.Cut(l, " ")
		if key == "multigraph" {
			graph = strings.TrimSpace(val)
			if graph == "" {
				return nil, errors.New("a multigraph line without a name")
			}
			continue
		}
		name, ok := strings.CutSuffix(key, ".value")
		if !ok || name == "" {
			continue // extinfo and other attributes
		}
		if len(out) >= MaxFields {
			return nil, fmt.Errorf("more than %d values: not munin-node", MaxFields)
		}
		v := Value{Graph: graph, Field: name, V: math.NaN()}
		val = strings.TrimSpace(val)
		if ts, rest, ok := strings.Cut(val, ":"); ok {
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil || sec <= 0 || sec > 1<<40 {
				return nil, fmt.Errorf("%s: bad timestamp in %q", name, val)
			}
			v.At = time.Unix(sec, 0)
			val = rest
		}
		if val != "U" {
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q is not a number", name, val)
			}
			if !math.IsInf(f, 0) {
				v.V = f
			}
		}
		out = append(out, v)
	}
	return out, nil
}

var (
	periodRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{graph_period\}`) })
	// munin's way of explaining a pair drawn above and below the axis
	pairRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)\s*\w+\s*\(-\)\s*/\s*\w+\s*\(\+\)`) })
	spacesRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+`) })
)

// Unit turns a graph's vertical label into a short unit: "${graph_period}"
// becomes "s", munin's "read (-) / write (+)" explanations go, and the
// common words become the units opsview draws ("%", "B", "B/s", "bit/s",
// "s").
func Unit(vlabel, period string) string {
	p := "s"
	switch strings.ToLower(period) {
	case "", "second":
	case "minute":
		p = "min"
	case "hour":
		p = "h"
	default:
		p = period
	}
	u := periodRE().ReplaceAllString(vlabel, p)
	u = pairRE().ReplaceAllString(u, "")
	u = strings.TrimSpace(spacesRE().ReplaceAllString(u, " "))
	switch strings.ToLower(u) {
	case "%", "% busy", "percent":
		return "%"
	case "bytes":
		return "B"
	case "bytes/s", "bytes per s", "bytes per second":
		return "B/s"
	case "bits per s", "bits/s", "bits per second":
		return "bit/s"
	case "seconds", "second":
		return "s"
	}
	if r := []rune(u); len(r) > 24 {
		u = string(r[:24]) + "…"
	}
	return u
}
