package realserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"time"
)

// ErrNotInstalled is wrapped when a server's package is not installed: a
// test skips on it, or fails under CI=true.
var ErrNotInstalled = errors.New("not installed")

// MuninNode runs a real munin-node (Debian's `munin-node`) in the
// foreground on a free loopback port, with its config, pid file and log in
// dir, as the current user. allow is the regexp of munin-node.conf's
// allow line (`^127\.0\.0\.1$` to let the tests in). The plugins are the
// package's own (/etc/munin/plugins, set up at its installation):
// munin-node has no option to look elsewhere. It returns the node's
// address.
func MuninNode(dir, allow string) (*Proc, string, error) { return MuninNodeEnv(dir, allow, nil) }

// MuninNodeEnv is MuninNode with env ("NAME=value") added to munin-node's
// environment, which its plugins inherit: a plugin's thresholds
// (uptime_critical=…), as plugin-conf.d's env lines would set them.
func MuninNodeEnv(dir, allow string, env []string) (*Proc, string, error) {
	bin, err := exec.LookPath("munin-node")
	if err != nil {
		return nil, "", fmt.Errorf("munin-node %w (apt-get install -y munin-node)", ErrNotInstalled)
	}
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	u, err := user.Current()
	if err != nil {
		return nil, "", err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf(`log_level 4
log_file %[1]s/munin-node.log
pid_file %[1]s/munin-node.pid
background 0
setsid 0
user %[2]s
group %[3]s
allow %[4]s
host 127.0.0.1
port %[5]d
`, dir, u.Username, g.Name, allow, port)
	cf := filepath.Join(dir, "munin-node.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	p, err := Start(dir, env, bin, "--config", cf, "--foreground")
	if err != nil {
		return nil, "", err
	}
	addr := Addr(port)
	if err := WaitTCP(p, addr, 15*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "munin-node.log"))
		p.Stop()
		return nil, "", fmt.Errorf("%v\n%s", err, log)
	}
	return p, addr, nil
}

// Gmond runs a real gmond (Debian's `ganglia-monitor`) in the foreground
// with its config and pid file in dir: the package's configuration with
// the channels moved to loopback on free ports (unicast to itself), no
// setuid, metadata resent every 5 s, and the cluster named cluster. It
// returns the address of its XML dump (tcp_accept_channel).
func Gmond(dir, cluster string) (*Proc, string, error) {
	bin, err := exec.LookPath("gmond")
	if err != nil {
		return nil, "", fmt.Errorf("gmond %w (apt-get install -y ganglia-monitor)", ErrNotInstalled)
	}
	conf, err := gmondConfig(bin)
	if err != nil {
		return nil, "", err
	}
	ports, err := FreePorts(2)
	if err != nil {
		return nil, "", err
	}
	for _, r := range []struct{ re, with string }{
		{`daemonize = yes`, `daemonize = no`},
		{`setuid = yes`, `setuid = no`},
		// the first metadata may go out before the receiving channel is
		// bound, and without it values are dropped: send it again
		{`send_metadata_interval = 0`, `send_metadata_interval = 5`},
		{`(?ms)^udp_send_channel \{.*?^\}`, fmt.Sprintf("udp_send_channel {\n  host = 127.0.0.1\n  port = %d\n}", ports[0])},
		{`(?ms)^udp_recv_channel \{.*?^\}`, fmt.Sprintf("udp_recv_channel {\n  port = %d\n  bind = 127.0.0.1\n}", ports[0])},
		{`(?ms)^tcp_accept_channel \{.*?^\}`, fmt.Sprintf("tcp_accept_channel {\n  port = %d\n  bind = 127.0.0.1\n}", ports[1])},
		{`(?ms)^cluster \{.*?^\}`, fmt.Sprintf("cluster {\n  name = %q\n}", cluster)},
		{`(?m)^include \([^)]*\)`, ""},
	} {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(conf) {
			return nil, "", fmt.Errorf("gmond's configuration has no %q", r.re)
		}
		conf = re.ReplaceAllString(conf, r.with)
	}
	cf := filepath.Join(dir, "gmond.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	p, err := Start(dir, nil, bin, "-c", cf, "-f", "-p", filepath.Join(dir, "gmond.pid"))
	if err != nil {
		return nil, "", err
	}
	addr := Addr(ports[1])
	if err := WaitTCP(p, addr, 15*time.Second); err != nil {
		p.Stop()
		return nil, "", err
	}
	return p, addr, nil
}

// gmondConfig is the package's configuration (/etc/ganglia/gmond.conf),
// else gmond's built-in one (gmond -t) with its modules' paths made
// absolute (gmond does not find them from their bare names).
func gmondConfig(bin string) (string, error) {
	if b, err := os.ReadFile("/etc/ganglia/gmond.conf"); err == nil {
		return string(b), nil
	}
	def, err := exec.Command(bin, "-t").Output()
	if err != nil {
		return "", fmt.Errorf("gmond -t: %w", err)
	}
	mods, _ := filepath.Glob("/usr/lib*/*/ganglia/modcpu.so")
	if more, _ := filepath.Glob("/usr/lib*/ganglia/modcpu.so"); len(more) > 0 {
		mods = append(mods, more...)
	}
	if len(mods) == 0 {
		return "", errors.New("no modcpu.so under /usr/lib: is ganglia-monitor installed whole?")
	}
	dir := filepath.Dir(mods[0])
	return regexp.MustCompile(`path = "(mod[a-z_]+\.so)"`).ReplaceAllString(string(def), `path = "`+dir+`/$1"`), nil
}
