package prometheus

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
)

// parseTextFast reads the common shape of the classic text format in one
// pass over the page: counters, gauges, untyped samples, summaries and
// histograms, with HELP and TYPE lines. It gives up (ok false) on
// anything else (a gauge histogram, an escape, a quoted name, odd
// spacing, an error of any kind): the caller then runs
// prometheus/common's parser, which has the last word on what the page
// holds and says what is wrong with it. What it accepts it returns as
// that parser would (tests and a fuzz target compare them).
//
// a holds the objects and strings of the last page parsed with it (nil:
// a new one): a page scraped again repeats the same names and label
// values, and then costs no string and no allocation; what the last
// page's families held is reused, so they must not be read any more.
func parseTextFast(page []byte, a *fastAlloc) (fams map[string]*dto.MetricFamily, ok bool) {
	if len(page) > 0 && page[len(page)-1] != '\n' {
		return nil, false
	}
	fams = map[string]*dto.MetricFamily{}
	helped, typed := map[string]bool{}, map[string]bool{}
	if a == nil {
		a = &fastAlloc{}
	}
	a.reset()
	for len(page) > 0 {
		i := bytes.IndexByte(page, '\n')
		line := page[:i]
		page = page[i+1:]
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			if !fastComment(line, fams, helped, typed) {
				return nil, false
			}
			continue
		}
		if !fastSample(line, fams, a) {
			return nil, false
		}
	}
	for name, mf := range fams {
		if len(mf.Metric) == 0 {
			delete(fams, name)
		}
	}
	for _, h := range a.hists {
		sameKind(h)
	}
	return fams, true
}

// fastComment takes "# HELP name text" and "# TYPE name type" in their
// plain form; any other comment is skipped.
func fastComment(line []byte, fams map[string]*dto.MetricFamily, helped, typed map[string]bool) bool {
	rest := line[1:]
	if len(rest) > 0 && rest[0] != ' ' {
		return bytes.IndexByte(rest, '\t') < 0 && !bytes.HasPrefix(rest, []byte("HELP")) && !bytes.HasPrefix(rest, []byte("TYPE"))
	}
	rest = bytes.TrimLeft(rest, " ")
	var kw string
	switch {
	case bytes.HasPrefix(rest, []byte("HELP ")):
		kw = "HELP"
	case bytes.HasPrefix(rest, []byte("TYPE ")):
		kw = "TYPE"
	default:
		// a comment, unless it might be a keyword in a form not taken here
		return bytes.IndexByte(line, '\t') < 0 && !bytes.HasPrefix(rest, []byte("HELP")) && !bytes.HasPrefix(rest, []byte("TYPE"))
	}
	rest = rest[5:]
	n := nameLen(rest, true)
	if n == 0 || n >= len(rest) || rest[n] != ' ' {
		return false
	}
	name := string(rest[:n])
	arg := rest[n+1:]
	if len(arg) == 0 || arg[0] == ' ' || arg[0] == '\t' || bytes.ContainsAny(arg, "\\\t\r") || !utf8.Valid(arg) {
		return false
	}
	// the line is about the family a sample of that name would be in
	// (a summary's s_sum is the summary's), as the full parser reads it
	mf, _ := family(fams, name)
	name = mf.GetName()
	if kw == "HELP" {
		if helped[name] {
			return false
		}
		helped[name] = true
		h := string(arg)
		mf.Help = &h
		return true
	}
	if len(mf.Metric) > 0 || typed[name] {
		return false
	}
	var t dto.MetricType
	switch strings.ToUpper(string(arg)) {
	case "COUNTER":
		t = dto.MetricType_COUNTER
	case "GAUGE":
		t = dto.MetricType_GAUGE
	case "UNTYPED":
		t = dto.MetricType_UNTYPED
	case "SUMMARY":
		t = dto.MetricType_SUMMARY
	case "HISTOGRAM":
		t = dto.MetricType_HISTOGRAM
	default:
		return false
	}
	mf.Type = t.Enum()
	typed[name] = true
	return true
}

