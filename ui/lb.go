package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
	"github.com/opsview/opsview/themes"
)

// LoadBalancers is the load-balancer view: every backend of every HAProxy
// (and the fleet sums), its servers on Enter, state by colour, symbol and
// word, sessions against their limit, rates, checks and the last change.
// It draws from the snapshot's node states (their typed load-balancer
// figures) and the engine's findings about them.
type LoadBalancers struct {
	sort     lbSort
	cursor   int
	offset   int
	selID    string
	expanded map[string]bool
	keys     lbKeys
}

type lbKeys struct {
	Up, Down, PgUp, PgDown, Toggle, Sort, Graphs key.Binding
}

type lbSort int

const (
	lbSortState lbSort = iota
	lbSortName
	lbSort5xx
	lbSortSessions
	lbSortReqs
	lbNumSorts
)

var lbSortNames = [lbNumSorts]string{"state", "name", "5xx/s", "sessions", "req/s"}

// NewLoadBalancers makes the "Load balancers" view.
func NewLoadBalancers() View {
	return &LoadBalancers{
		expanded: map[string]bool{},
		keys: lbKeys{
			Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
			Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
			PgUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
			PgDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
			Toggle: key.NewBinding(key.WithKeys("enter", "right", "left"), key.WithHelp("enter", "servers")),
			Sort:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
			Graphs: key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "graphs")),
		},
	}
}

// Name is the tab label.
func (v *LoadBalancers) Name() string { return "Load balancers" }

// Keys lists the view's keys.
func (v *LoadBalancers) Keys() []key.Binding {
	k := v.keys
	return []key.Binding{k.Up, k.Down, k.Toggle, k.Sort, k.Graphs, k.PgUp, k.PgDown}
}

type lbRow struct {
	n      *sources.NodeState
	server bool
	last   bool // last server of its backend
	open   bool // backend with its servers shown
}

// rows lists what the table shows, in order.
func (v *LoadBalancers) rows(c *Context) []lbRow {
	if c.Snap == nil {
		return nil
	}
	var backends, frontends []*sources.NodeState
	kids := map[string][]*sources.NodeState{}
	for i := range c.Snap.Nodes {
		n := &c.Snap.Nodes[i]
		switch n.Kind {
		case sources.NodeFrontend:
			if n.Layer == sources.LayerLB || n.Layer == "" {
				frontends = append(frontends, n)
			}
		case sources.NodeBackend:
			if n.Layer == sources.LayerLB || n.Layer == "" {
				backends = append(backends, n)
			}
		case sources.NodeServer:
			kids[n.Parent] = append(kids[n.Parent], n)
		}
	}
	v.sortBackends(backends)
	f := strings.ToLower(c.Filter)
	match := func(n *sources.NodeState) bool {
		return f == "" || strings.Contains(strings.ToLower(n.Name), f) || strings.Contains(strings.ToLower(n.Instance), f)
	}
	var out []lbRow
	// frontends first: where the users' traffic comes in
	v.sortBackends(frontends)
	for _, fe := range frontends {
		if match(fe) {
			out = append(out, lbRow{n: fe})
		}
	}
	for _, b := range backends {
		bm := match(b)
		var ks []*sources.NodeState
		for _, k := range kids[b.ID] {
			if bm || match(k) {
				ks = append(ks, k)
			}
		}
		if !bm && len(ks) == 0 {
			continue
		}
		open := v.expanded[b.ID] || (!bm && len(ks) > 0)
		out = append(out, lbRow{n: b, open: open && len(ks) > 0})
		if open {
			for i, k := range ks {
				out = append(out, lbRow{n: k, server: true, last: i == len(ks)-1})
			}
		}
	}
	return out
}

// noLB stands in for a node without load-balancer figures: all unknown.
var noLB = sources.NewLBNode("")

// lbOf is the node's load-balancer figures, all NaN when it has none.
func lbOf(n *sources.NodeState) *sources.LBNode {
	if n.LB != nil {
		return n.LB
	}
	return noLB
}

