package alertmanager

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Matcher is one of Alertmanager's label matchers: name, op, value, as in
// `severity=~"critical|page"`.
type Matcher struct {
	Name  string
	Op    string // =, !=, =~, !~
	Value string
	re    *regexp.Regexp
}

var matcherRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)
})

// ParseMatcher reads `name op value`, the value quoted ("…") or bare.
// Regular expressions are anchored at both ends, as Alertmanager does.
func ParseMatcher(s string) (Matcher, error) {
	m := matcherRE().FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: write it as name=\"value\" (ops: = != =~ !~)", s)
	}
	out := Matcher{Name: m[1], Op: m[2], Value: m[3]}
	if strings.HasPrefix(out.Value, `"`) {
		v, err := strconv.Unquote(out.Value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: bad quoted value: %v", s, err)
		}
		out.Value = v
	}
	if out.Op == "=~" || out.Op == "!~" {
		re, err := regexp.Compile("^(?:" + out.Value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
		}
		out.re = re
	}
	return out, nil
}

// Matches reports whether labels satisfy the matcher; a missing label is
// the empty string, as in Alertmanager.
func (m *Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	return false
}

// String is the matcher as Alertmanager's API takes it in filter=.
func (m *Matcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// matchAll reports whether labels satisfy every matcher (none: false).
func matchAll(ms []Matcher, labels map[string]string) bool {
	if len(ms) == 0 {
		return false
	}
	for i := range ms {
		if !ms[i].Matches(labels) {
			return false
		}
	}
	return true
}
