package munin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

const example = `- name: munin
  type: munin
  interval: 60s                 # munin plugins run at every fetch: poll gently
  nodes: [db-1.internal:4949, web-1.internal]   # munin-node, port 4949 by default
  # plugins: [cpu, load, memory, diskstats, "if_*"]   # names or globs; default all the node lists
`

func init() {
	sources.Register(sources.Kind{
		Type:    "munin",
		Summary: "munin-node's graphs (list, config, fetch on TCP 4949) as internal resource series",
		Example: example,
		New:     factory,
	})
}

// factory decodes the source's options for New.
var factory = sources.Decoding("munin", New)

// Options are a munin source's part of the config.
type Options struct {
	Nodes   []string `yaml:"nodes"`
	Plugins []string `yaml:"plugins"`
}

// DefaultPort is munin-node's.
const DefaultPort = "4949"

// configAge is how long a node's graph configuration is trusted before it
// is asked again (plugins come and go with disks and interfaces).
const configAge = 10 * time.Minute

// Source is the "munin" source.
type Source struct {
	name    string
	logf    func(string, ...any)
	plugins []string
	nodes   []*node
	open    sources.OpenEvents // Poll's alone: the scheduler polls one at a time
}

// node is one munin-node and what it said last.
type node struct {
	addr string

	mu       sync.Mutex
	host     string // from the banner
	graphs   map[string]*Graph
	plugins  []string // the plugins fetched, in order
	configAt time.Time
	prev     map[string]sample // counters' last raw values, by series ID
	// alerts are the fields outside their warning or critical threshold,
	// by series ID: one event from the fetch that crossed it until the
	// one back inside
	alerts map[string]crossing
}

type sample struct {
	v float64
	t time.Time
}

// New builds a munin source.
func New(env sources.Env, o Options) (*Source, error) {
	if len(o.Nodes) == 0 {
		return nil, errors.New("nodes is required (munin-node addresses, host:port)")
	}
	s := &Source{name: env.Name, logf: env.Logf}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	seen := map[string]bool{}
	for _, a := range o.Nodes {
		a = strings.TrimSpace(a)
		if a == "" || strings.ContainsAny(a, "/ \t") {
			return nil, fmt.Errorf("node %q: want host or host:port", sources.Clean(a))
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), DefaultPort)
		}
		if seen[a] {
			return nil, fmt.Errorf("node %s listed twice", a)
		}
		seen[a] = true
		s.nodes = append(s.nodes, &node{addr: a, prev: map[string]sample{}, alerts: map[string]crossing{}})
	}
	for _, p := range o.Plugins {
		if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, " \t\r\n") || p == "" {
			return nil, fmt.Errorf("plugin %q: want a plugin name or a glob", sources.Clean(p))
		}
	}
	s.plugins = o.Plugins
	return s, nil
}

// Poll fetches every node's plugins.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	type result struct {
		series     []sources.Series
		events     []sources.Event
		plugins    int
		thresholds int
		skipped    []string
		err        error
	}
	res := make([]result, len(s.nodes))
	var wg sync.WaitGroup
	for i, n := range s.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &res[i]
			r.series, r.events, r.plugins, r.thresholds, r.skipped, r.err = s.pollNode(ctx, n, now)
		}()
	}
	wg.Wait()
	b := &sources.Batch{At: now}
	var errs []error
	plugins, thresholds, hosts := 0, 0, 0
	var skipped []string
	for i, r := range res {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", s.nodes[i].addr, r.err))
			// a node not answering has not recovered: its alerts stay as they were
			b.Events = append(b.Events, s.nodes[i].openAlerts()...)
			continue
		}
		b.Series = append(b.Series, r.series...)
		b.Events = append(b.Events, r.events...)
		plugins += r.plugins
		thresholds += r.thresholds
		if r.thresholds > 0 {
			hosts++
		}
		skipped = append(skipped, r.skipped...)
	}
	if len(errs) == len(s.nodes) {
		return nil, fmt.Errorf("munin %q: %w", s.name, errors.Join(errs...))
	}
	b.Events = s.open.Close(b.Events, now, "no longer fetched from munin-node: its plugin or field is gone")
	b.Status.Detail = fmt.Sprintf("%d/%d nodes, %d plugins, %d series", len(s.nodes)-len(errs), len(s.nodes), plugins, len(b.Series))
	if thresholds > 0 {
		// munin's thresholds are internal alerting: the gap rule says it checked them
		b.Status.Detail += fmt.Sprintf(", %d thresholds, %d crossed", thresholds, openCount(b.Events))
		b.Status.Watched = &sources.Watched{System: "Munin", Origin: sources.OriginInternal, Hosts: hosts, Services: thresholds, Checks: "threshold"}
	}
	if len(errs) > 0 {
		b.Status.Detail += "; " + sources.Clean(errs[0].Error())
	} else if len(skipped) > 0 {
		b.Status.Detail += "; " + sources.Clean(skipped[0])
	}
	return b, nil
}