// fastAlloc hands out the parse's small objects from slabs, which the
// next parse with it reuses, and one string per distinct name or label
// value, kept from one page to the next: a page of 10,000 samples
// repeats a few names, and a page scraped again all of its strings.
type fastAlloc struct {
	names    map[string]string
	metrics  slabs[dto.Metric]
	pairs    slabs[dto.LabelPair]
	floats   slabs[float64]
	gauges   slabs[dto.Gauge]
	counters slabs[dto.Counter]
	untyped  slabs[dto.Untyped]
	strs     slabs[string] // what the label pairs point at
	// every sample's labels, each sample's a part of a chunk
	labels      []*dto.LabelPair
	labelChunks [][]*dto.LabelPair
	labelChunk  int
	sets        map[string]*dto.Metric // summaries' and histograms' metrics by label set
	hists       []*dto.Histogram
	last        recent    // the metric name of the line before
	lastLabels  [8]recent // its label names, by place
}

const slab = 256

// maxNames bounds the strings kept from one page to the next.
const maxNames = 1 << 18

// reset makes a ready for the next page: the objects handed out go back
// to their slabs, zeroed; the strings stay (up to maxNames).
func (a *fastAlloc) reset() {
	if a.names == nil || len(a.names) > maxNames {
		a.names = map[string]string{}
	}
	a.metrics.reset()
	a.pairs.reset()
	a.floats.reset()
	a.gauges.reset()
	a.counters.reset()
	a.untyped.reset()
	a.strs.reset()
	for i := 0; i <= a.labelChunk && i < len(a.labelChunks); i++ {
		clear(a.labelChunks[i])
	}
	a.labelChunk, a.labels = 0, nil
	clear(a.sets)
	a.hists = a.hists[:0]
}

// labelRoom makes room for a sample's labels in the current chunk.
func (a *fastAlloc) labelRoom() {
	if a.labels != nil && cap(a.labels)-len(a.labels) >= 16 {
		return
	}
	if a.labels != nil {
		a.labelChunk++
	}
	if a.labelChunk == len(a.labelChunks) {
		a.labelChunks = append(a.labelChunks, make([]*dto.LabelPair, 4*slab))
	}
	a.labels = a.labelChunks[a.labelChunk][:0]
}

// slabs hands out Ts from chunks that are kept for the next parse.
type slabs[T any] struct {
	chunks [][]T
	chunk  int // the chunk handing out
	used   int // what it handed out
}

func (s *slabs[T]) take() *T {
	if s.chunk < len(s.chunks) && s.used == len(s.chunks[s.chunk]) {
		s.chunk, s.used = s.chunk+1, 0
	}
	if s.chunk == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, slab))
	}
	p := &s.chunks[s.chunk][s.used]
	s.used++
	return p
}

// reset zeroes what was handed out, for the next parse to hand out again.
func (s *slabs[T]) reset() {
	for i := 0; i <= s.chunk && i < len(s.chunks); i++ {
		clear(s.chunks[i])
	}
	s.chunk, s.used = 0, 0
}

// recent is the string a name was the last time at its place in a line
// (the metric's name, its first label's, …): the lines of a family
// repeat them, and a comparison is cheaper than a lookup.
type recent struct{ s string }

func (r *recent) name(b []byte, a *fastAlloc) string {
	if string(b) != r.s {
		r.s = a.name(b)
	}
	return r.s
}

func (a *fastAlloc) name(b []byte) string {
	if s, ok := a.names[string(b)]; ok {
		return s
	}
	s := string(b)
	a.names[s] = s
	return s
}

func (a *fastAlloc) float(v float64) *float64 {
	p := a.floats.take()
	*p = v
	return p
}

// The parts of a summary or a histogram a sample line may be.
const (
	partNone = iota
	partSum
	partCount
)

// family finds the family a sample named name belongs to, as the full
// parser does: the family of that name; else, for a name ending in _sum
// or _count, the summary it ends; else, for one ending in _sum, _count or
// _bucket, the histogram; else a new untyped family.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, int) {
	if mf := fams[name]; mf != nil {
		return mf, partNone
	}
	part, base := partNone, name
	switch {
	case len(name) > 6 && strings.HasSuffix(name, "_count"):
		part, base = partCount, name[:len(name)-6]
	case len(name) > 4 && strings.HasSuffix(name, "_sum"):
		part, base = partSum, name[:len(name)-4]
	}
	if mf := fams[base]; mf != nil && part != partNone && mf.GetType() == dto.MetricType_SUMMARY {
		return mf, part
	}
	if part == partNone && len(name) > 7 && strings.HasSuffix(name, "_bucket") {
		base = name[:len(name)-7]
	}
	if mf := fams[base]; mf != nil && base != name && mf.GetType() == dto.MetricType_HISTOGRAM {
		return mf, part
	}
	fname := name // its own variable: name's address would move it to the heap for every sample
	mf := &dto.MetricFamily{Name: &fname, Type: dto.MetricType_UNTYPED.Enum()}
	fams[name] = mf
	return mf, partNone
}

