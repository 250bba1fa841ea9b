package ganglia

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/bounded"
)

const example = `- name: ganglia
  type: ganglia
  address: gmetad.internal:8651   # gmetad's XML port, or a gmond's (8649): any node of a cluster reports all of it
  # metrics: [load_one, cpu_*, mem_free, bytes_*]   # names or globs; default every numeric metric
  # hosts: true                   # per-host series; false keeps the cluster-wide ones only
  # max_answer_mb: 64             # bound on one dump
`

func init() {
	sources.Register(sources.Kind{
		Type:    "ganglia",
		Summary: "Ganglia gmond/gmetad XML dump: per-host and cluster-wide metrics as internal resource series",
		Example: example,
		New:     factory,
	})
}

// factory decodes the source's options for New.
var factory = sources.Decoding("ganglia", New)

// Options are a ganglia source's part of the config.
type Options struct {
	Address     string   `yaml:"address"`
	Metrics     []string `yaml:"metrics"`
	Hosts       *bool    `yaml:"hosts"`
	MaxAnswerMB int      `yaml:"max_answer_mb"`
}

// Source is the "ganglia" source.
type Source struct {
	name    string
	addr    string
	metrics []string
	hosts   bool
	max     int64

	mu   sync.Mutex
	prev map[string]sample // positive-slope metrics' last values, by series ID
}

type sample struct {
	v float64
	t time.Time
}

// New builds a ganglia source.
func New(env sources.Env, o Options) (*Source, error) {
	a := strings.TrimSpace(o.Address)
	if a == "" {
		return nil, errors.New("address is required (gmetad host:8651 or gmond host:8649)")
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		if strings.ContainsAny(a, "/ \t") {
			return nil, fmt.Errorf("address %q: want host:port", sources.Clean(a))
		}
		a = net.JoinHostPort(strings.Trim(a, "[]"), "8649")
	}
	for _, m := range o.Metrics {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			return nil, fmt.Errorf("metric %q: want a metric name or a glob", sources.Clean(m))
		}
	}
	if o.MaxAnswerMB < 0 {
		return nil, errors.New("max_answer_mb must be positive")
	}
	if o.MaxAnswerMB == 0 {
		o.MaxAnswerMB = 64
	}
	return &Source{name: env.Name, addr: a, metrics: o.Metrics, hosts: o.Hosts == nil || *o.Hosts,
		max: int64(o.MaxAnswerMB) << 20, prev: map[string]sample{}}, nil
}

// Poll reads one dump.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	d, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("ganglia %q: %s: %w", s.name, s.addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &sources.Batch{At: now}
	hosts, down := 0, 0
	for i := range d.Clusters {
		c := &d.Clusters[i]
		b.Series = append(b.Series, s.clusterSeries(c, now)...)
		for j := range c.Hosts {
			h := &c.Hosts[j]
			hosts++
			if h.Down() {
				down++
				continue // its last values are old news, not data
			}
			if s.hosts {
				b.Series = append(b.Series, s.hostSeries(c, h, now)...)
			}
		}
	}
	b.Status.Detail = fmt.Sprintf("%s %s: %d clusters, %d hosts (%d down), %d series", d.Source, sources.Clean(d.Version), len(d.Clusters), hosts, down, len(b.Series))
	return b, nil
}

// read connects, reads the dump gmond or gmetad writes to anyone who
// connects, and parses it.
func (s *Source) read(ctx context.Context) (*Dump, error) {
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (is gmond or gmetad running, with a tcp_accept_channel or xml_port on this port?)", err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("no connection before the timeout: %w", err)
		}
		return nil, err
	}
	defer conn.Close()
	if t, ok := ctx.Deadline(); ok {
		conn.SetDeadline(t)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	d, err := Parse(bounded.NewReader(conn, s.max, "ganglia "+s.addr))
	switch {
	case errors.As(err, new(*bounded.TooLargeError)):
		var tl *bounded.TooLargeError
		errors.As(err, &tl)
		return nil, fmt.Errorf("%w (raise max_answer_mb, or ask fewer metrics)", tl)
	case err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)):
		return nil, fmt.Errorf("no complete dump before the timeout (raise the source's timeout): %w", context.DeadlineExceeded)
	case err != nil:
		return nil, err
	}
	return d, nil
}

func (s *Source) wants(metric string) bool { return sources.Wanted(s.metrics, metric) }

// graphed says whether a metric makes a series: numeric, not constant
// (slope zero: CPU count, memory total, boot time, as gmetad keeps no
// graph of them), not stale, and asked for.
func (s *Source) graphed(m *Metric) bool {
	return m.Numeric() && m.Slope != "zero" && !m.Stale() && s.wants(m.Name)
}

