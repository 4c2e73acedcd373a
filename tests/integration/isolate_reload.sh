#!/bin/sh
# it: serial
# Reload with isolated plugins on the real mamorid (SIGHUP): the core never
# waits for a plugin host on its loop.  A new check whose isolated prepare
# takes 5 s: the reload is pending meanwhile - the in-process check keeps
# its schedule, the HTTP API answers at once, the scheduling lag stays
# small - and then commits; a second SIGHUP while it waits is queued and
# applied after it.  A prepare that crashes its host refuses the reload
# (the running configuration stays, the host is restarted).  SIGTERM
# leaves no host process behind.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
for so in "$PLUGIN_DIR/dummy.so" "$B/tests/plugins/crashy.so"; do
	[ -f "$so" ] || it_skip "$so not built (make integration builds it)"
done
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v curl >/dev/null || it_skip "curl missing"

# segv_prepare crashes the host on purpose: its report is expected
IT_SAN_IGNORE=crashy.c
it_init
IT_STATE_DIR=$IT_TMP/state
PD=$IT_TMP/plugins
mkdir -p "$IT_STATE_DIR" "$PD"
cp "$PLUGIN_DIR/dummy.so" "$B/tests/plugins/crashy.so" "$PD/"
hport=$(it_free_port)
mport=$(it_free_port)
CONF=$IT_TMP/m.conf
LOG=$IT_TMP/mamorid.log
conf() {
	cat >"$CONF" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PD"; log_level = "info"; flush_interval = "50ms"; };
http = { listen = "127.0.0.1:$hport"; metrics_listen = "127.0.0.1:$mport"; };
plugins = ( { name = "crashy"; isolate = true; } );
customers = ( { id = "c1"; assets = ( { name = "h"; checks = (
    { plugin = "crashy"; name = "x"; mode = "ok"; interval = "200ms"; timeout = "20s"; },
    { plugin = "dummy"; name = "tick"; interval = "100ms"; }$1 ); } ); } );
CONF
}
last_check() {
	sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" \
		"SELECT last_check FROM check_state WHERE customer='c1' AND asset='h' AND name='$1';" 2>/dev/null
}
fail() { cat "$LOG" >&2; it_fail "$@"; }
lag_max() {
	curl -s "http://127.0.0.1:$mport/metrics" | sed -n 's/^mamori_scheduling_lag_max_seconds //p'
}

conf ""
it_mamorid "$CONF"
PID=$MAMORID_PID
it_wait_state 15 c1 h x "0|" || fail "isolated check x: no result"
it_wait_state 10 c1 h tick "0|" || fail "tick: no result"
it_wait_for 10 curl -sf "http://127.0.0.1:$hport/healthz" || fail "no /healthz"

# ---- a prepare of 5 s: the reload waits on the loop ----
SLOW=', { plugin = "crashy"; name = "slow"; mode = "slow_prepare"; delay = "5s"; interval = "500ms"; }'
conf "$SLOW"
t0=$(date +%s.%N)
kill -HUP "$PID"
it_wait_for 5 grep -q "reload: waiting for 1 answer of isolated plugins" "$LOG" || fail "reload not pending"
# Meanwhile: the HTTP API answers at once, the in-process check runs on.
t_tick=$(last_check tick)
worst=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
	t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 2 "http://127.0.0.1:$hport/healthz") ||
		fail "/healthz did not answer during the reload"
	worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
	[ $i = 5 ] && { conf "$SLOW, { plugin = \"dummy\"; name = \"later\"; interval = \"200ms\"; }"; kill -HUP "$PID"; }
	sleep 0.2
done
grep -q "configuration reloaded" "$LOG" && fail "committed before the 5 s prepare answered"
[ "$(last_check tick)" != "$t_tick" ] || fail "tick stalled during the pending reload"
grep -q "reload asked for while one waits for isolated plugins" "$LOG" || fail "second SIGHUP not queued"
it_wait_for 15 grep -q "configuration reloaded" "$LOG" || fail "reload never committed"
t1=$(date +%s.%N)
it_wait_for 10 sh -c "[ \$(grep -c 'configuration reloaded' '$LOG') -ge 2 ]" || fail "queued reload not applied"
it_wait_state 10 c1 h slow "0|" || fail "slow check did not appear"
it_wait_state 10 c1 h later "0|" || fail "the queued reload's check did not appear"
lag=$(lag_max)
echo "isolate_reload: committed after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s;" \
	"worst /healthz during it ${worst} s; worst scheduling lag since start ${lag} s"
awk -v w="$worst" 'BEGIN { exit !(w < 0.5) }' || fail "/healthz took ${worst} s during the reload"
awk -v l="${lag:-99}" 'BEGIN { exit !(l < 1.0) }' || fail "scheduling lag ${lag} s: the loop stalled"

# ---- a prepare that crashes its host: refused, the running config stays ----
n_before=$(grep -c "plugin 'crashy' runs in host process" "$LOG")
conf "$SLOW, { plugin = \"crashy\"; name = \"boom\"; mode = \"segv_prepare\"; }"
kill -HUP "$PID"
it_wait_for 10 grep -q "reload refused: plugins rejected the configuration; the running configuration stays" "$LOG" ||
	fail "crashing prepare did not refuse the reload"
grep -q "m.conf:6: the plugin host crashed (connection closed) while preparing this check\|m.conf:6: the plugin host exited while preparing this check\|m.conf:6: the plugin host crashed (signal 11) while preparing this check" "$LOG" ||
	fail "no file:line for the crashed prepare"
kill -0 "$PID" 2>/dev/null || fail "mamorid died"
it_wait_for 10 sh -c "[ \$(grep -c \"plugin 'crashy' runs in host process\" '$LOG') -gt $n_before ]" ||
	fail "the crashed host was not restarted"
[ -z "$(it_state c1 h boom)" ] || fail "the refused check exists"
t_x=$(last_check x)
it_wait_for 10 sh -c "[ \"\$(sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \"SELECT last_check FROM check_state WHERE name='x';\")\" != '$t_x' ]" ||
	fail "x did not run again after its host's restart"
it_wait_state 5 c1 h x "0|" || fail "x not OK after the restart"

kids=$(pgrep -P "$PID" | tr '\n' ' ')
kill -TERM "$PID"
it_wait_for 10 sh -c "! kill -0 $PID 2>/dev/null" || fail "mamorid did not stop"
for k in $kids; do
	kill -0 "$k" 2>/dev/null && fail "plugin host $k outlived mamorid"
done
exit 0
