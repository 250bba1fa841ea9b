package ui

import (
	"bytes"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// countingWriter is the terminal: it counts what the program writes.
type countingWriter struct {
	mu     sync.Mutex
	n      int64
	writes int
	all    []byte // kept until the first frame is seen
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	c.writes++
	if len(c.all) < 1<<20 {
		c.all = append(c.all, p...)
	}
	c.mu.Unlock()
	return len(p), nil
}

func (c *countingWriter) contains(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Contains(c.all, []byte(s))
}

func (c *countingWriter) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// running is a real tea.Program over the app, writing to a counter.
type running struct {
	p    *tea.Program
	out  *countingWriter
	done chan struct{}
}

func runProgram(tb testing.TB, a *App, w, h int) *running {
	tb.Helper()
	r := &running{out: &countingWriter{}, done: make(chan struct{})}
	r.p = tea.NewProgram(a,
		tea.WithOutput(r.out), tea.WithInput(nil), tea.WithWindowSize(w, h),
		tea.WithoutSignals(), tea.WithEnvironment([]string{"TERM=xterm-256color"}),
		tea.WithColorProfile(colorprofile.TrueColor))
	go func() {
		defer close(r.done)
		if _, err := r.p.Run(); err != nil {
			tb.Errorf("program: %v", err)
		}
	}()
	return r
}

func (r *running) stop() {
	r.p.Quit()
	<-r.done
}

// settle waits until frame n is built, the terminal has received more
// than after bytes, and nothing more is written for a few renderer ticks;
// it returns the byte count then. The waits only make the test patient on
// a loaded machine; what is asserted is a count of bytes.
func (r *running) settle(a *App, n int, after int64) int64 {
	deadline := time.Now().Add(10 * time.Second)
	for a.Frames() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for r.out.count() <= after && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	last := r.out.count()
	stable := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		c := r.out.count()
		if c != last {
			last, stable = c, time.Now()
			continue
		}
		if time.Since(stable) >= 60*time.Millisecond { // more than three frames at 60 fps
			return c
		}
	}
	return last
}

// first waits for the first full frame: the tab line is on the terminal.
func (r *running) first(a *App) int64 {
	deadline := time.Now().Add(10 * time.Second)
	for !r.out.contains("window 15m") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return r.settle(a, 1, 0)
}

func fixtureApp(w, h, buckets int, view string) (*App, *meltingVolume) {
	in := newIncident()
	in.advance(buckets)
	fs := fixtureFindings()
	a := New(Options{Store: in.store, Findings: func() []correlate.Finding { return fs }, Theme: themes.Dark(),
		Mode: "live", Location: time.UTC})
	pressKeys(a, view)
	return a, in
}

// TestIdleSecondWritesNothing: after the last frame, a quiet second (no
// data, no key, no resize) writes 0 bytes to the terminal and builds no
// frame. This is a count of bytes, not a timing assertion.
func TestIdleSecondWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a program for a second")
	}
	for _, view := range []string{"1", "2", "3"} {
		a, in := fixtureApp(80, 24, 200, view)
		r := runProgram(t, a, 80, 24)
		r.p.Send(DataMsg{})
		c0 := r.first(a)
		in.advance(1)
		n := a.Frames() + 1
		r.p.Send(DataMsg{})
		before := r.settle(a, n, c0)
		frames := a.Frames()
		time.Sleep(time.Second)
		after := r.out.count()
		r.stop()
		if after != before {
			t.Errorf("view %s: an idle second wrote %d bytes", view, after-before)
		}
		if a.Frames() != frames {
			t.Errorf("view %s: an idle second built %d frames", view, a.Frames()-frames)
		}
		if before == 0 {
			t.Errorf("view %s: nothing was ever written: the test proves nothing", view)
		}
	}
}

// TestLabelOnlyUpdateWritesFewBytes: data inside the current bucket moves
// only the clock, so the frame costs a few bytes, not a redraw.
func TestLabelOnlyUpdateWritesFewBytes(t *testing.T) {
	a, in := fixtureApp(200, 50, 200, "2")
	r := runProgram(t, a, 200, 50)
	defer r.stop()
	r.p.Send(DataMsg{})
	start := r.first(a)
	in.store.Apply(&sources.Batch{Source: "lb-1", At: in.at.Add(3 * time.Second),
		Status: sources.Status{Health: sources.HealthOK, Latency: 12 * time.Millisecond, Detail: "2 backends"}})
	n := a.Frames() + 1
	r.p.Send(DataMsg{})
	end := r.settle(a, n, start)
	t.Logf("clock-only update at 200x50: %d bytes", end-start)
	if n := end - start; n == 0 || n > 64 {
		t.Fatalf("a clock-only update wrote %d bytes, want a few (1..64)", n)
	}
}

// BenchmarkNewToFirstFrame is the time from New to the first rendered
// frame of the Overview over 20 minutes of data.
func BenchmarkNewToFirstFrame(b *testing.B) {
	in := newIncident()
	in.advance(240)
	fs := fixtureFindings()
	b.ReportAllocs()
	for b.Loop() {
		a := New(Options{Store: in.store, Findings: func() []correlate.Finding { return fs }, Location: time.UTC})
		a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		a.Update(DataMsg{})
		if len(a.View().Content) == 0 {
			b.Fatal("empty frame")
		}
	}
}

