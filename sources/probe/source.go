package probe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

func init() {
	sources.Register(sources.Kind{
		Type:    "probe",
		Summary: "path probes (traceroute rounds) to targets from one or several vantage points",
		Example: `- name: paths
  type: probe
  targets: [203.0.113.10, api.example.com]
  interval: 5s            # how often opsview collects the rounds
  probe_interval: 1s      # between probe rounds, at every vantage; keep ≤ 1 probe/s per hop
  # probe_timeout: 1s     # how long a round waits for answers (default: the smaller of 1s and probe_interval)
  # backend: auto         # auto | raw-icmp | ping | udp | icmp
  # tcp_port: 443         # end-to-end TCP probe when only UDP is permitted
  # flows: 4              # probe flows taken in turn, to see the branches of load balancers
  vantages:
    - name: bastion1
      type: local
    - name: bastion2      # runs opsview's own probe mode over ssh
      type: exec
      command: ssh -o BatchMode=yes bastion2
      # opsview: /usr/local/bin/opsview   # the program on the far side (default opsview)
      # backend: udp                      # what that side may use (unprivileged: udp)
    - name: oldbox        # no opsview there: parse mtr --raw
      type: mtr
      command: ssh -o BatchMode=yes oldbox
    - name: dc-east       # an opsview agent
      type: agent
      url: http://10.0.0.5:9475
      token_file: ~/.config/opsview/agent.token
  # asn_file: /usr/share/opsview/ipasn.tsv   # prefix<TAB>asn[<TAB>name]
  # asn_overrides: {"10.2.0.0/16": "AS65002 carrier"}
`,
		New: newSource,
	})
}

// VantageOptions configure one vantage point.
type VantageOptions struct {
	Name string `yaml:"name"`
	// Type: local (default), exec, mtr or agent.
	Type string `yaml:"type"`
	// Command is a prefix run before the probe command (exec, mtr):
	// "ssh -o BatchMode=yes bastion2", "ip netns exec vp1".
	Command string `yaml:"command"`
	// Opsview is the probe program on the far side (exec; default
	// "opsview"). It is run as `<command> <opsview> probe --json …`.
	Opsview   string `yaml:"opsview"`
	Mtr       string `yaml:"mtr"` // mtr binary for type mtr (default "mtr")
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"`
	Backend   string `yaml:"backend"`
}

// Options are the probe source's options.
type Options struct {
	Targets []string `yaml:"targets"`
	// Interval is the time between probe rounds and Timeout how long a
	// round waits for answers, at every vantage point (exec and mtr ones
	// get them on their command line; an agent has its own). They are
	// not the source's interval and timeout, which pace the polls.
	Interval time.Duration `yaml:"probe_interval"`
	Timeout  time.Duration `yaml:"probe_timeout"`
	Backend  string        `yaml:"backend"`
	MaxTTL   int           `yaml:"max_ttl"`
	TCPPort  int           `yaml:"tcp_port"`
	// Flows is how many probe flows the rounds take turns on (default
	// 4): each keeps to one branch of a load balancer, so flows that part
	// at a hop show its branches.
	Flows        int               `yaml:"flows"`
	Vantages     []VantageOptions  `yaml:"vantages"`
	ASNFile      string            `yaml:"asn_file"`
	ASNOverrides map[string]string `yaml:"asn_overrides"`
	ReverseDNS   *bool             `yaml:"reverse_dns"`
}

// Source is the "probe" source: it keeps vantage runners going in the
// background and returns, per poll, one PathTrace per (vantage, target)
// covering the rounds since the previous poll.
type Source struct {
	env  sources.Env
	opt  Options
	asn  *ASNTable
	rdns *Resolver

	mu       sync.Mutex
	started  bool
	ctx      context.Context
	cancel   context.CancelFunc
	vantages []*vantage
}

type vantage struct {
	opt       VantageOptions
	mu        sync.Mutex
	stats     map[string]*PathStats // by target
	err       error                 // why the runner stopped, nil while running
	done      chan struct{}
	since     time.Time // agent: newest round seen
	lastRound time.Time // when the newest round arrived (or the runner started)
}

