#!/bin/sh
# mqtt_idle: mamorid connected to a real mosquitto and idle (one agent
# report judged, then nothing) costs almost no CPU, whichever socket I/O
# its session has; it says once which ("broker socket I/O: buffered" when
# its read/write interposer is in libmosquitto's path, "unbuffered" when
# not), and that matches the build: buffered exactly when mamorid exports
# read/write/close.  No unit test binary (but the interposer's own suite)
# and no tool exports them: the interposer is linked into mamorid only.
# Guards against the spin where an unbuffered session (interposer not
# linked or not exported) burned one core on empty reads at idle.
# MAMORID=... runs it on another build (e.g. make IO_INTERPOSE=no).
. tests/integration/lib.sh
it_init
it_mosquitto

IT_STATE_DIR=$IT_TMP/state
cat >"$IT_TMP/m.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-idle"; };
customers = ( { id = "c0001"; agents = { defender = { auto_register = true; }; }; } );
EOC
it_mamorid "$IT_TMP/m.conf"
it_wait_online
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-1/defender \
	-f tests/fixtures/defender/healthy.json || it_fail "publish"
it_wait_state 10 c0001 PC-1 defender "0|" || it_fail "report not judged: $(tail -3 "$IT_TMP/mamorid.log")"
sleep 0.5

# utime + stime of all of mamorid's threads, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$MAMORID_PID/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep 2
t1=$(ticks)
pct=$(awk -v d="$((t1 - t0))" -v hz="$hz" 'BEGIN { printf "%.0f", d * 100 / hz / 2 }')
mode=$(grep -o 'broker socket I/O: [a-z]*' "$IT_TMP/mamorid.log" | head -n 1)
echo "idle mamorid: ${pct}% of one core over 2 s ($((t1 - t0)) ticks at $hz Hz); $mode"
[ "$pct" -lt 20 ] || it_fail "idle mamorid used ${pct}% of a core ($mode)"
[ "$(grep -c 'broker socket I/O' "$IT_TMP/mamorid.log")" = 1 ] ||
	it_fail "expected one 'broker socket I/O' line per connection: $(grep 'broker socket I/O' "$IT_TMP/mamorid.log")"

command -v nm >/dev/null 2>&1 || { echo "nm missing: link checks skipped"; exit 0; }
exports() { nm -D --defined-only "$1" 2>/dev/null | grep -cwE 'read|write|close'; }
case "$(exports "$MAMORID"):$mode" in
3:*": buffered" | 0:*": unbuffered") ;;
*) it_fail "$MAMORID exports $(exports "$MAMORID") of read/write/close but logged '$mode'" ;;
esac
for f in "$B"/tests/test_* "$B"/tools/* "$MAMORICTL"; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in */test_mqtt_interpose) continue ;; esac
	[ "$(exports "$f")" = 0 ] || it_fail "$f exports read/write/close: the interposer is for mamorid only"
done
exit 0
