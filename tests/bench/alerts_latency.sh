#!/bin/sh
# alerts_latency: alert latency from an agent's publish to the alert's
# arrival at a subscriber, p50/p99, while mamori-agentsim keeps
# ALERTS_BG_RATE (10,000) healthy reports/s of background traffic from
# ALERTS_BG_AGENTS PCs.  Real mosquitto and mamorid on loopback, the
# store on (group commit, outbox, PUBACK).  Prints "latency ..." and
# "background ..." key=value lines.  Run from the repository top after
# `make all build/bench/alerts_bench`.
# mamorid started as root stays root here (a bench/demo, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
B=${B:-build}
RATE=${ALERTS_BG_RATE:-10000}
AGENTS=${ALERTS_BG_AGENTS:-5000}
ROUNDS=${ALERTS_ROUNDS:-200}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-alerts-lat.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 0\nset_tcp_nodelay true\n' "$port" >"$TMP/mosq.conf"
"$MOSQUITTO" -c "$TMP/mosq.conf" >"$TMP/mosq.log" 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
cat >"$TMP/mamori.conf" <<EOF
daemon = { state_dir = "$TMP/state"; plugin_dir = "$B/plugins"; log_level = "warning"; node = "bench"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-bench"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Bench"; agents = { defender = { auto_register = true; stale_after = "1h"; flap_detection = false; }; }; },
  { id = "c0002"; name = "Bench 2"; agents = { defender = { auto_register = true; stale_after = "1h"; }; }; },
  { id = "c0003"; name = "Bench 3"; agents = { defender = { auto_register = true; stale_after = "1h"; }; }; } );
EOF
mkdir -p "$TMP/state"
"$B/mamorid" -f -c "$TMP/mamori.conf" >"$TMP/mamorid.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1
BG_SECONDS=$((ROUNDS / 10 + 30))
"$B/tools/mamori-agentsim" -p "$port" -c 3 -n "$AGENTS" -r "$RATE" -d "$BG_SECONDS" -k 2 >"$TMP/sim.log" 2>&1 &
SIM=$!
PIDS="$PIDS $SIM"
sleep 3 # background at full rate, every PC registered
"$B/bench/alerts_bench" latency 127.0.0.1 "$port" "$ROUNDS"
rc=$?
kill -TERM "$SIM" 2>/dev/null # it stops publishing and prints its summary
wait "$SIM" 2>/dev/null
echo "background rate_target=$RATE agents=$AGENTS sim=\"$(tail -1 "$TMP/sim.log" | tr -d '\n')\""
[ $rc = 0 ] || sed 's/^/  mamorid| /' "$TMP/mamorid.log" | tail -20 >&2
exit $rc
