package config

import (
	"errors"
	"strings"
	"testing"
)

// Parse says every mistake of a file, sorted by place, each with its line
// and column, none in Go's or the parser's words.
func TestParseSaysEveryMistake(t *testing.T) {
	text := `colour: red
store:
  step: 5
sources:
  - name: a
    type: dummy-test
    url: http://x/
    urll: http://y/
    interval: often
  - name: b
    type: dumy-test
rules:
  - match: x
    kind: guage
`
	_, err := Parse("c.yaml", []byte(text))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("%T %v", err, err)
	}
	want := []struct {
		line, col int
		msg       string
	}{
		{1, 1, `unknown key "colour"`},
		{3, 9, "expected a duration"},
		{8, 5, `unknown key "urll" (did you mean "url"?)`},
		{9, 15, `"often" is not a duration`},
		{11, 11, `unknown source type "dumy-test" (did you mean "dummy-test"?)`},
		{14, 11, `unknown kind "guage" (did you mean "gauge"?)`},
	}
	if len(es) != len(want) {
		t.Fatalf("%d mistakes, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		e := es[i]
		if e.Line != w.line || e.Col != w.col || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("mistake %d: %d:%d %q, want %d:%d %q", i, e.Line, e.Col, e.Msg, w.line, w.col, w.msg)
		}
		for _, internal := range []string{"Go ", "unmarshal", "context", "uint64"} {
			if strings.Contains(e.Msg, internal) {
				t.Errorf("mistake %d speaks of %q: %s", i, internal, e.Msg)
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"interval", "timeout", "type", "name", "url", "targets"}
	for w, want := range map[string]string{"intervall": "interval", "timout": "timeout", "tpye": "type", "Name": "name", "ulr": "url", "colour": "", "x": ""} {
		if got := suggest(w, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", w, got, want)
		}
	}
}

// An explicit false is a value, not an unset option: decoding key by key
// once read "flag: false" into a *bool as nil.
func TestExplicitFalseIsKeptKeyByKey(t *testing.T) {
	var o struct {
		Flag  *bool    `yaml:"flag"`
		Names []string `yaml:"names"`
	}
	opts, err := OptionsFromYAML("t.yaml", "flag: false\nnames: [a]\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := opts.Decode(&o); err != nil {
		t.Fatal(err)
	}
	if o.Flag == nil || *o.Flag {
		t.Fatalf("flag: false decoded as %v", o.Flag)
	}
	if len(o.Names) != 1 || o.Names[0] != "a" {
		t.Fatalf("names decoded as %v", o.Names)
	}
}
