package ui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// pathSnap is the field story: three vantages, the carrier router c
// answering each from another address and dropping 30 %, plus (on v1) a
// hop that only rate-limits ICMP. Loss counts are fixed per poll so the
// picture is deterministic.
func pathSnap() *correlate.Snapshot {
	snap := &correlate.Snapshot{Now: time.Unix(1700000600, 0)}
	for v := 1; v <= 3; v++ {
		h := correlate.PathHistory{Source: "paths", Vantage: fmt.Sprintf("bastion%d", v), Target: "api.example.com"}
		for p := 0; p < 6; p++ {
			n := 20
			lost := 5 + (p+v)%3 // 25–35 %
			rtt := func(ms float64) time.Duration {
				return time.Duration((ms + float64((p*7+v)%5)*0.3) * float64(time.Millisecond))
			}
			tr := sources.PathTrace{Vantage: h.Vantage, Target: h.Target, Addr: "10.4.0.2", At: snap.Now.Add(time.Duration(p-6) * time.Minute), Rounds: n, Reached: true}
			hop := func(ttl int, addr, name string, asn int, recv int, ms float64) sources.Hop {
				return sources.Hop{TTL: ttl, Addr: addr, Name: name, ASN: asn, Sent: n, Received: recv, Loss: 1 - float64(recv)/float64(n), Min: rtt(ms), Median: rtt(ms)}
			}
			a := 20
			if v == 1 {
				a = 6 // rate-limited answers, nothing lost downstream of it
			}
			tr.Hops = []sources.Hop{
				hop(1, fmt.Sprintf("10.1.%d.1", v), "", 65100+v, a, 0.4),
				hop(2, fmt.Sprintf("10.2.%d.1", v), "ae-1.r1.carrier.example.net", 65002, n-lost, 1.2),
				hop(3, "10.3.0.2", "", 65002, n-lost, 2.5),
				hop(4, "10.4.0.2", "", 65004, n-lost, 3.1),
			}
			tr.EndToEnd = hop(4, "10.4.0.2", "", 65004, n-lost, 3.1)
			h.Traces = append(h.Traces, tr)
		}
		snap.Paths = append(snap.Paths, h)
	}
	snap.Events = []sources.Event{{ID: "ec2", Layer: sources.LayerProvider, Severity: sources.SevOK, Title: "EC2 us-east-1 operating normally"}}
	return snap
}

func pathsCtx(theme *themes.Theme, w, h int) *Context {
	snap := pathSnap()
	c := &Context{Theme: theme, Symbols: themes.UnicodeSymbols, Snap: snap, Paths: pathVerdicts(snap), Cursor: -1, Window: 15 * time.Minute, Width: w, Height: h}
	if theme.Mono {
		c.Symbols = themes.ASCIISymbols
		c.ASCII = true
	}
	return c
}

func TestPathsGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		for _, th := range []*themes.Theme{themes.Dark(), themes.Mono()} {
			for _, drill := range []bool{false, true} {
				mode := "matrix"
				if drill {
					mode = "drill"
				}
				name := fmt.Sprintf("paths_%s_%dx%d_%s", mode, size[0], size[1], th.Name)
				t.Run(name, func(t *testing.T) {
					v := NewPaths()
					c := pathsCtx(th, size[0], size[1])
					if drill {
						v.Update(tea.KeyPressMsg{Code: tea.KeyEnter}, c)
					}
					out := v.Render(c)
					checkFrame(t, out, size[0], size[1])
					golden(t, name, out)
				})
			}
		}
	}
}

