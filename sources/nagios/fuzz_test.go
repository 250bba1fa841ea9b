package nagios

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func noEscapes(t *testing.T, what string, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if strings.ContainsAny(s, "\x1b\x07\u009b") {
			t.Fatalf("%s: escape left in %q", what, s)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add(sourcetest.Testdata(f, "status.dat"))
	f.Add([]byte(statusDat(1795420000, svc{name: "disk\x1b[2J", state: 2, stateType: 1, ack: 1, output: "x\x1b]0;t\x07y"})))
	f.Add([]byte("info {\n\tcreated=-1\n\t}\nhoststatus {\n\thost_name=\n\tcurrent_state=99999999999999999999\n"))
	f.Add([]byte("servicestatus {\nhost_name=a\nservice_description=b\ncurrent_state=2\nlong_plugin_output=a\\nb\\n\x9b31m\n}\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n := 0
		st, err := ParseStatus(bytes.NewReader(body), func(c *Check) {
			n++
			if c.Host == "" {
				t.Fatalf("a check without its host: %+v", c)
			}
			noEscapes(t, "check", c.Host, c.Service, c.Output)
			if strings.ContainsAny(c.Long, "\x1b\x07") {
				t.Fatalf("escape in long output %q", c.Long)
			}
		})
		if err != nil {
			return
		}
		if st.Hosts+st.Services != n {
			t.Fatalf("counted %d+%d, saw %d", st.Hosts, st.Services, n)
		}
		noEscapes(t, "version", st.Version)
	})
}

func FuzzParseLog(f *testing.F) {
	f.Add(sourcetest.Testdata(f, "nagios.log"))
	f.Add([]byte(history))
	f.Add([]byte("[1] HOST ALERT: h\x1b[31m;DOWN;HARD;1;out\x1b]0;x\x07\n[2] SERVICE FLAPPING ALERT: h;s;STARTED;\n[x] SERVICE ALERT: a;b\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		es, err := ParseLog(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, e := range es {
			noEscapes(t, "entry", e.Host, e.Service, e.Output)
			if e.Host == "" || e.At.IsZero() {
				t.Fatalf("entry without host or time: %+v", e)
			}
		}
		for _, ep := range Episodes(es) {
			if ep.Host == "" || ep.State == 0 {
				t.Fatalf("an episode is a problem of a host: %+v", ep)
			}
		}
	})
}
