#!/bin/sh
# it: serial
# broker_restart: the broker killed and restarted under load loses no alert
# event and stalls no check.
#
# A REAL mosquitto (persistent, so a subscriber's session survives it), a
# QoS 1 subscriber with a persistent session logging every alert message,
# mamorid with two centers (one gets copies) and short SLA deadlines, a
# load of BR_HOSTS PCs whose Defender reports flip (fed through
# mosquitto_pub processes that are restarted when the broker drops them),
# and an exec'd check every second (timeout 2 s) that writes the time of
# each run.  Under that load the broker is killed three times: SIGKILL
# (down 2.5 s), SIGTERM (down 2 s), SIGKILL (down 1 s), each time
# restarted on the same port and persistence file.  Then:
#   - every alert_event row in the database reached the subscriber, on both
#     centers, each alert's events seq 1..n in order, nothing opened twice,
#     nothing unknown received (alerts_reconcile.py); the outbox is empty;
#   - alert events were made while the broker was down (they waited in the
#     outbox) and after the last restart (agents' reports flow again);
#   - the exec'd check never went longer than interval + timeout (3 s)
#     between two runs: the broker's absence does not hold the loop.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require sqlite3
[ -f "$PLUGIN_DIR/exec.so" ] || it_skip "exec plugin not built"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
HOSTS=${BR_HOSTS:-12}
RATE=${BR_RATE:-150}
V=tests/fixtures/defender

port=$(it_free_port)
mkdir -p "$IT_TMP/mosq"
# Persistent: the subscriber's session and queue survive a restart; saved
# after every change, so a SIGKILL loses at most what was in flight
# (`user root`: a broker started as root keeps the rights to its
# persistence directory, which is the test's).
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 0\npersistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\nuser root\n' \
	"$port" "$IT_TMP/mosq" >"$IT_TMP/mosq.conf"
start_broker() {
	"$MOSQUITTO" -c "$IT_TMP/mosq.conf" >>"$IT_TMP/mosquitto.log" 2>&1 &
	MOSQ_PID=$!
	IT_PIDS="$IT_PIDS $MOSQ_PID"
	it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x || it_fail "broker did not start"
}
start_broker

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
printf '#!/bin/sh\ndate +%%s.%%N >>"%s/ticks"\necho tick\n' "$IT_TMP" >"$IT_TMP/tick.sh"
chmod 755 "$IT_TMP/tick.sh"
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "info"; node = "br"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-br"; topic_prefix = "mamori";
         connect_timeout = 2.0; reconnect_min = 0.2; reconnect_max = 1.0; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always"; reannounce = "2s";
              tiers = ( { name = "t1"; ack_within = "1s"; resolve_within = "3s"; },
                        { name = "t2"; ack_within = "2s"; resolve_within = "4s"; } ); },
            { name = "cc-copy"; calendar = "always";
              tiers = ( { name = "info"; ack_within = "1h"; } ); } );
routes = ( { center = "cc-east"; continue = true; }, { center = "cc-copy"; } );
customers = (
  { id = "c0001"; name = "Broker restart";
    agents = { defender = { auto_register = true; stale_after = "1h"; flap_detection = false; }; };
    assets = ( { name = "srv"; checks = (
      { plugin = "exec"; name = "tick"; interval = "1s"; timeout = "2s"; max_attempts = 1;
        command = "$IT_TMP/tick.sh"; } ); } ); } );
EOC
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"

SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i br-subscriber -F '%t %p' -t 'mamori/v1/alerts/#'
SUB_PID=$IT_LAST_PID
sleep 0.5
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online

# The agents: one mosquitto_pub -l per PC, started again when the broker
# drops it (a real agent reconnects too).
cat >"$IT_TMP/gen.py" <<'PY'
import json, random, subprocess, sys, time
port, hosts, rate, fixtures, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
off = json.dumps(json.load(open(fixtures + "/realtime-off.json")))
ok = json.dumps(json.load(open(fixtures + "/healthy.json")))
rnd = random.Random(int(sys.argv[6]))
def spawn(i):
    return subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-l",
                             "-t", "mamori/v1/agents/c0001/PC-%02d/defender" % i],
                            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
