package sources

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// collector gathers what the scheduler hands out.
type collector struct {
	mu      sync.Mutex
	batches map[string][]*Batch
}

func newCollector() *collector { return &collector{batches: map[string][]*Batch{}} }

func (c *collector) out(b *Batch) {
	c.mu.Lock()
	c.batches[b.Source] = append(c.batches[b.Source], b)
	c.mu.Unlock()
}

func (c *collector) count(src string, ok bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.batches[src] {
		if (b.Status.Health != HealthFailing) == ok {
			n++
		}
	}
	return n
}

func (c *collector) last(src string) *Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.batches[src]
	if len(bs) == 0 {
		return nil
	}
	return bs[len(bs)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func healthy(n *atomic.Int64) Source {
	return PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		n.Add(1)
		return &Batch{Series: []Series{{Name: "up", Points: []Point{{T: req.Now, V: 1}}}}}, nil
	})
}

func TestHangingAndPanickingSourcesDoNotStopTheOthers(t *testing.T) {
	before := runtime.NumGoroutine()
	release := make(chan struct{})
	var healthyPolls atomic.Int64
	hang := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		<-release // ignores ctx: hangs until the test lets it go
		return nil, errors.New("released")
	})
	boom := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		var m map[string]int
		m["x"] = 1 // panics
		return nil, nil
	})
	c := newCollector()
	s := NewScheduler([]Entry{
		{Name: "good", Type: "t", Source: healthy(&healthyPolls), Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond},
		{Name: "hang", Type: "t", Source: hang, Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond},
		{Name: "boom", Type: "t", Source: boom, Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond},
	}, SchedulerOptions{Out: c.out, MaxBackoff: 40 * time.Millisecond, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	waitFor(t, "hang reported failing twice", func() bool { return c.count("hang", false) >= 2 })
	waitFor(t, "boom reported failing", func() bool { return c.count("boom", false) >= 1 })
	n := healthyPolls.Load()
	waitFor(t, "good source to keep polling", func() bool { return healthyPolls.Load() >= n+5 })

	st := map[string]Status{}
	for _, x := range s.Status() {
		st[x.Source] = x
	}
	if st["good"].Health != HealthOK || st["good"].LastSuccess.IsZero() {
		t.Errorf("good: %+v", st["good"])
	}
	if st["hang"].Health != HealthFailing || !strings.Contains(st["hang"].LastError, "no answer within") && !strings.Contains(st["hang"].LastError, "stuck") {
		t.Errorf("hang: %+v", st["hang"])
	}
	if st["boom"].Health != HealthFailing || !strings.Contains(st["boom"].LastError, "panic") {
		t.Errorf("boom: %+v", st["boom"])
	}
	cancel()
	<-done
	close(release)
	waitFor(t, "goroutines to return to where they started", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestFailingSourceRecovers(t *testing.T) {
	var calls atomic.Int64
	flaky := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		if calls.Add(1) <= 3 {
			return nil, errors.New("connection refused")
		}
		return &Batch{}, nil
	})
	c := newCollector()
	s := NewScheduler([]Entry{{Name: "flaky", Type: "t", Source: flaky, Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond}},
		SchedulerOptions{Out: c.out, MaxBackoff: 20 * time.Millisecond, Seed: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "recovery", func() bool { return c.count("flaky", true) >= 1 })
	cancel()
	<-done
	if got := c.count("flaky", false); got != 3 {
		t.Errorf("failing batches %d, want 3", got)
	}
	st := s.Status()[0]
	if st.Health != HealthOK || st.Failures != 0 || st.LastError != "" {
		t.Errorf("after recovery: %+v", st)
	}
	// the failures counted up before recovery
	var maxFail int
	c.mu.Lock()
	for _, b := range c.batches["flaky"] {
		if b.Status.Failures > maxFail {
			maxFail = b.Status.Failures
		}
	}
	c.mu.Unlock()
	if maxFail != 3 {
		t.Errorf("max consecutive failures %d, want 3", maxFail)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	s := NewScheduler(nil, SchedulerOptions{MaxBackoff: 8 * time.Second, Seed: 3})
	e := Entry{Interval: 4 * time.Second}
	prevMax := time.Duration(0)
	for n := 1; n <= 8; n++ {
		d := s.backoff(e, n)
		want := time.Second << (n - 1)
		if want > 8*time.Second {
			want = 8 * time.Second
		}
		if d < want/2 || d > want {
			t.Errorf("retry %d: %v not within [%v, %v]", n, d, want/2, want)
		}
		if want < prevMax {
			t.Errorf("cap shrank")
		}
		prevMax = want
	}
}

func TestRequestWindows(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var reqs []Request
	src := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		return &Batch{}, nil
	})
	clock := now
	s := NewScheduler([]Entry{{Name: "g", Type: "t", Source: src, Interval: time.Minute}},
		SchedulerOptions{Step: 10 * time.Second, Backfill: 15 * time.Minute, Now: func() time.Time { return clock }})
	p := &poller{}
	e := s.entries[0]
	s.pollAndReport(context.Background(), e, p, true)
	clock = now.Add(time.Minute)
	s.pollAndReport(context.Background(), e, p, false)
	s.Widen(6 * time.Hour)
	s.pollAndReport(context.Background(), e, p, false)
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	if !reqs[0].Backfill || !reqs[0].From.Equal(now.Add(-15*time.Minute)) || reqs[0].Step != 10*time.Second {
		t.Errorf("first request is not a backfill of the window: %+v", reqs[0])
	}
	if reqs[1].Backfill || !reqs[1].From.Equal(now) || !reqs[1].Until.Equal(now.Add(time.Minute)) {
		t.Errorf("second request is not incremental: %+v", reqs[1])
	}
	if !reqs[2].Backfill || !reqs[2].From.Equal(clock.Add(-6*time.Hour)) {
		t.Errorf("widened request: %+v", reqs[2])
	}
}

func TestRulesApplyBeforeOut(t *testing.T) {
	src := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		return &Batch{Series: []Series{{Name: "servers.db-1.cpu.iowait", Points: []Point{{T: req.Now, V: 3}}}}}, nil
	})
	c := newCollector()
	s := NewScheduler([]Entry{{Name: "gr", Type: "t", Source: src, Interval: time.Minute}},
		SchedulerOptions{Out: c.out, Rules: Rules{{Match: "servers.db*.cpu.iowait", Role: RoleResource, Layer: LayerDB, Node: "db-1"}}})
	s.RunOnce(context.Background(), 1)
	b := c.last("gr")
	if b == nil || b.Series[0].Layer != LayerDB || b.Series[0].Role != RoleResource || b.Series[0].Node != "db-1" {
		t.Fatalf("rules not applied: %+v", b)
	}
}

