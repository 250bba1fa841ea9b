package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

// Settings are a session's settings as a recording keeps them.
func Settings(o correlate.SessionOptions) replay.Settings {
	st := correlate.NewStore(o.Store) // for the defaults it fills in
	return replay.Settings{Step: st.Step(), Retention: st.Retention(), Window: o.Window, Deps: o.Deps}
}

// WriteOpening writes a session's opening (see correlate.Opening) at the
// start of a recording.
func WriteOpening(w *replay.Writer, o correlate.SessionOptions, op *correlate.Opening) error {
	return w.WriteOpening(replay.Opening{Settings: Settings(o), Engine: op.Engine}, op.Batches)
}

// RecordingSession is the session a recording was judged with: its
// settings and, when it began in the middle of things, its opening
// restored. A recording without an opening gets the defaults.
func RecordingSession(rec *replay.Recording) (*correlate.Session, error) {
	o := correlate.SessionOptions{Engine: EngineOptions(), Window: EngineWindow}
	if op := rec.Opening; op != nil {
		o.Store.Step, o.Store.Retention = op.Settings.Step, op.Settings.Retention
		if op.Settings.Window > 0 {
			o.Window = op.Settings.Window
		}
		o.Deps = op.Settings.Deps
	}
	sess := correlate.NewSession(o)
	return sess, RestoreOpening(sess, rec)
}

// RestoreOpening gives a session the recording's opening (after a Reset).
func RestoreOpening(sess *correlate.Session, rec *replay.Recording) error {
	batches, err := rec.Opened()
	if err != nil {
		return err
	}
	op := &correlate.Opening{Batches: batches}
	if rec.Opening != nil {
		op.Engine = rec.Opening.Engine
	}
	if err := sess.Restore(op); err != nil {
		return fmt.Errorf("recording %s: %w", rec.Path, err)
	}
	return nil
}

// Judge runs a whole recording through its session, one Step per batch
// as live did: what export and the replay's "next finding" read. A batch
// that cannot be decoded is skipped, as the replay player skips it
// (replay.Summarize and the player's Drain say which); only an opening
// that cannot be restored is an error.
func Judge(rec *replay.Recording) (*correlate.Session, error) {
	sess, err := RecordingSession(rec)
	if err != nil {
		return sess, err
	}
	rec.EachWhole(func(_ int, b *sources.Batch) { sess.Step(b) })
	return sess, nil
}

// NoteBatch puts an annotation on the timeline as an event of the "notes"
// source, so every view that shows events shows it. The batch carries no
// time of its own: a note about a later moment must not move the store's
// clock ahead of the data.
func NoteBatch(a replay.Annotation) *sources.Batch {
	title := "note: " + a.Text
	if a.Author != "" {
		title = "note (" + a.Author + "): " + a.Text
	}
	return &sources.Batch{Source: "notes", Events: []sources.Event{{
		ID: fmt.Sprintf("note/%d/%s", a.At.UnixNano(), a.Author), Source: "notes", Kind: sources.EventNote, Start: a.At, End: a.At,
		Severity: sources.SevInfo, Title: firstLine(title), Text: a.Text,
	}}}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return s[:i]
		}
	}
	return s
}

// NewReplay is a runtime without sources around the session a recording
// was judged with: the replay mode feeds it the recording's batches.
func NewReplay(rec *replay.Recording, logf func(string, ...any)) (*Runtime, error) {
	sess, err := RecordingSession(rec)
	if err != nil {
		return nil, err
	}
	return newRuntime(Options{Logf: logf}, sess), nil
}

// Story is a session's conclusions in words, one line per active finding
// (with when it opened) and per change of the timeline: two runs that
// tell the same story give the same text.
func Story(fs []correlate.Finding, cs []correlate.Change) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "F %s %s %q opened %s\n", f.ID, f.Severity, f.Title, f.Opened.UTC().Format(time.TimeOnly))
	}
	for _, c := range cs {
		fmt.Fprintf(&b, "C %s %s %s %q\n", c.At.UTC().Format(time.TimeOnly), c.Kind, c.Finding.ID, c.Finding.Title)
	}
	return b.String()
}