func newSource(env sources.Env, o sources.Options) (sources.Source, error) {
	var opt Options
	if err := o.Decode(&opt); err != nil {
		return nil, err
	}
	if len(opt.Targets) == 0 {
		return nil, o.Errorf("probe: targets is required (addresses or names to probe)")
	}
	for _, t := range opt.Targets {
		if strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t;|&$`'\"\\<>") {
			return nil, o.Errorf("probe: target %q is not an address or host name", sources.Clean(t))
		}
	}
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.Interval < 100*time.Millisecond {
		return nil, o.Errorf("probe: probe_interval %s is too short (at least 100ms; routers rate-limit ICMP)", opt.Interval)
	}
	if opt.Timeout < 0 || opt.Timeout > 30*time.Second {
		return nil, o.Errorf("probe: probe_timeout %s: want between 0 (the default) and 30s", opt.Timeout)
	}
	if opt.Flows < 0 || opt.Flows > maxFlows {
		return nil, o.Errorf("probe: flows %d: want 1 to %d", opt.Flows, maxFlows)
	}
	switch opt.Backend {
	case "", BackendAuto, BackendRaw, BackendPing, BackendUDP, "icmp":
	default:
		return nil, o.Errorf("probe: unknown backend %q (have auto, raw-icmp, ping, udp, icmp)", opt.Backend)
	}
	if len(opt.Vantages) == 0 {
		opt.Vantages = []VantageOptions{{Name: "local", Type: "local"}}
	}
	if err := NameVantages(opt.Vantages); err != nil {
		return nil, o.Errorf("probe: %v", err)
	}
	for i := range opt.Vantages {
		v := &opt.Vantages[i]
		switch v.Type {
		case "local":
		case "exec", "mtr":
			if v.Opsview == "" {
				v.Opsview = "opsview"
			}
			if v.Mtr == "" {
				v.Mtr = "mtr"
			}
		case "agent":
			if v.URL == "" {
				return nil, o.Errorf("probe: vantage %q of type agent needs url", v.Name)
			}
		default:
			return nil, o.Errorf("probe: vantage %q: unknown type %q (have local, exec, mtr, agent)", v.Name, v.Type)
		}
	}
	s := &Source{env: env, opt: opt, asn: NewASNTable()}
	if opt.ASNFile != "" {
		t, err := LoadASNFile(expandHome(opt.ASNFile))
		if err != nil {
			return nil, o.Errorf("probe: %v", err)
		}
		s.asn = t
	}
	for p, v := range opt.ASNOverrides {
		f := strings.Fields(v)
		if len(f) == 0 {
			return nil, o.Errorf("probe: asn_overrides %q: want \"AS65002 name\"", p)
		}
		if err := s.asn.Add(p, f[0], strings.Join(f[1:], " ")); err != nil {
			return nil, o.Errorf("probe: asn_overrides: %v", err)
		}
	}
	if opt.ReverseDNS == nil || *opt.ReverseDNS {
		s.rdns = NewResolver(4096)
	}
	if s.env.Logf == nil {
		s.env.Logf = func(string, ...any) {}
	}
	return s, nil
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

// Poll returns the traces of the rounds since the last poll. Runners that
// stopped are restarted here (the scheduler paces retries); their error is
// returned when no vantage produced anything.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	s.start()
	b := &sources.Batch{}
	var failed []string
	var errs []error
	for _, v := range s.vantages {
		if v.opt.Type == "agent" {
			if err := s.pollAgent(ctx, v); err != nil {
				failed = append(failed, v.opt.Name)
				errs = append(errs, fmt.Errorf("vantage %s: %w", v.opt.Name, err))
			}
		}
		v.mu.Lock()
		for _, t := range s.opt.Targets {
			ps := v.stats[t]
			if ps == nil || ps.Rounds() == 0 {
				continue
			}
			tr := ps.Trace()
			ps.Reset()
			s.name(&tr)
			b.Paths = append(b.Paths, tr)
		}
		err := v.err
		quiet := time.Since(v.lastRound)
		v.mu.Unlock()
		if limit := max(10*s.opt.Interval, 15*time.Second); v.opt.Type != "agent" && err == nil && quiet > limit {
			failed = append(failed, v.opt.Name)
			errs = append(errs, fmt.Errorf("vantage %s: no probe round for %s; the command may hang (try it by hand)", v.opt.Name, quiet.Round(time.Second)))
		}
		if v.opt.Type != "agent" && err != nil {
			failed = append(failed, v.opt.Name)
			errs = append(errs, fmt.Errorf("vantage %s: %w", v.opt.Name, err))
			s.restart(v)
		}
	}
	if len(failed) > 0 {
		b.Status.Detail = fmt.Sprintf("%d/%d vantages failing: %s", len(failed), len(s.vantages), strings.Join(failed, ", "))
	} else {
		b.Status.Detail = fmt.Sprintf("%d vantages, %d targets", len(s.vantages), len(s.opt.Targets))
	}
	if len(b.Paths) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// name fills hop names and ASNs.
func (s *Source) name(tr *sources.PathTrace) {
	for i := range tr.Hops {
		h := &tr.Hops[i]
		if h.Addr == "" {
			continue
		}
		h.Name = s.rdns.Name(h.Addr)
		if a, err := netip.ParseAddr(h.Addr); err == nil {
			if info, ok := s.asn.Lookup(a); ok {
				h.ASN, h.ASName = info.ASN, info.Name
			}
		}
	}
}

// Close stops every runner and waits for it.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	s.cancel()
	for _, v := range s.vantages {
		if v.done != nil {
			<-v.done
		}
	}
	return nil
}

func (s *Source) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, vo := range s.opt.Vantages {
		v := &vantage{opt: vo, stats: map[string]*PathStats{}}
		for _, t := range s.opt.Targets {
			v.stats[t] = NewPathStats(vo.Name, t)
		}
		s.vantages = append(s.vantages, v)
		if vo.Type != "agent" {
			s.run(v)
		}
	}
}

func (s *Source) restart(v *vantage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.done != nil {
		select {
		case <-v.done:
		default:
			return // still stopping
		}
	}
	v.mu.Lock()
	v.err = nil
	v.mu.Unlock()
	s.run(v)
}

func (v *vantage) add(r *Round) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ps := v.stats[r.Target]
	if ps == nil {
		return // a target we did not ask for: the far side lies
	}
	if r.Error != "" {
		v.err = fmt.Errorf("%s: %s", sources.Clean(r.Target), sources.Clean(trunc(r.Error, 300)))
		return
	}
	v.lastRound = time.Now()
	ps.Add(r)
}

func (v *vantage) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err == nil {
		v.err = err
	}
}

func (s *Source) run(v *vantage) {
	v.done = make(chan struct{})
	v.mu.Lock()
	v.lastRound = time.Now()
	v.mu.Unlock()
	ctx := s.ctx
	go func() {
		defer close(v.done)
		var err error
		switch v.opt.Type {
		case "local":
			err = s.runLocal(ctx, v)
		case "exec":
			err = s.runExec(ctx, v)
		case "mtr":
			err = s.runMtr(ctx, v)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped")
		}
		v.fail(err)
	}()
}

func (s *Source) tracerOptions(v *vantage) TracerOptions {
	backend := s.opt.Backend
	if v.opt.Backend != "" {
		backend = v.opt.Backend
	}
	c := CLIOptions{Interval: s.opt.Interval, Timeout: s.opt.Timeout, Backend: backend, MaxTTL: s.opt.MaxTTL, TCPPort: s.opt.TCPPort, Flows: s.opt.Flows}
	return c.tracerOptions()
}

func (s *Source) runLocal(ctx context.Context, v *vantage) error {
	topt := s.tracerOptions(v)
	var wg sync.WaitGroup
	errs := make([]error, len(s.opt.Targets))
	for i, t := range s.opt.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runTarget(ctx, t, topt, s.opt.Interval, 0, v.add)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxLine bounds one JSON line or mtr line read from a vantage.
const maxLine = 1 << 20

// execArgs is the command an exec vantage runs: `<command> <opsview>
// probe --json --interval I --timeout T [--backend B …] TARGET…`. No
// argument is ever empty: ssh joins its arguments with spaces, so an
// empty one vanishes and the next is read in its place (a "--backend"
// followed by "" took the first target for the backend).
func (s *Source) execArgs(v *vantage) []string {
	topt := s.tracerOptions(v)
	args := append(splitCommand(v.opt.Command), v.opt.Opsview, "probe", "--json",
		"--interval", s.opt.Interval.String(), "--timeout", topt.Timeout.String())
	if topt.Backend != "" {
		args = append(args, "--backend", topt.Backend)
	}
	if s.opt.MaxTTL > 0 {
		args = append(args, "--max-ttl", strconv.Itoa(s.opt.MaxTTL))
	}
	if s.opt.TCPPort > 0 {
		args = append(args, "--tcp-port", strconv.Itoa(s.opt.TCPPort))
	}
	if s.opt.Flows > 0 {
		args = append(args, "--flows", strconv.Itoa(s.opt.Flows))
	}
	return append(args, s.opt.Targets...)
}

// runExec runs execArgs and reads one Round per line.
func (s *Source) runExec(ctx context.Context, v *vantage) error {
	args := s.execArgs(v)
	return s.stream(ctx, v, args, func(line []byte) error {
		var r Round
		if err := decodeRound(line, &r); err != nil {
			return err
		}
		v.add(&r)
		return nil
	})
}

// decodeRound parses one wire line strictly enough that a lying vantage
// shows up as an error.
func decodeRound(line []byte, r *Round) error {
	if err := json.Unmarshal(line, r); err != nil {
		return fmt.Errorf("not a probe round (%v): %q", err, sources.Clean(trunc(string(line), 120)))
	}
	if r.V != WireVersion {
		return fmt.Errorf("probe round format version %d, want %d (update opsview on the vantage point)", r.V, WireVersion)
	}
	if len(r.Probes) > 255 {
		return fmt.Errorf("probe round with %d probes (at most 255)", len(r.Probes))
	}
	if r.Flow < 0 || r.Flow > 255 {
		return fmt.Errorf("probe round with flow %d (want 0 to 255)", r.Flow)
	}
	for i := range r.Probes {
		p := &r.Probes[i]
		if p.TTL < 1 || p.TTL > 255 || p.RTTus < 0 {
			return fmt.Errorf("probe round with a bad probe (ttl %d, rtt %dus)", p.TTL, p.RTTus)
		}
		if p.From != "" {
			a, err := netip.ParseAddr(p.From)
			if err != nil {
				return fmt.Errorf("probe round with a bad responder %q", sources.Clean(trunc(p.From, 64)))
			}
			p.From = a.Unmap().String()
		}
	}
	r.Target = sources.Clean(r.Target)
	r.Backend = sources.Clean(trunc(r.Backend, 32))
	return nil
}

// runMtr runs `<command> mtr -n --raw -c N -i I TARGET` per target.
func (s *Source) runMtr(ctx context.Context, v *vantage) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.opt.Targets))
	for i, t := range s.opt.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, err := ResolveTarget(ctx, t)
			if err != nil {
				errs[i] = err
				return
			}
			secs := strconv.FormatFloat(s.opt.Interval.Seconds(), 'f', -1, 64)
			args := append(splitCommand(v.opt.Command), v.opt.Mtr, "-n", "--raw", "-c", "1000000", "-i", secs, addr.String())
			p := NewMtrRaw(t, addr.String())
			errs[i] = s.stream(ctx, v, args, func(line []byte) error {
				rs, err := p.Line(string(line))
				for j := range rs {
					v.add(&rs[j])
				}
				return err
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stream runs a command and hands each stdout line to fn. The command is
// killed when ctx ends; its stderr is kept (bounded) for the error.
func (s *Source) stream(ctx context.Context, v *vantage, args []string, fn func([]byte) error) error {
	if len(args) == 0 {
		return errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = 2 * time.Second
	tail := &tailBuffer{max: 2048}
	cmd.Stderr = tail
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %q: %w", strings.Join(args, " "), err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	var ferr error
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			ferr = err
			break
		}
	}
	if ferr == nil {
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				ferr = fmt.Errorf("a line longer than %d bytes from %q: not probe output", maxLine, args[0])
			} else {
				ferr = err
			}
		}
	}
	cmd.Process.Kill()
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	msg := strings.TrimSpace(sources.Clean(tail.String()))
	if ferr != nil {
		return fmt.Errorf("%s: %w", strings.Join(args, " "), ferr)
	}
	if msg != "" {
		return fmt.Errorf("%q exited (%v): %s", strings.Join(args, " "), werr, msg)
	}
	return fmt.Errorf("%q exited (%v) without output; check the command prefix", strings.Join(args, " "), werr)
}

