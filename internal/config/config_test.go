package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

type dummyOpts struct {
	URL   string        `yaml:"url"`
	Every time.Duration `yaml:"every"`
	Auth  struct {
		User     string `yaml:"user"`
		Password string `yaml:"password"`
	} `yaml:"auth"`
}

func init() {
	sources.Register(sources.Kind{Type: "dummy-test", Summary: "test", New: func(env sources.Env, o sources.Options) (sources.Source, error) {
		var d dummyOpts
		if err := o.Decode(&d); err != nil {
			return nil, err
		}
		if d.URL == "" {
			return nil, o.Errorf("source %q: url is required", env.Name)
		}
		return sources.PollFunc(func(context.Context, sources.Request) (*sources.Batch, error) { return &sources.Batch{}, nil }), nil
	}})
}

func TestGoodConfig(t *testing.T) {
	t.Setenv("LB_PASS", "hunter2")
	c, err := Parse("c.yaml", []byte(`theme: light
store:
  step: 10s
  retention: 6h
  max_series: 20000
sources:
  - name: lb-1
    type: dummy-test
    interval: 2s
    url: http://127.0.0.1:1/
    auth:
      user: admin
      password: ${LB_PASS}
rules:
  - match: "servers.db*.cpu.iowait"
    role: resource
    layer: db
    node: db-1
dependencies:
  - "lb -> app -> db"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Theme != "light" || c.Store.Step != 10*time.Second || c.Store.MaxSeries != 20000 || len(c.Sources) != 1 || c.Sources[0].Interval != 2*time.Second {
		t.Fatalf("got %+v", c)
	}
	if c.Sources[0].Timeout != 2*time.Second {
		t.Errorf("timeout defaults to at most the interval, got %v", c.Sources[0].Timeout)
	}
	var d dummyOpts
	if err := c.Sources[0].Options.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Auth.Password != "hunter2" {
		t.Errorf("env not expanded: %q", d.Auth.Password)
	}
	if strings.Contains(c.Redacted(), "hunter2") {
		t.Errorf("secret in redacted text")
	}
	if len(c.Deps) != 2 || c.Deps[1] != (sources.Dependency{From: "app", To: "db"}) {
		t.Errorf("deps %+v", c.Deps)
	}
	if len(c.Rules) != 1 || c.Rules[0].Layer != sources.LayerDB || c.Rules[0].Role != sources.RoleResource {
		t.Errorf("rules %+v", c.Rules)
	}
}

func TestLiteralSecretIsRedacted(t *testing.T) {
	c, err := Parse("c.yaml", []byte("sources:\n  - name: a\n    type: dummy-test\n    url: http://x/\n    auth: {user: u}\n    token: s3cr3t-literal\n"))
	if err == nil {
		t.Fatal("token is not a known key of dummy-test; expected an error")
	}
	c, err = Parse("c.yaml", []byte("sources:\n  - name: a\n    type: dummy-test\n    url: http://x/\n    auth:\n      password: s3cr3t-literal\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Redacted(), "s3cr3t") {
		t.Errorf("literal password shown:\n%s", c.Redacted())
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, text, want string
		line             int
	}{
		{"unknown top key", "theme: dark\ncolour: red\n", "unknown key \"colour\"", 2},
		{"unknown source option", "sources:\n  - name: a\n    type: dummy-test\n    url: http://x/\n    urll: http://y/\n", "unknown key \"urll\" (did you mean \"url\"?)", 5},
		{"unknown type", "sources:\n  - name: a\n    type: nope\n", "unknown source type \"nope\"", 3},
		{"missing type", "sources:\n  - name: a\n", "has no type", 2},
		{"missing name", "sources:\n  - type: dummy-test\n", "without a name", 2},
		{"duplicate name", "sources:\n  - name: a\n    type: dummy-test\n    url: u\n  - name: a\n    type: dummy-test\n    url: u\n", "already used on line 2", 5},
		{"bad interval", "sources:\n  - name: a\n    type: dummy-test\n    url: u\n    interval: soon\n", "", 5},
		{"tiny interval", "sources:\n  - name: a\n    type: dummy-test\n    url: u\n    interval: 1ms\n", "at least 100ms", 5},
		{"negative timeout", "sources:\n  - name: a\n    type: dummy-test\n    url: u\n    timeout: -1s\n", "timeout must be positive", 5},
		{"bad option type", "sources:\n  - name: a\n    type: dummy-test\n    url: u\n    every: [1]\n", "", 5},
		{"factory check", "sources:\n  - name: a\n    type: dummy-test\n", "url is required", 2},
		{"unset env", "sources:\n  - name: a\n    type: dummy-test\n    url: ${OPSVIEW_TEST_UNSET_VAR}\n", "OPSVIEW_TEST_UNSET_VAR is not set", 4},
		{"bad role", "rules:\n  - match: x\n    role: cause\n", "unknown role", 3},
		{"bad layer", "rules:\n  - match: x\n    layer: kernel\n", "unknown layer", 3},
		{"empty rule", "rules:\n  - match: x\n", "must set role", 2},
		{"bad kind", "rules:\n  - match: x\n    kind: histogram\n", "unknown kind \"histogram\" (known: gauge, rate, ratio, counter)", 3},
		{"bad harm", "rules:\n  - match: x\n    harm: sideways\n", "unknown harm \"sideways\"", 3},
		{"bad bad", "rules:\n  - match: x\n    bad: worse\n", "unknown bad \"worse\"", 3},
		{"harm and bad disagree", "rules:\n  - match: x\n    harm: up\n    bad: down\n", "disagree", 4},
		{"bad glob", "rules:\n  - match: \"[x\"\n    layer: db\n", "bad pattern", 2},
		{"bad dependency", "dependencies:\n  - \"lb app\"\n", "from -> to", 2},
		{"sources not a list", "sources: 3\n", "must be a list", 1},
		{"syntax", "theme: [dark\n", "", 1},
		{"duplicate key", "theme: dark\ntheme: light\n", "", 2},
		{"bad store step", "store:\n  step: 1ms\n", "at least 100ms", 2},
		{"bad max series", "store:\n  max_series: -1\n", "store.max_series must be a positive number", 2},
		{"bad name", "sources:\n  - name: \"a b\"\n    type: dummy-test\n    url: u\n", "source name", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/etc/opsview.yaml", []byte(tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "/etc/opsview.yaml:") {
				t.Errorf("error does not name the file: %q", msg)
			}
			var list Errors
			if !errors.As(err, &list) {
				ce, ok := err.(*Error)
				if !ok {
					t.Fatalf("not a *config.Error: %T %v", err, err)
				}
				list = Errors{ce}
			}
			found := false
			for _, ce := range list {
				found = found || (ce.Line == tc.line && strings.Contains(ce.Msg, tc.want))
			}
			if !found {
				t.Errorf("no mistake on line %d saying %q: %s", tc.line, tc.want, msg)
			}
		})
	}
}

// The source-name pattern, compiled on first use, is the one the loader
// checks names with and the one the schema says.
func TestSourceNamePattern(t *testing.T) {
	for name, ok := range map[string]bool{"web-1": true, "db_2.eu:a": true, "9": true, "-lb": false, "a b": false, "ünï": false, strings.Repeat("a", 64): false} {
		_, err := Parse("t.yaml", []byte("sources:\n  - name: \""+name+"\"\n    type: demo\n"))
		if got := err == nil || !strings.Contains(err.Error(), "source name"); got != ok {
			t.Errorf("name %q: accepted %v (%v), want %v", name, got, err, ok)
		}
	}
	if !strings.Contains(string(Schema()), strings.ReplaceAll(nameRE().String(), `\`, `\\`)) {
		t.Errorf("the schema does not carry the name pattern %s", nameRE())
	}
}
