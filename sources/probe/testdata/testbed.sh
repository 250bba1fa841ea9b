#!/bin/bash
# The path-probe testbed of docs path-probes.md §5, on its own (not the
# tests' builder): three vantage namespaces, each behind its own access
# router, a shared carrier, a provider edge and the target 10.4.0.2.
#
#   v1 10.1.1.2 ─ a1 ─┐ 10.2.1.0/24
#   v2 10.1.2.2 ─ a2 ─┼─ c (carrier) ── 10.3.0.0/24 ── e (edge) ── 10.4.0.0/24 ── t 10.4.0.2
#   v3 10.1.3.2 ─ a3 ─┘ 10.2.3.0/24                      │ 10.5.0.0/24
#                     └──────────── 10.6.0.0/24 ── b (return only) ─┘
#   ecmp: c ─ m1 ─ e and c ─ m2 ─ e (10.7.{1,2}.0/24, 10.8.{1,2}.0/24)
#
# Usage (as root; namespaces are named $P<name>, P=p2- by default):
#   testbed.sh up [ecmp]          build it (clean: no router rate-limits ICMP)
#   testbed.sh down               delete every namespace of it
#   testbed.sh fault CASE         put a case's fault in place (see cases below)
#   testbed.sh config BIN FILE    write an opsview config probing it through
#                                 `ip netns exec` vantages running BIN
#   testbed.sh run BIN CASE DIR   a whole run: build, 30 s clean, the fault,
#                                 90 s of it; opsview live in tmux (screens
#                                 saved each second, recording with `R`),
#                                 then `export` of the recording and `check`
#                                 with the fault still in place; tear down.
#                                 What each said, and when, lands in DIR.
# Cases: clean, ratelimit, carrier-loss, return-path, edge-loss, queue, ecmp.
set -u
P=${P:-p2-}
NS="v1 v2 v3 a1 a2 a3 c e t b"
TARGET=10.4.0.2
# RL is the kernel's ICMP limit (ms between errors to one destination) of
# a rate-limiting router: Linux's default 1000 lets one probe a second
# through; 5000 drops about 4 of 5 at opsview's default rate
RL=${RL:-5000}
x() { local n=$1; shift; ip netns exec "$P$n" "$@"; }
# link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces
link() {
	ip -n "$P$1" link add "$2" type veth peer name "$5" netns "$P$4"
	ip -n "$P$1" addr add "$3" dev "$2"
	ip -n "$P$1" link set "$2" up
	ip -n "$P$4" addr add "$6" dev "$5"
	ip -n "$P$4" link set "$5" up
}
norpf() { x "$1" sh -c 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done'; }

up() {
	down
	for n in $NS; do
		ip netns add "$P$n"
		ip -n "$P$n" link set lo up
		x "$n" sysctl -qw net.ipv4.ip_forward=1
	done
	for i in 1 2 3; do
		link v$i eth0 10.1.$i.2/24 a$i ifv 10.1.$i.1/24
		link a$i ifc 10.2.$i.2/24 c ifa$i 10.2.$i.1/24
		ip -n ${P}v$i route add default via 10.1.$i.1
		ip -n ${P}a$i route add default via 10.2.$i.1
		ip -n ${P}c route add 10.1.$i.0/24 via 10.2.$i.2
	done
	link c ife 10.3.0.1/24 e ifc 10.3.0.2/24
	link e ift 10.4.0.1/24 t eth0 10.4.0.2/24
	link e ifb 10.5.0.1/24 b ife 10.5.0.2/24
	link b ifa3 10.6.0.1/24 a3 ifb 10.6.0.2/24
	ip -n ${P}c route add 10.4.0.0/24 via 10.3.0.2
	ip -n ${P}e route add 10.1.0.0/16 via 10.3.0.1
	ip -n ${P}e route add 10.2.0.0/16 via 10.3.0.1
	ip -n ${P}t route add default via 10.4.0.1
	ip -n ${P}b route add 10.1.3.0/24 via 10.6.0.2
	ip -n ${P}b route add 10.4.0.0/24 via 10.5.0.1
	for n in $NS; do norpf $n; done
	# a clean baseline: Linux routers rate-limit ICMP errors by default
	for n in a1 a2 a3 c e b t; do x $n sysctl -qw net.ipv4.icmp_ratelimit=0; done
	if [ "${1:-}" = ecmp ]; then ecmp; fi
}

# ecmp: two equal-cost routers m1, m2 between the carrier and the edge; c
# hashes addresses, protocol and ports, so a flow keeps its branch
ecmp() {
	for m in 1 2; do
		ip netns add ${P}m$m
		ip -n ${P}m$m link set lo up
		x m$m sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
		link c ifm$m 10.7.$m.1/24 m$m ifc 10.7.$m.2/24
		link m$m ife 10.8.$m.1/24 e ifm$m 10.8.$m.2/24
		ip -n ${P}m$m route add 10.4.0.0/24 via 10.8.$m.2
		ip -n ${P}m$m route add 10.1.0.0/16 via 10.7.$m.1
		norpf m$m
	done
	norpf e
	x c sysctl -qw net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x0037
	ip -n ${P}c route replace 10.4.0.0/24 nexthop via 10.7.1.2 nexthop via 10.7.2.2
}

down() {
	for n in $NS m1 m2; do ip netns del "$P$n" 2>/dev/null; done
	true
}

# load sends UDP from a namespace to the target at BYTES/s for SECONDS: a
# bounded flow that fills a shaped queue
load() {
	x "$1" python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
end=time.time()+float(sys.argv[1]);rate=float(sys.argv[2]);b=b"x"*1200;n=0;t0=time.time()
while time.time()<end:
  s.sendto(b,(sys.argv[3],9));n+=1
  w=t0+n*1200/rate-time.time()
  if w>0:time.sleep(w)' "$3" "$2" $TARGET &
}

drop() { # drop NS IF PROBABILITY: random loss entering NS from IF
	x "$1" iptables -t raw -A PREROUTING -i "$2" -m statistic --mode random --probability "$3" -j DROP
}

fault() {
	case $1 in
	clean) ;;
	ratelimit) # the kernel's limit on c and a CoPP-style 1/s on e
		x c sysctl -qw net.ipv4.icmp_ratelimit=$RL
		x e iptables -A OUTPUT -p icmp --icmp-type time-exceeded -m limit --limit 1/sec --limit-burst 1 -j ACCEPT
		x e iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP ;;
	carrier-loss) # 25 % loss entering the carrier, a1 rate-limiting its answers
		x a1 sysctl -qw net.ipv4.icmp_ratelimit=$RL
		for i in 1 2 3; do drop c ifa$i 0.25; done ;;
	return-path) # v3's answers come back through b, which drops 30 %
		ip -n ${P}e route replace 10.1.3.0/24 via 10.5.0.2
		drop b ife 0.3 ;;
	edge-loss) # the carrier rate-limits ICMP, 20 % lost on the link into the edge
		x c sysctl -qw net.ipv4.icmp_ratelimit=$RL
		drop e ifc 0.2 ;;
	queue) # a shaped queue on c's link into e, filled by a bounded flow from v1
		x c tc qdisc add dev ife root tbf rate 4mbit burst 5kb latency 50ms
		load v1 $((6000000 / 8)) "${2:-100}" ;;
	ecmp) # 30 % loss entering m1, one of the two equal-cost routers
		drop m1 ifc 0.3 ;;
	*) echo "unknown case $1" >&2; return 2 ;;
	esac
}

