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
