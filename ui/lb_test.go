package ui

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

var lbNow = time.Date(2026, 11, 23, 7, 30, 0, 0, time.UTC)

// lbNodes is what the HAProxy source reports for the captured topology
// (haproxy-2.6/show_stat.csv): be_app with a DOWN, a DRAIN and a backup
// server, be_api with no server UP, and a server whose name holds escape
// sequences.
func lbNodes() []sources.NodeState {
	classes := map[string]sources.StateClass{"UP": sources.ClassUp, "DOWN": sources.ClassDown, "DRAIN": sources.ClassDrain, "MAINT": sources.ClassMaint, "OPEN": sources.ClassUp}
	be := func(inst, name, state string, sev sources.Severity, up, total, down int, scur, slim, req, e5 float64, since time.Duration, check string) sources.NodeState {
		lb := sources.NewLBNode(name)
		lb.Mode, lb.Up, lb.Total, lb.Down = sources.LBModeHTTP, up, total, down
		lb.Sessions, lb.SessionLimit, lb.Queue, lb.Rates.Requests, lb.Rates.Resp5xx = scur, slim, 0, req, e5
		if inst == "" {
			lb.Instances = 2
		}
		var at time.Time
		if since > 0 {
			at = lbNow.Add(-since)
		}
		return sources.NodeState{Kind: sources.NodeBackend, ID: inst + "/" + name + "/BACKEND", Name: name, Instance: inst, Layer: sources.LayerLB,
			State: state, Class: classes[state], Severity: sev, Since: at, LB: lb, Attrs: map[string]string{"check": check}}
	}
	srv := func(inst, px, name, state string, sev sources.Severity, scur, slim, w float64, chk string, dur float64, lastChk string, since time.Duration, edit func(*sources.NodeState)) sources.NodeState {
		lb := sources.NewLBNode(px)
		lb.Mode, lb.Addr, lb.Sessions, lb.SessionLimit, lb.Weight, lb.Downs = sources.LBModeHTTP, "127.0.0.1:18001", scur, slim, w, 1
		lb.Rates.Requests, lb.Rates.Resp5xx = scur*3, 0
		lb.Check = sources.LBCheck{Status: chk, Failed: chk == "L4CON" || chk == "L7STS", Last: lastChk, Duration: math.NaN()}
		if dur >= 0 {
			lb.Check.Duration = dur
		}
		n := sources.NodeState{Kind: sources.NodeServer, ID: inst + "/" + px + "/" + name, Name: name, Parent: inst + "/" + px + "/BACKEND", Instance: inst,
			Layer: sources.LayerLB, State: state, Class: classes[state], Severity: sev, Since: lbNow.Add(-since), LB: lb}
		if edit != nil {
			edit(&n)
		}
		return n
	}
	fe := sources.NewLBNode("fe_web")
	fe.Mode, fe.Sessions, fe.SessionLimit, fe.Rates.Requests, fe.Rates.Resp5xx = sources.LBModeHTTP, 12, 256, 84.5, 2.25
	return []sources.NodeState{
		{Kind: sources.NodeFrontend, ID: "lb-1/fe_web/FRONTEND", Name: "fe_web", Instance: "lb-1", State: "OPEN", Class: sources.ClassUp, Layer: sources.LayerLB, LB: fe},
		be("", "be_app", "UP", sources.SevWarning, 8, 10, 2, 6, 4, 84.5, 2.25, 0, "be_app (Active: 8/10) sessions 6/4 on 2 LBs"),
		be("lb-1", "be_app", "UP", sources.SevWarning, 4, 5, 1, 3, 2, 42.25, 1.5, 3*time.Minute+12*time.Second, "be_app (Active: 4/5) sessions 3/2"),
		srv("lb-1", "be_app", "app1", "UP", sources.SevOK, 2, 2, 1, "L7OK", 1, "OK", 17*time.Second, nil),
		srv("lb-1", "be_app", "app2", "UP", sources.SevWarning, 1, 2, 2, "L7OK", 2, "OK", 40*time.Second, func(n *sources.NodeState) {
			n.Flapping, n.Flaps, n.FlapWindow = true, 3, 5*time.Minute
		}),
		srv("lb-1", "be_app", "app3", "DOWN", sources.SevWarning, 0, -1, 1, "L4CON", 0, "Connection refused", 2*time.Hour+5*time.Minute, func(n *sources.NodeState) {
			n.LB.Check.Desc = "Layer4 connection problem"
		}),
		srv("lb-1", "be_app", "app4", "DRAIN", sources.SevInfo, 0, 2, 0, "", -1, "", 26*time.Hour, nil),
		srv("lb-1", "be_app", "bk1\x1b[31m\x1b]0;owned\x07", "UP", sources.SevOK, 0, -1, 1, "L7OK", 1, "OK", 17*time.Second, func(n *sources.NodeState) {
			n.LB.Backup = true
		}),
		be("lb-1", "be_api", "DOWN", sources.SevCritical, 0, 3, 2, 0, -1, 3.5, 3.5, 17*time.Second, "be_api (Active: 0/3) sessions 0"),
		srv("lb-1", "be_api", "api1", "DOWN", sources.SevWarning, 0, -1, 1, "L7STS", 1, "Not Found", 16*time.Second, nil),
		srv("lb-1", "be_api", "api3", "MAINT", sources.SevInfo, 0, -1, 1, "", -1, "", 17*time.Second, nil),
		be("lb-2", "be_app", "UP", sources.SevOK, 4, 5, 0, 3, 2, 42.25, 0.75, 26*time.Hour, "be_app (Active: 4/5) sessions 3/2"),
	}
}

