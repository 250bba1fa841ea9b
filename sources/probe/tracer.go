package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// TracerOptions tune one tracer.
type TracerOptions struct {
	// Backend: auto (default), raw-icmp, ping, udp or icmp (raw or ping).
	Backend string
	// MaxTTL is the longest path probed (default 30, at most 63).
	MaxTTL int
	// Timeout is how long a round waits for answers (default 1s).
	Timeout time.Duration
	// Grace is how long a round waits after the target answered (default
	// 100ms).
	Grace time.Duration
	// TCPPort is the port of the end-to-end TCP connect probe used when
	// the backend cannot send ICMP echo (default 443; a refused
	// connection counts as an answer).
	TCPPort int
	// Flows is how many probe flows the rounds take turns on (default
	// 4; 1 = one flow for good). Each flow keeps the fields load
	// balancers hash constant (Paris traceroute), so its probes keep to
	// one branch, and flows that part at a hop show the branches.
	Flows int
}

func (o *TracerOptions) defaults() {
	if o.MaxTTL <= 0 {
		o.MaxTTL = 30
	}
	if o.MaxTTL > 63 {
		o.MaxTTL = 63
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 100 * time.Millisecond
	}
	if o.TCPPort <= 0 {
		o.TCPPort = 443
	}
	if o.Backend == "" {
		o.Backend = BackendAuto
	}
	if o.Flows <= 0 {
		o.Flows = DefaultFlows
	}
	o.Flows = min(o.Flows, maxFlows)
}

// DefaultFlows is how many flows a tracer takes turns on.
const DefaultFlows = 4

var identSeq atomic.Uint32

// Tracer probes one target: every TTL of a round is in flight at once, so
// a round costs about one round trip plus the grace period. A round
// reads its answers itself, and an answer counts by when the kernel got
// it, not by when the round got to read it: with a hundred tracers on
// two cores, answers wait on their sockets for tens of milliseconds, and
// read late they used to be dropped as answers of an earlier round.
type Tracer struct {
	Target string
	Addr   netip.Addr
	opt    TracerOptions
	c      conn
	dist   int // TTL at which the target answered, 0 = unknown
}

// ResolveTarget turns a configured target into an address.
func ResolveTarget(ctx context.Context, target string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(target); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", target)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve probe target %q: %w (check the name, or give an address)", target, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolve probe target %q: no address", target)
	}
	return addrs[0], nil
}

// NewTracer opens a tracer's socket with the best backend permitted.
func NewTracer(target string, addr netip.Addr, opt TracerOptions) (*Tracer, error) {
	opt.defaults()
	// raw ICMP tracers own blocks of maxFlows identifiers, apart within
	// a process
	ident := (uint16(os.Getpid())*7919 + uint16(identSeq.Add(1))*maxFlows) &^ (maxFlows - 1)
	c, err := openConn(opt.Backend, addr, ident)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", target, err)
	}
	return &Tracer{Target: target, Addr: addr, opt: opt, c: c}, nil
}

// Backend is the name of the backend in use.
func (t *Tracer) Backend() string { return t.c.name() }

// Close releases the socket.
func (t *Tracer) Close() error { return t.c.close() }

// wake bounds how long a round blocks on its socket, so it notices a
// cancelled context and a finished TCP probe.
const wake = 50 * time.Millisecond

