#!/bin/sh
# Core end to end: the real mamorid with dummy and exec checks (Debian's
# check_dummy, and check_tcp against a TCP port this test opens), refused
# plugins (ABI mismatch, unresolved symbol, garbage .so) next to copies of
# the real ones, --check-config exit codes and file:line messages,
# SIGTERM and a restart that keeps the state.  States are read from the
# state database.
. tests/integration/lib.sh

NP=/usr/lib/nagios/plugins
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
for so in "$PLUGIN_DIR/dummy.so" "$PLUGIN_DIR/exec.so" "$B/tests/plugins/bad_abi.so" \
	"$B/tests/plugins/unresolved.so"; do
	[ -f "$so" ] || it_skip "$so not built (make integration builds it)"
done
[ -x "$NP/check_dummy" ] && [ -x "$NP/check_tcp" ] || it_skip "monitoring-plugins-basic not installed"
command -v python3 >/dev/null || it_skip "python3 missing (TCP server)"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
PD=$IT_TMP/plugins
mkdir -p "$IT_STATE_DIR" "$PD"
cp "$PLUGIN_DIR/dummy.so" "$PLUGIN_DIR/exec.so" "$B/tests/plugins/bad_abi.so" \
	"$B/tests/plugins/unresolved.so" "$PD/"
head -c 4096 /dev/urandom >"$PD/garbage.so"

# ---- --check-config: exit codes and file:line ----
FX=tests/fixtures/core
check_config() { # expected-rc file needle...
	_rc=$1
	_f=$2
	shift 2
	"$MAMORID" -c "$_f" --plugin-dir "$PD" --check-config >"$IT_TMP/cc.out" 2>&1
	_got=$?
	[ "$_got" -eq "$_rc" ] || { cat "$IT_TMP/cc.out" >&2; it_fail "--check-config $_f exited $_got, expected $_rc"; }
	for _n in "$@"; do
		grep -qF -- "$_n" "$IT_TMP/cc.out" || { cat "$IT_TMP/cc.out" >&2; it_fail "--check-config $_f: no '$_n'"; }
	done
}
check_config 0 $FX/good.conf "configuration OK: 1 customers, 1 checks" "bad_abi.so" "garbage.so"
check_config 1 $FX/unknown_key.conf "unknown_key.conf:7:" "unknown key 'intervall'"
check_config 1 $FX/syntax.conf "syntax.conf:3:"
check_config 1 $FX/bad_include.conf "inc/customer_bad.conf:3:" "unknown key 'colour'"
check_config 1 $FX/undefined_refs.conf "undefined_refs.conf:5:" "unknown plugin 'nosuchplugin'" \
	"undefined_refs.conf:6:" "undefined calendar 'never-defined'" "undefined parent 'gateway'"
check_config 1 $FX/does_not_exist.conf "does_not_exist.conf"
"$MAMORID" --version | grep -q "plugin ABI" || it_fail "--version"

# ---- a running daemon ----
tcp_port=$(it_free_port)
it_bg tcp python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
' "$tcp_port"
closed_port=$(it_free_port)
it_wait_for 10 "$NP/check_tcp" -H 127.0.0.1 -p "$tcp_port" || it_fail "TCP server did not start"

