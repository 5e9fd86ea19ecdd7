#!/bin/sh
# `sudo make demo`: three wackamole nodes on the built-in membership, each
# in its own network namespace on one bridge, sharing six virtual
# addresses. It shows the allocation, then times a crash (kill -9), a
# clean stop (SIGTERM) and a partition, and checks after each that every
# address has exactly one owner. Everything it creates (namespaces named
# wkdemo-<pid>-*, a directory under /tmp, the daemons) is removed on exit,
# also when interrupted. Needs root, `ip` (iproute2) and, to build, cargo.
#
# Usage: sh etc/demo.sh [PATH-TO-WACKAMOLE]   (built with cargo if omitted)
set -eu

cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	say "demo: needs root to create network namespaces: sudo make demo" >&2
	exit 1
fi
command -v ip >/dev/null 2>&1 || { say "demo: needs ip (iproute2)" >&2; exit 1; }

BIN=${1:-}
if [ -z "$BIN" ]; then
	if command -v cargo >/dev/null 2>&1; then
		step "Building"
		cargo build --release
	fi
	BIN=target/release/wackamole
fi
[ -x "$BIN" ] || { say "demo: no binary at $BIN (run make all first)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

TAG="wkdemo-$$"
HUB="$TAG-hub"
CLIENT="$TAG-client"
DIR=$(mktemp -d /tmp/wkdemo.XXXXXX)
NAMESPACES=""
PIDS=""

cleanup() {
	status=$?
	trap - EXIT INT TERM
	for pid in $PIDS; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for ns in $NAMESPACES; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$DIR"
	if [ "$status" = 0 ]; then
		say "demo: done, everything removed"
	elif [ "$status" = 130 ] || [ "$status" = 143 ]; then
		say "demo: interrupted, everything removed" >&2
	else
		say "demo: FAILED (status $status), everything removed" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	say "demo: FAILED: $*" >&2
	for n in 1 2 3; do
		say "---- node $n: addresses" >&2
		ip -n "$TAG-n$n" -4 -o addr show 2>/dev/null >&2 || true
		say "---- node $n: last lines of its log" >&2
		tail -n 15 "$DIR/node$n.log" 2>/dev/null >&2 || true
	done
	exit 1
}

now_ms() { date +%s%3N; }

add_ns() {
	ip netns add "$1"
	NAMESPACES="$NAMESPACES $1"
	ip -n "$1" link set lo up
}

NODE_IP() { printf '10.213.0.%s' "$((10 + $1))"; }
VIPS="10.213.0.101 10.213.0.102 10.213.0.103 10.213.0.104 10.213.0.105 10.213.0.106"

# Node N's link to the bridge: wm0 in its namespace, pN on the bridge.
wire() {
	ip -n "$TAG-n$1" link add name wm0 type veth peer name "p$1" netns "$HUB"
	ip -n "$HUB" link set "p$1" master br0 up
	ip -n "$TAG-n$1" addr add "$(NODE_IP "$1")/24" dev wm0
	ip -n "$TAG-n$1" link set wm0 up
}

mac_of() { ip -n "$1" -o link show dev "$2" | sed 's/.*link\/ether \([0-9a-f:]*\).*/\1/'; }

step "Network: a bridge and three nodes in namespaces $TAG-*"
add_ns "$HUB"
ip -n "$HUB" link add br0 type bridge
ip -n "$HUB" link set br0 up
for n in 1 2 3; do
	add_ns "$TAG-n$n"
	wire "$n"
	say "node $n: $(NODE_IP "$n") on wm0 ($(mac_of "$TAG-n$n" wm0))"
done
# A neighbour that only listens: its ARP cache shows who it sends to.
add_ns "$CLIENT"
ip -n "$CLIENT" link add name c0 type veth peer name pc netns "$HUB"
ip -n "$HUB" link set pc master br0 up
ip -n "$CLIENT" addr add 10.213.0.200/24 dev c0
ip -n "$CLIENT" link set c0 up

step "Key and configuration"
"$BIN" keygen "$DIR/cluster.key"
ls -l "$DIR/cluster.key"
for n in 1 2 3; do
	cat >"$DIR/node$n.conf" <<EOF
Membership {
	Nodes { $(NODE_IP 1) $(NODE_IP 2) $(NODE_IP 3) }
	Port = 4810
	Key = $DIR/cluster.key
	Heartbeat = 20ms
	Timeout = 200ms
}
Quorum = majority
Control = $DIR/node$n.sock
Mature = 1s
Balance {
	AcquisitionsPerRound = 1
	Interval = 1s
}
VirtualInterfaces {
$(for v in $VIPS; do printf '\twm0:%s/24\n' "$v"; done)
}
EOF
done
say "every node (node 1's file; the others differ only in Control):"
sed 's/^/    /' "$DIR/node1.conf"

start() {
	ip netns exec "$TAG-n$1" "$BIN" -d -c "$DIR/node$1.conf" >>"$DIR/node$1.log" 2>&1 &
	eval "PID$1=$!"
	PIDS="$PIDS $!"
}

pid_of() { eval "printf '%s' \"\$PID$1\""; }

# The VIPs on node N's wm0, one a line.
vips_on() {
	ip -n "$TAG-n$1" -4 -o addr show dev wm0 2>/dev/null |
		sed -n 's/.* inet \(10\.213\.0\.1[0-9][0-9]\)\/.*/\1/p'
}

# Whether each VIP is on exactly one of the nodes given; with a count
# as first argument, also whether each of them holds that many.
each_once() {
	per=$1
	shift
	all=""
	for n in "$@"; do
		mine=$(vips_on "$n")
		if [ "$per" != any ] && [ "$(printf '%s' "$mine" | grep -c .)" != "$per" ]; then
			return 1
		fi
		all="$all $mine"
	done
	for v in $VIPS; do
		[ "$(printf '%s\n' $all | grep -cx "$v")" = 1 ] || return 1
	done
}

alive() {
	for n in "$@"; do
		kill -0 "$(pid_of "$n")" 2>/dev/null || fail "node $n's daemon is gone"
	done
}

# wait_until SECONDS WHAT COMMAND...: polls until COMMAND succeeds.
wait_until() {
	secs=$1
	limit=$(($(now_ms) + secs * 1000))
	what=$2
	shift 2
	until "$@"; do
		[ "$(now_ms)" -lt "$limit" ] || fail "no $what within $secs s"
		sleep 0.05
	done
}

holds_nothing() { [ -z "$(vips_on "$1")" ]; }

# Fails the demo when an address is on two nodes in two sweeps in a row
# (one sweep reads the nodes one after another, so a move between them
# can show once on both); true once each node holds two.
DOUBLES=""
balanced_single() {
	all=""
	for n in 1 2 3; do all="$all $(vips_on "$n")"; done
	now=$(printf '%s\n' $all | sort | uniq -d | tr '\n' ' ')
	for v in $now; do
		case " $DOUBLES " in *" $v "*) fail "$v on two nodes at once" ;; esac
	done
	DOUBLES=$now
	each_once 2 1 2 3
}

