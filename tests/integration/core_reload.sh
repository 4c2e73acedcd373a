#!/bin/sh
# Reload end to end (SIGHUP on the real mamorid): an unchanged check keeps
# its state and schedule (its soft attempt count goes on from where it
# was), a new check appears, a removed check's row disappears; a reload
# with a bad file is refused with file:line in the log while the daemon
# keeps running and checking; a good reload afterwards still works.
. tests/integration/lib.sh

NP=/usr/lib/nagios/plugins
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] && [ -f "$PLUGIN_DIR/exec.so" ] || it_skip "plugins not built"
[ -x "$NP/check_dummy" ] || it_skip "monitoring-plugins-basic not installed"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
CONF=$IT_TMP/mamori.conf
LOG=$IT_TMP/mamorid.log
HEAD="daemon = { state_dir = \"$IT_STATE_DIR\"; plugin_dir = \"$PLUGIN_DIR\"; log_level = \"info\"; flush_interval = \"50ms\"; };"
# keep: a soft CRITICAL that retries every 2.5 s and turns hard at attempt 3.
KEEP="{ plugin = \"exec\"; name = \"keep\"; command = \"$NP/check_dummy 2 keep\"; interval = \"300ms\";
        retry_interval = \"2500ms\"; max_attempts = 3; }"
TICK="{ plugin = \"dummy\"; name = \"tick\"; interval = \"200ms\"; }"
GONE="{ plugin = \"dummy\"; name = \"gone\"; state = 1; interval = \"300ms\"; }"
NEW="{ plugin = \"exec\"; name = \"new\"; command = \"$NP/check_dummy 1 newcomer\"; interval = \"300ms\"; max_attempts = 1; }"
conf() {
	printf '%s\ncustomers = ( { id = "c1"; assets = ( { name = "h"; checks = ( %s ); } ); } );\n' "$HEAD" "$1" >"$CONF"
}
last_check() {
	sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" \
		"SELECT last_check FROM check_state WHERE customer='c1' AND asset='h' AND name='$1';" 2>/dev/null
}

conf "$KEEP, $TICK, $GONE"
it_mamorid "$CONF"
PID=$MAMORID_PID
it_wait_state 20 c1 h keep "2|0|1|CRITICAL: keep" || it_fail "keep: first soft attempt"
it_wait_state 10 c1 h gone "1|" || it_fail "gone: no result"
it_wait_state 10 c1 h tick "0|" || it_fail "tick: no result"
t_keep=$(last_check keep)

# ---- good reload: keep unchanged, gone removed, new added ----
conf "$KEEP, $TICK, $NEW"
kill -HUP "$PID"
it_wait_for 10 grep -q "configuration reloaded" "$LOG" || it_fail "no reload in the log"
# The state right after the reload is the one from before (no re-run).
[ "$(last_check keep)" = "$t_keep" ] || it_fail "keep re-ran at reload"
it_wait_state 10 c1 h new "1|1|1|WARNING: newcomer" || it_fail "new check did not appear"
it_wait_for 10 sh -c "[ -z \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \"SELECT 1 FROM check_state WHERE name='gone';\")\" ]" ||
	it_fail "removed check still in the database"
# The attempt counter continues: attempt 2 (a fresh check would be at 1).
it_wait_state 15 c1 h keep "2|0|2|CRITICAL: keep" || it_fail "keep lost its attempt count over the reload"

# ---- bad reload: refused, the running config stays ----
cat >"$CONF" <<EOF
$HEAD
customers = ( { id = "c1"; assets = ( { name = "h";
  colour = "red";
  checks = ( $TICK ); } ); } );
EOF
kill -HUP "$PID"
it_wait_for 10 grep -q "reload refused" "$LOG" || { cat "$LOG" >&2; it_fail "bad reload not refused"; }
grep -q "mamori.conf:3: .*unknown key 'colour'" "$LOG" || { cat "$LOG" >&2; it_fail "no file:line for the bad reload"; }
kill -0 "$PID" 2>/dev/null || it_fail "mamorid died on a bad reload"
# Still checking, with the old config (new still exists).
t1=$(last_check tick)
it_wait_for 10 sh -c "[ \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \"SELECT last_check FROM check_state WHERE name='tick';\")\" != '$t1' ]" ||
	it_fail "checks stalled after a bad reload"
it_state c1 h new | grep -q "^1|" || it_fail "the running config was not kept"
it_wait_state 15 c1 h keep "2|1|3|CRITICAL: keep" || it_fail "keep did not go hard at attempt 3"

# ---- a syntax error, then a good reload again ----
printf 'customers = ( { id = \n' >"$CONF"
kill -HUP "$PID"
it_wait_for 10 sh -c "[ \$(grep -c 'reload refused' '$LOG') -ge 2 ]" || it_fail "syntax error not refused"
conf "$TICK"
kill -HUP "$PID"
it_wait_for 10 sh -c "[ \$(grep -c 'configuration reloaded' '$LOG') -ge 2 ]" || it_fail "good reload after bad ones failed"
it_wait_for 10 sh -c "[ -z \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \"SELECT 1 FROM check_state WHERE name='keep';\")\" ]" ||
	it_fail "keep not removed by the last reload"
kill -TERM "$PID"
it_wait_for 10 sh -c "! kill -0 $PID 2>/dev/null" || it_fail "mamorid did not stop"
wait "$PID" || it_fail "mamorid exited non-zero"
exit 0
