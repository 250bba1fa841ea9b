//go:build linux

package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// udpPort is the destination port of UDP probes of flow 0; flow f uses
// udpPort+f (one socket: the source port is fixed, so each flow is one
// 5-tuple).
const udpPort = 33434

// maxFlows bounds the flows of one tracer: raw ICMP tracers own blocks
// of maxFlows echo identifiers.
const maxFlows = 16

// openConn opens the named backend, or the best one permitted for "auto".
func openConn(backend string, target netip.Addr, ident uint16) (conn, error) {
	switch backend {
	case BackendRaw:
		c, err := openRaw(target, ident)
		if err != nil && isPerm(err) {
			err = fmt.Errorf("%w; %s", err, grantHint())
		}
		return c, err
	case BackendPing:
		c, err := openPing(target)
		if err != nil && isPerm(err) {
			err = fmt.Errorf("%w; %s", err, grantHint())
		}
		return c, err
	case BackendUDP:
		return openUDP(target)
	case BackendAuto, "":
		if c, err := openRaw(target, ident); err == nil {
			return c, nil
		}
		if c, err := openPing(target); err == nil {
			return c, nil
		}
		c, err := openUDP(target)
		if err != nil {
			return nil, fmt.Errorf("no probe method is permitted: %w; %s", err, grantHint())
		}
		return c, nil
	case "icmp":
		if c, err := openRaw(target, ident); err == nil {
			return c, nil
		}
		c, err := openPing(target)
		if err != nil {
			return nil, fmt.Errorf("ICMP probes are not permitted (%v); %s", err, grantHint())
		}
		return c, nil
	}
	return nil, fmt.Errorf("unknown probe backend %q (have auto, raw-icmp, ping, udp, icmp)", backend)
}

// grantHint says exactly how to permit ICMP probing.
func grantHint() string {
	exe, err := os.Executable()
	if err != nil {
		exe = "/usr/local/bin/opsview"
	}
	r, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	cur := strings.Join(strings.Fields(string(r)), " ")
	return fmt.Sprintf("grant raw sockets with `sudo setcap cap_net_raw+ep %s`, or allow ICMP ping sockets for your group with `sudo sysctl -w net.ipv4.ping_group_range=\"%d %d\"` (now %q; persist it in /etc/sysctl.d/)",
		exe, os.Getgid(), os.Getgid(), cur)
}

func isPerm(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

// ---- UDP with IP_RECVERR --------------------------------------------------

type udpConn struct {
	s      *sock
	target netip.Addr
}

func openUDP(target netip.Addr) (conn, error) {
	s, err := openSock(target, unix.SOCK_DGRAM, unix.IPPROTO_UDP, true)
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	s.setPort(udpPort)
	return &udpConn{s: s, target: target.Unmap()}, nil
}

func (c *udpConn) name() string { return BackendUDP }
func (c *udpConn) echoes() bool { return false }
func (c *udpConn) close() error { return c.s.close() }
func (c *udpConn) flows() int   { return maxFlows }

// send: a flow is a destination port (the source port is the socket's),
// the probe id is the payload.
func (c *udpConn) send(ttl int, id uint16, f int) error {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], id)
	return c.s.sendTTL(ttl, b[:], udpPort+f)
}

func (c *udpConn) setDeadline(t time.Time) error { return c.s.f.SetReadDeadline(t) }
func (c *udpConn) recv(wait bool) (reply, bool, error) {
	data, oob, _, errq, at, err := c.s.read(wait)
	if err != nil {
		return reply{}, false, err
	}
	if !errq {
		return reply{}, false, nil
	}
	e, ok := parseExtErr(oob)
	if !ok || (e.origin != unix.SO_EE_ORIGIN_ICMP && e.origin != unix.SO_EE_ORIGIN_ICMP6) || !e.offender.IsValid() {
		return reply{}, false, nil
	}
	// data is the quoted UDP payload: our probe id
	if len(data) < 2 {
		return reply{}, false, nil
	}
	from := e.offender.Unmap()
	kind, ok := classify(c.s.v6, e.typ, e.code, from, c.target)
	if !ok {
		return reply{}, false, nil
	}
	return reply{id: binary.BigEndian.Uint16(data), from: from, kind: kind, at: at}, true, nil
}

// ---- ICMP ping socket -----------------------------------------------------

type pingConn struct {
	s      *sock
	target netip.Addr
}

func openPing(target netip.Addr) (conn, error) {
	proto := unix.IPPROTO_ICMP
	if target.Is6() && !target.Is4In6() {
		proto = unix.IPPROTO_ICMPV6
	}
	s, err := openSock(target, unix.SOCK_DGRAM, proto, true)
	if err != nil {
		if isPerm(err) {
			return nil, fmt.Errorf("ICMP ping socket not permitted by net.ipv4.ping_group_range: %w", err)
		}
		return nil, fmt.Errorf("ICMP ping socket: %w", err)
	}
	return &pingConn{s: s, target: target.Unmap()}, nil
}

func (c *pingConn) name() string { return BackendPing }
func (c *pingConn) echoes() bool { return true }
func (c *pingConn) close() error { return c.s.close() }

// flows: the kernel sets the identifier of a ping socket's echoes, so a
// socket is one flow.
func (c *pingConn) flows() int { return 1 }
func (c *pingConn) send(ttl int, id uint16, _ int) error {
	// the kernel sets the identifier and the checksum
	return c.s.sendTTL(ttl, echoRequest(c.s.v6, 0, id, false), 0)
}

