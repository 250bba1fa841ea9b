package probe

import (
	"time"
)

// ReplyKind says what answered a probe.
type ReplyKind string

const (
	// KindNone: nothing answered before the round ended.
	KindNone ReplyKind = ""
	// KindTTL: a router answered Time Exceeded (or Hop Limit Exceeded).
	KindTTL ReplyKind = "ttl"
	// KindReached: the target itself answered (echo reply or port
	// unreachable from the target's own address).
	KindReached ReplyKind = "reached"
	// KindUnreach: a router answered Destination Unreachable.
	KindUnreach ReplyKind = "unreach"
)

// Probe is one TTL-limited probe of a round and what came back.
type Probe struct {
	TTL  int       `json:"ttl"`
	From string    `json:"from,omitempty"` // responder address, "" when lost
	Kind ReplyKind `json:"kind,omitempty"`
	// RTTus is the round-trip time in microseconds (0 when lost).
	RTTus int64 `json:"rtt_us,omitempty"`
}

// RTT is the probe's round-trip time.
func (p Probe) RTT() time.Duration { return time.Duration(p.RTTus) * time.Microsecond }

// EndToEnd is the round's probe of the target itself: ICMP echo or TCP
// connect, never UDP port-unreachable.
type EndToEnd struct {
	Method string `json:"method"` // "icmp" or "tcp"
	OK     bool   `json:"ok"`
	RTTus  int64  `json:"rtt_us,omitempty"`
}

// Round is one probe round toward one target: the wire format of
// `opsview probe --json` (one JSON object per line) and of the agent.
type Round struct {
	V      int    `json:"v"` // format version, 1
	Target string `json:"target"`
	Addr   string `json:"addr"`
	Seq    int    `json:"seq"`
	// Flow is the probe flow of the round (0 … flows-1): its probes kept
	// the fields load balancers hash constant.
	Flow    int       `json:"flow,omitempty"`
	At      time.Time `json:"at"`
	Backend string    `json:"backend"`
	Probes  []Probe   `json:"probes"`
	E2E     *EndToEnd `json:"e2e,omitempty"`
	// Error is set when the round could not run (the prober's message).
	Error string `json:"error,omitempty"`
}

// WireVersion is the version of the Round format.
const WireVersion = 1
