#!/bin/sh
# it: long
# alerts_downtime: scheduled downtime from the configuration file against
# the alert pipeline, through a REAL mosquitto and mamorid.  Center cc on a
# 24x7 UTC calendar, ack_within 6 s (tier 1), then tier 2.  Downtimes are
# `start`/`end` "YYYY-MM-DD HH:MM" in UTC: they start a minute ago and end
# at the next whole minute at least 12 s away (minute granularity), E.
#   PC-1: in downtime from the start.  A problem during the downtime opens
#         no alert (the check still goes hard CRITICAL); after E the next
#         result opens it.
#   PC-2: its alert opens first (no downtime), then a reload adds a
#         downtime for PC-2: within one downtime pass (2 s) the SLA clock
#         pauses (deadline row: paused bit 2, ack_left = what remained,
#         ack_due NULL while paused);
#         an update meanwhile publishes ack_due null / ack_left; no
#         sla_breach before E although the original ack_due passed; after
#         E the clock resumes and sla_breach + escalated follow about
#         ack_left later.
# The test takes 15-75 s (about 45 on average), depending on the second of
# the minute it starts.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require sqlite3
V=tests/fixtures/defender

it_mosquitto

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
CONF=$IT_TMP/mamori.conf
LOG=$IT_TMP/mamorid.log
t0=$(date +%s)
S=$((t0 / 60 * 60 - 60))
E=$(((t0 + 12 + 59) / 60 * 60))
hm() { date -u -d "@$1" '+%Y-%m-%d %H:%M'; }
dt() { # asset
	printf '{ customer = "c0001"; asset = "%s"; start = "%s"; end = "%s"; timezone = "UTC"; comment = "test"; }' \
		"$1" "$(hm $S)" "$(hm $E)"
}
conf() { # downtimes...
	cat >"$CONF" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "it1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-downtime"; topic_prefix = "mamori"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc"; calendar = "always";
              tiers = ( { name = "desk"; ack_within = "6s"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); } );
routes = ( { center = "cc"; } );
customers = (
  { id = "c0001"; name = "Downtime test"; agents = { defender = { auto_register = true; stale_after = "15m"; }; };
    assets = ( { name = "PC-1"; type = "pc"; checks = ( { plugin = "defender"; } ); },
               { name = "PC-2"; type = "pc"; checks = ( { plugin = "defender"; } ); } ); } );
downtimes = ( $* );
EOF
}
conf "$(dt PC-1)"
"$MAMORID" -c "$CONF" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"

SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -F '%U %t %p' -t 'mamori/v1/alerts/#' -t 'mamori/v1/cmd/+/result'
sleep 0.3
it_mamorid "$CONF"
it_wait_for 15 sh -c "mosquitto_pub -h 127.0.0.1 -p $port -q 1 -t mamori/v1/cmd/cc -m '{}' &&
	grep -q '/cmd/cc/result' '$SUB_LOG'" || it_fail "mamorid did not connect: $(tail -3 "$LOG")"

