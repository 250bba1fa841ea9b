package app

import (
	"bytes"
	"slices"
	"testing"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources/replay"
)

// The config's dependencies: change what the engine blames; a recording
// keeps them in its opening, so its export (Judge) and its replay blame
// what live blamed, not what a session without them would.
func TestRecordingKeepsTheDependencies(t *testing.T) {
	batches := demoRounds(60)
	opts := demoSessionOptions()
	if len(opts.Deps) == 0 {
		t.Fatal("the demo has no dependencies")
	}
	live := correlate.NewSession(opts)
	const startAt = 6 // recording from the first round on
	for _, b := range batches[:startAt] {
		live.Step(b)
	}
	buf, want := recordRest(t, live, batches[startAt:])

	// without them the same batches tell another story
	bare := opts
	bare.Deps = nil
	other := correlate.NewSession(bare)
	for _, b := range batches[:startAt] {
		other.Step(b)
	}
	n := len(other.Changes())
	for _, b := range batches[startAt:] {
		other.Step(b)
	}
	if Story(other.Findings(), other.Changes()[n:]) == want {
		t.Fatalf("the demo tells the same story without its dependencies; the test needs one they change:\n%s", want)
	}

	rec, err := replay.Load(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Judge(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sess.Options().Deps, opts.Deps) {
		t.Errorf("the recording's session has dependencies %v, want %v", sess.Options().Deps, opts.Deps)
	}
	if got := Story(sess.Findings(), sess.Changes()); got != want {
		t.Fatalf("judged recording:\n%s\nlive:\n%s", got, want)
	}
	rt, err := NewReplay(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rt.Session.Options().Deps, opts.Deps) {
		t.Errorf("the replay's session has dependencies %v", rt.Session.Options().Deps)
	}
}
