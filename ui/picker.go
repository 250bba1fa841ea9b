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

// the picker's keys, for the footer and help while it is open: letters
// never act as commands there, they filter (as in fzf and k9s)
var pickerKeys = []key.Binding{
	key.NewBinding(key.WithKeys("/"), key.WithHelp("type", "filter the names (/ too)")),
	key.NewBinding(key.WithKeys("enter", "right"), key.WithHelp("enter", "open/add")),
	key.NewBinding(key.WithKeys("left", "backspace"), key.WithHelp("←", "up a level")),
	key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown"), key.WithHelp("↑/↓", "select")),
	key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter/close")),
}

// browser is what the picker reads the tree with and adds a series by.
type browser struct {
	browse func(ctx context.Context, path string) ([]sources.BrowseNode, error)
	add    func(id string) error
}

type picker struct {
	path    string // "" = the list of sources
	items   []sources.BrowseNode
	filter  string // typed text: only names containing it are listed
	sel     int    // index in shown()
	loading bool
	err     string
	note    string // what the last add did
	// confirm is the series Enter chose, waiting for y before it is added
	// (and polled from then on): a stray key must not add one
	confirm *sources.BrowseNode
}

// shown is the level's items the filter keeps.
func (p *picker) shown() []sources.BrowseNode {
	if p.filter == "" {
		return p.items
	}
	var out []sources.BrowseNode
	for _, it := range p.items {
		if matchFilter(p.filter, it.Text, it.ID) {
			out = append(out, it)
		}
	}
	return out
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

// pickerKey takes every key while the picker is open. Printable keys
// type into the filter; only arrows, Enter, Backspace and Esc move.
func (g *graphsView) pickerKey(msg tea.KeyPressMsg) tea.Cmd {
	p := g.picker
	if p.confirm != nil {
		it := *p.confirm
		p.confirm = nil
		switch msg.String() {
		case "y", "Y", "enter":
			add := g.src.add
			return func() tea.Msg {
				if add == nil {
					return pickerAddedMsg{id: it.ID, err: fmt.Errorf("not supported here")}
				}
				return pickerAddedMsg{id: it.ID, err: add(it.ID)}
			}
		}
		p.note = "not added"
		return nil
	}
	items := p.shown()
	open := func(path string) tea.Cmd {
		p.path, p.loading, p.items, p.filter, p.sel = path, true, nil, "", 0
		return g.browseCmd(p.path)
	}
	switch msg.String() {
	case "esc":
		if p.filter != "" {
			p.filter, p.sel = "", 0
			return nil
		}
		g.picker = nil
	case "up":
		p.sel = max(p.sel-1, 0)
	case "down":
		p.sel = max(min(p.sel+1, len(items)-1), 0)
	case "pgdown":
		p.sel = max(min(p.sel+10, len(items)-1), 0)
	case "pgup":
		p.sel = max(p.sel-10, 0)
	case "backspace":
		if p.filter != "" {
			r := []rune(p.filter)
			p.filter, p.sel = string(r[:len(r)-1]), 0
			return nil
		}
		if p.path != "" {
			return open(parentPath(p.path))
		}
	case "left":
		if p.path != "" {
			return open(parentPath(p.path))
		}
	case "enter", "right":
		if p.sel >= len(items) {
			return nil
		}
		it := items[p.sel]
		if !it.Leaf {
			return open(it.ID)
		}
		p.confirm, p.note = &it, ""
	default:
		// "/" starts the filter as in k9s; any other printable text is
		// typed into it
		if txt := msg.Text; txt != "" && txt != "/" && !strings.ContainsFunc(txt, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			p.filter, p.sel = p.filter+txt, 0
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
	lines := []string{t.Title.Render(" Add a series") + t.Muted.Render("  "+clean(where))}
	items := p.shown()
	if p.filter != "" {
		lines = append(lines, t.Key.Render(" /"+clean(p.filter))+t.Muted.Render(fmt.Sprintf("  %d of %d  (esc clears)", len(items), len(p.items))))
	} else {
		lines = append(lines, t.Muted.Render(" type to filter"+c.dot()+fmt.Sprintf("%d here", len(p.items))))
	}
	switch {
	case p.loading:
		lines = append(lines, t.Muted.Render("  reading…"))
	case p.err != "":
		lines = append(lines, t.Critical.Render("  "+c.Symbols.Critical+" "+p.err))
	case len(p.items) == 0:
		lines = append(lines, t.Muted.Render("  nothing here"))
	case len(items) == 0:
		lines = append(lines, t.Muted.Render("  no name here contains "+clean(p.filter)))
	}
	room := max(c.Height-3, 1)
	first := 0
	if p.sel >= room {
		first = p.sel - room + 1
	}
	for i := first; i < len(items) && i < first+room; i++ {
		it := items[i]
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
	switch {
	case p.confirm != nil:
		lines = append(lines, t.Warning.Render(" add "+clean(p.confirm.ID)+" and poll it from now on?")+t.Key.Render(" y")+t.Muted.Render(" yes, any other key no"))
	case p.note != "":
		lines = append(lines, t.Info.Render(" "+p.note))
	}
	return box(lines, c.Width, c.Height)
}
