package prometheus

import "github.com/opsview/opsview/sources"

// DefaultRules classify node_exporter's metrics, whether they come from a
// direct scrape or through Prometheus (where the instance label names the
// node). The lead appends them after the config's own rules, so the config
// wins. The first rule that sets a field wins it.
func DefaultRules() sources.Rules {
	res, host, net := sources.RoleResource, sources.LayerHost, sources.LayerNetwork
	down := sources.HarmDown // free space and memory hurt going down
	return sources.Rules{
		// through Prometheus the instance label says which machine
		{Match: "node_*", Labels: map[string]string{"instance": "*"}, Node: "$instance"},

		{Match: "node_cpu_seconds_total", Labels: map[string]string{"mode": "iowait"}, Role: res, Layer: host, Unit: "%"},
		{Match: "node_cpu_seconds_total", Labels: map[string]string{"mode": "steal"}, Role: res, Layer: host, Unit: "%"},
		{Match: "node_cpu_seconds_total", Labels: map[string]string{"mode": "user"}, Role: res, Layer: host, Unit: "%"},
		{Match: "node_cpu_seconds_total", Labels: map[string]string{"mode": "system"}, Role: res, Layer: host, Unit: "%"},
		{Match: "node_load1", Role: res, Layer: host},
		{Match: "node_load5", Role: res, Layer: host},
		{Match: "node_load15", Role: res, Layer: host},
		{Match: "node_pressure_*", Role: res, Layer: host},
		{Match: "node_procs_blocked", Role: res, Layer: host},
		{Match: "node_procs_running", Role: res, Layer: host},

		{Match: "node_disk_io_time_seconds_total", Role: res, Layer: host, Unit: "%"},
		{Match: "node_disk_io_time_weighted_seconds_total", Role: res, Layer: host},
		{Match: "node_disk_*_time_seconds_total", Role: res, Layer: host},
		{Match: "node_disk_*_bytes_total", Role: sources.RoleTraffic, Layer: host, Unit: "B/s"},
		{Match: "node_disk_*", Layer: host},
		{Match: "node_filesystem_avail_bytes", Role: res, Layer: host, Unit: "B", Harm: down},
		{Match: "node_filesystem_free_bytes", Role: res, Layer: host, Unit: "B", Harm: down},
		{Match: "node_filesystem_files_free", Role: res, Layer: host, Harm: down},
		{Match: "node_filesystem_readonly", Role: res, Layer: host},
		{Match: "node_filesystem_*", Layer: host},
		{Match: "node_memory_MemAvailable_bytes", Role: res, Layer: host, Unit: "B", Harm: down},
		{Match: "node_memory_SwapFree_bytes", Role: res, Layer: host, Unit: "B", Harm: down},
		{Match: "node_memory_*", Layer: host},
		{Match: "node_vmstat_pgmajfault", Role: res, Layer: host, Unit: "/s"},
		{Match: "node_vmstat_oom_kill", Role: res, Layer: host, Unit: "/s"},

		{Match: "node_network_receive_errs_total", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_network_transmit_errs_total", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_network_receive_drop_total", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_network_transmit_drop_total", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_network_*_bytes_total", Role: sources.RoleTraffic, Layer: host, Unit: "B/s"},
		{Match: "node_network_*_packets_total", Role: sources.RoleTraffic, Layer: host, Unit: "/s"},
		{Match: "node_netstat_Tcp_RetransSegs", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_netstat_TcpExt_ListenDrops", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_netstat_TcpExt_ListenOverflows", Role: res, Layer: net, Unit: "/s"},
		{Match: "node_sockstat_TCP_tw", Role: res, Layer: net},
		{Match: "node_nf_conntrack_entries", Role: res, Layer: net},
		{Match: "node_*", Layer: host},
	}
}

// DefaultQueries are the PromQL queries a discovered Prometheus is asked
// when there is no configuration: the node_exporter resources that explain
// most incidents, one series per instance.
func DefaultQueries() []Query {
	return []Query{
		{Name: "cpu_iowait", Query: `100 * avg by (instance) (rate(node_cpu_seconds_total{mode="iowait"}[1m]))`, Unit: "%", Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "cpu_busy", Query: `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))`, Unit: "%", Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "load1", Query: `node_load1`, Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "memory_used", Query: `100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)`, Unit: "%", Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "disk_util", Query: `100 * rate(node_disk_io_time_seconds_total[1m])`, Unit: "%", Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "filesystem_used", Query: `100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs"})`, Unit: "%", Role: "resource", Layer: "host", Node: "$instance"},
		{Name: "network_errors", Query: `sum by (instance, device) (rate(node_network_receive_errs_total[1m]) + rate(node_network_transmit_errs_total[1m]))`, Unit: "/s", Role: "resource", Layer: "network", Node: "$instance"},
		{Name: "targets_down", Query: `count by (job) (up == 0)`, Role: "resource"},
	}
}