// fastSample takes `name{a="b",c="d"} value [timestamp]`; a summary's or
// a histogram's lines are gathered into one metric per label set (its
// quantile or le label apart), as the full parser gathers them.
func fastSample(line []byte, fams map[string]*dto.MetricFamily, a *fastAlloc) bool {
	n := nameLen(line, true)
	if n == 0 || n >= len(line) {
		return false
	}
	name := a.last.name(line[:n], a)
	rest := line[n:]
	mf, part := family(fams, name)
	typ := mf.GetType()
	bound := ""   // the label that is a summary's quantile or a histogram's bucket
	var at string // its value
	switch typ {
	case dto.MetricType_SUMMARY:
		bound = "quantile"
	case dto.MetricType_HISTOGRAM:
		bound = "le"
	}
	m := a.metrics.take()
	a.labelRoom()
	start := len(a.labels)
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if len(rest) > 0 && rest[0] == '}' {
				rest = rest[1:]
				break
			}
			k := nameLen(rest, false)
			if k == 0 || k+1 >= len(rest) || rest[k] != '=' || rest[k+1] != '"' {
				return false
			}
			lname := a.lastLabels[min(len(a.labels)-start, len(a.lastLabels)-1)].name(rest[:k], a)
			rest = rest[k+2:]
			q := bytes.IndexByte(rest, '"')
			if q < 0 || bytes.IndexByte(rest[:q], '\\') >= 0 || !utf8.Valid(rest[:q]) {
				return false
			}
			lval := a.name(rest[:q])
			rest = rest[q+1:]
			if lname == "__name__" {
				return false
			}
			if bound != "" && lname == bound {
				if at != "" || lval == "" {
					return false // twice, or empty: left to the full parser
				}
				at = lval
			} else {
				for _, lp := range a.labels[start:] {
					if lp.GetName() == lname {
						return false
					}
				}
				lp := a.pairs.take()
				lp.Name, lp.Value = a.strs.take(), a.strs.take()
				*lp.Name, *lp.Value = lname, lval
				a.labels = append(a.labels, lp)
			}
			if len(rest) == 0 {
				return false
			}
			switch rest[0] {
			case ',':
				rest = rest[1:]
			case '}':
			default:
				return false
			}
		}
	}
	if len(a.labels) > start {
		// the sample's labels are a part of the slab's, capped so that
		// nothing appends over the next sample's
		m.Label = a.labels[start:len(a.labels):len(a.labels)]
	}
	if len(rest) < 2 || rest[0] != ' ' || rest[1] == ' ' || rest[1] == '\t' {
		return false
	}
	rest = rest[1:]
	val, ts := rest, []byte(nil)
	if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
		val, ts = rest[:sp], rest[sp+1:]
		if len(ts) == 0 || bytes.IndexByte(ts, ' ') >= 0 {
			return false
		}
	}
	if hasAny(val, "pP_xX\t\r") || hasAny(ts, "\t\r+_") {
		return false
	}
	v, err := strconv.ParseFloat(string(val), 64)
	if err != nil {
		return false
	}
	var ms int64
	if ts != nil {
		if ms, err = strconv.ParseInt(string(ts), 10, 64); err != nil {
			return false
		}
	}
	switch typ {
	case dto.MetricType_SUMMARY, dto.MetricType_HISTOGRAM:
		return fastPart(mf, m, part, at, v, ts != nil, ms, a)
	case dto.MetricType_COUNTER:
		m.Counter = a.counters.take()
		m.Counter.Value = a.float(v)
	case dto.MetricType_GAUGE:
		m.Gauge = a.gauges.take()
		m.Gauge.Value = a.float(v)
	default:
		m.Untyped = a.untyped.take()
		m.Untyped.Value = a.float(v)
	}
	if ts != nil {
		stamp := ms // only a stamped sample's is on the heap
		m.TimestampMs = &stamp
	}
	mf.Metric = append(mf.Metric, m)
	return true
}

