package haproxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

func init() {
	sources.Register(sources.Kind{
		Type:    "haproxy",
		Summary: "HAProxy stats socket (unix or TCP) or stats page (;csv), one load balancer or a fleet; read-only",
		Example: `- name: lb
  type: haproxy
  interval: 5s
  # one of: a unix stats socket, tcp://host:port (stats socket ipv4@…),
  # or the stats page http(s)://host:port/stats (";csv" is added)
  socket: /run/haproxy/admin.sock
  # url: https://lb-1.example.net:8404/stats
  # username: admin
  # password: ${HAPROXY_STATS_PASSWORD}
  # ca_file: /etc/ssl/certs/internal-ca.pem
  # insecure_skip_verify: false
  # a fleet: one entry per load balancer (username/password/ca_file above apply to all)
  # instances:
  #   - {name: lb-1, socket: tcp://10.0.0.11:9999}
  #   - {name: lb-2, url: "http://10.0.0.12:8404/stats"}
  # flap_window: 5m        # DOWN transitions counted over this window…
  # flap_transitions: 3    # …this many make a server "flapping"
  # max_answer_mb: 32
`,
		New: newFromConfig,
	})
}

// Options is the source's part of the config.
type Options struct {
	Socket             string            `yaml:"socket"`
	URL                string            `yaml:"url"`
	Username           string            `yaml:"username"`
	Password           string            `yaml:"password"`
	CAFile             string            `yaml:"ca_file"`
	InsecureSkipVerify bool              `yaml:"insecure_skip_verify"`
	Instances          []InstanceOptions `yaml:"instances"`
	FlapWindow         time.Duration     `yaml:"flap_window"`
	FlapTransitions    int               `yaml:"flap_transitions"`
	MaxAnswerMB        int               `yaml:"max_answer_mb"`
}