func TestPathsContent(t *testing.T) {
	v := NewPaths()
	c := pathsCtx(themes.Mono(), 160, 48)
	out := ansi.Strip(v.Render(c))
	for _, want := range []string{"SHARED", "3 of 3 vantage points", "AS65002", "provider status green", "<onset", "rl", "bastion1", "bastion3"} {
		if !strings.Contains(out, want) {
			t.Errorf("matrix lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10.1.1.1 <onset") {
		t.Error("the rate-limited hop is blamed")
	}
	// drill into bastion2: its own table with a sparkline per hop
	v.Update(tea.KeyPressMsg{Code: 'v', Text: "v"}, c)
	v.Update(tea.KeyPressMsg{Code: tea.KeyEnter}, c)
	out = ansi.Strip(v.Render(c))
	out = out[strings.Index(out, "vantage bastion2"):]
	if !strings.Contains(out, "vantage bastion2") || !strings.Contains(out, "10.2.2.1") || strings.Contains(out, "10.2.1.1") {
		t.Errorf("drill-down shows the wrong vantage:\n%s", out)
	}
	if handled, _ := v.Update(tea.KeyPressMsg{Code: tea.KeyEscape}, c); !handled {
		t.Error("esc in the drill-down must return to the matrix")
	}
	if handled, _ := v.Update(tea.KeyPressMsg{Code: tea.KeyEscape}, c); handled {
		t.Error("esc in the matrix belongs to the shell")
	}
	// no data at all
	c.Snap = &correlate.Snapshot{}
	checkFrame(t, v.Render(c), 160, 48)
}

// In Paths, as in every view, ←/→ move the time cursor; v/V (and only
// they) move between vantages.
func TestPathsArrowsMoveTheCursorAndVSwitchesVantage(t *testing.T) {
	v := NewPaths()
	c := pathsCtx(themes.Mono(), 160, 48)
	for _, k := range []tea.KeyPressMsg{{Code: tea.KeyLeft}, {Code: tea.KeyRight}, {Code: 'h', Text: "h"}, {Code: 'l', Text: "l"}} {
		if handled, _ := v.Update(k, c); handled {
			t.Errorf("Paths takes %s: it belongs to the time cursor", k.String())
		}
	}
	drilled := func() string {
		v.Update(tea.KeyPressMsg{Code: tea.KeyEnter}, c)
		out := ansi.Strip(v.Render(c))
		v.Update(tea.KeyPressMsg{Code: tea.KeyEscape}, c)
		return out
	}
	if out := drilled(); !strings.Contains(out, "vantage bastion1") {
		t.Fatalf("arrows moved the vantage:\n%s", out)
	}
	v.Update(tea.KeyPressMsg{Code: 'v', Text: "v"}, c)
	v.Update(tea.KeyPressMsg{Code: 'v', Text: "v"}, c)
	if out := drilled(); !strings.Contains(out, "vantage bastion3") {
		t.Fatalf("v v does not reach the third vantage:\n%s", out)
	}
	v.Update(tea.KeyPressMsg{Code: 'v', ShiftedCode: 'V', Mod: tea.ModShift, Text: "V"}, c)
	if out := drilled(); !strings.Contains(out, "vantage bastion2") {
		t.Fatalf("V does not go back a vantage:\n%s", out)
	}
	// in the app, on the Paths tab, ← places the time cursor
	a, _ := newTestApp(themes.Mono(), 80, 24, 240)
	pressKeys(a, "6", "left")
	if a.views[a.tab].Name() != "Paths" {
		t.Fatalf("6 opened %s", a.views[a.tab].Name())
	}
	if a.context(a.bodyHeight()).Cursor < 0 {
		t.Fatal("← on the Paths view did not move the time cursor")
	}
	// help lists the vantage keys
	pressKeys(a, "?")
	if !regexp.MustCompile(`v/V\s+next/prev vantage`).MatchString(plain(a)) {
		t.Errorf("help lacks v/V:\n%s", plain(a))
	}
}

// The Paths view draws the verdicts the engine published and nothing of
// its own: told LOCAL, it says LOCAL, whatever the traces would give.
func TestPathsDrawTheEnginesVerdicts(t *testing.T) {
	c := pathsCtx(themes.Mono(), 160, 48)
	c.Paths[0].Kind = correlate.VerdictLocal
	c.Paths[0].Text = "loss starts near bastion2 only"
	out := ansi.Strip(NewPaths().Render(c))
	if !strings.Contains(out, "LOCAL loss starts near bastion2 only") || strings.Contains(out, "SHARED") {
		t.Fatalf("the view did not draw the engine's verdict:\n%s", out)
	}
	c.Paths = nil
	if out := ansi.Strip(NewPaths().Render(c)); !strings.Contains(out, "the engine has not judged the paths yet") {
		t.Fatalf("traces without verdicts:\n%s", out)
	}
}

// The shell reads Options.Paths when data comes, not per frame.
func TestAppHandsTheEnginesPathVerdictsToPaths(t *testing.T) {
	snap := pathSnap()
	calls := 0
	a := newTestAppOpts(Options{Theme: themes.Mono(), Paths: func() []correlate.PathVerdict {
		calls++
		return pathVerdicts(snap)
	}}, 160, 48, 240)
	pressKeys(a, "6")
	n := calls
	scr := plain(a)
	if !strings.Contains(scr, "target 1/1: api.example.com") || !strings.Contains(scr, "SHARED") {
		t.Fatalf("Paths view:\n%s", scr)
	}
	pressKeys(a, "down")
	plain(a)
	if calls != n {
		t.Errorf("Options.Paths was called %d times for a key", calls-n)
	}
}

// A load balancer the flows showed: its TTL row is marked lb, a path the
// engine split by branch is named by the branch its flows took, and the
// footer lists the branches.
func TestPathsMarkALoadBalancedHop(t *testing.T) {
	c := pathsCtx(themes.Mono(), 160, 48)
	vd := &c.Paths[0]
	vd.Balanced = []string{"10.3.0.2", "10.3.0.9"}
	for i := range vd.Paths {
		for j := range vd.Paths[i].Hops {
			if h := &vd.Paths[i].Hops[j]; h.TTL == 3 {
				h.ECMP = true
			}
		}
	}
	vd.Paths[0].Branch, vd.Paths[0].BranchTTL = "10.3.0.2", 3
	v := NewPaths()
	out := ansi.Strip(v.Render(c))
	for _, want := range []string{"lb 10.3.0.2", "bastion1 via", "lb = load-balanced: 10.3.0.2 | 10.3.0.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
	checkFrame(t, v.Render(c), 160, 48)
	v.Update(tea.KeyPressMsg{Code: tea.KeyEnter}, c)
	if out := ansi.Strip(v.Render(c)); !strings.Contains(out, "vantage bastion1 via 10.3.0.2") {
		t.Errorf("the drill-down does not name the branch:\n%s", out)
	}
}

// TestPathsUnderASCIIHasNoArrows: --ascii leaves no arrow or other sign
// outside ASCII on the Paths screens (matrix and vantage table).
func TestPathsUnderASCIIHasNoArrows(t *testing.T) {
	snap := pathSnap()
	a := newTestAppOpts(Options{Theme: themes.Mono(), ASCII: true, Paths: func() []correlate.PathVerdict { return pathVerdicts(snap) }}, 80, 24, 240)
	a.snap = snap
	for _, keys := range [][]string{{"6"}, {"enter"}} {
		pressKeys(a, keys...)
		a.dirty = true
		for _, r := range plain(a) {
			if r > 0x7e && r != '…' && r != '—' {
				t.Fatalf("after %v: %q under --ascii:\n%s", keys, r, plain(a))
			}
		}
	}
}

// TestPathsTargetKeysAreNotZoom: [ and ] zoom in every view, Paths too;
// t and T change the target.
func TestPathsTargetKeysAreNotZoom(t *testing.T) {
	a := newTestAppOpts(Options{Theme: themes.Mono()}, 80, 24, 100)
	pressKeys(a, "6")
	w := a.window
	pressKeys(a, "]")
	if a.window == w {
		t.Fatal("] does not zoom out in Paths")
	}
	for _, k := range a.views[a.tab].Keys() {
		for _, g := range []key.Binding{a.keys.ZoomIn, a.keys.ZoomOut} {
			for _, kk := range k.Keys() {
				if slices.Contains(g.Keys(), kk) {
					t.Errorf("Paths key %q is also %s", kk, g.Help().Desc)
				}
			}
		}
	}
}

// TestPathsKeepHopNamesAndMarks: at 160 columns the hop's name is whole
// in the matrix and the vantage table; at 80 the table keeps each hop's
// mark (rate-limited, <onset) and names the RTT column, giving up Rcv and
// Best first.
func TestPathsKeepHopNamesAndMarks(t *testing.T) {
	snap := pathSnap()
	for _, sz := range [][2]int{{160, 48}, {80, 24}} {
		a := newTestAppOpts(Options{Theme: themes.Mono(), Paths: func() []correlate.PathVerdict { return pathVerdicts(snap) }}, sz[0], sz[1], 100)
		a.snap = snap
		pressKeys(a, "6")
		a.dirty = true
		matrix := plain(a)
		pressKeys(a, "enter")
		a.dirty = true
		table := plain(a)
		if sz[0] == 160 {
			for name, scr := range map[string]string{"matrix": matrix, "table": table} {
				if !strings.Contains(scr, "ae-1.r1.carrier.example.net") {
					t.Errorf("160: the %s cuts the hop's name:\n%s", name, scr)
				}
			}
			continue
		}
		for _, want := range []string{"rate-limited", "<onset", "RTT", "Floor%"} {
			if !strings.Contains(table, want) {
				t.Errorf("80: the table lacks %q:\n%s", want, table)
			}
		}
		if !strings.Contains(matrix, "vantages 1-2 of 3") {
			t.Errorf("80: the matrix's notes are cut:\n%s", matrix)
		}
	}
}
