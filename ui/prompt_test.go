package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/opsview/opsview/themes"
)

// A mode can ask for a line of text (an annotation): the footer becomes
// the prompt, Enter hands the text over, Esc cancels.
func TestPromptAsksForALineAndHandsItOver(t *testing.T) {
	a, _ := newTestApp(themes.Mono(), 80, 24, 40)
	var got []string
	submit := func(text string) tea.Cmd {
		got = append(got, text)
		return nil
	}
	a.Update(PromptMsg{Label: "note at 14:03:20", Submit: submit})
	if !strings.Contains(plain(a), "note at 14:03:20:") {
		t.Fatalf("no prompt in the footer:\n%s", plain(a))
	}
	for _, r := range "db-1 volume" {
		a.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	a.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}) // typed, not quit
	_, cmd := a.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd != nil {
		cmd()
	}
	if len(got) != 1 || got[0] != "db-1 volumeq" {
		t.Fatalf("submitted %q", got)
	}
	a.Update(PromptMsg{Label: "note", Submit: submit})
	a.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	a.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if len(got) != 1 {
		t.Fatalf("esc submitted: %q", got)
	}
	if strings.Contains(plain(a), "note:") {
		t.Error("prompt still shown after esc")
	}
}
