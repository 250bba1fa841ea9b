// Package themes holds opsview's colours and symbols: dark (default),
// light, high-contrast and mono. Views take every style from a Theme and
// never pick a colour themselves. Status is always carried by a symbol and
// a word too, so mono stays readable.
package themes

import (
	"fmt"
	"image/color"
	"os"
	"sort"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
)

// Theme is the one style table of the UI.
type Theme struct {
	Name string
	Mono bool // no colour at all: NO_COLOR, --no-color or the mono theme

	Base     lipgloss.Style // ordinary text
	Muted    lipgloss.Style // labels, axes, secondary text
	Faint    lipgloss.Style // baselines, grid
	Title    lipgloss.Style // view and panel titles
	Header   lipgloss.Style // the top bar
	TabOn    lipgloss.Style
	TabOff   lipgloss.Style
	Selected lipgloss.Style // the selected row
	Border   lipgloss.Style // panel borders
	Key      lipgloss.Style // key names in help
	Cursor   lipgloss.Style // the time cursor

	OK       lipgloss.Style
	Info     lipgloss.Style
	Warning  lipgloss.Style
	Critical lipgloss.Style
	Unknown  lipgloss.Style

	// Palette colours series in charts and legends, in order.
	Palette []color.Color
	// SymptomColor and ResourceColor tint the two halves of the Graphs view.
	SymptomColor  color.Color
	ResourceColor color.Color
}

// Symbols are the status marks; ASCII ones exist for old terminals. Each
// mark has one meaning: the severity marks (OK, Info, Warning, Critical)
// are shared by no state but UP, which is OK; DOWN, MAINT and DRAIN have
// marks of their own.
type Symbols struct {
	OK, Info, Warning, Critical, Unknown, Paused, Live, Up, Down, Maint, Drain string
}

// Unicode and ASCII symbol sets.
var (
	UnicodeSymbols = Symbols{OK: "✔", Info: "ℹ", Warning: "▲", Critical: "✖", Unknown: "?", Paused: "❚❚", Live: "●", Up: "✔", Down: "▼", Maint: "◼", Drain: "◐"}
	ASCIISymbols   = Symbols{OK: "+", Info: "i", Warning: "!", Critical: "X", Unknown: "?", Paused: "||", Live: "*", Up: "+", Down: "v", Maint: "#", Drain: "~"}
)

// hex is a colour from "#rrggbb" or an ANSI index. A "#rrggbb" that is
// exactly one of the 256-colour palette's cube or grey colours (all of
// dark's and light's are) is sent as its index: the same colour on a
// terminal, in about half the bytes of a 24-bit code, and every frame
// that changes a coloured cell writes one.
func hex(s string) color.Color {
	if n, ok := paletteIndex(s); ok {
		return lipgloss.Color(strconv.Itoa(n))
	}
	return lipgloss.Color(s)
}

// paletteIndex is the 256-colour index of "#rrggbb" when the palette has
// that exact colour (16..255: the 6×6×6 cube, then the 24 greys).
func paletteIndex(s string) (int, bool) {
	if len(s) != 7 || s[0] != '#' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, false
	}
	r, g, b := int(v>>16), int(v>>8&0xff), int(v&0xff)
	cube := func(c int) (int, bool) {
		for i, l := range [6]int{0, 95, 135, 175, 215, 255} {
			if c == l {
				return i, true
			}
		}
		return 0, false
	}
	if r == g && g == b && r >= 8 && r <= 238 && (r-8)%10 == 0 {
		return 232 + (r-8)/10, true
	}
	cr, ok1 := cube(r)
	cg, ok2 := cube(g)
	cb, ok3 := cube(b)
	if ok1 && ok2 && ok3 {
		return 16 + 36*cr + 6*cg + cb, true
	}
	return 0, false
}

func build(name string, fg, muted, faint, bg, accent, ok, info, warn, crit, sel color.Color, palette []string) *Theme {
	t := &Theme{Name: name}
	t.Base = lipgloss.NewStyle().Foreground(fg)
	t.Muted = lipgloss.NewStyle().Foreground(muted)
	t.Faint = lipgloss.NewStyle().Foreground(faint)
	t.Title = lipgloss.NewStyle().Foreground(accent).Bold(true)
	t.Header = lipgloss.NewStyle().Foreground(fg).Background(bg)
	t.TabOn = lipgloss.NewStyle().Foreground(bg).Background(accent).Bold(true)
	t.TabOff = lipgloss.NewStyle().Foreground(muted)
	t.Selected = lipgloss.NewStyle().Foreground(fg).Background(sel).Bold(true)
	t.Border = lipgloss.NewStyle().Foreground(faint)
	t.Key = lipgloss.NewStyle().Foreground(accent).Bold(true)
	t.Cursor = lipgloss.NewStyle().Foreground(accent)
	t.OK = lipgloss.NewStyle().Foreground(ok)
	t.Info = lipgloss.NewStyle().Foreground(info)
	t.Warning = lipgloss.NewStyle().Foreground(warn).Bold(true)
	t.Critical = lipgloss.NewStyle().Foreground(crit).Bold(true)
	t.Unknown = lipgloss.NewStyle().Foreground(muted)
	for _, p := range palette {
		t.Palette = append(t.Palette, hex(p))
	}
	t.SymptomColor = crit
	t.ResourceColor = info
	return t
}

