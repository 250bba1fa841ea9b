package nagios

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/alerting"
)

// Check is one host or service as status.dat tells it. Strings are
// cleaned of escape sequences; a check in an OK state (and not flapping)
// has no output: nobody reads it, and a status.dat of 50,000 OK services
// must not cost their output.
type Check struct {
	Host                 string
	Service              string // "" for a host
	State                int    // services: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; hosts: 0 UP, 1 DOWN, 2 UNREACHABLE
	Hard                 bool   // state_type 1
	Checked              bool   // has_been_checked: a pending check has no state yet
	Attempt, MaxAttempts int
	Output, Long         string
	LastCheck            time.Time
	LastStateChange      time.Time
	Acknowledged         bool
	Downtime             bool // scheduled_downtime_depth > 0
	Flapping             bool
	ProblemID            int64 // current_problem_id: the same through one problem, 0 when OK
}

// Status is what one status.dat says of itself, and how many checks it
// holds.
type Status struct {
	Created      time.Time // when Nagios wrote it (info.created)
	Version      string
	ProgramStart time.Time
	Hosts        int
	Services     int
}

// ErrTorn says status.dat ended inside a block: it was cut while being
// read (a copy in progress, a writer that does not use rename).
var ErrTorn = errors.New("status.dat ends inside a block")

// Bounds on what one status.dat may hold, so that a broken or hostile
// file costs bounded memory.
const (
	maxLine   = 64 << 10 // a longer line is cut here
	maxOutput = 1 << 10  // plugin_output kept
	maxLong   = 4 << 10  // long_plugin_output kept
	maxChecks = 1 << 20  // hosts and services together
)

// ParseStatus reads a Nagios Core 3/4 status.dat: blocks `name {` …
// `}` of `key=value` lines. It calls each with every host and service,
// in the file's order (the Check is reused: copy what you keep), and
// returns what the file says of itself. Only hoststatus, servicestatus,
// info and programstatus are read; other blocks (contacts, comments,
// downtimes) are skipped. The file is streamed: what stays in memory is
// what each keeps.
func ParseStatus(r io.Reader, each func(*Check)) (*Status, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	st := &Status{}
	var block string // "" outside a block
	var raw rawCheck
	hosts := map[string]string{} // host names, cleaned once
	line := make([]byte, 0, 256)
	n := 0
	for {
		var err error
		line, err = readLine(br, line[:0])
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		n++
		t := bytes.TrimSpace(line)
		switch {
		case len(t) == 0 || t[0] == '#':
		case block == "" && bytes.HasSuffix(t, []byte("{")):
			block = string(bytes.TrimSpace(t[:len(t)-1]))
			raw.reset()
		case block == "":
			return nil, fmt.Errorf("line %d: %q outside a block", n, sources.Clean(string(trunc(t, 40))))
		case len(t) == 1 && t[0] == '}':
			if block == "hoststatus" || block == "servicestatus" {
				if st.Hosts+st.Services >= maxChecks {
					return nil, fmt.Errorf("more than %d hosts and services: opsview reads at most that many", maxChecks)
				}
				if c, ok := raw.check(block == "hoststatus", hosts); ok {
					if c.Service == "" {
						st.Hosts++
					} else {
						st.Services++
					}
					if each != nil {
						each(c)
					}
				}
			}
			block = ""
		default:
			k, v, ok := bytes.Cut(t, []byte("="))
			if !ok {
				break // not key=value: Nagios never writes one, skip it
			}
			switch block {
			case "hoststatus", "servicestatus":
				raw.set(k, v)
			case "info":
				switch string(k) {
				case "created":
					st.Created = alerting.Since(atoi(v))
				case "version":
					st.Version = sources.Clean(string(trunc(v, 32)))
				}
			case "programstatus":
				if string(k) == "program_start" {
					st.ProgramStart = alerting.Since(atoi(v))
				}
			}
		}
		if err == io.EOF {
			break
		}
	}
	if block != "" {
		return nil, ErrTorn
	}
	return st, nil
}

// rawCheck is a block being read: the strings stay bytes until the block
// ends, and only a check in trouble has its output made a string.
type rawCheck struct {
	c               Check
	host, svc       []byte
	output, long    []byte
	hasHost, hasSvc bool
}

func (r *rawCheck) reset() {
	r.c = Check{}
	r.host, r.svc, r.output, r.long = r.host[:0], r.svc[:0], r.output[:0], r.long[:0]
	r.hasHost, r.hasSvc = false, false
}

// check is the block's Check; false for a block without its names.
func (r *rawCheck) check(host bool, hosts map[string]string) (*Check, bool) {
	if !r.hasHost || len(r.host) == 0 || !host && (!r.hasSvc || len(r.svc) == 0) {
		return nil, false
	}
	c := &r.c
	h, ok := hosts[string(r.host)]
	if !ok {
		h = sources.Clean(string(r.host))
		hosts[string(r.host)] = h
	}
	c.Host, c.Service = h, ""
	if !host {
		c.Service = sources.Clean(string(r.svc))
	}
	if c.State != 0 || c.Flapping {
		c.Output = sources.Clean(string(r.output))
		c.Long = sources.CleanText(strings.ReplaceAll(string(r.long), `\n`, "\n"))
	}
	return c, true
}

// set reads one key of a host or service block.
func (r *rawCheck) set(k, v []byte) {
	c := &r.c
	switch string(k) {
	case "host_name":
		r.host, r.hasHost = append(r.host[:0], v...), true
	case "service_description":
		r.svc, r.hasSvc = append(r.svc[:0], v...), true
	case "current_state":
		c.State = int(atoi(v))
	case "state_type":
		c.Hard = atoi(v) == 1
	case "has_been_checked":
		c.Checked = atoi(v) == 1
	case "current_attempt":
		c.Attempt = int(atoi(v))
	case "max_attempts":
		c.MaxAttempts = int(atoi(v))
	case "plugin_output":
		r.output = append(r.output[:0], trunc(v, maxOutput)...)
	case "long_plugin_output":
		r.long = append(r.long[:0], trunc(v, maxLong)...)
	case "last_check":
		c.LastCheck = alerting.Since(atoi(v))
	case "last_state_change":
		c.LastStateChange = alerting.Since(atoi(v))
	case "problem_has_been_acknowledged":
		c.Acknowledged = atoi(v) == 1
	case "scheduled_downtime_depth":
		c.Downtime = atoi(v) > 0
	case "is_flapping":
		c.Flapping = atoi(v) == 1
	case "current_problem_id":
		c.ProblemID = atoi(v)
	}
}

// readLine appends one line to buf without its newline; a line longer
// than maxLine is cut there and the rest of it skipped.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf) < maxLine {
			buf = append(buf, trunc(frag, maxLine-len(buf))...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

func trunc(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// atoi reads a decimal integer, ignoring a fraction ("1.000000"); 0 when
// it is not a number. It does not allocate: status.dat has millions.
func atoi(b []byte) int64 {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	var n int64
	for i, c := range b {
		if c == '.' && i > 0 {
			break
		}
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}
