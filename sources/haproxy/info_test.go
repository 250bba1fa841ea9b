package haproxy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShowInfoCaptures(t *testing.T) {
	cases := []struct {
		file    string
		version string
		pid     int64
		uptime  int64
		start   int64
	}{
		{"haproxy-2.6/show_info.txt", "2.6.12-1+deb12u4", 19420, 17, 1795417641},
		{"haproxy-csv/bkrs_haproxy_2_5_5_show_info.txt", "2.5.5-384c5c5", 8, 54, 0},
	}
	for _, c := range cases {
		in, err := ParseInfo(bytes.NewReader(readTestdata(t, c.file)))
		if err != nil {
			t.Fatal(c.file, err)
		}
		if in.Version != c.version || in.Pid != c.pid || in.UptimeSec != c.uptime || (c.start != 0 && in.StartTimeSec != c.start) {
			t.Errorf("%s: %+v", c.file, in)
		}
	}
}

func TestShowInfoRejectsOtherAnswers(t *testing.T) {
	for _, in := range []string{"", "\n\n", "Permission denied\n\n", "Unknown command, but maybe one of the following ones is a better match:\n  help\n"} {
		if _, err := ParseInfo(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestShowInfoIsBounded(t *testing.T) {
	big := "Name: HAProxy\nPid: 1\n" + strings.Repeat("X: y\n", 300000)
	if _, err := ParseInfo(strings.NewReader(big)); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("want a too-large error, got %v", err)
	}
}

func FuzzParseInfo(f *testing.F) {
	files, _ := filepath.Glob("testdata/haproxy-*/*info*.txt")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Name: HAProxy\nPid: x\nUptime_sec: -5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInfoBytes(b)
		if err != nil {
			return
		}
		if len(in.Fields) == 0 {
			t.Fatal("no fields without an error")
		}
	})
}
