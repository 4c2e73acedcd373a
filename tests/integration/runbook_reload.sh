#!/bin/sh
# runbook_reload: a check's `runbook` (doc/alerts.md, "Runbooks") on a
# real mamorid: the open alert carries the customer defaults' runbook; a
# reload that changes it (the check itself unchanged: the registry keeps
# the same check object) reaches the open alert with the check's next
# result, in the API and in the stored alert row; a reload that removes it
# leaves none; after a restart the alert of a check that is gone keeps
# the runbook of its row (the store's read of alerts answers); a
# runbook that is not an http(s) URL is refused by --check-config with
# file:line, and a reload with it keeps the running configuration.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v python3 >/dev/null || it_skip "python3 missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
it_mosquitto
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
SOCK=$IT_TMP/api.sock
CONF=$IT_TMP/m.conf
conf() { # RUNBOOK-LINE
	cat >"$CONF" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "rb"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-rb"; };
http = { listen = [ "unix:$SOCK" ]; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc"; calendar = "always";
              tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc"; } );
customers = ( { id = "c1"; defaults = { $1 };
    assets = ( { name = "a"; checks = ( { plugin = "dummy"; name = "k"; interval = "1s";
                 max_attempts = 1; state = 2; output = "broken"; } ); } ); } );
CONF
}
# the runbook of c1's alert, as the API says ("None" for null)
rb() {
	curl -s --unix-socket "$SOCK" 'http://local/api/v1/alerts?status=open&customer=c1' |
		python3 -c 'import json,sys; a=json.load(sys.stdin)["alerts"]; print(a[0]["runbook"] if a else "-")'
}
row() {
	sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" "SELECT coalesce(runbook, 'NULL') FROM alert WHERE customer = 'c1'"
}
is_rb() { [ "$(rb)" = "$1" ]; }
is_row() { [ "$(row)" = "$1" ]; }

conf 'runbook = "https://wiki.example/rb/one";'
"$MAMORID" -c "$CONF" --check-config >"$IT_TMP/cc.log" 2>&1 || it_fail "config: $(cat "$IT_TMP/cc.log")"
it_mamorid "$CONF"
it_wait_online
it_wait_for 10 is_rb "https://wiki.example/rb/one" || it_fail "the open alert has no runbook: $(rb)"
it_wait_for 10 is_row "https://wiki.example/rb/one" || it_fail "the stored alert has no runbook: $(row)"

# changed by a reload: the next result brings it
conf 'runbook = "Call the customer, then restart the service";'
kill -HUP "$MAMORID_PID"
it_wait_for 10 is_rb "Call the customer, then restart the service" || it_fail "the reload's runbook did not reach the alert: $(rb)"
it_wait_for 10 is_row "Call the customer, then restart the service" || it_fail "not stored: $(row)"

# a refused value: --check-config names file:line, a reload keeps the running one
conf 'runbook = "javascript:alert(1)";'
"$MAMORID" -c "$CONF" --check-config >"$IT_TMP/cc.log" 2>&1 && it_fail "a javascript: runbook was accepted"
grep -q "m.conf:[0-9]*: runbook: a URL of scheme 'javascript'" "$IT_TMP/cc.log" || it_fail "no file:line: $(cat "$IT_TMP/cc.log")"
kill -HUP "$MAMORID_PID"
sleep 2
is_rb "Call the customer, then restart the service" || it_fail "a refused reload changed the runbook: $(rb)"

# removed: none
conf ''
kill -HUP "$MAMORID_PID"
it_wait_for 10 is_rb "None" || it_fail "a removed runbook stayed: $(rb)"
it_wait_for 10 is_row "NULL" || it_fail "a removed runbook stayed in the row: $(row)"

# a restart after the check was removed: the alert keeps the runbook of
# its row (the check is gone; the store's read of alerts answers)
conf 'runbook = "https://wiki.example/rb/two";'
kill -HUP "$MAMORID_PID"
it_wait_for 10 is_row "https://wiki.example/rb/two" || it_fail "not stored: $(row)"
kill -TERM "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
conf ''
sed -i 's/name = "k";/name = "other";/; s/state = 2;/state = 0;/' "$CONF"
it_mamorid "$CONF"
it_wait_online
stored() {
	curl -s --unix-socket "$SOCK" 'http://local/api/v1/alerts?customer=c1' |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["source"], [(a["check"], a["runbook"]) for a in j["alerts"]])'
}
it_wait_for 10 sh -c "curl -s --unix-socket '$SOCK' 'http://local/api/v1/alerts?customer=c1' | grep -q '\"runbook\":\"https://wiki.example/rb/two\"'" ||
	it_fail "the alert of a removed check lost its runbook: $(stored)"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS $IT_NAME"
