#!/bin/sh
# The perfdata history end to end: the real mamorid with checks that print
# perfdata (the dummy plugin's text, Debian's check_dummy through exec),
# read back from the database with sqlite3.
#
#  - every label is a series with its unit normalised (ms -> s, KB -> B);
#  - the tiers agree: with raw_min_interval 0 every sample is a raw row, and
#    the 5-minute and hourly rollups count the same samples with the same
#    sum, min and max - after a clean stop, a restart and a kill -9 (raw
#    rows and rollups are held and written together, in one transaction),
#    with the default history.flush_interval and with 0; ids stay the same
#    across restarts;
#  - the label cap: a check with 70 labels gets 64 series and one log line;
#  - a bad history key is refused by --check-config with file:line.
. tests/integration/lib.sh

NP=/usr/lib/nagios/plugins
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] && [ -f "$PLUGIN_DIR/exec.so" ] || it_skip "plugins not built"
[ -x "$NP/check_dummy" ] || it_skip "monitoring-plugins-basic not installed"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 750 "$IT_STATE_DIR"
DB=$IT_STATE_DIR/mamori.db
LOG=$IT_TMP/mamorid.log
db() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

many=""
i=1
while [ $i -le 70 ]; do
	many="$many l$i=${i}c"
	i=$((i + 1))
done

cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info";
           flush_interval = "50ms"; };
history = { raw_min_interval = "0s"; };
customers = ( { id = "c1"; assets = ( { name = "web1"; checks = (
  { plugin = "dummy"; name = "ping"; interval = "100ms";
    perf = "rta=0.52ms;100;500;0 pl=0%;20;60;0 size=2KB;;;0 x=U bad=1.2.3"; },
  { plugin = "exec"; name = "http"; interval = "300ms";
    command = "$NP/check_dummy 0 'HTTP OK|time=0.25s;1;2;0 size=1024B'"; },
  { plugin = "dummy"; name = "many"; interval = "500ms"; perf = "$many"; },
  { plugin = "dummy"; name = "quiet"; interval = "100ms"; }
 ); } ); } );
EOF

# ---- a bad key is refused with file:line ----
sed 's/raw_min_interval = "0s";/raw_min_interval = "0s"; keep = "1d";/' "$IT_TMP/mamori.conf" >"$IT_TMP/bad.conf"
"$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/cc.out" 2>&1 && it_fail "a bad history key was accepted"
grep -q "bad.conf:3: history: unknown key 'keep'" "$IT_TMP/cc.out" || { cat "$IT_TMP/cc.out" >&2; it_fail "no file:line for the bad key"; }

# consistent: every tier counts the same samples (raw_min_interval 0)
consistent() {
	r=$(db "SELECT count(*), printf('%.6f', sum(v)), min(v), max(v) FROM series_raw")
	m=$(db "SELECT sum(n), printf('%.6f', sum(vsum)), min(vmin), max(vmax) FROM series_5m")
	h=$(db "SELECT sum(n), printf('%.6f', sum(vsum)), min(vmin), max(vmax) FROM series_1h")
	[ "$r" = "$m" ] && [ "$r" = "$h" ] || it_fail "the tiers disagree ($1): raw $r, 5m $m, 1h $h"
	per=$(db "SELECT count(*) FROM series s WHERE (SELECT count(*) FROM series_raw WHERE series = s.id) <>
		(SELECT coalesce(sum(n), 0) FROM series_5m WHERE series = s.id)")
	[ "$per" = 0 ] || it_fail "$per series whose raw rows and 5-minute counts differ ($1)"
}

run_for() { # seconds
	it_mamorid "$IT_TMP/mamori.conf"
	PID=$MAMORID_PID
	sleep "$1"
	kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; it_fail "mamorid died"; }
}

stop() {
	kill -TERM "$PID"
	it_wait_for 10 sh -c "! kill -0 $PID 2>/dev/null" || it_fail "mamorid did not stop"
}

# ---- a few seconds of results ----
run_for 3
stop
got=$(db "SELECT check_name || '/' || label || '[' || unit || ']' FROM series WHERE check_name <> 'many' ORDER BY id" | tr '\n' ' ')
case "$got" in
*"ping/rta[s] ping/pl[%] ping/size[B] http/time[s] http/size[B] "*) ;;
*) it_fail "series: $got" ;;
esac
[ "$(db "SELECT count(*) FROM series WHERE check_name = 'quiet' OR label IN ('x', 'bad')")" = 0 ] ||
	it_fail "a series for no perfdata, U or a malformed item"
[ "$(db "SELECT DISTINCT v FROM series_raw r JOIN series s ON s.id = r.series WHERE s.label = 'rta'")" = "0.00052" ] ||
	it_fail "rta not normalised to seconds: $(db "SELECT DISTINCT v FROM series_raw r JOIN series s ON s.id = r.series WHERE s.label = 'rta'")"
[ "$(db "SELECT DISTINCT v FROM series_raw r JOIN series s ON s.id = r.series WHERE s.label = 'size' AND s.check_name = 'ping'")" = "2048.0" ] ||
	it_fail "size not normalised to bytes"
n=$(db "SELECT count(*) FROM series_raw r JOIN series s ON s.id = r.series WHERE s.label = 'rta'")
[ "$n" -ge 15 ] || it_fail "only $n raw samples of a 100ms check in 3 s"
consistent "clean stop"
# the label cap
[ "$(db "SELECT count(*) FROM series WHERE check_name = 'many'")" = 64 ] ||
	it_fail "the 70-label check has $(db "SELECT count(*) FROM series WHERE check_name = 'many'") series"
[ "$(grep -c 'more than 64 perfdata labels' "$LOG")" = 1 ] || it_fail "no single log line for the label cap"
ids=$(db "SELECT group_concat(id || label) FROM series")

# ---- a restart continues the same series ----
mv "$LOG" "$IT_TMP/first.log"
before=$(db "SELECT sum(n) FROM series_5m")
run_for 2
stop
[ "$(db "SELECT group_concat(id || label) FROM series")" = "$ids" ] || it_fail "series ids changed across a restart"
after=$(db "SELECT sum(n) FROM series_5m")
[ "$after" -gt "$before" ] || it_fail "no new samples after the restart ($before -> $after)"
consistent "restart"
grep -q "69 perfdata series known" "$LOG" || { grep series "$LOG" >&2; it_fail "the series were not loaded at startup"; }

# ---- kill -9: whatever was written is whole (default flush_interval, then 0) ----
for fi in default 0s; do
	if [ "$fi" = 0s ]; then
		sed -i 's/history = { raw_min_interval = "0s"; };/history = { raw_min_interval = "0s"; flush_interval = "0s"; };/' "$IT_TMP/mamori.conf"
		grep -q 'flush_interval = "0s"; };' "$IT_TMP/mamori.conf" || it_fail "sed"
	fi
	mv "$LOG" "$IT_TMP/before-kill-$fi.log"
	before=$(db "SELECT count(*) FROM series_raw")
	run_for 2
	kill -9 "$PID"
	sleep 0.3
	consistent "kill -9, flush_interval $fi"
	[ "$(db "SELECT count(*) FROM series_raw")" -gt "$before" ] || it_fail "nothing written before the kill ($fi)"
	[ "$(db "SELECT group_concat(id || label) FROM series")" = "$ids" ] || it_fail "series ids changed after kill -9"
done
[ "$(db "PRAGMA integrity_check")" = ok ] || it_fail "integrity"
exit 0