// BenchmarkFrame renders one frame of each view after new data.
func BenchmarkFrame(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		for _, v := range []string{"1", "2", "3"} {
			b.Run(viewName(v)+"-"+sizeName(sz), func(b *testing.B) {
				a, _ := fixtureApp(sz[0], sz[1], 240, v)
				a.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				b.ReportAllocs()
				for b.Loop() {
					a.Update(DataMsg{})
					a.dirty = true // as if the data had moved: a full frame
					a.View()
				}
			})
		}
	}
}

func viewName(v string) string {
	return map[string]string{"1": "overview", "2": "graphs", "3": "events"}[v]
}

func sizeName(sz [2]int) string {
	return itoa(sz[0]) + "x" + itoa(sz[1])
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkTerminalBytes runs a real program and counts what it writes
// per frame in steady state: "moving" adds one bucket per frame (every
// graph shifts), "label" changes no data (only a label
// changes: a source's health flips in the header). Figures: bytes/frame.
func BenchmarkTerminalBytes(b *testing.B) {
	for _, kind := range []string{"moving", "label"} {
		for _, sz := range [][2]int{{80, 24}, {200, 50}} {
			for _, v := range []string{"1", "2"} {
				b.Run(kind+"-"+viewName(v)+"-"+sizeName(sz), func(b *testing.B) {
					a, in := fixtureApp(sz[0], sz[1], 200, v)
					r := runProgram(b, a, sz[0], sz[1])
					defer r.stop()
					r.p.Send(DataMsg{})
					r.first(a)
					var total int64
					frames := 0
					b.ResetTimer()
					for b.Loop() {
						before := r.out.count()
						if kind == "moving" {
							in.advance(1)
						} else {
							// a source's health flips: a few header cells change
							h := sources.HealthOK
							if frames%2 == 0 {
								h = sources.HealthSlow
							}
							in.store.SetStatus(sources.Status{Source: "graphite", Type: "graphite", Health: h, Latency: 85 * time.Millisecond})
						}
						n := a.Frames() + 1
						r.p.Send(DataMsg{})
						total += r.settle(a, n, before) - before
						frames++
					}
					b.ReportMetric(float64(total)/float64(frames), "bytes/frame")
				})
			}
		}
	}
}

// BenchmarkFrame24h is the cost of one data update (snapshot and frame)
// with the 24h window over a full day of 20 series at 5s steps.
func BenchmarkFrame24h(b *testing.B) {
	st := correlate.NewStore(correlate.StoreOptions{Step: step, Retention: 24 * time.Hour})
	n := int(24 * time.Hour / step)
	start := t0.Add(-24 * time.Hour)
	for k := 0; k < 20; k++ {
		pts := make([]sources.Point, n)
		for i := range pts {
			pts[i] = sources.Point{T: start.Add(time.Duration(i) * step), V: float64(i%360) + float64(k)}
		}
		role := sources.RoleResource
		if k < 6 {
			role = sources.RoleSymptom
		}
		st.Apply(&sources.Batch{Source: "s", At: t0, Series: []sources.Series{{Name: "series." + itoa(k+1), Unit: "%", Role: role, Points: pts}},
			Status: sources.Status{Health: sources.HealthOK}})
	}
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		b.Run("graphs-"+sizeName(sz), func(b *testing.B) {
			a := New(Options{Store: st, Location: time.UTC, Window: 24 * time.Hour})
			a.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			pressKeys(a, "2")
			b.ReportAllocs()
			for b.Loop() {
				a.Update(DataMsg{})
				a.dirty = true // as if the data had moved: a full frame
				a.View()
			}
		})
	}
}

// written is what the program wrote after the first n bytes it kept.
func (c *countingWriter) written(from int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.all[from:])
}

func (c *countingWriter) kept() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

// TestHealthFlipWritesTheMarkOnly: a source's health flips ok↔slow. On
// Graphs only the header's mark changes, and the terminal gets that one
// cell, not the unchanged blank after it (which the renderer rewrote, with
// two pen changes, while the header line ended in a blank it could
// clear); on the Overview the Sources row's mark and word change too, and
// a flip costs at most 64 bytes.
func TestHealthFlipWritesTheMarkOnly(t *testing.T) {
	for _, view := range []string{"2", "1"} {
		a, in := fixtureApp(80, 24, 200, view)
		r := runProgram(t, a, 80, 24)
		r.p.Send(DataMsg{})
		r.first(a)
		var total int64
		for i, h := range []sources.Health{sources.HealthSlow, sources.HealthOK, sources.HealthSlow, sources.HealthOK} {
			from, before := r.out.kept(), r.out.count()
			in.store.SetStatus(sources.Status{Source: "graphite", Type: "graphite", Health: h, Latency: 85 * time.Millisecond})
			n := a.Frames() + 1
			r.p.Send(DataMsg{})
			end := r.settle(a, n, before)
			got := r.out.written(from)
			if i > 0 { // the first flip also redraws the row's name and type
				total += end - before
			}
			text := ansi.Strip(got)
			want := map[sources.Health]string{sources.HealthSlow: "▲", sources.HealthOK: "✔"}[h]
			if view == "2" && text != want {
				t.Errorf("graphs, flip to %v: the terminal got the text %q (%q), want only the mark %q", h, text, got, want)
			}
		}
		r.stop()
		if per := total / 3; view == "1" && per > 64 {
			t.Errorf("overview: a health flip wrote %d bytes, want at most 64", per)
		}
	}
}
