package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
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
// a round costs about one round trip plus the grace period.
type Tracer struct {
	Target string
	Addr   netip.Addr
	opt    TracerOptions
	c      conn

	closed atomic.Bool
	mu     sync.Mutex
	active *roundState
	done   chan struct{}
	dist   int // TTL at which the target answered, 0 = unknown
}

type roundState struct {
	base    uint16
	n       int
	replies chan reply
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
	t := &Tracer{Target: target, Addr: addr, opt: opt, c: c, done: make(chan struct{})}
	go t.readLoop()
	return t, nil
}

// Backend is the name of the backend in use.
func (t *Tracer) Backend() string { return t.c.name() }

// Close releases the socket.
func (t *Tracer) Close() error {
	t.closed.Store(true)
	err := t.c.close()
	<-t.done
	return err
}

func (t *Tracer) readLoop() {
	defer close(t.done)
	for {
		r, ok, err := t.c.recv()
		if err != nil {
			var errno unix.Errno
			if t.closed.Load() || !errors.As(err, &errno) || errno == unix.EBADF {
				return
			}
			continue
		}
		if !ok {
			continue
		}
		t.mu.Lock()
		rs := t.active
		t.mu.Unlock()
		if rs == nil || r.id-rs.base >= 64 {
			continue // late answer of an earlier round
		}
		select {
		case rs.replies <- r:
		default:
		}
	}
}

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
	rs := &roundState{base: uint16(seq%1024) * 64, n: n, replies: make(chan reply, 2*n+8)}
	t.mu.Lock()
	t.active = rs
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.active = nil
		t.mu.Unlock()
	}()

	// the end-to-end probe goes first: the TTL-limited probes follow it
	// back to back, and a queue that is nearly full drops the last of a
	// burst, which would read as loss at the target alone
	sent := make([]time.Time, 64)
	var tcp chan EndToEnd
	e2ePending := true
	if t.c.echoes() {
		sent[0] = time.Now()
		if err := t.c.send(64, rs.base, flow); err != nil {
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
		if err := t.c.send(ttl, rs.base+uint16(ttl), flow); err != nil {
			r.Error = fmt.Sprintf("send TTL %d to %s: %v", ttl, t.Addr, err)
			return r
		}
	}

	timeout := time.NewTimer(t.opt.Timeout)
	defer timeout.Stop()
	var grace <-chan time.Time
	answered := 0
	reachedAt := 0
	pathChanged := false
	for {
		if answered >= n && !e2ePending {
			break
		}
		if reachedAt > 0 && !e2ePending {
			// every TTL up to the target answered?
			all := true
			for i := 0; i < reachedAt; i++ {
				if r.Probes[i].Kind == KindNone {
					all = false
					break
				}
			}
			if all {
				break
			}
		}
		select {
		case <-ctx.Done():
			r.Error = ctx.Err().Error()
			return r
		case <-timeout.C:
			goto out
		case <-grace:
			goto out
		case e := <-tcp:
			r.E2E = &e
			e2ePending = false
			tcp = nil
		case rep := <-rs.replies:
			off := int(rep.id - rs.base)
			if off == 0 {
				if r.E2E != nil && !r.E2E.OK && rep.kind == KindReached {
					r.E2E.OK = true
					r.E2E.RTTus = rep.at.Sub(sent[0]).Microseconds()
					e2ePending = false
				}
				continue
			}
			if off > n || r.Probes[off-1].Kind != KindNone {
				continue
			}
			p := &r.Probes[off-1]
			p.From, p.Kind, p.RTTus = rep.from.String(), rep.kind, max(rep.at.Sub(sent[off]).Microseconds(), 1)
			answered++
			if rep.kind == KindReached && (reachedAt == 0 || off < reachedAt) {
				reachedAt = off
				if grace == nil {
					grace = time.After(t.opt.Grace)
				}
			}
			if off == t.dist && rep.kind == KindTTL {
				pathChanged = true
			}
		}
	}
out:
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
