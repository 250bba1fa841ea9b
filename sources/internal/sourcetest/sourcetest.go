// Package sourcetest is what the tests of the source packages share: a
// testdata file, a source built from its YAML as the config would build
// it, a poll that fails the test, alert events by check, and a loopback
// TCP server for what no real server sends (hostile answers, silence,
// endless dumps). It is for tests only.
package sourcetest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/config"
	"github.com/opsview/opsview/sources"
)

// Testdata is the file testdata/name of the package under test.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// New builds a source named name from its part of a config in YAML, with
// the factory its package registers, as the config would.
func New[S sources.Source](t testing.TB, f sources.Factory, name, yaml string) S {
	t.Helper()
	opts, err := config.OptionsFromYAML(name+".yaml", yaml)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f(sources.Env{Name: name, Logf: t.Logf}, opts)
	if err != nil {
		t.Fatalf("new source %s: %v", name, err)
	}
	return s.(S)
}

// PollAt polls s once for the present at now, within a minute.
func PollAt(t testing.TB, s sources.Source, now time.Time) (*sources.Batch, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.Poll(ctx, sources.Request{Now: now})
}

// Poll polls s with req and fails the test on an error.
func Poll(t testing.TB, s sources.Source, req sources.Request) *sources.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := s.Poll(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ByCheck are alert events by their check's name (the last of each).
func ByCheck(evs []sources.Event) map[string]sources.Event {
	out := map[string]sources.Event{}
	for _, ev := range evs {
		if ev.Alert != nil {
			out[ev.Alert.Check] = ev
		}
	}
	return out
}

// ServeTCP listens on a loopback port until the test ends and runs
// handle for every connection, closing it after; it returns the address.
// A handler still running when the test ends is left to finish.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
