package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/opsview/opsview/internal/config"
)

// compileSchema compiles what `opsview config schema` prints.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	code, out, errOut := run(t, "config", "schema")
	if code != 0 {
		t.Fatalf("config schema: %d %s", code, errOut)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(config.SchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(config.SchemaURL)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// yamlDoc is a YAML text as the JSON value a schema validates.
func yamlDoc(t *testing.T, text string) any {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The schema is made from the same registry as the example: the example
// (every kind of source) validates, and points editors at the schema.
func TestSchemaValidatesTheExample(t *testing.T) {
	s := compileSchema(t)
	_, example, _ := run(t, "config", "example")
	if first, _, _ := strings.Cut(example, "\n"); first != "# yaml-language-server: $schema="+config.SchemaURL {
		t.Errorf("the example's first line %q does not point at the schema", first)
	}
	if err := s.Validate(yamlDoc(t, example)); err != nil {
		t.Errorf("the example does not validate: %v", err)
	}
	// and it is not a schema that takes anything
	for _, bad := range []string{
		"theme: drak\n",
		"sources:\n  - name: lb\n    type: haproxy\n    sockett: /run/haproxy.sock\n",
		"sources:\n  - name: lb\n    type: prometeus\n",
		"sources:\n  - name: lb\n    type: demo\n    interval: 10\n",
		"store:\n  retention: 1 day\n",
		"rules:\n  - match: x\n    role: symptm\n",
	} {
		if err := s.Validate(yamlDoc(t, bad)); err == nil {
			t.Errorf("the schema takes %q", bad)
		}
	}
}

// config check says every mistake of a file in one run, each at its line
// and column, in a user's words, with the closest known word.
func TestConfigCheckSaysEveryMistakeWithLineAndColumn(t *testing.T) {
	cfg := writeConfig(t, `theme: drak
store:
  stp: 5s
  retention: 1 day
sources:
  - name: lb
    type: haproxy
    sockett: /run/haproxy.sock
    interval: 10
  - name: db
    type: prometeus
  - name: web
    typ: http
rules:
  - match: x
    layr: db
    role: symptm
`)
	code, out, errOut := run(t, "config", "check", cfg)
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := []string{
		cfg + `:1:8: unknown theme "drak" (did you mean "dark"?)`,
		cfg + `:3:3: unknown key "stp" (did you mean "step"?)`,
		cfg + `:4:14: "1 day" is not a duration: write it like 30s, 5m or 1h30m`,
		cfg + `:8:5: unknown key "sockett" (did you mean "socket"?)`,
		cfg + `:9:15: expected a duration such as 30s, 5m or 1h30m (a bare number has no unit), found a number`,
		cfg + `:11:11: unknown source type "prometeus" (did you mean "prometheus"?)`,
		cfg + `:13:5: unknown key "typ" (did you mean "type"?)`,
		cfg + `:16:5: unknown key "layr" (did you mean "layer"?)`,
		cfg + `:17:11: unknown role "symptm" (did you mean "symptom"?)`,
		"opsview: " + cfg + ": 9 mistakes",
	}
	if got := strings.Split(strings.TrimSpace(errOut), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("config check said\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, internal := range []string{"Go value", "unmarshal", "time.Duration", "not allowed in this context"} {
		if strings.Contains(errOut, internal) {
			t.Errorf("config check speaks of %q:\n%s", internal, errOut)
		}
	}
}

// A key out of line is a syntax error: it is pointed at where the key is,
// not at the value on the line before, and said in words.
func TestConfigCheckPointsAtAKeyOutOfLine(t *testing.T) {
	cfg := writeConfig(t, "store:\n  step: 5s\n   retention: 1h\n")
	code, _, errOut := run(t, "config", "check", cfg)
	if code != 2 || !strings.HasPrefix(errOut, "opsview: "+cfg+":3:4: ") || !strings.Contains(errOut, "indent") || strings.Contains(errOut, "context") {
		t.Errorf("exit %d: %q", code, errOut)
	}
}
