package sources

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Entry is one configured source for the scheduler.
type Entry struct {
	Name     string
	Type     string
	Source   Source
	Interval time.Duration
	Timeout  time.Duration
}

// SchedulerOptions wire the scheduler to the rest of the program.
type SchedulerOptions struct {
	// Out receives every batch, from the sources' goroutines: it must be
	// safe for concurrent use and should not block for long.
	Out func(*Batch)
	// Rules classify series before Out sees them (compiled once, each
	// series' outcome remembered: see Classifier).
	Rules Rules
	// Step is the store's clock step, passed to sources in Request.Step.
	Step time.Duration
	// Backfill is how much history the first poll asks for (the visible
	// window); default one hour.
	Backfill time.Duration
	// From and Until, when set, fix the window (historical mode): each
	// source is polled until it succeeds once, then left alone.
	From, Until time.Time
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logf logs to opsview's log file.
	Logf func(format string, args ...any)
	// MaxBackoff caps the retry delay after failures; default
	// min(max(4×interval, 10s), 5m).
	MaxBackoff time.Duration
	// Seed makes the jitter deterministic in tests (0: random).
	Seed uint64
}

// Scheduler runs every source on its own interval with a timeout, retries
// failures with exponential backoff and jitter, and keeps each source's
// status. A source that hangs (ignores its context) or panics is cut off
// and shown failing; the others go on.
type Scheduler struct {
	opt      SchedulerOptions
	entries  []Entry
	classify *Classifier

	mu     sync.Mutex
	status map[string]Status
	widen  map[string]time.Duration
	rng    *rand.Rand
}

// NewScheduler makes a scheduler for the entries.
func NewScheduler(entries []Entry, opt SchedulerOptions) *Scheduler {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Step <= 0 {
		opt.Step = 5 * time.Second
	}
	if opt.Backfill <= 0 {
		opt.Backfill = time.Hour
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.Out == nil {
		opt.Out = func(*Batch) {}
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Scheduler{opt: opt, status: map[string]Status{}, widen: map[string]time.Duration{},
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), classify: NewClassifier(opt.Rules)}
	for _, e := range entries {
		if e.Interval <= 0 {
			e.Interval = 10 * time.Second
		}
		if e.Timeout <= 0 {
			e.Timeout = e.Interval
		}
		s.entries = append(s.entries, e)
		s.status[e.Name] = Status{Source: e.Name, Type: e.Type, Health: HealthUnknown}
	}
	return s
}

// Status returns every source's status in config order.
func (s *Scheduler) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, s.status[e.Name])
	}
	return out
}

// Widen asks every source with history for a backfill of d on its next
// poll (the user zoomed out).
func (s *Scheduler) Widen(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if d > s.widen[e.Name] {
			s.widen[e.Name] = d
		}
	}
}

// Run polls until ctx is done, then returns. It does not wait for polls
// that hang past their timeout: those goroutines end when the source
// finally returns.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range s.entries {
		wg.Add(1)
		go func(e Entry) {
			defer wg.Done()
			s.loop(ctx, e)
		}(s.entries[i])
	}
	wg.Wait()
}

// RunOnce polls every source once (with retries within budget) and
// returns; used by `opsview check`. Each source gets at most its timeout
// per attempt and `attempts` attempts.
func (s *Scheduler) RunOnce(ctx context.Context, attempts int) {
	if attempts < 1 {
		attempts = 1
	}
	var wg sync.WaitGroup
	for i := range s.entries {
		wg.Add(1)
		go func(e Entry) {
			defer wg.Done()
			p := &poller{}
			for a := 0; a < attempts; a++ {
				if s.pollAndReport(ctx, e, p, a == 0) {
					return
				}
				if a+1 < attempts {
					select {
					case <-ctx.Done():
						return
					case <-time.After(s.backoff(e, a+1)):
					}
				}
			}
		}(s.entries[i])
	}
	wg.Wait()
}

// poller remembers one source's in-flight poll and its window.
type poller struct {
	inflight  chan struct{} // closed when the last Poll returned; nil if none
	lastUntil time.Time
	succeeded bool
}

type pollResult struct {
	batch *Batch
	err   error
}