// lbReqRate is requests per second, or sessions per second for a TCP
// proxy (which counts no requests).
func lbReqRate(n *sources.NodeState) float64 {
	lb := lbOf(n)
	if x := lb.Rates.Requests; !math.IsNaN(x) && (x > 0 || lb.Mode != sources.LBModeTCP) {
		return x
	}
	return lb.Rates.Sessions
}

func lbUsage(n *sources.NodeState) float64 {
	s, l := lbOf(n).Sessions, lbOf(n).SessionLimit
	if math.IsNaN(s) {
		return -1
	}
	if math.IsNaN(l) || l <= 0 {
		return 0
	}
	return s / l
}

func (v *LoadBalancers) sortBackends(bs []*sources.NodeState) {
	desc := func(a, b float64) int {
		switch {
		case math.IsNaN(a) && math.IsNaN(b):
			return 0
		case math.IsNaN(a):
			return 1
		case math.IsNaN(b):
			return -1
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	}
	byName := func(a, b *sources.NodeState) bool {
		// the fleet sum first, then each LB
		if (a.Instance == "") != (b.Instance == "") {
			return a.Instance == ""
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Instance < b.Instance
	}
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		var c int
		switch v.sort {
		case lbSortState:
			c = desc(float64(a.Severity), float64(b.Severity))
		case lbSort5xx:
			c = desc(lbOf(a).Rates.Resp5xx, lbOf(b).Rates.Resp5xx)
		case lbSortSessions:
			c = desc(lbUsage(a), lbUsage(b))
		case lbSortReqs:
			c = desc(lbReqRate(a), lbReqRate(b))
		}
		if c != 0 {
			return c < 0
		}
		return byName(a, b)
	})
}

// Update handles the view's keys.
func (v *LoadBalancers) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	msg, ok := m.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	rows := v.rows(c)
	v.locate(rows)
	page := c.Height - 3
	if page < 1 {
		page = 1
	}
	switch {
	case key.Matches(msg, v.keys.Up):
		v.move(rows, -1)
	case key.Matches(msg, v.keys.Down):
		v.move(rows, 1)
	case key.Matches(msg, v.keys.PgUp):
		v.move(rows, -page)
	case key.Matches(msg, v.keys.PgDown):
		v.move(rows, page)
	case key.Matches(msg, v.keys.Toggle):
		if v.cursor < len(rows) {
			r := rows[v.cursor]
			if r.server { // Enter on a server folds its backend
				v.expanded[r.n.Parent] = false
				v.selID = r.n.Parent
			} else if r.n.Kind == sources.NodeBackend {
				v.expanded[r.n.ID] = !v.expanded[r.n.ID]
			}
		}
	case key.Matches(msg, v.keys.Sort):
		v.sort = (v.sort + 1) % lbNumSorts
	case key.Matches(msg, v.keys.Graphs):
		if v.cursor < len(rows) {
			return true, Goto("Graphs", sources.Clean(rows[v.cursor].n.Name))
		}
	default:
		return false, nil
	}
	return true, nil
}

// locate puts the cursor back on the selected node after the data moved.
func (v *LoadBalancers) locate(rows []lbRow) {
	for i, r := range rows {
		if r.n.ID == v.selID {
			v.cursor = i
			return
		}
	}
	if v.cursor >= len(rows) {
		v.cursor = len(rows) - 1
	}
	if v.cursor < 0 {
		v.cursor = 0
	}
	if v.cursor < len(rows) {
		v.selID = rows[v.cursor].n.ID
	}
}

func (v *LoadBalancers) move(rows []lbRow, d int) {
	if len(rows) == 0 {
		return
	}
	v.cursor += d
	if v.cursor < 0 {
		v.cursor = 0
	}
	if v.cursor >= len(rows) {
		v.cursor = len(rows) - 1
	}
	v.selID = rows[v.cursor].n.ID
}

// columns of the table, dropped from the highest prio number down when the
// terminal is narrow.
type lbCol struct {
	id    string
	title string
	width int
	prio  int
	right bool
}

