package correlate

// ongoingOnset is the onset of the excursion of vals (against b, in
// direction d) that is still going at ts, the symptom's onset: a blip
// that came and went long before says nothing of when the cause began,
// and taking it as the onset gives a "lead" of many minutes to what
// moved with or after the symptom.
//
// An excursion is a stretch where the harmful z holds at half the
// threshold or more (two points below that end it; gaps in the data do
// not) and that holds a sustained run: Sustain points in a row at the
// threshold. Its onset is the start of its first sustained run, walked
// back over the few points before it already above 1 (a ramp crosses the
// threshold late), as ScoreWindow does.
//
// The answer is the latest excursion that began by ts and had not ended
// more than tol buckets before it; else the first that began after ts
// (the candidate followed the symptom); else the last before (it was over
// by then); -1 when vals has no sustained excursion in [from, to).
func ongoingOnset(vals []float64, from, to, ts, tol int, b *Baseline, d Direction, o ScoreOptions, mask []bool) int {
	o.defaults()
	if b.Spread <= 0 || b.N == 0 {
		return -1
	}
	if from < 0 {
		from = 0
	}
	if to > len(vals) {
		to = len(vals)
	}
	thr, keep := o.Threshold, o.Threshold/2
	const endAfter = 2        // points below keep that end an excursion
	walkBack := 8 - o.Sustain // as ScoreWindow's history allows
	inv := 1 / b.Spread
	zAt := func(i int) (float64, bool) {
		v := vals[i]
		if v != v || (mask != nil && mask[i]) {
			return 0, false
		}
		return harm((v-b.Level)*inv, d), true
	}
	going, after, before := -1, -1, -1
	// close records an excursion that began at on and was last above
	// keep at end
	close := func(on, end int) {
		switch {
		case on <= ts && end >= ts-tol:
			going = on // the latest such wins
		case on <= ts:
			before = on
		case after < 0:
			after = on
		}
	}
	inSeg := false
	segOn, lastAbove, below := -1, -1, 0
	runStart, runLen := -1, 0
	for i := from; i < to; i++ {
		z, ok := zAt(i)
		if !ok {
			continue
		}
		if z >= keep {
			if !inSeg {
				inSeg, segOn = true, -1
			}
			lastAbove, below = i, 0
		} else if inSeg {
			below++
			if below >= endAfter {
				if segOn >= 0 {
					close(segOn, lastAbove)
				}
				inSeg = false
			}
		}
		if z >= thr {
			if runLen == 0 {
				runStart = i
			}
			runLen++
			if runLen == o.Sustain && inSeg && segOn < 0 {
				segOn = runStart
				for j, n := runStart-1, 0; j >= from && n < walkBack; j-- {
					zj, ok := zAt(j)
					if !ok {
						continue
					}
					if zj < 1 {
						break
					}
					segOn, n = j, n+1
				}
			}
		} else {
			runLen = 0
		}
	}
	if inSeg && segOn >= 0 {
		close(segOn, lastAbove)
	}
	switch {
	case going >= 0:
		return going
	case after >= 0:
		return after
	}
	return before
}