show() {
	for n in 1 2 3; do
		printf 'node %s holds: %s\n' "$n" "$(vips_on "$n" | tr '\n' ' ')"
	done
}

step "Starting three nodes"
for n in 1 2 3; do start "$n"; done
t0=$(now_ms)
wait_until 30 "balanced allocation" each_once 2 1 2 3
say "every address held once, two per node, $(($(now_ms) - t0)) ms after start:"
show
say "wackatrl -l on node 1:"
"$BIN" ctl -c "$DIR/node1.conf" -l | sed 's/^/    /'

# Before node $1 fails: notes its addresses ($orphans) and the MACs of
# the nodes after it on the line (its survivors), and has the listening
# neighbour know those addresses at node $1's MAC, so that only a
# gratuitous ARP from a survivor can change its ARP cache.
prepare_takeover() {
	victim=$1
	shift
	orphans=$(vips_on "$victim")
	survivor_macs=""
	for n in "$@"; do survivor_macs="$survivor_macs $(mac_of "$TAG-n$n" wm0)"; done
	# The neighbour knows the addresses at the victim's MAC.
	vmac=$(mac_of "$TAG-n$victim" wm0)
	for v in $orphans; do
		ip -n "$CLIENT" neigh replace "$v" lladdr "$vmac" dev c0 nud stale
	done
}