def send(i, line):
    for _ in range(200):
        if pubs[i].poll() is None:
            try:
                pubs[i].stdin.write(line + "\n")
                return 1
            except (BrokenPipeError, OSError):
                pass
        time.sleep(0.05)
        pubs[i] = spawn(i)
    return 0
pubs = [spawn(i) for i in range(hosts)]
period = [0 if i % 3 == 0 else rnd.uniform(0.5, 4) for i in range(hosts)]
bad = [rnd.random() < 0.5 for i in range(hosts)]
flip = [time.time() + p for p in period]
end, step, n, sent = time.time() + seconds, 1.0 / rate, 0, 0
while time.time() < end:
    i = n % hosts
    n += 1
    if period[i] == 0 or time.time() >= flip[i]:
        bad[i] = not bad[i]
        flip[i] = time.time() + period[i]
    sent += send(i, off if bad[i] else ok)
    time.sleep(step)
for i in range(hosts):
    send(i, ok)  # end healthy: every alert resolves
time.sleep(1)
for p in pubs:
    try:
        p.stdin.close()
    except OSError:
        pass
    p.wait()
print(sent)
PY
it_bg gen python3 "$IT_TMP/gen.py" "$port" "$HOSTS" "$RATE" "$V" 24 "${BR_SEED:-$$}"
GEN_PID=$IT_LAST_PID

db() { sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "$1"; }
outage() { # signal seconds-down
	kill -"$1" "$MOSQ_PID" || it_fail "the broker was not running"
	wait "$MOSQ_PID" 2>/dev/null
	_t0=$(date +%s.%N)
	sleep "$2"
	echo "$_t0 $(date +%s.%N)" >>"$IT_TMP/outages"
	start_broker
}
sleep 4
outage KILL 2.5
sleep 4
outage TERM 2
sleep 4
outage KILL 1
LAST_UP=$(date +%s.%N)
wait "$GEN_PID" || it_fail "load generator failed: $(cat "$IT_TMP/gen.log")"
reports=$(tail -1 "$IT_TMP/gen.log")
kill -0 "$SUB_PID" || it_fail "the subscriber died: $(tail -3 "$IT_TMP/sub.log")"

it_wait_for 60 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained: $(db 'SELECT count(*) FROM outbox') rows"
sleep 2
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$IT_TMP/mamorid.log")"
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
sleep 1

db "SELECT alert_id, seq, type, time FROM alert_event ORDER BY alert_id, seq" >"$IT_TMP/events.txt"
db "SELECT id, check_key, seq, status FROM alert" >"$IT_TMP/alerts.txt"
python3 tests/integration/alerts_reconcile.py "$SUB_LOG" "$IT_TMP/events.txt" "$IT_TMP/alerts.txt" \
	--copy cc-copy --min-events 50 --min-breaches 1 --label "broker outages 3, reports $reports" \
	>"$IT_TMP/reconcile.txt" || it_fail "reconciliation failed (IT_KEEP=1 keeps the logs): $(cat "$IT_TMP/reconcile.txt")"
cat "$IT_TMP/reconcile.txt"

# Events made while the broker was down, and after it came back for good;
# the exec'd check's runs.
python3 - "$IT_TMP/events.txt" "$IT_TMP/outages" "$LAST_UP" "$IT_TMP/ticks" <<'PY' || it_fail "see above"
import sys
events, outages, last_up, ticks = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
times = [float(l.rstrip("\n").split("|")[3]) for l in open(events)]
downs = [tuple(map(float, l.split())) for l in open(outages)]
during = sum(1 for t in times if any(a <= t <= b for a, b in downs))
after = sum(1 for t in times if t > last_up + 1)
ts = [float(l) for l in open(ticks)]
gaps = [b - a for a, b in zip(ts, ts[1:])]
worst = max(gaps)
print("events while the broker was down %d, after the last restart %d; check runs %d, longest gap %.2f s"
      % (during, after, len(ts), worst))
fail = 0
if during == 0:
    print("no alert event was made while the broker was down"); fail = 1
if after == 0:
    print("no alert event after the last restart: the agents' reports do not flow"); fail = 1
if worst > 3.0:
    print("the exec'd check went %.2f s without a run (interval 1 s + timeout 2 s)" % worst); fail = 1
if len(ts) < 20:
    print("only %d check runs" % len(ts)); fail = 1
sys.exit(fail)
PY
echo "PASS broker_restart"
