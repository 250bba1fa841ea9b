package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opsview/opsview/sources"
)

// The series picker: from Graphs, `a` browses the sources' trees of
// series (Graphite's metric tree, Prometheus' metric names) and adds one
// to what is polled. The tree is read through Options.Browse, in a
// command, never in Update.

var pickerKey = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add a series (browse the sources)"))

type picker struct {
	path    string // "" = the list of sources
	items   []sources.BrowseNode
	sel     int
	loading bool
	err     string
	note    string // what the last add did
}

type pickerItemsMsg struct {
	path  string
	items []sources.BrowseNode
	err   error
}

type pickerAddedMsg struct {
	id  string
	err error
}

// browseCmd reads one level of the tree.
func (a *App) browseCmd(path string) tea.Cmd {
	browse := a.opt.Browse
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		items, err := browse(ctx, path)
		return pickerItemsMsg{path: path, items: items, err: err}
	}
}

func (a *App) openPicker() tea.Cmd {
	a.picker = &picker{loading: true}
	return a.browseCmd("")
}

// pickerMsg handles the picker's own messages.
func (a *App) pickerMsg(msg tea.Msg) {
	p := a.picker
	if p == nil {
		return
	}
	switch m := msg.(type) {
	case pickerItemsMsg:
		if m.path != p.path {
			return // an answer for a level the user already left
		}
		p.loading = false
		p.items, p.sel, p.err = m.items, 0, ""
		if m.err != nil {
			p.err = clean(m.err.Error())
		}
	case pickerAddedMsg:
		if m.err != nil {
			p.note = "could not add " + clean(m.id) + ": " + clean(m.err.Error())
		} else {
			p.note = "added " + clean(m.id) + "; it appears after the next poll"
		}
	}
	a.dirty = true
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, "./"); i >= 0 {
		return path[:i]
	}
	return ""
}

func (a *App) pickerKey(msg tea.KeyPressMsg) tea.Cmd {
	p := a.picker
	a.dirty = true
	switch msg.String() {
	case "esc", "q":
		a.picker = nil
	case "up", "k":
		if p.sel > 0 {
			p.sel--
		}
	case "down", "j":
		if p.sel < len(p.items)-1 {
			p.sel++
		}
	case "pgdown":
		p.sel = min(p.sel+10, max(len(p.items)-1, 0))
	case "pgup":
		p.sel = max(p.sel-10, 0)
	case "left", "backspace", "h":
		if p.path != "" {
			p.path, p.loading, p.items = parentPath(p.path), true, nil
			return a.browseCmd(p.path)
		}
	case "enter", "right", "l":
		if p.sel >= len(p.items) {
			return nil
		}
		it := p.items[p.sel]
		if !it.Leaf {
			p.path, p.loading, p.items = it.ID, true, nil
			return a.browseCmd(p.path)
		}
		add := a.opt.AddSeries
		return func() tea.Msg {
			if add == nil {
				return pickerAddedMsg{id: it.ID, err: fmt.Errorf("not supported here")}
			}
			return pickerAddedMsg{id: it.ID, err: add(it.ID)}
		}
	}
	return nil
}

func (a *App) renderPicker(c *Context) string {
	t := c.Theme
	p := a.picker
	where := p.path
	if where == "" {
		where = "sources"
	}
	lines := []string{t.Title.Render(" Add a series") + t.Muted.Render("  "+clean(where)), ""}
	switch {
	case p.loading:
		lines = append(lines, t.Muted.Render("  reading…"))
	case p.err != "":
		lines = append(lines, t.Critical.Render("  "+c.Symbols.Critical+" "+p.err))
	case len(p.items) == 0:
		lines = append(lines, t.Muted.Render("  nothing here"))
	}
	room := max(c.Height-5, 1)
	first := 0
	if p.sel >= room {
		first = p.sel - room + 1
	}
	for i := first; i < len(p.items) && i < first+room; i++ {
		it := p.items[i]
		mark := "  "
		if !it.Leaf {
			mark = "▸ "
			if c.ASCII {
				mark = "> "
			}
		}
		line := " " + mark + clean(it.Text)
		if i == p.sel {
			line = t.Selected.Render(fit(line, c.Width))
		}
		lines = append(lines, line)
	}
	for len(lines) < c.Height-2 {
		lines = append(lines, "")
	}
	lines = lines[:max(c.Height-2, 0)]
	if p.note != "" {
		lines = append(lines, t.Info.Render(" "+p.note))
	} else {
		lines = append(lines, "")
	}
	lines = append(lines, t.Muted.Render(" enter open/add  ← up  esc close"))
	return box(lines, c.Width, c.Height)
}