// fastPart adds one line of a summary or a histogram (its part, the
// quantile or bucket bound at, its value v) to the metric of its label
// set: m when the set is new, else the one its first line made.
func fastPart(mf *dto.MetricFamily, m *dto.Metric, part int, at string, v float64, stamped bool, ms int64, a *fastAlloc) bool {
	bound := math.NaN()
	if at != "" {
		if hasAny([]byte(at), "pP_xX") {
			return false
		}
		f, err := strconv.ParseFloat(at, 64)
		if err != nil {
			return false
		}
		bound = f
	}
	key := labelSetKey(mf.GetName(), m.Label)
	if a.sets == nil {
		a.sets = map[string]*dto.Metric{}
	}
	if first := a.sets[key]; first != nil {
		m = first
	} else {
		a.sets[key] = m
		mf.Metric = append(mf.Metric, m)
	}
	if stamped {
		stamp := ms
		m.TimestampMs = &stamp
	}
	if mf.GetType() == dto.MetricType_SUMMARY {
		if m.Summary == nil {
			m.Summary = &dto.Summary{}
		}
		switch {
		case part == partCount:
			c := uint64(v)
			m.Summary.SampleCount = &c
		case part == partSum:
			m.Summary.SampleSum = a.float(v)
		case !math.IsNaN(bound):
			m.Summary.Quantile = append(m.Summary.Quantile, &dto.Quantile{Quantile: a.float(bound), Value: a.float(v)})
		}
		return true
	}
	h := m.Histogram
	if h == nil {
		h = &dto.Histogram{}
		m.Histogram = h
		a.hists = append(a.hists, h)
	}
	switch {
	case part == partCount:
		if c := uint64(v); v == float64(c) {
			h.SampleCount = &c
		} else if v < 0 {
			return false // an error, said by the full parser
		} else {
			h.SampleCountFloat = a.float(v)
		}
	case part == partSum:
		h.SampleSum = a.float(v)
	case !math.IsNaN(bound):
		b := &dto.Bucket{UpperBound: a.float(bound)}
		if c := uint64(v); v == float64(c) {
			b.CumulativeCount = &c
		} else if v < 0 {
			return false
		} else {
			b.CumulativeCountFloat = a.float(v)
		}
		h.Bucket = append(h.Bucket, b)
	}
	return true
}

// labelSetKey names a family's label set in any order of its labels.
func labelSetKey(family string, lp []*dto.LabelPair) string {
	pairs := make([]string, 0, len(lp))
	for _, l := range lp {
		pairs = append(pairs, l.GetName()+"\xff"+l.GetValue())
	}
	sort.Strings(pairs)
	return family + "\xfe" + strings.Join(pairs, "\xfe")
}

// sameKind makes a histogram's counts all integers or all floats: once
// one is a float (its count or a bucket's), the others are given as
// floats too, as the full parser gives them.
func sameKind(h *dto.Histogram) {
	floats := h.GetSampleCountFloat() != 0
	for _, b := range h.GetBucket() {
		floats = floats || b.GetCumulativeCountFloat() != 0
	}
	if !floats {
		return
	}
	if h.GetSampleCountFloat() == 0 {
		f := float64(h.GetSampleCount())
		h.SampleCountFloat, h.SampleCount = &f, nil
	}
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCountFloat() == 0 {
			f := float64(b.GetCumulativeCount())
			b.CumulativeCountFloat, b.CumulativeCount = &f, nil
		}
	}
}

// nameLen is the length of the metric name (colons allowed) or label
// name at the start of b in the legacy character set, 0 when there is
// none.
func nameLen(b []byte, colon bool) int {
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', colon && c == ':':
		case i > 0 && c >= '0' && c <= '9':
		default:
			return i
		}
	}
	return len(b)
}

// hasAny is bytes.ContainsAny for a few ASCII bytes, without the set
// that bytes.ContainsAny builds on every call.
func hasAny(b []byte, chars string) bool {
	for _, c := range b {
		for i := 0; i < len(chars); i++ {
			if chars[i] == c {
				return true
			}
		}
	}
	return false
}
