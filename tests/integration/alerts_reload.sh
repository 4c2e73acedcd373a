#!/bin/sh
# alerts_reload: SIGHUP while an alert is open, through a REAL mosquitto
# and mamorid with two centers.  The defender alert of PC-1 opens on
# cc-east; the reload routes defender to cc-west and changes cc-east's
# terms (ack_within 30m -> 3s, new tier names).  Checked:
#   - the open alert keeps its id, center and deadlines; the next result
#     continues its seq (`updated`, no second `opened`);
#   - a new alert (PC-2) goes to cc-west with cc-west's deadline;
#   - commands for PC-1's alert are still accepted from cc-east, refused
#     from cc-west (unknown_alert); ack + unack restarts the ack clock with
#     the NEW 3 s, so sla_breach and escalated (new tier 2 name) follow;
#   - a reload whose `centers` names an undefined calendar is refused with
#     file:line in the log, and the running configuration keeps working;
#   - an alert resolved before a reload and failing again within
#     reopen_within reopens with a running SLA clock (current terms), and
#     so does one resolved before a restart.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require
V=tests/fixtures/defender

it_mosquitto

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
CONF=$IT_TMP/mamori.conf
LOG=$IT_TMP/mamorid.log
# conf EAST_ACK EAST_TIER2 ROUTES [CENTERS_EXTRA]
conf() {
	cat >"$CONF" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "it1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-reload"; topic_prefix = "mamori"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "east-1"; ack_within = "$1"; resolve_within = "4h"; },
                        { name = "$2"; ack_within = "30m"; resolve_within = "8h"; } ); },
            { name = "cc-west";
              calendar = "${4:-always}";
              tiers = ( { name = "west-1"; ack_within = "20m"; resolve_within = "4h"; } ); } );
routes = ( $3 );
customers = (
  { id = "c0001"; name = "Reload test"; agents = { defender = { auto_register = true; stale_after = "15m"; }; }; } );
EOF
}
conf 30m east-2 '{ service = "utm"; center = "cc-west"; }, { center = "cc-east"; }'
"$MAMORID" -c "$CONF" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"

SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -F '%U %t %p' \
	-t 'mamori/v1/alerts/#' -t 'mamori/v1/cmd/+/result'
sleep 0.3
it_mamorid "$CONF"
# mamorid is subscribed once a command gets an answer.
it_wait_for 15 sh -c "mosquitto_pub -h 127.0.0.1 -p $port -q 1 -t mamori/v1/cmd/cc-east -m '{}' &&
	grep -q '/cmd/cc-east/result' '$SUB_LOG'" || it_fail "mamorid did not connect: $(tail -3 "$LOG")"