// Round runs one probe round: sends every TTL (up to the known distance
// of the target) back to back plus one end-to-end probe, and waits until
// all answered, or the target answered and the grace period passed, or the
// timeout.
func (t *Tracer) Round(ctx context.Context, seq int) Round {
	flow := seq % max(1, min(t.opt.Flows, t.c.flows()))
	r := Round{V: WireVersion, Target: t.Target, Addr: t.Addr.String(), Seq: seq, Flow: flow, At: time.Now().UTC(), Backend: t.c.name()}
	n := t.opt.MaxTTL
	if t.dist > 0 {
		n = t.dist
	}
	base := uint16(seq%1024) * 64

	// the end-to-end probe goes first: the TTL-limited probes follow it
	// back to back, and a queue that is nearly full drops the last of a
	// burst, which would read as loss at the target alone
	sent := make([]time.Time, 64)
	var tcp chan EndToEnd
	e2ePending := true
	if t.c.echoes() {
		sent[0] = time.Now()
		if err := t.c.send(64, base, flow); err != nil {
			r.Error = fmt.Sprintf("send echo to %s: %v", t.Addr, err)
			return r
		}
		r.E2E = &EndToEnd{Method: "icmp"}
	} else {
		tcp = make(chan EndToEnd, 1)
		go func() { tcp <- tcpProbe(ctx, t.Addr, t.opt.TCPPort, t.opt.Timeout) }()
	}
	r.Probes = make([]Probe, n)
	for ttl := 1; ttl <= n; ttl++ {
		r.Probes[ttl-1].TTL = ttl
		sent[ttl] = time.Now()
		if err := t.c.send(ttl, base+uint16(ttl), flow); err != nil {
			r.Error = fmt.Sprintf("send TTL %d to %s: %v", ttl, t.Addr, err)
			return r
		}
	}

	deadline := time.Now().Add(t.opt.Timeout)
	end := deadline // the deadline, or the end of the grace period
	answered := 0
	reachedAt := 0
	pathChanged := false
	take := func(rep reply) {
		off := int(rep.id - base)
		if off < 0 || off >= 64 {
			return // an answer of another round
		}
		if off == 0 {
			if r.E2E != nil && !r.E2E.OK && rep.kind == KindReached {
				r.E2E.OK = true
				r.E2E.RTTus = max(rep.at.Sub(sent[0]).Microseconds(), 1)
				e2ePending = false
			}
			return
		}
		if off > n || r.Probes[off-1].Kind != KindNone {
			return
		}
		p := &r.Probes[off-1]
		p.From, p.Kind, p.RTTus = rep.from.String(), rep.kind, max(rep.at.Sub(sent[off]).Microseconds(), 1)
		answered++
		if rep.kind == KindReached && (reachedAt == 0 || off < reachedAt) {
			reachedAt = off
			if g := rep.at.Add(t.opt.Grace); g.Before(end) {
				end = g
			}
		}
		if off == t.dist && rep.kind == KindTTL {
			pathChanged = true
		}
	}
	ttlsDone := func() bool {
		if answered >= n {
			return true
		}
		if reachedAt == 0 {
			return false
		}
		for i := 0; i < reachedAt; i++ { // every TTL up to the target answered?
			if r.Probes[i].Kind == KindNone {
				return false
			}
		}
		return true
	}
	done := func() bool { return !e2ePending && ttlsDone() }
	for !done() {
		if ctx.Err() != nil {
			r.Error = ctx.Err().Error()
			return r
		}
		now := time.Now()
		if !now.Before(end) {
			break
		}
		if tcp != nil {
			// only the TCP probe left to wait for: wait on it
			var wait <-chan time.Time
			if ttlsDone() {
				wait = time.After(end.Sub(now))
			}
			select {
			case e := <-tcp:
				r.E2E, e2ePending, tcp = &e, false, nil
				continue
			case <-wait:
				continue
			default:
				if wait != nil {
					select {
					case e := <-tcp:
						r.E2E, e2ePending, tcp = &e, false, nil
					case <-wait:
					case <-ctx.Done():
					}
					continue
				}
			}
		}
		until := now.Add(wake)
		if end.Before(until) {
			until = end
		}
		t.c.setDeadline(until)
		rep, ok, err := t.c.recv(true)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if isClosed(err) {
				r.Error = fmt.Sprintf("read answers from %s: %v", t.Addr, err)
				return r
			}
			continue
		}
		if ok {
			take(rep)
		}
	}
	// what the kernel got before the end counts, though read only now
	for {
		rep, ok, err := t.c.recv(false)
		if err != nil {
			break
		}
		if ok && !rep.at.After(end) {
			take(rep)
		}
	}
	if reachedAt > 0 {
		t.dist = reachedAt
		r.Probes = r.Probes[:reachedAt]
	} else if pathChanged {
		t.dist = 0
	}
	if r.E2E == nil && tcp != nil {
		select {
		case e := <-tcp:
			r.E2E = &e
		case <-time.After(t.opt.Timeout):
			r.E2E = &EndToEnd{Method: "tcp"}
		}
	}
	return r
}

// isClosed reports whether a read failed because the socket is closed.
func isClosed(err error) bool {
	var errno unix.Errno
	return errors.Is(err, os.ErrClosed) || (errors.As(err, &errno) && errno == unix.EBADF)
}

// tcpProbe connects to the target: an accepted or refused connection is an
// answer from the target itself.
func tcpProbe(ctx context.Context, addr netip.Addr, port int, timeout time.Duration) EndToEnd {
	d := net.Dialer{Timeout: timeout}
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	rtt := time.Since(start)
	if err == nil {
		c.Close()
		return EndToEnd{Method: "tcp", OK: true, RTTus: max(rtt.Microseconds(), 1)}
	}
	if errors.Is(err, unix.ECONNREFUSED) {
		return EndToEnd{Method: "tcp", OK: true, RTTus: max(rtt.Microseconds(), 1)}
	}
	return EndToEnd{Method: "tcp"}
}
