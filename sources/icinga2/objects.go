package icinga2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// Object is one host or service of Icinga 2's API (GET
// /v1/objects/hosts, /v1/objects/services), strings cleaned of escape
// sequences.
type Object struct {
	Host    string
	Service string // "" for a host
	Display string // display_name
	// State is services' 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; hosts'
	// 0 UP, 1 DOWN (2 UNREACHABLE when DOWN and not reachable: Icinga
	// keeps reachability apart).
	State                int
	Hard                 bool
	Checked              bool // it has a check result
	Output, Long         string
	LastCheck            time.Time
	LastStateChange      time.Time
	Acknowledged         bool
	Downtime             bool
	Flapping             bool
	Attempt, MaxAttempts int
}

// Attrs are the attributes opsview asks for: the answer stays small.
var Attrs = []string{"name", "display_name", "host_name", "state", "state_type", "last_check_result", "acknowledgement",
	"downtime_depth", "flapping", "last_state_change", "last_check", "check_attempt", "max_check_attempts", "last_reachable"}

// maxObjects bounds one answer.
const maxObjects = 1 << 20

type wireResults struct {
	Results *[]wireObject `json:"results"`
	Error   json.Number   `json:"error"`
	Status  string        `json:"status"`
}

type wireObject struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Attrs struct {
		Name             string  `json:"name"`
		DisplayName      string  `json:"display_name"`
		HostName         string  `json:"host_name"`
		State            float64 `json:"state"`
		StateType        float64 `json:"state_type"`
		LastCheckResult  *wireCR `json:"last_check_result"`
		Acknowledgement  float64 `json:"acknowledgement"`
		DowntimeDepth    float64 `json:"downtime_depth"`
		Flapping         bool    `json:"flapping"`
		LastStateChange  float64 `json:"last_state_change"`
		LastCheck        float64 `json:"last_check"`
		CheckAttempt     float64 `json:"check_attempt"`
		MaxCheckAttempts float64 `json:"max_check_attempts"`
		LastReachable    *bool   `json:"last_reachable"`
	} `json:"attrs"`
}

type wireCR struct {
	Output string `json:"output"`
}

// ErrNoObjects is Icinga's 404 answer "No objects found.": nothing
// matches (no hosts yet, or a filter that matches none), not a failure.
var ErrNoObjects = errors.New("no objects found")

// ParseObjects reads an answer of /v1/objects/hosts or /services. An
// error object ({"error":401,"status":"…"}) is an error carrying
// Icinga's words; "No objects found." is ErrNoObjects.
func ParseObjects(body []byte) ([]Object, error) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object of results")
	}
	var w wireResults
	if err := json.Unmarshal(t, &w); err != nil {
		return nil, fmt.Errorf("not Icinga's JSON: %v", err)
	}
	if w.Results == nil {
		if w.Error != "" {
			if w.Error == "404" && strings.HasPrefix(w.Status, "No objects found") {
				return nil, ErrNoObjects
			}
			return nil, fmt.Errorf("Icinga said %s: %s", w.Error, sources.Clean(trunc(w.Status, 200)))
		}
		return nil, errors.New("no results in the answer")
	}
	rs := *w.Results
	if len(rs) > maxObjects {
		return nil, fmt.Errorf("%d objects: opsview reads at most %d (narrow it with host_filter or service_filter)", len(rs), maxObjects)
	}
	out := make([]Object, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		a := &r.Attrs
		o := Object{
			Display: sources.Clean(a.DisplayName), State: num(a.State), Hard: num(a.StateType) == 1,
			Acknowledged: num(a.Acknowledgement) > 0, Downtime: num(a.DowntimeDepth) > 0, Flapping: a.Flapping,
			LastCheck: since(a.LastCheck), LastStateChange: since(a.LastStateChange),
			Attempt: num(a.CheckAttempt), MaxAttempts: num(a.MaxCheckAttempts),
		}
		switch r.Type {
		case "Host":
			o.Host = sources.Clean(firstOf(a.Name, r.Name))
			if o.State == 1 && a.LastReachable != nil && !*a.LastReachable {
				o.State = 2
			}
		case "Service":
			o.Host, o.Service = sources.Clean(a.HostName), sources.Clean(a.Name)
			if o.Host == "" || o.Service == "" { // the object name is host!service
				h, s, _ := strings.Cut(r.Name, "!")
				o.Host, o.Service = sources.Clean(h), sources.Clean(s)
			}
		default:
			continue
		}
		if o.Host == "" || r.Type == "Service" && o.Service == "" {
			continue
		}
		if cr := a.LastCheckResult; cr != nil {
			o.Checked = true
			first, rest, _ := strings.Cut(trunc(cr.Output, 8<<10), "\n")
			o.Output, o.Long = sources.Clean(first), sources.CleanText(rest)
		}
		out = append(out, o)
	}
	return out, nil
}

func num(f float64) int {
	if math.IsNaN(f) || f < -1e9 || f > 1e9 {
		return 0
	}
	return int(f)
}

func since(sec float64) time.Time {
	if sec <= 0 || sec > 1e11 || math.IsNaN(sec) {
		return time.Time{}
	}
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9)).UTC()
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
