package config

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsview/opsview/sources"
)

// redactOpts takes every shape of secret a real source takes.
type redactOpts struct {
	URL         string            `yaml:"url"`
	Token       string            `yaml:"token"`
	BearerToken string            `yaml:"bearer_token"`
	TokenFile   string            `yaml:"token_file"`
	Headers     map[string]string `yaml:"headers"`
	Every       time.Duration     `yaml:"every"`
	Instances   []struct {
		Name     string `yaml:"name"`
		URL      string `yaml:"url"`
		Username string `yaml:"username"`
		Password string `yaml:"password"`
	} `yaml:"instances"`
	Auth struct {
		User     string `yaml:"user"`
		Password string `yaml:"password"`
	} `yaml:"auth"`
}

func init() {
	sources.Register(sources.Kind{Type: "secret-test", Summary: "test", New: func(env sources.Env, o sources.Options) (sources.Source, error) {
		var d redactOpts
		if err := o.Decode(&d); err != nil {
			return nil, err
		}
		if d.URL != "" {
			// as sources/internal/httpfetch says it
			if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, fmt.Errorf("url %q: scheme must be http or https", d.URL)
			}
		}
		if d.Token == "bad" {
			return nil, o.Errorf("token %q is not accepted", d.Auth.Password)
		}
		return sources.PollFunc(func(context.Context, sources.Request) (*sources.Batch, error) { return &sources.Batch{}, nil }), nil
	}})
}

func TestEnvSecretThatFailsValidationIsNamedNotPrinted(t *testing.T) {
	const secret = `hunter2-"s3cr3t"/é@x`
	t.Setenv("OPSVIEW_TEST_SECRET", secret)
	src := "sources:\n  - name: a\n    type: secret-test\n"
	for _, tc := range []struct{ name, text string }{
		{"a duration of the scheduler", src + "    interval: ${OPSVIEW_TEST_SECRET}\n"},
		{"a duration in the source's options", src + "    every: ${OPSVIEW_TEST_SECRET}\n"},
		{"a url the source refuses", src + "    url: ${OPSVIEW_TEST_SECRET}\n"},
		{"a url with the secret inside", src + "    url: ftp://admin:${OPSVIEW_TEST_SECRET}@lb-1/\n"},
		{"a message of the source's own", src + "    token: bad\n    auth: {password: \"${OPSVIEW_TEST_SECRET}\"}\n"},
		{"a name", "sources:\n  - name: ${OPSVIEW_TEST_SECRET}\n    type: secret-test\n"},
		{"a type", "sources:\n  - name: a\n    type: ${OPSVIEW_TEST_SECRET}\n"},
		{"a theme of the wrong kind", "store: {step: \"${OPSVIEW_TEST_SECRET}\"}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.text))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, leak := range []string{secret, "hunter2", fmt.Sprintf("%q", secret), url.PathEscape(secret), url.QueryEscape(secret)} {
				if strings.Contains(msg, leak) {
					t.Fatalf("the error prints the value of ${OPSVIEW_TEST_SECRET} (%q): %s", leak, msg)
				}
			}
			if !strings.Contains(msg, "OPSVIEW_TEST_SECRET") {
				t.Errorf("the error does not name the variable: %s", msg)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("not a *config.Error with its line: %T", err)
			}
		})
	}
}

