#!/bin/sh
# it: serial
# memory_limit end to end: the memhog test plugin, isolated with
# memory_limit = "96M", allocates and touches memory without end in a
# check.  Its host fails under the limit (malloc fails, the plugin aborts)
# and is restarted; mamorid's own memory stays small; the check's run
# reports UNKNOWN naming the memory limit and the log says so; an
# in-process check keeps its schedule meanwhile; the restarted host
# serves the plugin's checks again.  Bad memory_limit values are config
# errors with file:line.  Skipped under AddressSanitizer, whose shadow
# memory counts as data: the host does not apply a limit there.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
for so in "$PLUGIN_DIR/dummy.so" "$B/tests/plugins/memhog.so"; do
	[ -f "$so" ] || it_skip "$so not built (make integration builds it)"
done
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
it_asan && it_skip "AddressSanitizer build: plugin hosts run without a memory limit"

it_init
IT_STATE_DIR=$IT_TMP/state
PD=$IT_TMP/plugins
mkdir -p "$IT_STATE_DIR" "$PD"
cp "$PLUGIN_DIR/dummy.so" "$B/tests/plugins/memhog.so" "$PD/"

cat >"$IT_TMP/m.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PD"; log_level = "info"; };
plugins = ( { name = "memhog"; isolate = true;
              memory_limit = "96M"; } );
customers = ( { id = "c1"; name = "Memory limit test"; assets = ( { name = "h"; type = "host";
  checks = (
    { plugin = "memhog"; name = "hog"; mode = "grow_once"; marker = "$IT_TMP/hog.marker"; cap = 256;
      interval = "1s"; retry_interval = "1s"; timeout = "5s"; },
    { plugin = "memhog"; name = "ok"; mode = "ok"; interval = "1s"; },
    { plugin = "dummy"; name = "inproc"; interval = "1s"; output = "in process"; } ); } ); } );
EOC

# Bad values: config errors at their line.
for bad in '"12M"' '"lots"' '"96X"' '-1' '"99999999999999999999G"'; do
	sed "s/memory_limit = \"96M\"/memory_limit = $bad/" "$IT_TMP/m.conf" >"$IT_TMP/bad.conf"
	"$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/cc.out" 2>&1 &&
		it_fail "--check-config accepted memory_limit = $bad"
	grep -q "bad.conf:3: plugin 'memhog': memory_limit" "$IT_TMP/cc.out" ||
		{ cat "$IT_TMP/cc.out" >&2; it_fail "no file:line for memory_limit = $bad"; }
done
for good in '"none"' '0' '"1G"' '"512MiB"' '268435456'; do
	sed "s/memory_limit = \"96M\"/memory_limit = $good/" "$IT_TMP/m.conf" >"$IT_TMP/good.conf"
	"$MAMORID" -c "$IT_TMP/good.conf" --check-config >"$IT_TMP/cc.out" 2>&1 ||
		{ cat "$IT_TMP/cc.out" >&2; it_fail "--check-config refused memory_limit = $good"; }
done

it_mamorid "$IT_TMP/m.conf"
fail() { cat "$IT_TMP/mamorid.log" >&2; it_fail "$@"; }

# The runaway: its host fails under the limit, its run reports UNKNOWN
# with the reason, and the restarted host completes the check.
it_wait_for 20 grep -q "plugin host of 'memhog' ran out of memory (memory_limit 96 MiB" \
	"$IT_TMP/mamorid.log" || fail "no 'ran out of memory' logged"
grep -q "c1/h/hog: .*UNKNOWN.*plugin host of 'memhog' ran out of memory (memory_limit 96 MiB" \
	"$IT_TMP/mamorid.log" || fail "the runaway's run not UNKNOWN with the memory limit"
grep -q "plugin host of 'memhog' (pid [0-9]*) killed by signal 6" "$IT_TMP/mamorid.log" ||
	fail "the host's death (SIGABRT) not logged"
it_wait_state 20 c1 h hog "0|" && it_state c1 h hog | grep -q "|recovered$" ||
	fail "hog check did not recover: $(it_state c1 h hog)"
# The host came back: a second process, which serves the plugin's other
# check, under the same limit.
hosts=$(sed -n "s/.*plugin 'memhog' runs in host process \([0-9]*\)$/\1/p" "$IT_TMP/mamorid.log")
set -- $hosts
[ $# -ge 2 ] || fail "the host was not restarted (host pids: $hosts)"
eval "last=\${$#}"
it_wait_for 10 sh -c "sqlite3 -cmd '.timeout 2000' '$IT_STATE_DIR/mamori.db' \
	\"SELECT output FROM check_state WHERE name='ok';\" | grep -qx 'memhog ok pid $last'" ||
	fail "ok check not served by the new host $last: $(it_state c1 h ok)"
grep -q "^Max data size *100663296 *100663296 *bytes" /proc/"$last"/limits 2>/dev/null ||
	{ cat /proc/"$last"/limits >&2; fail "host $last runs without its RLIMIT_DATA of 96 MiB"; }
kill -0 "$1" 2>/dev/null && fail "the host that ran away ($1) is still there"

# mamorid itself never held the runaway's memory.
hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/"$MAMORID_PID"/status)
echo "isolate_memory: mamorid peak RSS ${hwm} kB"
[ "${hwm:-999999}" -lt 65536 ] || fail "mamorid's peak RSS ${hwm} kB (64 MiB or more)"
# The in-process check kept its schedule.
age=$(sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" \
	"SELECT CAST(strftime('%s','now') - last_check AS INTEGER) FROM check_state WHERE name='inproc';")
[ "${age:-99}" -le 3 ] || fail "in-process check stalled (last check ${age}s ago)"
kill -0 "$MAMORID_PID" 2>/dev/null || fail "mamorid died"
exit 0