cmd() { # center cmd-id action alert-id -> prints the answer
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/cmd/$1" \
		-m "{\"schema\":\"mamori.cmd/1\",\"id\":\"$2\",\"action\":\"$3\",\"alert\":\"$4\",\"by\":\"Sato\",\"note\":\"n\"}" ||
		it_fail "publish command $2"
	_end=$(($(date +%s) + 15))
	while [ -z "$(answer "$2")" ]; do
		[ "$(date +%s)" -lt "$_end" ] || it_fail "no answer to command $2"
		sleep 0.1
	done
	answer "$2"
}
report() { # asset fixture
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/agents/c0001/$1/defender" -f "$V/$2.json" ||
		it_fail "publish report"
}
# secs A B: B - A in seconds (RFC 3339 timestamps)
secs() {
	python3 -c 'import sys; from datetime import datetime as d; print(round((d.fromisoformat(sys.argv[2]) - d.fromisoformat(sys.argv[1])).total_seconds()))' "$1" "$2"
}
hups=0
reload() { # expect "configuration reloaded" or "reload refused"
	hups=$((hups + 1))
	kill -HUP "$MAMORID_PID"
	it_wait_for 10 sh -c "[ \$(grep -c -e 'configuration reloaded' -e 'reload refused' '$LOG') -ge $hups ]" ||
		it_fail "reload $hups: nothing in the log"
	grep -e 'configuration reloaded' -e 'reload refused' "$LOG" | sed -n "${hups}p" | grep -q "$1" ||
		it_fail "reload $hups: expected '$1': $(tail -3 "$LOG")"
}

# 1. PC-1: real-time protection off -> opened on cc-east, ack in 30 min
report PC-1 realtime-off
wait_q event=opened,asset=PC-1 || it_fail "no 'opened' for PC-1: $(tail -3 "$LOG")"
id=$(q event=opened,asset=PC-1 id)
seq1=$(q event=opened,asset=PC-1 seq)
ack_due1=$(q event=opened,asset=PC-1 ack_due)
[ "$(q event=opened,asset=PC-1 _topic)" = "mamori/v1/alerts/cc-east/c0001" ] ||
	it_fail "opened on '$(q event=opened,asset=PC-1 _topic)'"
[ "$(secs "$(q event=opened,asset=PC-1 opened_at)" "$ack_due1")" = 1800 ] || it_fail "ack_due $ack_due1"

# 2. reload: defender -> cc-west; cc-east acks within 3 s, tier 2 renamed
conf 3s east-2b '{ service = "defender"; center = "cc-west"; }, { center = "cc-east"; }'
reload "configuration reloaded"

# 3. a new result for PC-1: same alert, seq continues, still cc-east and its deadline
report PC-1 tamper-off
wait_q event=updated,asset=PC-1 || it_fail "no 'updated' for PC-1 after the reload"
[ "$(q event=opened count)" = 1 ] || it_fail "a second 'opened' after the reload"
[ "$(q event=updated,asset=PC-1 id)" = "$id" ] || it_fail "updated another alert id"
[ "$(q event=updated,asset=PC-1 seq)" = $((seq1 + 1)) ] ||
	it_fail "seq $(q event=updated,asset=PC-1 seq) after $seq1"
[ "$(q event=updated,asset=PC-1 _topic)" = "mamori/v1/alerts/cc-east/c0001" ] ||
	it_fail "the open alert moved to '$(q event=updated,asset=PC-1 _topic)'"
[ "$(q event=updated,asset=PC-1 ack_due)" = "$ack_due1" ] ||
	it_fail "ack_due moved from $ack_due1 to $(q event=updated,asset=PC-1 ack_due)"

# 4. a new alert goes to the new center with its terms
report PC-2 realtime-off
wait_q event=opened,asset=PC-2 || it_fail "no 'opened' for PC-2"
[ "$(q event=opened,asset=PC-2 _topic)" = "mamori/v1/alerts/cc-west/c0001" ] ||
	it_fail "PC-2 opened on '$(q event=opened,asset=PC-2 _topic)'"
[ "$(q event=opened,asset=PC-2 center)" = cc-west ] || it_fail "PC-2 center '$(q event=opened,asset=PC-2 center)'"
[ "$(q event=opened,asset=PC-2 tier_name)" = west-1 ] || it_fail "PC-2 tier '$(q event=opened,asset=PC-2 tier_name)'"
[ "$(secs "$(q event=opened,asset=PC-2 opened_at)" "$(q event=opened,asset=PC-2 ack_due)")" = 1200 ] ||
	it_fail "PC-2 ack_due $(q event=opened,asset=PC-2 ack_due)"
id2=$(q event=opened,asset=PC-2 id)
[ "$id2" != "$id" ] || it_fail "PC-2 got PC-1's alert id"

# 5. commands for PC-1's alert: cc-west refused, cc-east accepted
case "$(cmd cc-west w-1 ack "$id")" in
"False|unknown_alert|"*) ;;
*) it_fail "cc-west ack of the cc-east alert answered '$(answer w-1)'" ;;
esac
case "$(cmd cc-east e-1 ack "$id")" in
"True|ok|mamori/v1/cmd/cc-east/result") ;;
*) it_fail "cc-east ack answered '$(answer e-1)'" ;;
esac
case "$(cmd cc-east e-2 ack "$id2")" in
"False|unknown_alert|"*) ;;
*) it_fail "cc-east ack of the cc-west alert answered '$(answer e-2)'" ;;
esac
# unack restarts the ack clock with the NEW ack_within (3 s), then breach + escalation
case "$(cmd cc-east e-3 unack "$id")" in
"True|ok|"*) ;;
*) it_fail "cc-east unack answered '$(answer e-3)'" ;;
esac
wait_q event=unacknowledged || it_fail "no 'unacknowledged' event"
d=$(secs "$(q event=unacknowledged time)" "$(q event=unacknowledged ack_due)")
[ "$d" -ge 2 ] && [ "$d" -le 4 ] || it_fail "after unack ack_due is $d s away, expected the new 3 s"
wait_q event=escalated,asset=PC-1 15 || it_fail "no escalation after the new 3 s ack deadline"
[ "$(q event=sla_breach,asset=PC-1 breach)" = ack ] || it_fail "breach '$(q event=sla_breach,asset=PC-1 breach)'"
[ "$(q event=escalated,asset=PC-1 tier_name)" = east-2b ] ||
	it_fail "escalated to '$(q event=escalated,asset=PC-1 tier_name)', not the reloaded tier 2"
