#!/bin/sh
# alerts_e2e: the alert pipeline end to end through a REAL mosquitto and
# mamorid.  An agent report with real-time protection off opens an alert on
# mamori/v1/alerts/{center}/{customer} with ack_due/resolve_due from the
# center's terms; with a 2 s ack deadline on a 24x7 center and no ack,
# sla_breach and escalated (tier 2) follow on time; `ack` from another
# center is refused (unknown_alert: another center's alert is not revealed), from the owning center accepted, a
# repeated command id acts once; a healthy report resolves the alert.
# Finally every alert_event row in the database was received.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require sqlite3
V=tests/fixtures/defender

it_mosquitto

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "it1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-alerts"; topic_prefix = "mamori"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "2s"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); },
            { name = "cc-west"; calendar = "always";
              tiers = ( { name = "utm-desk"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { service = "utm"; center = "cc-west"; },
           { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Alert test"; agents = { defender = { auto_register = true; stale_after = "15m"; }; }; } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"

# Subscriber first (QoS 1): every alert event and command answer, with the
# arrival time.
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -F '%U %t %p' \
	-t 'mamori/v1/alerts/#' -t 'mamori/v1/cmd/+/result'
SUB_LOG=$IT_TMP/sub.log
sleep 0.3
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online

# field EVENT FIELD: FIELD of the last message whose "event" is EVENT
field() {
	python3 - "$SUB_LOG" "$1" "$2" <<'PY'
import json, sys
last = ""
for line in open(sys.argv[1], errors="replace"):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) < 3 or "/alerts/" not in parts[1]:
        continue
    try:
        d = json.loads(parts[2])
    except ValueError:
        continue
    if d.get("event") == sys.argv[2]:
        v = parts[0] if sys.argv[3] == "_recv" else parts[1] if sys.argv[3] == "_topic" else d.get(sys.argv[3])
        last = "" if v is None else str(v)
print(last)
PY
}
wait_event() { # event [timeout]
	_end=$(($(date +%s) + ${2:-30}))
	while [ -z "$(field "$1" id)" ]; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}
wait_answer() {
	_end=$(($(date +%s) + 30))
	while [ -z "$(answer "$1")" ]; do
		[ "$(date +%s)" -lt "$_end" ] || return 1
		sleep 0.1
	done
}

# 1. real-time protection off -> opened on alerts/cc-east/c0001
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-1/defender -f "$V/realtime-off.json" ||
	it_fail "publish"
wait_event opened || it_fail "no 'opened' alert event: $(tail -5 "$IT_TMP/mamorid.log")"
id=$(field opened id)
[ "$(field opened _topic)" = "mamori/v1/alerts/cc-east/c0001" ] || it_fail "opened on topic '$(field opened _topic)'"
[ "$(field opened tier)" = "1" ] && [ "$(field opened tier_name)" = "contact-center" ] ||
	it_fail "opened at tier '$(field opened tier)' '$(field opened tier_name)'"
[ "$(field opened severity)" = "critical" ] || it_fail "severity '$(field opened severity)'"
python3 - "$(field opened opened_at)" "$(field opened ack_due)" "$(field opened resolve_due)" <<'PY' || it_fail "wrong deadlines"
import sys
from datetime import datetime
o, a, r = (datetime.fromisoformat(x) for x in sys.argv[1:4])
assert str(o.utcoffset()) == "9:00:00", o
da, dr = (a - o).total_seconds(), (r - o).total_seconds()
assert 1 <= da <= 3, ("ack_due - opened_at", da)
assert abs(dr - 4 * 3600) <= 1, ("resolve_due - opened_at", dr)
PY

# 2. no ack: sla_breach then escalated to tier 2, about 2 s after opening
wait_event escalated 30 || it_fail "no sla_breach/escalated after the 2 s ack deadline"
[ "$(field sla_breach breach)" = "ack" ] || it_fail "breach '$(field sla_breach breach)'"
[ "$(field escalated tier)" = "2" ] && [ "$(field escalated tier_name)" = "back-office" ] ||
	it_fail "escalated to tier '$(field escalated tier)'"
python3 - "$(field opened _recv)" "$(field sla_breach _recv)" "$(field escalated seq)" "$(field sla_breach seq)" <<'PY' || it_fail "breach not on time"
import sys
o, b = float(sys.argv[1]), float(sys.argv[2])
assert 1.0 <= b - o <= 3.5, ("breach after", b - o)
assert int(sys.argv[3]) == int(sys.argv[4]) + 1
PY

# 3. ack from the wrong center: refused; from cc-east: accepted; again: same answer, acts once
cmd() { # center id action
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/cmd/$1" \
		-m "{\"schema\":\"mamori.cmd/1\",\"id\":\"$2\",\"action\":\"$3\",\"alert\":\"$id\",\"by\":\"Sato\",\"note\":\"n\"}"
}
cmd cc-west w-1 ack
wait_answer w-1 || it_fail "no answer to the cc-west ack"
case "$(answer w-1)" in
"False|unknown_alert|mamori/v1/cmd/cc-west/result") ;;
*) it_fail "cc-west ack answered '$(answer w-1)'" ;;
esac
cmd cc-east e-1 ack
wait_answer e-1 || it_fail "no answer to the cc-east ack"
case "$(answer e-1)" in
"True|ok|mamori/v1/cmd/cc-east/result") ;;
*) it_fail "cc-east ack answered '$(answer e-1)'" ;;
esac
wait_event acknowledged || it_fail "no 'acknowledged' event"
[ "$(field acknowledged acked_by)" = "Sato" ] || it_fail "acked_by '$(field acknowledged acked_by)'"
cmd cc-east e-1 ack
sleep 1
n_ack=$(grep -c '"event":"acknowledged"' "$SUB_LOG")
[ "$n_ack" = 1 ] || it_fail "a repeated command id acted $n_ack times"
n_ans=$(grep -c '"id":"e-1"' "$SUB_LOG")
[ "$n_ans" -ge 2 ] || it_fail "the repeated command got no answer"

# 4. healthy report -> resolved
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-1/defender -f "$V/healthy.json"
wait_event resolved || it_fail "no 'resolved' event"
[ "$(field resolved id)" = "$id" ] || it_fail "resolved another alert"
[ "$(field resolved status)" = "resolved" ] || it_fail "status '$(field resolved status)'"

# 5. the database holds the same history; the outbox drains
sleep 1
db() { sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" "$1"; }
n_db=$(db "SELECT count(*) FROM alert_event WHERE alert_id = '$id'")
n_rx=$(grep -c "\"id\":\"$id\"" "$SUB_LOG")
[ "$n_db" -ge 5 ] || it_fail "only $n_db events stored"
[ "$n_db" = "$n_rx" ] || it_fail "$n_db events stored, $n_rx received"
[ "$(db "SELECT status||'|'||seq FROM alert WHERE id = '$id'")" = "resolved|$n_db" ] ||
	it_fail "alert row: $(db "SELECT status, seq FROM alert WHERE id = '$id'")"
it_wait_for 5 sh -c "[ \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained: $(db 'SELECT count(*) FROM outbox') rows"
[ "$(db "SELECT count(*) FROM cmd_seen WHERE id = 'e-1'")" = 1 ] || it_fail "command id not persisted"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS alerts_e2e"