// lbContext is the view's context over lbNodes, with the engine's
// findings about them.
func lbContext(theme *themes.Theme, w, h int) *Context {
	snap := &correlate.Snapshot{Now: lbNow, Nodes: lbNodes()}
	return &Context{Theme: theme, Symbols: themes.UnicodeSymbols, Cursor: -1, Window: 15 * time.Minute, Width: w, Height: h,
		Snap: snap, Findings: correlate.Detect(snap)}
}

func lbCheckFrame(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Fatalf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if ansi.StringWidth(l) != w {
			t.Errorf("line %d is %d wide, want %d: %q", i, ansi.StringWidth(l), w, ansi.Strip(l))
		}
	}
	if strings.Contains(out, "]0;owned") || strings.Contains(out, "\x1b[31m") && !strings.Contains(out, "\x1b[38") {
		t.Error("the escape sequence of the server name reached the screen")
	}
}

func TestLoadBalancersGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		for _, th := range []*themes.Theme{themes.Dark(), themes.Mono()} {
			name := fmt.Sprintf("lb_%s_%dx%d", th.Name, size[0], size[1])
			c := lbContext(th, size[0], size[1])
			v := NewLoadBalancers()
			// open be_app of lb-1 (after the frontend, be_api (critical) and the fleet sum)
			for i := 0; i < 3; i++ {
				v.Update(keyMsg("down"), c)
			}
			v.Update(keyMsg("enter"), c)
			v.Update(keyMsg("down"), c)
			v.Update(keyMsg("down"), c)
			v.Update(keyMsg("down"), c)
			out := v.Render(c)
			lbCheckFrame(t, out, size[0], size[1])
			plain := ansi.Strip(out)
			for _, want := range []string{"be_api", "0/3", "app3", "DOWN", "DRAIN", "bk1 (backup)", "flapping", "3m12s ago", "2h05m ago"} {
				if !strings.Contains(plain, want) {
					t.Errorf("%s: %q missing:\n%s", name, want, plain)
				}
			}
			if th.Mono && strings.Contains(out, "\x1b[38") {
				t.Errorf("%s: colour in mono", name)
			}
			golden(t, name, out)
		}
	}
}

