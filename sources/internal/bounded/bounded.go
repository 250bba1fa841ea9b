// Package bounded is the one bounded reader of opsview's sources. Every
// answer a source reads from outside (an HTTP body, a stats socket, a
// munin-node session, a gmond dump) goes through it, so that a runaway or
// hostile server fails the poll with one clear error, "answer from X is
// larger than 32 MiB", instead of filling memory or being cut silently.
// It must not know any protocol.
package bounded

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is what every "answer larger than the limit" error wraps.
var ErrTooLarge = errors.New("answer too large")

// TooLargeError says an answer passed its limit.
type TooLargeError struct {
	From      string // where the answer came from; "" when the caller says it
	Limit     int64
	Announced int64 // a Content-Length above the limit; 0 when not announced
}

func (e *TooLargeError) Error() string {
	s := "answer"
	if e.From != "" {
		s += " from " + e.From
	}
	s += " is larger than " + Size(e.Limit)
	if e.Announced > 0 {
		s += " (" + Size(e.Announced) + " announced)"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// ReadAll reads r to its end into one buffer that never grows beyond
// limit+1 bytes. More than limit bytes is a *TooLargeError (From empty:
// the caller knows where it read). hint is the size expected (the last
// answer's, a Content-Length); 0 for none.
func ReadAll(r io.Reader, limit int64, hint int64) ([]byte, error) {
	return ReadAllInto(nil, r, limit, hint)
}

// ReadAllInto is ReadAll into buf's memory when it is large enough (a
// reader of the same answer again and again keeps its buffer): the
// answer overwrites buf.
func ReadAllInto(buf []byte, r io.Reader, limit int64, hint int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("bounded read with a limit of %d", limit)
	}
	start := int64(16 << 10)
	if hint > 0 {
		start = hint + 4<<10
	}
	if int64(cap(buf)) > limit+1 {
		buf = buf[: 0 : limit+1]
	}
	if int64(cap(buf)) < min(start, limit+1) {
		buf = make([]byte, 0, min(start, limit+1))
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(int64(2*cap(buf)), limit+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &TooLargeError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Reader passes at most Limit bytes of R through; the read that would
// pass the limit fails with a *TooLargeError. Streaming parsers (XML,
// line protocols) read through it.
type Reader struct {
	R     io.Reader
	Limit int64
	From  string
	read  int64
}

// NewReader bounds r to limit bytes.
func NewReader(r io.Reader, limit int64, from string) *Reader {
	return &Reader{R: r, Limit: limit, From: from}
}

func (b *Reader) Read(p []byte) (int, error) {
	left := b.Limit - b.read
	if left <= 0 {
		// at the limit: only the end of the answer may follow
		var one [1]byte
		n, err := b.R.Read(one[:])
		if n > 0 {
			return 0, &TooLargeError{From: b.From, Limit: b.Limit}
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.R.Read(p)
	b.read += int64(n)
	return n, err
}

// Count is how many bytes passed so far.
func (b *Reader) Count() int64 { return b.read }

// Body bounds a response body and keeps its Close.
type Body struct {
	Reader
	C io.Closer
}

// NewBody bounds rc to limit bytes.
func NewBody(rc io.ReadCloser, limit int64, from string) *Body {
	return &Body{Reader: Reader{R: rc, Limit: limit, From: from}, C: rc}
}

// Close closes the body underneath.
func (b *Body) Close() error { return b.C.Close() }

// Size says a byte count the way limits are written: "32 MiB", "8 KiB",
// "100 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