up_on_survivors() {
	held=""
	for n in $SURVIVORS; do held="$held $(vips_on "$n")"; done
	for v in $orphans; do
		printf '%s\n' $held | grep -qx "$v" || return 1
	done
}

announced() {
	for v in $orphans; do
		mac=$(ip -n "$CLIENT" neigh show "$v" dev c0 | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
		case " $survivor_macs " in *" $mac "*) ;; *) return 1 ;; esac
	done
}

# measure LIMIT: polls as fast as ip allows; sets UP_MS and SEEN_MS.
measure() {
	UP_MS=""
	SEEN_MS=""
	limit=$((T0 + $1 * 1000))
	while [ -z "$UP_MS" ] || [ -z "$SEEN_MS" ]; do
		if [ -z "$UP_MS" ] && up_on_survivors; then UP_MS=$(($(now_ms) - T0)); fi
		if [ -z "$SEEN_MS" ] && announced; then SEEN_MS=$(($(now_ms) - T0)); fi
		[ "$(now_ms)" -lt "$limit" ] || fail "addresses $orphans not taken over within $1 s"
	done
}

step "kill -9 of node 2: its machine dies (the daemon is killed, its link removed)"
say "(times are polled with ip, to within a few milliseconds; make bench measures finer)"
SURVIVORS="1 3"
prepare_takeover 2 1 3
say "node 2 held: $(printf '%s ' $orphans)"
T0=$(now_ms)
kill -9 "$PID2"
ip -n "$TAG-n2" link del wm0
measure 10
wait "$PID2" 2>/dev/null || true
say "its addresses were up on the survivors after $UP_MS ms, and the neighbour's ARP cache"
say "pointed at them after $SEEN_MS ms (Timeout is 200 ms)"
wait_until 10 "single owners after the crash" each_once any 1 3
show

step "Node 2 comes back (a new incarnation) and balance gives it its share"
wire 2
T1=$(now_ms)
start 2
wait_until 30 "rebalanced allocation" each_once 2 1 2 3
say "balanced again $(($(now_ms) - T1)) ms after its start:"
show

step "SIGTERM to node 3: a clean stop hands over at once"
SURVIVORS="1 2"
prepare_takeover 3 1 2
say "node 3 held: $(printf '%s ' $orphans)"
T0=$(now_ms)
kill -TERM "$PID3"
measure 10
code=0
wait "$PID3" || code=$?
[ "$code" = 0 ] || fail "node 3 exited with status $code after SIGTERM"
[ -z "$(vips_on 3)" ] || fail "node 3 left addresses behind: $(vips_on 3)"
say "up on the survivors after $UP_MS ms, neighbour's ARP cache moved after $SEEN_MS ms;"
say "node 3 exited 0 and released everything"
start 3
wait_until 30 "rebalanced allocation" each_once 2 1 2 3
say "node 3 restarted; balanced again:"
show

step "Partition: node 1's link goes down"
T0=$(now_ms)
ip -n "$HUB" link set p1 down
wait_until 10 "takeover by the majority" each_once any 2 3
say "after $(($(now_ms) - T0)) ms nodes 2 and 3 (a majority) hold every address once;"
wait_until 10 "release by the minority" holds_nothing 1
say "node 1, alone and without the quorum (Quorum = majority), released everything:"
show
alive 1 2 3

step "The link comes back: the partition heals"
T0=$(now_ms)
ip -n "$HUB" link set p1 up
wait_until 30 "rebalanced allocation" balanced_single
say "merged and balanced after $(($(now_ms) - T0)) ms, never an address on two nodes:"
show
alive 1 2 3

step "Tearing down"
