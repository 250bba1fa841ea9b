package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsview/opsview/sources"
)

// ASNInfo is what the offline table says about an address.
type ASNInfo struct {
	ASN  int
	Name string
}

// ASNTable maps addresses to ASNs by longest prefix match, from an offline
// prefix table (`prefix<TAB>asn[<TAB>name]`, the pyasn / iptoasn layout)
// plus overrides. Unknown stays unknown.
type ASNTable struct {
	byLen map[int]map[netip.Prefix]ASNInfo
	lens  []int // prefix lengths present, longest first
}

// maxASNFile bounds the prefix table read (a full table is ~15 MB).
const maxASNFile = 128 << 20

// NewASNTable makes an empty table.
func NewASNTable() *ASNTable { return &ASNTable{byLen: map[int]map[netip.Prefix]ASNInfo{}} }

// LoadASNFile reads a prefix table file.
func LoadASNFile(path string) (*ASNTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("asn_file: %w", err)
	}
	defer f.Close()
	t := NewASNTable()
	if err := t.Read(f, path); err != nil {
		return nil, err
	}
	return t, nil
}

// Read adds the lines of a prefix table. Lines starting with ';' or '#'
// are comments. At most 128 MiB are read.
func (t *ASNTable) Read(r io.Reader, name string) error {
	lr := &io.LimitedReader{R: r, N: maxASNFile + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 4096), 4096)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if err := t.addLine(line); err != nil {
			return fmt.Errorf("%s:%d: %v (want prefix<TAB>asn[<TAB>name])", name, n, err)
		}
	}
	if lr.N <= 0 {
		return fmt.Errorf("%s: larger than %d MiB; is this a prefix table?", name, maxASNFile>>20)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return nil
}

func (t *ASNTable) addLine(line string) error {
	f := strings.FieldsFunc(line, func(r rune) bool { return r == '\t' })
	if len(f) < 2 {
		f = strings.Fields(line)
	}
	if len(f) < 2 {
		return fmt.Errorf("need a prefix and an ASN")
	}
	name := ""
	if len(f) > 2 {
		name = strings.TrimSpace(strings.Join(f[2:], " "))
	}
	return t.Add(strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), name)
}

// Add maps a prefix ("10.2.0.0/16") to an ASN ("AS65002" or "65002").
func (t *ASNTable) Add(prefix, asn, name string) error {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		return fmt.Errorf("bad prefix %q", sources.Clean(prefix))
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
	a := strings.TrimPrefix(strings.TrimPrefix(asn, "AS"), "as")
	n, err := strconv.ParseUint(a, 10, 32)
	if err != nil {
		return fmt.Errorf("bad ASN %q", sources.Clean(asn))
	}
	m := t.byLen[p.Bits()]
	if m == nil {
		m = map[netip.Prefix]ASNInfo{}
		t.byLen[p.Bits()] = m
		t.lens = append(t.lens, p.Bits())
		for i := len(t.lens) - 1; i > 0 && t.lens[i] > t.lens[i-1]; i-- {
			t.lens[i], t.lens[i-1] = t.lens[i-1], t.lens[i]
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	m[p] = ASNInfo{ASN: int(n), Name: sources.Clean(name)}
	return nil
}

func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// Lookup returns the ASN of the longest matching prefix.
func (t *ASNTable) Lookup(a netip.Addr) (ASNInfo, bool) {
	if t == nil {
		return ASNInfo{}, false
	}
	a = a.Unmap()
	for _, bits := range t.lens {
		if bits > a.BitLen() {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if info, ok := t.byLen[bits][p]; ok {
			return info, true
		}
	}
	return ASNInfo{}, false
}

// Resolver names hops by reverse DNS: asynchronous (a lookup never blocks
// a poll; the name shows up on a later one), cached, bounded in entries and
// concurrent lookups, names escape-stripped.
type Resolver struct {
	lookup  func(ctx context.Context, addr string) ([]string, error)
	timeout time.Duration
	max     int
	sem     chan struct{}

	mu    sync.Mutex
	cache map[string]string
	busy  map[string]bool
}

// NewResolver makes a resolver with at most max cached names.
func NewResolver(max int) *Resolver {
	return &Resolver{
		lookup:  net.DefaultResolver.LookupAddr,
		timeout: 2 * time.Second,
		max:     max,
		sem:     make(chan struct{}, 4),
		cache:   map[string]string{},
		busy:    map[string]bool{},
	}
}

// Name returns the cached name of addr ("" when unknown or not yet
// looked up) and starts a lookup when there is none.
func (r *Resolver) Name(addr string) string {
	if r == nil || addr == "" {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.cache[addr]; ok {
		return n
	}
	if r.busy[addr] || len(r.busy) >= 64 {
		return ""
	}
	select {
	case r.sem <- struct{}{}:
	default:
		return ""
	}
	r.busy[addr] = true
	go func() {
		defer func() { <-r.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		names, _ := r.lookup(ctx, addr)
		cancel()
		name := ""
		if len(names) > 0 {
			name = strings.TrimSuffix(sources.Clean(names[0]), ".")
			if len(name) > 253 {
				name = name[:253]
			}
		}
		r.mu.Lock()
		delete(r.busy, addr)
		if len(r.cache) >= r.max {
			for k := range r.cache { // drop an arbitrary entry
				delete(r.cache, k)
				break
			}
		}
		r.cache[addr] = name
		r.mu.Unlock()
	}()
	return ""
}