func (v *LoadBalancers) layout(width int, fleet bool, nameNeed int) (cols []lbCol, nameW int) {
	all := []lbCol{
		{"state", "STATE", 9, 0, false},
		{"name", "NAME", 0, 0, false},
		{"lb", "LB", 10, 4, false},
		{"active", "ACTIVE", 7, 0, false},
		{"sess", "SESSIONS", 14, 1, false},
		{"queue", "QUEUE", 5, 5, true},
		{"req", "REQ/S", 7, 1, true},
		{"5xx", "5XX/S", 7, 0, true},
		{"since", "CHANGED", 10, 2, false},
		{"check", "CHECK", 14, 3, false},
		{"why", "LAST CHECK", 30, 6, false},
	}
	if width >= 140 {
		all[4].width = 20
		all[len(all)-1].width = 34
	}
	if !fleet {
		all[2].prio = 7 // one LB: the column says nothing, drop it first
	}
	const minName = 16
	for {
		used := 0
		for _, c := range all {
			used += c.width + 1
		}
		nameW = width - used
		if nameW >= minName || len(all) <= 2 {
			break
		}
		drop := -1
		for i, c := range all {
			if c.prio > 0 && (drop < 0 || c.prio > all[drop].prio) {
				drop = i
			}
		}
		if drop < 0 {
			break
		}
		all = append(all[:drop], all[drop+1:]...)
	}
	if nameW < 1 {
		nameW = 1
	}
	// a wide terminal gives what the names do not need to the last-check
	// text, which says why a row is in its state
	for i := range all {
		if all[i].id == "why" && nameW > max(nameNeed, minName) {
			extra := nameW - max(nameNeed, minName)
			all[i].width += extra
			nameW -= extra
		}
	}
	return all, nameW
}

// Render draws the table into c.Width × c.Height.
func (v *LoadBalancers) Render(c *Context) string {
	t := c.Theme
	lines := make([]string, 0, c.Height)
	rows := v.rows(c)
	v.locate(rows)
	fleet := false
	var nf, nb, crit, ns, down int
	if c.Snap != nil {
		for i := range c.Snap.Nodes {
			n := &c.Snap.Nodes[i]
			switch n.Kind {
			case sources.NodeFrontend:
				nf++
			case sources.NodeBackend:
				nb++
				if n.Severity == sources.SevCritical {
					crit++
				}
				if n.Instance == "" && n.Layer == sources.LayerLB {
					fleet = true
				}
			case sources.NodeServer:
				ns++
				if n.Class == sources.ClassDown {
					down++
				}
			}
		}
	}
	title := t.Title.Render("Load balancers")
	sum := fmt.Sprintf(" · %d fe · %d be", nf, nb)
	if crit > 0 {
		sum += fmt.Sprintf(" (%d no server UP)", crit)
	}
	sum += fmt.Sprintf(" · %d servers, %d DOWN · by %s", ns, down, lbSortNames[v.sort])
	if c.Filter != "" {
		sum += " · filter: " + sources.Clean(c.Filter)
	}
	// a source that does not answer leaves its last figures on screen:
	// the title says so first, where it is not cut
	var stale []string
	if c.Snap != nil {
		seen := map[string]bool{}
		for i := range c.Snap.Nodes {
			if m := lbStale(c, &c.Snap.Nodes[i]); m != "" && !seen[m] {
				seen[m] = true
				stale = append(stale, m)
			}
		}
	}
	for _, m := range stale {
		title += t.Muted.Render(" · ") + t.Warning.Render(m)
	}
	lines = append(lines, title+t.Muted.Render(sum))
	if len(rows) == 0 {
		msg := "No load balancer data yet: configure a haproxy source, or start opsview where a stats socket is readable (/run/haproxy/admin.sock)."
		if c.Filter != "" && nb > 0 {
			msg = "No backend or server matches the filter."
		}
		lines = append(lines, "", t.Muted.Render(msg))
		out := box(lines, c.Width, c.Height)
		if c.ASCII {
			out = lbASCII.Replace(out)
		}
		return out
	}
	nameNeed := 0
	for _, r := range rows {
		nameNeed = max(nameNeed, ansi.StringWidth(lbRowName(c, r)))
	}
	cols, nameW := v.layout(c.Width, fleet, nameNeed)
	var hdr strings.Builder
	for _, col := range cols {
		w := col.width
		if col.id == "name" {
			w = nameW
		}
		hdr.WriteString(lbCell(col.title, w, col.right))
		hdr.WriteByte(' ')
	}
	lines = append(lines, t.Muted.Render(hdr.String()))
	body := c.Height - 3
	if body < 1 {
		body = 1
	}
	if v.cursor < v.offset {
		v.offset = v.cursor
	}
	if v.cursor >= v.offset+body {
		v.offset = v.cursor - body + 1
	}
	if v.offset > len(rows)-body {
		v.offset = max(0, len(rows)-body)
	}
	var now time.Time
	if c.Snap != nil {
		now = c.Snap.Now
	}
	found := findingTitles(c.Findings)
	for i := v.offset; i < len(rows) && i < v.offset+body; i++ {
		lines = append(lines, v.renderRow(c, rows[i], cols, nameW, now, i == v.cursor, found))
	}
	for len(lines) < c.Height-1 {
		lines = append(lines, "")
	}
	if v.cursor < len(rows) {
		lines = append(lines, t.Muted.Render(lbDetail(rows[v.cursor].n, found)))
	}
	out := box(lines, c.Width, c.Height)
	if c.ASCII { // same widths: one cell each
		out = lbASCII.Replace(out)
	}
	return out
}