// InstanceOptions is one load balancer of a fleet.
type InstanceOptions struct {
	Name               string `yaml:"name"`
	Socket             string `yaml:"socket"`
	URL                string `yaml:"url"`
	Username           string `yaml:"username"`
	Password           string `yaml:"password"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify *bool  `yaml:"insecure_skip_verify"`
}

// Defaults for flap detection.
const (
	DefaultFlapWindow      = 5 * time.Minute
	DefaultFlapTransitions = 3
)

func newFromConfig(env sources.Env, o sources.Options) (sources.Source, error) {
	var opt Options
	if err := o.Decode(&opt); err != nil {
		return nil, err
	}
	s, err := New(env, opt)
	if err != nil {
		return nil, o.Errorf("haproxy %q: %v", env.Name, err)
	}
	return s, nil
}

// NewFromSocket builds a source for one stats socket, for discovery.
func NewFromSocket(name, path string) (sources.Source, error) {
	return New(sources.Env{Name: name}, Options{Socket: path})
}

// Source polls one HAProxy or a fleet.
type Source struct {
	name      string
	logf      func(string, ...any)
	insts     []*instance
	flapWin   time.Duration
	flapN     int
	mu        sync.Mutex
	instFails map[string]*sources.Event
}

// New builds a source from decoded options. It does no network I/O.
func New(env sources.Env, opt Options) (*Source, error) {
	logf := env.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &Source{name: env.Name, logf: logf, flapWin: opt.FlapWindow, flapN: opt.FlapTransitions, instFails: map[string]*sources.Event{}}
	if s.flapWin <= 0 {
		s.flapWin = DefaultFlapWindow
	}
	if s.flapN <= 0 {
		s.flapN = DefaultFlapTransitions
	}
	max := int64(DefaultMaxAnswer)
	if opt.MaxAnswerMB > 0 {
		max = int64(opt.MaxAnswerMB) << 20
	}
	list := opt.Instances
	if len(list) == 0 {
		if opt.Socket != "" && (opt.Username != "" || opt.Password != "" || opt.CAFile != "") {
			return nil, errors.New("username/password/ca_file apply to url only, not to a stats socket")
		}
		list = []InstanceOptions{{Name: env.Name, Socket: opt.Socket, URL: opt.URL}}
	} else if opt.Socket != "" || opt.URL != "" {
		return nil, errors.New("give either socket/url or instances, not both")
	}
	seen := map[string]bool{}
	for i, io := range list {
		if io.Name == "" {
			if len(list) > 1 {
				return nil, fmt.Errorf("instance %d has no name", i+1)
			}
			io.Name = env.Name
		}
		io.Name = sources.Clean(io.Name)
		if seen[io.Name] {
			return nil, fmt.Errorf("instance name %q used twice", io.Name)
		}
		seen[io.Name] = true
		addr := io.Socket
		if io.URL != "" {
			if addr != "" {
				return nil, fmt.Errorf("instance %q: give socket or url, not both", io.Name)
			}
			addr = io.URL
		}
		if addr == "" {
			return nil, fmt.Errorf("instance %q: socket or url is required (e.g. socket: /run/haproxy/admin.sock)", io.Name)
		}
		network, a, err := parseAddress(addr)
		if err != nil {
			return nil, fmt.Errorf("instance %q: %v", io.Name, err)
		}
		in := &instance{name: io.Name, servers: map[string]*serverTrack{}, backends: map[string]*backendTrack{}}
		if network == "http" {
			user, pass, ca, insecure := firstOf(io.Username, opt.Username), firstOf(io.Password, opt.Password), firstOf(io.CAFile, opt.CAFile), opt.InsecureSkipVerify
			if io.InsecureSkipVerify != nil {
				insecure = *io.InsecureSkipVerify
			}
			f, err := newHTTPFetcher(a, user, pass, ca, insecure, max, 30*time.Second)
			if err != nil {
				return nil, fmt.Errorf("instance %q: %v", io.Name, err)
			}
			if insecure && strings.HasPrefix(a, "https://") {
				logf("haproxy %q instance %q: insecure_skip_verify is set: the TLS certificate of %s is NOT checked", env.Name, io.Name, f)
			}
			in.f = f
		} else {
			if io.Username != "" || io.Password != "" || io.CAFile != "" {
				return nil, fmt.Errorf("instance %q: username/password/ca_file apply to url only, not to a stats socket", io.Name)
			}
			in.f = &socketFetcher{network: network, addr: a, max: max}
		}
		s.insts = append(s.insts, in)
	}
	return s, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// instance is one load balancer and what the source remembers of it
// between polls.
type instance struct {
	name         string
	f            fetcher
	levelChecked bool

	prevAt   time.Time
	prev     map[string][numFields]float64 // counters by row key
	pid      int64
	start    int64
	uptime   int64
	servers  map[string]*serverTrack
	backends map[string]*backendTrack
	names    map[string]string
	lastBad  [2]int
	// longRun are the rows' counters per second from HAProxy's start to
	// the first poll, by row key; nil when it had run under LongRunMin
	longRun     map[string]sources.LBRates
	longRunSecs float64
	lastStat    *Stats               // its rows are reused by the next parse
	rateBuf     [][numFields]float64 // the rows' rates, reused by the next poll
}

// intern cleans a proxy or server name and keeps one copy of it across
// polls: the parser's strings point into the whole answer, which must not
// stay alive through a label in the store.
func (in *instance) intern(raw string) string {
	if n, ok := in.names[raw]; ok {
		return n
	}
	if len(in.names) > 1<<16 {
		in.names = nil // names churn: start over rather than grow
	}
	if in.names == nil {
		in.names = map[string]string{}
	}
	n := strings.Clone(sources.Clean(raw))
	in.names[strings.Clone(raw)] = n
	return n
}

type serverTrack struct {
	class    string
	chkdown  float64
	downs    []time.Time // DOWN transitions seen (or counted from chkdown)
	down     *sources.Event
	flap     *sources.Event
	lastSeen time.Time
}

type backendTrack struct {
	noServer *sources.Event
	failover *sources.Event // every active server down, the backups serving
}

// result is one instance's poll, parsed.
type result struct {
	inst *instance
	st   *Stats
	info *Info
	err  error
}

// Poll reads every instance concurrently and turns the answers into a
// batch. With a fleet, a failing instance is reported as an event and in
// the status detail while the others still count; if all fail, Poll fails.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	res := make([]result, len(s.insts))
	var wg sync.WaitGroup
	for i, in := range s.insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = s.fetchOne(ctx, in)
		}()
	}
	wg.Wait()

	rows := 0
	for _, r := range res {
		if r.st != nil {
			rows += len(r.st.Rows)
		}
	}
	// one allocation each, sized for every instance (and the fleet sums)
	b := &sources.Batch{Series: make([]sources.Series, 0, 12*rows+8), Nodes: make([]sources.NodeState, 0, rows+rows/4+1)}
	var errs []error
	var okCount int
	fleet := newFleet()
	for _, r := range res {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", r.inst.name, r.err))
			s.instanceFailing(b, r.inst, now, r.err)
			continue
		}
		okCount++
		s.instanceBack(b, r.inst, now)
		s.process(b, r.inst, r.st, r.info, now, fleet)
	}
	if okCount == 0 {
		if len(errs) == 1 {
			return nil, fmt.Errorf("haproxy %q: %w", s.name, errors.Unwrap(errs[0]))
		}
		return nil, fmt.Errorf("haproxy %q: every instance failed: %w", s.name, errors.Join(errs...))
	}
	if len(s.insts) > 1 {
		fleet.emit(b, now)
	}
	b.Status.Detail = s.detail(b, okCount, errs)
	return b, nil
}

func (s *Source) fetchOne(ctx context.Context, in *instance) result {
	r := result{inst: in}
	a, err := in.f.fetch(ctx)
	if err != nil {
		r.err = err
		return r
	}
	if sf, ok := in.f.(*socketFetcher); ok && !in.levelChecked {
		// once, after the socket proved it answers
		in.levelChecked = true
		if sf.level(ctx) == "admin" {
			s.logf("haproxy %q instance %q: %s is an admin-level socket; opsview only sends `show` commands, but a `level operator` or `level user` socket would be safer", s.name, in.name, sf)
		}
	}
	r.st, err = ParseStatReuse(in.lastStat, a.stat)
	if err != nil {
		r.err = fmt.Errorf("%s: %w", in.f, err)
		return r
	}
	if bad := [2]int{r.st.Skipped, r.st.BadValues}; bad != in.lastBad && (bad[0] > 0 || bad[1] > 0) {
		in.lastBad = bad // logged when it changes, not every poll
		s.logf("haproxy %q instance %q: %d malformed rows skipped, %d unreadable values", s.name, in.name, r.st.Skipped, r.st.BadValues)
	}
	if a.info != nil {
		r.info, err = ParseInfoBytes(a.info)
		if err != nil {
			r.err = fmt.Errorf("%s: %w", in.f, err)
		}
	}
	return r
}

func (s *Source) detail(b *sources.Batch, ok int, errs []error) string {
	var servers, down int
	for _, n := range b.Nodes {
		if n.Kind == sources.NodeServer {
			servers++
			if n.Class == sources.ClassDown {
				down++
			}
		}
	}
	d := fmt.Sprintf("%d servers, %d DOWN", servers, down)
	if len(s.insts) > 1 {
		d = fmt.Sprintf("%d/%d LBs, %s", ok, len(s.insts), d)
	}
	if len(errs) > 0 {
		d += "; " + sources.Clean(errs[0].Error())
	}
	return d
}

func (s *Source) instanceFailing(b *sources.Batch, in *instance, now time.Time, err error) {
	if len(s.insts) < 2 {
		return // a lone instance fails the whole poll; the scheduler shows it
	}
	e := s.instFails[in.name]
	if e == nil {
		e = &sources.Event{ID: in.name + "/unreachable/" + strconv.FormatInt(now.Unix(), 10), Kind: sources.EventAlert, Start: now,
			Severity: sources.SevWarning, Layer: sources.LayerLB, Node: in.name,
			Title:  fmt.Sprintf("load balancer %s: stats unreadable", in.name),
			Labels: map[string]string{"instance": in.name}}
		s.instFails[in.name] = e
	}
	e.Updated = now
	e.Text = sources.CleanText(err.Error())
	b.Events = append(b.Events, *e)
}

func (s *Source) instanceBack(b *sources.Batch, in *instance, now time.Time) {
	if e := s.instFails[in.name]; e != nil {
		e.End, e.Updated = now, now
		b.Events = append(b.Events, *e)
		delete(s.instFails, in.name)
	}
}

// Which counters become rates, and what they mean. Roles: errors, queue
// and DOWN counts are what users feel (symptoms on the LB layer);
// sessions and bytes are traffic. Response and connect times are
// RoleResource: they measure how busy the servers behind HAProxy are (an
// internal cause to line up beside the 5xx), and HAProxy averages them over
// the last 1024 requests, so they are not an error signal by themselves.
type metric struct {
	f    Field
	unit string
	role sources.Role
	on   uint8 // which rows: 1 frontend, 2 backend, 4 server
}

const (
	onF = 1 << iota
	onB
	onS
)

// Servers get a smaller set than frontends and backends: a fleet of 20 LBs
// with 200 servers each must stay well inside the store's series budget;
// the rest of a server's numbers travel in its NodeState.
var counters = []metric{
	{Stot, "sess/s", sources.RoleTraffic, onF | onB | onS},
	{ReqTot, "req/s", sources.RoleTraffic, onF | onB | onS},
	{Bin, "B/s", sources.RoleTraffic, onF | onB},
	{Bout, "B/s", sources.RoleTraffic, onF | onB},
	{Hrsp1xx, "req/s", sources.RoleTraffic, onF | onB},
	{Hrsp2xx, "req/s", sources.RoleTraffic, onF | onB},
	{Hrsp3xx, "req/s", sources.RoleTraffic, onF | onB},
	{Hrsp4xx, "req/s", sources.RoleTraffic, onF | onB},
	{Hrsp5xx, "req/s", sources.RoleSymptom, onF | onB | onS},
	{HrspOther, "req/s", sources.RoleTraffic, onF | onB},
	{Ereq, "req/s", sources.RoleSymptom, onF},
	{Dreq, "req/s", sources.RoleTraffic, onF | onB},
	{Dresp, "req/s", sources.RoleTraffic, onF | onB},
	{Econ, "conn/s", sources.RoleSymptom, onB | onS},
	{Eresp, "req/s", sources.RoleSymptom, onB | onS},
	{Wretr, "req/s", sources.RoleSymptom, onB},
	{Wredis, "req/s", sources.RoleSymptom, onB},
	{CliAbrt, "req/s", sources.RoleTraffic, onB},
	{SrvAbrt, "req/s", sources.RoleSymptom, onB},
	{Chkfail, "checks/s", sources.RoleSymptom, onS},
	{Chkdown, "downs/s", sources.RoleSymptom, onB | onS},
	{Downtime, "s/s", sources.RoleSymptom, onB},
	{ConnTot, "conn/s", sources.RoleTraffic, onF},
}

var gauges = []metric{
	{Scur, "sessions", sources.RoleTraffic, onF | onB | onS},
	{Qcur, "requests", sources.RoleSymptom, onB},
	{Qtime, "ms", sources.RoleResource, onB},
	{Ctime, "ms", sources.RoleResource, onB},
	{Rtime, "ms", sources.RoleResource, onB | onS},
	{Ttime, "ms", sources.RoleResource, onB},
	{CheckDuration, "ms", sources.RoleResource, onS},
}

// every counter field, to detect a reset (a counter going down)
var allCounters = func() []Field {
	var fs []Field
	for _, m := range counters {
		if m.f != Downtime { // downtime is reset by nothing but a restart, yet may be empty
			fs = append(fs, m.f)
		}
	}
	return fs
}()

func onBit(t ObjType) uint8 {
	switch t {
	case TypeFrontend:
		return onF
	case TypeBackend:
		return onB
	case TypeServer:
		return onS
	}
	return 0
}

// classOf reduces a status string to its state word: UP, DOWN, MAINT,
// DRAIN, NOLB, NOCHECK, OPEN, STOP, … ("DOWN 1/2" is still DOWN, going up;
// "UP 1/2" is still UP, going down).
func classOf(status string) string {
	s := strings.TrimSpace(sources.Clean(status))
	if s == "" {
		return ""
	}
	if strings.EqualFold(s, "no check") {
		return "NOCHECK"
	}
	if i := strings.IndexAny(s, " ("); i > 0 {
		s = s[:i]
	}
	return strings.ToUpper(s)
}

// alive reports whether a server in this class can take traffic.
func alive(class string) bool {
	switch class {
	case "UP", "NOCHECK", "DRAIN", "NOLB":
		return true
	}
	return false
}

type backendSum struct {
	up, total, down   int
	backups, backupUp int
	flapping          int
}

// statTable is one instance's answer on its way through the passes of
// process: each row's key and names, and its rates, worked out once.
type statTable struct {
	st     *Stats
	keys   []string // "proxy/server", the row's identity between polls
	px, sv []string // interned proxy and server names
	// rates[i] holds row i's counters per second since the last poll; NaN
	// when there is none (first poll, a new row, a reload)
	rates     [][numFields]float64
	haveRates bool
	sums      map[string]*backendSum // by backend, filled by the server pass
}

// process turns one instance's answer into series, node states and events,
// in passes: reload check → rates, once per row → series → servers →
// frontends and backends → the process itself.
func (s *Source) process(b *sources.Batch, in *instance, st *Stats, info *Info, now time.Time, fl *fleet) {
	a := in.newTable(st)
	reset := s.reloaded(b, in, a, info, now)
	in.rowRates(a, reset, now)
	in.rowSeries(b, a, now, fl)
	s.servers(b, in, a, now)
	s.proxies(b, in, a, now, fl)
	in.processSeries(b, info, now)
	in.longRunRates(b, a, info)
	next := make(map[string][numFields]float64, len(st.Rows))
	for i := range st.Rows {
		next[a.keys[i]] = st.Rows[i].V
	}
	in.prev, in.prevAt = next, now
	in.lastStat = st
}

// longRunRates, at the first poll, takes each row's counters over
// HAProxy's uptime as its long-run rates (when it has run for
// LongRunMin), and puts them on every node of the instance from then on.
func (in *instance) longRunRates(b *sources.Batch, a *statTable, info *Info) {
	if in.prev == nil && in.longRun == nil && info != nil && time.Duration(info.UptimeSec)*time.Second >= sources.LongRunMin {
		secs := float64(info.UptimeSec)
		in.longRun, in.longRunSecs = make(map[string]sources.LBRates, len(a.st.Rows)), secs
		var per [numFields]float64
		for i := range a.st.Rows {
			r := &a.st.Rows[i]
			for f := range per {
				per[f] = math.NaN()
			}
			for _, m := range counters {
				per[m.f] = r.V[m.f] / secs
			}
			in.longRun[a.keys[i]] = lbRates(&per)
		}
	}
	if in.longRun == nil {
		return
	}
	prefix := in.name + "/"
	for i := range b.Nodes {
		n := &b.Nodes[i]
		if n.LB == nil || !strings.HasPrefix(n.ID, prefix) {
			continue
		}
		if lr, ok := in.longRun[n.ID[len(prefix):]]; ok {
			n.LB.LongRun, n.LB.LongRunSecs = lr, in.longRunSecs
		}
	}
}

func (in *instance) newTable(st *Stats) *statTable {
	n := len(st.Rows)
	a := &statTable{st: st, keys: make([]string, n), px: make([]string, n), sv: make([]string, n), sums: map[string]*backendSum{}}
	for i := range st.Rows {
		r := &st.Rows[i]
		a.px[i], a.sv[i] = in.intern(r.Proxy), in.intern(r.Server)
		a.keys[i] = a.px[i] + "/" + a.sv[i]
	}
	return a
}

// reloaded tells whether HAProxy reloaded or restarted (or its counters
// were cleared) since the last poll, and if so adds the reload event: a new
// pid or start time, an uptime going back, or a counter going down.
func (s *Source) reloaded(b *sources.Batch, in *instance, a *statTable, info *Info, now time.Time) bool {
	reset, why, byCounters := false, "", false
	if info != nil {
		switch {
		case in.pid != 0 && info.Pid != in.pid:
			reset, why = true, fmt.Sprintf("pid %d → %d", in.pid, info.Pid)
		case in.start != 0 && info.StartTimeSec != 0 && info.StartTimeSec != in.start:
			reset, why = true, "start time changed"
		case in.pid != 0 && info.UptimeSec < in.uptime:
			reset, why = true, fmt.Sprintf("uptime %ds → %ds", in.uptime, info.UptimeSec)
		}
		in.pid, in.start, in.uptime = info.Pid, info.StartTimeSec, info.UptimeSec
	}
	if !reset && in.prev != nil {
		why, reset = counterWentDown(in, a)
		byCounters = reset
	}
	if !reset {
		return false
	}
	e := sources.Event{ID: in.name + "/reload/" + strconv.FormatInt(now.UnixMilli(), 10), Kind: sources.EventReload, Start: now, End: now, Updated: now,
		Severity: sources.SevInfo, Layer: sources.LayerLB, Node: in.name,
		Title:  fmt.Sprintf("haproxy reloaded on %s", in.name),
		Text:   sources.CleanText(why) + "; counters restarted, one rate interval skipped",
		Labels: map[string]string{"instance": in.name}}
	if byCounters { // no pid to go by: a reload, a restart or `clear counters all`
		e.Title = fmt.Sprintf("haproxy reloaded or counters cleared on %s", in.name)
	}
	if info != nil && info.Version != "" {
		e.Text += "; version " + sources.Clean(info.Version)
	}
	b.Events = append(b.Events, e)
	return true
}

// counterWentDown finds the first counter lower than at the last poll.
func counterWentDown(in *instance, a *statTable) (string, bool) {
	for i := range a.st.Rows {
		p, ok := in.prev[a.keys[i]]
		if !ok {
			continue
		}
		for _, f := range allCounters {
			if v := a.st.Rows[i].V[f]; v < p[f] { // NaN compares false
				return fmt.Sprintf("%s %s went down (%v → %v)", a.keys[i], f, p[f], v), true
			}
		}
	}
	return "", false
}

// rowRates works out every row's counter rates, once for all the passes.
func (in *instance) rowRates(a *statTable, reset bool, now time.Time) {
	dt := now.Sub(in.prevAt).Seconds()
	a.haveRates = in.prev != nil && !reset && dt > 0
	if cap(in.rateBuf) < len(a.st.Rows) {
		in.rateBuf = make([][numFields]float64, len(a.st.Rows))
	}
	a.rates = in.rateBuf[:len(a.st.Rows)]
	for i := range a.st.Rows {
		rs := &a.rates[i]
		for f := range rs {
			rs[f] = math.NaN()
		}
		if !a.haveRates {
			continue
		}
		if p, ok := in.prev[a.keys[i]]; ok {
			r := &a.st.Rows[i]
			for _, m := range counters {
				rs[m.f] = (r.V[m.f] - p[m.f]) / dt
			}
		}
	}
}

// rowSeries adds each frontend's, backend's and server's series: the
// counters as rates (from the second poll on) and the gauges.
func (in *instance) rowSeries(b *sources.Batch, a *statTable, now time.Time, fl *fleet) {
	for i := range a.st.Rows {
		r := &a.st.Rows[i]
		bit := onBit(r.Type)
		if bit == 0 {
			continue // listeners
		}
		px, sv := a.px[i], a.sv[i]
		labels := map[string]string{"instance": in.name}
		node := px
		switch r.Type {
		case TypeFrontend:
			labels["frontend"] = px
		case TypeBackend:
			labels["backend"] = px
		case TypeServer:
			labels["backend"] = px
			labels["server"] = sv
			node = sv
		}
		for _, m := range counters {
			if m.on&bit == 0 || !a.haveRates {
				continue
			}
			v := a.rates[i][m.f]
			if math.IsNaN(v) && math.IsNaN(r.V[m.f]) {
				continue // the column does not exist for this row
			}
			b.Series = append(b.Series, series(m, labels, node, now, v).Series)
		}
		for _, m := range gauges {
			if m.on&bit == 0 || math.IsNaN(r.V[m.f]) {
				continue
			}
			b.Series = append(b.Series, series(m, labels, node, now, r.V[m.f]).Series)
		}
		if r.Type == TypeBackend {
			if a.sums[px] == nil {
				a.sums[px] = &backendSum{}
			}
			fl.addBackend(px, r, &a.rates[i], a.haveRates)
		}
	}
}

// servers follows each server's state (events, flapping), adds its node
// state and counts it in its backend's sums; servers gone from the
// configuration end their open events.
func (s *Source) servers(b *sources.Batch, in *instance, a *statTable, now time.Time) {
	seen := map[string]bool{}
	for i := range a.st.Rows {
		r := &a.st.Rows[i]
		if r.Type != TypeServer {
			continue
		}
		px, sv, key := a.px[i], a.sv[i], a.keys[i]
		seen[key] = true
		class := classOf(r.Status)
		flaps, flapping := s.track(b, in, key, px, sv, r, class, now, a.haveRates)
		bs := a.sums[px]
		if bs == nil {
			bs = &backendSum{}
			a.sums[px] = bs
		}
		bs.add(class, r.V[Bck] == 1, flapping)
		n := serverNode(in.name, px, sv, r, class, now, &a.rates[i])
		n.Flaps, n.FlapWindow, n.Flapping = flaps, s.flapWin, flapping
		if flapping && n.Severity < sources.SevWarning {
			n.Severity = sources.SevWarning
		}
		b.Nodes = append(b.Nodes, n)
	}
	in.forgetServers(b, seen, now)
}

// add counts one server in its backend's sums.
func (bs *backendSum) add(class string, backup, flapping bool) {
	bs.total++
	if backup {
		bs.backups++
	}
	if alive(class) {
		if backup {
			bs.backupUp++
		}
		bs.up++
	}
	if class == "DOWN" {
		bs.down++
	}
	if flapping {
		bs.flapping++
	}
}

// forgetServers ends the open events of servers no longer in the answer:
// removed at runtime (`del server`) or by a reload with a new config.
func (in *instance) forgetServers(b *sources.Batch, seen map[string]bool, now time.Time) {
	for k, t := range in.servers {
		if seen[k] {
			continue
		}
		for _, e := range []*sources.Event{t.down, t.flap} {
			if e != nil {
				e.End, e.Updated = now, now
				e.Text += "\nthe server is no longer in HAProxy's configuration"
				b.Events = append(b.Events, *e)
			}
		}
		delete(in.servers, k)
	}
}

// proxies adds the frontends' and backends' node states, each backend's
// servers up and down, and its "no server UP" event; backends gone from
// the configuration end theirs.
func (s *Source) proxies(b *sources.Batch, in *instance, a *statTable, now time.Time, fl *fleet) {
	for i := range a.st.Rows {
		r := &a.st.Rows[i]
		px := a.px[i]
		switch r.Type {
		case TypeFrontend:
			b.Nodes = append(b.Nodes, frontendNode(in.name, px, r, now, &a.rates[i]))
		case TypeBackend:
			bs := a.sums[px]
			b.Nodes = append(b.Nodes, backendNode(in.name, px, r, now, &a.rates[i], bs))
			s.trackBackend(b, in, px, r, bs, now)
			labels := map[string]string{"instance": in.name, "backend": px}
			b.Series = append(b.Series,
				series(metric{unit: "servers", role: sources.RoleSymptom}, labels, px, now, float64(bs.down)).named("servers_down"),
				series(metric{unit: "servers", role: sources.RoleTraffic}, labels, px, now, float64(bs.up)).named("servers_up"))
			fl.addCounts(px, bs)
		}
	}
	for px, t := range in.backends {
		if _, ok := a.sums[px]; ok {
			continue
		}
		for _, e := range []*sources.Event{t.noServer, t.failover} {
			if e != nil {
				e.End, e.Updated = now, now
				e.Text += "\nthe backend is no longer in HAProxy's configuration"
				b.Events = append(b.Events, *e)
			}
		}
		delete(in.backends, px)
	}
}

// processSeries adds the HAProxy process's own series from `show info`.
func (in *instance) processSeries(b *sources.Batch, info *Info, now time.Time) {
	if info == nil {
		return
	}
	labels := map[string]string{"instance": in.name}
	idle := series(metric{unit: "%", role: sources.RoleResource}, labels, in.name, now, info.Idle).named("haproxy_idle_pct")
	idle.Kind, idle.Harm = sources.SeriesRatio, sources.HarmDown // less idle time is a busier process
	b.Series = append(b.Series, idle,
		series(metric{unit: "conns", role: sources.RoleTraffic}, labels, in.name, now, info.CurrConns).named("haproxy_current_conns"))
}

type namedSeries struct{ sources.Series }

func (n namedSeries) named(name string) sources.Series { n.Name = name; return n.Series }

// series makes a one-point series. The series of one row share its labels
// map: nobody may change Labels after the batch is built. HAProxy's
// counters become rates, the rest are levels; what users feel and what
// the servers spend hurts going up, traffic either way.
func series(m metric, labels map[string]string, node string, at time.Time, v float64) namedSeries {
	kind, harm := sources.SeriesGauge, sources.HarmUp
	if isCounter[m.f] {
		kind = sources.SeriesRate
	}
	if m.role == sources.RoleTraffic {
		harm = sources.HarmBoth
	}
	return namedSeries{sources.Series{Name: m.f.String(), Labels: labels, Unit: m.unit, Role: m.role, Layer: sources.LayerLB,
		Node: node, Kind: kind, Harm: harm, Points: onePoint(at, v)}}
}

// isCounter marks the fields that are read as counters and sent as rates.
var isCounter = func() (c [numFields]bool) {
	for _, m := range counters {
		c[m.f] = true
	}
	return c
}()

// points hands out one-point slices from shared blocks: a big fleet makes
// tens of thousands of them per poll.
var points struct {
	sync.Mutex
	block []sources.Point
}

func onePoint(at time.Time, v float64) []sources.Point {
	points.Lock()
	defer points.Unlock()
	if len(points.block) == 0 {
		points.block = make([]sources.Point, 4096)
	}
	p := points.block[:1:1]
	points.block = points.block[1:]
	p[0] = sources.Point{T: at, V: v}
	return p
}

// serverPoll is one server's row in one poll on its way through track.
// The words of its events are made only when there is an event: this runs
// for every server of every LB at every poll.
type serverPoll struct {
	key, px, sv, inst string
	r                 *Row
	class             string
	now, changedAt    time.Time

	labels          map[string]string
	what, checkText string
}

func (p *serverPoll) texts(fleet bool) {
	if p.labels != nil {
		return
	}
	p.labels = map[string]string{"instance": p.inst, "backend": p.px, "server": p.sv}
	p.what = "server " + p.px + "/" + p.sv
	if fleet {
		p.what += " on " + p.inst
	}
	p.checkText = checkTextOf(p.r)
}

func (p *serverPoll) event(kind sources.EventKind, what string, at time.Time, sev sources.Severity) *sources.Event {
	return &sources.Event{ID: p.key + "@" + p.inst + "/" + what + "/" + strconv.FormatInt(at.Unix(), 10), Kind: kind, Start: at, Updated: p.now,
		Severity: sev, Layer: sources.LayerLB, Node: p.sv, Labels: p.labels}
}

// track follows one server's state between polls and emits its events.
// It returns the server's DOWN transitions in the flap window, and whether
// that makes it flapping (or it still is, inside the window of its flapping).
func (s *Source) track(b *sources.Batch, in *instance, key, px, sv string, r *Row, class string, now time.Time, haveRates bool) (int, bool) {
	p := &serverPoll{key: key, px: px, sv: sv, inst: in.name, r: r, class: class, now: now, changedAt: now}
	if lc := r.V[Lastchg]; !math.IsNaN(lc) && lc >= 0 {
		p.changedAt = now.Add(-time.Duration(lc) * time.Second).Truncate(time.Second)
	}
	fleet := len(s.insts) > 1
	t := in.servers[key]
	if t == nil {
		t = &serverTrack{class: class, chkdown: r.V[Chkdown]}
		in.servers[key] = t
		if class == "DOWN" { // already DOWN when first seen
			p.texts(fleet)
			t.down = p.event(sources.EventState, "down", p.changedAt, sources.SevWarning)
			t.down.Title, t.down.Text = p.what+" DOWN", p.checkText
			b.Events = append(b.Events, *t.down)
		}
	}
	t.lastSeen = now
	if class != t.class && t.class != "" {
		p.texts(fleet)
		t.changed(b, p)
	}
	// DOWN transitions HAProxy counted that the polls did not see (a flap
	// shorter than the interval)
	if cd := r.V[Chkdown]; !math.IsNaN(cd) && !math.IsNaN(t.chkdown) && cd > t.chkdown && haveRates {
		missed := int(cd-t.chkdown) - btoi(class == "DOWN" && t.class != "DOWN")
		for i := 0; i < missed && i < 100; i++ {
			t.downs = append(t.downs, now)
		}
	}
	t.chkdown = r.V[Chkdown]
	t.class = class
	return s.flapping(b, t, p, fleet)
}

// changed tells a server's change of state: a DOWN event opens, or the
// open one ends and the new state is an event of its own.
func (t *serverTrack) changed(b *sources.Batch, p *serverPoll) {
	prev := t.class
	if p.class == "DOWN" {
		t.downs = append(t.downs, p.changedAt)
		t.down = p.event(sources.EventState, "down", p.changedAt, sources.SevWarning)
		t.down.Title, t.down.Text = p.what+" DOWN", "was "+prev+"; "+p.checkText
		b.Events = append(b.Events, *t.down)
		return
	}
	if t.down != nil {
		t.down.End, t.down.Updated = p.changedAt, p.now
		t.down.Text += fmt.Sprintf("\nnow %s after %s DOWN; %s", sources.Clean(p.r.Status), p.changedAt.Sub(t.down.Start).Round(time.Second), p.checkText)
		b.Events = append(b.Events, *t.down)
		t.down = nil
	}
	sev := sources.SevInfo
	if p.class == "UP" || p.class == "NOCHECK" {
		sev = sources.SevOK
	}
	e := p.event(sources.EventState, strings.ToLower(p.class), p.changedAt, sev)
	e.End, e.Title, e.Text = p.changedAt, fmt.Sprintf("%s %s → %s", p.what, prev, sources.Clean(p.r.Status)), p.checkText
	b.Events = append(b.Events, *e)
}

// flapping counts a server's DOWN transitions within the flap window and
// opens, updates or ends its flapping event.
func (s *Source) flapping(b *sources.Batch, t *serverTrack, p *serverPoll, fleet bool) (int, bool) {
	cut := p.now.Add(-s.flapWin)
	for len(t.downs) > 0 && t.downs[0].Before(cut) {
		t.downs = t.downs[1:]
	}
	n := len(t.downs)
	if n >= s.flapN {
		p.texts(fleet)
		if t.flap == nil {
			t.flap = p.event(sources.EventFlapping, "flap", t.downs[0], sources.SevWarning)
		}
		title := fmt.Sprintf("%s flapping: %d DOWN transitions in %s", p.what, n, s.flapWin)
		if title != t.flap.Title {
			t.flap.Title, t.flap.Updated = title, p.now
			t.flap.Text = fmt.Sprintf("went DOWN %d times since %s (chkdown %v); %s", n, t.downs[0].UTC().Format("15:04:05"), p.r.V[Chkdown], p.checkText)
			b.Events = append(b.Events, *t.flap)
		}
		return n, true
	}
	if t.flap != nil && n == 0 {
		t.flap.End, t.flap.Updated = p.now, p.now
		t.flap.Text += fmt.Sprintf("\nstable again: no DOWN in the last %s", s.flapWin)
		b.Events = append(b.Events, *t.flap)
		t.flap = nil
	}
	// still inside the window of the flapping: keep the mark
	return n, t.flap != nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkTextOf(r *Row) string {
	var parts []string
	if r.CheckStatus != "" {
		parts = append(parts, "check "+sources.Clean(r.CheckStatus))
	}
	if r.LastChk != "" {
		parts = append(parts, sources.Clean(r.LastChk))
	}
	if r.CheckDesc != "" && r.CheckDesc != r.LastChk {
		parts = append(parts, "("+sources.Clean(r.CheckDesc)+")")
	}
	if len(parts) == 0 {
		return "no health check result"
	}
	return strings.Join(parts, ": ")
}

// trackBackend follows a backend's servers between polls: the backend
// with no server UP at all, and the backend failed over to its backup
// servers, each an event open while it lasts.
func (s *Source) trackBackend(b *sources.Batch, in *instance, px string, r *Row, bs *backendSum, now time.Time) {
	t := in.backends[px]
	if t == nil {
		t = &backendTrack{}
		in.backends[px] = t
	}
	what := "backend " + px
	if len(s.insts) > 1 {
		what += " on " + in.name
	}
	start := now
	if lc := r.V[Lastchg]; !math.IsNaN(lc) && lc >= 0 {
		start = now.Add(-time.Duration(lc) * time.Second).Truncate(time.Second)
	}
	labels := func() map[string]string { return map[string]string{"instance": in.name, "backend": px} }
	if bs.total > 0 && bs.up == 0 {
		if t.noServer == nil {
			t.noServer = &sources.Event{ID: px + "@" + in.name + "/no-server-up/" + strconv.FormatInt(start.Unix(), 10), Kind: sources.EventAlert,
				Start: start, Updated: now, Severity: sources.SevCritical, Layer: sources.LayerLB, Node: px, Labels: labels(),
				Title: fmt.Sprintf("%s has no server UP (Active: 0/%d)", what, bs.total),
				Text:  "every request to it fails (HAProxy answers 503)"}
			b.Events = append(b.Events, *t.noServer)
		}
	} else if t.noServer != nil {
		t.noServer.End, t.noServer.Updated = now, now
		t.noServer.Text += fmt.Sprintf("\nservers back: Active %d/%d", bs.up, bs.total)
		b.Events = append(b.Events, *t.noServer)
		t.noServer = nil
	}
	active, activeUp := bs.total-bs.backups, bs.up-bs.backupUp
	if active > 0 && activeUp == 0 && bs.backupUp > 0 {
		if t.failover == nil {
			t.failover = &sources.Event{ID: px + "@" + in.name + "/failover/" + strconv.FormatInt(start.Unix(), 10), Kind: sources.EventFailover,
				Start: start, Updated: now, Severity: sources.SevWarning, Layer: sources.LayerLB, Node: px, Labels: labels(),
				Title: fmt.Sprintf("%s failed over to its backup servers (Active: 0/%d, backup UP: %d)", what, active, bs.backupUp),
				Text:  "no active server is UP: HAProxy sends the traffic to the backup servers"}
			b.Events = append(b.Events, *t.failover)
		}
	} else if t.failover != nil {
		t.failover.End, t.failover.Updated = now, now
		t.failover.Text += fmt.Sprintf("\nactive servers back: %d/%d UP", activeUp, active)
		b.Events = append(b.Events, *t.failover)
		t.failover = nil
	}
}

func since(now time.Time, r *Row) time.Time {
	lc := r.V[Lastchg]
	if math.IsNaN(lc) || lc < 0 {
		return time.Time{}
	}
	return now.Add(-time.Duration(lc) * time.Second)
}

// stateClass says what HAProxy's state word means.
func stateClass(class string) sources.StateClass {
	switch class {
	case "UP", "NOCHECK", "OPEN", "WAITING":
		return sources.ClassUp
	case "DOWN", "STOP":
		return sources.ClassDown
	case "MAINT", "PAUSED":
		return sources.ClassMaint
	case "DRAIN", "NOLB":
		return sources.ClassDrain
	case "FULL":
		return sources.ClassDegraded
	}
	return sources.ClassUnknown
}

// checkFailed reports whether a check_status is a failed check ("* "
// marks a check still running, with the previous result).
func checkFailed(status string) bool {
	switch strings.TrimPrefix(strings.TrimSpace(status), "* ") {
	case "L4TOUT", "L4CON", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7STS", "SOCKERR", "PROCERR", "PROCTOUT":
		return true
	}
	return false
}

func modeOf(mode string) sources.LBMode {
	switch strings.TrimSpace(mode) {
	case "http":
		return sources.LBModeHTTP
	case "tcp":
		return sources.LBModeTCP
	}
	return sources.LBModeUnknown
}

// lbFigures are a row's figures as the model has them: gauges as read,
// counters as rates (NaN where HAProxy gives none for the row).
func lbFigures(px string, r *Row, rates *[numFields]float64) *sources.LBNode {
	return &sources.LBNode{Proxy: px, Mode: modeOf(r.Mode), Check: sources.LBCheck{Duration: r.V[CheckDuration]},
		Sessions: r.V[Scur], SessionLimit: r.V[Slim], Queue: r.V[Qcur], Weight: r.V[Weight], ResponseTime: r.V[Rtime],
		Downs: r.V[Chkdown], Downtime: r.V[Downtime], Rates: lbRates(rates), LongRun: sources.NewLBNode(px).LongRun}
}

func lbRates(r *[numFields]float64) sources.LBRates {
	return sources.LBRates{Sessions: r[Stot], Requests: r[ReqTot], Resp4xx: r[Hrsp4xx], Resp5xx: r[Hrsp5xx],
		BadRequests: r[Ereq], ConnErrors: r[Econ], RespErrors: r[Eresp], Retries: r[Wretr],
		Redispatches: r[Wredis], BytesIn: r[Bin], BytesOut: r[Bout], Downs: r[Chkdown]}
}

func serverNode(inst, px, sv string, r *Row, class string, now time.Time, rates *[numFields]float64) sources.NodeState {
	lb := lbFigures(px, r, rates)
	lb.Addr, lb.Backup = sources.Clean(r.Addr), r.V[Bck] == 1
	lb.Check.Status, lb.Check.Failed = sources.Clean(r.CheckStatus), checkFailed(r.CheckStatus)
	lb.Check.Last, lb.Check.Desc = sources.Clean(r.LastChk), sources.Clean(r.CheckDesc)
	n := sources.NodeState{Kind: sources.NodeServer, ID: inst + "/" + px + "/" + sv, Name: sv, Parent: inst + "/" + px + "/BACKEND", Instance: inst,
		Layer: sources.LayerLB, State: sources.Clean(r.Status), Class: stateClass(class), Since: since(now, r), LB: lb}
	switch class {
	case "DOWN":
		n.Severity = sources.SevWarning
	case "MAINT", "DRAIN", "NOLB":
		n.Severity = sources.SevInfo
	case "UP", "NOCHECK":
		n.Severity = sources.SevOK
		if strings.Contains(r.Status, "/") { // "UP 1/3": failing checks, going down
			n.Severity = sources.SevInfo
		}
	default:
		n.Severity = sources.SevInfo
	}
	return n
}

func frontendNode(inst, px string, r *Row, now time.Time, rates *[numFields]float64) sources.NodeState {
	class := classOf(r.Status)
	n := sources.NodeState{Kind: sources.NodeFrontend, ID: inst + "/" + px + "/FRONTEND", Name: px, Instance: inst, Layer: sources.LayerLB,
		State: sources.Clean(r.Status), Class: stateClass(class), LB: lbFigures(px, r, rates)}
	switch class {
	case "OPEN", "":
		n.Severity = sources.SevOK
	case "FULL":
		n.Severity = sources.SevWarning
	default: // STOP, PAUSED (during a reload)
		n.Severity = sources.SevInfo
	}
	return n
}

// CheckLine is the classic Nagios check line of a backend.
func CheckLine(px string, up, total int, scur, slim float64) string {
	line := fmt.Sprintf("%s (Active: %d/%d)", px, up, total)
	if !math.IsNaN(scur) {
		if !math.IsNaN(slim) && slim > 0 {
			line += fmt.Sprintf(" sessions %g/%g", scur, slim)
		} else {
			line += fmt.Sprintf(" sessions %g", scur)
		}
	}
	return line
}

func backendNode(inst, px string, r *Row, now time.Time, rates *[numFields]float64, bs *backendSum) sources.NodeState {
	if bs == nil {
		bs = &backendSum{}
	}
	class := classOf(r.Status)
	lb := lbFigures(px, r, rates)
	lb.Algo = sources.Clean(r.Algo)
	lb.Up, lb.Total, lb.Down, lb.Flapping = bs.up, bs.total, bs.down, bs.flapping
	n := sources.NodeState{Kind: sources.NodeBackend, ID: inst + "/" + px + "/BACKEND", Name: px, Instance: inst, Layer: sources.LayerLB,
		State: sources.Clean(r.Status), Class: stateClass(class), Since: since(now, r), LB: lb,
		Attrs: map[string]string{"check": CheckLine(px, bs.up, bs.total, r.V[Scur], r.V[Slim])}}
	switch {
	case bs.total > 0 && bs.up == 0, bs.total == 0 && class == "DOWN":
		n.Severity = sources.SevCritical
	case bs.down > 0, bs.flapping > 0:
		n.Severity = sources.SevWarning
	}
	return n
}

// fleet sums backends across instances.
type fleet struct {
	order []string
	by    map[string]*fleetBackend
}

type fleetBackend struct {
	n         int
	ratesOK   bool
	rates     [numFields]float64
	scur      float64
	slim      float64
	qcur      float64
	up, total int
	down      int
	flapping  int
}

func newFleet() *fleet { return &fleet{by: map[string]*fleetBackend{}} }

func (f *fleet) get(px string) *fleetBackend {
	b := f.by[px]
	if b == nil {
		b = &fleetBackend{ratesOK: true}
		f.by[px] = b
		f.order = append(f.order, px)
	}
	return b
}

func (f *fleet) addBackend(px string, r *Row, rates *[numFields]float64, have bool) {
	b := f.get(px)
	b.n++
	if !have {
		b.ratesOK = false
	}
	for _, m := range counters {
		b.rates[m.f] += nz(rates[m.f])
	}
	b.scur += nz(r.V[Scur])
	b.slim += nz(r.V[Slim])
	b.qcur += nz(r.V[Qcur])
}

func (f *fleet) addCounts(px string, bs *backendSum) {
	b := f.get(px)
	b.up += bs.up
	b.total += bs.total
	b.down += bs.down
	b.flapping += bs.flapping
}

func nz(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// emit adds the fleet-wide series (labels without instance) and one
// backend node per backend name, summed over the instances that have it.
func (f *fleet) emit(b *sources.Batch, now time.Time) {
	sort.Strings(f.order)
	for _, px := range f.order {
		fb := f.by[px]
		labels := map[string]string{"backend": px}
		if fb.ratesOK {
			for _, m := range counters {
				if m.on&onB != 0 {
					b.Series = append(b.Series, series(m, labels, px, now, fb.rates[m.f]).Series)
				}
			}
		}
		b.Series = append(b.Series,
			series(metric{f: Scur, unit: "sessions", role: sources.RoleTraffic}, labels, px, now, fb.scur).Series,
			series(metric{f: Qcur, unit: "requests", role: sources.RoleSymptom}, labels, px, now, fb.qcur).Series,
			series(metric{unit: "servers", role: sources.RoleSymptom}, labels, px, now, float64(fb.down)).named("servers_down"),
			series(metric{unit: "servers", role: sources.RoleTraffic}, labels, px, now, float64(fb.up)).named("servers_up"))
		b.Nodes = append(b.Nodes, fb.node(px))
	}
}

// node is the fleet's backend node: the figures summed over the load
// balancers that have the backend.
func (fb *fleetBackend) node(px string) sources.NodeState {
	lb := sources.NewLBNode(px)
	lb.Instances, lb.Up, lb.Total, lb.Down, lb.Flapping = fb.n, fb.up, fb.total, fb.down, fb.flapping
	lb.Sessions, lb.SessionLimit, lb.Queue = fb.scur, fb.slim, fb.qcur
	if fb.ratesOK {
		lb.Rates = lbRates(&fb.rates)
	}
	n := sources.NodeState{Kind: sources.NodeBackend, ID: "fleet/" + px + "/BACKEND", Name: px, Layer: sources.LayerLB,
		State: "UP", Class: sources.ClassUp, LB: lb,
		Attrs: map[string]string{"check": CheckLine(px, fb.up, fb.total, fb.scur, fb.slim) + fmt.Sprintf(" on %d LBs", fb.n)}}
	switch {
	case fb.total > 0 && fb.up == 0:
		n.State, n.Class, n.Severity = "DOWN", sources.ClassDown, sources.SevCritical
	case fb.down > 0, fb.flapping > 0:
		n.Severity = sources.SevWarning
	}
	return n
}