config() { # config BIN FILE [BACKEND]
	local bin=$1 file=$2 backend=${3:-}
	{
		echo "sources:"
		echo "  - name: paths"
		echo "    type: probe"
		echo "    interval: 1s"
		echo "    targets: [$TARGET]"
		echo "    reverse_dns: false"
		echo "    asn_overrides:"
		echo "      \"10.2.0.0/16\": \"AS65002 carrier\""
		echo "      \"10.3.0.0/24\": \"AS65002 carrier\""
		echo "      \"10.7.0.0/16\": \"AS65002 carrier\""
		echo "      \"10.8.0.0/16\": \"AS65002 carrier\""
		echo "      \"10.4.0.0/24\": \"AS65004 provider\""
		echo "      \"10.1.1.0/24\": \"AS65101 dc1\""
		echo "      \"10.1.2.0/24\": \"AS65102 home\""
		echo "      \"10.1.3.0/24\": \"AS65103 chicago\""
		echo "    vantages:"
		for i in 1 2 3; do
			echo "      - name: v$i"
			echo "        type: exec"
			echo "        command: ip netns exec ${P}v$i"
			echo "        opsview: $bin"
			if [ -n "$backend" ]; then echo "        backend: $backend"; fi
		done
	} >"$file"
}

# run BIN CASE DIR: one case end to end (see the top)
run() {
	local bin=$1 case=$2 dir=$3 clean=${CLEAN:-30} faulty=${FAULTY:-90}
	local sess=${P}ov backend=
	mkdir -p "$dir"
	[ "$case" = ecmp ] && backend=udp
	if [ "$case" = ecmp ]; then up ecmp; else up; fi
	[ "$case" = ecmp ] && x t sysctl -qw net.ipv4.icmp_ratelimit=0
	config "$bin" "$dir/config.yaml" $backend
	export OPSVIEW_CONFIG=$dir/config.yaml XDG_STATE_HOME=$dir/state XDG_CONFIG_HOME=$dir/cfg
	tmux kill-session -t "$sess" 2>/dev/null
	# a tmux server started earlier keeps its own environment: say it all
	tmux new-session -d -s "$sess" -x 200 -y 50 \
		"env XDG_STATE_HOME=$dir/state XDG_CONFIG_HOME=$dir/cfg $bin -c $dir/config.yaml --log-file $dir/opsview.log"
	sleep 2
	tmux send-keys -t "$sess" R # record
	local t0 tf now
	t0=$(date +%s)
	tf=$((t0 + clean))
	: >"$dir/screens.txt"
	local faulted=
	while now=$(date +%s); [ $now -lt $((tf + faulty)) ]; do
		if [ -z "$faulted" ] && [ $now -ge $tf ]; then
			fault "$case" $((faulty + 40))
			faulted=1
			echo "fault at $(date +%s)" >>"$dir/screens.txt"
		fi
		# the Findings view (4) and the Paths view (6), in turn
		tmux send-keys -t "$sess" 6
		sleep 0.5
		{ echo "=== $(date +%s) paths"; tmux capture-pane -p -t "$sess"; } >>"$dir/screens.txt"
		tmux send-keys -t "$sess" 4
		sleep 0.5
		{ echo "=== $(date +%s) findings"; tmux capture-pane -p -t "$sess"; } >>"$dir/screens.txt"
	done
	tmux send-keys -t "$sess" R
	sleep 1
	tmux send-keys -t "$sess" q
	sleep 2
	tmux kill-session -t "$sess" 2>/dev/null
	echo "$t0 $tf" >"$dir/times"
	local rec
	rec=$(find "$dir/state" -name '*.opsrec' 2>/dev/null | head -1)
	if [ -n "$rec" ]; then
		"$bin" export "$rec" -o "$dir/export.md" 2>"$dir/export.err"
	fi
	# check with the fault still in place (a fresh session: it probes anew)
	# as a user runs it, then with the time a slow case needs
	"$bin" check --format json >"$dir/check.json" 2>"$dir/check.err"
	echo "check exit $?" >>"$dir/check.err"
	"$bin" check --paths-wait 55s --timeout 60s >"$dir/check.txt" 2>>"$dir/check.err"
	echo "check --paths-wait 55s exit $?" >>"$dir/check.err"
	down
}