func TestLoadBalancersKeys(t *testing.T) {
	c := lbContext(themes.Mono(), 100, 20)
	v := NewLoadBalancers()
	plain := ansi.Strip(v.Render(c))
	// frontends first, then by state: the backend with no server UP
	lines := strings.Split(plain, "\n")
	if !strings.Contains(lines[2], "fe_web") || !strings.Contains(lines[3], "be_api") || !strings.Contains(lines[3], "DOWN") {
		t.Fatalf("first row should be be_api (critical):\n%s", plain)
	}
	// Enter opens the servers, g goes to the graphs of the selected one
	v.Update(keyMsg("down"), c)
	v.Update(keyMsg("enter"), c)
	v.Update(keyMsg("down"), c)
	plain = ansi.Strip(v.Render(c))
	if !strings.Contains(plain, "api1") || !strings.Contains(plain, "api3") {
		t.Fatalf("servers not shown after Enter:\n%s", plain)
	}
	handled, cmd := v.Update(keyMsg("g"), c)
	if !handled || cmd == nil {
		t.Fatal("g not handled")
	}
	if msg, ok := cmd().(GotoMsg); !ok || msg.View != "Graphs" || msg.Filter != "api1" {
		t.Errorf("g: %#v", cmd())
	}
	// s cycles the sort; by name the fleet row comes first
	v.Update(keyMsg("s"), c)
	plain = ansi.Strip(v.Render(c))
	if !strings.Contains(plain, "by name") {
		t.Errorf("sort not shown:\n%s", plain)
	}
	// the filter keeps matching servers and their backend
	c.Filter = "app3"
	plain = ansi.Strip(v.Render(c))
	if !strings.Contains(plain, "app3") || strings.Contains(plain, "be_api") || strings.Contains(plain, "app1") {
		t.Errorf("filter app3:\n%s", plain)
	}
	// unknown keys go to the shell
	if handled, _ := v.Update(keyMsg("x"), c); handled {
		t.Error("x should not be handled")
	}
}

func TestLoadBalancersWithoutDataOrSpace(t *testing.T) {
	for _, c := range []*Context{
		{Theme: themes.Dark(), Width: 80, Height: 24},
		{Theme: themes.Dark(), Width: 80, Height: 24, Snap: &correlate.Snapshot{Now: lbNow}},
		{Theme: themes.Mono(), Width: 20, Height: 3, Snap: &correlate.Snapshot{Now: lbNow, Nodes: lbNodes()}},
		{Theme: themes.Mono(), Width: 1, Height: 1, Snap: &correlate.Snapshot{Now: lbNow, Nodes: lbNodes()}},
	} {
		v := NewLoadBalancers()
		out := v.Render(c)
		lbCheckFrame(t, out, c.Width, c.Height)
	}
}

func TestLoadBalancersAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:                "5s ago",
		3*time.Minute + 12*time.Second: "3m12s ago",
		2*time.Hour + 5*time.Minute:    "2h05m ago",
		50 * time.Hour:                 "2d02h ago",
		-time.Second:                   "0s ago",
	} {
		if got := lbAgo(lbNow, lbNow.Add(-d)); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestLoadBalancersASCII(t *testing.T) {
	c := lbContext(themes.Mono(), 100, 20)
	c.ASCII, c.Symbols = true, themes.ASCIISymbols
	v := NewLoadBalancers()
	v.Update(keyMsg("enter"), c)
	out := ansi.Strip(v.Render(c))
	for _, r := range out {
		if r > 0x7e {
			t.Fatalf("non-ASCII %q in ASCII mode:\n%s", r, out)
		}
	}
}

// The view shows what the engine concluded about a backend, and nothing a
// source wrote in a node's free-form attributes.
func TestLoadBalancersShowTheEnginesWords(t *testing.T) {
	c := lbContext(themes.Mono(), 160, 30)
	for i := range c.Snap.Nodes {
		if c.Snap.Nodes[i].Attrs != nil {
			c.Snap.Nodes[i].Attrs["finding"] = "a source's sentence"
			c.Snap.Nodes[i].Attrs["flapping"] = "yes"
		}
	}
	plain := ansi.Strip(NewLoadBalancers().Render(c))
	if !strings.Contains(plain, "backend be_api has no server UP") || strings.Contains(plain, "a source's sentence") {
		t.Errorf("the backend's finding is not the engine's:\n%s", plain)
	}
	if strings.Count(plain, "flapping") != 0 { // app2 flaps, but its backend is folded
		t.Errorf("flapping read from attributes:\n%s", plain)
	}
	c.Findings = nil
	if plain := ansi.Strip(NewLoadBalancers().Render(c)); strings.Contains(plain, "has no server UP") {
		t.Errorf("a finding shown without the engine's:\n%s", plain)
	}
}

// TestBackendStateReflectsItsErrors: a backend UP whose answers are 11%
// 5xx is not drawn "✔ UP": its mark and detail say it errs; a server UP
// is never drawn with the warning mark unless it is in trouble.
func TestBackendStateReflectsItsErrors(t *testing.T) {
	lb := sources.NewLBNode("app")
	lb.Mode, lb.Up, lb.Total, lb.Sessions, lb.SessionLimit, lb.Queue = sources.LBModeHTTP, 4, 4, 175, 400, 0
	lb.Rates.Requests, lb.Rates.Resp5xx = 444, 49
	srv := func(name string, cl sources.StateClass, state string, req, e5, scur float64) sources.NodeState {
		l := sources.NewLBNode("app")
		l.Mode, l.Sessions, l.SessionLimit, l.Weight = sources.LBModeHTTP, scur, 100, 1
		l.Rates.Requests, l.Rates.Resp5xx = req, e5
		sev := sources.SevOK
		if cl == sources.ClassDown {
			sev = sources.SevWarning
		}
		return sources.NodeState{Kind: sources.NodeServer, ID: "lb-1/app/" + name, Name: name, Parent: "lb-1/app", Instance: "lb-1",
			Layer: sources.LayerLB, State: state, Class: cl, Severity: sev, Since: lbNow.Add(-time.Minute), LB: l}
	}
	snap := &correlate.Snapshot{Now: lbNow, Nodes: []sources.NodeState{
		{Kind: sources.NodeBackend, ID: "lb-1/app", Name: "app", Instance: "lb-1", Layer: sources.LayerLB, State: "UP", Class: sources.ClassUp,
			Severity: sources.SevOK, Since: lbNow.Add(-14 * time.Minute), LB: lb, Attrs: map[string]string{"check": "app (Active: 4/4)"}},
		srv("app-1", sources.ClassUp, "UP", 111, 0, 40),
		srv("app-2", sources.ClassUp, "UP", 111, 49, 45),
		srv("app-3", sources.ClassDown, "DOWN", 70, 3, 54),
	}}
	c := &Context{Theme: themes.Mono(), Symbols: themes.UnicodeSymbols, Cursor: -1, Width: 100, Height: 12, Snap: snap}
	v := NewLoadBalancers()
	v.Update(keyMsg("enter"), c)
	out := ansi.Strip(v.Render(c))
	row := func(name string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, name+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s:\n%s", name, out)
		return ""
	}
	if be := row("app"); !strings.HasPrefix(be, "▲ UP") {
		t.Errorf("backend with 49 5xx/s of 444 req/s is not marked as erring: %q", be)
	}
	if !strings.Contains(out, "11% of answers 5xx") {
		t.Errorf("the selected backend's detail does not say its error share:\n%s", out)
	}
	if s := row("app-1"); !strings.HasPrefix(s, "✔ UP") {
		t.Errorf("a healthy UP server: %q", s)
	}
	if s := row("app-2"); !strings.HasPrefix(s, "✖ UP") {
		t.Errorf("an UP server answering 44%% 5xx: %q", s)
	}
	// a DOWN server takes no traffic: its last figures are not shown as
	// if current
	if s := row("app-3"); !strings.HasPrefix(s, "▼ DOWN") || strings.Contains(s, "70") || strings.Contains(s, "54") || strings.Count(s, "—") < 3 {
		t.Errorf("a DOWN server shows figures as current: %q", s)
	}
}

// TestFiguresOfASourceNotAnsweringLookStale: when the HAProxy source
// fails, the view says since when its figures date.
func TestFiguresOfASourceNotAnsweringLookStale(t *testing.T) {
	c := lbContext(themes.Mono(), 120, 20)
	for i := range c.Snap.Nodes {
		c.Snap.Nodes[i].Source = "lb-1"
	}
	c.Snap.Status = []sources.Status{{Source: "lb-1", Type: "haproxy", Health: sources.HealthFailing, LastSuccess: lbNow.Add(-42 * time.Second)}}
	out := ansi.Strip(NewLoadBalancers().Render(c))
	if !strings.Contains(strings.Split(out, "\n")[0], "lb-1 not answering: figures from 42s ago") {
		t.Errorf("stale figures not said:\n%s", out)
	}
}

// TestLastCheckIsWholeAt160: at 160 columns the finding beside a backend
// is not cut while the names have room to spare.
func TestLastCheckIsWholeAt160(t *testing.T) {
	c := lbContext(themes.Mono(), 160, 30)
	out := ansi.Strip(NewLoadBalancers().Render(c))
	if !strings.Contains(out, "backend be_api has no server UP (Active: 0/3)") {
		t.Errorf("the LAST CHECK text is cut at 160 columns:\n%s", out)
	}
}
