package export

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/sources/replay"
)

// Postmortems get pasted into wikis that render HTML and Markdown: a
// server, series, source, event, note or producer named by whoever runs
// the load balancer must come out as text, in every cell and heading.
func TestHostileNamesComeOutAsTextInEveryCellAndHeading(t *testing.T) {
	const (
		img  = `<img src=x onerror=alert(1)>`
		link = `[click](javascript:alert(1))`
	)
	edit := func(b *sources.Batch) {
		b.Source += img
		b.Type = link
		for i := range b.Series {
			b.Series[i].Labels["backend"] = "be_app" + img
			b.Series[i].Unit = "<b>req</b>/s"
			b.Series[i].Layer = sources.Layer("db" + img)
		}
		for i := range b.Nodes {
			b.Nodes[i].Name = "app-2" + img
		}
		for i := range b.Events {
			b.Events[i].Title += " " + img + link
			b.Events[i].Node = "app-2" + img
		}
	}
	note := func(a *replay.Annotation) {
		a.Author = "ana" + img
		a.Text += " `code` " + link + ` a\|b`
	}
	data := meltingVolumeFileWith(t, "opsview "+img, edit, note)
	rec, err := replay.Load(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Markdown(&out, rec, Options{Title: "Incident " + img}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, raw := range []string{"<img", "<b>", "[click](", "`code`"} {
		if strings.Contains(s, raw) {
			i := strings.Index(s, raw)
			t.Errorf("%q reaches the document: …%s…", raw, s[max(0, i-80):min(len(s), i+80)])
		}
	}
	if n := strings.Count(s, "&lt;img src=x onerror=alert(1)&gt;"); n < 6 {
		t.Errorf("the name is shown escaped %d times, want it in the title, headings, cells and notes:\n%s", n, s)
	}
	// every table row keeps its cells: a pipe or backslash in a name
	// cannot end a cell early
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		if got := tableCells(line); got != 4 && got != 6 && got != 8 {
			t.Errorf("row with %d cells: %s", got, line)
		}
	}
}

// tableCells counts the cells of a GFM table row: pipes not escaped by a
// backslash (an escaped backslash does not escape).
func tableCells(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n - 1
}
