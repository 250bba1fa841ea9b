//go:build linux

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// One raw ICMP socket for every raw tracer of the process (per address
// family and network namespace), its answers handed to each tracer by
// the echo identifier they carry or quote. The kernel gives every raw
// ICMP socket a copy of every ICMP packet: with a socket per target,
// 100 targets meant 100 copies (and 100 filter runs) of each answer.

// rawMuxes are the shared sockets by family and network namespace.
var rawMuxes = struct {
	sync.Mutex
	m map[rawMuxKey]*rawMux
}{m: map[rawMuxKey]*rawMux{}}

type rawMuxKey struct {
	v6    bool
	netns uint64 // the inode of the opening thread's network namespace
}

// rawMux is a shared raw ICMP socket and its readers.
type rawMux struct {
	key  rawMuxKey
	s    *sock
	send sync.Mutex // the TTL is the socket's: set and send as one
	mu   sync.Mutex
	subs map[uint16]chan rawPacket // by identifier block
	refs int
	// dropped counts packets a tracer's queue had no room for
	dropped int
	stop    atomic.Bool // the socket is closed (or closing)
	// pumping guards ps, the socket with buffers of its own that pump
	// reads beside the reader
	pumping sync.Mutex
	ps      *sock
}

// rawPacket is one packet the shared socket read.
type rawPacket struct {
	data []byte
	from netip.Addr // the sender (IPv6: not in data)
	at   time.Time
}

// rawRcvBuf is the receive buffer asked for the shared socket.
const rawRcvBuf = 8 << 20

// rawQueue is how many packets wait for one tracer: a few rounds'
// answers (a round is at most 64 probes).
const rawQueue = 512

var (
	v4Any = netip.IPv4Unspecified()
	v6Any = netip.IPv6Unspecified()
)

// threadNetns is the inode of the calling thread's network namespace (0
// when it cannot be told).
func threadNetns() uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0
	}
	return st.Ino
}

// joinRawMux opens (or shares) the raw socket of the family and the
// calling thread's namespace and subscribes the identifier block of
// ident to it.
func joinRawMux(v6 bool, ident uint16) (*rawMux, <-chan rawPacket, error) {
	key := rawMuxKey{v6: v6, netns: threadNetns()}
	rawMuxes.Lock()
	defer rawMuxes.Unlock()
	m := rawMuxes.m[key]
	if m == nil {
		proto, target := unix.IPPROTO_ICMP, v4Any
		if v6 {
			proto, target = unix.IPPROTO_ICMPV6, v6Any
		}
		s, err := openSock(target, unix.SOCK_RAW, proto, false)
		if err != nil {
			return nil, nil, err
		}
		// every tracer's answers queue here: a round to 100 targets 30
		// hops away is 3,000 answers at once, and the default buffer
		// (~200 kB) holds about 300
		s.rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rawRcvBuf) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rawRcvBuf) // up to net.core.rmem_max
			}
		})
		if err := attachFilter(s); err != nil {
			s.close()
			return nil, nil, fmt.Errorf("filter: %w", err)
		}
		m = &rawMux{key: key, s: s, subs: map[uint16]chan rawPacket{}}
		rawMuxes.m[key] = m
		go m.read()
	}
	ch := make(chan rawPacket, rawQueue)
	m.mu.Lock()
	m.subs[ident&^(maxFlows-1)] = ch
	m.mu.Unlock()
	m.refs++
	return m, ch, nil
}

// leave unsubscribes ident's block; the last one closes the socket.
func (m *rawMux) leave(ident uint16) error {
	rawMuxes.Lock()
	defer rawMuxes.Unlock()
	m.mu.Lock()
	delete(m.subs, ident&^(maxFlows-1))
	m.mu.Unlock()
	if m.refs--; m.refs > 0 {
		return nil
	}
	delete(rawMuxes.m, m.key)
	m.stop.Store(true)
	return m.s.close()
}

// read hands every packet to the tracer whose identifier it carries,
// until the socket is closed.
func (m *rawMux) read() {
	for {
		data, _, from, _, at, err := m.s.read(true)
		if err != nil {
			if m.stop.Load() || isClosed(err) {
				return
			}
			if !errors.Is(err, syscall.EINTR) {
				time.Sleep(time.Millisecond) // not expected: do not spin
			}
			continue
		}
		m.dispatch(data, from, at)
	}
}

// pump hands out what the kernel has queued now, without waiting for the
// reader: a round that ends counts the answers the kernel got before its
// end, though the reader has not come to them yet.
func (m *rawMux) pump() {
	m.pumping.Lock()
	defer m.pumping.Unlock()
	if m.ps == nil {
		c := *m.s // the same socket, buffers of its own
		c.buf, c.oob = make([]byte, len(m.s.buf)), make([]byte, len(m.s.oob))
		m.ps = &c
	}
	for i := 0; i < 4*rawQueue; i++ {
		data, _, from, _, at, err := m.ps.read(false)
		if err != nil {
			return
		}
		m.dispatch(data, from, at)
	}
}

// dispatch queues a packet for the tracer whose identifier it holds.
func (m *rawMux) dispatch(data []byte, from unix.Sockaddr, at time.Time) {
	id, ok := rawIdent(m.key.v6, data)
	if !ok {
		return
	}
	m.mu.Lock()
	ch := m.subs[id&^(maxFlows-1)]
	m.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- rawPacket{data: append([]byte(nil), data...), from: sockaddrAddr(from), at: at}:
	default:
		m.mu.Lock()
		m.dropped++
		m.mu.Unlock()
	}
}

// sendTTL sends b to dst with the TTL, as one step among the tracers.
func (m *rawMux) sendTTL(dst unix.Sockaddr, ttl int, b []byte) error {
	m.send.Lock()
	defer m.send.Unlock()
	return m.s.sendTTLTo(dst, ttl, b)
}

// rawIdent is the echo identifier a raw ICMP packet carries (an echo
// reply) or quotes (an error about an echo request); ok is false for
// anything else.
func rawIdent(v6 bool, b []byte) (uint16, bool) {
	if !v6 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return 0, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl+8 {
			return 0, false
		}
		b = b[ihl:]
		switch b[0] {
		case 0:
			return binary.BigEndian.Uint16(b[4:6]), true
		case 3, 11:
			q := b[8:]
			if len(q) < 20 || q[0]>>4 != 4 {
				return 0, false
			}
			qihl := int(q[0]&0x0f) * 4
			if qihl < 20 || len(q) < qihl+8 || q[9] != 1 || q[qihl] != 8 {
				return 0, false
			}
			return binary.BigEndian.Uint16(q[qihl+4 : qihl+6]), true
		}
		return 0, false
	}
	if len(b) < 8 {
		return 0, false
	}
	switch b[0] {
	case 129:
		return binary.BigEndian.Uint16(b[4:6]), true
	case 1, 3:
		q := b[8:]
		if len(q) < 48 || q[0]>>4 != 6 || q[6] != 58 || q[40] != 128 {
			return 0, false
		}
		return binary.BigEndian.Uint16(q[44:46]), true
	}
	return 0, false
}
