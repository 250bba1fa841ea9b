package haproxy

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Info is a parsed `show info` answer.
type Info struct {
	// Fields holds every `Name: value` line as sent.
	Fields       map[string]string
	Version      string
	Node         string
	Pid          int64
	UptimeSec    int64
	StartTimeSec int64 // 0 before HAProxy 2.4 (not printed)
	CurrConns    float64
	Maxconn      float64
	Idle         float64 // Idle_pct
}

// ParseInfo parses a `show info` answer, at most 1 MiB.
func ParseInfo(r io.Reader) (*Info, error) {
	b, err := readAll(r, 1<<20, "show info")
	if err != nil {
		return nil, err
	}
	return ParseInfoBytes(b)
}

// ParseInfoBytes parses a `show info` answer held in memory.
func ParseInfoBytes(b []byte) (*Info, error) {
	in := &Info{Fields: map[string]string{}}
	s := string(b)
	for pos := 0; pos < len(s); {
		line, next := nextLine(s, pos)
		pos = next
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		i := strings.Index(line, ": ")
		if i <= 0 {
			if strings.HasSuffix(line, ":") { // a field with an empty value
				in.Fields[line[:len(line)-1]] = ""
				continue
			}
			if len(in.Fields) == 0 {
				return nil, fmt.Errorf("not a show info answer (first line %q): check the socket path and its access level", clip(line, 80))
			}
			continue
		}
		in.Fields[line[:i]] = line[i+2:]
	}
	if len(in.Fields) == 0 {
		return nil, errors.New("empty show info answer: is the stats socket answering?")
	}
	in.Version = in.Fields["Version"]
	in.Node = in.Fields["node"]
	in.Pid = atoi(in.Fields["Pid"])
	in.UptimeSec = atoi(in.Fields["Uptime_sec"])
	in.StartTimeSec = atoi(in.Fields["Start_time_sec"])
	in.CurrConns = atof(in.Fields["CurrConns"])
	in.Maxconn = atof(in.Fields["Maxconn"])
	in.Idle = atof(in.Fields["Idle_pct"])
	if in.Fields["Name"] == "" && in.Pid == 0 {
		return nil, fmt.Errorf("not a show info answer (no Name or Pid among %d lines)", len(in.Fields))
	}
	return in, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

func atof(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return v
}
