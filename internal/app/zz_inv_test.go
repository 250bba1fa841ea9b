package app

import (
	"testing"

	"github.com/opsview/opsview/correlate"
)

func TestZZEvents(t *testing.T) {
	s := correlate.NewSession(demoSessionOptions())
	for _, b := range demoRounds(300) {
		s.Step(b)
	}
	snap := s.Store().Snapshot(s.Store().Now().Add(-40*60e9), s.Store().Now(), nil)
	for _, ev := range snap.Events {
		t.Logf("EV %s start=%s end=%s upd=%s %s", ev.ID, ev.Start.Format("15:04:05"), ev.End.Format("15:04:05"), ev.Updated.Format("15:04:05"), ev.Title)
	}
	for _, c := range s.Changes() {
		t.Logf("CH %s %s %s [%s]", c.At.Format("15:04:05"), c.Kind, c.Finding.Title, c.Finding.Rule)
	}
}
