package ui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
)

// KeyMap is the one keymap of the app: global keys and the keys of the
// built-in views. Help (`?`) and the footer are generated from it, and the
// config may remap any action by its name (see Actions).
type KeyMap struct {
	Help     key.Binding
	Quit     key.Binding
	Pause    key.Binding
	ZoomIn   key.Binding
	ZoomOut  key.Binding
	Filter   key.Binding
	NextView key.Binding
	PrevView key.Binding
	Views    key.Binding // 1-9
	Back     key.Binding
	Left     key.Binding
	Right    key.Binding
	Live     key.Binding

	// keys of the built-in views
	Up     key.Binding
	Down   key.Binding
	PageUp key.Binding
	PageDn key.Binding
	Top    key.Binding
	Enter  key.Binding
	Zoom   key.Binding // one chart on the whole view
}

// DefaultKeyMap is the keymap without overrides.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Help:     b("?", "help", "?"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Pause:    b("p", "pause", "p"),
		ZoomIn:   b("[", "zoom in", "["),
		ZoomOut:  b("]", "zoom out", "]"),
		Filter:   b("/", "filter", "/"),
		NextView: b("tab", "next view", "tab"),
		PrevView: b("shift+tab", "prev view", "shift+tab"),
		Views:    b("1-9", "view", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		Back:     b("esc", "back", "esc"),
		Left:     b("←", "cursor back", "left", "h"),
		Right:    b("→", "cursor fwd", "right", "l"),
		Live:     b("end/L", "live", "end", "L"),
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup"),
		PageDn:   b("pgdn", "page down", "pgdown", "pgdn", " "),
		Top:      b("g", "top", "g", "home"),
		Enter:    b("enter", "details", "enter"),
		Zoom:     b("z", "one chart", "z"),
	}
}

// actions names every binding for KeyOverrides.
func (k *KeyMap) actions() map[string]*key.Binding {
	return map[string]*key.Binding{
		"help": &k.Help, "quit": &k.Quit, "pause": &k.Pause,
		"zoom-in": &k.ZoomIn, "zoom-out": &k.ZoomOut, "filter": &k.Filter,
		"next-view": &k.NextView, "prev-view": &k.PrevView, "views": &k.Views,
		"back": &k.Back, "left": &k.Left, "right": &k.Right, "live": &k.Live,
		"up": &k.Up, "down": &k.Down, "page-up": &k.PageUp, "page-down": &k.PageDn,
		"top": &k.Top, "enter": &k.Enter, "zoom-chart": &k.Zoom,
	}
}

// Actions lists the action names KeyOverrides accepts.
func Actions() []string {
	k := DefaultKeyMap()
	var out []string
	for n := range k.actions() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Override remaps actions to other keys. An unknown action is an error
// naming the known ones; the others are still applied.
func (k *KeyMap) Override(over map[string][]string) error {
	acts := k.actions()
	var bad []string
	names := make([]string, 0, len(over))
	for n := range over {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		keys := over[n]
		b, ok := acts[strings.ToLower(n)]
		if !ok {
			bad = append(bad, n)
			continue
		}
		if len(keys) == 0 {
			continue
		}
		b.SetKeys(keys...)
		b.SetHelp(strings.Join(keys, "/"), b.Help().Desc)
	}
	if len(bad) > 0 {
		return fmt.Errorf("key overrides: unknown action %s (known: %s)", strings.Join(bad, ", "), strings.Join(Actions(), ", "))
	}
	return nil
}

// Global lists the global keys in help order.
func (k *KeyMap) Global() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Pause, k.ZoomIn, k.ZoomOut, k.Filter,
		k.NextView, k.PrevView, k.Views, k.Left, k.Right, k.Live, k.Back}
}

// footerGlobal is the short list of global keys the footer shows after the
// view's own keys.
func (k *KeyMap) footerGlobal() []key.Binding {
	return []key.Binding{k.Quit, k.Pause, k.ZoomIn, k.ZoomOut, k.Filter, k.NextView}
}

// asciiHelp names the arrow keys in words for --ascii terminals.
func (k *KeyMap) asciiHelp() {
	k.Left.SetHelp("left/h", k.Left.Help().Desc)
	k.Right.SetHelp("right/l", k.Right.Help().Desc)
	k.Up.SetHelp("up/k", k.Up.Help().Desc)
	k.Down.SetHelp("down/j", k.Down.Help().Desc)
}
