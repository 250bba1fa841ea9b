package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opsview/opsview/sources"
)

// Alert is one alert of Alertmanager's API v2 (GET /api/v2/alerts), its
// strings cleaned of escape sequences.
type Alert struct {
	Fingerprint  string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	UpdatedAt    time.Time
	State        string // active, suppressed, unprocessed
	Silenced     bool   // silenced by at least one silence
	Inhibited    bool   // inhibited by at least one other alert
	GeneratorURL string
}

// maxAlerts bounds the alerts one answer may list.
const maxAlerts = 100000

type wireAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	UpdatedAt    string            `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// ParseAlerts reads the answer of GET /api/v2/alerts: a JSON list of
// alerts. Anything else (an HTML page, an API v1 envelope, an error
// object) is an error that says what came instead.
func ParseAlerts(body []byte) ([]Alert, error) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return nil, errors.New("empty answer")
	}
	if t[0] != '[' {
		var v1 struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if t[0] == '{' && json.Unmarshal(t, &v1) == nil && v1.Status != "" {
			if v1.Error != "" {
				return nil, fmt.Errorf("Alertmanager said %s: %s", sources.Clean(v1.Status), sources.Clean(trunc(v1.Error, 200)))
			}
			return nil, errors.New("an API v1 answer (status/data): opsview reads API v2, Alertmanager 0.16 or later")
		}
		return nil, errors.New("not a JSON list of alerts")
	}
	var wire []wireAlert
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(&wire); err != nil {
		return nil, fmt.Errorf("not a JSON list of alerts: %v", err)
	}
	if len(wire) > maxAlerts {
		return nil, fmt.Errorf("%d alerts: opsview reads at most %d (narrow it with filter)", len(wire), maxAlerts)
	}
	out := make([]Alert, 0, len(wire))
	for i := range wire {
		w := &wire[i]
		a := Alert{
			Fingerprint:  sources.Clean(w.Fingerprint),
			Labels:       cleanMap(w.Labels, sources.Clean),
			Annotations:  cleanMap(w.Annotations, sources.CleanText),
			StartsAt:     parseTime(w.StartsAt),
			EndsAt:       parseTime(w.EndsAt),
			UpdatedAt:    parseTime(w.UpdatedAt),
			State:        sources.Clean(w.Status.State),
			Silenced:     len(w.Status.SilencedBy) > 0,
			Inhibited:    len(w.Status.InhibitedBy) > 0,
			GeneratorURL: sources.Clean(w.GeneratorURL),
		}
		if a.Fingerprint == "" {
			a.Fingerprint = sources.SeriesID("", a.Labels) // Alertmanager always sends one; a fake may not
		}
		out = append(out, a)
	}
	return out, nil
}

// cleanMap cleans keys and values (annotations keep their newlines:
// clean is CleanText for them).
func cleanMap(m map[string]string, clean func(string) string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[sources.Clean(k)] = clean(trunc(v, 4<<10))
	}
	return out
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1971 {
		return time.Time{} // Alertmanager sends 0001-01-01 for "not set"
	}
	return t.UTC()
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
