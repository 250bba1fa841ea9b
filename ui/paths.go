package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/opsview/opsview/correlate"
	"github.com/opsview/opsview/sources"
)

// pathsView is the Paths screen: per target, hops as rows and vantage
// points as columns (loss and median RTT per cell), the engine's verdict,
// and a drill-down into one vantage's mtr-like table with a per-hop RTT
// sparkline. It draws the verdicts the engine published (Context.Paths)
// and never triangulates itself, so it cannot disagree with Findings.
type pathsView struct {
	target  string // the target shown; "" or a vanished one: the first
	vantage int    // column selected for the drill-down
	row     int
	drill   bool
	scroll  int // first TTL row of the matrix shown
}

// NewPaths makes the Paths view.
func NewPaths() View { return &pathsView{} }

func (v *pathsView) Name() string { return "Paths" }

var pathKeys = struct {
	Target, Vantage, Row, Drill, Back key.Binding
}{
	// not Tab (views) nor [ ] (zoom everywhere): t and T do only this
	Target: key.NewBinding(key.WithKeys("t", "T"), key.WithHelp("t/T", "next/prev target")),
	// not ←/→ (the time cursor everywhere): v and V do only this
	Vantage: key.NewBinding(key.WithKeys("v", "V"), key.WithHelp("v/V", "next/prev vantage")),
	Row:     key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "hop")),
	Drill:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "vantage table")),
	Back:    key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back to matrix")),
}

func (v *pathsView) Keys() []key.Binding {
	return []key.Binding{pathKeys.Target, pathKeys.Vantage, pathKeys.Row, pathKeys.Drill, pathKeys.Back}
}

// matrixRows is how many TTL rows the matrix has room for.
func matrixRows(c *Context) int { return c.Height - 7 }

func (v *pathsView) Update(m tea.Msg, c *Context) (bool, tea.Cmd) {
	msg, ok := m.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	tds := targets(c)
	ti := v.targetIndex(tds)
	var vd correlate.PathVerdict
	if ti >= 0 {
		vd = tds[ti].verdict
	}
	switch msg.String() {
	case "t", "T":
		if ti >= 0 {
			if msg.String() == "T" {
				ti = max(ti-1, 0)
			} else {
				ti = min(ti+1, len(tds)-1)
			}
			v.target = tds[ti].name
		}
		v.row, v.scroll = 0, 0
	case "V":
		v.vantage = max(v.vantage-1, 0)
	case "v":
		v.vantage = max(min(v.vantage+1, len(vd.Paths)-1), 0)
	case "up", "k":
		v.row = max(v.row-1, 0)
	case "down", "j":
		v.row = min(v.row+1, max(v.rowCount(vd)-1, 0))
	case "enter":
		v.drill = true
	case "esc", "backspace":
		if !v.drill {
			return false, nil
		}
		v.drill = false
	default:
		return false, nil
	}
	v.row = min(v.row, max(v.rowCount(vd)-1, 0))
	v.scroll = scrollTo(v.scroll, v.row, matrixRows(c))
	return true, nil
}

// rowCount is how many rows ↑/↓ move over: the TTLs of the matrix, or
// the hops of the vantage drilled into.
func (v *pathsView) rowCount(vd correlate.PathVerdict) int {
	if v.drill {
		if i := v.vantageIndex(vd); i >= 0 {
			return len(vd.Paths[i].Hops)
		}
		return 0
	}
	n := 0
	for _, p := range vd.Paths {
		for _, h := range p.Hops {
			n = max(n, h.TTL)
		}
	}
	return n
}

// scrollTo is the first row shown so that row is in a view of rows lines,
// moving from top as little as it must.
func scrollTo(top, row, rows int) int {
	if row < top {
		top = row
	}
	if rows > 0 && row >= top+rows {
		top = row - rows + 1
	}
	return max(top, 0)
}

