package prometheus

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/bounded"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// A range query's answer is read as a stream, one series at a time, and
// never held whole: 10,000 series over an hour is 65 MB of JSON, ten
// times that once decoded at once. The stream is bounded too, at
// streamFactor times max_response_mb (1 GiB by default).
const streamFactor = 32

// pieceSteps is the most evaluations one query_range is asked for: a
// longer window is asked in pieces, oldest first, so neither Prometheus
// nor opsview holds a day of every series at once.
const pieceSteps = 720

// partPoints is how many points a part handed to Request.Emit holds
// (about 8 MB of the model's points).
const partPoints = 1 << 18

// pieces splits w into windows of at most pieceSteps evaluations.
func pieces(w Window) []Window {
	n := w.Points()
	if n <= pieceSteps {
		return []Window{w}
	}
	var out []Window
	for i := 0; i < n; i += pieceSteps {
		p := Window{Start: w.Start.Add(time.Duration(i) * w.Step), Step: w.Step}
		last := i + pieceSteps - 1
		if last > n-1 {
			last = n - 1
		}
		p.End = w.Start.Add(time.Duration(last) * w.Step)
		out = append(out, p)
	}
	return out
}

// streamElem is one element of a matrix or vector result; its values
// are read by decodePairs.
type streamElem struct {
	Metric json.RawMessage `json:"metric"`
	Values json.RawMessage `json:"values"`
	Value  json.RawMessage `json:"value"`
}

// elemFunc takes one series of a result: its metric as the answer wrote
// it (raw; nil for a scalar) and decoded (m, nil when the decoder's known
// said the caller has it already), and its values.
type elemFunc func(raw []byte, m model.Metric, values []model.SamplePair) error

// DecodeStream reads a /api/v1/query or /query_range answer from r token
// by token and hands each series of a matrix or vector result to each as
// soon as it is read (values is nil and value set for a vector). A scalar
// or string result, or one that comes before its resultType, is decoded
// whole and handed over as DecodeAPI would have it. An error answer is an
// *APIError. Anything after the answer's object is not read.
func DecodeStream(r io.Reader, each func(m model.Metric, values []model.SamplePair) error) (warns []string, err error) {
	return decodeStream(r, nil, func(_ []byte, m model.Metric, vals []model.SamplePair) error { return each(m, vals) })
}

