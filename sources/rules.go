package sources

import (
	"path"
	"strings"
)

// Rule assigns a role, layer, node or unit to the series it matches. Rules
// come from the config and override what a source guessed; the first
// matching rule wins for each field it sets.
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

// Rules is an ordered list of rules.
type Rules []Rule

// Apply classifies every series of the batch.
func (rs Rules) Apply(b *Batch) {
	if len(rs) == 0 {
		return
	}
	for i := range b.Series {
		rs.Classify(b.Source, &b.Series[i])
	}
}

// Classify applies the first matching rule for each field to s.
func (rs Rules) Classify(source string, s *Series) {
	var roleSet, layerSet, nodeSet, unitSet bool
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
	}
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