// targetData is everything drawn for one target: the engine's verdict
// and the raw traces of each vantage (for the per-hop sparklines).
type targetData struct {
	name    string
	verdict correlate.PathVerdict
	hist    map[string]*correlate.PathHistory // by vantage
}

// targets are the engine's verdicts that pass the filter (on the target
// or one of its vantages), with the snapshot's traces beside them.
func targets(c *Context) []targetData {
	out := make([]targetData, 0, len(c.Paths))
	for _, vd := range c.Paths {
		if c.Filter != "" && !strings.Contains(vd.Target, c.Filter) && !slices.ContainsFunc(vd.Paths, func(p correlate.VantagePath) bool {
			return strings.Contains(p.Vantage, c.Filter)
		}) {
			continue
		}
		td := targetData{name: vd.Target, verdict: vd, hist: map[string]*correlate.PathHistory{}}
		if c.Snap != nil {
			for i := range c.Snap.Paths {
				if c.Snap.Paths[i].Target == vd.Target {
					td.hist[c.Snap.Paths[i].Vantage] = &c.Snap.Paths[i]
				}
			}
		}
		out = append(out, td)
	}
	return out
}

// targetIndex is the place of the target shown in tds (the first when it
// is gone), -1 when there is none.
func (v *pathsView) targetIndex(tds []targetData) int {
	if len(tds) == 0 {
		return -1
	}
	for i := range tds {
		if tds[i].name == v.target {
			return i
		}
	}
	return 0
}

// vantageIndex is the selected vantage within vd, -1 when vd has none.
func (v *pathsView) vantageIndex(vd correlate.PathVerdict) int {
	if len(vd.Paths) == 0 {
		return -1
	}
	return min(v.vantage, len(vd.Paths)-1)
}

func (v *pathsView) Render(c *Context) string {
	lines := make([]string, 0, c.Height)
	add := func(s string) {
		if len(lines) < c.Height {
			lines = append(lines, s)
		}
	}
	tds := targets(c)
	if len(tds) == 0 {
		add(c.Theme.Title.Render("Paths"))
		switch {
		case len(c.Paths) > 0:
			add(c.Theme.Muted.Render(fmt.Sprintf("no target matches %q", clean(c.Filter))))
		case c.Snap != nil && len(c.Snap.Paths) > 0:
			add(c.Theme.Muted.Render("path probes answer; the engine has not judged the paths yet"))
		default:
			add(c.Theme.Muted.Render("no path probes yet: add a source of type probe (opsview config example)"))
		}
		return box(lines, c.Width, c.Height)
	}
	ti := v.targetIndex(tds)
	td := tds[ti]
	vd := td.verdict
	head := fmt.Sprintf("Paths  target %d/%d: %s", ti+1, len(tds), sources.Clean(td.name))
	if p := td.anyAddr(); p != "" && p != td.name {
		head += " (" + p + ")"
	}
	add(c.Theme.Title.Render(head))
	sym, word, st := v.verdictMark(c, vd)
	mark := sym + " " + word + " "
	for i, l := range wrap(sources.Clean(vd.Text), c.Width-ansi.StringWidth(mark), 3) {
		if i == 0 {
			add(st.Render(mark) + c.Theme.Base.Render(l))
		} else {
			add(strings.Repeat(" ", ansi.StringWidth(mark)) + c.Theme.Base.Render(l))
		}
	}
	at := pathsPos{vantage: max(v.vantageIndex(vd), 0), row: min(v.row, max(v.rowCount(vd)-1, 0))}
	at.scroll = scrollTo(min(v.scroll, at.row), at.row, matrixRows(c))
	if v.drill && len(vd.Paths) > 0 {
		v.renderDrill(c, td, vd.Paths[at.vantage], at, add)
	} else {
		v.renderMatrix(c, vd, at, add)
	}
	for len(lines) < c.Height-1 {
		add("")
	}
	help := "t/T target  v/V vantage  ↑/↓ hop  enter table"
	if v.drill {
		help = "esc matrix  v/V vantage  ↑/↓ hop"
	}
	add(c.Theme.Muted.Render(keyName(c, help)))
	return box(lines, c.Width, c.Height)
}