func TestRequestWindowFillsGaps(t *testing.T) {
	now := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	from, until, step := Request{Now: now}.Window(10 * time.Second)
	if step != 10*time.Second || !until.Equal(now) || !from.Equal(now.Add(-10*time.Minute)) {
		t.Errorf("%v %v %v", from, until, step)
	}
	f0 := now.Add(-time.Hour)
	from, until, step = Request{Now: now, From: f0, Until: now.Add(-time.Minute), Step: time.Second}.Window(10 * time.Second)
	if step != time.Second || !until.Equal(now.Add(-time.Minute)) || !from.Equal(f0) {
		t.Errorf("%v %v %v", from, until, step)
	}
}

func TestWhatAnAlertingSourceWatchedReachesItsStatus(t *testing.T) {
	c := newCollector()
	src := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		return &Batch{Status: Status{Detail: "42 services", Watched: &Watched{System: "Nagios", Origin: OriginInternal, Hosts: 3, Services: 42}}}, nil
	})
	s := NewScheduler([]Entry{{Name: "nagios", Type: "nagios", Source: src, Timeout: time.Second}}, SchedulerOptions{Out: c.out})
	s.RunOnce(context.Background(), 1)
	b := c.last("nagios")
	if b == nil || b.Status.Watched == nil || b.Status.Watched.Services != 42 || b.Status.Watched.System != "Nagios" {
		t.Fatalf("status: %+v", b)
	}
}

// Parts a source hands to Request.Emit reach Out classified and marked
// Partial, before the poll's last batch; one sent after the poll ended
// (a source that kept going past its timeout) is dropped.
func TestPartsOfAPollReachOutFirst(t *testing.T) {
	var late func(*Batch)
	src := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		req.Emit(&Batch{Series: []Series{{Name: "servers.db-1.cpu.iowait", Points: []Point{{T: req.Now, V: 1}}}}})
		late = req.Emit
		return &Batch{Series: []Series{{Name: "other", Points: []Point{{T: req.Now, V: 2}}}}}, nil
	})
	c := newCollector()
	s := NewScheduler([]Entry{{Name: "gr", Type: "t", Source: src, Interval: time.Minute}},
		SchedulerOptions{Out: c.out, Rules: Rules{{Match: "servers.db*.cpu.iowait", Layer: LayerDB}}})
	s.RunOnce(context.Background(), 1)
	late(&Batch{Series: []Series{{Name: "late"}}})
	c.mu.Lock()
	bs := c.batches["gr"]
	c.mu.Unlock()
	if len(bs) != 2 {
		t.Fatalf("%d batches, want the part and the last", len(bs))
	}
	part, last := bs[0], bs[1]
	if !part.Partial || part.Source != "gr" || part.Type != "t" || part.Series[0].Layer != LayerDB || part.Status.Health != HealthUnknown {
		t.Fatalf("part %+v", part)
	}
	if last.Partial || last.Status.Health != HealthOK {
		t.Fatalf("last %+v", last)
	}
}