func (s *Scheduler) loop(ctx context.Context, e Entry) {
	p := &poller{}
	failures := 0
	historical := !s.opt.Until.IsZero()
	for {
		ok := s.pollAndReport(ctx, e, p, !p.succeeded)
		if ok {
			failures = 0
		} else {
			failures++
		}
		if historical && ok {
			return
		}
		delay := e.Interval
		if !ok && ctx.Err() == nil {
			delay = s.backoff(e, failures)
		}
		s.mu.Lock()
		st := s.status[e.Name]
		st.NextPoll = s.opt.Now().Add(delay)
		s.status[e.Name] = st
		s.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the delay before retry n (1-based): exponential from a
// quarter of the interval (at least 250ms), capped, with equal jitter.
func (s *Scheduler) backoff(e Entry, n int) time.Duration {
	base := e.Interval / 4
	if base < 250*time.Millisecond {
		base = 250 * time.Millisecond
	}
	max := s.opt.MaxBackoff
	if max <= 0 {
		max = 4 * e.Interval
		if max < 10*time.Second {
			max = 10 * time.Second
		}
		if max > 5*time.Minute {
			max = 5 * time.Minute
		}
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	s.mu.Lock()
	j := time.Duration(s.rng.Int64N(int64(d)/2 + 1))
	s.mu.Unlock()
	return d/2 + j
}

// BackfillTimeout is the least time a backfill (the first poll of a
// source that answers for past windows, or one that widens the window)
// is given. It asks for the whole window where a poll asks for the last
// interval: an hour of 10,000 series is 84 MB from Prometheus, and a
// timeout of one 5 s interval would refuse it again and again.
const BackfillTimeout = 30 * time.Second

// timeoutFor is how long req may take: the source's timeout, or
// BackfillTimeout for a backfill of a source with history if that is
// longer. Other sources answer a backfill as they answer any poll.
func timeoutFor(e Entry, req Request) time.Duration {
	if !historyBackfill(e, req) || e.Timeout >= BackfillTimeout {
		return e.Timeout
	}
	return BackfillTimeout
}

// historyBackfill says req asks a source with history for a window.
func historyBackfill(e Entry, req Request) bool {
	if !req.Backfill {
		return false
	}
	k, ok := Lookup(e.Type)
	return ok && k.History
}

// backfilling is the status a source shows while its backfill is read
// (which can take seconds): its last status, detailed with how many
// series have come so far.
func (s *Scheduler) backfilling(e Entry, req Request, series int) Status {
	s.mu.Lock()
	st := s.status[e.Name]
	s.mu.Unlock()
	st.Source, st.Type = e.Name, e.Type
	if s.opt.Until.IsZero() {
		span := strings.TrimSuffix(strings.TrimSuffix(req.Until.Sub(req.From).String(), "0s"), "0m")
		st.Detail = "backfilling the last " + span
	} else {
		st.Detail = "reading the window"
	}
	if series > 0 {
		st.Detail += fmt.Sprintf(": %d series so far", series)
	}
	return st
}

// pollAndReport runs one poll and hands the batch (or the failure) to Out.
// It reports whether the poll succeeded.
func (s *Scheduler) pollAndReport(ctx context.Context, e Entry, p *poller, first bool) bool {
	if ctx.Err() != nil {
		return false
	}
	now := s.opt.Now()
	// A poll that hung past its timeout is still running: do not pile
	// another on top of it.
	if p.inflight != nil {
		select {
		case <-p.inflight:
			p.inflight = nil
		default:
			s.fail(e, now, 0, fmt.Errorf("still stuck in the previous poll (it ignored its %v timeout)", e.Timeout))
			return false
		}
	}
	req := s.request(e, p, now, first)
	start := time.Now()
	res, hung := s.poll(ctx, e, req, p)
	latency := time.Since(start)
	if ctx.Err() != nil && res.err != nil {
		return false // shutting down: not the source's fault
	}
	if hung {
		s.fail(e, now, latency, fmt.Errorf("no answer within %v", timeoutFor(e, req)))
		return false
	}
	if res.err != nil {
		s.fail(e, now, latency, res.err)
		return false
	}
	b := res.batch
	if b == nil {
		b = &Batch{}
	}
	b.Source, b.Type = e.Name, e.Type
	if b.At.IsZero() {
		b.At = s.opt.Now()
	}
	if !s.opt.Until.IsZero() && b.At.After(s.opt.Until) {
		b.At = s.opt.Until // historical mode: the store's clock ends with the window
	}
	for i := range b.Events {
		if b.Events[i].Source == "" {
			b.Events[i].Source = e.Name
		}
	}
	s.classify.Apply(b)
	p.lastUntil = req.Until
	p.succeeded = true
	s.mu.Lock()
	st := s.status[e.Name]
	st.Source, st.Type = e.Name, e.Type
	st.Health = HealthOK
	if latency > timeoutFor(e, req)/2 {
		st.Health = HealthSlow
	}
	st.LastAttempt, st.LastSuccess = now, s.opt.Now()
	st.Latency = latency
	st.Failures = 0
	st.LastError = ""
	if b.Status.Detail != "" {
		st.Detail = b.Status.Detail
	}
	if b.Status.Watched != nil {
		st.Watched = b.Status.Watched
	}
	s.status[e.Name] = st
	s.mu.Unlock()
	b.Status = st
	s.opt.Out(b)
	return true
}

func (s *Scheduler) request(e Entry, p *poller, now time.Time, first bool) Request {
	req := Request{Now: now, Until: now, Step: s.opt.Step}
	s.mu.Lock()
	widen := s.widen[e.Name]
	delete(s.widen, e.Name)
	s.mu.Unlock()
	switch {
	case !s.opt.Until.IsZero():
		req.From, req.Until, req.Backfill = s.opt.From, s.opt.Until, true
	case first || p.lastUntil.IsZero():
		req.From, req.Backfill = now.Add(-s.opt.Backfill), true
	case widen > 0:
		req.From, req.Backfill = now.Add(-widen), true
	default:
		req.From = p.lastUntil
	}
	return req
}

// poll calls Poll in its own goroutine so that a source that ignores its
// context cannot stall the loop. hung is true when it did not return
// within the timeout plus a grace period.
func (s *Scheduler) poll(ctx context.Context, e Entry, req Request, p *poller) (res pollResult, hung bool) {
	timeout := timeoutFor(e, req)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// parts of a large answer go out as the source reads them, until the
	// poll is over (a source cut off at its timeout sends no more)
	var partMu sync.Mutex
	open := true
	defer func() {
		partMu.Lock()
		open = false
		partMu.Unlock()
	}()
	progress := historyBackfill(e, req)
	series := 0
	req.Emit = func(part *Batch) {
		partMu.Lock()
		defer partMu.Unlock()
		if !open || pctx.Err() != nil || part == nil {
			return
		}
		series += len(part.Series)
		var st Status
		if progress {
			st = s.backfilling(e, req, series)
		}
		s.part(e, part, st)
	}
	if progress {
		// the screen says the source is reading its history until the
		// first part or the answer comes
		s.part(e, &Batch{}, s.backfilling(e, req, 0))
	}
	done := make(chan pollResult, 1)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		defer func() {
			if r := recover(); r != nil {
				s.opt.Logf("source %s panicked: %v\n%s", e.Name, r, debug.Stack())
				done <- pollResult{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		b, err := e.Source.Poll(pctx, req)
		done <- pollResult{batch: b, err: err}
	}()
	grace := timeout / 4
	if grace > time.Second {
		grace = time.Second
	}
	if grace < 50*time.Millisecond {
		grace = 50 * time.Millisecond
	}
	select {
	case r := <-done:
		return r, false
	case <-pctx.Done():
	}
	// The context ended: a well-behaved source returns promptly now.
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() == nil && pctx.Err() == context.DeadlineExceeded {
			// It answered, but only after its deadline: still usable.
			return r, false
		}
		if r.err != nil && pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			r.err = fmt.Errorf("timed out after %v: %w", timeout, r.err)
		}
		return r, false
	case <-t.C:
		p.inflight = returned
		return pollResult{err: context.DeadlineExceeded}, true
	}
}

// part hands on a part of a poll's answer: classified and marked
// Partial, so it is stored and judged with the rest of the poll; st, when
// it names the source, is the status it shows meanwhile.
func (s *Scheduler) part(e Entry, b *Batch, st Status) {
	b.Source, b.Type, b.Partial = e.Name, e.Type, true
	b.Status = st
	if b.At.IsZero() {
		b.At = s.opt.Now()
	}
	if !s.opt.Until.IsZero() && b.At.After(s.opt.Until) {
		b.At = s.opt.Until
	}
	s.classify.Apply(b)
	s.opt.Out(b)
}

func (s *Scheduler) fail(e Entry, now time.Time, latency time.Duration, err error) {
	s.mu.Lock()
	st := s.status[e.Name]
	st.Source, st.Type = e.Name, e.Type
	st.Health = HealthFailing
	st.LastAttempt = now
	st.Latency = latency
	st.Failures++
	st.LastError = Clean(err.Error())
	s.status[e.Name] = st
	s.mu.Unlock()
	s.opt.Logf("source %s: %v", e.Name, err)
	at := s.opt.Now()
	if !s.opt.Until.IsZero() && at.After(s.opt.Until) {
		at = s.opt.Until
	}
	s.opt.Out(&Batch{Source: e.Name, Type: e.Type, At: at, Status: st})
}
