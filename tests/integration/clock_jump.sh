#!/bin/sh
# it: serial
# clock_jump: the wall clock jumps forward and back under a running
# mamorid; checks keep their interval and SLA deadlines stay where they
# were in real (elapsed) time.
#
# mamorid runs under Debian's libfaketime, which reads the offset of the
# wall clock from a file at every call (FAKETIME_TIMESTAMP_FILE,
# FAKETIME_NO_CACHE) and leaves the monotonic clock alone
# (FAKETIME_DONT_FAKE_MONOTONIC), as a clock step by NTP or `date -s` does.
# An exec'd check every second notes each run in real time (/proc/uptime,
# which libfaketime does not touch).  A Defender agent opens an alert on a
# 24x7 center whose first tier must acknowledge within CJ_ACK seconds.
# The wall clock then jumps +1 h, then -2 h (1 h behind), then back to
# true time, a few seconds apart.  Checked:
#   - the check runs once a second all along: no gap above 1.5 s, no burst
#     (no two runs within 0.5 s), as many runs as seconds passed;
#   - the alert's sla_breach arrives CJ_ACK seconds (real time) after the
#     alert opened (within 1.5 s), neither at the jump forward nor an hour
#     late after the jump back.
. tests/integration/lib.sh
. tests/integration/alerts.lib
alerts_require sqlite3
[ -f "$PLUGIN_DIR/exec.so" ] || it_skip "exec plugin not built"
FT=""
for _l in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/*/faketime/libfaketime.so.1; do
	[ -f "$_l" ] && FT=$_l && break
done
[ -n "$FT" ] || it_skip "libfaketime not installed (Debian package faketime)"
# libfaketime and ASan's runtime do not mix: preloaded together (ASan's
# first, as it demands), even `mamorid --version` hangs at start.  The
# plain build runs this test; the ASan pass skips it.
ldd "$MAMORID" 2>/dev/null | grep -q libasan &&
	it_skip "an ASan build: libfaketime deadlocks with ASan's runtime (the plain build runs this test)"
it_init
ACK=${CJ_ACK:-8}
it_mosquitto "max_inflight_messages 1000" "max_queued_messages 0"
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
printf '#!/bin/sh\ncut -d" " -f1 /proc/uptime >>"%s/ticks"\necho tick\n' "$IT_TMP" >"$IT_TMP/tick.sh"
chmod 755 "$IT_TMP/tick.sh"
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "info"; node = "cj"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-cj"; topic_prefix = "mamori"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "t1"; ack_within = "${ACK}s"; resolve_within = "1h"; },
                        { name = "t2"; ack_within = "1h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Clock jump";
    agents = { defender = { auto_register = true; stale_after = "1d"; flap_detection = false; }; };
    assets = ( { name = "srv"; checks = (
      { plugin = "exec"; name = "tick"; interval = "1s"; timeout = "2s"; max_attempts = 1;
        command = "$IT_TMP/tick.sh"; } ); } ); } );
EOC
SUB_LOG=$IT_TMP/sub.log
# the subscriber is not under libfaketime: %U is the true time of arrival
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -F '%U %t %p' -t 'mamori/v1/alerts/#'
echo "+0" >"$IT_TMP/clock"
LD_PRELOAD=$FT FAKETIME_TIMESTAMP_FILE=$IT_TMP/clock FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
	it_mamorid "$IT_TMP/mamori.conf"
it_wait_online
it_wait_for 10 test -s "$IT_TMP/ticks" || it_fail "the check does not run: $(tail -5 "$IT_TMP/mamorid.log")"
uptime_now() { cut -d" " -f1 /proc/uptime; }
sleep 2
T0=$(uptime_now)
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-01/defender \
	-f tests/fixtures/defender/realtime-off.json
wait_q "event=opened" 10 || it_fail "no alert opened"
T_OPEN=$(q "event=opened" _recv)
sleep 2
echo "+3600" >"$IT_TMP/clock" # an hour ahead
J1=$(uptime_now)
sleep 3
echo "-3600" >"$IT_TMP/clock" # an hour behind
J2=$(uptime_now)
sleep 4
echo "+0" >"$IT_TMP/clock"
J3=$(uptime_now)
sleep 3
T_END=$(uptime_now)
wait_q "event=sla_breach" 5 || it_fail "no sla_breach at all (ack within ${ACK}s)"
T_BREACH=$(q "event=sla_breach" _recv)
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$IT_TMP/mamorid.log")"

python3 - "$IT_TMP/ticks" "$T0" "$T_END" "$T_OPEN" "$T_BREACH" "$ACK" "$J1" "$J2" "$J3" <<'PY' || it_fail "see above"
import sys
ticks, t0, t_end, t_open, t_breach, ack, j1, j2, j3 = sys.argv[1], *map(float, sys.argv[2:])
ts = [float(l) for l in open(ticks) if l.strip()]
ts = [t for t in ts if t0 - 1 <= t <= t_end]
gaps = [b - a for a, b in zip(ts, ts[1:])]
late = t_breach - t_open
print("check runs %d over %.1f s, gaps %.2f..%.2f s; sla_breach %.2f s after opening (ack within %g s); "
      "jumps at +%.1f, +%.1f, +%.1f s" % (len(ts), t_end - t0, min(gaps), max(gaps), late, ack,
                                          j1 - t0, j2 - t0, j3 - t0))
fail = 0
if max(gaps) > 1.5:
    print("a gap of %.2f s between runs (interval 1 s)" % max(gaps)); fail = 1
if min(gaps) < 0.5:
    print("two runs %.2f s apart (interval 1 s)" % min(gaps)); fail = 1
if len(ts) < (t_end - t0) - 2:
    print("only %d runs in %.1f s" % (len(ts), t_end - t0)); fail = 1
if abs(late - ack) > 1.5:
    print("the ack deadline breached %.2f s after opening, not %g s" % (late, ack)); fail = 1
sys.exit(fail)
PY
echo "PASS clock_jump"