var lbASCII = strings.NewReplacer("…", "~", "·", "|", "×", "x")

// lbCell fits plain text into w cells.
func lbCell(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	pad := strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
	if right {
		return pad + s
	}
	return s + pad
}

// findingTitles maps the engine's findings by ID to their titles, to show
// beside a node the finding about it ("backend be_api has no server UP
// (Active: 0/3)"), found by correlate.NodeFindingID.
func findingTitles(fs []correlate.Finding) map[string]string {
	out := make(map[string]string, len(fs))
	for i := range fs {
		out[fs[i].ID] = fs[i].Title
	}
	return out
}

// symbol is a row's mark, one meaning per symbol: the severity marks
// (✔ ℹ ▲ ✖) for a frontend, a backend and an UP server, from its
// severity as raised by its errors (lbSeverity); a server not taking
// traffic has its state's own mark (DOWN ▼, MAINT ◼, DRAIN ◐), which no
// severity shares.
func (v *LoadBalancers) symbol(c *Context, r lbRow) string {
	sy := c.Symbols
	if sy.OK == "" { // the shell did not choose: pick by the ASCII flag
		sy = themes.UnicodeSymbols
		if c.ASCII {
			sy = themes.ASCIISymbols
		}
	}
	if r.server {
		switch r.n.Class {
		case sources.ClassDown:
			return sy.Down
		case sources.ClassMaint:
			return sy.Maint
		case sources.ClassDrain:
			return sy.Drain
		case sources.ClassUp:
		default:
			return sy.Unknown
		}
	}
	switch lbSeverity(r.n) {
	case sources.SevOK:
		return sy.OK
	case sources.SevInfo:
		return sy.Info
	case sources.SevWarning:
		return sy.Warning
	case sources.SevCritical:
		return sy.Critical
	}
	return sy.Unknown
}

// Error shares of a row's answers that raise its severity: a backend or
// server that is UP but answers errors is not "ok".
const (
	lbErrWarn = 0.01
	lbErrCrit = 0.20
)

// lbErrShare is the share of a row's requests answered 5xx, NaN when it
// counts none.
func lbErrShare(n *sources.NodeState) float64 {
	lb := lbOf(n)
	e, r := lb.Rates.Resp5xx, lb.Rates.Requests
	if math.IsNaN(e) || e <= 0 {
		return 0
	}
	if math.IsNaN(r) || r <= 0 {
		return 1 // errors with no request counted: all of them failed
	}
	return math.Min(e/r, 1)
}

