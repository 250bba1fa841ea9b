package correlate

import (
	"fmt"
	"sort"
	"testing"
)

// How long the first verdict takes, round by round at the default rate
// (one round a second), over many random draws of each loss case of
// issue 14's table: the share within 30 rounds of the fault's start, and
// no wrong finding on the way. The controls (clean, and routers that
// only rate-limit ICMP) must give no finding at all.

// speedCases are the loss cases timed: the table's, and plain 20 % loss
// at the shared carrier.
func speedCases() []struct {
	name string
	mod  func(v int, h []synthHop)
	want func(v *PathVerdict) string
} {
	cs := append(pathCases[:0:0], pathCases...)
	cs = append(cs, struct {
		name string
		mod  func(v int, h []synthHop)
		want func(v *PathVerdict) string
	}{"20 % carrier loss", func(v int, h []synthHop) { h[1].fwd = 0.2 }, func(v *PathVerdict) string {
		if v.Kind != VerdictShared || len(v.Vantages) < 2 || v.Place == nil || v.Place.Successor != "10.3.0.2" {
			return "want shared at the carrier"
		}
		return ""
	}})
	return cs
}

// firstVerdict steps a judge through the rounds after the clean ones
// (clean) and returns the round of the fault its first finding comes at
// (-1: none within limit rounds), and the first wrong evaluation.
func firstVerdict(hs []PathHistory, clean, limit int, want func(*PathVerdict) string) (int, string) {
	j := NewPathJudge(PathOptions{})
	for n := clean - 5; n <= clean+limit; n++ {
		vs := j.Judge(upTo(hs, n))
		fs := FindingsFromVerdicts(vs)
		if len(fs) == 0 {
			continue
		}
		if n <= clean {
			return -1, fmt.Sprintf("round %d before the fault: %s", n-clean, vs[0].Text)
		}
		if w := want(&vs[0]); w != "" || len(fs) != 1 {
			return -1, fmt.Sprintf("round %d: %s (%s)", n-clean, describe(&vs[0]), w)
		}
		return n - clean, ""
	}
	return -1, ""
}

func TestFirstVerdictWithin30Rounds(t *testing.T) {
	seeds := 100
	if testing.Short() || raceEnabled {
		seeds = 25
	}
	const clean, limit = 120, 60
	for _, c := range speedCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var firsts []int
			in30 := 0
			for s := 1; s <= seeds; s++ {
				hs := roundByRound(uint64(s)*7349+11, phase{clean, nil}, phase{limit, c.mod})
				first, wrong := firstVerdict(hs, clean, limit, c.want)
				if wrong != "" {
					t.Errorf("seed %d: a wrong finding, %s", s, wrong)
					continue
				}
				if first < 0 {
					first = limit + 1
				}
				firsts = append(firsts, first)
				if first <= 30 {
					in30++
				}
			}
			sort.Ints(firsts)
			q := func(f float64) int { return firsts[min(len(firsts)-1, int(f*float64(len(firsts))))] }
			t.Logf("first verdict after: min %d, median %d, 90 %% %d, 95 %% %d, max %d rounds; %d of %d within 30",
				firsts[0], q(0.5), q(0.9), q(0.95), firsts[len(firsts)-1], in30, seeds)
			// 20 % loss behind a router that rate-limits ICMP is the
			// hardest: the router hides where the loss starts from every
			// path, so two paths must each show the loss on their own
			// (about 90 % of draws within 30 rounds, 95 % within 33)
			share := 95
			if c.name == "rate-limiting carrier, loss into the edge" {
				share = 88
			}
			if in30*100 < share*seeds {
				t.Errorf("%d of %d draws gave their first verdict within 30 rounds, want %d %%", in30, seeds, share)
			}
		})
	}
}

// TestNoVerdictOnCleanOrRateLimitedPaths: clean paths with loss below the
// tolerance, and routers rate-limiting ICMP (the kernel's limit, and a
// CoPP-style limit unfair between vantages), give no finding in any
// round of any draw.
func TestNoVerdictOnCleanOrRateLimitedPaths(t *testing.T) {
	seeds := 12
	if testing.Short() || raceEnabled {
		seeds = 4
	}
	const rounds = 200
	controls := []struct {
		name string
		mod  func(v int, h []synthHop)
	}{
		{"clean, 0.3 % loss", func(v int, h []synthHop) { h[1].fwd = 0.003 }},
		{"carrier rate-limiting", func(v int, h []synthHop) { h[1].icmp = 0.7 }},
		{"carrier CoPP, unfair", func(v int, h []synthHop) { h[1].icmp = []float64{0, 0.97, 0.13, 0.93}[v] }},
		{"access and edge rate-limiting", func(v int, h []synthHop) { h[0].icmp, h[2].icmp = 0.8, 0.5 }},
	}
	for _, c := range controls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for s := 1; s <= seeds; s++ {
				hs := roundByRound(uint64(s)*6131+3, phase{rounds, c.mod})
				j := NewPathJudge(PathOptions{})
				for n := 2; n <= rounds; n++ {
					vs := j.Judge(upTo(hs, n))
					if fs := FindingsFromVerdicts(vs); len(fs) > 0 {
						t.Errorf("seed %d round %d: %s", s, n, describe(&vs[0]))
						break
					}
				}
			}
		})
	}
}
