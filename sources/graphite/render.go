package graphite

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// RenderSeries is one series of a render answer as Graphite sent it:
// parallel slices of Unix seconds and values (NaN for null).
type RenderSeries struct {
	Target string
	Tags   map[string]string
	Times  []int64
	Values []float64
}

// MaxRenderBytes bounds a render answer read by ReadRender.
const MaxRenderBytes = 64 << 20

// ReadRender reads and decodes a render answer (format=json) from r,
// reading at most MaxRenderBytes.
func ReadRender(r io.Reader) ([]RenderSeries, error) {
	b, err := httpfetch.ReadLimited(r, MaxRenderBytes)
	if err != nil {
		return nil, fmt.Errorf("render answer: %w (limit %d MiB)", err, MaxRenderBytes>>20)
	}
	return DecodeRender(b)
}

// DecodeRender decodes a render answer (format=json):
//
//	[{"target": "a.b", "tags": {"name": "a.b"}, "datapoints": [[1.0, 1795419760], [null, 1795419770]]}]
//
// It is a hand-written scanner because a dashboard decodes thousands of
// these per minute; it accepts what Python's json module writes (NaN,
// Infinity, -Infinity) and skips keys it does not know.
func DecodeRender(b []byte) ([]RenderSeries, error) {
	d := &scanner{b: b}
	d.ws()
	if !d.eat('[') {
		return nil, d.errf("expected a JSON list of series")
	}
	var out []RenderSeries
	d.ws()
	if d.eat(']') {
		return out, d.end()
	}
	for {
		s, err := d.series()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		d.ws()
		if d.eat(',') {
			d.ws()
			continue
		}
		if d.eat(']') {
			return out, d.end()
		}
		return nil, d.errf("expected , or ] after a series")
	}
}

type scanner struct {
	b    []byte
	i    int
	hint int // points in the previous series
}

// maxDepth bounds the nesting skipValue follows (fuzzed input).
const maxDepth = 64

func (d *scanner) errf(format string, args ...any) error {
	ctx := ""
	if d.i < len(d.b) {
		end := min(d.i+24, len(d.b))
		ctx = fmt.Sprintf(" near %q", d.b[d.i:end])
	} else {
		ctx = " at the end"
	}
	return fmt.Errorf("render JSON: byte %d%s: %s", d.i, ctx, fmt.Sprintf(format, args...))
}

func (d *scanner) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.errf("unexpected data after the list")
	}
	return nil
}

func (d *scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *scanner) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *scanner) series() (RenderSeries, error) {
	var s RenderSeries
	if !d.eat('{') {
		return s, d.errf("expected a series object")
	}
	d.ws()
	if d.eat('}') {
		return s, nil
	}
	for {
		d.ws()
		key, err := d.str()
		if err != nil {
			return s, err
		}
		d.ws()
		if !d.eat(':') {
			return s, d.errf("expected :")
		}
		d.ws()
		switch key {
		case "target":
			if d.peek() == 'n' {
				if err := d.lit("null"); err != nil {
					return s, err
				}
				break
			}
			if s.Target, err = d.str(); err != nil {
				return s, err
			}
		case "tags":
			if s.Tags, err = d.tags(); err != nil {
				return s, err
			}
		case "datapoints":
			if err := d.points(&s); err != nil {
				return s, err
			}
		default:
			if err := d.skip(0); err != nil {
				return s, err
			}
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return s, nil
		}
		return s, d.errf("expected , or } in a series")
	}
}

func (d *scanner) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *scanner) lit(word string) error {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return nil
	}
	return d.errf("expected %s", word)
}

func (d *scanner) tags() (map[string]string, error) {
	if d.peek() == 'n' {
		return nil, d.lit("null")
	}
	if !d.eat('{') {
		return nil, d.errf("expected tags object")
	}
	m := map[string]string{}
	d.ws()
	if d.eat('}') {
		return m, nil
	}
	for {
		d.ws()
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.ws()
		if !d.eat(':') {
			return nil, d.errf("expected :")
		}
		d.ws()
		switch d.peek() {
		case '"':
			v, err := d.str()
			if err != nil {
				return nil, err
			}
			m[k] = v
		default:
			// a number or other scalar tag value: keep its text
			start := d.i
			if err := d.skip(0); err != nil {
				return nil, err
			}
			m[k] = string(d.b[start:d.i])
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return m, nil
		}
		return nil, d.errf("expected , or } in tags")
	}
}

