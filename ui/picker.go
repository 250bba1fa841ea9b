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

// The series picker, a part of the Graphs view: `a` browses the sources'
// trees of series (Graphite's metric tree, Prometheus' metric names) and
// adds one to what is polled. The tree is read through Options.Browse, in
// a command, never in Update.

var pickerKey = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add a series"))

// the picker's keys, for the footer and help while it is open
var pickerKeys = []key.Binding{
	key.NewBinding(key.WithKeys("enter", "right", "l"), key.WithHelp("enter", "open/add")),
	key.NewBinding(key.WithKeys("left", "backspace", "h"), key.WithHelp("←", "up a level")),
	key.NewBinding(key.WithKeys("up", "k", "down", "j", "pgup", "pgdown"), key.WithHelp("↑/↓", "select")),
	key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "close")),
}

// browser is what the picker reads the tree with and adds a series by.
type browser struct {
	browse func(ctx context.Context, path string) ([]sources.BrowseNode, error)
	add    func(id string) error
}

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
func (g *graphsView) browseCmd(path string) tea.Cmd {
	browse := g.src.browse
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		items, err := browse(ctx, path)
		return pickerItemsMsg{path: path, items: items, err: err}
	}
}

func (g *graphsView) openPicker() tea.Cmd {
	g.picker = &picker{loading: true}
	return g.browseCmd("")
}

// pickerMsg handles the picker's own answers; it reports whether the
// screen changes.
func (g *graphsView) pickerMsg(msg tea.Msg) bool {
	p := g.picker
	if p == nil {
		return false
	}
	switch m := msg.(type) {
	case pickerItemsMsg:
		if m.path != p.path {
			return false // an answer for a level the user already left
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
	return true
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, "./"); i >= 0 {
		return path[:i]
	}
	return ""
}

// pickerKey takes every key while the picker is open.
func (g *graphsView) pickerKey(msg tea.KeyPressMsg) tea.Cmd {
	p := g.picker
	switch msg.String() {
	case "esc", "q":
		g.picker = nil
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
			return g.browseCmd(p.path)
		}
	case "enter", "right", "l":
		if p.sel >= len(p.items) {
			return nil
		}
		it := p.items[p.sel]
		if !it.Leaf {
			p.path, p.loading, p.items = it.ID, true, nil
			return g.browseCmd(p.path)
		}
		add := g.src.add
		return func() tea.Msg {
			if add == nil {
				return pickerAddedMsg{id: it.ID, err: fmt.Errorf("not supported here")}
			}
			return pickerAddedMsg{id: it.ID, err: add(it.ID)}
		}
	}
	return nil
}

func (g *graphsView) renderPicker(c *Context) string {
	t := c.Theme
	p := g.picker
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
	room := max(c.Height-4, 1)
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
	for len(lines) < c.Height-1 {
		lines = append(lines, "")
	}
	lines = lines[:max(c.Height-1, 0)]
	if p.note != "" {
		lines = append(lines, t.Info.Render(" "+p.note))
	}
	return box(lines, c.Width, c.Height)
}