// pathsPos is where the view stands, within what there is to draw.
type pathsPos struct{ vantage, row, scroll int }

func (td *targetData) anyAddr() string {
	for _, h := range td.hist {
		if t := h.Latest(); t != nil && t.Addr != "" {
			return t.Addr
		}
	}
	return ""
}

func (v *pathsView) verdictMark(c *Context, vd correlate.PathVerdict) (string, string, lipgloss.Style) {
	s := c.Symbols
	sym, word, style := s.Unknown, "WAIT", c.Theme.Unknown
	switch vd.Kind {
	case correlate.VerdictNone:
		sym, word, style = s.OK, "CLEAN", c.Theme.OK
	case correlate.VerdictShared:
		sym, word, style = s.Critical, "SHARED", c.Theme.Critical
	case correlate.VerdictLocal:
		sym, word, style = s.Warning, "LOCAL", c.Theme.Warning
	case correlate.VerdictDestination:
		sym, word, style = s.Warning, "DEST", c.Theme.Warning
	case correlate.VerdictMixed:
		sym, word, style = s.Warning, "MIXED", c.Theme.Warning
	}
	if !vd.Persistent && vd.Kind != correlate.VerdictInsufficient {
		// what the probes so far tend to; the engine has not decided
		return s.Unknown, word + "?", c.Theme.Unknown
	}
	return sym, word, style
}

// cell renders one vantage's view of one TTL in w cells.
func hopCell(c *Context, h *correlate.PathHop, w int) string {
	if h == nil {
		return pad("", w)
	}
	if h.Received == 0 && !h.Dest {
		return c.Theme.Muted.Render(pad("  *  silent", w))
	}
	txt := fmt.Sprintf("%3.0f%% %s", h.Loss*100, fmtRTT(h.MedianRTT))
	st := c.Theme.OK
	switch {
	case h.RateLimited:
		txt = fmt.Sprintf("%3.0f%% rl", h.Loss*100)
		st = c.Theme.Muted
	case h.Onset:
		txt += " <onset"
		st = c.Theme.Critical
	case h.Floor >= 0.05:
		st = c.Theme.Warning
	}
	return st.Render(pad(txt, w))
}

