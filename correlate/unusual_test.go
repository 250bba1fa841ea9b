package correlate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// windowOf is full's buckets [from, to) as a snapshot of its own, as the
// session cuts the store's window.
func windowOf(full *Snapshot, from, to int) *Snapshot {
	s := *full
	s.Start, s.N, s.Now = full.Time(from), to-from, full.Time(to-1)
	s.Series = make([]SnapSeries, len(full.Series))
	for i := range full.Series {
		s.Series[i] = full.Series[i]
		s.Series[i].Values = full.Series[i].Values[from:to]
	}
	return &s
}

func flaggedSnap() (*Snapshot, int) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, at = 900, 700
	sym := stepUp(noise(r, n, 200, 5), at, 60) // latency up 12 sd
	same := stepUp(noise(r, n, 50, 2), at, 30) // a resource doing the same
	return mkSnap(10*time.Second, n,
		series{key: "lb/fe/rtime", name: "rtime", unit: "ms", node: "fe", role: sources.RoleSymptom, vals: sym},
		series{key: "db/db-1/iowait", name: "iowait", unit: "%", node: "db-1", role: sources.RoleResource, vals: same},
	), at
}

// The engine flags the bucket where a symptom started doing something it
// had not done in its reference stretch, only symptoms, and the same
// whether it judged every bucket or every seventh one.
func TestEngineFlagsUnusualSymptoms(t *testing.T) {
	full, at := flaggedSnap()
	const window = 450 // 75 minutes of 10 s buckets
	run := func(every int) []Unusual {
		e := NewEngine(EngineOptions{})
		var last []Unusual
		for to := window; to <= full.N; to += every {
			e.Evaluate(windowOf(full, to-window, to))
			last = e.Unusual()
		}
		return last
	}
	got := run(1)
	found := false
	for _, u := range got {
		if u.Key != "lb/fe/rtime" {
			t.Errorf("flag on %s: only symptoms are flagged", u.Key)
		}
		if d := u.At.Sub(full.Time(at)); d >= 0 && d <= 2*full.Step {
			found = true
		}
	}
	if !found {
		t.Errorf("flags %v: none within 2 buckets of the shift at %v", got, full.Time(at))
	}
	// judged every seventh bucket: the last window ends elsewhere, so
	// compare the flags both runs saw inside it
	sparse := run(7)
	last := window + (full.N-window)/7*7
	var dense []Unusual
	e := NewEngine(EngineOptions{})
	for to := window; to <= last; to++ {
		e.Evaluate(windowOf(full, to-window, to))
		dense = e.Unusual()
	}
	if !reflect.DeepEqual(sparse, dense) {
		t.Errorf("judged every 7th bucket: %v; every bucket: %v", sparse, dense)
	}
}

func TestSessionKeepsUnusualFlags(t *testing.T) {
	full, at := flaggedSnap()
	// a window long enough for the detector's reference stretch before
	// the shift: the session feeds it the window it judges
	s := NewSession(SessionOptions{Store: StoreOptions{Step: 10 * time.Second}, Window: 150 * time.Minute})
	for _, b := range OpeningBatches(full) {
		s.Step(b)
	}
	s.Evaluate()
	got := s.Unusual()
	if len(got) == 0 || got[0].Key != "src/rtime" {
		t.Fatalf("session flags %v, want the symptom's", got)
	}
	hit := false
	for _, u := range got {
		hit = hit || !u.At.Before(full.Time(at)) && u.At.Sub(full.Time(at)) <= 2*full.Step
	}
	if !hit {
		t.Errorf("session flags %v: none at the shift %v", got, full.Time(at))
	}
}

// At start only a few detectors start per bucket (each reads the whole
// backfilled window), so the first frame does not wait for every
// symptom; the next buckets start the rest, and the flags come out as
// they do when every detector starts at once.
func TestFlagsOfManySymptomsStartAFewPerJudgement(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n, at, many = 720, 650, 10
	var ss []series
	for i := range many {
		ss = append(ss, series{key: fmt.Sprintf("lb/be%d/rtime", i), name: "rtime", unit: "ms",
			node: fmt.Sprintf("be%d", i), role: sources.RoleSymptom, vals: stepUp(noise(r, n, 200, 5), at, 60)})
	}
	full := mkSnap(10*time.Second, n, ss...)
	few, all := NewEngine(EngineOptions{}), NewEngine(EngineOptions{})
	all.flag.starts = MaxFlagged
	for to := n - 5; to <= n; to++ {
		// every source's answer judged within the same bucket
		for range 3 {
			few.Evaluate(windowOf(full, 0, to))
			all.Evaluate(windowOf(full, 0, to))
		}
		if to == n-5 && len(few.flag.series) > startsPerBucket {
			t.Fatalf("the first bucket started %d detectors, at most %d wanted", len(few.flag.series), startsPerBucket)
		}
	}
	flagged := map[string]bool{}
	for _, u := range all.Unusual() {
		if d := u.At.Sub(full.Time(at)); d >= 0 && d <= 2*full.Step {
			flagged[u.Key] = true
		}
	}
	if len(flagged) < many*8/10 {
		t.Errorf("%d of %d symptoms flagged at their shift: %v", len(flagged), many, all.Unusual())
	}
	if got, want := few.Unusual(), all.Unusual(); !reflect.DeepEqual(got, want) {
		t.Errorf("started a few per judgement: %v\nall at once: %v", got, want)
	}
}
