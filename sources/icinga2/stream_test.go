package icinga2

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func TestTheEventStreamOfARealIcinga2136(t *testing.T) {
	br := bufio.NewReader(bytes.NewReader(sourcetest.Testdata(t, "events.jsonl")))
	var got []string
	for {
		line, err := readStreamLine(br)
		if err != nil {
			break
		}
		e, err := ParseStreamEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s/%s %d hard=%v %q %d", e.Type, e.Host, e.Service, e.State, e.Hard, e.Output, e.At.UnixMilli()))
	}
	want := []string{
		`CheckResult db-1/disk /var 2 hard=true "DISK CRITICAL - free space: /var 2%" 1796667588805`,
		`StateChange db-1/disk /var 2 hard=true "DISK CRITICAL - free space: /var 2%" 1796667588805`,
		`CheckResult db-1/load 0 hard=true "LOAD OK" 1796667589194`,
		`StateChange db-1/load 0 hard=true "LOAD OK" 1796667589194`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// a host DOWN and not reachable is UNREACHABLE, as in the objects
	e, err := ParseStreamEvent([]byte(`{"type":"StateChange","host":"app-3","state":1,"state_type":0,"timestamp":1796667600,"check_result":{"output":"PING CRITICAL\nmore","vars_after":{"attempt":2,"reachable":false,"state":1,"state_type":0}}}`))
	if err != nil || e.State != 2 || e.Hard || e.Service != "" || e.Output != "PING CRITICAL" || e.Long != "more" || e.Attempt != 2 {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{`{}`, `<html>`, `{"type":"Flapping","host":"h","state":1,"timestamp":1}`, `{"type":"StateChange","host":"h","state":7,"timestamp":1}`,
		`{"type":"StateChange","host":"h","timestamp":1}`, `{"type":"StateChange","state":1,"timestamp":1}`, `{"type":"StateChange","host":"h","state":1,"timestamp":-1}`} {
		if _, err := ParseStreamEvent([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// A problem that begins and ends between two polls is told by the
// stream, from its exact start to its exact end; one the stream opens
// goes on at the next poll as the same event.
func TestTheStreamTellsWhatHappensBetweenPolls(t *testing.T) {
	srv, _ := fakeIcinga(t, []byte(`{"results":[]}`), 200)
	s := newTest(t, srv.URL)
	at := time.Unix(1796667600, 0).UTC()
	change := func(sec int, service string, state int) {
		s.take(&StreamEvent{Type: "StateChange", Host: "db-1", Service: service, State: state, Hard: true, At: at.Add(time.Duration(sec) * time.Second), Output: "out"})
	}
	change(1, "blip", 2)
	change(4, "blip", 0)
	b := sourcetest.Poll(t, s, sources.Request{Now: at.Add(10 * time.Second)})
	evs := sourcetest.ByCheck(b.Events)
	blip, ok := evs["blip"]
	if !ok || blip.Open() || !blip.Start.Equal(at.Add(time.Second)) || !blip.End.Equal(at.Add(4*time.Second)) || blip.Severity != sources.SevCritical {
		t.Fatalf("blip: %+v", b.Events)
	}
	// told once
	if _, again := sourcetest.ByCheck(sourcetest.Poll(t, s, sources.Request{Now: at.Add(20 * time.Second)}).Events)["blip"]; again {
		t.Fatal("blip told again")
	}
	// a check result says nothing of a check not followed
	s.take(&StreamEvent{Type: "CheckResult", Host: "db-1", Service: "other", State: 2, Hard: true, At: at.Add(21 * time.Second)})
	if _, opened := sourcetest.ByCheck(sourcetest.Poll(t, s, sources.Request{Now: at.Add(22 * time.Second)}).Events)["other"]; opened {
		t.Fatal("a check result opened a problem")
	}
}

func FuzzParseStreamEvent(f *testing.F) {
	for _, l := range bytes.Split(sourcetest.Testdata(f, "events.jsonl"), []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"type":"StateChange","host":"h\u001b[2J","service":"s\u009b31m","state":3,"state_type":1,"timestamp":1e9,"check_result":{"output":"a\u001b]0;x\u0007\nb"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseStreamEvent(b)
		if err != nil {
			return
		}
		for _, s := range []string{e.Host, e.Service, e.Output, e.Long} {
			// runes, not bytes: "\x9b" in ContainsAny's set is U+FFFD, which
			// JSON makes of any invalid byte and which is no escape
			if strings.ContainsRune(s, 0x1b) || strings.ContainsRune(s, 0x9b) || strings.ContainsRune(s, 0x07) {
				t.Fatalf("escape in %q", s)
			}
		}
		if e.Host == "" || e.State < 0 || e.State > 3 || e.At.IsZero() {
			t.Fatalf("%+v", e)
		}
	})
}
