package realserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"time"
)

// Icinga2 is an Icinga 2 running in the foreground in a temp dir: the
// paths Debian's package uses are all moved there with -D constants, and
// the API's certificates are made here (icinga2 api setup spends half a
// minute on a 4096-bit CA key).
type Icinga2 struct {
	Proc   *Proc
	URL    string // https://127.0.0.1:port
	CAFile string
	User   string
	Pass   string
	// EventsUser (with Pass) may also read the event stream
	// (/v1/events: StateChange, CheckResult).
	EventsUser string
}

// Icinga2Node is the test instance's NodeName, the CN of its certificate.
const Icinga2Node = "opsview-test"

// StartIcinga2 starts icinga2 with an ApiListener on a free port, an
// ApiUser "opsview" allowed to query hosts and services, another
// ("opsview-events") allowed to read the event stream too, and the objects
// given (Icinga DSL), and waits until the API answers.
func StartIcinga2(dir, objects string) (*Icinga2, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"etc", "data/certs", "log", "cache", "spool", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	ca, err := makeCerts(filepath.Join(dir, "data", "certs"), Icinga2Node)
	if err != nil {
		return nil, err
	}
	ic := &Icinga2{URL: "https://" + Addr(port), CAFile: ca, User: "opsview", Pass: "opsview-test-password", EventsUser: "opsview-events"}
	cfg := fmt.Sprintf(`const PluginDir = %[1]q
include <itl>
include <plugins>
object CheckerComponent "checker" { }
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = %[2]d
  accept_config = false
  accept_commands = false
}
object ApiUser %[3]q {
  password = %[4]q
  permissions = [ "objects/query/Host", "objects/query/Service" ]
}
object ApiUser %[5]q {
  password = %[4]q
  permissions = [ "objects/query/Host", "objects/query/Service", "events/StateChange", "events/CheckResult" ]
}
object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }
%[6]s
`, PluginDir, port, ic.User, ic.Pass, ic.EventsUser, objects)
	conf := filepath.Join(dir, "etc", "icinga2.conf")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, err
	}
	args := []string{"daemon", "-c", conf, "-DNodeName=" + Icinga2Node, "-DZoneName=" + Icinga2Node,
		"-DRunAsUser=" + u.Username, "-DRunAsGroup=" + g.Name}
	for k, d := range map[string]string{"ConfigDir": "etc", "DataDir": "data", "LogDir": "log", "CacheDir": "cache", "SpoolDir": "spool", "InitRunDir": "run"} {
		args = append(args, "-D"+k+"="+filepath.Join(dir, d))
	}
	proc, err := Start(dir, nil, "icinga2", args...)
	if err != nil {
		return nil, err
	}
	ic.Proc = proc
	if err := WaitTCP(proc, Addr(port), 30*time.Second); err != nil {
		proc.Stop()
		return nil, err
	}
	return ic, nil
}

// makeCerts writes a CA (ca.crt) and a certificate for cn signed by it
// (cn.crt, cn.key) into dir, as Icinga's ApiListener looks for them, and
// returns the CA's path.
func makeCerts(dir, cn string) (string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsview test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{cn, "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		"ca.crt":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cn + ".crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cn + ".key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "ca.crt"), nil
}
