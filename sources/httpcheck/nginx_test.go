package httpcheck

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
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsview/opsview/internal/realserver"
)

// One real nginx (Debian's nginx-light, with its echo module for slow
// answers) per test binary, on loopback with free ports, in a temp prefix:
// a plain server with pages that answer, fail, sleep, hang and redirect,
// and three TLS servers whose certificates expire in 2 days, in 10 days,
// and expired yesterday, all signed by a CA made here.
type nginxServers struct {
	dir                   string
	plain                 string // http://127.0.0.1:port
	tls2d, tls10d, tlsOld string // https://127.0.0.1:port
	caFile                string
	toggle                string // the file whose presence makes /toggle answer 200 (else 503)
	notAfter2d            time.Time
}

var (
	nginxOnce sync.Once
	nginxSrv  *nginxServers
	nginxSkip string
	nginxProc *realserver.Proc
)

const echoModule = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

func needNginx(t *testing.T) *nginxServers {
	t.Helper()
	nginxOnce.Do(startNginx)
	if nginxSkip != "" {
		if realserver.InCI() {
			t.Fatal(nginxSkip)
		}
		t.Skip(nginxSkip)
	}
	return nginxSrv
}

func stopNginx() {
	if nginxProc != nil {
		nginxProc.Stop()
	}
	if nginxSrv != nil {
		os.RemoveAll(nginxSrv.dir)
	}
}

func startNginx() {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		nginxSkip = "nginx not installed (apt-get install -y nginx-light)"
		return
	}
	if _, err := os.Stat(echoModule); err != nil {
		nginxSkip = "nginx's echo module missing (apt-get install -y libnginx-mod-http-echo)"
		return
	}
	dir, err := os.MkdirTemp("", "opsview-nginx-")
	if err != nil {
		nginxSkip = err.Error()
		return
	}
	s := &nginxServers{dir: dir, caFile: filepath.Join(dir, "ca.pem"), toggle: filepath.Join(dir, "www", "toggle")}
	nginxSrv = s
	fail := func(err error) { nginxSkip = "nginx: " + err.Error() }
	ports, err := realserver.FreePorts(4)
	if err != nil {
		fail(err)
		return
	}
	now := time.Now()
	s.notAfter2d = now.Add(48 * time.Hour).Truncate(time.Second)
	if err := writeCerts(dir, now, map[string][2]time.Time{
		"2d":  {now.Add(-time.Hour), s.notAfter2d},
		"10d": {now.Add(-time.Hour), now.Add(240 * time.Hour)},
		"old": {now.Add(-240 * time.Hour), now.Add(-24 * time.Hour)},
	}); err != nil {
		fail(err)
		return
	}
	for _, d := range []string{"www", "tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	conf := fmt.Sprintf(`load_module %[1]s;
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[2]s/tmp/body;
  proxy_temp_path %[2]s/tmp/proxy;
  fastcgi_temp_path %[2]s/tmp/fastcgi;
  uwsgi_temp_path %[2]s/tmp/uwsgi;
  scgi_temp_path %[2]s/tmp/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:%[3]d;
    location = /ok { return 200 "hello opsview\n"; }
    location = /down { return 503 "down for maintenance\n"; }
    location = /slow { echo_sleep 0.4; echo "late but here"; }
    location = /hang { echo_sleep 60; echo "never"; }
    location = /old { return 302 /ok; }
    location = /toggle { root %[2]s/www; try_files /toggle =503; }
  }
  server { listen 127.0.0.1:%[4]d ssl; ssl_certificate %[2]s/2d.pem; ssl_certificate_key %[2]s/2d.key; location / { return 200 "secure\n"; } }
  server { listen 127.0.0.1:%[5]d ssl; ssl_certificate %[2]s/10d.pem; ssl_certificate_key %[2]s/10d.key; location / { return 200 "secure\n"; } }
  server { listen 127.0.0.1:%[6]d ssl; ssl_certificate %[2]s/old.pem; ssl_certificate_key %[2]s/old.key; location / { return 200 "secure\n"; } }
}
`, echoModule, dir, ports[0], ports[1], ports[2], ports[3])
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		fail(err)
		return
	}
	p, err := realserver.Start(dir, nil, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"))
	if err != nil {
		fail(err)
		return
	}
	nginxProc = p
	for _, port := range ports {
		if err := realserver.WaitTCP(p, realserver.Addr(port), 10*time.Second); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			fail(fmt.Errorf("%v\n%s", err, log))
			return
		}
	}
	s.plain = "http://" + realserver.Addr(ports[0])
	s.tls2d = "https://" + realserver.Addr(ports[1]) + "/"
	s.tls10d = "https://" + realserver.Addr(ports[2]) + "/"
	s.tlsOld = "https://" + realserver.Addr(ports[3]) + "/"
}

// writeCerts makes a CA (ca.pem) and, per name, a server certificate for
// 127.0.0.1 valid over the given span (name.pem, name.key).
func writeCerts(dir string, now time.Time, spans map[string][2]time.Time) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsview test CA"},
		NotBefore: now.Add(-365 * 24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	serial := int64(2)
	for name, span := range spans {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
			NotBefore: span[0], NotAfter: span[1], IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		serial++
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, name+".pem"), "CERTIFICATE", der); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kder); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
