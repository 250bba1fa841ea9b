package graphite

import "github.com/opsview/opsview/sources"

// DefaultRules classify the usual Graphite trees (Diamond's
// servers.<host>.…, collectd's collectd.<host>.…, statsd's stats.…). The
// lead appends them after the config's own rules, so the config wins.
// Rules fill each field from the first rule that sets it: the layer rules
// for database and load-balancer hosts come before the generic host ones.
func DefaultRules() sources.Rules {
	res, host := sources.RoleResource, sources.LayerHost
	return sources.Rules{
		// the layer of a machine from its name: servers.db-1.cpu.iowait → db
		{Match: "*.db*.*", Layer: sources.LayerDB},
		{Match: "*.mysql*.*", Layer: sources.LayerDB},
		{Match: "*.postgres*.*", Layer: sources.LayerDB},
		{Match: "*.pg*.*", Layer: sources.LayerDB},
		{Match: "*.redis*.*", Layer: sources.LayerDB},
		{Match: "*.mongo*.*", Layer: sources.LayerDB},
		{Match: "*.lb*.*", Layer: sources.LayerLB},
		{Match: "*.haproxy*.*", Layer: sources.LayerLB},

		// CPU wait and load
		{Match: "*.cpu.iowait", Role: res, Layer: host, Unit: "%"},
		{Match: "*.cpu.total.iowait", Role: res, Layer: host, Unit: "%"},
		{Match: "*cpu*.cpu-wait", Role: res, Layer: host, Unit: "%"},
		{Match: "*.cpu.*.iowait", Role: res, Layer: host, Unit: "%"},
		{Match: "*.cpu.total.steal", Role: res, Layer: host, Unit: "%"},
		{Match: "*.cpu.total.user", Role: res, Layer: host, Unit: "%"},
		{Match: "*.cpu.total.system", Role: res, Layer: host, Unit: "%"},
		{Match: "*.loadavg.*", Role: res, Layer: host},
		{Match: "*.load.load.*", Role: res, Layer: host},
		// memory and disks
		{Match: "*.memory.*", Role: res, Layer: host, Unit: "B"},
		{Match: "*.iostat.*.util_percentage", Role: res, Layer: host, Unit: "%"},
		{Match: "*.iostat.*.await", Role: res, Layer: host, Unit: "ms"},
		{Match: "*.iostat.*", Role: res, Layer: host},
		{Match: "*.disk-*.disk_io_time.*", Role: res, Layer: host, Unit: "ms"},
		{Match: "*.diskspace.*.byte_percentfree", Role: res, Layer: host, Unit: "%", Kind: sources.SeriesRatio, Harm: sources.HarmDown},
		{Match: "*.diskspace.*", Role: res, Layer: host},
		{Match: "*.df-*.*", Role: res, Layer: host},
		// network
		{Match: "*.network.*.rx_errors", Role: res, Layer: sources.LayerNetwork, Unit: "/s"},
		{Match: "*.network.*.tx_errors", Role: res, Layer: sources.LayerNetwork, Unit: "/s"},
		{Match: "*.network.*.rx_drop", Role: res, Layer: sources.LayerNetwork, Unit: "/s"},
		{Match: "*.network.*.tx_drop", Role: res, Layer: sources.LayerNetwork, Unit: "/s"},
		{Match: "*.network.*", Role: sources.RoleTraffic, Layer: host, Unit: "B/s"},
		{Match: "*.interface-*.if_errors.*", Role: res, Layer: sources.LayerNetwork},
		{Match: "*.interface-*.*", Role: sources.RoleTraffic, Layer: host},
		// databases and queues
		{Match: "*.mysql.*", Role: res, Layer: sources.LayerDB},
		{Match: "*.postgres*.*", Role: res, Layer: sources.LayerDB},
		{Match: "*.redis.*", Role: res, Layer: sources.LayerDB},
		// request counters from statsd and web servers
		{Match: "stats.*.requests*", Role: sources.RoleTraffic, Unit: "req/s"},
		{Match: "*.nginx.*", Role: sources.RoleTraffic, Layer: sources.LayerApp},
		{Match: "*.requests.*", Role: sources.RoleTraffic},
	}
}
