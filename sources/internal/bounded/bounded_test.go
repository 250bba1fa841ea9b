package bounded

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAnAnswerOfExactlyTheLimitIsRead(t *testing.T) {
	in := bytes.Repeat([]byte("x"), 1000)
	for _, hint := range []int64{0, 10, 1000, 1 << 20} {
		b, err := ReadAll(iotest.OneByteReader(bytes.NewReader(in)), 1000, hint)
		if err != nil || !bytes.Equal(b, in) {
			t.Fatalf("hint %d: %d bytes, %v", hint, len(b), err)
		}
	}
}

func TestOneByteMoreThanTheLimitIsTooLarge(t *testing.T) {
	_, err := ReadAll(strings.NewReader(strings.Repeat("x", 3<<20+1)), 3<<20, 0)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || tl.Limit != 3<<20 {
		t.Fatalf("got %v", err)
	}
	tl.From = "tcp://lb-1:9999"
	if got := tl.Error(); got != "answer from tcp://lb-1:9999 is larger than 3 MiB" {
		t.Errorf("message %q", got)
	}
}

// The buffer never grows past the limit, whatever the answer's size.
func TestARunawayAnswerIsNotBuffered(t *testing.T) {
	r := io.LimitReader(zeros{}, 1<<30)
	_, err := ReadAll(r, 64<<10, 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(3, func() { ReadAll(io.LimitReader(zeros{}, 1<<30), 64<<10, 0) }); n > 10 {
		t.Errorf("%v allocations for a 64 KiB limit", n)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestStreamingReaderStopsAtTheLimit(t *testing.T) {
	r := NewReader(strings.NewReader("abcdef"), 4, "gmond 127.0.0.1:8649")
	b, err := io.ReadAll(r)
	if string(b) != "abcd" || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "gmond 127.0.0.1:8649 is larger than 4 bytes") {
		t.Fatalf("%q %v", b, err)
	}
	r = NewReader(strings.NewReader("abcd"), 4, "")
	if b, err := io.ReadAll(r); string(b) != "abcd" || err != nil || r.Count() != 4 {
		t.Fatalf("exact: %q %v", b, err)
	}
}

func TestAnnouncedSizeIsSaid(t *testing.T) {
	e := &TooLargeError{From: "http://x/metrics", Limit: 16 << 20, Announced: 50 << 20}
	if got := e.Error(); got != "answer from http://x/metrics is larger than 16 MiB (50 MiB announced)" {
		t.Errorf("%q", got)
	}
}

func TestSizes(t *testing.T) {
	for n, want := range map[int64]string{100: "100 bytes", 8 << 10: "8 KiB", 1 << 20: "1 MiB", 3<<20 + 1<<19: "3.5 MiB", 1500: "1500 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

// ReadAllInto reads into the buffer it is given when it is large enough,
// and holds to the limit whatever the buffer's size.
func TestReadAllIntoReusesItsBuffer(t *testing.T) {
	buf := make([]byte, 0, 1<<20)
	b, err := ReadAllInto(buf, strings.NewReader("abc"), 1000, 0)
	if err != nil || string(b) != "abc" || &b[:1][0] != &buf[:1][0] {
		t.Fatalf("%q %v: not read into the buffer given", b, err)
	}
	if _, err := ReadAllInto(buf, strings.NewReader(strings.Repeat("x", 1001)), 1000, 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1001 bytes into a 1 MiB buffer with a limit of 1000: %v", err)
	}
	b, err = ReadAllInto(make([]byte, 2), strings.NewReader(strings.Repeat("y", 5000)), 10000, 0)
	if err != nil || len(b) != 5000 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}
