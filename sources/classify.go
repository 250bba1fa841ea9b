package sources

import (
	"hash/maphash"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// Classifier is Rules.Apply made cheap enough for every series of every
// poll: the rules are compiled once (each glob's literal prefix, suffix
// and inner words, the rules that concern each source), and what they say
// of a series is worked out the first time it arrives and remembered by
// a hash of its name and labels. A series seen again costs a hash and a
// map lookup; a new one costs one pass over the rules whose literals its
// name contains, linear in its length. Safe for concurrent use.
type Classifier struct {
	rules []compiledRule

	mu       sync.Mutex
	bySource map[string]*sourceClass
}

// classKeep is how many batches of a source an unseen series' entry
// outlives, once the source's cache holds more than twice its batches.
const classKeep = 8

// NewClassifier compiles rs.
func NewClassifier(rs Rules) *Classifier {
	c := &Classifier{bySource: map[string]*sourceClass{}}
	for i := range rs {
		c.rules = append(c.rules, compileRule(&rs[i]))
	}
	return c
}

// sourceClass is what the classifier remembers for one source.
type sourceClass struct {
	mu    sync.Mutex
	rules []*compiledRule // the rules that concern this source, in order
	seen  map[uint64]*classEntry
	gen   uint32
	// last are the entries of the source's last poll in its order, cur
	// this poll's so far: a source sends its series in the same order
	// every time, so the entry at the same place is tried before the map
	last, cur []*classEntry
}

// classEntry is one series' outcome, with what identifies it (a hash can
// be shared; the name and labels settle it).
type classEntry struct {
	name   string
	labels map[string]string
	hash   uint64 // SeriesHash of name and labels
	gen    uint32
	out    classOutcome
	next   *classEntry // another series with the same hash
}

// Fields a rule set, in classOutcome.set.
const (
	setRole = 1 << iota
	setLayer
	setNode
	setUnit
	setKind
	setHarm
	setMeasure
	setAll = 1<<iota - 1
)

// classOutcome is what the rules say of a series, and what its name
// suggests for a direction and a measure nobody said.
type classOutcome struct {
	set     uint8
	role    Role
	layer   Layer
	kind    SeriesKind
	harm    Harm
	measure Measure
	node    string
	unit    string

	guessHarm    Harm
	guessMeasure Measure
}

// apply gives s what the rules said, then, where s still has no direction
// or measure, what its name suggests: Rules.Apply's order.
func (o *classOutcome) apply(s *Series) {
	if o.set&setRole != 0 {
		s.Role = o.role
	}
	if o.set&setLayer != 0 {
		s.Layer = o.layer
	}
	if o.set&setNode != 0 {
		s.Node = o.node
	}
	if o.set&setUnit != 0 {
		s.Unit = o.unit
	}
	if o.set&setKind != 0 {
		s.Kind = o.kind
	}
	if o.set&setHarm != 0 {
		s.Harm = o.harm
	}
	if o.set&setMeasure != 0 {
		s.Measure = o.measure
	}
	if s.Harm == HarmUnset {
		s.Harm = o.guessHarm
	}
	if s.Measure == 0 {
		s.Measure = o.guessMeasure
	}
}

// Apply classifies every series of the batch as Rules.Apply does.
func (c *Classifier) Apply(b *Batch) {
	if len(b.Series) == 0 {
		return
	}
	sc := c.source(b.Source)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	for i := range b.Series {
		s := &b.Series[i]
		var e *classEntry
		if j := len(sc.cur); j < len(sc.last) {
			// the same series at the same place, in the same map
			if x := sc.last[j]; x.name == s.Name && SameMap(x.labels, s.Labels) {
				e = x
				e.gen = sc.gen
				s.Hash = x.hash
			}
		}
		if e == nil {
			e = sc.entry(s)
		}
		sc.cur = append(sc.cur, e)
		e.out.apply(s)
	}
	if !b.Partial {
		sc.last, sc.cur = sc.cur, sc.last[:0]
	}
	if len(sc.seen) > 2*len(b.Series)+1024 {
		sc.forget()
		// forget made new entries of those it kept
		sc.last, sc.cur = nil, sc.cur[:0]
	}
}

// Len is how many series the classifier remembers.
func (c *Classifier) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, sc := range c.bySource {
		sc.mu.Lock()
		n += len(sc.seen)
		sc.mu.Unlock()
	}
	return n
}

func (c *Classifier) source(name string) *sourceClass {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.bySource[name]
	if sc == nil {
		sc = &sourceClass{seen: map[uint64]*classEntry{}}
		for i := range c.rules {
			if r := &c.rules[i]; r.source == "" || r.source == name {
				sc.rules = append(sc.rules, r)
			}
		}
		c.bySource[name] = sc
	}
	return sc
}

