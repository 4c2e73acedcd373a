#!/bin/sh
# it: serial
# disk_full: a full disk under the state directory is said loudly, checks
# go on, and everything catches up without loss when space returns.
#
# The state_dir is on a small tmpfs (DF_SIZE, 8 MiB; needs root to mount:
# skipped otherwise).  A REAL mosquitto, a QoS 1 subscriber on the alert
# topics and the server's health topic, mamorid with /metrics, an exec'd
# check every second (timeout 2 s) that notes each run outside the tmpfs,
# and Defender agents.  Then a filler file takes all the space left, and
# the agents flip between "real-time protection off" and healthy for
# DF_FULL_SECONDS while the disk stays full:
#   - mamorid says so: the "STORE FAILING" log line, mamori_store_failing 1
#     on /metrics, the retained health message {"store":"failing"} on
#     mamori/v1/server/{node}/health (it needs no database);
#   - the exec'd check keeps running (no gap above interval + timeout).
# The filler is deleted:
#   - "store writable again", mamori_store_failing 0, health "ok";
#   - every alert event is in the database, and every one of them reached
#     the subscriber in order, nothing opened twice (alerts_reconcile.py),
#     including events made while the disk was full.
. tests/integration/lib.sh
. tests/integration/alerts.lib
[ "$(id -u)" = 0 ] || it_skip "not root (mounting a tmpfs needs root)"
alerts_require sqlite3 curl
[ -f "$PLUGIN_DIR/exec.so" ] || it_skip "exec plugin not built"
it_init
FS=$IT_TMP/fs
mkdir "$FS"
mount -t tmpfs -o size="${DF_SIZE:-8m}",mode=0755 tmpfs "$FS" 2>"$IT_TMP/mount.err" ||
	it_skip "cannot mount a tmpfs here: $(cat "$IT_TMP/mount.err")"
trap 'umount -l "$FS" 2>/dev/null; it_cleanup' EXIT
V=tests/fixtures/defender
PCS=4
FULL_SECONDS=${DF_FULL_SECONDS:-10}

it_mosquitto "max_inflight_messages 1000" "max_queued_messages 0"
IT_STATE_DIR=$FS/state
mkdir -m 750 "$IT_STATE_DIR"
printf '#!/bin/sh\ndate +%%s.%%N >>"%s/ticks"\necho tick\n' "$IT_TMP" >"$IT_TMP/tick.sh"
chmod 755 "$IT_TMP/tick.sh"
mport=$(it_free_port)
M=http://127.0.0.1:$mport/metrics
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "info"; node = "df"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-df"; topic_prefix = "mamori"; };
http = { metrics_listen = "127.0.0.1:$mport"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "t1"; ack_within = "2s"; resolve_within = "1h"; },
                        { name = "t2"; ack_within = "2s"; resolve_within = "1h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Disk full";
    agents = { defender = { auto_register = true; stale_after = "1h"; flap_detection = false; }; };
    assets = ( { name = "srv"; checks = (
      { plugin = "exec"; name = "tick"; interval = "1s"; timeout = "2s"; max_attempts = 1;
        command = "$IT_TMP/tick.sh"; } ); } ); } );
EOC
SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i df-subscriber -F '%t %p' \
	-t 'mamori/v1/alerts/#' -t 'mamori/v1/server/+/health'
sleep 0.3
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online
it_wait_for 10 test -s "$IT_STATE_DIR/mamori.db" || it_fail "no database"
LOG=$IT_TMP/mamorid.log
db() { sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "$1"; }
report() { # pc off|healthy
	_f=$V/realtime-off.json
	[ "$2" = healthy ] && _f=$V/healthy.json
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/agents/c0001/PC-$1/defender" -f "$_f"
}
i=0
while [ $i -lt $PCS ]; do
	report $i healthy
	i=$((i + 1))
done
metric() { curl -s "$M" | sed -n "s/^$1 //p"; }
it_wait_for 10 sh -c "curl -s '$M' | grep -q '^mamori_store_failing 0'" || it_fail "no mamori_store_failing 0"
health() { grep ' {"schema":"mamori.health/1"' "$SUB_LOG" | tail -1 | sed 's/.*"store":"\([a-z]*\)".*/\1/'; }
it_wait_for 10 sh -c "grep -q '\"store\":\"ok\"' '$SUB_LOG'" || it_fail "no health message at start"

