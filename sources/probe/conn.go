package probe

import (
	"net/netip"
	"time"
)

// Backend names, best first.
const (
	BackendRaw  = "raw-icmp" // raw ICMP echo, constant checksum (Paris-style); needs CAP_NET_RAW
	BackendPing = "ping"     // ICMP ping socket; needs net.ipv4.ping_group_range to cover the gid
	BackendUDP  = "udp"      // UDP + IP_RECVERR; needs nothing
	BackendAuto = "auto"
)

// reply is one packet a backend recognised as the answer to one of its
// probes.
type reply struct {
	id   uint16
	from netip.Addr
	kind ReplyKind
	at   time.Time
}

// conn is one backend's socket toward one target.
type conn interface {
	// name is the backend's name: "raw-icmp", "ping", "udp".
	name() string
	// send sends probe id with the given TTL (hop limit) on flow f (a
	// flow keeps the fields load balancers hash constant: Paris
	// traceroute); 0 ≤ f < flows().
	send(ttl int, id uint16, f int) error
	// flows is how many flows the backend can tell apart.
	flows() int
	// recv returns the next packet: with wait, blocking until the
	// deadline set by setDeadline (os.ErrDeadlineExceeded); without,
	// only one already queued (errNothing when none is). ok is false for
	// packets that are not answers to this conn's probes; an answer's at
	// is when the kernel received it.
	recv(wait bool) (r reply, ok bool, err error)
	setDeadline(t time.Time) error
	// echoes is true when a probe with a large TTL is an ICMP echo whose
	// answer is a trustworthy end-to-end measurement.
	echoes() bool
	close() error
}
