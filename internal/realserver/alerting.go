package realserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// MissingAlerting says why a test cannot start Nagios or Alertmanager
// (as Missing does for the graph servers).
func MissingAlerting(binaries ...string) string {
	for _, b := range binaries {
		if r := Missing(b); r != "" {
			return fmt.Sprintf("%s not installed (apt-get install -y nagios4-core monitoring-plugins-basic prometheus-alertmanager icinga2)", b)
		}
	}
	return ""
}

// NagiosService is one service of a test Nagios: the host it is on, its
// name, and the plugin command line that checks it (e.g.
// `$USER1$/check_dummy 2 "DISK CRITICAL"`).
type NagiosService struct {
	Host, Name, Command string
}

// Nagios is a Nagios Core running in the foreground in a temp dir, with
// checks every second.
type Nagios struct {
	Proc       *Proc
	Dir        string
	StatusFile string
	LogFile    string
	services   int
	hosts      int
}

// PluginDir is where Debian's monitoring-plugins live.
const PluginDir = "/usr/lib/nagios/plugins"

// StartNagios writes a nagios.cfg and objects for the services in dir
// (every host UP by check_dummy) and starts nagios4 on it.
func StartNagios(dir string, svcs []NagiosService) (*Nagios, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "checkresults"), 0o755); err != nil {
		return nil, err
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	cfg := fmt.Sprintf(`log_file=%s
cfg_file=%s
status_file=%s
status_update_interval=1
object_cache_file=%s
precached_object_file=%s
resource_file=%s
temp_file=%s
temp_path=%s
lock_file=%s
state_retention_file=%s
retain_state_information=0
check_result_path=%s
command_file=%s
query_socket=%s
check_external_commands=0
nagios_user=%s
nagios_group=%s
interval_length=1
max_service_check_spread=1
max_host_check_spread=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
enable_notifications=0
enable_flap_detection=0
use_syslog=0
log_rotation_method=n
check_result_reaper_frequency=1
illegal_macro_output_chars=`+"`~$&|'\"<>"+`
`, p("nagios.log"), p("objects.cfg"), p("status.dat"), p("objects.cache"), p("objects.precache"), p("resource.cfg"),
		p("nagios.tmp"), dir, p("nagios.lock"), p("retention.dat"), p("checkresults"), p("nagios.cmd"), p("nagios.qh"), u.Username, g.Name)
	var obj strings.Builder
	obj.WriteString(`define timeperiod {
  timeperiod_name 24x7
  alias 24x7
  sunday 00:00-24:00
  monday 00:00-24:00
  tuesday 00:00-24:00
  wednesday 00:00-24:00
  thursday 00:00-24:00
  friday 00:00-24:00
  saturday 00:00-24:00
}
define command {
  command_name host_up
  command_line $USER1$/check_dummy 0 "PING OK"
}
define contact {
  contact_name nobody
  host_notifications_enabled 0
  service_notifications_enabled 0
  host_notification_period 24x7
  service_notification_period 24x7
  host_notification_options n
  service_notification_options n
  host_notification_commands host_up
  service_notification_commands host_up
}
`)
	hosts := map[string]bool{}
	for i, s := range svcs {
		if !hosts[s.Host] {
			hosts[s.Host] = true
			fmt.Fprintf(&obj, "define host {\n  host_name %s\n  address 127.0.0.1\n  check_command host_up\n  max_check_attempts 1\n  check_interval 1\n  check_period 24x7\n  contacts nobody\n}\n", s.Host)
		}
		fmt.Fprintf(&obj, "define command {\n  command_name check_%d\n  command_line %s\n}\n", i, s.Command)
		fmt.Fprintf(&obj, "define service {\n  host_name %s\n  service_description %s\n  check_command check_%d\n  max_check_attempts 1\n  check_interval 1\n  retry_interval 1\n  check_period 24x7\n  notification_period 24x7\n  contacts nobody\n}\n", s.Host, s.Name, i)
	}
	for name, body := range map[string]string{
		"nagios.cfg":   cfg,
		"objects.cfg":  obj.String(),
		"resource.cfg": "$USER1$=" + PluginDir + "\n",
	} {
		if err := os.WriteFile(p(name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	proc, err := Start(dir, nil, "nagios4", p("nagios.cfg"))
	if err != nil {
		return nil, err
	}
	return &Nagios{Proc: proc, Dir: dir, StatusFile: p("status.dat"), LogFile: p("nagios.log"), services: len(svcs), hosts: len(hosts)}, nil
}

// WaitChecked waits until status.dat says every host and service was
// checked.
func (n *Nagios) WaitChecked(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n.Proc.Exited() {
			return fmt.Errorf("nagios4 exited: %v\n%s", n.Proc.err, n.Proc.Output())
		}
		b, err := os.ReadFile(n.StatusFile)
		if err == nil && bytes.Count(b, []byte("has_been_checked=1")) >= n.hosts+n.services {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(n.LogFile)
	return fmt.Errorf("nagios4: not every check done after %v\n%s\n%s", timeout, n.Proc.Output(), log)
}

// Alertmanager is a Prometheus Alertmanager on loopback, clustering off.
type Alertmanager struct {
	Proc *Proc
	URL  string
}

// StartAlertmanager starts prometheus-alertmanager in dir on a free port
// with a route to nowhere, and waits until it is ready.
func StartAlertmanager(dir string) (*Alertmanager, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cfg := "route:\n  receiver: nowhere\n  group_wait: 1s\nreceivers:\n  - name: nowhere\n"
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	proc, err := Start(dir, nil, "prometheus-alertmanager", "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "am-data"), "--web.listen-address="+Addr(port), "--cluster.listen-address=")
	if err != nil {
		return nil, err
	}
	am := &Alertmanager{Proc: proc, URL: "http://" + Addr(port)}
	if err := WaitHTTP(proc, am.URL+"/-/ready", 20*time.Second); err != nil {
		proc.Stop()
		return nil, err
	}
	return am, nil
}

// Post sends a JSON body to the Alertmanager's API path (e.g.
// /api/v2/alerts, /api/v2/silences) and returns the answer's body.
func (am *Alertmanager) Post(path, body string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, am.URL+path, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return out.String(), fmt.Errorf("POST %s: %s: %s", path, resp.Status, out.String())
	}
	return out.String(), nil
}
