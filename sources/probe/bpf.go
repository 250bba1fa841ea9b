//go:build linux

package probe

import (
	"fmt"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// answerFilter is a classic BPF program for the raw ICMP socket that
// keeps only what can answer a probe: echo replies, Time Exceeded and
// Destination Unreachable. Which tracer an answer is for is told by its
// identifier after the read (rawmux.go).
func answerFilter(v6 bool) ([]bpf.RawInstruction, error) {
	var prog []bpf.Instruction
	if !v6 {
		prog = []bpf.Instruction{
			bpf.LoadMemShift{Off: 0},                              // X = IP header length
			bpf.LoadIndirect{Off: 0, Size: 1},                     // A = ICMP type
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2},  // echo reply
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 11, SkipTrue: 1}, // time exceeded
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3, SkipFalse: 1}, // unreachable
			bpf.RetConstant{Val: 0xffff},
			bpf.RetConstant{Val: 0},
		}
	} else {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: 0, Size: 1},                      // A = ICMPv6 type
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 129, SkipTrue: 2}, // echo reply
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3, SkipTrue: 1},   // time exceeded
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 1},  // unreachable
			bpf.RetConstant{Val: 0xffff},
			bpf.RetConstant{Val: 0},
		}
	}
	return bpf.Assemble(prog)
}

func attachFilter(s *sock) error {
	raw, err := answerFilter(s.v6)
	if err != nil {
		return fmt.Errorf("assemble filter: %w", err)
	}
	filt := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filt[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filt)), Filter: (*unix.SockFilter)(unsafe.Pointer(&filt[0]))}
	var serr error
	err = s.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	})
	if err != nil {
		return err
	}
	return serr
}
