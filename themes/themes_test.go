package themes

import (
	"image/color"
	"math"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
)

func TestNoColorAnyNonEmptyValueMeansMono(t *testing.T) {
	for _, v := range []string{"1", "yes", "0", "false", "x"} {
		t.Setenv("NO_COLOR", v)
		th, err := Choose("dark", false)
		if err != nil || !th.Mono {
			t.Fatalf("NO_COLOR=%q: theme %v, err %v; want mono", v, th.Name, err)
		}
	}
	t.Setenv("NO_COLOR", "")
	th, err := Choose("light", false)
	if err != nil || th.Name != "light" || th.Mono {
		t.Fatalf("empty NO_COLOR: got %v, %v", th.Name, err)
	}
	if th, _ := Choose("dark", true); !th.Mono {
		t.Fatal("--no-color did not give mono")
	}
}

func TestUnknownThemeNamesTheKnownOnes(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	_, err := Choose("solarized", false)
	if err == nil || !strings.Contains(err.Error(), "dark, high-contrast, high-contrast-light, light, mono") {
		t.Fatalf("err = %v", err)
	}
}

func TestEveryThemeIsComplete(t *testing.T) {
	for _, n := range Names() {
		th, err := ByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if th.Mono != (n == "mono") {
			t.Errorf("%s: Mono = %v", n, th.Mono)
		}
		if !th.Mono && (len(th.Palette) < 6 || th.SymptomColor == nil || th.ResourceColor == nil) {
			t.Errorf("%s: palette or role colours missing", n)
		}
		if th.Mono && th.Color(3) != nil {
			t.Errorf("mono has a palette colour")
		}
		// every level has a style that renders its text
		for lvl := -1; lvl <= 3; lvl++ {
			// one run of text: no escape between the letters
			if out := th.SevStyle(lvl).Render("a word"); !strings.Contains(out, "a word") {
				t.Errorf("%s level %d loses the text: %q", n, lvl, out)
			}
		}
	}
}

func TestASCIISymbolsArePlainASCII(t *testing.T) {
	s := ASCIISymbols
	for _, sym := range []string{s.OK, s.Info, s.Warning, s.Critical, s.Unknown, s.Paused, s.Live, s.Up, s.Down, s.Maint, s.Drain} {
		for _, r := range sym {
			if r > 0x7e || r < 0x20 {
				t.Fatalf("ASCII symbol %q is not ASCII", sym)
			}
		}
	}
	// statuses differ by symbol, so they read without colour
	seen := map[string]bool{}
	for _, sym := range []string{s.OK, s.Info, s.Warning, s.Critical, s.Unknown} {
		if seen[sym] {
			t.Fatalf("symbol %q used twice", sym)
		}
		seen[sym] = true
	}
}

// TestEachSymbolHasOneMeaning: a state mark never doubles as a severity
// mark (▲ was both UP and warning); UP may only be OK's mark.
func TestEachSymbolHasOneMeaning(t *testing.T) {
	for name, s := range map[string]Symbols{"unicode": UnicodeSymbols, "ascii": ASCIISymbols} {
		marks := map[string]string{}
		for _, m := range []struct{ what, sym string }{
			{"ok", s.OK}, {"info", s.Info}, {"warning", s.Warning}, {"critical", s.Critical}, {"unknown", s.Unknown},
			{"down", s.Down}, {"maint", s.Maint}, {"drain", s.Drain}, {"paused", s.Paused}, {"live", s.Live},
		} {
			if other, ok := marks[m.sym]; ok {
				t.Errorf("%s: %q means both %s and %s", name, m.sym, other, m.what)
			}
			marks[m.sym] = m.what
		}
		if s.Up != s.OK {
			if other, ok := marks[s.Up]; ok {
				t.Errorf("%s: UP's %q also means %s", name, s.Up, other)
			}
		}
	}
}

// luminance is the relative luminance of c (WCAG).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		x := float64(v) / 0xffff
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestHighContrastReadsOnItsBackground: high-contrast on a dark terminal
// and high-contrast-light on a light one keep every status colour and the
// text at a contrast of 3:1 or more against the background they are
// meant for (high-contrast's bright yellow is 1.1:1 on white).
func TestHighContrastReadsOnItsBackground(t *testing.T) {
	black, white := color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}
	for _, c := range []struct {
		th *Theme
		bg color.Color
	}{{HighContrast(), black}, {HighContrastLight(), white}} {
		for name, st := range map[string]lipgloss.Style{"text": c.th.Base, "ok": c.th.OK, "info": c.th.Info, "warning": c.th.Warning, "critical": c.th.Critical} {
			if r := contrast(st.GetForeground(), c.bg); r < 3 {
				t.Errorf("%s: %s at %.1f:1 on its background", c.th.Name, name, r)
			}
		}
		if r := contrast(c.th.TabOn.GetForeground(), c.th.TabOn.GetBackground()); r < 3 {
			t.Errorf("%s: the active tab at %.1f:1", c.th.Name, r)
		}
	}
}

// A "#rrggbb" that is a 256-colour palette colour is sent as its index
// (fewer bytes per coloured cell); any other stays 24-bit.
func TestHexUsesThePaletteIndexWhenExact(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"#000000", 16, true}, {"#ffffff", 231, true}, {"#ffaf00", 214, true}, {"#5fd75f", 77, true},
		{"#262626", 235, true}, {"#d0d0d0", 252, true}, {"#080808", 232, true}, {"#eeeeee", 255, true},
		{"#ffae00", 0, false}, {"#123456", 0, false}, {"214", 0, false}, {"#fff", 0, false}, {"#gggggg", 0, false},
	} {
		n, ok := paletteIndex(c.in)
		if ok != c.ok || n != c.want {
			t.Errorf("paletteIndex(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
	r1, g1, b1, _ := hex("#ffaf00").RGBA()
	r2, g2, b2, _ := hex("#ffae00").RGBA()
	if r1>>8 != 0xff || g1>>8 != 0xaf || b1 != 0 || g2>>8 != 0xae || r2>>8 != 0xff || b2 != 0 {
		t.Errorf("colours changed: %x %x %x / %x %x %x", r1, g1, b1, r2, g2, b2)
	}
}
