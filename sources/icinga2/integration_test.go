package icinga2

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
	"github.com/opsview/opsview/sources"
)

const testObjects = `
object Host "db-1" {
  check_command = "dummy"
  vars.dummy_state = 0
  vars.dummy_text = "PING OK"
  check_interval = 1s
}
object Service "disk /var" {
  host_name = "db-1"
  check_command = "dummy"
  vars.dummy_state = 2
  vars.dummy_text = "DISK CRITICAL - free space: /var 2%"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
}
object Service "load" {
  host_name = "db-1"
  check_command = "dummy"
  vars.dummy_state = 0
  vars.dummy_text = "LOAD OK"
  check_interval = 1s
}
`

func startIcinga(t *testing.T) *realserver.Icinga2 {
	t.Helper()
	return startIcingaWith(t, testObjects)
}

func startIcingaWith(t *testing.T, objects string) *realserver.Icinga2 {
	t.Helper()
	if r := realserver.MissingAlerting("icinga2", realserver.PluginDir+"/check_dummy"); r != "" {
		if realserver.InCI() {
			t.Fatal(r)
		}
		t.Skip(r)
	}
	ic, err := realserver.StartIcinga2(t.TempDir(), objects)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ic.Proc.Stop)
	return ic
}

func TestRealIcinga2CriticalServiceOverTLSWithItsCA(t *testing.T) {
	ic := startIcinga(t)
	o := Options{URL: ic.URL}
	o.Username, o.Password, o.CAFile = ic.User, ic.Pass, ic.CAFile
	s, err := New(sources.Env{Name: "icinga"}, o)
	if err != nil {
		t.Fatal(err)
	}
	// the first checks run a second or so after the start
	var b *sources.Batch
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err = s.Poll(t.Context(), sources.Request{Now: time.Now()})
		if err == nil && len(b.Events) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, ic.Proc.Output())
	}
	if w := b.Status.Watched; w == nil || w.System != "Icinga 2" || w.Hosts != 1 || w.Services != 2 {
		t.Fatalf("watched %+v", w)
	}
	if len(b.Events) != 1 {
		t.Fatalf("events %+v", b.Events)
	}
	ev := b.Events[0]
	if a := ev.Alert; !ev.Open() || a.System != "icinga2" || a.Check != "disk /var" || a.State != "CRITICAL" || !a.Hard ||
		ev.Node != "db-1" || ev.Severity != sources.SevCritical || ev.Text != "DISK CRITICAL - free space: /var 2%" {
		t.Fatalf("%+v %+v", ev, ev.Alert)
	}
}

func TestRealIcinga2RefusesAWrongPasswordAndAnUnknownCA(t *testing.T) {
	ic := startIcinga(t)
	o := Options{URL: ic.URL}
	o.Username, o.Password, o.CAFile = ic.User, "wrong", ic.CAFile
	s, err := New(sources.Env{}, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Poll(t.Context(), sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "check username and password") {
		t.Fatalf("wrong password: %v", err)
	}
	o.Password, o.CAFile = ic.Pass, ""
	s, _ = New(sources.Env{}, o)
	_, err = s.Poll(t.Context(), sources.Request{})
	if err == nil || !strings.Contains(err.Error(), "set ca_file") {
		t.Fatalf("unknown CA: %v", err)
	}
}

// flipObjects add a service that is CRITICAL for 3 s and OK for 3 s,
// over and over: one of its problems begins and ends between two polls
// 11 s apart, whatever the phase (the next start within 6 s, its end 3 s
// later, a check a second apart).
const flipObjects = testObjects + `
object Service "flip" {
  host_name = "db-1"
  check_command = "dummy"
  vars.dummy_state = {{ if (Math.floor(get_time()) % 6 < 3) { return 2 }; return 0 }}
  vars.dummy_text = "FLIP"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
}
`

// With an ApiUser that may read the event stream, the problems of a
// service that flips between two polls are told, each from its start
// to its end; with one that may not, the source says so and polls.
func TestARealIcinga2sEventStreamTellsWhatHappensBetweenPolls(t *testing.T) {
	ic := startIcingaWith(t, flipObjects)
	newSrc := func(user string) *Source {
		o := Options{URL: ic.URL}
		o.Username, o.Password, o.CAFile = user, ic.Pass, ic.CAFile
		s, err := New(sources.Env{Name: "icinga"}, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	streaming, polling := newSrc(ic.EventsUser), newSrc(ic.User)
	// the first polls start the streams; the API needs a moment after the start
	first := time.Now()
	deadline := first.Add(20 * time.Second)
	for _, s := range []*Source{streaming, polling} {
		for {
			_, err := s.Poll(t.Context(), sources.Request{Now: time.Now()})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v\n%s", err, ic.Proc.Output())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Icinga schedules a new service's first checks at its own pace (a
	// loaded machine delays them): the flipping starts once a flip has
	// been seen at all
	for seen := false; !seen; {
		b, err := streaming.Poll(t.Context(), sources.Request{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			seen = seen || ev.Alert != nil && ev.Alert.Check == "flip"
		}
		if !seen && time.Now().After(deadline.Add(20*time.Second)) {
			t.Fatalf("the flip service never went CRITICAL in 40 s: %+v\n%s", b.Events, ic.Proc.Output())
		}
		time.Sleep(500 * time.Millisecond)
	}
	first = time.Now()
	time.Sleep(11 * time.Second)
	b, err := streaming.Poll(t.Context(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var between []string
	for _, ev := range b.Events {
		if ev.Alert.Check == "flip" && !ev.Open() && ev.Start.After(first) && ev.End.After(ev.Start) {
			between = append(between, fmt.Sprintf("%s–%s", ev.Start.Format("15:04:05.000"), ev.End.Format("15:04:05.000")))
		}
	}
	if len(between) == 0 || !strings.Contains(b.Status.Detail, "streamed") {
		t.Fatalf("no flip begun and ended between the polls: detail %q, events %+v", b.Status.Detail, b.Events)
	}
	t.Logf("flips between the polls: %v (%s)", between, b.Status.Detail)
	b, err = polling.Poll(t.Context(), sources.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Status.Detail, "event stream refused (HTTP 404)") {
		t.Fatalf("detail %q", b.Status.Detail)
	}
}
