package replay

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

const crashChildEnv = "OPSVIEW_REPLAY_CRASH_CHILD"

// The recorder is killed with SIGKILL while it writes: the file replays
// every whole frame, reports the cut one, and nothing panics.
func TestRecorderKilledMidWrite(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		recordForever(path)
		return
	}
	cuts := 0
	for attempt := 0; attempt < 5 && cuts == 0; attempt++ {
		path := filepath.Join(t.TempDir(), "killed.opsrec")
		cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderKilledMidWrite$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// wait until the recorder has put a few frames on disk and is in
		// the middle of writing one (its buffer went out mid-frame)
		seen, midFrame := 0, false
		deadline := time.Now().Add(60 * time.Second)
		for seen < 5 || !midFrame {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the recorder wrote %d batches in a minute", seen)
			}
			time.Sleep(5 * time.Millisecond)
			time.Sleep(time.Duration(attempt) * 7 * time.Millisecond)
			if rec, err := Open(path); err == nil {
				seen = rec.Len()
				midFrame = rec.Warning != nil
				rec.Close()
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		rec, err := Open(path)
		if err != nil {
			t.Fatalf("a killed recording does not open: %v", err)
		}
		if rec.Len() < seen {
			t.Fatalf("%d batches after the kill, %d were already on disk before", rec.Len(), seen)
		}
		var d *DamageError
		switch {
		case rec.Warning == nil:
			// killed between two frames: nothing to report
		case errors.As(rec.Warning, &d) && d.Cut:
			cuts++
			st, _ := os.Stat(path)
			if d.Offset != rec.Size || d.Offset >= st.Size() {
				t.Fatalf("cut reported at %d, whole frames end at %d, file is %d bytes", d.Offset, rec.Size, st.Size())
			}
		default:
			t.Fatalf("a killed recorder left damage that is not a cut: %v", rec.Warning)
		}
		// every whole frame is there, in order, and decodes to what was written
		for i := 0; i < rec.Len(); i++ {
			b, err := rec.Batch(i)
			if err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			want := crashBatch(syntheticBatch("crash", t0, 1000), i)
			if i%7 == 0 && dump(b) != dump(want) {
				t.Fatalf("batch %d differs from what the recorder wrote", i)
			}
			if !b.At.Equal(want.At) {
				t.Fatalf("batch %d at %v, want %v", i, b.At, want.At)
			}
		}
		t.Logf("attempt %d: %d whole batches, warning: %v", attempt, rec.Len(), rec.Warning)
		n := rec.Len()
		rec.Close()
		// the postmortem can still annotate it: the torn frame goes, the note stays
		if err := AppendAnnotation(path, Annotation{At: t0, Author: "ana", Text: "recorder was killed here"}); err != nil {
			t.Fatal(err)
		}
		again, err := Open(path)
		if err != nil || again.Warning != nil || again.Len() != n || len(again.Annotations) != 1 {
			t.Fatalf("after annotating the killed file: err %v, warning %v, %d batches", err, again.Warning, again.Len())
		}
		again.Close()
	}
	if cuts == 0 {
		t.Fatal("five kills never landed inside a frame; the cut path went untested")
	}
}

// recordForever is the child: it records batches until it is killed.
func recordForever(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.Exit(3)
	}
	w, err := NewWriter(slowDisk{f}, Header{Created: t0, Producer: "crash child"})
	if err != nil {
		os.Exit(3)
	}
	// one batch, re-timed: the child spends its time writing, so the kill
	// finds it mid-frame more often
	b := syntheticBatch("crash", t0, 1000)
	for i := 0; ; i++ {
		if err := w.WriteBatch(crashBatch(b, i)); err != nil {
			os.Exit(4)
		}
	}
}

// slowDisk writes in small pieces with a pause between them, like a busy
// disk: a kill lands inside a frame's bytes most of the time.
type slowDisk struct{ f *os.File }

func (d slowDisk) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 512)
		m, err := d.f.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		time.Sleep(100 * time.Microsecond)
	}
	return n, nil
}

// crashBatch re-times template as the child's i-th batch.
func crashBatch(template *sources.Batch, i int) *sources.Batch {
	at := t0.Add(time.Duration(i) * 10 * time.Second)
	template.At = at
	template.Status.LastSuccess = at
	for j := range template.Series {
		template.Series[j].Points[0].T = at
	}
	return template
}
