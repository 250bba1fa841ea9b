// Command bare is the floor of BenchmarkExecToFirstFrame: a Bubble Tea v2
// program whose first frame is one line, with the words the benchmark
// waits for.
package main

import (
	tea "charm.land/bubbletea/v2"
)

type model struct{}

func (model) Init() tea.Cmd { return nil }

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "q" {
		return m, tea.Quit
	}
	return m, nil
}

func (model) View() tea.View { return tea.NewView("Overview: 0 series held, q quit") }

func main() { _, _ = tea.NewProgram(model{}).Run() }