func (c *pingConn) setDeadline(t time.Time) error { return c.s.f.SetReadDeadline(t) }
func (c *pingConn) recv(wait bool) (reply, bool, error) {
	data, oob, from, errq, at, err := c.s.read(wait)
	if err != nil {
		return reply{}, false, err
	}
	if !errq {
		// an echo reply: ICMP header + payload
		if len(data) < 8 {
			return reply{}, false, nil
		}
		want := uint8(0)
		if c.s.v6 {
			want = 129
		}
		src := sockaddrAddr(from)
		if data[0] != want || src != c.target {
			return reply{}, false, nil
		}
		return reply{id: binary.BigEndian.Uint16(data[6:8]), from: src, kind: KindReached, at: at}, true, nil
	}
	e, ok := parseExtErr(oob)
	if !ok || (e.origin != unix.SO_EE_ORIGIN_ICMP && e.origin != unix.SO_EE_ORIGIN_ICMP6) || !e.offender.IsValid() {
		return reply{}, false, nil
	}
	// data is the quoted echo request: its sequence is our probe id
	if len(data) < 8 {
		return reply{}, false, nil
	}
	src := e.offender.Unmap()
	kind, ok := classify(c.s.v6, e.typ, e.code, src, c.target)
	if !ok {
		return reply{}, false, nil
	}
	if kind == KindReached {
		kind = KindUnreach // a port unreachable cannot answer an echo
	}
	return reply{id: binary.BigEndian.Uint16(data[6:8]), from: src, kind: kind, at: at}, true, nil
}

// echoRequest builds an ICMP echo request whose checksum is the same for
// every sequence number (the payload word is the complement of the
// sequence), so load balancers hashing the ICMP header keep every probe on
// one path (Paris traceroute).
func echoRequest(v6 bool, ident, seq uint16, withChecksum bool) []byte {
	b := make([]byte, 10)
	if v6 {
		b[0] = 128
	} else {
		b[0] = 8
	}
	binary.BigEndian.PutUint16(b[4:], ident)
	binary.BigEndian.PutUint16(b[6:], seq)
	binary.BigEndian.PutUint16(b[8:], ^seq)
	if withChecksum && !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ---- raw ICMP -------------------------------------------------------------

type rawConn struct {
	s      *sock
	target netip.Addr
	ident  uint16
}

func openRaw(target netip.Addr, ident uint16) (conn, error) {
	proto := unix.IPPROTO_ICMP
	if target.Is6() && !target.Is4In6() {
		proto = unix.IPPROTO_ICMPV6
	}
	s, err := openSock(target, unix.SOCK_RAW, proto, false)
	if err != nil {
		if isPerm(err) {
			return nil, fmt.Errorf("raw ICMP socket needs CAP_NET_RAW: %w", err)
		}
		return nil, fmt.Errorf("raw ICMP socket: %w", err)
	}
	if err := attachFilter(s, ident); err != nil {
		s.close()
		return nil, fmt.Errorf("raw ICMP socket filter: %w", err)
	}
	return &rawConn{s: s, target: target.Unmap(), ident: ident}, nil
}

func (c *rawConn) name() string { return BackendRaw }
func (c *rawConn) echoes() bool { return true }
func (c *rawConn) close() error { return c.s.close() }
func (c *rawConn) flows() int   { return maxFlows }

// send: a flow is an echo identifier in the conn's block (and with it
// the checksum, constant for every probe of the flow).
func (c *rawConn) send(ttl int, id uint16, f int) error {
	return c.s.sendTTL(ttl, echoRequest(c.s.v6, c.ident+uint16(f), id, true), 0)
}

func (c *rawConn) setDeadline(t time.Time) error { return c.s.f.SetReadDeadline(t) }
func (c *rawConn) recv(wait bool) (reply, bool, error) {
	data, _, from, _, at, err := c.s.read(wait)
	if err != nil {
		return reply{}, false, err
	}
	r, ok := parseRawICMP(c.s.v6, data, sockaddrAddr(from), c.target, c.ident)
	r.at = at
	return r, ok, nil
}

// parseRawICMP reads one packet from a raw ICMP socket (IPv4: with its IP
// header; IPv6: the ICMPv6 message only) and returns the answer to one of
// our echo requests, if it is one.
func parseRawICMP(v6 bool, b []byte, src, target netip.Addr, ident uint16) (reply, bool) {
	if !v6 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return reply{}, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl+8 {
			return reply{}, false
		}
		src = netip.AddrFrom4([4]byte(b[12:16]))
		b = b[ihl:]
	}
	if len(b) < 8 {
		return reply{}, false
	}
	typ, code := b[0], b[1]
	echoReply := uint8(0)
	if v6 {
		echoReply = 129
	}
	if typ == echoReply {
		if binary.BigEndian.Uint16(b[4:6])-ident >= maxFlows || src != target {
			return reply{}, false
		}
		return reply{id: binary.BigEndian.Uint16(b[6:8]), from: src, kind: KindReached}, true
	}
	kind, ok := classify(v6, typ, code, src, target)
	if !ok {
		return reply{}, false
	}
	if kind == KindReached {
		kind = KindUnreach
	}
	q := b[8:] // the quoted packet
	var icmp []byte
	if v6 {
		if len(q) < 48 || q[0]>>4 != 6 || q[6] != 58 {
			return reply{}, false
		}
		icmp = q[40:]
		if icmp[0] != 128 {
			return reply{}, false
		}
	} else {
		if len(q) < 20 || q[0]>>4 != 4 {
			return reply{}, false
		}
		qihl := int(q[0]&0x0f) * 4
		if qihl < 20 || len(q) < qihl+8 || q[9] != 1 {
			return reply{}, false
		}
		icmp = q[qihl:]
		if icmp[0] != 8 {
			return reply{}, false
		}
	}
	if binary.BigEndian.Uint16(icmp[4:6])-ident >= maxFlows {
		return reply{}, false
	}
	return reply{id: binary.BigEndian.Uint16(icmp[6:8]), from: src, kind: kind}, true
}
