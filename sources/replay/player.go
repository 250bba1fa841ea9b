package replay

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// Speed bounds of a Player.
const (
	MinSpeed = 1
	MaxSpeed = 60
)

// PlayerOptions tune a Player.
type PlayerOptions struct {
	// Clock is the wall clock (time.Now when nil); tests pass their own.
	Clock func() time.Time
}

// Player plays a recording back on a replay clock: the position moves at
// Speed × the wall clock while playing, and Drain hands out, in file
// order, every batch whose At the position has reached — with its original
// Source, Type and At, so the store and the UI see the sources as they
// were. The same file always gives the same sequence of batches.
//
// How the app uses it (replay mode):
//
//	p := replay.NewPlayer(rec, replay.PlayerOptions{})
//	p.Play()
//	on every tick: for _, b := range p.Drain() { session.Step(b) }
//	keys: space → Play/Pause, +/- → SetSpeed, [ ] → Seek, n → NextEvent, N → NextMoment(finding changes)
//	if Seek (or NextEvent/NextMoment) reports reset: reset the session
//	(and restore the recording's opening), then Drain again (it replays
//	from the start up to the new position at once).
//
// Judging after each drained batch (not once per drain) gives the same
// findings, with the same times, as live.
//
// A Player is safe for concurrent use.
type Player struct {
	mu      sync.Mutex
	rec     *Recording
	clock   func() time.Time
	next    int       // next batch to hand out
	handed  time.Time // the latest At handed out since the start or a reset
	pos     time.Time // replay position at anchor
	anchor  time.Time // wall time when pos was set
	speed   float64
	playing bool
	start   time.Time
	end     time.Time
}

// NewPlayer makes a paused player at the start of the recording, at 1×.
func NewPlayer(rec *Recording, opt PlayerOptions) *Player {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	p := &Player{rec: rec, clock: opt.Clock, speed: 1}
	p.start, p.end = rec.Window()
	p.pos = p.start
	p.anchor = p.clock()
	return p
}

// Recording is what the player plays.
func (p *Player) Recording() *Recording { return p.rec }

// Start and End are the recording's first and last batch times.
func (p *Player) Start() time.Time { return p.start }

// End is the time of the last batch.
func (p *Player) End() time.Time { return p.end }

// Position is the replay clock's current time in the recording.
func (p *Player) Position() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.position()
}

func (p *Player) position() time.Time {
	if !p.playing {
		return p.pos
	}
	elapsed := p.clock().Sub(p.anchor)
	t := p.pos.Add(time.Duration(float64(elapsed) * p.speed))
	if t.After(p.end) {
		t = p.end
	}
	return t
}

// rebase fixes the current position as the new anchor.
func (p *Player) rebase() {
	p.pos = p.position()
	p.anchor = p.clock()
}

// Playing reports whether the clock moves.
func (p *Player) Playing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.playing && p.position().Before(p.end)
}

// Speed is the replay speed (1 to 60).
func (p *Player) Speed() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.speed
}

// Play starts the replay clock.
func (p *Player) Play() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rebase()
	p.playing = true
}

// Pause stops the replay clock where it is.
func (p *Player) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rebase()
	p.playing = false
}

// SetSpeed sets the replay speed, from 1× to 60×.
func (p *Player) SetSpeed(x float64) error {
	if x < MinSpeed || x > MaxSpeed {
		return fmt.Errorf("replay speed %g× is out of range: use %d to %d", x, MinSpeed, MaxSpeed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rebase()
	p.speed = x
	return nil
}

// Seek moves the replay clock to t (clamped to the recording). Moving
// forward, the next Drain returns everything up to t at once. Moving back
// before a batch already handed out returns reset=true: the caller must
// start from an empty store and engine, and the next Drain replays from
// the start of the recording up to t.
func (p *Player) Seek(t time.Time) (reset bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seek(t)
}

func (p *Player) seek(t time.Time) bool {
	if t.Before(p.start) {
		t = p.start
	}
	if t.After(p.end) {
		t = p.end
	}
	reset := p.next > 0 && t.Before(p.handed)
	if reset {
		p.next, p.handed = 0, time.Time{}
	}
	p.pos, p.anchor = t, p.clock()
	return reset
}

// Done reports whether every batch was handed out.
func (p *Player) Done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next >= len(p.rec.Batches)
}

// Drain returns, in file order, the batches whose time the replay clock has
// reached and that were not handed out yet. A batch that cannot be decoded
// is skipped and reported in err together with the batches that could.
func (p *Player) Drain() (out []*sources.Batch, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.position()
	var errs []error
	for p.next < len(p.rec.Batches) && !p.rec.Batches[p.next].At.After(pos) {
		if at := p.rec.Batches[p.next].At; at.After(p.handed) {
			p.handed = at
		}
		b, derr := p.rec.Batch(p.next)
		p.next++
		if derr != nil {
			errs = append(errs, p.rec.skipped(p.next-1, derr))
			continue
		}
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

// NextEvent moves to the next batch after the position that carries
// events; ok is false when there is none (the position stays).
func (p *Player) NextEvent() (at time.Time, reset, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.position()
	for _, fi := range p.rec.Batches {
		if fi.Flags&FlagEvents != 0 && fi.At.After(pos) {
			return fi.At, p.seek(fi.At), true
		}
	}
	return time.Time{}, false, false
}

// PrevEvent moves to the last batch before the position that carries
// events.
func (p *Player) PrevEvent() (at time.Time, reset, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.position()
	var best time.Time
	for _, fi := range p.rec.Batches {
		if fi.Flags&FlagEvents != 0 && fi.At.Before(pos) && fi.At.After(best) {
			best = fi.At
		}
	}
	if best.IsZero() {
		return time.Time{}, false, false
	}
	return best, p.seek(best), true
}

// NextAnnotation moves to the next note after the position.
func (p *Player) NextAnnotation() (a Annotation, reset, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.position()
	for _, n := range p.rec.Annotations {
		if n.At.After(pos) {
			return n, p.seek(n.At), true
		}
	}
	return Annotation{}, false, false
}

// NextMoment moves to the first of the moments (ascending) after the
// position, e.g. where a finding opened, changed or closed; ok is false
// when there is none (the position stays).
func (p *Player) NextMoment(moments []time.Time) (at time.Time, reset, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos := p.position()
	for _, t := range moments {
		if t.After(pos) {
			return t, p.seek(t), true
		}
	}
	return time.Time{}, false, false
}

// Annotate saves a note in the recording file (see AppendAnnotation) and
// adds it to the notes the player shows. The recording must have come
// from Open (it needs the file's path).
func (p *Player) Annotate(a Annotation) error {
	if p.rec.Path == "" {
		return errors.New("annotate: this recording was not opened from a file")
	}
	a.Author, a.Text = sources.Clean(a.Author), sources.CleanText(a.Text)
	if err := AppendAnnotation(p.rec.Path, a); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	notes := append([]Annotation(nil), p.rec.Annotations...)
	i := len(notes)
	for i > 0 && notes[i-1].At.After(a.At) {
		i--
	}
	notes = append(notes[:i], append([]Annotation{a}, notes[i:]...)...)
	p.rec.Annotations = notes
	return nil
}

// Annotations returns the recording's notes, sorted by time. Use it rather
// than Recording.Annotations while Annotate may run.
func (p *Player) Annotations() []Annotation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Annotation(nil), p.rec.Annotations...)
}
