package nagios

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"

	"github.com/opsview/opsview/sources"
)

// LogKind says what a nagios.log line tells.
type LogKind uint8

const (
	LogAlert    LogKind = iota + 1 // SERVICE ALERT, HOST ALERT: a state change
	LogCurrent                     // CURRENT SERVICE STATE, CURRENT HOST STATE: the state at a log rotation or start
	LogFlapping                    // a FLAPPING ALERT: started (On) or stopped
	LogDowntime                    // a DOWNTIME ALERT: started (On) or stopped, cancelled
)

// LogEntry is one line of nagios.log about a host's or a service's state.
type LogEntry struct {
	At      time.Time
	Kind    LogKind
	Host    string
	Service string // "" for a host
	State   int    // LogAlert, LogCurrent: the numeric state (see Check.State)
	Hard    bool
	Attempt int
	Output  string
	On      bool // LogFlapping, LogDowntime: started
}

// ParseLog reads the lines of a nagios.log about states, flapping and
// downtime; every other line is skipped. Strings are cleaned of escape
// sequences.
func ParseLog(r io.Reader) ([]LogEntry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []LogEntry
	line := make([]byte, 0, 256)
	for {
		var err error
		line, err = readLine(br, line[:0])
		if err != nil && err != io.EOF {
			return nil, err
		}
		if e, ok := parseLogLine(line); ok {
			out = append(out, e)
		}
		if err == io.EOF {
			return out, nil
		}
	}
}

var logKinds = []struct {
	prefix  string
	kind    LogKind
	service bool
}{
	{"SERVICE ALERT: ", LogAlert, true},
	{"HOST ALERT: ", LogAlert, false},
	{"CURRENT SERVICE STATE: ", LogCurrent, true},
	{"CURRENT HOST STATE: ", LogCurrent, false},
	{"SERVICE FLAPPING ALERT: ", LogFlapping, true},
	{"HOST FLAPPING ALERT: ", LogFlapping, false},
	{"SERVICE DOWNTIME ALERT: ", LogDowntime, true},
	{"HOST DOWNTIME ALERT: ", LogDowntime, false},
}

// parseLogLine reads "[1795420957] SERVICE ALERT: web01;http;CRITICAL;HARD;1;output".
func parseLogLine(line []byte) (LogEntry, bool) {
	var e LogEntry
	if len(line) < 3 || line[0] != '[' {
		return e, false
	}
	end := bytes.IndexByte(line, ']')
	if end < 0 {
		return e, false
	}
	sec, err := strconv.ParseInt(string(line[1:end]), 10, 64)
	if err != nil || sec <= 0 {
		return e, false
	}
	rest := bytes.TrimLeft(line[end+1:], " ")
	for _, k := range logKinds {
		if !bytes.HasPrefix(rest, []byte(k.prefix)) {
			continue
		}
		e.At, e.Kind = time.Unix(sec, 0).UTC(), k.kind
		fields := bytes.SplitN(rest[len(k.prefix):], []byte(";"), 6)
		if !k.service {
			fields = append([][]byte{fields[0], nil}, fields[1:]...)
		}
		if len(fields) < 3 {
			return e, false
		}
		e.Host = sources.Clean(string(fields[0]))
		if k.service {
			e.Service = sources.Clean(string(fields[1]))
		}
		word := string(fields[2])
		switch k.kind {
		case LogFlapping, LogDowntime:
			e.On = word == "STARTED"
			return e, e.Host != ""
		}
		state, ok := stateNumber(word, k.service)
		if !ok || len(fields) < 6 {
			return e, false
		}
		e.State, e.Hard = state, string(fields[3]) == "HARD"
		e.Attempt, _ = strconv.Atoi(string(fields[4]))
		e.Output = sources.Clean(string(trunc(fields[5], maxOutput)))
		return e, e.Host != ""
	}
	return e, false
}

func stateNumber(word string, service bool) (int, bool) {
	words := []string{"UP", "DOWN", "UNREACHABLE"}
	if service {
		words = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}
	}
	for i, w := range words {
		if w == word {
			return i, true
		}
	}
	return 0, false
}

// Episode is one problem of one host or service told by the log: from
// the first line that left OK (or UP) to the line that came back, or
// still open at the end of the log.
type Episode struct {
	Host, Service string
	Start, End    time.Time // End zero while open
	State         int       // the last problem state
	Worst         int       // the worst state, by severity
	Hard          bool      // it reached a HARD state
	Attempt       int
	Output        string
	Flapping      bool // flapping at some point of it
	Downtime      bool // in downtime at some point of it
}

// Episodes turns log entries (in the log's order) into problem episodes,
// ordered by start.
func Episodes(es []LogEntry) []Episode {
	type key struct{ host, service string }
	var out []Episode
	open := map[key]int{}      // index into out
	flapping := map[key]bool{} // flapping now
	downtime := map[key]bool{} // in downtime now
	for _, e := range es {
		k := key{e.Host, e.Service}
		i, isOpen := open[k]
		switch e.Kind {
		case LogFlapping:
			flapping[k] = e.On
			if isOpen && e.On {
				out[i].Flapping = true
			}
			continue
		case LogDowntime:
			downtime[k] = e.On
			if isOpen && e.On {
				out[i].Downtime = true
			}
			continue
		}
		if e.State == 0 {
			if isOpen {
				out[i].End = e.At
				delete(open, k)
			}
			continue
		}
		if !isOpen {
			i = len(out)
			out = append(out, Episode{Host: e.Host, Service: e.Service, Start: e.At, Worst: e.State,
				Flapping: flapping[k], Downtime: downtime[k]})
			open[k] = i
		}
		ep := &out[i]
		ep.State, ep.Hard, ep.Attempt, ep.Output = e.State, ep.Hard || e.Hard, e.Attempt, e.Output
		if sevOf(e.State, e.Service != "") > sevOf(ep.Worst, e.Service != "") {
			ep.Worst = e.State
		}
	}
	return out
}
