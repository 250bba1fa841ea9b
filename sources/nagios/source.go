package nagios

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/alerting"
)

const example = `- name: nagios
  type: nagios
  interval: 10s
  status_file: /var/lib/nagios4/status.dat   # read whole at every poll (Nagios rewrites it every status_update_interval)
  # log_file: /var/log/nagios4/nagios.log    # the alerts of the visible window, as history (its last max_log_mb)
  # origin: internal       # internal (default) or external: what its alerts look from
  # layer: host            # the layer of a host no entry of layers names
  # layers: {db: ["db-*"], app: ["app-*", "web*"]}
  # stale_after: 5m        # a status.dat older than this means Nagios stopped writing it: the source fails
  # max_file_mb: 128
  # max_log_mb: 16
`

func init() {
	sources.Register(sources.Kind{
		Type:    "nagios",
		Summary: "Nagios Core status.dat (hosts, services, HARD/SOFT, acknowledged, downtime, flapping) and nagios.log alerts as history; read-only",
		Example: example,
		New:     factory,
	})
}

// factory decodes the source's options for New.
var factory = sources.Decoding("nagios", New)

// Options is a nagios source's part of the config.
type Options struct {
	StatusFile string        `yaml:"status_file"`
	LogFile    string        `yaml:"log_file"`
	StaleAfter time.Duration `yaml:"stale_after"`
	MaxFileMB  int           `yaml:"max_file_mb"`
	MaxLogMB   int           `yaml:"max_log_mb"`

	alerting.Options `yaml:",inline"`
}

// Defaults.
const (
	DefaultStaleAfter = 5 * time.Minute
	DefaultMaxFileMB  = 128
	DefaultMaxLogMB   = 16
)

// Source reads one Nagios' status.dat (and its log for history). It
// remembers the problems it saw open, so that each keeps one event from
// the moment it began until it recovers.
type Source struct {
	name      string
	logf      func(string, ...any)
	status    string
	log       string
	stale     time.Duration
	maxFile   int64
	maxLog    int64
	set       alerting.Settings
	tornPause time.Duration
	// beforeRetry runs before a cut status.dat is read again (tests)
	beforeRetry func()

	mu         sync.Mutex
	problems   alerting.Problems
	open       sources.OpenEvents
	backfilled bool
}

// New builds a source from decoded options; it reads nothing yet.
func New(env sources.Env, o Options) (*Source, error) {
	if o.StatusFile == "" {
		return nil, errors.New("status_file is required (e.g. /var/lib/nagios4/status.dat, status_file= in nagios.cfg)")
	}
	set, err := o.Options.Settings(sources.LayerHost)
	if err != nil {
		return nil, err
	}
	if o.StaleAfter < 0 || o.MaxFileMB < 0 || o.MaxLogMB < 0 {
		return nil, errors.New("stale_after, max_file_mb and max_log_mb must be positive")
	}
	s := &Source{name: env.Name, logf: env.Logf, status: o.StatusFile, log: o.LogFile, stale: o.StaleAfter,
		maxFile: int64(o.MaxFileMB) << 20, maxLog: int64(o.MaxLogMB) << 20, set: set,
		tornPause: 100 * time.Millisecond}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.stale == 0 {
		s.stale = DefaultStaleAfter
	}
	if s.maxFile == 0 {
		s.maxFile = DefaultMaxFileMB << 20
	}
	if s.maxLog == 0 {
		s.maxLog = DefaultMaxLogMB << 20
	}
	return s, nil
}

