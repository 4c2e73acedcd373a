#!/bin/sh
# it: serial
# alerts_kill9: durability of the alert pipeline under kill -9.
#
# A REAL mosquitto, mamorid with MQTT and a 24x7 center with short
# deadlines, and a load generator playing ALERTS_HOSTS PCs whose Defender
# reports flip between "real-time protection off" and healthy at varied
# rates (fast flippers and slow ones whose deadlines breach and escalate).
# A QoS 1 subscriber with a persistent session, started first, logs every
# alert message.  mamorid is killed with SIGKILL at random moments
# ALERTS_KILLS times (10; `make soak`: SOAK_N, 1000) and restarted on the
# same state_dir.  At the end the subscriber's log is reconciled against
# the database (alerts_reconcile.py; its last line is the report: lost,
# duplicated, out-of-order events, alerts opened twice):
#   - every alert_event row (id, seq) was received at least once;
#   - nothing was received that the database does not hold;
#   - each alert's events are seq 1..n without holes, alert.seq = n, and
#     first arrived in that order;
#   - no check ever had two unresolved alerts at once (no double open);
#   - the outbox is empty.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require sqlite3
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
HOSTS=${ALERTS_HOSTS:-24}
KILLS=${ALERTS_KILLS:-10}
# Seconds between kills (uniformly drawn); `make soak` shortens them.
GAP_MIN=${ALERTS_GAP_MIN:-1.0}
GAP_MAX=${ALERTS_GAP_MAX:-3.5}
RATE=${ALERTS_RATE:-400} # reports per second in total
V=tests/fixtures/defender

port=$(it_free_port)
# Unlimited queues: a slow subscriber must not lose QoS 1 messages.
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 0\n' \
	"$port" >"$IT_TMP/mosq.conf"
it_bg mosquitto "$MOSQUITTO" -c "$IT_TMP/mosq.conf"
it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x || it_fail "broker did not start"

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "notice"; node = "k9"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-kill9"; topic_prefix = "mamori"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always"; reannounce = "2s";
              tiers = ( { name = "t1"; ack_within = "1s"; resolve_within = "3s"; },
                        { name = "t2"; ack_within = "2s"; resolve_within = "4s"; },
                        { name = "t3"; ack_within = "2s"; resolve_within = "5s"; } ); },
            { name = "cc-copy"; calendar = "always";
              tiers = ( { name = "info"; ack_within = "1h"; } ); } );
routes = ( { center = "cc-east"; continue = true; }, { center = "cc-copy"; } );
customers = (
  { id = "c0001"; name = "Kill nine";
    agents = { defender = { auto_register = true; stale_after = "1h"; flap_detection = false; }; }; } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"

SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i kill9-subscriber -F '%t %p' -t 'mamori/v1/alerts/#'
sleep 0.5

start_mamorid() {
	"$MAMORID" -f -c "$IT_TMP/mamori.conf" >>"$IT_TMP/mamorid.log" 2>&1 &
	MAMORID_PID=$!
	IT_PIDS="$IT_PIDS $MAMORID_PID"
}
start_mamorid

# The load: one mosquitto_pub -l per PC, fed by one python process.
cat >"$IT_TMP/gen.py" <<'PY'
import json, random, subprocess, sys, time
port, hosts, rate, fixtures, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
off = json.dumps(json.load(open(fixtures + "/realtime-off.json")))
ok = json.dumps(json.load(open(fixtures + "/healthy.json")))
rnd = random.Random(int(sys.argv[6]))
pubs, period, bad, flip = [], [], [], []
for i in range(hosts):
    pubs.append(subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-l",
                                  "-t", "mamori/v1/agents/c0001/PC-%02d/defender" % i],
                                 stdin=subprocess.PIPE, text=True, bufsize=1))
    # a third flip on every report, the others stay in a state 0.5-6 s
    period.append(0 if i % 3 == 0 else rnd.uniform(0.5, 6))
    bad.append(rnd.random() < 0.5)
    flip.append(time.time() + period[i])
end, step, n = time.time() + seconds, 1.0 / rate, 0
while time.time() < end:
    i = n % hosts
    n += 1
    if period[i] == 0 or time.time() >= flip[i]:
        bad[i] = not bad[i]
        flip[i] = time.time() + period[i]
    pubs[i].stdin.write((off if bad[i] else ok) + "\n")
    time.sleep(step)
for p in pubs:
    p.stdin.write(ok + "\n")  # end healthy: every alert resolves
    p.stdin.close()
for p in pubs:
    p.wait()
print(n)
PY
SECONDS_LOAD=$(python3 -c "print(int($KILLS * ($GAP_MIN + $GAP_MAX) / 2 + $KILLS * 0.5 + 6))")
it_bg gen python3 "$IT_TMP/gen.py" "$port" "$HOSTS" "$RATE" "$V" "$SECONDS_LOAD" "${ALERTS_SEED:-$$}"
GEN_PID=$IT_LAST_PID

# Kill -9 at random points, restart at once or after a pause.
i=0
while [ $i -lt "$KILLS" ]; do
	i=$((i + 1))
	sleep "$(python3 -c "import random; print(round(random.uniform($GAP_MIN, $GAP_MAX), 2))" 2>/dev/null || echo 2)"
	kill -9 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid was not running before kill $i: $(tail -5 "$IT_TMP/mamorid.log")"
	wait "$MAMORID_PID" 2>/dev/null
	[ $((i % 2)) = 0 ] && sleep 0.7
	start_mamorid
done
wait "$GEN_PID" || it_fail "load generator failed: $(cat "$IT_TMP/gen.log")"
reports=$(tail -1 "$IT_TMP/gen.log")

db() { sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "$1"; }
# Quiet: all reports processed, outbox drained, subscriber caught up.
it_wait_for 60 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained: $(db 'SELECT count(*) FROM outbox') rows"
sleep 2
it_wait_for 60 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained at the end"
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$IT_TMP/mamorid.log")"
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
sleep 1

db "SELECT alert_id, seq, type, time FROM alert_event ORDER BY alert_id, seq" >"$IT_TMP/events.txt"
db "SELECT id, check_key, seq, status FROM alert" >"$IT_TMP/alerts.txt"
python3 tests/integration/alerts_reconcile.py "$SUB_LOG" "$IT_TMP/events.txt" "$IT_TMP/alerts.txt" \
	--copy cc-copy --min-events 50 --min-breaches 1 --label "kills $KILLS, reports $reports" \
	>"$IT_TMP/reconcile.txt" || it_fail "reconciliation failed (IT_KEEP=1 keeps the logs): $(cat "$IT_TMP/reconcile.txt")"
cat "$IT_TMP/reconcile.txt"
[ -z "${SOAK_REPORT:-}" ] || cp "$IT_TMP/reconcile.txt" "$SOAK_REPORT"
echo "PASS alerts_kill9"
