package sources

import "testing"

// The words that used to live in the engine: a series that does not say
// which way it hurts gets the direction its name suggests, in any case.
func TestNamesThatHurtGoingDown(t *testing.T) {
	for _, c := range []struct {
		name string
		want Harm
	}{
		{"availability", HarmDown},
		{"node_filesystem_free_bytes", HarmDown},
		{"node_memory_MemAvailable_bytes", HarmDown},
		{"probe_success", HarmDown},
		{"aws.elb.HealthyHostCount", HarmDown},
		{"cache.hit_ratio", HarmDown},
		{"haproxy_idle_pct", HarmDown},
		{"cpu.iowait", HarmUnset},
		{"hrsp_5xx", HarmUnset},
		{"replication_lag", HarmUnset},
		{"", HarmUnset},
	} {
		if got := GuessHarm(c.name); got != c.want {
			t.Errorf("%q: %v, want %v", c.name, got, c.want)
		}
	}
}

// A source's own direction stands unless a rule says otherwise; the name
// is read only when neither said.
func TestRulesSetKindAndHarmAndTheNameComesLast(t *testing.T) {
	rs := Rules{
		{Match: "queue*", Harm: HarmDown, Kind: SeriesGauge},
		{Match: "queue_depth", Harm: HarmBoth}, // the first rule that sets a field wins it
		{Match: "requests", Kind: SeriesRate},
	}
	b := &Batch{Series: []Series{
		{Name: "queue_depth"},
		{Name: "requests", Harm: HarmUp},
		{Name: "free_slots", Harm: HarmUp},
		{Name: "free_slots_too"},
	}}
	rs.Apply(b)
	want := []struct {
		kind SeriesKind
		harm Harm
	}{{SeriesGauge, HarmDown}, {SeriesRate, HarmUp}, {SeriesUnknown, HarmUp}, {SeriesUnknown, HarmDown}}
	for i, w := range want {
		if s := b.Series[i]; s.Kind != w.kind || s.Harm != w.harm {
			t.Errorf("%s: kind %v harm %v, want %v %v", s.Name, s.Kind, s.Harm, w.kind, w.harm)
		}
	}
}

func TestParseKindAndHarm(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind SeriesKind
		ok   bool
	}{{"gauge", SeriesGauge, true}, {"Rate", SeriesRate, true}, {"ratio", SeriesRatio, true}, {"counter", SeriesCounter, true}, {"", SeriesUnknown, true}, {"histogram", SeriesUnknown, false}} {
		if k, ok := ParseSeriesKind(c.in); k != c.kind || ok != c.ok {
			t.Errorf("kind %q: %v %v", c.in, k, ok)
		}
	}
	for _, c := range []struct {
		in   string
		harm Harm
		ok   bool
	}{{"up", HarmUp, true}, {"DOWN", HarmDown, true}, {"either", HarmBoth, true}, {"both", HarmBoth, true}, {"", HarmUnset, true}, {"sideways", HarmUnset, false}} {
		if h, ok := ParseHarm(c.in); h != c.harm || ok != c.ok {
			t.Errorf("harm %q: %v %v", c.in, h, ok)
		}
		if c.ok && c.in != "" {
			if back, _ := ParseHarm(c.harm.String()); back != c.harm {
				t.Errorf("harm %v does not read back from %q", c.harm, c.harm.String())
			}
		}
	}
}
