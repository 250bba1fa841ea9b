package probe

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A long link for the tests. The kernel here has no netem, so a process
// in a namespace carries the frames between two of its interfaces
// itself, each held a fixed time from the kernel's stamp of its arrival
// (propagation: the same delay for every frame, no queue). It is a
// process of its own, the test binary started again (TestDelayLineProcess),
// so the test's garbage collection does not pause it; the threads that
// send wake at the due time on a real-time clock, at real-time priority
// when allowed, so the line adds tens of microseconds of jitter.

const delayLineEnv = "OVP_DELAY_LINE"

// delayLine runs in namespace ns (its full name) until the test ends,
// bridging interfaces a and b with a one-way delay of d each way. Its
// report says how steadily it held the frames so far: the 90th
// percentile of how late it sent them, and a summary.
func delayLine(t *testing.T, ns, a, b string, d time.Duration) (report func() (late90 time.Duration, summary string)) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestDelayLineProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,%s", delayLineEnv, a, b, d))
	stdin, err := cmd.StdinPipe() // the line runs until it is closed
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var late90 time.Duration
	last, all := "", []string{}
	read := make(chan struct{})
	go func() { // its reports, twice a second, and whatever else it says
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ns int64
			line := sc.Text()
			mu.Lock()
			if _, err := fmt.Sscanf(line, "delay line: late90 %d", &ns); err == nil {
				late90, last = time.Duration(ns), line
			} else {
				all = append(all, line)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		<-read
		if out := strings.Join(all, "\n"); strings.Contains(out, "FAIL") {
			t.Errorf("delay line: %s", out)
		}
		t.Log(last)
	})
	time.Sleep(300 * time.Millisecond) // its sockets open
	return func() (time.Duration, string) {
		mu.Lock()
		defer mu.Unlock()
		return late90, last
	}
}

// TestDelayLineProcess is the delay line's process (see delayLine); run
// on its own it skips.
func TestDelayLineProcess(t *testing.T) {
	spec := os.Getenv(delayLineEnv)
	if spec == "" {
		t.Skip("the delay line of the long-link test: runs only when that test starts it")
	}
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		t.Fatalf("%s=%q", delayLineEnv, spec)
	}
	d, err := time.ParseDuration(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	debug.SetGCPercent(-1) // no pauses: it runs for a minute at most
	fa, err := packetSocket(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	fb, err := packetSocket(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{}, 4)
	carry(fa, fb, d, &stop, done)
	carry(fb, fa, d, &stop, done)
	go func() {
		for !stop.Load() {
			time.Sleep(500 * time.Millisecond)
			fmt.Printf("delay line: late90 %d; %s; real-time priority: %v\n", lateness.quantile(.9), &lateness, unix.Errno(rtErr.Load()))
		}
	}()
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	stop.Store(true)
	for range 4 {
		<-done
	}
	unix.Close(fa)
	unix.Close(fb)
}

// lineStats are how late the line sent frames after their due time,
// and how long each send took (the receiving side's stack runs in it).
type lineStats struct {
	mu         sync.Mutex
	late, took []time.Duration
}

func (l *lineStats) add(late, took time.Duration) {
	l.mu.Lock()
	l.late, l.took = append(l.late, late), append(l.took, took)
	l.mu.Unlock()
}

func quantile(v []time.Duration, f float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[int(f*float64(len(c)-1))]
}

func (l *lineStats) quantile(f float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantile(l.late, f)
}

func (l *lineStats) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := quantile
	return fmt.Sprintf("%d frames; late by median %s, 99 %% %s, max %s; a send took median %s, 99 %% %s",
		len(l.late), q(l.late, .5), q(l.late, .99), q(l.late, 1), q(l.took, .5), q(l.took, .99))
}

var lateness lineStats

type frame struct {
	due int64 // unix nanoseconds
	b   []byte
}

// carry sends the frames arriving at socket from out of socket to, d
// after their arrival, in order.
func carry(from, to int, d time.Duration, stop *atomic.Bool, done chan<- struct{}) {
	q := make(chan frame, 4096)
	go func() {
		defer func() { close(q); done <- struct{}{} }()
		buf, oob := make([]byte, 65536), make([]byte, 128)
		for !stop.Load() {
			n, oobn, _, sa, err := unix.Recvmsg(from, buf, oob, 0)
			if err != nil || n <= 0 || outgoing(sa) {
				continue
			}
			at := arrival(oob[:oobn])
			select {
			case q <- frame{at + d.Nanoseconds(), append([]byte(nil), buf[:n]...)}:
			default: // a full line drops, as a link would
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		runtime.LockOSThread() // the thread ends with the goroutine
		realtime()
		for f := range q {
			ts := unix.NsecToTimespec(f.due)
			for unix.ClockNanosleep(unix.CLOCK_REALTIME, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
			}
			sent := time.Now().UnixNano()
			unix.Write(to, f.b)
			lateness.add(time.Duration(sent-f.due), time.Duration(time.Now().UnixNano()-sent))
		}
	}()
}

// realtime raises the calling thread to real-time priority, when allowed.
func realtime() {
	type schedParam struct{ priority int32 }
	p := schedParam{10}
	_, _, e := unix.Syscall(unix.SYS_SCHED_SETSCHEDULER, 0, 1 /* SCHED_FIFO */, uintptr(unsafe.Pointer(&p)))
	rtErr.Store(int32(e))
}

var rtErr atomic.Int32

// arrival is the kernel's receive stamp of a frame (unix nanoseconds),
// else now.
func arrival(oob []byte) int64 {
	if cms, err := unix.ParseSocketControlMessage(oob); err == nil {
		for _, cm := range cms {
			if cm.Header.Level == unix.SOL_SOCKET && cm.Header.Type == unix.SO_TIMESTAMPNS && len(cm.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := (*unix.Timespec)(unsafe.Pointer(&cm.Data[0]))
				return ts.Nano()
			}
		}
	}
	return time.Now().UnixNano()
}

func outgoing(from unix.Sockaddr) bool {
	ll, ok := from.(*unix.SockaddrLinklayer)
	return !ok || ll.Pkttype == unix.PACKET_OUTGOING
}

// packetSocket is a raw packet socket bound to interface name: every
// frame it sees, stamped by the kernel, waking every 100 ms so its
// reader can stop.
func packetSocket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return -1, err
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, err
	}
	fail := func(err error) (int, error) { unix.Close(fd); return -1, err }
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		return fail(err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail(err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
