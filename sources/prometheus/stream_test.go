package prometheus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// streamed decodes b with DecodeStream into series as Poll makes them.
func streamed(q *query, b []byte) ([]sources.Series, error) {
	var out []sources.Series
	_, err := DecodeStream(bytes.NewReader(b), func(m model.Metric, vals []model.SamplePair) error {
		s, _ := convert(q, m, vals)
		out = append(out, s)
		return nil
	})
	return out, err
}

// The stream gives the series the whole decode gives, for every real
// capture (matrix, vector, scalar, errors).
func TestDecodeStreamAgreesWithDecodeAPI(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	q := &query{Query: Query{Query: "q", Node: "$instance"}}
	for _, fn := range files {
		b := read(t, fn)
		v, _, werr := DecodeAPI(b)
		got, serr := streamed(q, b)
		if (werr == nil) != (serr == nil) {
			t.Errorf("%s: whole %v, stream %v", fn, werr, serr)
			continue
		}
		if werr != nil {
			var ae *APIError
			if errors.As(werr, &ae) && werr.Error() != serr.Error() {
				t.Errorf("%s: whole %q, stream %q", fn, werr, serr)
			}
			continue
		}
		want, _ := toSeries(q, v)
		if len(want) == 0 {
			want = nil
		}
		if fmt.Sprint(got) != fmt.Sprint(want) { // NaN is not DeepEqual to itself
			t.Errorf("%s: stream %d series, whole %d", fn, len(got), len(want))
		}
	}
}

func FuzzDecodeStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, fn := range files {
		f.Add(read(f, fn))
	}
	f.Add([]byte(`{"data":{"result":[],"resultType":"matrix"},"status":"success"}`))
	f.Add([]byte(`{"status":"success","data":{"result":[{"metric":{},"values":[[1,"1"]]}]}}`))
	q := &query{Query: Query{Query: "q", Node: "$instance"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := streamed(q, b)
		if err != nil {
			got = nil
		}
		for _, s := range got {
			if bytes.ContainsRune([]byte(s.Name+s.Node), 0x1b) {
				t.Fatal("escape survived")
			}
		}
		// what the whole decode reads as a matrix, the stream reads alike
		v, _, werr := DecodeAPI(b)
		if m, ok := v.(model.Matrix); ok && werr == nil && err == nil {
			want, _ := toSeries(q, m)
			if len(want) != len(got) {
				t.Fatalf("stream %d series, whole %d", len(got), len(want))
			}
		}
	})
}