// entry finds s's outcome, working it out the first time.
func (sc *sourceClass) entry(s *Series) *classEntry {
	// a series that comes with its hash comes from a source that keeps
	// its labels from one poll to the next: its map is the one to keep
	kept := s.Hash != 0
	if !kept {
		s.Hash = SeriesHash(s.Name, s.Labels)
	}
	h := s.Hash
	for e := sc.seen[h]; e != nil; e = e.next {
		if e.name == s.Name && SameLabels(e.labels, s.Labels) {
			e.gen = sc.gen
			if kept {
				e.labels = s.Labels
			} else {
				// the same labels in the map first seen: the store
				// (which keeps that one) then knows the series without
				// comparing
				s.Labels = e.labels
			}
			return e
		}
	}
	e := &classEntry{name: s.Name, labels: s.Labels, hash: h, gen: sc.gen, next: sc.seen[h]}
	e.out = classify(sc.rules, s)
	sc.seen[h] = e
	return e
}

// hashSeed seeds SeriesHash and SourceHash: one per process, so that
// every part of it (a source, the classifier, the store) gets the same
// hash of the same series.
var hashSeed = maphash.MakeSeed()

// SeriesHash identifies a series' name and labels (never 0); the labels
// are combined in no order (a sum of their pairs' hashes), so nothing is
// sorted or built. Equal series give equal hashes within one process.
func SeriesHash(name string, labels map[string]string) uint64 {
	base := maphash.String(hashSeed, name)
	var sum uint64
	for k, v := range labels {
		sum += mix(maphash.String(hashSeed, k)*0x9e3779b97f4a7c15 ^ maphash.String(hashSeed, v))
	}
	h := base ^ (sum * 0x9e3779b97f4a7c15)
	if h == 0 {
		h = 1
	}
	return h
}

// SourceHash identifies a source's name, to combine with a SeriesHash
// (the store's key of a series is both).
func SourceHash(source string) uint64 { return maphash.String(hashSeed, source) }

// mix spreads x's bits (a finaliser of splitmix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// SameLabels is maps.Equal, at once when both are the same map (as
// the classifier hands on the map a series was first seen with).
func SameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || SameMap(a, b) {
		return true
	}
	return maps.Equal(a, b)
}

// SameMap reports whether a and b are one map (or both empty): what a
// source that keeps its labels hands on every poll. A map value is a
// pointer to the map; reflect would box both for every series.
func SameMap(a, b map[string]string) bool {
	return len(a) == 0 && len(b) == 0 || len(a) > 0 && *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b))
}

// forget drops the series not seen in the source's last classKeep
// batches, so the cache follows the source's series.
func (sc *sourceClass) forget() {
	for h, e := range sc.seen {
		var keep *classEntry
		for ; e != nil; e = e.next {
			if sc.gen-e.gen < classKeep {
				keep = &classEntry{name: e.name, labels: e.labels, hash: e.hash, gen: e.gen, out: e.out, next: keep}
			}
		}
		if keep == nil {
			delete(sc.seen, h)
		} else {
			sc.seen[h] = keep
		}
	}
}

// classify works out what rules (in order) and s's name say of s.
func classify(rules []*compiledRule, s *Series) classOutcome {
	var o classOutcome
	m := matcher{s: s}
	for _, r := range rules {
		if o.set == setAll {
			break
		}
		if r.sets&^o.set == 0 || !r.matches(&m) {
			continue // nothing left for it to set, or it does not apply
		}
		rr := r.rule
		if o.set&setRole == 0 && rr.Role != RoleUnknown {
			o.role, o.set = rr.Role, o.set|setRole
		}
		if o.set&setLayer == 0 && rr.Layer != LayerUnknown {
			o.layer, o.set = rr.Layer, o.set|setLayer
		}
		if o.set&setNode == 0 && rr.Node != "" {
			o.node, o.set = expand(rr.Node, s.Labels), o.set|setNode
		}
		if o.set&setUnit == 0 && rr.Unit != "" {
			o.unit, o.set = rr.Unit, o.set|setUnit
		}
		if o.set&setKind == 0 && rr.Kind != SeriesUnknown {
			o.kind, o.set = rr.Kind, o.set|setKind
		}
		if o.set&setHarm == 0 && rr.Harm != HarmUnset {
			o.harm, o.set = rr.Harm, o.set|setHarm
		}
		if o.set&setMeasure == 0 && rr.Measure != 0 {
			o.measure, o.set = rr.Measure, o.set|setMeasure
		}
	}
	lower := lowerASCII(s.Name)
	o.guessHarm = guessHarmLower(lower)
	o.guessMeasure = guessMeasureLower(lower)
	return o
}

// matcher is one series being classified; its ID is built only if a
// rule needs it, and then once.
type matcher struct {
	s       *Series
	id      string
	hasID   bool
	slashes uint8 // 1: the name has a '/', 2: the ID has; 4, 8: looked
}

func (m *matcher) ID() string {
	if !m.hasID {
		m.id, m.hasID = m.s.ID(), true
	}
	return m.id
}

// nameSlash and idSlash report whether the name and the ID hold a '/'
// (where a star stops), each looked for once.
func (m *matcher) nameSlash() bool {
	if m.slashes&4 == 0 {
		m.slashes |= 4
		if strings.IndexByte(m.s.Name, '/') >= 0 {
			m.slashes |= 1
		}
	}
	return m.slashes&1 != 0
}