func fmtRTT(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

func (v *pathsView) renderMatrix(c *Context, vd correlate.PathVerdict, at pathsPos, add func(string)) {
	n := len(vd.Paths)
	if n == 0 {
		add(c.Theme.Muted.Render("no vantage point has data for this target yet"))
		return
	}
	maxTTL := 0
	byV := make([]map[int]*correlate.PathHop, n)
	for i := range vd.Paths {
		byV[i] = map[int]*correlate.PathHop{}
		for j := range vd.Paths[i].Hops {
			h := &vd.Paths[i].Hops[j]
			byV[i][h.TTL] = h
			maxTTL = max(maxTTL, h.TTL)
		}
	}
	// the hop's names take what they need, leaving room for two vantages
	cellW := 18
	need := 0
	for ttl := 1; ttl <= maxTTL; ttl++ {
		need = max(need, ansi.StringWidth(hopLabel(byV, ttl))+1)
	}
	labelW := max(min(need, c.Width-4-cellW*min(n, 2)), 16)
	fit := max((c.Width-labelW-4)/cellW, 1)
	first := 0
	if at.vantage >= fit {
		first = at.vantage - fit + 1
	}
	last := min(first+fit, n)
	var hb strings.Builder
	hb.WriteString(pad("TTL hop", labelW+4))
	for i := first; i < last; i++ {
		name := pathName(&vd.Paths[i])
		if i == at.vantage {
			name = "[" + name + "]"
		}
		hb.WriteString(pad(sources.Clean(name), cellW))
	}
	add(c.Theme.Muted.Render(hb.String()))
	rows := matrixRows(c)
	for ttl := at.scroll + 1; ttl <= maxTTL && ttl <= at.scroll+max(rows, 1); ttl++ {
		label := hopLabel(byV, ttl)
		var b strings.Builder
		b.WriteString(fmt.Sprintf("%3d ", ttl))
		l := pad(label, labelW)
		if ttl-1 == at.row {
			l = c.Theme.Selected.Render(l)
		} else {
			l = c.Theme.Base.Render(l)
		}
		b.WriteString(l)
		for i := first; i < last; i++ {
			b.WriteString(hopCell(c, byV[i][ttl], cellW))
		}
		add(b.String())
	}
	var foot []string
	if len(vd.RateLimited) > 0 {
		foot = append(foot, "rl = answers rate-limited, loss does not persist (not blamed)")
	}
	if vd.LatencyKind == correlate.VerdictShared || vd.LatencyKind == correlate.VerdictLocal {
		foot = append(foot, fmt.Sprintf("median RTT +%s from %s", vd.LatencyRise.Round(time.Millisecond), vd.LatencyPlace.To))
	}
	if len(vd.Balanced) > 0 {
		foot = append(foot, "lb = load-balanced: "+strings.Join(vd.Balanced, " | "))
	}
	if last-first < n {
		foot = append(foot, fmt.Sprintf("vantages %d-%d of %d", first+1, last, n))
	}
	if len(foot) > 0 {
		// whole notes on a line, a note that does not fit on the next
		line := ""
		for _, f := range foot {
			if line != "" && ansi.StringWidth(line+c.dot()+f) > c.Width {
				add(c.Theme.Muted.Render(line))
				line = ""
			}
			if line != "" {
				line += c.dot()
			}
			line += f
		}
		add(c.Theme.Muted.Render(line))
	}
}

// pathName names a column: the vantage, and the branch of a load
// balancer its flows took when the engine split its path by them.
func pathName(p *correlate.VantagePath) string {
	if p.Branch == "" {
		return p.Vantage
	}
	return p.Vantage + " via " + p.Branch
}

// hopLabel names a TTL row: the addresses seen there (one place may answer
// each vantage from another address), its name and ASN.
func hopLabel(byV []map[int]*correlate.PathHop, ttl int) string {
	var addrs []string
	seen := map[string]bool{}
	name, asn, lb := "", 0, false
	for _, m := range byV {
		h := m[ttl]
		if h == nil || h.Addr == "" || seen[h.Addr] {
			continue
		}
		seen[h.Addr] = true
		addrs = append(addrs, h.Addr)
		lb = lb || h.ECMP
		if name == "" {
			name = h.Name
		}
		if asn == 0 {
			asn = h.ASN
		}
	}
	if len(addrs) == 0 {
		return "???"
	}
	s := addrs[0]
	if lb {
		s = "lb " + s // a load balancer's branches
	}
	if len(addrs) > 1 {
		s += fmt.Sprintf(" +%d", len(addrs)-1)
	}
	if name != "" {
		s += " " + sources.Clean(name)
	}
	if asn != 0 {
		s += fmt.Sprintf(" AS%d", asn)
	}
	return s
}

func (v *pathsView) renderDrill(c *Context, td targetData, vp correlate.VantagePath, at pathsPos, add func(string)) {
	add(c.Theme.Title.Render(fmt.Sprintf("vantage %s: end-to-end loss %.0f %% over %d probes", sources.Clean(pathName(&vp)), vp.Loss*100, vp.Sent)))
	hist := td.hist[vp.Vantage]
	rows := c.Height - 8
	start := 0
	if rows > 0 && at.row >= rows {
		start = at.row - rows + 1
	}
	end := min(len(vp.Hops), start+max(rows, 1))
	hostOf := func(h correlate.PathHop) string {
		host := h.Addr
		if host == "" {
			host = "???"
		}
		if h.Name != "" {
			host += " " + sources.Clean(h.Name)
		}
		return host
	}
	markOf := func(h correlate.PathHop) (string, lipgloss.Style) {
		switch {
		case h.RateLimited:
			return "rate-limited", c.Theme.Muted
		case h.Onset:
			return "<onset", c.Theme.Critical
		}
		return "", c.Theme.Base
	}
	// the columns: a narrow terminal gives up Rcv and Best (Loss% and Snt
	// say as much) before the host's name or the hop's mark is cut; the
	// host takes what it needs, the RTT sparkline what is left
	wide := c.Width >= 100
	hostW, markW := 4, 0
	for _, h := range vp.Hops[start:end] {
		hostW = max(hostW, ansi.StringWidth(hostOf(h)))
		m, _ := markOf(h)
		markW = max(markW, len(m))
	}
	num := func(h correlate.PathHop) string {
		if wide {
			return fmt.Sprintf(" %5.1f%% %5d %5d %7s %7s %6.0f%%  ", h.Loss*100, h.Sent, h.Received, fmtRTT(h.MinRTT), fmtRTT(h.MedianRTT), h.Floor*100)
		}
		return fmt.Sprintf(" %5.1f%% %5d %7s %6.0f%%  ", h.Loss*100, h.Sent, fmtRTT(h.MedianRTT), h.Floor*100)
	}
	numHdr := fmt.Sprintf(" %6s %5s %7s %7s  ", "Loss%", "Snt", "Med", "Floor%")
	if wide {
		numHdr = fmt.Sprintf(" %6s %5s %5s %7s %7s %7s  ", "Loss%", "Snt", "Rcv", "Best", "Med", "Floor%")
	}
	if markW > 0 {
		markW++ // a space before the sparkline
	}
	fixed := 4 + len(numHdr) + markW
	hostW = max(min(hostW, c.Width-fixed-4), 8) // a few cells of sparkline at least
	sparkW := max(c.Width-fixed-hostW, 0)
	rtt := "RTT (median per poll)"
	if sparkW < len(rtt) {
		rtt = "RTT"
	}
	add(c.Theme.Muted.Render(fmt.Sprintf("%3s %-*s%s%-*s%s", "TTL", hostW, "Host", numHdr, markW, "", rtt)))
	for i := start; i < end; i++ {
		h := vp.Hops[i]
		mark, st := markOf(h)
		line := fmt.Sprintf("%3d %s%s", h.TTL, fit(hostOf(h), hostW), num(h))
		if i == at.row {
			line = c.Theme.Selected.Render(line)
		} else {
			line = st.Render(line)
		}
		add(line + st.Render(fmt.Sprintf("%-*s", markW, mark)) + hopSparkline(c, hist, h.TTL, sparkW))
	}
}

// sparkline draws the median RTT of one TTL over the polls in history.
func hopSparkline(c *Context, h *correlate.PathHistory, ttl, w int) string {
	if h == nil || w <= 0 {
		return ""
	}
	var vals []time.Duration
	for _, tr := range h.Traces {
		var d time.Duration = -1
		for _, hop := range tr.Hops {
			if hop.TTL == ttl && hop.Received > 0 {
				d = hop.Median
				break
			}
		}
		vals = append(vals, d)
	}
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	lo, hi := time.Duration(-1), time.Duration(0)
	for _, d := range vals {
		if d < 0 {
			continue
		}
		if lo < 0 || d < lo {
			lo = d
		}
		hi = max(hi, d)
	}
	ramp := []rune("▁▂▃▄▅▆▇█")
	if c.ASCII {
		ramp = []rune("_.-~=+*#")
	}
	var b strings.Builder
	for _, d := range vals {
		if d < 0 {
			b.WriteRune(' ')
			continue
		}
		i := 0
		if hi > lo {
			i = int(float64(d-lo) / float64(hi-lo) * float64(len(ramp)-1))
		}
		b.WriteRune(ramp[i])
	}
	return c.Theme.Info.Render(b.String())
}

func pad(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w-1, "…")
	return s + strings.Repeat(" ", w-ansi.StringWidth(s))
}
