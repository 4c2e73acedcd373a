#!/bin/sh
# mqtt_retain: retained messages are never acted on.  The broker keeps the
# last retained message of a topic and hands it to every new subscription,
# so a retained command or report would be replayed at each of mamorid's
# (re)subscriptions.  With contrib/mosquitto's settings and ACL:
#   run 1: a live report opens an alert; mamorid stops;
#   a center publishes a retained `ack` for that alert, and an agent a
#   retained report (real-time protection off) for a new PC;
#   run 2 (a clean session, so nothing was queued for it: what arrives is
#   the broker's retained copy only): the command is neither executed nor
#   answered, the report is not judged (no asset, no state), each ignored
#   message is logged; live messages still work (a live report is judged,
#   a live command from the same center is executed and answered).
. tests/integration/lib.sh
it_init
[ -x "$MAMORID" ] || it_skip "no $MAMORID yet"
[ -f "$PLUGIN_DIR/defender.so" ] || it_skip "defender plugin not built"
for t in sqlite3 mosquitto_sub mosquitto_rr; do
	command -v "$t" >/dev/null 2>&1 || it_skip "$t not installed"
done
V=tests/fixtures/defender

it_mosquitto_shipped mamorid cc-east c0001/PC-L c0001/PC-R
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
(umask 077 && printf 'secret-mamorid\n' >"$IT_TMP/mamorid.password") # a secret: 0600
conf() { # clean_session
	cat <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "it-retain"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid"; topic_prefix = "mamori";
         username = "mamorid"; password_file = "$IT_TMP/mamorid.password"; clean_session = $1; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = ( { id = "c0001"; name = "Retain test"; agents = { defender = { auto_register = true; }; }; } );
EOF
}
db() { sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" "$1"; }
pub() { # login args...
	_u=$1
	shift
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u "$_u" -P "secret-$_u" "$@" || it_fail "publish as $_u"
}
online() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -u cc-east -P secret-cc-east \
		-t 'mamori/v1/server/it-retain/status' -C 1 -W 1 2>/dev/null | grep -q '^online$'
}
cmd() { # id action
	printf '{"schema":"mamori.cmd/1","id":"%s","action":"%s","alert":"%s","by":"%s"}' "$1" "$2" "$alert" "$1"
}

# run 1: an open alert for PC-L
conf false >"$IT_TMP/run1.conf"
it_mamorid "$IT_TMP/run1.conf"
it_wait_for 15 online || it_fail "mamorid did not come online: $(tail -5 "$IT_TMP/mamorid.log")"
pub c0001/PC-L -t mamori/v1/agents/c0001/PC-L/defender -f "$V/realtime-off.json"
it_wait_state 10 c0001 PC-L defender "2|" || it_fail "live report not judged"
it_wait_for 10 sh -c "[ -n \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \"SELECT id FROM alert WHERE status = 'open'\")\" ]" ||
	it_fail "no open alert"
alert=$(db "SELECT id FROM alert WHERE status = 'open'")
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
cp "$IT_TMP/mamorid.log" "$IT_TMP/run1.log"

# retained: a command for that alert, a report for a PC mamorid never saw
pub cc-east -r -t mamori/v1/cmd/cc-east -m "$(cmd r-1 ack)"
pub c0001/PC-R -r -t mamori/v1/agents/c0001/PC-R/defender -f "$V/realtime-off.json"

# run 2: a collector for cc-east's answers (the center's login has one
# session at a time: it is stopped before the center publishes again)
it_bg results mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u cc-east -P secret-cc-east \
	-t 'mamori/v1/cmd/cc-east/result' -v
RESULTS_PID=$IT_LAST_PID
conf true >"$IT_TMP/run2.conf"
it_mamorid "$IT_TMP/run2.conf"
# online() would log in as cc-east and replace the collector.  Instead a
# live report, published until it is judged: it arrives after mamorid's
# subscriptions, so after the retained copies they bring.
# (Still CRITICAL, so the alert stays open: stale signatures now.)
live_report() {
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-L -P secret-c0001/PC-L \
		-t mamori/v1/agents/c0001/PC-L/defender -f "$V/stale-signatures.json" &&
		sleep 0.3 && case "$(it_state c0001 PC-L defender)" in 2\|*signature*) true ;; *) false ;; esac
}
it_wait_for 20 live_report || it_fail "live report after the restart not judged: $(tail -5 "$IT_TMP/mamorid.log")"
sleep 1 # an answer would go through the outbox after its batch is written
kill "$RESULTS_PID"
wait "$RESULTS_PID" 2>/dev/null

grep -q '"id":"r-1"' "$IT_TMP/results.log" && it_fail "the retained command was answered: $(cat "$IT_TMP/results.log")"
[ "$(db "SELECT count(*) FROM cmd_seen WHERE id = 'r-1'")" = 0 ] || it_fail "the retained command was recorded"
[ "$(db "SELECT status FROM alert WHERE id = '$alert'")" = open ] ||
	it_fail "the retained command acted: alert is $(db "SELECT status FROM alert WHERE id = '$alert'")"
[ -z "$(it_state c0001 PC-R defender)" ] || it_fail "the retained report was judged: $(it_state c0001 PC-R defender)"
[ "$(db "SELECT count(*) FROM asset WHERE name = 'PC-R'")" = 0 ] || it_fail "the retained report registered PC-R"
grep -q 'retained command' "$IT_TMP/mamorid.log" || it_fail "the ignored command was not logged"
grep -q 'PC-R.*retained' "$IT_TMP/mamorid.log" || it_fail "the ignored report was not logged"

# live commands still work
ans=$(mosquitto_rr -h 127.0.0.1 -p "$port" -q 1 -u cc-east -P secret-cc-east -t mamori/v1/cmd/cc-east \
	-e mamori/v1/cmd/cc-east/result -m "$(cmd l-1 ack)" -W 10 2>&1)
case "$ans" in
*'"id":"l-1"'*'"ok":true'* | *'"ok":true'*'"id":"l-1"'*) ;;
*) it_fail "live command answered '$ans'" ;;
esac
[ "$(db "SELECT status FROM alert WHERE id = '$alert'")" = acknowledged ] || it_fail "live ack not applied"
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
echo "PASS mqtt_retain"
exit 0