func (m *matcher) idSlash() bool {
	if m.slashes&8 == 0 {
		m.slashes |= 8
		if strings.IndexByte(m.ID(), '/') >= 0 {
			m.slashes |= 2
		}
	}
	return m.slashes&2 != 0
}

// compiledRule is a Rule ready to be tried on many series.
type compiledRule struct {
	rule   *Rule
	source string
	sets   uint8 // the fields it sets
	match  *glob // nil: any name
	labels []labelGlob
}

type labelGlob struct {
	key string
	val glob
}

func compileRule(r *Rule) compiledRule {
	c := compiledRule{rule: r, source: r.Source}
	if r.Match != "" {
		g := compileGlob(r.Match)
		c.match = &g
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.labels = append(c.labels, labelGlob{key: k, val: compileGlob(r.Labels[k])})
	}
	for _, f := range []struct {
		on  bool
		bit uint8
	}{{r.Role != RoleUnknown, setRole}, {r.Layer != LayerUnknown, setLayer}, {r.Node != "", setNode},
		{r.Unit != "", setUnit}, {r.Kind != SeriesUnknown, setKind}, {r.Harm != HarmUnset, setHarm}, {r.Measure != 0, setMeasure}} {
		if f.on {
			c.sets |= f.bit
		}
	}
	return c
}

// matches is Rule.Matches (the source aside, settled per source).
func (r *compiledRule) matches(m *matcher) bool {
	s := m.s
	if r.match != nil && !r.match.matchSlash(s.Name, m.nameSlash) {
		// the ID is the name, then the labels in braces: tried only if
		// the glob could match such a string
		if len(s.Labels) == 0 || !r.match.couldMatchID(s.Name) || !r.match.matchSlash(m.ID(), m.idSlash) {
			return false
		}
	}
	for i := range r.labels {
		got, ok := s.Labels[r.labels[i].key]
		if !ok || !r.labels[i].val.match(got) {
			return false
		}
	}
	return true
}

// glob is a path.Match pattern compiled. A pattern of literals and stars
// only is matched here, by its literal pieces, in time linear in the
// name; others (with ?, […] or \) go to path.Match once their literal
// prefix matched. Either way the answer is path.Match's.
type glob struct {
	pat    string
	prefix string // the literals before the first meta character
	// for patterns of literals and stars only:
	starOnly bool
	stars    bool     // at least one star
	suffix   string   // the literals after the last star
	middle   []string // the non-empty literals between stars, in order
	bad      bool     // malformed: matches nothing
}

func compileGlob(pat string) glob {
	g := glob{pat: pat}
	if _, err := path.Match(pat, ""); err != nil {
		g.bad = true
		return g
	}
	i := strings.IndexAny(pat, `*?[\`)
	if i < 0 {
		g.prefix, g.starOnly = pat, true
		return g
	}
	g.prefix = pat[:i]
	if strings.ContainsAny(pat, `?[\`) {
		return g
	}
	g.starOnly, g.stars = true, true
	pieces := strings.Split(pat, "*")
	g.suffix = pieces[len(pieces)-1]
	for _, p := range pieces[1 : len(pieces)-1] {
		if p != "" {
			g.middle = append(g.middle, p)
		}
	}
	return g
}

func (g *glob) match(x string) bool {
	return g.matchSlash(x, func() bool { return strings.IndexByte(x, '/') >= 0 })
}

// matchSlash is match, with slash saying whether x holds a '/'.
func (g *glob) matchSlash(x string, slash func() bool) bool {
	if g.bad || !strings.HasPrefix(x, g.prefix) {
		return false
	}
	if !g.starOnly {
		ok, _ := path.Match(g.pat, x)
		return ok
	}
	if !g.stars {
		return len(x) == len(g.prefix)
	}
	if len(x) < len(g.prefix)+len(g.suffix) || !strings.HasSuffix(x, g.suffix) {
		return false
	}
	// a star matches no '/': such names go the long way
	if slash() {
		ok, _ := path.Match(g.pat, x)
		return ok
	}
	rest := x[len(g.prefix) : len(x)-len(g.suffix)]
	for _, p := range g.middle {
		j := strings.Index(rest, p)
		if j < 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}

// couldMatchID reports whether the glob could match the ID of a series
// named name with labels (name{…}): a name whose prefix differs, or a
// literal suffix that cannot end in "}", rule it out without building
// the ID.
func (g *glob) couldMatchID(name string) bool {
	if g.bad {
		return false
	}
	if n := len(g.prefix); n <= len(name) && name[:n] != g.prefix {
		return false
	}
	if g.starOnly {
		last := g.suffix // the literals the string must end with
		if !g.stars {
			last = g.prefix
		}
		return last == "" || strings.HasSuffix(last, "}")
	}
	return true
}

// lowerASCII returns s with ASCII capitals in lower case (s itself when
// it has none).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func guessMeasureLower(lower string) Measure {
	var m Measure
	for _, g := range measureWords {
		for _, w := range g.words {
			if strings.Contains(lower, w) {
				m |= g.m
				break
			}
		}
	}
	return m
}

func guessHarmLower(lower string) Harm {
	for _, w := range downWords {
		if strings.Contains(lower, w) {
			return HarmDown
		}
	}
	return HarmUnset
}
