package correlate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// AlertAge says how an alert stands against the same time earlier (the
// morning check's --compare 24h).
type AlertAge string

const (
	AlertNew     AlertAge = "new"     // it began since then
	AlertOngoing AlertAge = "ongoing" // it was open then already
	AlertGone    AlertAge = "gone"    // it was open then and is not now
)

// AlertsThen is what is known of the alerts open at an earlier instant.
type AlertsThen struct {
	At time.Time
	// Open are the alerts open at At, as the sources that keep their
	// alert history told them (Nagios from its log), Source set.
	Open []sources.Event
	// Told names the sources whose history reached back to At: their
	// Open is the whole truth. Other sources' alerts are judged by when
	// they began (Alertmanager's startsAt, Icinga's last state change):
	// one that began before At was open then.
	Told map[string]bool
}

// AlertComparison is one alert against the same time earlier.
type AlertComparison struct {
	Age AlertAge
	// Finding is the ID of the finding about the alert (rule alert or
	// alert-gap); a gone alert has none.
	Finding string
	// Alert is the alert now, or, gone, as it was then.
	Alert sources.Event
}

// alertMatch names an alert across its events, whatever they say of its
// start: the same check of the same node from the same source.
func alertMatch(ev *sources.Event) string {
	return ev.Source + "\x00" + ev.Node + "\x00" + ev.Alert.Check
}

// CompareAlerts says of every alert finding whether its alert is new
// since then.At or was open then already, and which alerts open then are
// not now, in the order of fs, the gone ones after, by start.
func CompareAlerts(now *Snapshot, fs []Finding, then AlertsThen) []AlertComparison {
	byKey := map[string]*sources.Event{}
	openNow := map[string]bool{}
	for i := range now.Events {
		ev := &now.Events[i]
		if ev.Kind != sources.EventAlert || ev.Alert == nil {
			continue
		}
		byKey[AlertKey(ev)] = ev
		if ev.Open() {
			openNow[alertMatch(ev)] = true
		}
	}
	openThen := map[string]bool{}
	for i := range then.Open {
		if ev := &then.Open[i]; ev.Alert != nil {
			openThen[alertMatch(ev)] = true
		}
	}
	var out []AlertComparison
	for i := range fs {
		a := fs[i].Alert()
		if a == nil {
			continue
		}
		ev := byKey[a.Event]
		if ev == nil {
			continue
		}
		age := AlertNew
		if openThen[alertMatch(ev)] || !ev.Start.IsZero() && !ev.Start.After(then.At) {
			age = AlertOngoing
		}
		out = append(out, AlertComparison{Age: age, Finding: fs[i].ID, Alert: *ev})
	}
	gone := make([]sources.Event, 0, len(then.Open))
	for _, ev := range then.Open {
		if ev.Alert != nil && then.Told[ev.Source] && !openNow[alertMatch(&ev)] {
			gone = append(gone, ev)
		}
	}
	sort.SliceStable(gone, func(i, j int) bool { return gone[i].Start.Before(gone[j].Start) })
	for _, ev := range gone {
		out = append(out, AlertComparison{Age: AlertGone, Alert: ev})
	}
	return out
}

// AgeWords are an alert's age in a report's words against shift ago:
// "new since 24h ago", "open 24h ago already", "open 24h ago, gone since".
func AgeWords(age AlertAge, shift time.Duration) string {
	switch age {
	case AlertNew:
		return "new since " + shortDur(shift) + " ago"
	case AlertOngoing:
		return "open " + shortDur(shift) + " ago already"
	case AlertGone:
		return "open " + shortDur(shift) + " ago, gone since"
	}
	return ""
}

// AlertCompareFindings are the informational findings of a comparison:
// one per alert gone since, and a count of new, ongoing and gone.
func AlertCompareFindings(cs []AlertComparison, shift time.Duration) []Finding {
	if len(cs) == 0 {
		return nil
	}
	n := map[AlertAge]int{}
	var out []Finding
	for _, c := range cs {
		n[c.Age]++
		if c.Age != AlertGone {
			continue
		}
		ev := c.Alert
		out = append(out, Finding{
			ID: "compare/" + shift.String() + "/alert/" + AlertKey(&ev), Rule: "compare", Severity: sources.SevInfo,
			Title:       alertPhrase(&ev) + " — " + AgeWords(AlertGone, shift),
			Explanation: strings.TrimSpace("Open since " + clock(ev.Start) + " " + ev.Start.UTC().Format("2006-01-02") + " as the history tells it. " + sources.CleanText(ev.Text)),
			Layer:       ev.Layer, Node: ev.Node,
		})
	}
	sum := Finding{
		ID: "compare/" + shift.String() + "/alerts", Rule: "compare", Severity: sources.SevInfo,
		Title: fmt.Sprintf("alerts against %s ago: %d new, %d open then already, %d gone since",
			shortDur(shift), n[AlertNew], n[AlertOngoing], n[AlertGone]),
		Explanation: "An alert open then is known from its system's history where it keeps one (Nagios' log), else from when it began (Alertmanager's startsAt, Icinga's last state change).",
	}
	return append([]Finding{sum}, out...)
}