// Poll reads status.dat whole and, on a backfill with log_file, the
// log's alerts of the window.
func (s *Source) Poll(ctx context.Context, req sources.Request) (*sources.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	// the log first: a problem still open at its end is followed from
	// its first line, and status.dat must keep that check whatever its state
	var hist []sources.Event
	var seeds map[alerting.Key]sources.Event
	detail := ""
	if s.log != "" && (req.Backfill || !s.backfilled) {
		from, until, _ := req.Window(5 * time.Second)
		var err error
		if hist, seeds, err = s.history(from, until); err != nil {
			// the present state is still good: say it, and lose nothing else
			s.logf("nagios %q: %v", s.name, err)
			detail = "; log unreadable: " + err.Error()
		}
	}
	st, checks, err := s.readStatus(ctx, seeds)
	if err != nil {
		return nil, err
	}
	if age := now.Sub(st.Created); !st.Created.IsZero() && age > s.stale {
		return nil, fmt.Errorf("%s was written %s ago (at %s): Nagios is not running or not writing it (check the nagios process, status_update_interval in nagios.cfg, or raise stale_after)",
			s.status, age.Round(time.Second), st.Created.Format(time.RFC3339))
	}
	if s.log != "" {
		s.backfilled = true
	}
	for k, ev := range seeds {
		s.problems.Seed(k, ev)
	}
	evs := hist
	for i := range checks {
		evs = s.problems.Follow(s.reading(&checks[i]), now, evs)
	}
	// a problem open at the end of the log that status.dat does not list
	// is said once as the log left it; OpenEvents closes it next time
	listed := make(map[string]bool, len(evs))
	for i := range evs {
		listed[evs[i].ID] = true
	}
	for _, k := range sortedKeys(seeds) {
		if ev, ok := s.problems.Open(k); ok && ev.ID == seeds[k].ID && !listed[ev.ID] {
			evs = append(evs, ev)
		}
	}
	evs = s.open.Close(evs, now, "no longer in status.dat: removed from Nagios' configuration")
	s.problems.Forget(evs)
	b := &sources.Batch{Events: evs}
	problems := 0
	for i := range evs {
		if evs[i].Open() {
			problems++
		}
	}
	b.Status.Detail = alerting.Count(st.Hosts, "host") + ", " + alerting.Count(st.Services, "service") + ", " + alerting.Count(problems, "problem") + detail
	b.Status.Watched = &sources.Watched{System: "Nagios", Origin: s.set.Origin, Hosts: st.Hosts, Services: st.Services}
	return b, nil
}

func sortedKeys(m map[alerting.Key]sources.Event) []alerting.Key {
	out := make([]alerting.Key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].Service < out[j].Service
	})
	return out
}

// readStatus reads status.dat whole and keeps the checks that matter:
// those in trouble and those with a problem followed. Nagios writes a
// temp file and renames it over status.dat, so an open file is always
// whole; a file that ends inside a block was cut by something else (a
// copy, a writer in place) and is read once more after a short pause.
func (s *Source) readStatus(ctx context.Context, seeds map[alerting.Key]sources.Event) (*Status, []Check, error) {
	st, kept, err := s.readStatusOnce(seeds)
	if errors.Is(err, ErrTorn) {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(s.tornPause):
		}
		if s.beforeRetry != nil {
			s.beforeRetry()
		}
		st, kept, err = s.readStatusOnce(seeds)
		if errors.Is(err, ErrTorn) {
			return nil, nil, fmt.Errorf("%s: %w twice in a row (is something copying it or writing it in place?)", s.status, err)
		}
	}
	return st, kept, err
}

func (s *Source) readStatusOnce(seeds map[alerting.Key]sources.Event) (*Status, []Check, error) {
	f, err := os.Open(s.status)
	if err != nil {
		return nil, nil, explainOpen(err, "status_file")
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > s.maxFile {
		return nil, nil, s.tooLarge(fi.Size())
	}
	// the size can grow between Stat and the read: bound the read too
	lr := &io.LimitedReader{R: f, N: s.maxFile + 1}
	var kept []Check
	st, err := ParseStatus(lr, func(c *Check) {
		k := alerting.Key{Host: c.Host, Service: c.Service}
		if _, seeded := seeds[k]; c.State != 0 || c.Flapping || s.problems.Followed(k) || seeded {
			kept = append(kept, *c)
		}
	})
	if lr.N <= 0 {
		return nil, nil, s.tooLarge(s.maxFile + 1)
	}
	if err != nil {
		if errors.Is(err, ErrTorn) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%s: %v (is it a Nagios status.dat?)", s.status, err)
	}
	return st, kept, nil
}

func (s *Source) tooLarge(size int64) error {
	return fmt.Errorf("%s is %d MB, more than max_file_mb %d: raise max_file_mb", s.status, size>>20, s.maxFile>>20)
}

func explainOpen(err error, key string) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w (check %s: the path Nagios writes is status_file= / log_file= in nagios.cfg)", err, key)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w (run opsview as a user that can read it, e.g. in group nagios)", err)
	}
	return err
}

// reading is a status.dat check in the shared alert form. A pending
// check (never checked) has no state yet: it is no trouble. A flapping
// check is trouble even while OK: Nagios says it keeps changing.
func (s *Source) reading(c *Check) *alerting.Reading {
	word, sev := stateOf(c.State, c.Service != "")
	if c.State == 0 && c.Flapping {
		sev = sources.SevWarning
	}
	return &alerting.Reading{
		Check: alerting.Check{
			System: "nagios", Host: c.Host, Service: c.Service, State: word, Severity: sev,
			Layer: s.set.LayerOf(c.Host), Origin: s.set.Origin, Hard: c.Hard, Attempt: c.Attempt, MaxAttempts: c.MaxAttempts,
			Acknowledged: c.Acknowledged, Downtime: c.Downtime, Flapping: c.Flapping,
			Output: c.Output, Long: c.Long, Updated: c.LastCheck, Labels: labels(c.Host, c.Service),
		},
		Changed: c.LastStateChange, Trouble: c.Checked && (c.State != 0 || c.Flapping), ProblemID: c.ProblemID,
	}
}

