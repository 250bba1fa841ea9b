package ui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// eventsView is the timeline: newest first, severity as symbol and word,
// source, time and title; Enter opens the selected event's text.
type eventsView struct {
	keys *KeyMap
	sel  int  // index into the (filtered, newest first) list
	open bool // showing the selected event's text
}

func newEvents(k *KeyMap) *eventsView { return &eventsView{keys: k} }

func (e *eventsView) Name() string { return "Events" }

func (e *eventsView) Keys() []key.Binding {
	enter := e.keys.Enter
	if e.open {
		enter.SetHelp(e.keys.Back.Help().Key, "close")
	}
	return []key.Binding{e.keys.Up, e.keys.Down, e.keys.PageUp, e.keys.PageDn, enter}
}

// eventList returns the snapshot's events and the findings timeline
// within the window, newest first, filtered.
func eventList(c *Context) []sources.Event {
	if c.Snap == nil {
		return nil
	}
	out := make([]sources.Event, 0, len(c.Snap.Events)+len(c.Changes))
	for _, ev := range c.Snap.Events {
		if matchFilter(c.Filter, ev.Title, ev.Source, ev.Node, string(ev.Layer)) {
			out = append(out, ev)
		}
	}
	for i := range c.Changes {
		ch := &c.Changes[i]
		if ch.Finding.Rule == "event" || ch.At.Before(c.Snap.Start) {
			continue // the engine echoing a source's own event: shown once, as the source's
		}
		if ev := changeEvent(ch); matchFilter(c.Filter, ev.Title, ev.Source, ev.Node, string(ev.Layer)) {
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		// at one instant (times are whole seconds: a flap, a check that
		// recovers within the second) what ends a thing came after what
		// began it; by ID alone "…/up/…" fell below "…/down/…", a recovery
		// before its own DOWN
		if ci, cj := closing(&out[i]), closing(&out[j]); ci != cj {
			return ci
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// closing reports whether ev is the end of something, told at one
// instant: a recovery (UP again), a finding resolved or grouped.
func closing(ev *sources.Event) bool {
	return !ev.Open() && !ev.End.After(ev.Start) && ev.Severity <= sources.SevInfo
}

// changeEvent is a finding's change as a row of the timeline.
func changeEvent(ch *correlate.Change) sources.Event {
	f := &ch.Finding
	ev := sources.Event{ID: "finding/" + string(ch.Kind) + "/" + f.ID, Source: "engine", Start: ch.At,
		Severity: f.Severity, Layer: f.Layer, Node: f.Node, Title: string(ch.Kind) + ": " + f.Title, Text: f.Explanation}
	switch ch.Kind {
	case correlate.ChangeOpened:
		ev.Title = f.Title
	case correlate.ChangeResolved:
		ev.Severity, ev.End = sources.SevOK, ch.At
	case correlate.ChangeGrouped:
		ev.Severity, ev.End, ev.Text = sources.SevInfo, ch.At, "now part of: "+ch.Into
	}
	return ev
}

// changeOf is the engine change an event row was made from (by
// changeEvent), nil for a source's own event.
func changeOf(c *Context, ev *sources.Event) *correlate.Change {
	if ev.Source != "engine" {
		return nil
	}
	for i := range c.Changes {
		ch := &c.Changes[i]
		if ch.At.Equal(ev.Start) && ev.ID == "finding/"+string(ch.Kind)+"/"+ch.Finding.ID {
			return ch
		}
	}
	return nil
}

// changeHead is an engine row's title in w cells: what changed ("resolved:
// …") and the finding's cause (": likely db-1 cpu.iowait", " ← Nagios: …",
// the words after its top suspect's or its alert's label is quoted) stay
// whole; what broke between them is shortened first, as an incident's
// headline is (incidentHead).
func changeHead(ch *correlate.Change, w int) string {
	f := &ch.Finding
	verb := ""
	if ch.Kind != correlate.ChangeOpened {
		verb = string(ch.Kind) + ": "
	}
	title := clean(f.Title)
	inc := correlate.Incident{Headline: verb + title, Broke: verb + title}
	var label string
	if a := f.AlertCause(); a != nil {
		label = a.Label
	} else if s := f.TopSuspect(); s != nil {
		label = s.Label
	}
	if at := strings.LastIndex(title, clean(label)); label != "" && at > 0 {
		// the separator nearest before the label opens the cause
		i, sep, cause := strings.LastIndex(title[:at], ": "), ": ", correlate.CauseSuspect
		if j := strings.LastIndex(title[:at], " ← "); j > i {
			i, sep, cause = j, " ← ", correlate.CauseAlert
		}
		if i > 0 {
			inc.Broke, inc.Why, inc.Cause = verb+title[:i], title[i+len(sep):], cause
		}
	}
	return incidentHead(&inc, w)
}

func (e *eventsView) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	msg, ok := m.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	n := len(eventList(c))
	page := max(c.Height-3, 1)
	k := e.keys
	switch {
	case key.Matches(msg, k.Up):
		e.sel--
	case key.Matches(msg, k.Down):
		e.sel++
	case key.Matches(msg, k.PageUp):
		e.sel -= page
	case key.Matches(msg, k.PageDn):
		e.sel += page
	case key.Matches(msg, k.Top):
		e.sel = 0
	case key.Matches(msg, k.Enter):
		e.open = !e.open && n > 0
	case key.Matches(msg, k.Back) && e.open:
		e.open = false
	default:
		return false, nil
	}
	e.sel = min(max(e.sel, 0), max(n-1, 0))
	return true, nil
}

func (e *eventsView) Render(c *Context) string {
	t := c.Theme
	evs := eventList(c)
	if len(evs) == 0 {
		msg := "  no events in this window"
		if c.Snap == nil {
			msg = "  waiting for data…"
		}
		return box([]string{t.Title.Render(" Events"), "", t.Muted.Render(msg)}, c.Width, c.Height)
	}
	sel := min(max(e.sel, 0), len(evs)-1)
	listH := c.Height - 1
	var detail []string
	if e.open {
		detail = e.detail(c, &evs[sel])
		listH = max(c.Height-1-len(detail), 3)
		detail = detail[:max(min(len(detail), c.Height-1-listH), 0)]
	}
	wide := c.Width >= 120
	timeFmt := "15:04:05"
	if c.Window > 6*60*60*1e9 {
		timeFmt = "Jan 02 15:04"
	}
	head := fmt.Sprintf(" %-11s %-8s %-12s ", "SEVERITY", "TIME", "SOURCE")
	if wide {
		head = fmt.Sprintf(" %-11s %-12s %-16s %-10s %-14s ", "SEVERITY", "TIME", "SOURCE", "LAYER", "NODE")
	}
	lines := []string{t.Title.Render(" Events") + t.Muted.Render(fmt.Sprintf(" %d, newest first", len(evs))), t.Muted.Render(head + "TITLE")}
	rows := max(listH-1, 1)
	off := 0
	if sel >= rows {
		off = sel - rows + 1
	}
	for i := off; i < len(evs) && i < off+rows; i++ {
		ev := &evs[i]
		at := ev.Start.In(c.Loc).Format(timeFmt)
		var row string
		if wide {
			row = fmt.Sprintf(" %s %-12s %-16s %-10s %-14s ", padCells(sevMark(c, ev.Severity), 11), at, trunc(clean(ev.Source), 16), trunc(string(ev.Layer), 10), trunc(clean(ev.Node), 14))
		} else {
			row = fmt.Sprintf(" %s %-8s %-12s ", padCells(sevMark(c, ev.Severity), 11), trunc(at, 8), trunc(clean(ev.Source), 12))
		}
		title := clean(ev.Title)
		if ch := changeOf(c, ev); ch != nil {
			title = changeHead(ch, max(c.Width-ansi.StringWidth(row), 1))
		}
		if mark, note, held := alertMarks(c, ev.Alert); held {
			title = t.Muted.Render(mark + title + note) // someone owns it, or it is meant to be down: dimmed, and said
		} else {
			title = mark + title + note
		}
		if !ev.Open() && ev.End.After(ev.Start) { // a row that is an end says it by its own time
			title += t.Muted.Render(" (ended " + ev.End.In(c.Loc).Format("15:04:05") + ")")
		}
		row += title
		if i == sel {
			row = t.Selected.Render(ansi.Strip(fit(row, c.Width)))
		}
		lines = append(lines, row)
	}
	lines = lines[:min(len(lines), c.Height-len(detail))]
	for len(lines) < c.Height-len(detail) {
		lines = append(lines, "")
	}
	lines = append(lines, detail...)
	return box(lines, c.Width, c.Height)
}

// detail is the selected event's full text under a rule.
func (e *eventsView) detail(c *Context, ev *sources.Event) []string {
	t := c.Theme
	rule := "─"
	if c.ASCII {
		rule = "-"
	}
	out := []string{t.Border.Render(strings.Repeat(rule, c.Width))}
	out = append(out, " "+sevMark(c, ev.Severity)+"  "+t.Title.Render(clean(ev.Title)))
	span := "since " + ev.Start.In(c.Loc).Format("2006-01-02 15:04:05")
	if !ev.Open() {
		span = ev.Start.In(c.Loc).Format("2006-01-02 15:04:05") + " to " + ev.End.In(c.Loc).Format("15:04:05")
	}
	meta := fmt.Sprintf(" %s%ssource %s", span, c.dot(), clean(ev.Source))
	if ev.Node != "" {
		meta += c.dot() + "node " + clean(ev.Node)
	}
	if ev.Layer != "" {
		meta += c.dot() + "layer " + string(ev.Layer)
	}
	out = append(out, t.Muted.Render(meta))
	text := sources.CleanText(ev.Text)
	if strings.TrimSpace(text) == "" {
		text = "(no text)"
	}
	for _, para := range strings.Split(text, "\n") {
		for _, l := range strings.Split(ansi.Wrap(para, max(c.Width-2, 10), ""), "\n") {
			out = append(out, " "+t.Base.Render(l))
		}
	}
	return out
}

// padCells pads a styled string to w cells.
func padCells(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// alertMarks are what a row adds to an alert's title, from its typed
// fields: a mark before it when the check flaps, the words after it that
// say it is acknowledged or in downtime (readable without colour), and
// whether it is held so (the row is then dimmed).
func alertMarks(c *Context, a *sources.Alert) (mark, note string, held bool) {
	if a == nil {
		return "", "", false
	}
	if a.Flapping {
		mark = "⇅ "
		if c.ASCII {
			mark = "~ "
		}
		note = " flapping"
	}
	switch {
	case a.Acknowledged:
		note += " (acknowledged)"
		held = true
	case a.Downtime:
		note += " (in downtime)"
		held = true
	}
	return mark, note, held
}
