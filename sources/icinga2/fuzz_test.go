package icinga2

import (
	"strings"
	"testing"

	"github.com/opsview/opsview/sources/internal/sourcetest"
)

func FuzzParseObjects(f *testing.F) {
	for _, name := range []string{"services.json", "hosts.json", "hosts-all-attrs.json"} {
		f.Add(sourcetest.Testdata(f, name))
	}
	f.Add([]byte(`{"error":401,"status":"Unauthorized \u001b[31m"}`))
	f.Add([]byte(`{"results":[{"name":"a\u001b]0;x\u0007!b","type":"Service","attrs":{"state":1e300,"last_check":-1,"last_check_result":{"output":"x\n\u009b2Jy"}}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := ParseObjects(body)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\x1b\x07") {
				t.Fatalf("escape in the error %q", err)
			}
			return
		}
		for _, o := range objs {
			if o.Host == "" {
				t.Fatalf("an object without its host: %+v", o)
			}
			if strings.ContainsAny(o.Host+o.Service+o.Display+o.Output, "\x1b\x07\n") || strings.ContainsAny(o.Long, "\x1b\x07") {
				t.Fatalf("%+v", o)
			}
		}
	})
}