// decodeStream is DecodeStream handing each series' raw metric too; a
// metric that known (when not nil) says the caller has is not decoded.
func decodeStream(r io.Reader, known func(raw []byte) bool, each elemFunc) (warns []string, err error) {
	dec := json.NewDecoder(r)
	bad := func(err error) error {
		var ae *APIError
		if errors.As(err, &ae) || errors.Is(err, errCallback) || errors.Is(err, bounded.ErrTooLarge) || errors.Is(err, errAnswer) {
			return err
		}
		return fmt.Errorf("answer is not Prometheus API JSON: %v", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, bad(err)
	}
	var status, errType, errMsg string
	var resultType model.ValueType
	sawData := false
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return nil, bad(err)
		}
		switch key {
		case "status":
			err = dec.Decode(&status)
		case "errorType":
			err = dec.Decode(&errType)
		case "error":
			err = dec.Decode(&errMsg)
		case "warnings":
			err = dec.Decode(&warns)
		case "data":
			if status != "" && status != "success" {
				err = skipValue(dec)
				break
			}
			sawData = true
			err = decodeData(dec, &resultType, known, each)
		default:
			err = skipValue(dec)
		}
		if err != nil {
			return nil, bad(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, bad(err)
	}
	if status == "error" {
		return warns, &APIError{Type: sources.Clean(errType), Msg: sources.Clean(errMsg)}
	}
	if status != "success" || !sawData {
		return nil, fmt.Errorf("answer is not Prometheus API JSON: status %q", sources.Clean(status))
	}
	return warns, nil
}

// errAnswer starts the errors about a well-formed answer's content.
var errAnswer = errors.New("answer")

// errCallback marks an error returned by the caller's each.
var errCallback = errors.New("stopped")

func decodeData(dec *json.Decoder, resultType *model.ValueType, known func([]byte) bool, each elemFunc) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	sawResult := false
	for dec.More() {
		key, err := readKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "resultType":
			if err := dec.Decode(resultType); err != nil {
				return err
			}
		case "result":
			sawResult = true
			if err := decodeResult(dec, *resultType, known, each); err != nil {
				return err
			}
		default:
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	switch *resultType {
	case model.ValMatrix, model.ValVector, model.ValScalar, model.ValString:
	default:
		return fmt.Errorf("%w has an unknown resultType %q", errAnswer, *resultType)
	}
	if !sawResult {
		return fmt.Errorf("%s result: missing", *resultType)
	}
	return nil
}

func decodeResult(dec *json.Decoder, rt model.ValueType, known func([]byte) bool, each elemFunc) error {
	switch rt {
	case model.ValMatrix, model.ValVector:
	case model.ValScalar, model.ValString, model.ValNone:
		// small, or its type is not known yet: whole
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		return wholeResult(rt, raw, each)
	default:
		return fmt.Errorf("%w has an unknown resultType %q", errAnswer, rt)
	}
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("%s result: %v", rt, err)
	}
	for dec.More() {
		var e streamElem
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("%s result: %v", rt, err)
		}
		var m model.Metric
		if known == nil || !known(e.Metric) {
			if len(e.Metric) > 0 {
				if err := json.Unmarshal(e.Metric, &m); err != nil {
					return fmt.Errorf("%s result: %v", rt, err)
				}
			}
		}
		var vals []model.SamplePair
		var err error
		if rt == model.ValVector {
			var v model.SamplePair
			if len(e.Value) > 0 && string(e.Value) != "null" {
				v, err = decodePair(e.Value)
			}
			vals = []model.SamplePair{v}
		} else {
			vals, err = decodePairs(e.Values)
		}
		if err != nil {
			return fmt.Errorf("%s result: %v", rt, err)
		}
		if err := each(e.Metric, m, vals); err != nil {
			return fmt.Errorf("%w: %v", errCallback, err)
		}
	}
	return expectDelim(dec, ']')
}

// wholeResult hands over a result read whole (scalar, string, or a
// result whose type came after it).
func wholeResult(rt model.ValueType, raw json.RawMessage, each elemFunc) error {
	switch rt {
	case model.ValScalar:
		var m model.Scalar
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("scalar result: %v", err)
		}
		return each(nil, nil, []model.SamplePair{{Timestamp: m.Timestamp, Value: m.Value}})
	case model.ValString:
		var m model.String
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("string result: %v", err)
		}
		return nil // no number in it
	}
	return errors.New("result before its resultType")
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != d {
		return fmt.Errorf("%v where %q was expected", t, d)
	}
	return nil
}

func readKey(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("%v where a key was expected", t)
	}
	return k, nil
}

// skipValue reads past one value of any size without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// streamRange asks w in pieces and hands every series of every piece to
// add, each converted as toSeries would. Only a caller that takes parts
// (split) gets a series in several pieces; others get it whole.
func (s *Source) streamRange(ctx context.Context, q *query, w Window, split bool, add func(sources.Series)) ([]string, time.Time, error) {
	var warns []string
	var newest time.Time
	ps := []Window{w}
	if split {
		ps = pieces(w)
	}
	for _, p := range ps {
		form := url.Values{
			"query": {q.Query.Query},
			"start": {formatTime(p.Start)},
			"end":   {formatTime(p.End)},
			"step":  {strconv.FormatFloat(p.Step.Seconds(), 'f', -1, 64)},
		}
		ws, err := s.stream(ctx, "/api/v1/query_range", form, q.known.has, func(raw []byte, m model.Metric, vals []model.SamplePair) error {
			ser, t := q.known.convert(q, raw, m, vals)
			if t.After(newest) {
				newest = t
			}
			add(ser)
			return nil
		})
		if err != nil {
			return nil, time.Time{}, err
		}
		warns = append(warns, ws...)
	}
	q.known.forget()
	return warns, newest, nil
}

