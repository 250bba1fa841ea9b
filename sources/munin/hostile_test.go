package munin

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

// fakeNode answers munin commands from a table; tests of what a real node
// never sends (escape sequences, endless answers, silence) use it.
func fakeNode(t *testing.T, banner string, answers map[string]string) string {
	t.Helper()
	return sourcetest.ServeTCP(t, func(c net.Conn) {
		fmt.Fprint(c, banner)
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			cmd := sc.Text()
			if cmd == "quit" {
				return
			}
			a, ok := answers[cmd]
			if !ok {
				a = "# Unknown command\n"
			}
			if a == "SILENCE" {
				time.Sleep(time.Minute)
				return
			}
			if a == "ENDLESS" {
				line := []byte(strings.Repeat("a.value 1\n", 1000))
				for {
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}
			if _, err := fmt.Fprint(c, a); err != nil {
				return
			}
		}
	})
}

func TestEscapeSequencesFromTheNodeNeverReachTheScreen(t *testing.T) {
	addr := fakeNode(t, "# munin node at evil\x1b]0;owned\x07host\n", map[string]string{
		"cap multigraph": "cap multigraph\n",
		"list":           "load\n",
		"config load":    "graph_title \x1b[2J\ngraph_vlabel \x1b[31mload\x1b[0m\nload.label \x1b]8;;http://x\x07click\nload.type GAUGE\n.\n",
		"fetch load":     "load.value 1.5\n.\n",
	})
	s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
	b, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sr := find(b, "load.load")
	if sr == nil || sr.Node != "evilhost" || sr.Labels["label"] != "click" || sr.Unit != "load" || sr.Points[0].V != 1.5 {
		t.Fatalf("%+v", sr)
	}
}

func TestAnEndlessAnswerIsCutAndSaidSo(t *testing.T) {
	addr := fakeNode(t, "# munin node at x\n", map[string]string{"cap multigraph": "cap multigraph\n", "list": "load\n", "config load": "ENDLESS"})
	s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
	_, err := sourcetest.PollAt(t, s, time.Now())
	if err == nil || !strings.Contains(err.Error(), "more than 100000 lines") {
		t.Fatalf("got %v", err)
	}
}

func TestASilentNodeTimesOutWithAHint(t *testing.T) {
	addr := fakeNode(t, "# munin node at x\n", map[string]string{"cap multigraph": "cap multigraph\n", "list": "load\n", "config load": "load.label load\n.\n", "fetch load": "SILENCE"})
	s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := s.Poll(ctx, sources.Request{Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "slow plugin") {
		t.Fatalf("got %v", err)
	}
}

func TestNotMuninIsSaid(t *testing.T) {
	addr := fakeNode(t, "SSH-2.0-OpenSSH_9.2\n", nil)
	s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
	if _, err := sourcetest.PollAt(t, s, time.Now()); err == nil || !strings.Contains(err.Error(), "not munin-node") {
		t.Fatalf("got %v", err)
	}
}

// One plugin that fails leaves the others, and the status says which.
func TestAFailingPluginIsSkippedAndNamed(t *testing.T) {
	addr := fakeNode(t, "# munin node at x\n", map[string]string{
		"cap multigraph": "cap multigraph\n", "list": "load slow\n",
		"config load": "load.label load\n.\n", "config slow": "s.label s\n.\n",
		"fetch load": "load.value 2\n.\n", "fetch slow": "# Timed out\n.\n",
	})
	s := newSource(t, fmt.Sprintf("nodes: [%s]\n", addr))
	b, err := sourcetest.PollAt(t, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if find(b, "load.load") == nil || !strings.Contains(b.Status.Detail, `fetch slow: munin-node says "Timed out"`) {
		t.Errorf("series %d, detail %q", len(b.Series), b.Status.Detail)
	}
}

func TestCountersBecomeRatesAndResetsAreGaps(t *testing.T) {
	n := &node{host: "h", prev: map[string]sample{}, graphs: map[string]*Graph{
		"net": {Name: "net", VLabel: "packets per ${graph_period}", Fields: []Field{{Name: "rx", Type: "DERIVE", Min: 0, Max: nanf(), Scale: 1}}},
	}}
	t0 := time.Unix(1700000000, 0)
	get := func(v float64, at time.Time) float64 {
		return n.series([]Value{{Graph: "net", Field: "rx", V: v}}, at)[0].Points[0].V
	}
	if v := get(100, t0); v == v {
		t.Errorf("first: %v", v)
	}
	if v := get(160, t0.Add(30*time.Second)); v != 2 {
		t.Errorf("rate %v", v)
	}
	if v := get(10, t0.Add(60*time.Second)); v == v {
		t.Errorf("a reset is a gap, got %v", v)
	}
	if v := get(40, t0.Add(90*time.Second)); v != 1 {
		t.Errorf("after reset %v", v)
	}
	if u := n.series([]Value{{Graph: "net", Field: "rx", V: 50}}, t0.Add(100*time.Second))[0].Unit; u != "packets per s" {
		t.Errorf("unit %q", u)
	}
}

func nanf() float64 { var z float64; return z / z }

func TestConfigMistakes(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"", "nodes is required"},
		{"nodes: [\"a b\"]", "want host or host:port"},
		{"nodes: [a, a:4949]", "listed twice"},
		{"nodes: [a]\nplugins: [\"[\"]", "plugin name or a glob"},
	} {
		opts, err := configOpts(c.yaml)
		if err == nil {
			_, err = factory(sources.Env{Name: "m"}, opts)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: want %q, got %v", c.yaml, c.want, err)
		}
	}
}