# The disk fills up.
dd if=/dev/zero of="$FS/filler" bs=64k >/dev/null 2>&1
echo "tmpfs: $(df -k "$FS" | awk 'NR == 2 { print $3 " KiB used, " $4 " KiB free" }')"
T_FULL=$(date +%s.%N)
end=$(($(date +%s) + FULL_SECONDS))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
	i=0
	while [ $i -lt $PCS ]; do
		[ $(((n + i) % 2)) = 0 ] && report $i off || report $i healthy
		i=$((i + 1))
	done
	n=$((n + 1))
	sleep 0.5
done
grep -q "STORE FAILING: $IT_STATE_DIR/mamori.db cannot be written" "$LOG" ||
	it_fail "no STORE FAILING line after ${FULL_SECONDS}s of a full disk: $(grep store "$LOG" | tail -3)"
[ "$(metric mamori_store_failing)" = 1 ] || it_fail "mamori_store_failing is $(metric mamori_store_failing)"
retries=$(metric mamori_store_retries_total)
[ "${retries:-0}" -gt 0 ] || it_fail "mamori_store_retries_total is '$retries'"
it_wait_for 5 sh -c "grep ' {\"schema\":\"mamori.health/1\"' '$SUB_LOG' | tail -1 | grep -q '\"store\":\"failing\"'" ||
	it_fail "health on the broker: $(health)"
# a new subscriber gets it too (retained)
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'mamori/v1/server/df/health' -C 1 -W 3 | grep -q '"store":"failing"' ||
	it_fail "the retained health is not 'failing'"
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$LOG")"
T_FREE=$(date +%s.%N)

# Space returns.
rm -f "$FS/filler"
it_wait_for 30 grep -q "store writable again" "$LOG" || it_fail "no 'store writable again' line"
it_wait_for 10 sh -c "curl -s '$M' | grep -q '^mamori_store_failing 0'" || it_fail "mamori_store_failing stays 1"
it_wait_for 5 sh -c "grep ' {\"schema\":\"mamori.health/1\"' '$SUB_LOG' | tail -1 | grep -q '\"store\":\"ok\"'" ||
	it_fail "health on the broker after: $(health)"
i=0
while [ $i -lt $PCS ]; do
	report $i healthy
	i=$((i + 1))
done
it_wait_for 30 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' \"SELECT count(*) FROM alert WHERE status != 'resolved'\")\" = 0 ]" ||
	it_fail "alerts left open: $(db "SELECT id, status FROM alert WHERE status != 'resolved'")"
it_wait_for 30 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained: $(db 'SELECT count(*) FROM outbox') rows"
sleep 1
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
sleep 0.5

db "SELECT alert_id, seq, type, time FROM alert_event ORDER BY alert_id, seq" >"$IT_TMP/events.txt"
db "SELECT id, check_key, seq, status FROM alert" >"$IT_TMP/alerts.txt"
python3 tests/integration/alerts_reconcile.py "$SUB_LOG" "$IT_TMP/events.txt" "$IT_TMP/alerts.txt" \
	--min-events 10 --label "disk full ${FULL_SECONDS}s" >"$IT_TMP/reconcile.txt" ||
	it_fail "reconciliation failed (IT_KEEP=1 keeps the logs): $(cat "$IT_TMP/reconcile.txt")"
cat "$IT_TMP/reconcile.txt"
python3 - "$IT_TMP/events.txt" "$T_FULL" "$T_FREE" "$IT_TMP/ticks" "$retries" <<'PY' || it_fail "see above"
import sys
events, t_full, t_free, ticks, retries = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
times = [float(l.rstrip("\n").split("|")[3]) for l in open(events)]
during = sum(1 for t in times if t_full <= t <= t_free)
ts = [float(l) for l in open(ticks)]
runs_full = sum(1 for t in ts if t_full <= t <= t_free)
worst = max(b - a for a, b in zip(ts, ts[1:]))
print("alert events made while the disk was full %d (written and published after); check runs while "
      "full %d, longest gap %.2f s; batches refused and retried %s" % (during, runs_full, worst, retries))
fail = 0
if during == 0:
    print("no alert event while the disk was full: the test proves nothing"); fail = 1
if worst > 3.0:
    print("the exec'd check went %.2f s without a run" % worst); fail = 1
if runs_full < (t_free - t_full) * 0.7:
    print("only %d runs while the disk was full" % runs_full); fail = 1
sys.exit(fail)
PY
echo "PASS disk_full"