// lbSeverity is a row's severity: its source's verdict on its state,
// raised by the share of its answers that are 5xx.
func lbSeverity(n *sources.NodeState) sources.Severity {
	sev := n.Severity
	if n.Class == sources.ClassDown && n.Kind == sources.NodeServer {
		return sev // its errors are its DOWN: the state says it already
	}
	switch x := lbErrShare(n); {
	case x >= lbErrCrit:
		sev = max(sev, sources.SevCritical)
	case x >= lbErrWarn:
		sev = max(sev, sources.SevWarning)
	}
	return sev
}

// lbIdle reports whether a server takes no traffic by its state (DOWN,
// MAINT): figures it still shows are left over, not current.
func lbIdle(n *sources.NodeState) bool {
	return n.Kind == sources.NodeServer && (n.Class == sources.ClassDown || n.Class == sources.ClassMaint)
}

// dash stands for a figure that is not current.
func dash(c *Context) string {
	if c.ASCII {
		return "-"
	}
	return "—"
}

// lbStale says, for a node whose source does not answer, since when its
// figures date ("lb-1 not answering: figures from 42s ago"); "" while
// the source answers.
func lbStale(c *Context, n *sources.NodeState) string {
	if c.Snap == nil || n.Source == "" {
		return ""
	}
	for i := range c.Snap.Status {
		st := &c.Snap.Status[i]
		if st.Source != n.Source || st.Health != sources.HealthFailing {
			continue
		}
		msg := sources.Clean(st.Source) + " not answering"
		if !st.LastSuccess.IsZero() {
			msg += ": figures from " + lbAgo(c.Snap.Now, st.LastSuccess)
		} else {
			msg += ": figures are its last"
		}
		return msg
	}
	return ""
}

func (v *LoadBalancers) renderRow(c *Context, r lbRow, cols []lbCol, nameW int, now time.Time, selected bool, found map[string]string) string {
	t := c.Theme
	n := r.n
	lb := lbOf(n)
	sev := t.SevStyle(int(lbSeverity(n)))
	idle, stale := lbIdle(n), lbStale(c, n) != ""
	var b strings.Builder
	for ci := 0; ci < len(cols); ci++ {
		col := cols[ci]
		w := col.width
		if col.id == "name" {
			w = nameW
		}
		// a backend or frontend has no check of its own: what the engine
		// says of it takes the CHECK cell too, so it is not cut
		if col.id == "check" && !r.server && ci+1 < len(cols) && cols[ci+1].id == "why" {
			ci++
			col = cols[ci]
			w += 1 + col.width
		}
		var text string
		style := t.Base
		styled := true
		switch col.id {
		case "state":
			text = v.symbol(c, r) + " " + sources.Clean(n.State)
			style = sev
		case "name":
			text = lbRowName(c, r)
			if n.Flapping {
				style = t.Warning
			}
		case "lb":
			text = sources.Clean(n.Instance)
			if text == "" {
				text = "fleet"
			}
			style = t.Muted
		case "active":
			if r.n.Kind == sources.NodeFrontend {
				text = "-"
				style = t.Muted
			} else if !r.server {
				text = "-/-"
				if n.LB != nil {
					text = fmt.Sprintf("%d/%d", lb.Up, lb.Total)
				}
				if lb.Up == 0 && lb.Total > 0 {
					style = t.Critical
				}
			} else if w := lb.Weight; !math.IsNaN(w) {
				text = "w" + lbNum(w)
				style = t.Muted
			}
		case "sess":
			if idle {
				text, style = dash(c), t.Faint
				break
			}
			if !selected && !stale {
				b.WriteString(lbSessionBar(c, n, w))
				b.WriteByte(' ')
				continue
			}
			text = lbSessionText(c, n, w)
		case "queue":
			text = lbNum(lb.Queue)
			if lb.Queue > 0 {
				style = t.Warning
			}
		case "req":
			text = lbRate(lbReqRate(n))
		case "5xx":
			x := lb.Rates.Resp5xx
			text = lbRate(x)
			if x > 0 {
				style = t.Critical
			}
		case "check":
			if r.server {
				text = sources.Clean(lb.Check.Status)
				if d := lb.Check.Duration; !math.IsNaN(d) {
					text += " " + lbNum(d) + "ms"
				}
				if lb.Check.Failed {
					style = t.Warning
				}
			}
		case "since":
			text = lbAgo(now, n.Since)
			style = t.Muted
		case "why":
			if r.server {
				text = sources.Clean(lb.Check.Last)
			} else {
				text = sources.Clean(found[correlate.NodeFindingID(n.ID)])
			}
			style = t.Muted
		}
		switch col.id {
		case "queue", "req", "5xx":
			// a server out of traffic shows no figure as if current; a
			// source not answering shows its last ones faint (the title
			// says how old)
			if idle {
				text = dash(c)
			}
			if idle || stale {
				style = t.Faint
			}
		}
		txt := lbCell(text, w, col.right)
		if styled && !selected {
			txt = style.Render(txt)
		}
		b.WriteString(txt)
		b.WriteByte(' ')
	}
	line := b.String()
	if selected {
		return t.Selected.Render(lbCell(line, c.Width, false))
	}
	return line
}

