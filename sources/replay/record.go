package replay

import (
	"context"
	"time"

	"github.com/opsview/opsview/sources"
)

// Record writes every batch from in to w until in closes, ctx ends, or
// duration (when > 0) has passed, then closes w. It is `opsview record`'s
// loop: the caller runs the scheduler and sends it each batch as the store
// gets it. It returns the first write error, or w.Close's.
func Record(ctx context.Context, w *Writer, in <-chan *sources.Batch, duration time.Duration) error {
	var stop <-chan time.Time
	if duration > 0 {
		t := time.NewTimer(duration)
		defer t.Stop()
		stop = t.C
	}
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return w.Close()
			}
			if err := w.WriteBatch(b); err != nil {
				w.Close()
				return err
			}
		case <-stop:
			return w.Close()
		case <-ctx.Done():
			return w.Close()
		}
	}
}