# summary DIR: what a run's screens, export and check said, and when
summary() {
	python3 - "$1" <<'PY'
import json, re, sys
d = sys.argv[1]
t0, tf = map(int, open(d + "/times").read().split())
verdicts, findings = [], []  # (seconds after the fault, text)
cur = None
for line in open(d + "/screens.txt", errors="replace"):
    m = re.match(r"=== (\d+) (\w+)", line)
    if m:
        cur = (int(m.group(1)) - tf, m.group(2), [])
        (verdicts if cur[1] == "paths" else findings).append(cur)
        continue
    if cur:
        cur[2].append(line.rstrip("\n"))
def verdict(lines):
    out = []
    if not any(l.startswith("Paths ") for l in lines[:4]):
        return "(not the Paths view)"
    for l in lines[3:6]:
        if re.match(r"\S+\s+[A-Z]{3,}\??\s", l) or "latency" in l.lower():
            out.append(l.strip())
    return " | ".join(out)
def active(lines):
    for l in lines:
        m = re.search(r"Findings\s+(\d+) active", l)
        if m:
            n = int(m.group(1))
            titles = [re.sub(r"^\S+\s+", "", l.strip().lstrip(">")).strip() for l in lines
                      if re.match(r"\s+>?\S+\s+(critical|warning|info)\s", l) and "finding" not in l[-12:]]
            return n, titles
    return 0, []
norm = lambda s: re.sub(r"\d+(–\d+)? %", "N %", re.sub(r"\s+(\d+[hm])?\d+[ms]?$", "", s))
first_v = next(((t, verdict(l)) for t, _, l in verdicts if t >= 0 and verdict(l)[:2] not in ("✔ ", "? ", "(n")), None)
first_f, kinds, closed, reopened = None, set(), 0, 0
was = False
for t, _, l in findings:
    if t < 0:
        if active(l)[0]:
            print("  a finding before the fault at %+ds: %s" % (t, active(l)[1][:1]))
        continue
    n, titles = active(l)
    if n and first_f is None:
        first_f = (t, titles[:1])
    if first_f:
        if not n and was: closed += 1
        if n and not was and closed: reopened += 1
        kinds.update(norm(x) for x in titles)
    was = bool(n)
last = [verdict(l) for t, _, l in verdicts if t >= 0 and not verdict(l).startswith("(n")][-1:] or [""]
print("  first verdict shown: %s" % ("+%ds %s" % first_v if first_v else "none"))
print("  first finding:       %s" % ("+%ds %s" % (first_f[0], first_f[1][0] if first_f[1] else "") if first_f else "none"))
print("  steady: %s (one finding open from the first: closed %d times, reopened %d; %d wordings of its title)" % (
    "n/a" if not first_f else ("yes" if not closed else "NO"), closed, reopened, len(kinds)))
for k in sorted(kinds): print("    - " + k[:200])
print("  last screen: " + last[0][:220])
try:
    exp = open(d + "/export.md").read()
    for l in exp.splitlines():
        if l.startswith("### ") or "finding opened" in l or "finding resolved" in l:
            print("  export: " + l[:220])
    if "None: the engine raised no findings" in exp: print("  export: no findings")
except OSError:
    print("  export: none")
try:
    c = json.load(open(d + "/check.json"))
    print("  check: %s; findings %s; not judged %s" % (c.get("status"), [f.get("title", "")[:160] for f in c.get("findings") or []], c.get("not_judged")))
except (OSError, ValueError) as e:
    print("  check: %s" % e)
try:
    print("  check --paths-wait 55s: " + open(d + "/check.txt").readline().strip()[:220])
except OSError:
    pass
PY
}

"$@"