// session is one connection to a node, bounded in size and time.
type session struct {
	conn net.Conn
	r    *bufio.Reader
	addr string
}

func dial(ctx context.Context, addr string) (*session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (is munin-node running and listening on %s? see host and port in munin-node.conf)", err, addr)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("no connection before the timeout: %w", err)
		}
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return &session{conn: conn, r: bufio.NewReaderSize(bounded.NewReader(conn, MaxSession, "munin-node "+addr), 16<<10), addr: addr}, nil
}

func (c *session) close() {
	io.WriteString(c.conn, "quit\n")
	c.conn.Close()
}

func (c *session) send(cmd string) error {
	_, err := io.WriteString(c.conn, cmd+"\n")
	return err
}

func (c *session) line(cmd string) (string, error) {
	if err := c.send(cmd); err != nil {
		return "", err
	}
	return readLine(c.r)
}

func (c *session) answer(cmd string) ([]string, error) {
	if err := c.send(cmd); err != nil {
		return nil, err
	}
	return readAnswer(c.r)
}

// ioErr words a failed exchange.
func ioErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no complete answer before the timeout (a slow plugin? fetch fewer plugins, or raise the source's timeout): %w", context.DeadlineExceeded)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the node closed the connection (is this host in munin-node.conf's allow list?): %w", err)
	}
	return err
}

// pollNode fetches one node, asking its configuration first when it is
// unknown or old.
func (s *Source) pollNode(ctx context.Context, n *node, now time.Time) ([]sources.Series, []sources.Event, int, int, []string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	series, judged, plugins, skipped, err := s.fetchNode(ctx, n, now)
	if err != nil {
		return nil, nil, 0, 0, nil, err
	}
	return series, n.judge(judged, now), plugins, len(judged), skipped, nil
}

// fetchNode is one session with a node, n.mu held.
func (s *Source) fetchNode(ctx context.Context, n *node, now time.Time) ([]sources.Series, []reading, int, []string, error) {
	c, err := dial(ctx, n.addr)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	defer c.close()
	// a cancel without a deadline must unblock the reads too
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	banner, err := readLine(c.r)
	if err != nil {
		return nil, nil, 0, nil, ioErr(ctx, err)
	}
	host, ok := strings.CutPrefix(banner, "# munin node at ")
	if !ok {
		return nil, nil, 0, nil, fmt.Errorf("not munin-node: it greets with %q", sources.Clean(clip(banner, 80)))
	}
	n.host = sources.Clean(strings.TrimSpace(host))
	if _, err := c.line("cap multigraph"); err != nil {
		return nil, nil, 0, nil, ioErr(ctx, err)
	}
	var skipped []string
	if n.graphs == nil || now.Sub(n.configAt) > configAge {
		if skipped, err = s.configure(ctx, c, n, now); err != nil {
			return nil, nil, 0, nil, err
		}
	}
	var out []sources.Series
	var judged []reading
	for _, p := range n.plugins {
		lines, err := c.answer("fetch " + p)
		if errors.Is(err, ErrNodeSays) {
			skipped = append(skipped, fmt.Sprintf("fetch %s: %v", p, err))
			continue
		}
		if err != nil {
			return nil, nil, 0, nil, ioErr(ctx, err)
		}
		vals, err := ParseFetch(p, lines)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("fetch %s: %v", p, err))
			continue
		}
		ss, js := n.seriesOf(vals, now)
		out, judged = append(out, ss...), append(judged, js...)
	}
	return out, judged, len(n.plugins), skipped, nil
}

