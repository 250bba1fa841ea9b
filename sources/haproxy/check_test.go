package haproxy

import (
	"strings"
	"testing"
	"time"
)

func TestCheckOfTheCapturedLB(t *testing.T) {
	a := answer{stat: readTestdata(t, "haproxy-2.6/show_stat.csv"), info: readTestdata(t, "haproxy-2.6/show_info.txt")}
	s := newReplaySource(t, []string{"lb-1"}, []answer{a})
	b := poll(t, s, time.Unix(1795417700, 0))
	r := Check(b.Nodes)
	if r.ExitCode() != 2 {
		t.Errorf("be_api has no server UP: exit %d", r.ExitCode())
	}
	if len(r.Lines) != 4 || !strings.HasPrefix(r.Lines[0], "lb: be_api (Active: 0/3)") { // be_api, be_app, li_tcp, stats
		t.Errorf("lines %q", r.Lines)
	}
	all := strings.Join(r.Problems, "\n")
	for _, want := range []string{"be_api has no server UP", "server be_app/app3 on lb is DOWN (L4CON: Connection refused)", "api1"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

func TestCheckWarningAndOK(t *testing.T) {
	base := readTestdata(t, "haproxy-2.6/series/show_stat_1795417675648.csv")
	// keep be_app only: app3 DOWN → warning
	var keep []string
	for _, l := range strings.Split(string(base), "\n") {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "be_app,") || strings.HasPrefix(l, "fe_web,") {
			keep = append(keep, l)
		}
	}
	st := []byte(strings.Join(keep, "\n"))
	s := newReplaySource(t, []string{"lb-1"}, []answer{{stat: st, info: info(1, 1)}})
	r := Check(poll(t, s, time.Unix(1795417700, 0)).Nodes)
	if r.ExitCode() != 1 {
		t.Errorf("a DOWN server: exit %d (%q)", r.ExitCode(), r.Problems)
	}
	var noDown []string
	for _, l := range keep {
		if !strings.HasPrefix(l, "be_app,app3,") {
			noDown = append(noDown, l)
		}
	}
	s = newReplaySource(t, []string{"lb-1"}, []answer{{stat: []byte(strings.Join(noDown, "\n")), info: info(1, 1)}})
	r = Check(poll(t, s, time.Unix(1795417700, 0)).Nodes)
	if r.ExitCode() != 0 || len(r.Lines) != 1 {
		t.Errorf("all UP: exit %d, lines %q, problems %q", r.ExitCode(), r.Lines, r.Problems)
	}
}