func TestShortEnvValuesDoNotGarbleMessages(t *testing.T) {
	t.Setenv("OPSVIEW_TEST_N", "1")
	_, err := Parse("c.yaml", []byte("store: {step: 50ms, retention: \"${OPSVIEW_TEST_N}h\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "store.step must be at least 100ms") {
		t.Fatalf("got %v", err)
	}
}

// one literal secret per style; each must be gone from Redacted, and what
// is not secret must stay
func TestLiteralSecretsAreRedactedInEveryYAMLStyle(t *testing.T) {
	src := "sources:\n  - name: lb\n    type: secret-test\n"
	for _, tc := range []struct{ name, text, keep string }{
		{"block", src + "    auth:\n      user: admin\n      password: s3cr3t-block\n", "admin"},
		{"double quoted", src + "    auth:\n      password: \"s3cr3t-dq\"\n", "auth"},
		{"single quoted", src + "    auth:\n      password: 's3cr3t-sq'\n", "auth"},
		{"block scalar", src + "    token: |\n      s3cr3t-literal\n", "token"},
		{"folded scalar", src + "    bearer_token: >-\n      s3cr3t-folded\n", "bearer_token"},
		{"flow item", src + "    instances:\n      - {name: lb-2, password: s3cr3t-flow}\n      - {name: lb-3, password: \"s3cr3t-flow2\"}\n", "lb-3"},
		{"whole source in flow", "sources: [{name: lb, type: secret-test, token: s3cr3t-inline, instances: [{name: lb-2, password: s3cr3t-inline2}]}]\n", "lb-2"},
		{"headers flow map", src + "    headers: {Authorization: Bearer s3cr3t-hdr, X-Api-Key: s3cr3t-key}\n", "X-Api-Key"},
		{"headers block map", src + "    headers:\n      X-Scope-OrgID: s3cr3t-org\n      Cookie: \"session=s3cr3t-cookie\"\n", "X-Scope-OrgID"},
		{"url user info", src + "    url: http://admin:s3cr3t-url@lb-1:8404/stats\n", "lb-1:8404/stats"},
		{"url user info in flow", src + "    instances: [{name: lb-2, url: \"https://stats:s3cr3t-flowurl@lb-2/\"}]\n", "lb-2/"},
		{"url token as user", src + "    url: https://s3cr3t-tokuser@graphite.internal/\n", "graphite.internal"},
		{"url query token", src + "    url: http://graphite/render?target=x&api_key=s3cr3t-query\n", "target=x"},
		{"anchor under another key", src + "    instances:\n      - {name: &pw s3cr3t-anchor, password: *pw}\n", "instances"},
		{"comment", src + "    # password: s3cr3t-comment\n    token_file: /etc/opsview/token\n", "/etc/opsview/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			red := c.Redacted()
			if strings.Contains(red, "s3cr3t") {
				t.Fatalf("a secret is left in the redacted config:\n%s", red)
			}
			if !strings.Contains(red, tc.keep) {
				t.Errorf("%q is no secret but was removed:\n%s", tc.keep, red)
			}
			if !strings.Contains(tc.name, "comment") && !strings.Contains(red, redactedValue) {
				t.Errorf("no %s marker:\n%s", redactedValue, red)
			}
		})
	}
}

func TestRedactedKeepsEnvReferencesAsWritten(t *testing.T) {
	t.Setenv("OPSVIEW_TEST_PASS", "s3cr3t-env")
	t.Setenv("OPSVIEW_TEST_HOST", "lb-9")
	c, err := Parse("c.yaml", []byte("sources:\n  - name: lb\n    type: secret-test\n"+
		"    url: http://admin:${OPSVIEW_TEST_PASS}@${OPSVIEW_TEST_HOST}/\n"+
		"    headers: {Authorization: \"${OPSVIEW_TEST_PASS}\"}\n"+
		"    instances: [{name: a, password: \"${OPSVIEW_TEST_PASS:-s3cr3t-default}\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	red := c.Redacted()
	if strings.Contains(red, "s3cr3t") || strings.Contains(red, "lb-9") {
		t.Fatalf("an expanded or default value is in the redacted config:\n%s", red)
	}
	for _, want := range []string{"admin:${OPSVIEW_TEST_PASS}@${OPSVIEW_TEST_HOST}", "Authorization: \"${OPSVIEW_TEST_PASS}\""} {
		if !strings.Contains(red, want) {
			t.Errorf("redacted config lacks %q:\n%s", want, red)
		}
	}
	// and the configured source got the values
	var d redactOpts
	if err := c.Sources[0].Options.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.URL != "http://admin:s3cr3t-env@lb-9/" || d.Headers["Authorization"] != "s3cr3t-env" {
		t.Fatalf("options %+v", d)
	}
}