// Dark is the default theme.
func Dark() *Theme {
	return build("dark", hex("#d0d0d0"), hex("#8a8a8a"), hex("#4e4e4e"), hex("#262626"), hex("#5fafff"),
		hex("#5fd75f"), hex("#5fafff"), hex("#ffaf00"), hex("#ff5f5f"), hex("#3a3a3a"),
		[]string{"#ff5f5f", "#5fafff", "#ffaf00", "#5fd75f", "#d787ff", "#5fd7d7", "#ff87af", "#afaf5f"})
}

// Light suits a light terminal background.
func Light() *Theme {
	return build("light", hex("#1c1c1c"), hex("#585858"), hex("#a8a8a8"), hex("#e4e4e4"), hex("#005fd7"),
		hex("#008700"), hex("#005fd7"), hex("#af5f00"), hex("#d70000"), hex("#d0d0d0"),
		[]string{"#d70000", "#005fd7", "#af5f00", "#008700", "#8700af", "#008787", "#d7005f", "#5f5f00"})
}

// HighContrastLight is high contrast on a light background: black text,
// the dark ANSI colours (bright yellow and cyan vanish on white), a white
// header bar.
func HighContrastLight() *Theme {
	t := build("high-contrast-light", hex("0"), hex("0"), hex("8"), hex("15"), hex("4"),
		hex("2"), hex("4"), hex("5"), hex("1"), hex("14"),
		[]string{"1", "4", "5", "2", "6", "0", "3", "8"})
	t.Base = t.Base.Bold(true)
	t.TabOn = t.TabOn.Foreground(hex("15"))
	return t
}

// HighContrast uses the brightest ANSI colours only, for a dark
// background; HighContrastLight is its light twin.
func HighContrast() *Theme {
	t := build("high-contrast", hex("15"), hex("15"), hex("7"), hex("0"), hex("14"),
		hex("10"), hex("14"), hex("11"), hex("9"), hex("4"),
		[]string{"9", "14", "11", "10", "13", "12", "15", "7"})
	t.Base = t.Base.Bold(true)
	return t
}

// Mono has no colour: emphasis by bold and reverse only (underline is
// drawn cell by cell, which costs bytes on every frame).
func Mono() *Theme {
	p := lipgloss.NewStyle()
	return &Theme{
		Name: "mono", Mono: true,
		Base: p, Muted: p, Faint: p, Title: p.Bold(true), Header: p.Reverse(true),
		TabOn: p.Reverse(true).Bold(true), TabOff: p, Selected: p.Reverse(true), Border: p,
		Key: p.Bold(true), Cursor: p.Bold(true),
		OK: p, Info: p, Warning: p.Bold(true), Critical: p.Bold(true).Reverse(true), Unknown: p,
	}
}

var byName = map[string]func() *Theme{
	"dark": Dark, "light": Light, "high-contrast": HighContrast, "high-contrast-light": HighContrastLight, "mono": Mono,
}

// Names lists the themes.
func Names() []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ByName returns a theme, or an error listing the known ones.
func ByName(name string) (*Theme, error) {
	if name == "" {
		name = "dark"
	}
	f, ok := byName[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown theme %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return f(), nil
}

// NoColor reports whether the environment asks for no colour: any
// non-empty NO_COLOR (not parsed as a boolean: NO_COLOR=yes counts).
func NoColor() bool { return os.Getenv("NO_COLOR") != "" }

// Choose picks the theme for a run: mono when noColor, NO_COLOR or
// name == "mono"; otherwise the named theme.
func Choose(name string, noColor bool) (*Theme, error) {
	if noColor || NoColor() {
		if _, err := ByName(name); err != nil {
			return nil, err
		}
		return Mono(), nil
	}
	return ByName(name)
}

// SevStyle returns the style for a severity-like level 0..3 (ok, info,
// warning, critical) and -1 for unknown.
func (t *Theme) SevStyle(level int) lipgloss.Style {
	switch level {
	case 0:
		return t.OK
	case 1:
		return t.Info
	case 2:
		return t.Warning
	case 3:
		return t.Critical
	}
	return t.Unknown
}

// Color returns palette colour i (nil in mono).
func (t *Theme) Color(i int) color.Color {
	if len(t.Palette) == 0 {
		return nil
	}
	return t.Palette[i%len(t.Palette)]
}
