package aws

import (
	"strings"
	"testing"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// Every example this package registers must load as a config entry.
func TestExamplesLoad(t *testing.T) {
	for _, typ := range []string{"aws-status", "cloudwatch", "aws-health"} {
		k, ok := sources.Lookup(typ)
		if !ok {
			t.Fatalf("%s not registered", typ)
		}
		if !strings.HasPrefix(k.Example, "- name:") {
			t.Errorf("%s: example must start with '- name:'", typ)
		}
		var b strings.Builder
		b.WriteString("sources:\n")
		for _, l := range strings.Split(strings.TrimRight(k.Example, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		if _, err := config.Parse(typ+".yaml", []byte(b.String())); err != nil {
			t.Errorf("%s example: %v\n%s", typ, err, b.String())
		}
	}
}
