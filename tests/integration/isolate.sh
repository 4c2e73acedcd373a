#!/bin/sh
# it: serial
# isolate = true end to end: the real mamorid runs exec (Debian's
# check_dummy), dummy and the crashy test plugin in plugin host processes.
# A plugin that segfaults in check_start and one that hangs its host's loop
# cost only their own checks: mamorid keeps running, an in-process check
# keeps its schedule, the crashed checks report UNKNOWN and recover after
# the automatic restart.  SIGTERM leaves no host process behind.
. tests/integration/lib.sh

NP=/usr/lib/nagios/plugins
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
for so in "$PLUGIN_DIR/dummy.so" "$PLUGIN_DIR/exec.so" "$B/tests/plugins/crashy.so"; do
	[ -f "$so" ] || it_skip "$so not built (make integration builds it)"
done
[ -x "$NP/check_dummy" ] || it_skip "monitoring-plugins-basic not installed"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

# the crashy plugin dereferences NULL on purpose: its report is expected
IT_SAN_IGNORE=crashy.c
it_init
IT_STATE_DIR=$IT_TMP/state
PD=$IT_TMP/plugins
mkdir -p "$IT_STATE_DIR" "$PD"
cp "$PLUGIN_DIR/dummy.so" "$PLUGIN_DIR/exec.so" "$B/tests/plugins/crashy.so" "$PD/"

cat >"$IT_TMP/m.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PD"; log_level = "info"; };
plugins = ( { name = "crashy"; isolate = true; },
            { name = "exec"; isolate = true; } );
customers = ( { id = "c1"; name = "Isolation test"; assets = ( { name = "h"; type = "host";
  checks = (
    { plugin = "crashy"; name = "segv"; mode = "segv_once"; marker = "$IT_TMP/segv.marker";
      interval = "1s"; retry_interval = "1s"; timeout = "3s"; },
    { plugin = "crashy"; name = "hang"; mode = "hang_once"; marker = "$IT_TMP/hang.marker";
      interval = "1s"; retry_interval = "1s"; timeout = "1s"; },
    { plugin = "exec"; name = "exec"; interval = "1s";
      command = "$NP/check_dummy 1 isolated exec"; },
    { plugin = "dummy"; name = "inproc"; interval = "1s"; output = "in process"; } ); } ); } );
EOF

# A prepare error inside the host is a config error with file:line.
sed 's/mode = "segv_once"/mode = "bogus"/' "$IT_TMP/m.conf" >"$IT_TMP/bad.conf"
"$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/cc.out" 2>&1 &&
	it_fail "--check-config accepted mode = bogus"
grep -q "bad.conf:6: key 'mode': unknown mode 'bogus'" "$IT_TMP/cc.out" ||
	{ cat "$IT_TMP/cc.out" >&2; it_fail "no file:line for the host's prepare error"; }

it_mamorid "$IT_TMP/m.conf"
fail() { cat "$IT_TMP/mamorid.log" >&2; it_fail "$@"; }

it_wait_state 15 c1 h exec "1|" || fail "isolated exec did not report WARNING"
it_state c1 h exec | grep -q "WARNING: isolated" || fail "exec output: $(it_state c1 h exec)"
# The segfault: its run reports UNKNOWN, then the restarted host answers.
it_wait_state 20 c1 h segv "0|" && it_state c1 h segv | grep -q "|recovered$" || fail "segv check did not recover"
grep -q "plugin host of 'crashy' .*killed by signal" "$IT_TMP/mamorid.log" || fail "no crash logged"
grep -q "c1/h/segv: .*UNKNOWN.*plugin host" "$IT_TMP/mamorid.log" || fail "crashed run not UNKNOWN"
# The hang: the core's timeout cancels the run, the watchdog kills the host.
it_wait_state 30 c1 h hang "0|" && it_state c1 h hang | grep -q "|recovered$" || fail "hung check did not recover"
grep -q "plugin host of 'crashy' hung" "$IT_TMP/mamorid.log" || fail "no hang logged"
grep -q "c1/h/hang: .*UNKNOWN.*timed out" "$IT_TMP/mamorid.log" || fail "hung run did not time out"
kill -0 "$MAMORID_PID" 2>/dev/null || fail "mamorid died"
# The in-process check kept running all along.
it_wait_state 5 c1 h inproc "0|" || fail "in-process check"
age=$(sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" \
	"SELECT CAST(strftime('%s','now') - last_check AS INTEGER) FROM check_state WHERE name='inproc';")
[ "${age:-99}" -le 5 ] || fail "in-process check stalled (last check ${age}s ago)"

kids=$(pgrep -P "$MAMORID_PID" | tr '\n' ' ')
set -- $kids
[ $# -eq 2 ] || fail "expected 2 plugin host processes, found '$kids'"
kill -TERM "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || fail "mamorid did not stop"
for k in $kids; do
	kill -0 "$k" 2>/dev/null && fail "plugin host $k outlived mamorid"
done
exit 0