// stream posts form to path and decodes the answer as a stream.
func (s *Source) stream(ctx context.Context, path string, form url.Values, known func([]byte) bool, each elemFunc) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint(path), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var warns []string
	err = s.client.Stream(req, "application/json", s.client.Limit*streamFactor, func(status int, _ http.Header, body io.Reader) error {
		br := bufio.NewReaderSize(body, 64<<10)
		head, _ := br.Peek(512)
		switch {
		case status == 401 || status == 403:
			return fmt.Errorf("HTTP %d from %s (check bearer_token or username/password)", status, path)
		case status == 404:
			return fmt.Errorf("HTTP 404 from %s (is url the Prometheus server, with its path prefix if any?)", path)
		case httpfetch.LooksLikeHTML(head):
			return fmt.Errorf("HTTP %d from %s: got an HTML page instead of JSON: %s (wrong url, or a proxy's login page)", status, path, httpfetch.Snippet(head, 120))
		}
		var derr error
		warns, derr = decodeStream(br, known, each)
		if derr != nil {
			var ae *APIError
			if !errors.As(derr, &ae) && status != 200 {
				return fmt.Errorf("HTTP %d from %s: %s", status, path, httpfetch.Snippet(head, 200))
			}
		}
		return derr
	})
	return warns, err
}

// convert makes one series of a query's result, as toSeries does, and
// returns its newest evaluation time.
func convert(q *query, m model.Metric, vals []model.SamplePair) (sources.Series, time.Time) {
	var newest time.Time
	var out []sources.Series
	out, newest = toSeries(q, model.Matrix{{Metric: m, Values: vals}})
	return out[0], newest
}

// seriesCache is what each series of a query's range answers came to
// (its name, labels and classification, as toSeries makes them), by its
// metric as the answer wrote it: Prometheus writes a series' labels the
// same way every time, so a series asked again is neither decoded nor
// classified, and its labels map is the one of before (10,000 series
// polled every 5 s were 18 MB of garbage a poll). What two answers in a
// row did not have is let go.
type seriesCache struct {
	mu    sync.Mutex
	gen   uint32
	byRaw map[string]*cachedSeries
}

type cachedSeries struct {
	s   sources.Series // without points
	gen uint32         // the answer it was last in
}

// maxCached bounds the series a query remembers.
const maxCached = 1 << 17

func newSeriesCache() *seriesCache { return &seriesCache{byRaw: map[string]*cachedSeries{}} }

// has says the series of metric raw is known: the decoder may leave it
// undecoded.
func (c *seriesCache) has(raw []byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byRaw[string(raw)]
	return ok
}

// convert is convert with the series' metadata from the cache when raw is
// known (m is then nil), else made from m and remembered.
func (c *seriesCache) convert(q *query, raw []byte, m model.Metric, vals []model.SamplePair) (sources.Series, time.Time) {
	if c == nil || raw == nil {
		return convert(q, m, vals)
	}
	c.mu.Lock()
	x := c.byRaw[string(raw)]
	if x != nil {
		x.gen = c.gen
	}
	c.mu.Unlock()
	if x == nil {
		if m == nil && json.Unmarshal(raw, &m) != nil {
			// known when the decoder asked, let go since: no series of it
			return convert(q, nil, vals)
		}
		ser, newest := convert(q, m, vals)
		tmpl := ser
		tmpl.Points = nil
		c.mu.Lock()
		if len(c.byRaw) < maxCached {
			c.byRaw[string(raw)] = &cachedSeries{s: tmpl, gen: c.gen}
		}
		c.mu.Unlock()
		return ser, newest
	}
	ser := x.s
	ser.Points = make([]sources.Point, len(vals))
	var newest time.Time
	for i, p := range vals {
		ser.Points[i] = point(p.Timestamp, p.Value)
		if ser.Points[i].T.After(newest) {
			newest = ser.Points[i].T
		}
	}
	return ser, newest
}

// forget lets go of the series not in this answer or the one before, and
// starts the next.
func (c *seriesCache) forget() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, x := range c.byRaw {
		if c.gen-x.gen > 1 {
			delete(c.byRaw, k)
		}
	}
	c.gen++
}
