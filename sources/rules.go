package sources

import (
	"path"
	"strings"
)

// Rule assigns a role, layer, node, unit, kind or harmful direction to the
// series it matches. Rules come from the config and override what a source
// guessed; the first matching rule wins for each field it sets.
type Rule struct {
	// Match is a glob (`*`, `?`, `[…]`) over the series name, then over its
	// ID with labels, e.g. "servers.db*.cpu.iowait" or "node_load1{*".
	Match string
	// Labels must all be present with these values (a value may be a glob).
	Labels map[string]string
	// Source limits the rule to one source by name; "" means any.
	Source string
	Role   Role
	Layer  Layer
	Node   string // may use $label to take a label's value, e.g. "$instance"
	Unit   string
	Kind   SeriesKind
	Harm   Harm
	// Measure, when set, replaces what the series is said to measure.
	Measure Measure
}

// Matches reports whether the rule applies to s from the named source.
func (r *Rule) Matches(source string, s *Series) bool {
	if r.Source != "" && r.Source != source {
		return false
	}
	if r.Match != "" {
		ok, _ := path.Match(r.Match, s.Name)
		if !ok {
			ok, _ = path.Match(r.Match, s.ID())
		}
		if !ok {
			return false
		}
	}
	for k, want := range r.Labels {
		got, present := s.Labels[k]
		if !present {
			return false
		}
		if ok, _ := path.Match(want, got); !ok {
			return false
		}
	}
	return true
}

// Wanted reports whether name is one a source was told to read: any
// name when globs is empty, else one that a glob (`*`, `?`, `[…]`)
// matches.
func Wanted(globs []string, name string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// Rules is an ordered list of rules.
type Rules []Rule

// Apply classifies every series of the batch: the rules first, then, for a
// series whose harmful direction neither its source nor a rule said, the
// direction its name suggests (GuessHarm).
func (rs Rules) Apply(b *Batch) {
	for i := range b.Series {
		s := &b.Series[i]
		rs.Classify(b.Source, s)
		if s.Harm == HarmUnset {
			s.Harm = GuessHarm(s.Name)
		}
		if s.Measure == 0 {
			s.Measure = GuessMeasure(s.Name)
		}
	}
}

// Classify applies the first matching rule for each field to s.
func (rs Rules) Classify(source string, s *Series) {
	var roleSet, layerSet, nodeSet, unitSet, kindSet, harmSet, measureSet bool
	for i := range rs {
		r := &rs[i]
		if !r.Matches(source, s) {
			continue
		}
		if !roleSet && r.Role != RoleUnknown {
			s.Role, roleSet = r.Role, true
		}
		if !layerSet && r.Layer != LayerUnknown {
			s.Layer, layerSet = r.Layer, true
		}
		if !nodeSet && r.Node != "" {
			s.Node, nodeSet = expand(r.Node, s.Labels), true
		}
		if !unitSet && r.Unit != "" {
			s.Unit, unitSet = r.Unit, true
		}
		if !kindSet && r.Kind != SeriesUnknown {
			s.Kind, kindSet = r.Kind, true
		}
		if !harmSet && r.Harm != HarmUnset {
			s.Harm, harmSet = r.Harm, true
		}
		if !measureSet && r.Measure != 0 {
			s.Measure, measureSet = r.Measure, true
		}
	}
}

// The words a series' name is read for, once, when it arrives without a
// measure of its own.
var (
	errorWords       = []string{"5xx", "error", "fail", "err"}
	clientErrorWords = []string{"4xx"}
	successWords     = []string{"avail", "success"}
	latencyWords     = []string{"latency", "duration", "time", "rtt", "p99", "p95"}
	lagWords         = []string{"replication_lag", "replica_lag", "slave_lag", "seconds_behind", "repl_lag", "replication.lag", "replication lag", "replica.lag"}
)

// GuessMeasure is what a series' name suggests it measures, for series
// that come without a measure (Graphite paths, PromQL results, CloudWatch
// metrics). Sources that know their series say it instead.
func GuessMeasure(name string) Measure {
	var m Measure
	for _, g := range measureWords {
		for _, w := range g.words {
			if containsFold(name, w) {
				m |= g.m
				break
			}
		}
	}
	return m
}

// measureWords say which words suggest which measure.
var measureWords = []struct {
	words []string
	m     Measure
}{{errorWords, MeasureErrors}, {clientErrorWords, MeasureClientErrors}, {successWords, MeasureSuccess},
	{latencyWords, MeasureLatency}, {lagWords, MeasureReplicationLag}}

// downWords mark series where less is worse.
var downWords = []string{"avail", "success", "free", "hit_ratio", "hitratio", "uptime", "healthy", "throughput", "idle"}

// GuessHarm is the harmful direction a series' name suggests, for series
// that come without one (Graphite paths, PromQL results, CloudWatch
// metrics): availability, success, free space, hit ratios, uptime, health,
// throughput and idle time hurt going down. Anything else is left unset,
// to the role. Sources that know their series say it instead.
func GuessHarm(name string) Harm {
	for _, w := range downWords {
		if containsFold(name, w) {
			return HarmDown
		}
	}
	return HarmUnset
}

// containsFold reports whether s contains the lower-case word w, in any
// case, without allocating: every series of every batch passes here.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// expand replaces $label in tmpl with the label's value.
func expand(tmpl string, labels map[string]string) string {
	if !strings.Contains(tmpl, "$") {
		return tmpl
	}
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			b.WriteByte(tmpl[i])
			continue
		}
		j := i + 1
		for j < len(tmpl) && (tmpl[j] == '_' || tmpl[j] >= 'a' && tmpl[j] <= 'z' || tmpl[j] >= 'A' && tmpl[j] <= 'Z' || tmpl[j] >= '0' && tmpl[j] <= '9') {
			j++
		}
		b.WriteString(labels[tmpl[i+1:j]])
		i = j - 1
	}
	return b.String()
}

// Dependency says that From depends on To (lb → app → db): when both are
// anomalous, To is the likelier cause.
type Dependency struct {
	From string
	To   string
}
