#!/bin/sh
# history.forward end to end with a real Graphite receiver: Debian's
# carbon-cache (graphite-carbon) configured in a temporary directory on
# free loopback ports, without systemd, and the real mamorid with dummy
# checks that print perfdata.
#
#  - values arrive in carbon's whisper files (read back with
#    whisper-fetch), under prefix.customer.asset.check.label, with the
#    history's units (250ms -> 0.25) and a label with a space and a dot
#    sanitised into one path component;
#  - /metrics counts sent lines and shows the connection;
#  - carbon stopped: mamorid keeps running and checking, the connection
#    goes down, the bounded buffer (4096 bytes) overflows and the drop
#    counter rises;
#  - carbon started again: mamorid reconnects by itself (backoff) and new
#    values flow into whisper again.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"
command -v carbon-cache >/dev/null || it_skip "graphite-carbon not installed"
command -v whisper-fetch >/dev/null || it_skip "python3-whisper not installed"
command -v curl >/dev/null || it_skip "curl missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/carbon/conf" "$IT_TMP/carbon/whisper" "$IT_TMP/carbon/log"
C=$IT_TMP/carbon
cport=$(it_free_port)
pport=$(it_free_port)
qport=$(it_free_port)
mport=$(it_free_port)

# carbon-cache: everything under $C, loopback only, written at once
cat >"$C/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $C/
LOCAL_DATA_DIR = $C/whisper/
CONF_DIR = $C/conf/
LOG_DIR = $C/log/
PID_DIR = $C/
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 10000
MAX_CREATES_PER_MINUTE = 10000
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $cport
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $pport
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $qport
CACHE_WRITE_STRATEGY = naive
WHISPER_AUTOFLUSH = True
EOF
printf '[default]\npattern = .*\nretentions = 1s:1h\n' >"$C/conf/storage-schemas.conf"

carbon_up() {
	rm -f "$C/carbon.pid"
	it_bg carbon carbon-cache --config="$C/conf/carbon.conf" --pidfile="$C/carbon.pid" --nodaemon start
	CARBON_PID=$IT_LAST_PID
	it_wait_for 30 python3 -c "import socket; socket.create_connection(('127.0.0.1', $cport), 1)" ||
		{ cat "$IT_TMP/carbon.log" >&2; it_fail "carbon-cache did not start"; }
}

cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info";
           flush_interval = "50ms"; };
http = { listen = "127.0.0.1:$(it_free_port)"; metrics_listen = "127.0.0.1:$mport"; };
history = { raw_min_interval = "0s";
            forward = { graphite = "127.0.0.1:$cport"; prefix = "it.noc"; buffer = 4096; }; };
customers = ( { id = "c1"; assets = ( { name = "web1"; checks = (
  { plugin = "dummy"; name = "ping"; interval = "100ms";
    perf = "rta=250ms;100;500;0 'disk used.x'=2KB;;;0 pl=0%"; }
 ); } ); } );
EOF

M=http://127.0.0.1:$mport/metrics
metric() { curl -s "$M" | awk -v n="$1" '$1 == n { print $2 }'; }
# last VALUE of a whisper file newer than $2 (epoch s), or nothing
latest() {
	[ -f "$1" ] || return 0
	whisper-fetch --from="$2" "$1" 2>/dev/null | awk '$2 != "None" { v = $2 } END { if (v != "") print v }'
}
has_new() { [ -n "$(latest "$1" "$2")" ]; }

RTA=$C/whisper/it/noc/c1/web1/ping/rta.wsp
DISK=$C/whisper/it/noc/c1/web1/ping/disk_used_x.wsp

carbon_up
it_mamorid "$IT_TMP/mamori.conf"
PID=$MAMORID_PID
t0=$(date +%s)