# write_conf INTERVAL: the same checks; INTERVAL for all of them.
write_conf() {
	cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PD"; log_level = "info"; flush_interval = "50ms"; };
customers = ( { id = "c1"; assets = (
  { name = "host1"; address = "127.0.0.1";
    checks = (
      { plugin = "exec"; name = "dummy_ok"; command = "$NP/check_dummy 0 fine"; interval = "$1"; },
      { plugin = "exec"; name = "dummy_crit"; command = "$NP/check_dummy 2 broken"; interval = "$1";
        retry_interval = "200ms"; max_attempts = 2; },
      { plugin = "exec"; name = "tcp_open"; command = "$NP/check_tcp -H \$HOSTADDRESS\$ -p $tcp_port"; interval = "$1"; },
      { plugin = "exec"; name = "tcp_closed"; command = "$NP/check_tcp -H \$HOSTADDRESS\$ -p $closed_port";
        interval = "$1"; max_attempts = 1; },
      { plugin = "dummy"; name = "inproc"; state = 1; output = "in process warning"; max_attempts = 1; interval = "$1"; },
      { plugin = "bad_abi"; name = "refused"; max_attempts = 1; interval = "$1"; }
    ); } ); } );
EOF
}
write_conf 1s
it_mamorid "$IT_TMP/mamori.conf"
PID1=$MAMORID_PID
it_wait_state 20 c1 host1 dummy_ok "0|1|1|OK: fine" || it_fail "dummy_ok"
it_wait_state 20 c1 host1 dummy_crit "2|1|2|CRITICAL: broken" || it_fail "dummy_crit did not go hard after 2 attempts"
it_wait_state 20 c1 host1 tcp_open "0|1|1|TCP OK" || it_fail "tcp_open"
it_wait_state 20 c1 host1 tcp_closed "2|1|1|" || it_fail "tcp_closed"
it_wait_state 20 c1 host1 inproc "1|1|1|in process warning" || it_fail "inproc"
it_wait_state 20 c1 host1 refused "3|1|1|" || it_fail "check of a refused plugin is not UNKNOWN"
it_state c1 host1 refused | grep -q "bad_abi.so" || it_fail "UNKNOWN output does not name the refused file: $(it_state c1 host1 refused)"
LOG=$IT_TMP/mamorid.log
for n in "bad_abi.so refused" "unresolved.so" "garbage.so"; do
	grep -q "$n" "$LOG" || { cat "$LOG" >&2; it_fail "log does not mention '$n'"; }
done
kill -0 "$PID1" 2>/dev/null || it_fail "mamorid died"

# ---- SIGTERM: clean stop, state saved ----
kill -TERM "$PID1"
it_wait_for 10 sh -c "! kill -0 $PID1 2>/dev/null" || it_fail "mamorid did not stop on SIGTERM"
wait "$PID1"
rc=$?
[ "$rc" -eq 0 ] || it_fail "mamorid exited $rc after SIGTERM"
grep -q "stopped" "$LOG" || it_fail "no clean stop in the log"

# ---- restart: the state is restored, not re-measured.  The new config
# has an interval of 1h, so nothing runs again for an hour: whatever the
# database says now comes from the saved state. ----
before=$(sqlite3 "$IT_STATE_DIR/mamori.db" "SELECT name||'|'||state||'|'||hard||'|'||attempt||'|'||output||'|'||last_check FROM check_state ORDER BY name;")
write_conf 1h
mv "$LOG" "$IT_TMP/first.log"
it_mamorid "$IT_TMP/mamori.conf"
PID2=$MAMORID_PID
it_wait_for 10 grep -q "restored the state of 6 checks" "$LOG" || { cat "$LOG" >&2; it_fail "state not restored"; }
kill -0 "$PID2" 2>/dev/null || it_fail "mamorid died after restart"
kill -TERM "$PID2"
it_wait_for 10 sh -c "! kill -0 $PID2 2>/dev/null" || it_fail "mamorid did not stop"
after=$(sqlite3 "$IT_STATE_DIR/mamori.db" "SELECT name||'|'||state||'|'||hard||'|'||attempt||'|'||output||'|'||last_check FROM check_state ORDER BY name;")
[ "$before" = "$after" ] || it_fail "state changed across restart:
before: $before
after:  $after"
[ "$(printf '%s\n' "$after" | wc -l)" -eq 6 ] || it_fail "expected 6 rows: $after"

# (mamorictl reads through the API of a running daemon now: its
# rendering of states, PENDING included, is tested in mamorictl.sh)
exit 0