func (s *Source) hostSeries(c *Cluster, h *Host, now time.Time) []sources.Series {
	node := sources.Clean(h.Name)
	labels := map[string]string{"cluster": sources.Clean(c.Name), "host": node}
	var out []sources.Series
	for i := range h.Metrics {
		m := &h.Metrics[i]
		if !s.graphed(m) {
			continue
		}
		sr := series(m, labels, node, now)
		if m.Slope == "positive" { // a counter: gmetad graphs its rate
			_, scale := unit(m.Units)
			sr.Kind = sources.SeriesRate
			sr.Points[0].V = s.rate(sr.ID(), m.Value*scale, now)
		}
		out = append(out, sr)
	}
	return out
}

// clusterSeries are a cluster's (or grid's) own figures: hosts up and
// down, and each metric across its hosts, the sum (a mean for
// percentages), as gmetad's summary says or, from gmond, as it would.
func (s *Source) clusterSeries(c *Cluster, now time.Time) []sources.Series {
	name := sources.Clean(c.Name)
	labels := map[string]string{"cluster": name}
	if c.GridTotal {
		labels = map[string]string{"grid": name}
	}
	sum := c.Summary
	if sum == nil {
		sum = summarize(c)
	}
	up := sources.Series{Name: "ganglia_hosts_up", Labels: labels, Unit: "hosts", Role: sources.RoleResource, Layer: sources.LayerHost,
		Kind: sources.SeriesGauge, Harm: sources.HarmDown, Node: name, Points: []sources.Point{{T: now, V: float64(sum.Up)}}}
	down := up
	down.Name, down.Harm, down.Points = "ganglia_hosts_down", sources.HarmUp, []sources.Point{{T: now, V: float64(sum.Down)}}
	out := []sources.Series{up, down}
	for i := range sum.Metrics {
		m := &sum.Metrics[i]
		if !s.graphed(m) || m.Slope == "positive" {
			continue // a sum of raw counters is no figure of anything
		}
		v := m.Value
		if m.Units == "%" && m.Num > 0 {
			v /= float64(m.Num)
		}
		sr := series(m, labels, name, now)
		_, scale := unit(m.Units)
		sr.Points[0].V = v * scale
		out = append(out, sr)
	}
	return out
}

// summarize totals a gmond dump's cluster the way gmetad does.
func summarize(c *Cluster) *Summary {
	sum := &Summary{}
	idx := map[string]int{}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if h.Down() {
			sum.Down++
			continue
		}
		sum.Up++
		for j := range h.Metrics {
			m := &h.Metrics[j]
			if !m.Numeric() || m.Stale() {
				continue
			}
			k, ok := idx[m.Name]
			if !ok {
				k = len(sum.Metrics)
				idx[m.Name] = k
				sum.Metrics = append(sum.Metrics, Metric{Name: m.Name, Type: m.Type, Units: m.Units, Slope: m.Slope, Group: m.Group, Title: m.Title})
			}
			sum.Metrics[k].Value += m.Value
			sum.Metrics[k].Num++
		}
	}
	sort.Slice(sum.Metrics, func(i, j int) bool { return sum.Metrics[i].Name < sum.Metrics[j].Name })
	return sum
}

func series(m *Metric, labels map[string]string, node string, now time.Time) sources.Series {
	u, scale := unit(m.Units)
	return sources.Series{
		Name:   sources.Clean(m.Name),
		Labels: labels,
		Unit:   sources.Clean(u),
		Role:   sources.RoleResource,
		Layer:  sources.LayerHost,
		Kind:   sources.SeriesGauge,
		Node:   node,
		Points: []sources.Point{{T: now, V: m.Value * scale}},
	}
}

// unit turns Ganglia's units into the ones opsview draws, with the factor
// the values take on the way (memory in KB becomes bytes).
func unit(u string) (string, float64) {
	switch strings.ToLower(u) {
	case "bytes/sec":
		return "B/s", 1
	case "bytes":
		return "B", 1
	case "kb":
		return "B", 1024
	case "sec", "secs", "seconds":
		return "s", 1
	}
	return u, 1
}

// rate is a counter's change per second since the previous dump; NaN at
// first and after a reset.
func (s *Source) rate(id string, v float64, at time.Time) float64 {
	prev, ok := s.prev[id]
	s.prev[id] = sample{v: v, t: at}
	if !ok || v < prev.v {
		return math.NaN()
	}
	dt := at.Sub(prev.t).Seconds()
	if dt <= 0 {
		return math.NaN()
	}
	return (v - prev.v) / dt
}
