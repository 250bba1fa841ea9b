package probe

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/opsview/opsview/internal/realserver"
)

// TestResolverAgainstARealDNSServer names hops through a real dnsmasq on
// loopback: an ordinary PTR record arrives as the hop's name; a PTR
// record whose name is not a host name (here backslashes and brackets,
// the text of an escape sequence, which the server is shown to send;
// dnsmasq refuses to serve a raw ESC byte at all) gives no name; an
// address without a record gives none either.
func TestResolverAgainstARealDNSServer(t *testing.T) {
	if reason := realserver.Missing("dnsmasq"); reason != "" {
		if realserver.InCI() {
			t.Fatal(reason + " (apt-get install -y dnsmasq-base)")
		}
		t.Skip(reason)
	}
	port, err := realserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := strings.Join([]string{
		"port=" + strconv.Itoa(port),
		"listen-address=127.0.0.1",
		"bind-interfaces",
		"no-resolv",
		"no-hosts",
		"ptr-record=1.2.0.192.in-addr.arpa,ae-1.r1.example.test",
		`ptr-record=2.2.0.192.in-addr.arpa,"evil\033[31mred.example.test"`,
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "dnsmasq.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := realserver.Start(dir, nil, "dnsmasq", "--no-daemon", "--conf-file="+filepath.Join(dir, "dnsmasq.conf"), "--pid-file=")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	addr := realserver.Addr(port)
	if err := realserver.WaitTCP(p, addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// the server really sends the odd name
	raw := queryPTR(t, addr, "2.2.0.192.in-addr.arpa.")
	if !strings.Contains(raw, `evil\033[31m`) {
		t.Fatalf("dnsmasq answered %q, not the odd name", raw)
	}

	r := NewResolver(16)
	dns := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	r.lookup = dns.LookupAddr
	name := func(a string) string {
		var n string
		for i := 0; i < 200; i++ {
			n = r.Name(a)
			r.mu.Lock()
			_, done := r.cache[a]
			r.mu.Unlock()
			if done {
				return r.Name(a)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no answer for %s after 2 s", a)
		return n
	}
	if n := name("192.0.2.1"); n != "ae-1.r1.example.test" {
		t.Errorf("192.0.2.1 named %q, want ae-1.r1.example.test", n)
	}
	if n := name("192.0.2.2"); n != "" {
		t.Errorf("192.0.2.2 named %q: a name that is not a host name reached the hop", n)
	}
	// no record: no name, and no error on screen
	if n := name("192.0.2.3"); n != "" {
		t.Errorf("192.0.2.3 named %q, want none", n)
	}
}

// queryPTR asks addr for name's PTR record over UDP and returns the
// answer's target as the server sent it.
func queryPTR(t *testing.T, addr, name string) string {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	for _, a := range m.Answers {
		if ptr, ok := a.Body.(*dnsmessage.PTRResource); ok {
			return string(ptr.PTR.Data[:ptr.PTR.Length])
		}
	}
	t.Fatalf("no PTR answer for %s: %+v", name, m.Answers)
	return ""
}
