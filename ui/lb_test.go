package ui

import (
	"fmt"
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
	be := func(inst, name, state string, sev sources.Severity, up, total, scur, slim, req, e5 float64, since time.Duration, attrs map[string]string) sources.NodeState {
		a := map[string]string{"check": name, "mode": "http"}
		for k, v := range attrs {
			a[k] = v
		}
		var at time.Time
		if since > 0 {
			at = lbNow.Add(-since)
		}
		return sources.NodeState{Kind: "backend", ID: inst + "/" + name + "/BACKEND", Name: name, Instance: inst, Layer: sources.LayerLB,
			State: state, Severity: sev, Since: at, Attrs: a,
			Values: map[string]float64{"up": up, "total": total, "scur": scur, "slim": slim, "req_tot/s": req, "hrsp_5xx/s": e5, "qcur": 0}}
	}
	srv := func(inst, px, name, state string, sev sources.Severity, scur, slim, w float64, chk string, dur float64, lastChk string, since time.Duration, extra map[string]string) sources.NodeState {
		a := map[string]string{"backend": px, "check_status": chk, "last_chk": lastChk, "addr": "127.0.0.1:18001"}
		for k, v := range extra {
			a[k] = v
		}
		vals := map[string]float64{"scur": scur, "slim": slim, "weight": w, "req_tot/s": scur * 3, "hrsp_5xx/s": 0, "chkdown": 1}
		if dur >= 0 {
			vals["check_duration"] = dur
		}
		return sources.NodeState{Kind: "server", ID: inst + "/" + px + "/" + name, Name: name, Parent: inst + "/" + px + "/BACKEND", Instance: inst,
			Layer: sources.LayerLB, State: state, Severity: sev, Since: lbNow.Add(-since), Attrs: a, Values: vals}
	}
	return []sources.NodeState{
		{Kind: "frontend", ID: "lb-1/fe_web/FRONTEND", Name: "fe_web", Instance: "lb-1", State: "OPEN", Layer: sources.LayerLB,
			Attrs: map[string]string{"mode": "http"}, Values: map[string]float64{"scur": 12, "slim": 256, "req_tot/s": 84.5, "hrsp_5xx/s": 2.25}},
		be("", "be_app", "UP", sources.SevWarning, 8, 10, 6, 4, 84.5, 2.25, 0, map[string]string{"fleet": "2 LBs", "check": "be_app (Active: 8/10) sessions 6/4 on 2 LBs"}),
		be("lb-1", "be_app", "UP", sources.SevWarning, 4, 5, 3, 2, 42.25, 1.5, 3*time.Minute+12*time.Second, map[string]string{"check": "be_app (Active: 4/5) sessions 3/2", "finding": "backend be_app: 1 of 5 servers DOWN"}),
		srv("lb-1", "be_app", "app1", "UP", sources.SevOK, 2, 2, 1, "L7OK", 1, "OK", 17*time.Second, nil),
		srv("lb-1", "be_app", "app2", "UP", sources.SevWarning, 1, 2, 2, "L7OK", 2, "OK", 40*time.Second, map[string]string{"flapping": "3 DOWN transitions in 5m0s"}),
		srv("lb-1", "be_app", "app3", "DOWN", sources.SevWarning, 0, -1, 1, "L4CON", 0, "Connection refused", 2*time.Hour+5*time.Minute, map[string]string{"check_desc": "Layer4 connection problem"}),
		srv("lb-1", "be_app", "app4", "DRAIN", sources.SevInfo, 0, 2, 0, "", -1, "", 26*time.Hour, nil),
		srv("lb-1", "be_app", "bk1\x1b[31m\x1b]0;owned\x07", "UP", sources.SevOK, 0, -1, 1, "L7OK", 1, "OK", 17*time.Second, map[string]string{"backup": "true"}),
		be("lb-1", "be_api", "DOWN", sources.SevCritical, 0, 3, 0, -1, 3.5, 3.5, 17*time.Second, map[string]string{"check": "be_api (Active: 0/3) sessions 0", "finding": "backend be_api has no server UP (Active: 0/3)"}),
		srv("lb-1", "be_api", "api1", "DOWN", sources.SevWarning, 0, -1, 1, "L7STS", 1, "Not Found", 16*time.Second, nil),
		srv("lb-1", "be_api", "api3", "MAINT", sources.SevInfo, 0, -1, 1, "", -1, "", 17*time.Second, nil),
		be("lb-2", "be_app", "UP", sources.SevOK, 4, 5, 3, 2, 42.25, 0.75, 26*time.Hour, map[string]string{"check": "be_app (Active: 4/5) sessions 3/2"}),
	}
}

func lbContext(theme *themes.Theme, w, h int) *Context {
	return &Context{Theme: theme, Symbols: themes.UnicodeSymbols, Cursor: -1, Window: 15 * time.Minute, Width: w, Height: h,
		Snap: &correlate.Snapshot{Now: lbNow, Nodes: lbNodes()}}
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
