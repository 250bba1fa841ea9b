package probe

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/opsview/opsview/sources"
)

// MtrRaw turns the streamed output of `mtr -n --raw` (mtr-tiny 0.95:
// `x HOP SEQ` sent, `h HOP IP` host, `p HOP USEC SEQ` reply, `d`/`m`
// ignored) into Rounds. A round is one pass over the TTLs; a pass is
// emitted once the next pass has started (so late replies still count) or
// at Flush. Duplicate `h` lines (mtr#499) are tolerated.
type MtrRaw struct {
	Target string
	Addr   string // the target's address: the hop that answers from it is the destination
	seq    int
	hosts  map[int]string
	sent   map[int]*mtrProbe // by mtr sequence number
	cur    *mtrPass
	prev   *mtrPass
	last   int // hop of the last x line
	now    func() time.Time
}

type mtrProbe struct {
	pass *mtrPass
	hop  int
}

type mtrPass struct {
	at     time.Time
	probes map[int]*Probe // by TTL
}

// NewMtrRaw makes a parser for one target.
func NewMtrRaw(target, addr string) *MtrRaw {
	return &MtrRaw{Target: target, Addr: addr, hosts: map[int]string{}, sent: map[int]*mtrProbe{}, last: -1, now: time.Now}
}

// maxMtrHop bounds the hop index accepted from mtr.
const maxMtrHop = 255

// Line parses one line and returns the rounds it completed.
func (m *MtrRaw) Line(line string) ([]Round, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil, nil
	}
	num := func(i int) (int, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("mtr --raw: short line %q", sources.Clean(trunc(line, 80)))
		}
		n, err := strconv.Atoi(f[i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("mtr --raw: bad number %q in %q", sources.Clean(trunc(f[i], 20)), sources.Clean(trunc(line, 80)))
		}
		return n, nil
	}
	switch f[0] {
	case "x":
		hop, err := num(1)
		if err != nil {
			return nil, err
		}
		seq, err := num(2)
		if err != nil {
			return nil, err
		}
		if hop > maxMtrHop {
			return nil, fmt.Errorf("mtr --raw: hop %d out of range", hop)
		}
		var out []Round
		if m.cur == nil || hop <= m.last {
			if m.prev != nil {
				out = append(out, m.emit(m.prev))
			}
			m.prev = m.cur
			m.cur = &mtrPass{at: m.now().UTC(), probes: map[int]*Probe{}}
		}
		m.last = hop
		m.cur.probes[hop+1] = &Probe{TTL: hop + 1}
		m.sent[seq] = &mtrProbe{pass: m.cur, hop: hop}
		return out, nil
	case "h":
		hop, err := num(1)
		if err != nil {
			return nil, err
		}
		if len(f) < 3 || hop > maxMtrHop {
			return nil, fmt.Errorf("mtr --raw: bad host line %q", sources.Clean(trunc(line, 80)))
		}
		a, err := netip.ParseAddr(f[2])
		if err != nil {
			return nil, fmt.Errorf("mtr --raw: bad address %q (run mtr with -n)", sources.Clean(trunc(f[2], 64)))
		}
		m.hosts[hop] = a.Unmap().String()
		return nil, nil
	case "p":
		hop, err := num(1)
		if err != nil {
			return nil, err
		}
		usec, err := num(2)
		if err != nil {
			return nil, err
		}
		seq, err := num(3)
		if err != nil {
			return nil, err
		}
		sp, ok := m.sent[seq]
		if !ok || sp.hop != hop {
			return nil, nil // a reply to a probe we did not see sent
		}
		delete(m.sent, seq)
		p := sp.pass.probes[hop+1]
		if p == nil || p.Kind != KindNone {
			return nil, nil
		}
		p.From = m.hosts[hop]
		p.RTTus = max(int64(usec), 1)
		p.Kind = KindTTL
		if p.From != "" && p.From == m.Addr {
			p.Kind = KindReached
		}
		return nil, nil
	case "d", "m", "t":
		return nil, nil
	}
	return nil, fmt.Errorf("mtr --raw: unknown line %q (is this mtr --raw output?)", sources.Clean(trunc(line, 80)))
}

// Flush emits the passes still open (at the end of mtr's output).
func (m *MtrRaw) Flush() []Round {
	var out []Round
	for _, p := range []*mtrPass{m.prev, m.cur} {
		if p != nil {
			out = append(out, m.emit(p))
		}
	}
	m.prev, m.cur = nil, nil
	return out
}

func (m *MtrRaw) emit(p *mtrPass) Round {
	r := Round{V: WireVersion, Target: m.Target, Addr: m.Addr, Seq: m.seq, At: p.at, Backend: "mtr"}
	m.seq++
	maxTTL := 0
	for ttl := range p.probes {
		maxTTL = max(maxTTL, ttl)
	}
	reached := 0
	for ttl := 1; ttl <= maxTTL; ttl++ {
		pr, ok := p.probes[ttl]
		if !ok {
			continue
		}
		r.Probes = append(r.Probes, *pr)
		if pr.Kind == KindReached && reached == 0 {
			reached = ttl
		}
	}
	// mtr probes with ICMP echo by default: the destination's answer is a
	// trustworthy end-to-end sample. The hop of the destination is the one
	// whose host is the target.
	dest := 0
	for hop, h := range m.hosts {
		if h == m.Addr && (dest == 0 || hop+1 < dest) {
			dest = hop + 1
		}
	}
	if dest > 0 {
		if pr, ok := p.probes[dest]; ok {
			r.E2E = &EndToEnd{Method: "icmp", OK: pr.Kind == KindReached, RTTus: pr.RTTus}
		}
	}
	// forget probes of this pass that never got an answer
	for seq, sp := range m.sent {
		if sp.pass == p {
			delete(m.sent, seq)
		}
	}
	return r
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