func labels(host, service string) map[string]string {
	l := map[string]string{"host": host}
	if service != "" {
		l["service"] = service
	}
	return l
}

func stateOf(state int, service bool) (string, sources.Severity) {
	if service {
		return alerting.ServiceState(state)
	}
	return alerting.HostState(state)
}

func sevOf(state int, service bool) sources.Severity {
	_, sev := stateOf(state, service)
	return sev
}

// history reads the last max_log_mb of nagios.log: the problems that
// overlap [from, until] and ended are events of their own; one still
// open at the end of the log is followed from its first line on, so
// status.dat goes on with the same event.
func (s *Source) history(from, until time.Time) ([]sources.Event, map[alerting.Key]sources.Event, error) {
	entries, err := s.readLog()
	if err != nil {
		return nil, nil, err
	}
	var out []sources.Event
	seeds := map[alerting.Key]sources.Event{}
	for _, ep := range Episodes(entries) {
		if !ep.End.IsZero() && ep.End.Before(from) || ep.Start.After(until) {
			continue
		}
		state := ep.State
		if !ep.End.IsZero() {
			state = ep.Worst // over, it is told by the worst it was
		}
		ev := s.episodeEvent(&ep, state)
		if ep.End.IsZero() {
			seeds[alerting.Key{Host: ep.Host, Service: ep.Service}] = ev
			continue
		}
		out = append(out, ev)
	}
	return out, seeds, nil
}

// episodeEvent is a problem of the log as an alert event in state.
func (s *Source) episodeEvent(ep *Episode, state int) sources.Event {
	word, sev := stateOf(state, ep.Service != "")
	c := &alerting.Check{System: "nagios", Host: ep.Host, Service: ep.Service, State: word, Severity: sev,
		Layer: s.set.LayerOf(ep.Host), Origin: s.set.Origin, Hard: ep.Hard, Flapping: ep.Flapping, Downtime: ep.Downtime,
		Output: ep.Output, Start: ep.Start, End: ep.End, Updated: ep.Start, Labels: labels(ep.Host, ep.Service)}
	return c.Event(alerting.Key{Host: ep.Host, Service: ep.Service}.ID(ep.Start))
}

// ErrNoLog is AlertsAt's answer for a source without log_file.
var ErrNoLog = errors.New("no log_file: Nagios' alert history is its log")

// AlertsAt are the problems nagios.log says were open at an instant, in
// the state they were in then (check --compare asks it). It fails when
// the log's last max_log_mb begins after at: a rotated log's archives
// are not read.
func (s *Source) AlertsAt(ctx context.Context, at time.Time) ([]sources.Event, error) {
	if s.log == "" {
		return nil, ErrNoLog
	}
	entries, err := s.readLog()
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 || entries[0].At.After(at) {
		first := "no state line"
		if len(entries) > 0 {
			first = "its first state line at " + entries[0].At.Format(time.RFC3339)
		}
		return nil, fmt.Errorf("%s does not reach back to %s (%s): its rotated archives are not read", s.log, at.UTC().Format(time.RFC3339), first)
	}
	before := entries[:0]
	for _, e := range entries {
		if !e.At.After(at) {
			before = append(before, e)
		}
	}
	var out []sources.Event
	for _, ep := range Episodes(before) {
		if ep.End.IsZero() {
			out = append(out, s.episodeEvent(&ep, ep.State))
		}
	}
	return out, ctx.Err()
}

// readLog parses the last max_log_mb of the log, from its first whole
// line.
func (s *Source) readLog() ([]LogEntry, error) {
	f, err := os.Open(s.log)
	if err != nil {
		return nil, explainOpen(err, "log_file")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var r io.Reader = f
	if off := fi.Size() - s.maxLog; off > 0 {
		if _, err := f.Seek(off-1, io.SeekStart); err != nil {
			return nil, err
		}
		br := bufio.NewReader(io.LimitReader(f, s.maxLog+1))
		if _, err := br.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
			return nil, nil // no whole line in the tail
		}
		r = br
	} else {
		r = io.LimitReader(f, s.maxLog)
	}
	es, err := ParseLog(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.log, err)
	}
	return es, nil
}