func lbRowName(c *Context, r lbRow) string {
	name := sources.Clean(r.n.Name)
	if r.n.Kind == sources.NodeFrontend {
		if c.ASCII {
			return "> " + name
		}
		return "» " + name
	}
	if !r.server {
		mark := "▸ "
		if r.open {
			mark = "▾ "
		}
		if c.ASCII {
			mark = "+ "
			if r.open {
				mark = "- "
			}
		}
		return mark + name
	}
	branch := "├ "
	if r.last {
		branch = "└ "
	}
	if c.ASCII {
		branch = "|-"
		if r.last {
			branch = "`-"
		}
	}
	if lbOf(r.n).Backup {
		name += " (backup)"
	}
	if r.n.Flapping {
		name += " flapping"
	}
	return "  " + branch + name
}

func lbSessionText(c *Context, n *sources.NodeState, w int) string {
	s, l := lbOf(n).Sessions, lbOf(n).SessionLimit
	if math.IsNaN(s) {
		return ""
	}
	if math.IsNaN(l) || l <= 0 {
		return lbNum(s)
	}
	return lbNum(s) + "/" + lbNum(l)
}

// lbSessionBar draws scur against slim: a bar then the numbers.
func lbSessionBar(c *Context, n *sources.NodeState, w int) string {
	t := c.Theme
	txt := lbSessionText(c, n, w)
	s, l := lbOf(n).Sessions, lbOf(n).SessionLimit
	barW := w - ansi.StringWidth(txt) - 1
	if math.IsNaN(l) || l <= 0 || barW < 3 {
		return t.Base.Render(lbCell(txt, w, false))
	}
	if barW > 10 {
		barW = 10
	}
	frac := s / l
	if frac > 1 {
		frac = 1
	}
	full := int(math.Round(frac * float64(barW)))
	if s > 0 && full == 0 {
		full = 1
	}
	on, off := "█", "░"
	if c.ASCII {
		on, off = "#", "."
	}
	style := t.OK
	switch {
	case frac >= 0.9:
		style = t.Critical
	case frac >= 0.7:
		style = t.Warning
	}
	bar := style.Render(strings.Repeat(on, full)) + t.Faint.Render(strings.Repeat(off, barW-full))
	return bar + " " + t.Base.Render(lbCell(txt, w-barW-1, false))
}

func lbNum(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	if x == math.Trunc(x) && math.Abs(x) < 1e6 {
		return fmt.Sprintf("%d", int64(x))
	}
	return lbRate(x)
}

// lbRate formats a per-second rate in at most 6 cells.
func lbRate(x float64) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case x == 0:
		return "0"
	case x < 0.01:
		return "<0.01"
	case x < 10:
		return fmt.Sprintf("%.2f", x)
	case x < 1000:
		return fmt.Sprintf("%.0f", x)
	case x < 1e6:
		return fmt.Sprintf("%.1fk", x/1e3)
	case x < 1e9:
		return fmt.Sprintf("%.1fM", x/1e6)
	}
	return fmt.Sprintf("%.1fG", x/1e9)
}

