package ui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/themes"
)

var update = flag.Bool("update", false, "rewrite the golden screens under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	if filepath.Ext(name) == "" {
		name += ".golden"
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui/ -run Golden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden screen (go test ./ui/ -run Golden -update after checking):\n%s", name, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d\n- %q\n+ %q\n", i+1, a, c)
		}
	}
	return b.String()
}

// checkFrame asserts the frame is exactly w×h cells.
func checkFrame(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Fatalf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n != w {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i+1, n, w, ansi.Strip(l))
		}
	}
}

// TestGoldenScreens renders every built-in view at 80x24 and 160x48, in
// colour (dark) and mono, after 20 minutes of the melting-volume incident.
// The plain golden (ANSI stripped) pins the layout; the colour golden
// keeps the escapes.
func TestGoldenScreens(t *testing.T) {
	views := []struct {
		name string
		keys []string
		mode []key.Binding
	}{
		{"overview", nil, nil},
		{"overview-past", []string{"left", "left", "left", "left", "left", "left", "left", "left", "left", "left", "left", "left"}, nil},
		{"findings", []string{"4"}, nil},
		{"graphs", []string{"2"}, nil},
		{"graphs-cursor", []string{"2", "left", "left", "left", "left", "left", "left", "left", "left", "left", "left"}, nil},
		{"events", []string{"3"}, nil},
		{"evidence", []string{"4", "enter"}, nil},
		{"events-open", []string{"3", "down", "enter"}, nil},
		{"help", []string{"2", "?"}, nil},
		{"help-replay", []string{"1", "?"}, replayModeKeys},
	}
	sizes := [][2]int{{80, 24}, {160, 48}}
	ths := []struct {
		name  string
		theme *themes.Theme
		ascii bool
	}{
		{"dark", themes.Dark(), false},
		{"mono", themes.Mono(), false},
		{"ascii", themes.Mono(), true},
		{"light", themes.Light(), false},
		{"high-contrast", themes.HighContrast(), false},
		{"high-contrast-light", themes.HighContrastLight(), false},
	}
	for _, v := range views {
		for _, sz := range sizes {
			for _, th := range ths {
				colourOnly := th.name == "light" || strings.HasPrefix(th.name, "high-contrast")
				if (th.ascii || colourOnly) && sz[0] != 80 {
					continue
				}
				name := fmt.Sprintf("%s_%dx%d_%s", v.name, sz[0], sz[1], th.name)
				t.Run(name, func(t *testing.T) {
					a := newTestAppOpts(Options{Theme: th.theme, ASCII: th.ascii, ModeKeys: v.mode}, sz[0], sz[1], 240)
					pressKeys(a, v.keys...)
					frame := a.View().Content
					checkFrame(t, frame, sz[0], sz[1])
					if !colourOnly {
						golden(t, name+".txt", ansi.Strip(frame))
					}
					if th.name != "mono" && th.name != "ascii" {
						golden(t, name+".ansi", frame)
					}
					if th.ascii {
						for _, r := range ansi.Strip(frame) {
							if r > 0x7e {
								t.Fatalf("--ascii frame has %q", r)
							}
						}
					}
				})
			}
		}
	}
}