func (d *scanner) points(s *RenderSeries) error {
	if d.peek() == 'n' {
		return d.lit("null")
	}
	if !d.eat('[') {
		return d.errf("expected datapoints list")
	}
	// series of one answer have about the same length: size for the last one
	if s.Times == nil {
		guess := min(max(d.hint, 16), 1<<16)
		s.Times = make([]int64, 0, guess)
		s.Values = make([]float64, 0, guess)
	}
	defer func() { d.hint = len(s.Times) }()
	d.ws()
	if d.eat(']') {
		return nil
	}
	for {
		d.ws()
		if !d.eat('[') {
			return d.errf("expected [value, timestamp]")
		}
		d.ws()
		v, err := d.value()
		if err != nil {
			return err
		}
		d.ws()
		if !d.eat(',') {
			return d.errf("expected , between value and timestamp")
		}
		d.ws()
		ts, ok, err := d.timestamp()
		if err != nil {
			return err
		}
		d.ws()
		if !d.eat(']') {
			return d.errf("expected ] after a datapoint")
		}
		if ok {
			s.Times = append(s.Times, ts)
			s.Values = append(s.Values, v)
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat(']') {
			return nil
		}
		return d.errf("expected , or ] in datapoints")
	}
}

// value reads a datapoint value: a number, null, NaN or ±Infinity. Null
// and NaN are gaps; infinities are kept for the caller to judge.
func (d *scanner) value() (float64, error) {
	switch d.peek() {
	case 'n':
		return math.NaN(), d.lit("null")
	case 'N':
		return math.NaN(), d.lit("NaN")
	case 'I':
		return math.Inf(1), d.lit("Infinity")
	case '-':
		if d.i+1 < len(d.b) && d.b[d.i+1] == 'I' {
			d.i++
			return math.Inf(-1), d.lit("Infinity")
		}
	}
	num := d.number()
	if len(num) == 0 {
		return 0, d.errf("expected a number or null")
	}
	if f, ok := shortDecimal(num); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return f, nil // ±Inf or 0 for 1e9999 / 1e-9999, as Python means it
		}
		d.i -= len(num)
		return 0, d.errf("bad number")
	}
	return f, nil
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// shortDecimal parses a plain decimal of at most 15 digits ("21", "-0.5",
// "1234.125") exactly: the digits fit a float64 mantissa and the power of
// ten is exact, so one division rounds correctly (Clinger's fast path).
// Anything else goes to strconv.
func shortDecimal(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	if i >= len(b) {
		return 0, false
	}
	var mant uint64
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || frac == 0 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// timestamp reads Unix seconds (an integer, or a float Graphite never
// sends but other renderers do), from 1970 to 2100. ok is false for a
// null timestamp.
func (d *scanner) timestamp() (int64, bool, error) {
	if d.peek() == 'n' {
		return 0, false, d.lit("null")
	}
	num := d.number()
	if len(num) == 0 {
		return 0, false, d.errf("expected a timestamp")
	}
	var n int64
	neg := false
	j := 0
	if num[0] == '-' {
		neg, j = true, 1
	}
	fast := j < len(num) && len(num)-j <= 15
	for k := j; k < len(num) && fast; k++ {
		c := num[k]
		if c < '0' || c > '9' {
			fast = false
			break
		}
		n = n*10 + int64(c-'0')
	}
	if fast {
		if neg {
			n = -n
		}
		if n < 0 || n > maxTimestamp {
			d.i -= len(num)
			return 0, false, d.errf("timestamp %d is outside 1970 to 2100", n)
		}
		return n, true, nil
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.i -= len(num)
		return 0, false, d.errf("bad timestamp")
	}
	if f < 0 || f > maxTimestamp {
		d.i -= len(num)
		return 0, false, d.errf("timestamp %s is outside 1970 to 2100", num)
	}
	return int64(f), true, nil
}

// maxTimestamp (2100-01-01) bounds the Unix seconds a render answer may
// hold. Align works in nanoseconds, which overflow after 2262: with every
// timestamp in [0, maxTimestamp], a time, a step between two times and
// their sum all fit in an int64.
const maxTimestamp = 4102444800

// number returns the bytes of a JSON number at the cursor and moves past it.
func (d *scanner) number() []byte {
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	return d.b[start:d.i]
}

// str reads a JSON string.
func (d *scanner) str() (string, error) {
	if !d.eat('"') {
		return "", d.errf("expected a string")
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' {
			return d.strSlow(start)
		}
		if c < 0x20 {
			return "", d.errf("control character in a string")
		}
		d.i++
	}
	return "", d.errf("unterminated string")
}

func (d *scanner) strSlow(start int) (string, error) {
	out := make([]byte, 0, d.i-start+16)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), nil
		case c < 0x20:
			return "", d.errf("control character in a string")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.b) {
			break
		}
		e := d.b[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					save := d.i
					d.i += 2
					if x, ok := d.hex4(); ok {
						r2 = x
					} else {
						d.i = save
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", d.errf("bad escape")
		}
	}
	return "", d.errf("unterminated string")
}

func (d *scanner) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		c := d.b[d.i+k]
		switch {
		case c >= '0' && c <= '9':
			r = r*16 + rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r*16 + rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r*16 + rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// skip moves past one JSON value of any kind.
func (d *scanner) skip(depth int) error {
	if depth > maxDepth {
		return d.errf("nested too deep")
	}
	d.ws()
	switch c := d.peek(); c {
	case '"':
		_, err := d.str()
		return err
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.i++
		d.ws()
		if d.eat(closer) {
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if !d.eat(':') {
					return d.errf("expected :")
				}
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat(closer) {
				return nil
			}
			return d.errf("expected , or %c", closer)
		}
	case 't':
		return d.lit("true")
	case 'f':
		return d.lit("false")
	case 'n':
		return d.lit("null")
	default:
		_, err := d.value()
		return err
	}
}
