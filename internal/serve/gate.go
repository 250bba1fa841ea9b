package serve

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// gate admits connections before they log in. A connection that has not
// logged in holds a pending slot: at most perAddr per source address and
// max in all, each for at most timeout, after which it is closed. A
// stalled or hostile client can therefore hold only a few slots, for a
// short time, and never the sessions of --max-connections, which count
// logged-in sessions only.
type gate struct {
	perAddr, max int
	timeout      time.Duration
	logf         func(string, ...any)

	mu      sync.Mutex
	total   int
	addrs   map[string]*pending
	lastLog time.Time // of a refusal for the overall limit
}

// pending is what the gate knows of one source address; it is dropped
// when the address has no pending connection left, so the map is bounded
// by the pending connections.
type pending struct {
	n          int
	lastLog    time.Time
	suppressed int
}

func newGate(perAddr, max int, timeout time.Duration, logf func(string, ...any)) *gate {
	return &gate{perAddr: perAddr, max: max, timeout: timeout, logf: logf, addrs: map[string]*pending{}}
}

// refusalLogEvery bounds the log lines a flood from one address can write.
const refusalLogEvery = time.Second

// admit returns c guarded by the login deadline, or nil (c refused and
// the refusal logged with its address) when a limit is reached.
func (g *gate) admit(c net.Conn) *guardConn {
	host := hostOf(c.RemoteAddr())
	g.mu.Lock()
	p := g.addrs[host]
	switch {
	case p != nil && p.n >= g.perAddr:
		now := time.Now()
		p.suppressed++
		if now.Sub(p.lastLog) >= refusalLogEvery {
			g.logf("serve: refused a connection from %s: %d logins pending from this address (limit %d; %d refused since the last line)", host, p.n, g.perAddr, p.suppressed)
			p.lastLog, p.suppressed = now, 0
		}
		g.mu.Unlock()
		return nil
	case g.total >= g.max:
		now := time.Now()
		if now.Sub(g.lastLog) >= refusalLogEvery {
			g.logf("serve: refused a connection from %s: %d logins pending (limit %d)", host, g.total, g.max)
			g.lastLog = now
		}
		g.mu.Unlock()
		return nil
	}
	if p == nil {
		p = &pending{}
		g.addrs[host] = p
	}
	p.n++
	g.total++
	g.mu.Unlock()

	gc := &guardConn{Conn: c, gate: g, host: host}
	gc.timer = time.AfterFunc(g.timeout, func() {
		if gc.release() {
			g.logf("serve: closed the connection from %s: no login within %s", host, g.timeout)
			gc.Conn.Close()
		}
	})
	return gc
}

func (g *gate) done(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if p := g.addrs[host]; p != nil {
		if p.n--; p.n <= 0 {
			delete(g.addrs, host)
		}
	}
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// guardConn is a connection until it logs in: it holds its pending slot
// and is closed at the login deadline.
type guardConn struct {
	net.Conn
	gate     *gate
	host     string
	timer    *time.Timer
	released atomic.Bool
}

// release frees the pending slot once; it reports whether this call did.
func (c *guardConn) release() bool {
	if !c.released.CompareAndSwap(false, true) {
		return false
	}
	c.gate.done(c.host)
	return true
}

// loggedIn lifts the login deadline and frees the pending slot.
func (c *guardConn) loggedIn() {
	if c.release() {
		c.timer.Stop()
	}
}

func (c *guardConn) Close() error {
	if c.release() {
		c.timer.Stop()
	}
	return c.Conn.Close()
}

// idleWatch closes a session that got no input from its user for
// timeout. Only the user's input counts: the screen redrawing (writes, and
// the window adjustments the client sends for them) does not.
type idleWatch struct {
	last    atomic.Int64 // unix nanoseconds of the last input
	timeout time.Duration
}

func newIdleWatch(timeout time.Duration) *idleWatch {
	w := &idleWatch{timeout: timeout}
	w.touch()
	return w
}

func (w *idleWatch) touch() { w.last.Store(time.Now().UnixNano()) }

// run calls expire once the user has been idle for the timeout, unless
// done closes first.
func (w *idleWatch) run(done <-chan struct{}, expire func()) {
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, w.last.Load()))
		if idle >= w.timeout {
			expire()
			return
		}
		t.Reset(w.timeout - idle)
	}
}