// SplitCommand splits a vantage's command prefix ("ssh -o BatchMode=yes
// bastion2") into arguments the way the probe's exec vantages do, so that
// other sources run from the same vantages alike.
func SplitCommand(s string) []string { return splitCommand(s) }

// splitCommand splits a command prefix on spaces, honouring simple quotes.
func splitCommand(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// maxAgentBody bounds one agent response.
const maxAgentBody = 16 << 20

// pollAgent fetches the rounds an agent measured since the last poll.
func (s *Source) pollAgent(ctx context.Context, v *vantage) error {
	u := strings.TrimSuffix(v.opt.URL, "/") + "/rounds"
	if !v.since.IsZero() {
		u += "?since=" + v.since.UTC().Format(time.RFC3339Nano)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return fmt.Errorf("agent url: %w", err)
	}
	if v.opt.TokenFile != "" {
		b, err := os.ReadFile(expandHome(v.opt.TokenFile))
		if err != nil {
			return fmt.Errorf("agent token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("agent %s: %w (is `opsview agent` running there?)", v.opt.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("agent %s: HTTP %d (wrong token_file?)", v.opt.URL, resp.StatusCode)
	}
	lr := &io.LimitedReader{R: resp.Body, N: maxAgentBody + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	var rounds []Round
	for sc.Scan() {
		var r Round
		if err := decodeRound(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("agent %s: %w", v.opt.URL, err)
		}
		rounds = append(rounds, r)
	}
	if lr.N <= 0 {
		return fmt.Errorf("agent %s: response larger than %d MiB", v.opt.URL, maxAgentBody>>20)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("agent %s: %w", v.opt.URL, err)
	}
	sort.Slice(rounds, func(i, j int) bool { return rounds[i].At.Before(rounds[j].At) })
	var rerr error
	for i := range rounds {
		if rounds[i].Error != "" {
			rerr = fmt.Errorf("agent %s: %s", v.opt.URL, sources.Clean(trunc(rounds[i].Error, 300)))
			continue
		}
		v.add(&rounds[i])
		if rounds[i].At.After(v.since) {
			v.since = rounds[i].At
		}
	}
	v.mu.Lock()
	v.err = nil
	v.mu.Unlock()
	return rerr
}

// NameVantages gives each vantage point its default type (local) and
// name (its type), and refuses a name used twice: path probes and HTTP
// checks configure their vantage points alike.
func NameVantages(vs []VantageOptions) error {
	seen := map[string]bool{}
	for i := range vs {
		v := &vs[i]
		if v.Type == "" {
			v.Type = "local"
		}
		if v.Name == "" {
			v.Name = v.Type
		}
		if seen[v.Name] {
			return fmt.Errorf("vantage name %q used twice", v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}
