package icinga2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/internal/alerting"
	"github.com/opsview/opsview/sources/internal/httpfetch"
)

// StreamEvent is one event of Icinga's event stream (POST /v1/events):
// a check result or a state change of a host or a service, strings
// cleaned of escape sequences.
type StreamEvent struct {
	Type          string // "CheckResult" or "StateChange"
	Host, Service string // Service "" for a host
	// State is as Object.State: a service's 0..3, a host's 0 UP, 1 DOWN,
	// 2 UNREACHABLE.
	State        int
	Hard         bool
	Attempt      int
	Output, Long string
	At           time.Time
	Acknowledged bool
	Downtime     bool
}

// MaxStreamLine bounds one event of the stream: Icinga writes one JSON
// object per line, a few KB with the check's output.
const MaxStreamLine = 1 << 20

type wireEvent struct {
	Type            string   `json:"type"`
	Host            string   `json:"host"`
	Service         string   `json:"service"`
	State           *float64 `json:"state"`
	StateType       *float64 `json:"state_type"`
	Timestamp       float64  `json:"timestamp"`
	Acknowledgement bool     `json:"acknowledgement"`
	DowntimeDepth   float64  `json:"downtime_depth"`
	CheckResult     *struct {
		Output    string `json:"output"`
		VarsAfter *struct {
			Attempt   float64 `json:"attempt"`
			Reachable *bool   `json:"reachable"`
			State     float64 `json:"state"`
			StateType float64 `json:"state_type"`
		} `json:"vars_after"`
	} `json:"check_result"`
}

// ParseStreamEvent reads one line of the event stream.
func ParseStreamEvent(line []byte) (StreamEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(line, &w); err != nil {
		return StreamEvent{}, fmt.Errorf("not an event of Icinga's stream: %v", err)
	}
	if w.Type != "CheckResult" && w.Type != "StateChange" {
		return StreamEvent{}, fmt.Errorf("an event of type %q, not asked for", sources.Clean(clip(w.Type, 40)))
	}
	e := StreamEvent{Type: w.Type, Host: sources.Clean(w.Host), Service: sources.Clean(w.Service),
		Acknowledged: w.Acknowledgement, Downtime: w.DowntimeDepth > 0}
	if e.Host == "" {
		return StreamEvent{}, errors.New("an event without a host")
	}
	if !(w.Timestamp > 0 && w.Timestamp < 1<<40) {
		return StreamEvent{}, fmt.Errorf("timestamp %v", w.Timestamp)
	}
	sec, frac := math.Modf(w.Timestamp)
	e.At = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	state, stateType, reachable := w.State, w.StateType, true
	if cr := w.CheckResult; cr != nil {
		e.Output, e.Long, _ = strings.Cut(cr.Output, "\n")
		e.Output, e.Long = sources.Clean(e.Output), sources.CleanText(e.Long)
		if va := cr.VarsAfter; va != nil {
			if state == nil {
				state, stateType = &va.State, &va.StateType
			}
			e.Attempt = int(math.Min(math.Max(va.Attempt, 0), 1000))
			if va.Reachable != nil {
				reachable = *va.Reachable
			}
		}
	}
	if state == nil {
		return StreamEvent{}, errors.New("an event without a state")
	}
	max := 3.0
	if e.Service == "" {
		max = 1
	}
	if *state < 0 || *state > max || *state != math.Trunc(*state) {
		return StreamEvent{}, fmt.Errorf("state %v", *state)
	}
	e.State = int(*state)
	if e.Service == "" && e.State == 1 && !reachable {
		e.State = 2 // as Object: DOWN and not reachable
	}
	e.Hard = stateType != nil && *stateType == 1
	return e, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// streamRetry is how long the stream waits before it connects again
// after a failure; streamRefusedRetry after Icinga refused it (no
// permission): the source polls meanwhile.
var (
	streamRetry        = 15 * time.Second
	streamRefusedRetry = 10 * time.Minute
)

// stream follows Icinga's event stream until ctx ends: every state
// change moves the problems at once, so a problem that begins and ends
// between two polls is still told, from its exact start to its exact
// end. Where Icinga refuses it (an ApiUser without events/StateChange
// and events/CheckResult) or it breaks, the source goes on polling and
// the stream tries again later.
func (s *Source) stream(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.follow(ctx)
		wait := streamRetry
		var refused *refusedError
		if errors.As(err, &refused) {
			wait = streamRefusedRetry
		}
		s.mu.Lock()
		s.streaming = false
		if err != nil && ctx.Err() == nil {
			s.streamErr = err.Error()
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

type refusedError struct{ status int }

func (e *refusedError) Error() string {
	return fmt.Sprintf("event stream refused (HTTP %d): give the ApiUser permissions events/StateChange and events/CheckResult; polling only", e.status)
}

// follow is one connection to the stream, until it breaks.
func (s *Source) follow(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.events, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Open(req, "application/json")
	if err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404:
		// Icinga says 404 for a path the user may not use
		return &refusedError{status: resp.StatusCode}
	case resp.StatusCode != 200:
		body, _ := httpfetch.ReadLimited(resp.Body, 4<<10)
		return fmt.Errorf("event stream: HTTP %d: %s", resp.StatusCode, httpfetch.Snippet(body, 120))
	}
	s.mu.Lock()
	s.streaming, s.streamErr = true, ""
	s.mu.Unlock()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := readStreamLine(br)
		if err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := ParseStreamEvent(line)
		if err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		s.take(&e)
	}
}

// readStreamLine reads one line of at most MaxStreamLine bytes.
func readStreamLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > MaxStreamLine {
			return nil, fmt.Errorf("an event longer than %d bytes: not Icinga's stream", MaxStreamLine)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		return line, nil
	}
}

// take moves the problems by one event of the stream. A state change
// opens or closes a problem at its exact time; a check result only
// updates a problem already followed (its output, SOFT to HARD), as it
// says nothing of when the state began. A problem told by the stream
// to be OK while Icinga said it flaps is left to the next poll, which
// knows about flapping; one that closes waits for the poll in pending.
func (s *Source) take(e *StreamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := alerting.Key{Host: e.Host, Service: e.Service}
	last, followed := s.problems.Open(k)
	if e.Type == "CheckResult" && (!followed || e.State == 0) {
		return
	}
	if e.State == 0 && followed && last.Alert != nil && last.Alert.Flapping {
		return
	}
	o := Object{Host: e.Host, Service: e.Service, State: e.State, Hard: e.Hard, Checked: true, Output: e.Output, Long: e.Long,
		LastCheck: e.At, Acknowledged: e.Acknowledged, Downtime: e.Downtime, Attempt: e.Attempt}
	if e.Type == "StateChange" {
		o.LastStateChange = e.At
	}
	r := s.reading(&o)
	if followed && last.Alert != nil {
		r.Flapping, r.MaxAttempts = last.Alert.Flapping, 0
	}
	s.told[k] = e.At
	for _, ev := range s.problems.Follow(r, e.At, nil) {
		if !ev.Open() {
			s.pending = append(s.pending, ev)
		}
	}
	s.streamed++
}

// eventsURL is the stream's endpoint on Icinga's API at u, with a queue
// of this source's own.
func eventsURL(u *url.URL, name string) string {
	e := *u
	e.Path = strings.TrimSuffix(e.Path, "/") + "/v1/events"
	var id [6]byte
	rand.Read(id[:])
	q := url.Values{}
	q.Set("queue", "opsview-"+name+"-"+hex.EncodeToString(id[:]))
	q.Add("types", "StateChange")
	q.Add("types", "CheckResult")
	e.RawQuery = q.Encode()
	return e.String()
}
