//go:build linux

package probe

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// Raw ICMP tracers of one process share one socket a family, and each
// still gets its own answers only: 20 tracers to 127.0.0.1 and ::1 at
// once, every round's echo answered, two sockets open for all of them,
// none once they are closed.
func TestRawTracersShareOneSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raw ICMP sockets need root (CAP_NET_RAW)")
	}
	before := openFDs(t)
	var trs []*Tracer
	for i := 0; i < 20; i++ {
		target := []string{"127.0.0.1", "::1"}[i%2]
		tr, err := NewTracer(target, netip.MustParseAddr(target), TracerOptions{Backend: BackendRaw, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		trs = append(trs, tr)
	}
	if n := openFDs(t) - before; n > 2 {
		t.Errorf("20 raw tracers opened %d sockets, want 2 (one a family)", n)
	}
	for seq := 0; seq < 3; seq++ {
		var wg sync.WaitGroup
		for i, tr := range trs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := tr.Round(context.Background(), seq)
				if r.Error != "" || len(r.Probes) != 1 || r.Probes[0].Kind != KindReached || r.E2E == nil || !r.E2E.OK {
					t.Errorf("tracer %d round %d: %+v", i, seq, r)
				}
			}()
		}
		wg.Wait()
	}
	for _, tr := range trs {
		tr.Close()
	}
	rawMuxes.Lock()
	left := len(rawMuxes.m)
	rawMuxes.Unlock()
	if left != 0 {
		t.Errorf("%d shared sockets left open after every tracer closed", left)
	}
	time.Sleep(50 * time.Millisecond)
	if n := openFDs(t) - before; n > 0 {
		t.Errorf("%d descriptors left open", n)
	}
}

// FuzzRawIdent: any packet read from the raw socket, as IPv4 (with its
// header) or ICMPv6; an identifier found is one the packet holds.
func FuzzRawIdent(f *testing.F) {
	te := make([]byte, 20+8+20+8)
	te[0], te[20] = 0x45, 11
	te[28], te[28+9], te[48] = 0x45, 1, 8
	binary.BigEndian.PutUint16(te[52:], 0x1230)
	f.Add(te, false)
	f.Add([]byte{129, 0, 0, 0, 0x12, 0x31, 0, 1}, true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		id, ok := rawIdent(v6, b)
		if !ok {
			return
		}
		found := false
		for i := 0; i+1 < len(b); i++ {
			if binary.BigEndian.Uint16(b[i:]) == id {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("identifier %#x is not in the packet %x", id, b)
		}
		if r, ok := parseRawICMP(v6, b, netip.IPv6Loopback(), netip.IPv6Loopback(), id&^(maxFlows-1)); ok && r.kind == KindNone {
			t.Fatalf("an answer of no kind: %+v", r)
		}
	})
}