// rangeAnswer writes a query_range answer of n series × points at step
// ending at end, as Prometheus does, without holding it.
func rangeAnswer(n, points int, end time.Time, step time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 64<<10)
		bw.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
		t0 := end.Add(-time.Duration(points-1) * step)
		for i := 0; i < n; i++ {
			if i > 0 {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"metric":{"__name__":"synthetic_gauge","instance":"host-%05d:9100","job":"node"},"values":[`, i)
			for j := 0; j < points; j++ {
				if j > 0 {
					bw.WriteByte(',')
				}
				ts := t0.Add(time.Duration(j) * step).Unix()
				bw.WriteString(`[` + strconv.FormatInt(ts, 10) + `,"` + strconv.FormatFloat(float64((i+j)%100)/7, 'f', -1, 64) + `"]`)
			}
			bw.WriteString(`]}`)
		}
		bw.WriteString(`]}}`)
		_ = bw.Flush()
	}
}

// An hour of 6,000 series (about 40 MB of JSON, more than the 32 MiB an
// answer read whole may be) is accepted by default, and reaches the
// caller in parts as it is read.
func TestPromBackfillLargerThanOneAnswerStreams(t *testing.T) {
	end := time.Unix(1795420000, 0)
	var sent atomic.Int64
	h := rangeAnswer(6000, 361, end, 10*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(countingWriter{w, &sent}, r)
	}))
	defer srv.Close()
	s, err := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "synthetic_gauge"}}})
	if err != nil {
		t.Fatal(err)
	}
	parts, series := 0, 0
	req := sources.Request{Now: end, From: end.Add(-time.Hour), Until: end, Step: 10 * time.Second, Backfill: true,
		Emit: func(b *sources.Batch) { parts++; series += len(b.Series) }}
	b, err := s.Poll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	series += len(b.Series)
	if sent.Load() <= 32<<20 {
		t.Fatalf("answer of %d bytes: not larger than the whole-answer limit", sent.Load())
	}
	if series != 6000 || parts < 2 {
		t.Fatalf("%d series in %d parts and the last batch", series, parts)
	}
	// without parts taken, the poll returns it all
	req.Emit = nil
	if b, err = s.Poll(context.Background(), req); err != nil || len(b.Series) != 6000 || len(b.Series[0].Points) != 361 {
		t.Fatalf("whole: %v, %d series", err, len(b.Series))
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

// A window longer than pieceSteps evaluations is asked in pieces that
// cover it once.
func TestPiecesCoverTheWindow(t *testing.T) {
	w := Window{Start: time.Unix(0, 0), End: time.Unix(0, 0).Add(24 * time.Hour), Step: 10 * time.Second}
	ps := pieces(w)
	total := 0
	next := w.Start
	for _, p := range ps {
		if !p.Start.Equal(next) || p.Points() > pieceSteps {
			t.Fatalf("piece %v–%v", p.Start, p.End)
		}
		total += p.Points()
		next = p.End.Add(w.Step)
	}
	if total != w.Points() || !ps[len(ps)-1].End.Equal(w.End) {
		t.Fatalf("%d points in pieces, window %d", total, w.Points())
	}
}

// BenchmarkBackfill10kx1h is the first poll of a prometheus source with
// 10,000 series over an hour at 10 s (65 MB of JSON), its parts and last
// batch stored as the scheduler and the session do; peak-heap-MB is the
// most heap in use seen during the poll.
func BenchmarkBackfill10kx1h(b *testing.B) {
	end := time.Unix(1795420000, 0)
	srv := httptest.NewServer(rangeAnswer(10000, 361, end, 10*time.Second))
	defer srv.Close()
	var peak float64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		stop := make(chan struct{})
		done := make(chan float64)
		go func() { done <- samplePeakHeap(stop) }()
		b.StartTimer()
		s, err := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "synthetic_gauge"}}})
		if err != nil {
			b.Fatal(err)
		}
		st := correlate.NewStore(correlate.StoreOptions{Step: 10 * time.Second, Retention: time.Hour})
		req := sources.Request{Now: end, From: end.Add(-time.Hour), Until: end, Step: 10 * time.Second, Backfill: true,
			Emit: func(p *sources.Batch) { p.Source = "p"; st.Apply(p) }}
		last, err := s.Poll(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		last.Source = "p"
		st.Apply(last)
		if st.SeriesCount() != 10000 {
			b.Fatalf("%d series", st.SeriesCount())
		}
		b.StopTimer()
		close(stop)
		peak = <-done
		runtime.KeepAlive(st)
		b.StartTimer()
	}
	b.ReportMetric(peak, "peak-heap-MB")
}

// samplePeakHeap reads the heap in use every few milliseconds until stop.
func samplePeakHeap(stop chan struct{}) float64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak {
			peak = v
		}
		select {
		case <-stop:
			return float64(peak) / (1 << 20)
		case <-tick.C:
		}
	}
}

// A series a range query answers again is not decoded or classified
// again: it comes with the labels map of before and the same metadata
// and points an uncached conversion gives; a series no answer has had
// twice in a row is let go.
func TestARangeAskedAgainReusesItsSeries(t *testing.T) {
	end := time.Unix(1795420000, 0)
	var n atomic.Int64
	n.Store(50)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rangeAnswer(int(n.Load()), 3, end, 10*time.Second)(w, r)
	}))
	defer srv.Close()
	s, err := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "synthetic_gauge", Node: "$instance", Role: "resource"}}})
	if err != nil {
		t.Fatal(err)
	}
	req := sources.Request{Now: end, From: end.Add(-20 * time.Second), Until: end, Step: 10 * time.Second, Backfill: true}
	first, err := s.Poll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Poll(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Series) != 50 || len(again.Series) != 50 {
		t.Fatalf("%d and %d series", len(first.Series), len(again.Series))
	}
	// what an uncached conversion of the same answer gives
	var want []sources.Series
	rec := httptest.NewRecorder()
	rangeAnswer(50, 3, end, 10*time.Second)(rec, nil)
	q := &query{Query: s.queries[0].Query, rule: s.queries[0].rule}
	if _, err := DecodeStream(rec.Body, func(m model.Metric, vals []model.SamplePair) error {
		ser, _ := convert(q, m, vals)
		want = append(want, ser)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		a, b := first.Series[i], again.Series[i]
		if fmt.Sprintf("%+v", b) != fmt.Sprintf("%+v", want[i]) || fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", want[i]) {
			t.Fatalf("series %d:\nfirst %+v\nagain %+v\nwant  %+v", i, a, b, want[i])
		}
		if reflect.ValueOf(a.Labels).Pointer() != reflect.ValueOf(b.Labels).Pointer() {
			t.Fatalf("%s: a new labels map for a series asked again", b.Name)
		}
	}
	// fewer series: the others are let go after two answers without them
	n.Store(10)
	for i := 0; i < 3; i++ {
		if _, err := s.Poll(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(s.queries[0].known.byRaw); got != 10 {
		t.Errorf("%d series remembered, 10 answered", got)
	}
}

// BenchmarkPollPrometheus10k is a poll of a prometheus source whose query
// answers 10,000 series with the last two points (the server's answer
// written once, beforehand).
func BenchmarkPollPrometheus10k(b *testing.B) {
	end := time.Unix(1795420000, 0)
	rec := httptest.NewRecorder()
	rangeAnswer(10000, 2, end, 10*time.Second)(rec, nil)
	page := rec.Body.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	s, err := New("p", Options{URL: srv.URL, Queries: []Query{{Query: "synthetic_gauge"}}})
	if err != nil {
		b.Fatal(err)
	}
	req := sources.Request{Now: end, From: end.Add(-10 * time.Second), Until: end, Step: 10 * time.Second}
	for b.Loop() {
		if bt, err := s.Poll(context.Background(), req); err != nil || len(bt.Series) != 10000 {
			b.Fatalf("%v", err)
		}
	}
}