# ---- values arrive, in the history's units ----
it_wait_for 30 has_new "$RTA" "$((t0 - 2))" || {
	find "$C/whisper" >&2
	cat "$IT_TMP/mamorid.log" "$IT_TMP/carbon.log" >&2
	it_fail "no value in carbon's $RTA"
}
v=$(latest "$RTA" "$((t0 - 2))")
[ "$v" = "0.250000" ] || it_fail "rta in carbon is $v, expected 0.250000 (250ms in s)"
it_wait_for 10 has_new "$DISK" "$((t0 - 2))" || { find "$C/whisper" >&2; it_fail "the label with a space and a dot did not arrive as disk_used_x"; }
v=$(latest "$DISK" "$((t0 - 2))")
[ "$v" = "2048.000000" ] || it_fail "disk used in carbon is $v, expected 2048 (2KB in B)"
[ -f "$C/whisper/it/noc/c1/web1/ping/pl.wsp" ] || it_fail "no pl series"
[ "$(metric mamori_history_forward_connected)" = 1 ] || it_fail "/metrics: not connected"
sent=$(curl -s "$M" | awk '$1 == "mamori_history_forward_lines_total{result=\"sent\"}" { print $2 }')
[ "${sent:-0}" -gt 0 ] || it_fail "/metrics: no lines sent"

if command -v promtool >/dev/null; then
	curl -s "$M" >"$IT_TMP/metrics.txt"
	promtool check metrics <"$IT_TMP/metrics.txt" >"$IT_TMP/promtool.txt" 2>&1 ||
		{ cat "$IT_TMP/promtool.txt" >&2; it_fail "promtool refuses /metrics"; }
fi

# ---- a reload with the same forward group keeps the connection ----
kill -HUP "$PID"
it_wait_for 10 grep -q "SIGHUP" "$IT_TMP/mamorid.log" || it_fail "no reload"
sleep 1
[ "$(metric mamori_history_forward_connects_total)" = 1 ] || it_fail "a reload without a change reconnected"
[ "$(metric mamori_history_forward_connected)" = 1 ] || it_fail "not connected after a reload"

# ---- carbon stops: mamorid keeps running, the buffer overflows ----
kill -TERM "$CARBON_PID"
it_wait_for 15 sh -c "! kill -0 $CARBON_PID" || it_fail "carbon-cache did not stop"
it_wait_for 10 sh -c "[ \"\$(curl -s '$M' | awk '\$1 == \"mamori_history_forward_connected\" { print \$2 }')\" = 0 ]" ||
	it_fail "/metrics still says connected after carbon stopped"
dropped() { curl -s "$M" | awk '$1 == "mamori_history_forward_lines_total{result=\"dropped\"}" { print $2 }'; }
d0=$(dropped)
it_wait_for 30 sh -c "[ \"\$(curl -s '$M' | awk '\$1 == \"mamori_history_forward_lines_total{result=\\\"dropped\\\"}\" { print \$2 }')\" -gt ${d0:-0} ]" ||
	it_fail "the drop counter did not rise while carbon was down ($(dropped))"
q=$(metric mamori_history_forward_queued_bytes)
[ "${q:-99999}" -le 4096 ] || it_fail "queued $q bytes, more than the 4096-byte buffer"
kill -0 "$PID" 2>/dev/null || { cat "$IT_TMP/mamorid.log" >&2; it_fail "mamorid died while carbon was down"; }
[ "$(metric mamori_history_forward_failures_total)" -ge 1 ] || it_fail "no failure counted"
grep -q "forward: graphite 127.0.0.1:$cport: connection lost" "$IT_TMP/mamorid.log" ||
	it_fail "no log line for the lost connection"

# ---- carbon back: mamorid reconnects, values flow again ----
carbon_up
t1=$(date +%s)
it_wait_for 90 sh -c "[ \"\$(curl -s '$M' | awk '\$1 == \"mamori_history_forward_connected\" { print \$2 }')\" = 1 ]" ||
	it_fail "mamorid did not reconnect to carbon"
it_wait_for 30 has_new "$RTA" "$((t1 + 1))" || it_fail "no new value in carbon after the reconnect"
[ "$(metric mamori_history_forward_connects_total)" -ge 2 ] || it_fail "connects_total below 2"

# ---- a reload with another prefix: a new forwarder, new paths ----
sed 's/prefix = "it.noc"/prefix = "it.moved"/' "$IT_TMP/mamori.conf" >"$IT_TMP/m2.conf"
mv "$IT_TMP/m2.conf" "$IT_TMP/mamori.conf"
t2=$(date +%s)
kill -HUP "$PID"
it_wait_for 30 has_new "$C/whisper/it/moved/c1/web1/ping/rta.wsp" "$((t2 - 1))" ||
	it_fail "no value under the new prefix after a reload"
kill -0 "$PID" 2>/dev/null || it_fail "mamorid died"
echo "PASS forward"