// configure lists the node's plugins, keeps the wanted ones and reads
// their configuration.
func (s *Source) configure(ctx context.Context, c *session, n *node, now time.Time) ([]string, error) {
	list, err := c.line("list")
	if err != nil {
		return nil, ioErr(ctx, err)
	}
	if strings.HasPrefix(list, "#") {
		return nil, fmt.Errorf("list: %w %q", ErrNodeSays, sources.Clean(clip(list, 120)))
	}
	var wanted []string
	for _, p := range strings.Fields(list) {
		if s.wants(p) {
			wanted = append(wanted, p)
		}
	}
	if len(wanted) == 0 {
		return nil, fmt.Errorf("none of plugins %v is among the node's: %s", s.plugins, sources.Clean(clip(list, 200)))
	}
	graphs := map[string]*Graph{}
	var plugins, skipped []string
	for _, p := range wanted {
		lines, err := c.answer("config " + p)
		if errors.Is(err, ErrNodeSays) {
			skipped = append(skipped, fmt.Sprintf("config %s: %v", p, err))
			continue
		}
		if err != nil {
			return nil, ioErr(ctx, err)
		}
		gs, err := ParseConfig(p, lines)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("config %s: %v", p, err))
			continue
		}
		for i := range gs {
			graphs[gs[i].Name] = &gs[i]
		}
		plugins = append(plugins, p)
	}
	n.graphs, n.plugins, n.configAt = graphs, plugins, now
	return skipped, nil
}

func (s *Source) wants(plugin string) bool { return sources.Wanted(s.plugins, plugin) }

// series turns fetched values into series: gauges as they are, DERIVE,
// COUNTER and ABSOLUTE as per-second rates against the previous fetch,
// munin's min and max dropping what it would drop, a cdef's scale applied.
func (n *node) series(vals []Value, now time.Time) []sources.Series {
	out, _ := n.seriesOf(vals, now)
	return out
}

// seriesOf is series, with the readings of the fields that have a
// threshold.
func (n *node) seriesOf(vals []Value, now time.Time) ([]sources.Series, []reading) {
	out := make([]sources.Series, 0, len(vals))
	var judged []reading
	for _, v := range vals {
		g := n.graphs[v.Graph]
		f := newField(v.Field)
		unit := ""
		if g != nil {
			if gf := g.has(v.Field); gf != nil {
				f = *gf
			}
			unit = sources.Clean(Unit(g.VLabel, g.Period))
		}
		at := v.At
		if at.IsZero() {
			at = now
		}
		labels := map[string]string{"node": n.host}
		if l := sources.Clean(f.Label); l != "" && l != v.Field {
			labels["label"] = l // munin's name for people, where it says more than the field's
		}
		sr := sources.Series{
			Name:   sources.Clean(v.Graph + "." + v.Field),
			Labels: labels,
			Unit:   unit,
			Role:   sources.RoleResource,
			Layer:  sources.LayerHost,
			Kind:   sources.SeriesGauge,
			Node:   n.host,
		}
		val := v.V
		if f.Type != "GAUGE" {
			sr.Kind = sources.SeriesRate
			val = n.rate(sr.ID(), f.Type, v.V, at)
		}
		if !math.IsNaN(f.Min) && val < f.Min || !math.IsNaN(f.Max) && val > f.Max {
			val = math.NaN()
		}
		sr.Points = []sources.Point{{T: at, V: val * f.Scale}}
		out = append(out, sr)
		if f.Warning.Set() || f.Critical.Set() {
			// munin judges the value it stores: the rate, before the cdef
			judged = append(judged, reading{id: sr.ID(), name: sr.Name, unit: unit, graph: v.Graph, field: f, v: val, at: at})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, judged
}

// rate is a counter's change per second since the previous fetch; NaN on
// the first fetch and after a reset.
func (n *node) rate(id, typ string, v float64, at time.Time) float64 {
	prev, ok := n.prev[id]
	if math.IsNaN(v) {
		delete(n.prev, id)
		return math.NaN()
	}
	n.prev[id] = sample{v: v, t: at}
	if !ok {
		return math.NaN()
	}
	dt := at.Sub(prev.t).Seconds()
	if dt <= 0 {
		return math.NaN()
	}
	if typ == "ABSOLUTE" { // the plugin resets its counter at every read
		return v / dt
	}
	if v < prev.v {
		return math.NaN() // the counter started over
	}
	return (v - prev.v) / dt
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
