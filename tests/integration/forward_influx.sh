#!/bin/sh
# history.forward with influx: Debian's InfluxDB 1.6 (influxd, its UDP line
# protocol listener and HTTP query API) in a temporary directory on free
# loopback ports, without systemd, and the real mamorid with dummy checks
# that print perfdata.
#
#  - values arrive as points of measurement "it_m" with tags customer,
#    asset, check, label and unit, read back through InfluxDB's /query:
#    units normalised (250ms -> 0.25 s), a label with a space and a comma
#    escaped so that InfluxDB gives it back unchanged;
#  - influxd stopped: mamorid keeps running, its datagrams are refused
#    (ICMP on loopback) and counted as dropped, /metrics says not
#    connected;
#  - influxd started again: new values are stored again.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"
command -v influxd >/dev/null || it_skip "influxdb not installed"
command -v curl >/dev/null || it_skip "curl missing"

it_init
IT_STATE_DIR=$IT_TMP/state
I=$IT_TMP/influx
mkdir -p "$IT_STATE_DIR" "$I"
uport=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()')
hport=$(it_free_port)
rport=$(it_free_port)
mport=$(it_free_port)

cat >"$I/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rport"
[meta]
  dir = "$I/meta"
[data]
  dir = "$I/data"
  wal-dir = "$I/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$hport"
  log-enabled = false
[[udp]]
  enabled = true
  bind-address = "127.0.0.1:$uport"
  database = "mamori"
  batch-size = 100
  batch-timeout = "100ms"
[monitor]
  store-enabled = false
EOF

influx_up() {
	it_bg influxd influxd -config "$I/influxdb.conf"
	INFLUX_PID=$IT_LAST_PID
	it_wait_for 30 curl -sf "http://127.0.0.1:$hport/ping" ||
		{ cat "$IT_TMP/influxd.log" >&2; it_fail "influxd did not start"; }
	it_wait_for 10 grep -q "Started listening on UDP" "$IT_TMP/influxd.log" || it_fail "no UDP listener"
}

cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info";
           flush_interval = "50ms"; };
http = { listen = "127.0.0.1:$(it_free_port)"; metrics_listen = "127.0.0.1:$mport"; };
history = { raw_min_interval = "0s";
            forward = { influx = "udp://127.0.0.1:$uport"; prefix = "it_m"; buffer = 4096; }; };
customers = ( { id = "c1"; assets = ( { name = "web1"; checks = (
  { plugin = "dummy"; name = "ping"; interval = "100ms";
    perf = "rta=250ms;100;500;0 'disk used,x'=2KB;;;0"; }
 ); } ); } );
EOF

M=http://127.0.0.1:$mport/metrics
metric() { curl -s "$M" | awk -v n="$1" '$1 == n { print $2 }'; }
# query LABEL SINCE(epoch s) -> "unit value count" of the points since then
query() {
	curl -s "http://127.0.0.1:$hport/query?db=mamori" --data-urlencode \
		"q=SELECT last(value), count(value) FROM it_m WHERE time >= $2000000000 GROUP BY *" |
		python3 -c '
import json, sys
label = sys.argv[1]
for r in json.load(sys.stdin).get("results", []):
    for s in r.get("series", []):
        t = s["tags"]
        if t.get("label") == label and t.get("customer") == "c1" and t.get("asset") == "web1" and t.get("check") == "ping":
            print(t.get("unit", ""), s["values"][0][1], s["values"][0][2])
' "$1"
}
has() { [ -n "$(query "$1" "$2")" ]; }

influx_up
it_mamorid "$IT_TMP/mamori.conf"
PID=$MAMORID_PID
t0=$(($(date +%s) - 2))

it_wait_for 30 has rta "$t0" || { cat "$IT_TMP/mamorid.log" >&2; it_fail "no rta point in InfluxDB"; }
set -- $(query rta "$t0")
[ "$1" = s ] && [ "$2" = 0.25 ] || it_fail "rta in InfluxDB: unit '$1' value '$2', expected s 0.25"
it_wait_for 10 has "disk used,x" "$t0" || it_fail "the label with a space and a comma did not come back unchanged"
set -- $(query "disk used,x" "$t0")
[ "$1" = B ] && [ "$2" = 2048 ] || it_fail "disk in InfluxDB: unit '$1' value '$2', expected B 2048"
[ "$(metric mamori_history_forward_connected)" = 1 ] || it_fail "/metrics: not connected"

# ---- influxd stops: refused datagrams are dropped and counted ----
# (SIGKILL: influxd's graceful stop can take its 30 s timeout)
kill -KILL "$INFLUX_PID"
it_wait_for 15 sh -c "! kill -0 $INFLUX_PID" || it_fail "influxd did not stop"
dropped() { curl -s "$M" | awk '$1 == "mamori_history_forward_lines_total{result=\"dropped\"}" { print $2 }'; }
d0=$(dropped)
it_wait_for 20 sh -c "[ \"\$(curl -s '$M' | awk '\$1 == \"mamori_history_forward_lines_total{result=\\\"dropped\\\"}\" { print \$2 }')\" -gt ${d0:-0} ]" ||
	it_fail "the drop counter did not rise while influxd was down ($(dropped))"
[ "$(metric mamori_history_forward_connected)" = 0 ] || it_fail "/metrics says connected while influxd is down"
kill -0 "$PID" 2>/dev/null || { cat "$IT_TMP/mamorid.log" >&2; it_fail "mamorid died while influxd was down"; }

# ---- influxd back: values are stored again ----
influx_up
t1=$(($(date +%s) + 1))
it_wait_for 30 has rta "$t1" || it_fail "no new point after influxd came back"
kill -0 "$PID" 2>/dev/null || it_fail "mamorid died"
echo "PASS forward_influx"