// A backfill asks for the whole window at once: a source with history
// gets BackfillTimeout for it, however short its own timeout, and its
// polls after that get their own timeout again; a source without history
// answers a backfill as any poll, within its timeout.
func TestABackfillHasTimeToAnswer(t *testing.T) {
	Register(Kind{Type: "test-history", History: true})
	slowFirst := func(polls *atomic.Int64) Source {
		return PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
			n := polls.Add(1)
			d := 10 * time.Millisecond
			if req.Backfill {
				d = 400 * time.Millisecond // far over the 50 ms timeout
			}
			if n == 3 {
				d = 400 * time.Millisecond // a poll as slow as the backfill was
			}
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &Batch{Series: []Series{{Name: "up", Points: []Point{{T: req.Now, V: 1}}}}}, nil
		})
	}
	var hist, plain atomic.Int64
	c := newCollector()
	s := NewScheduler([]Entry{
		{Name: "hist", Type: "test-history", Source: slowFirst(&hist), Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond},
		{Name: "plain", Type: "t", Source: slowFirst(&plain), Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond},
	}, SchedulerOptions{Out: c.out, MaxBackoff: 40 * time.Millisecond, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, "the third poll of each", func() bool { return hist.Load() >= 4 && plain.Load() >= 4 })
	c.mu.Lock()
	defer c.mu.Unlock()
	var h []*Batch // the polls' answers, not what is shown while they are read
	for _, b := range c.batches["hist"] {
		if !b.Partial {
			h = append(h, b)
		}
	}
	if len(h) < 3 || h[0].Status.Health == HealthFailing {
		t.Fatalf("the history source's backfill: %+v", h[0].Status)
	}
	if h[1].Status.Health == HealthFailing {
		t.Errorf("the history source's second poll: %+v", h[1].Status)
	}
	if h[2].Status.Health != HealthFailing || !strings.Contains(h[2].Status.LastError, "50ms") {
		t.Errorf("a slow poll after the backfill kept the backfill's time: %+v", h[2].Status)
	}
	p := c.batches["plain"]
	if p[0].Status.Health != HealthFailing {
		t.Errorf("a source without history had more than its timeout for its first poll: %+v", p[0].Status)
	}
}

// While a source with history reads its backfill, the screen is told so
// at once, then how many series have come, and the answer's status ends
// it; a source without history sends nothing of the kind.
func TestABackfillSaysHowFarItGot(t *testing.T) {
	Register(Kind{Type: "test-history-parts", History: true})
	parted := PollFunc(func(ctx context.Context, req Request) (*Batch, error) {
		if req.Backfill && req.Emit != nil {
			for k := 0; k < 2; k++ {
				part := &Batch{}
				for i := 0; i < 3; i++ {
					part.Series = append(part.Series, Series{Name: "up", Labels: map[string]string{"i": strings.Repeat("x", 3*k+i+1)}, Points: []Point{{T: req.Now, V: 1}}})
				}
				req.Emit(part)
			}
		}
		return &Batch{Status: Status{Detail: "answered"}}, nil
	})
	var plainPolls atomic.Int64
	c := newCollector()
	s := NewScheduler([]Entry{
		{Name: "hist", Type: "test-history-parts", Source: parted, Interval: time.Hour, Timeout: time.Second},
		{Name: "plain", Type: "t", Source: healthy(&plainPolls), Interval: time.Hour, Timeout: time.Second},
	}, SchedulerOptions{Out: c.out, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, "both answers", func() bool { return c.count("hist", true) >= 4 && c.count("plain", true) >= 1 })
	c.mu.Lock()
	defer c.mu.Unlock()
	var got []string
	for _, b := range c.batches["hist"] {
		got = append(got, fmt.Sprintf("%v %d %s/%s", b.Partial, len(b.Series), b.Status.Source, b.Status.Detail))
	}
	want := []string{
		"true 0 hist/backfilling the last 1h",
		"true 3 hist/backfilling the last 1h: 3 series so far",
		"true 3 hist/backfilling the last 1h: 6 series so far",
		"false 0 hist/answered",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the history source's batches:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, b := range c.batches["plain"] {
		if b.Partial || strings.Contains(b.Status.Detail, "backfilling") {
			t.Errorf("a source without history said %q (partial %v)", b.Status.Detail, b.Partial)
		}
	}
}
