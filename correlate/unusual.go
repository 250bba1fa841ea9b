package correlate

import (
	"sort"
	"time"

	"github.com/opsview/opsview/sources"
)

// Unusual flags: the engine runs a NeighbourDetector over each symptom
// series (the external signs: 5xx, latency, availability), one bucket at
// a time as the buckets complete, and keeps the times it raised an alarm:
// the moments a symptom started doing something it had not done in the
// last Train buckets. The Graphs view marks them on the symptom's chart.
// They judge the shape of a series, where the findings judge how far it
// stands from its baseline, so they also catch a symptom that moves
// within its usual range in an unusual way.

// MaxFlagged bounds the symptom series the engine runs a detector for.
const MaxFlagged = 256

// maxFlagsPerSeries bounds the alarm times kept for one series.
const maxFlagsPerSeries = 32

// startsPerBucket bounds the detectors started while the newest bucket
// stays the same. A new detector reads the whole window it is given (an
// hour backfilled at start: its reference stretch, then the rest scored,
// about 3 to 5 ms of CPU a series), and at start every source's first
// answer is judged within the same bucket, so the symptoms are taken two
// per bucket (an eighth of them when there are more than 16) and the first
// complete frame does not wait for them all; the running detectors are
// fed their new buckets only. A flag is the time of a bucket, whichever
// judgement found it; a series started later begins its reference a few
// buckets later, nothing more.
const startsPerBucket = 2

// DefaultFlagOptions are the detector's options for the flags: 450
// buckets as the reference, the session's 75-minute window of 10-second
// buckets (a day and a half of 5-minute ones), and a fifth of it as the
// hold. (A reference of 288 scored 41.8 on the NAB files, 450 scores
// 53.6: picked with those files in view, so not an out-of-sample figure.)
var DefaultFlagOptions = NeighbourOptions{Dim: 19, K: 27, Train: 450}

// Unusual is one series' alarm.
type Unusual struct {
	Key string
	At  time.Time // the start of the bucket that raised it
}

type flagState struct {
	d    *NeighbourDetector
	next int64 // the absolute bucket to feed next
	at   []time.Time
}

// flagger keeps a detector per symptom series.
type flagger struct {
	o      NeighbourOptions
	series map[string]*flagState
	starts int // detectors started per bucket, at least
	// the newest complete bucket of the last feed, and the detectors
	// started while it was the newest
	bucket  int64
	started int
}

func newFlagger(o NeighbourOptions) *flagger {
	return &flagger{o: o, series: map[string]*flagState{}, starts: startsPerBucket}
}

// feed gives each symptom series' detector the complete buckets of snap
// it has not seen (the newest bucket is still filling) and forgets the
// series that left.
func (f *flagger) feed(snap *Snapshot) {
	if snap == nil || snap.Step <= 0 || snap.N < 2 {
		return
	}
	b0 := bucketOf(snap.Start, snap.Step)
	last := snap.N - 2 // the newest complete bucket
	if nb := b0 + int64(last); nb != f.bucket {
		f.bucket, f.started = nb, 0
	}
	symptoms := 0
	for i := range snap.Series {
		if snap.Series[i].Role == sources.RoleSymptom {
			symptoms++
		}
	}
	starts := max(f.starts, symptoms/8)
	seen := map[string]bool{}
	for i := range snap.Series {
		s := &snap.Series[i]
		if s.Role != sources.RoleSymptom {
			continue
		}
		st := f.series[s.Key]
		if st == nil {
			if len(f.series) >= MaxFlagged || f.started >= starts {
				continue
			}
			f.started++
			st = &flagState{d: NewNeighbourDetector(f.o), next: b0}
			f.series[s.Key] = st
		}
		seen[s.Key] = true
		from := int(st.next - b0)
		if from < 0 {
			// older buckets than the snapshot holds: start again from it
			st.d, from = NewNeighbourDetector(f.o), 0
		}
		for j := from; j <= last && j < len(s.Values); j++ {
			if st.d.Next(s.Values[j]) >= st.d.o.Level {
				st.at = append(st.at, snap.Time(j))
				if len(st.at) > maxFlagsPerSeries {
					st.at = append(st.at[:0], st.at[1:]...)
				}
			}
			st.next = b0 + int64(j) + 1
		}
	}
	for k := range f.series {
		if !seen[k] {
			delete(f.series, k)
		}
	}
}

// flags are the alarms at or after since, by series key then time.
func (f *flagger) flags(since time.Time) []Unusual {
	var out []Unusual
	for k, st := range f.series {
		for _, t := range st.at {
			if !t.Before(since) {
				out = append(out, Unusual{Key: k, At: t})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].At.Before(out[j].At)
	})
	return out
}
