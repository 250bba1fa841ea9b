//go:build linux

package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sock wraps a non-blocking socket so reads and writes go through Go's
// poller (EPOLLERR wakes a reader, so the error queue is read as soon as
// an ICMP error arrives).
type sock struct {
	f   *os.File
	rc  syscall.RawConn
	v6  bool
	dst unix.Sockaddr
	buf []byte
	oob []byte
}

func openSock(target netip.Addr, typ, proto int, recvErr bool) (*sock, error) {
	family := unix.AF_INET
	if target.Is6() && !target.Is4In6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	s := &sock{v6: family == unix.AF_INET6, buf: make([]byte, 1500), oob: make([]byte, 512)}
	if s.v6 {
		s.dst = &unix.SockaddrInet6{Addr: target.As16()}
		if recvErr {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		}
	} else {
		s.dst = &unix.SockaddrInet4{Addr: target.Unmap().As4()}
		if recvErr {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("enable IP_RECVERR: %w", err)
	}
	// the kernel's receive time of each answer: a round may read its
	// answers late, and measures and counts them by this time
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("enable SO_TIMESTAMPNS: %w", err)
	}
	s.f = os.NewFile(uintptr(fd), "probe-socket")
	s.rc, err = s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

func (s *sock) setPort(port int) {
	switch d := s.dst.(type) {
	case *unix.SockaddrInet4:
		d.Port = port
	case *unix.SockaddrInet6:
		d.Port = port
	}
}

// pendingErr reports errors a send returns when it only reported an
// asynchronous ICMP error of an earlier probe (and sent nothing).
func pendingErr(err error) bool {
	switch {
	case errors.Is(err, unix.EHOSTUNREACH), errors.Is(err, unix.ECONNREFUSED),
		errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EHOSTDOWN),
		errors.Is(err, unix.EPROTO), errors.Is(err, unix.ENOPROTOOPT):
		return true
	}
	return false
}

// sendTTL sets the TTL and sends b (to port, when not 0), resending
// when the kernel hands back a pending error instead of sending
// (measured: 5 of 6 sends without it).
func (s *sock) sendTTL(ttl int, b []byte, port int) error {
	dst := s.dst
	if port != 0 {
		switch d := s.dst.(type) {
		case *unix.SockaddrInet4:
			c := *d
			c.Port = port
			dst = &c
		case *unix.SockaddrInet6:
			c := *d
			c.Port = port
			dst = &c
		}
	}
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		if s.v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
		}
		if serr != nil {
			return true
		}
		for tries := 0; tries < 8; tries++ {
			serr = unix.Sendto(int(fd), b, 0, dst)
			if serr == unix.EAGAIN {
				return false
			}
			if serr == nil || !pendingErr(serr) {
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}

// errNothing: no message is queued (a read that does not wait).
var errNothing = errors.New("nothing queued")

// read returns the next message from the error queue (errq) or the normal
// queue, and when the kernel received it. With wait it blocks until the
// file's read deadline; without, it takes only a message already queued.
func (s *sock) read(wait bool) (data []byte, oob []byte, from unix.Sockaddr, errq bool, at time.Time, err error) {
	var n, oobn int
	var rerr error
	try := func(fd uintptr) bool {
		for {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, unix.MSG_ERRQUEUE)
			if rerr == nil {
				errq = true
				return true
			}
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, unix.MSG_DONTWAIT)
			if rerr == unix.EAGAIN {
				return false
			}
			if rerr != nil && pendingErr(rerr) {
				continue // the error itself is in the error queue
			}
			return true
		}
	}
	if wait {
		err = s.rc.Read(try)
	} else {
		var got bool
		err = s.rc.Control(func(fd uintptr) { got = try(fd) })
		if err == nil && !got {
			return nil, nil, nil, false, time.Time{}, errNothing
		}
	}
	if err != nil {
		return nil, nil, nil, false, time.Time{}, err
	}
	if rerr != nil {
		return nil, nil, nil, false, time.Time{}, rerr
	}
	return s.buf[:n], s.oob[:oobn], from, errq, kernelTime(s.oob[:oobn]), nil
}

// kernelTime is the SCM_TIMESTAMPNS time of a message, now when absent.
func kernelTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return time.Unix(ts.Unix())
			}
		}
	}
	return time.Now()
}

func (s *sock) close() error { return s.f.Close() }

// extErr is a parsed sock_extended_err with its offender address.
type extErr struct {
	origin, typ, code uint8
	offender          netip.Addr
}

// parseExtErr finds the IP_RECVERR / IPV6_RECVERR control message. The
// router's address is in SO_EE_OFFENDER, not in the message's address
// (which holds the original destination).
func parseExtErr(oob []byte) (extErr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return extErr{}, false
	}
	for _, m := range msgs {
		if !((m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR) ||
			(m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR)) {
			continue
		}
		d := m.Data
		if len(d) < 16 {
			continue
		}
		e := extErr{origin: d[4], typ: d[5], code: d[6]}
		off := d[16:]
		if len(off) >= 8 && int(uint16(off[0])|uint16(off[1])<<8) == unix.AF_INET {
			e.offender = netip.AddrFrom4([4]byte(off[4:8]))
		} else if len(off) >= 24 && int(uint16(off[0])|uint16(off[1])<<8) == unix.AF_INET6 {
			e.offender = netip.AddrFrom16([16]byte(off[8:24]))
		}
		return e, true
	}
	return extErr{}, false
}

// classify maps an ICMP error (from the error queue or a raw socket) to a
// reply kind. The target is reached only when the target itself answers.
func classify(v6 bool, typ, code uint8, from, target netip.Addr) (ReplyKind, bool) {
	if !v6 {
		switch typ {
		case 11:
			return KindTTL, true
		case 3:
			if code == 3 && from == target {
				return KindReached, true
			}
			return KindUnreach, true
		}
		return KindNone, false
	}
	switch typ {
	case 3:
		return KindTTL, true
	case 1:
		if code == 4 && from == target {
			return KindReached, true
		}
		return KindUnreach, true
	}
	return KindNone, false
}

func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap()
	}
	return netip.Addr{}
}