// lbAgo says how long before now t was: "42s ago", "3m12s ago", "2h05m ago".
func lbAgo(now, t time.Time) string {
	if t.IsZero() || now.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds ago", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds ago", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm ago", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh ago", s/86400, s%86400/3600)
}

// lbDetail is the status line of the selected row.
func lbDetail(n *sources.NodeState, found map[string]string) string {
	lb := lbOf(n)
	var parts []string
	errs := ""
	if x := lbErrShare(n); x >= lbErrWarn && !lbIdle(n) {
		errs = fmt.Sprintf("%.0f%% of answers 5xx", 100*x)
	}
	switch n.Kind {
	case sources.NodeServer:
		parts = append(parts, sources.Clean(lb.Proxy)+"/"+sources.Clean(n.Name))
		if n.Instance != "" {
			parts[0] += " on " + sources.Clean(n.Instance)
		}
		if lbIdle(n) {
			parts = append(parts, "takes no traffic ("+sources.Clean(n.State)+")")
		}
		if errs != "" {
			parts = append(parts, errs)
		}
		chk := sources.Clean(lb.Check.Status)
		if d := lb.Check.Duration; !math.IsNaN(d) && chk != "" {
			chk += " in " + lbNum(d) + "ms"
		}
		if s := strings.TrimSpace(chk + " " + sources.Clean(lb.Check.Last)); s != "" {
			parts = append(parts, "check "+s)
		}
		if d := sources.Clean(lb.Check.Desc); d != "" && lb.Check.Desc != lb.Check.Last {
			parts = append(parts, d)
		}
		if a := sources.Clean(lb.Addr); a != "" {
			parts = append(parts, "addr "+a)
		}
		if n.Flapping {
			parts = append(parts, fmt.Sprintf("flapping: %d DOWN transitions in %s", n.Flaps, n.FlapWindow))
		}
		if cd := lb.Downs; !math.IsNaN(cd) {
			parts = append(parts, "went DOWN "+lbNum(cd)+"×")
		}
		if dt := lb.Downtime; dt > 0 {
			parts = append(parts, "down "+(time.Duration(dt)*time.Second).String()+" in total")
		}
	case sources.NodeFrontend:
		p := "frontend " + sources.Clean(n.Name)
		if n.Instance != "" {
			p += " on " + sources.Clean(n.Instance)
		}
		parts = append(parts, p)
		if m := lb.Mode.String(); m != "" {
			parts = append(parts, "mode "+m)
		}
		if sc := lb.Sessions; !math.IsNaN(sc) {
			parts = append(parts, "sessions "+lbNum(sc)+"/"+lbNum(lb.SessionLimit))
		}
		for _, x := range []struct {
			name string
			v    float64
		}{{"4xx", lb.Rates.Resp4xx}, {"bad requests", lb.Rates.BadRequests}} {
			if x.v > 0 {
				parts = append(parts, x.name+" "+lbRate(x.v)+"/s")
			}
		}
	default:
		parts = append(parts, sources.Clean(n.Attrs["check"]))
		if errs != "" {
			parts = append(parts, errs)
		}
		if f := sources.Clean(found[correlate.NodeFindingID(n.ID)]); f != "" {
			parts = append(parts, f)
		}
		if lb.Instances > 0 {
			parts = append(parts, fmt.Sprintf("summed over %d LBs", lb.Instances))
		}
		for _, x := range []struct {
			name string
			v    float64
		}{{"connect errors", lb.Rates.ConnErrors}, {"response errors", lb.Rates.RespErrors}, {"retries", lb.Rates.Retries}} {
			if x.v > 0 {
				parts = append(parts, x.name+" "+lbRate(x.v)+"/s")
			}
		}
	}
	return strings.Join(parts, " · ")
}