seen() { grep -q "\"event\":\"$1\".*\"asset\":\"$2\"\|\"asset\":\"$2\".*\"event\":\"$1\"" "$SUB_LOG"; }
wait_seen() { it_wait_for "${3:-15}" seen "$1" "$2"; }
report() { # asset fixture
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/agents/c0001/$1/defender" -f "$V/$2.json" ||
		it_fail "publish report"
}
db() { sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" "$1"; }

# 1. PC-2 (no downtime yet): opened, ack due 6 s later
report PC-2 realtime-off
wait_seen opened PC-2 || it_fail "no 'opened' for PC-2: $(tail -3 "$LOG")"
# 2. reload with a downtime for PC-2 too: the clock pauses at the next pass
conf "$(dt PC-1), $(dt PC-2)"
kill -HUP "$MAMORID_PID"
it_wait_for 10 grep -q "configuration reloaded" "$LOG" || it_fail "reload: $(tail -3 "$LOG")"
id2=$(q event=opened,asset=PC-2 id)
opened2=$(q event=opened,asset=PC-2 _recv)
due2=$(q event=opened,asset=PC-2 ack_due)
python3 -c 'import sys; from datetime import datetime as d
o, a = d.fromisoformat(sys.argv[1]), d.fromisoformat(sys.argv[2])
assert 5 <= (a - o).total_seconds() <= 7' "$(q event=opened,asset=PC-2 opened_at)" "$due2" ||
	it_fail "PC-2 ack_due $due2"
paused() { [ "$(db "SELECT paused FROM deadline WHERE alert_id = '$id2'")" = 2 ]; }
it_wait_for 5 paused || it_fail "PC-2's clock did not pause: $(db "SELECT * FROM deadline WHERE alert_id = '$id2'")"
left=$(db "SELECT ack_left FROM deadline WHERE alert_id = '$id2'")
python3 -c 'import sys; assert 0 < float(sys.argv[1]) <= 6' "$left" || it_fail "paused with ack_left '$left'"
[ "$(db "SELECT coalesce(ack_due, 'null') FROM deadline WHERE alert_id = '$id2'")" = null ] ||
	it_fail "paused deadline row keeps ack_due: $(db "SELECT * FROM deadline WHERE alert_id = '$id2'")"
seen sla_breach PC-2 && it_fail "sla_breach before the pause (the reload took too long?)"

# 3. PC-1: a problem during its downtime opens nothing; PC-2 update shows the pause
report PC-1 realtime-off
it_wait_state 10 c0001 PC-1 defender "2|1|" || it_fail "PC-1 did not turn hard CRITICAL"
grep -q "PC-1/defender: HARD CRITICAL.*(in downtime)" "$LOG" || it_fail "PC-1 not logged as in downtime"
report PC-2 tamper-off
wait_seen updated PC-2 || it_fail "no 'updated' for PC-2"
[ "$(q event=updated,asset=PC-2 ack_due)" = "" ] || it_fail "ack_due '$(q event=updated,asset=PC-2 ack_due)' while paused"
[ -n "$(q event=updated,asset=PC-2 ack_left)" ] || it_fail "no ack_left while paused"
[ "$(q event=updated,asset=PC-2 paused)" != "False" ] || it_fail "updated says not paused"

# 4. until E: no alert for PC-1, no breach for PC-2 (its original deadline passed)
python3 -c 'import sys; assert float(sys.argv[1]) + 6 + 2 < int(sys.argv[2])' "$opened2" "$E" ||
	it_fail "test timing: the original deadline is not before the end of the downtime"
while [ "$(date +%s)" -lt $((E - 1)) ]; do
	sleep 0.5
	seen opened PC-1 && it_fail "PC-1 alert opened during its downtime"
	seen sla_breach PC-2 && it_fail "PC-2 sla_breach during the downtime (paused clock)"
done
[ "$(q event=opened count)" = 1 ] || it_fail "$(q event=opened count) alerts opened during the downtime"

# 5. after E: PC-2's clock resumes, breach ~ack_left later; PC-1's next result opens
wait_seen sla_breach PC-2 $((${left%.*} + 10)) || it_fail "no sla_breach for PC-2 after the downtime"
wait_seen escalated PC-2 5 || it_fail "no escalation for PC-2 after the breach"
[ "$(q event=escalated,asset=PC-2 id)" = "$id2" ] || it_fail "escalated another alert"
[ "$(q event=escalated,asset=PC-2 tier_name)" = back-office ] || it_fail "escalated to '$(q event=escalated,asset=PC-2 tier_name)'"
python3 - "$(q event=sla_breach,asset=PC-2 _recv)" "$E" "$left" <<'PY' || it_fail "breach not on time after the downtime"
import sys
b, e, left = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
# resumed at the first downtime pass after E (every 2 s), then ack_left
assert e + left - 0.5 <= b <= e + left + 3.5, ("breach at E +", b - e, "ack_left", left)
PY
report PC-1 realtime-off
wait_seen opened PC-1 || it_fail "PC-1 not opened after its downtime"
[ "$(db "SELECT paused FROM deadline WHERE alert_id = '$(q event=opened,asset=PC-1 id)'")" = 0 ] ||
	it_fail "PC-1's new alert starts paused"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS alerts_downtime ($(($(date +%s) - t0)) s)"