python3 - "$(q event=unacknowledged _recv)" "$(q event=sla_breach,asset=PC-1 _recv)" <<'PY' || it_fail "breach not on time"
import sys
u, b = float(sys.argv[1]), float(sys.argv[2])
assert 2.0 <= b - u <= 5.0, ("breach after unack", b - u)
PY

# 6. a bad centers block (undefined calendar) is refused with file:line
cp "$CONF" "$IT_TMP/good.conf"
conf 3s east-2c '{ center = "cc-east"; }' nope
bad_line=$(grep -n 'calendar = "nope"' "$CONF" | cut -d: -f1)
reload "reload refused"
grep -q "$CONF:$bad_line:.*nope" "$LOG" ||
	it_fail "no '$CONF:$bad_line:' error naming the calendar: $(grep -i nope "$LOG" | head -2)"

# 7. ... and the running configuration (defender -> cc-west) keeps working
report PC-3 realtime-off
wait_q event=opened,asset=PC-3 || it_fail "no 'opened' for PC-3 after the refused reload"
[ "$(q event=opened,asset=PC-3 _topic)" = "mamori/v1/alerts/cc-west/c0001" ] ||
	it_fail "PC-3 opened on '$(q event=opened,asset=PC-3 _topic)' (the refused config took effect?)"
case "$(cmd cc-west w-2 ack "$(q event=opened,asset=PC-3 id)")" in
"True|ok|"*) ;;
*) it_fail "cc-west ack of PC-3 answered '$(answer w-2)'" ;;
esac
report PC-1 healthy
wait_q event=resolved,asset=PC-1 || it_fail "PC-1 not resolved"
[ "$(q event=resolved,asset=PC-1 id)" = "$id" ] || it_fail "resolved another alert"
[ "$(q event=resolved,asset=PC-1 _topic)" = "mamori/v1/alerts/cc-east/c0001" ] ||
	it_fail "resolved on '$(q event=resolved,asset=PC-1 _topic)'"
[ "$(q event=opened count)" = 3 ] || it_fail "$(q event=opened count) 'opened' events, expected 3"

# 8. a good reload while PC-1's alert is resolved, then PC-1 fails again
# (within reopen_within): the same alert reopens, on its center, with a
# running SLA clock from the current terms (its tier 2: ack 30 min).
cp "$IT_TMP/good.conf" "$CONF"
reload "configuration reloaded"
report PC-1 realtime-off
wait_q event=reopened,asset=PC-1 || it_fail "PC-1 did not reopen"
[ "$(q event=reopened,asset=PC-1 id)" = "$id" ] || it_fail "reopened another alert"
[ "$(q event=opened count)" = 3 ] || it_fail "PC-1 opened a new alert instead of reopening"
[ "$(q event=reopened,asset=PC-1 _topic)" = "mamori/v1/alerts/cc-east/c0001" ] ||
	it_fail "reopened on '$(q event=reopened,asset=PC-1 _topic)'"
due=$(q event=reopened,asset=PC-1 ack_due)
[ -n "$due" ] || it_fail "the alert reopened after a reload has no ack deadline (no SLA clock)"
[ "$(secs "$(q event=reopened,asset=PC-1 time)" "$due")" = 1800 ] ||
	it_fail "reopened at tier '$(q event=reopened,asset=PC-1 tier_name)' with ack_due $due"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"

# 9. the same across a restart: resolved, mamorid restarted, fails again ->
# reopened with a running clock (terms of a resolved alert restored).
report PC-1 healthy
it_wait_for 15 sh -c "[ \$(grep -c '\"event\":\"resolved\"' '$SUB_LOG') -ge 2 ]" || it_fail "PC-1 not resolved again"
kill "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID" || it_fail "mamorid did not stop"
mv "$LOG" "$IT_TMP/mamorid-1.log"
it_mamorid "$CONF"
it_wait_for 15 grep -q "connected to" "$LOG" || it_fail "mamorid did not restart: $(tail -3 "$LOG")"
sleep 0.5
n_reopen=$(q event=reopened count)
report PC-1 realtime-off
it_wait_for 15 sh -c "[ \$(grep -c '\"event\":\"reopened\"' '$SUB_LOG') -gt $n_reopen ]" ||
	it_fail "PC-1 did not reopen after the restart: $(tail -3 "$LOG")"
[ "$(q event=reopened,asset=PC-1 id)" = "$id" ] || it_fail "reopened another alert after the restart"
due=$(q event=reopened,asset=PC-1 ack_due)
[ -n "$due" ] || it_fail "the alert reopened after a restart has no ack deadline (no SLA clock)"
[ "$(secs "$(q event=reopened,asset=PC-1 time)" "$due")" = 1800 ] ||
	it_fail "reopened after restart with ack_due $due"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS alerts_reload"
