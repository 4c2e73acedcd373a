#!/bin/sh
# it: serial
# mqtt_slow_subscriber: a contact center that stops reading does not hurt
# mamorid, the broker or the other centers.
#
# The real mosquitto with the shipped settings (contrib/mosquitto:
# it_mosquitto_shipped), mamorid with 200 CRITICAL checks every second and
# SLA deadlines of 1 s announced again every second, so alert events flow
# to two centers (cc-east, and a copy of every event to cc-west) at a few
# hundred messages a second.  cc-east subscribes (QoS 1, persistent
# session, no keepalive) and then never reads its socket again
# (mqttraw.py stall).  Half-way, a publisher floods cc-east's topics with
# 1.25 times what the broker may hold for one client (max_queued_bytes
# plus max_inflight_messages messages of 64,000 bytes): what hours of
# alerts to a stalled center would come to.  Shown:
#   - mamorid's loop stays on time: the worst scheduling lag < 1 s;
#   - mamorid's own queues stay bounded: its outbox in memory and its
#     unacknowledged publishes (sampled every 0.5 s) stay small, its RSS
#     grows by less than 64 MB (more under ASan);
#   - the well-behaved center (cc-west, mosquitto_sub) receives every alert
#     event the database holds (up to 5 s before the end);
#   - the broker drops for the stalled client once its queue is full (its
#     log says so; without max_queued_bytes nothing would be dropped
#     before 200,000 messages) and its memory stays within the shipped
#     bounds: max_queued_bytes + max_inflight_messages x the message size
#     + 32 MB (measured: +258 MB for max_queued_bytes = 256 MiB; what was
#     flooded is 415 MB).
. tests/integration/lib.sh
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v curl >/dev/null || it_skip "curl missing"
it_init

C=${IT_SHIPPED_CONF:-contrib/mosquitto/mosquitto.conf}
setting() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$C"; }
QMSG=$(setting max_queued_messages)
QBYTES=$(setting max_queued_bytes)
INFL=$(setting max_inflight_messages)
SIZE_LIMIT=$(setting message_size_limit)
for v in QMSG QBYTES INFL SIZE_LIMIT; do
	eval "x=\$$v"
	[ -n "$x" ] && [ "$x" -gt 0 ] || it_fail "$C: $v is '$x': a stalled center's queue would be unbounded"
done
SIZE=64000
[ $SIZE -le "$SIZE_LIMIT" ] || it_fail "message_size_limit $SIZE_LIMIT < $SIZE"
# 1.25 x (what may be queued + in flight) for the stalled client
FLOOD=$(((QBYTES / SIZE + INFL) * 5 / 4))

IT_SHIPPED_ACL_EXTRA='user it-flood
topic write mamori/v1/alerts/cc-east/#'
it_mosquitto_shipped mamorid cc-east cc-west it-flood
MQ=tests/integration/mqttraw.py

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
(umask 077 && printf 'secret-mamorid\n' >"$IT_TMP/mamorid.password")
mport=$(it_free_port)
{
	cat <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "notice"; node = "slow"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid"; topic_prefix = "mamori";
         username = "mamorid"; password_file = "$IT_TMP/mamorid.password"; };
http = { metrics_listen = "127.0.0.1:$mport"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always"; reannounce = "1s";
              tiers = ( { name = "t1"; ack_within = "1s"; resolve_within = "2s"; } ); },
            { name = "cc-west"; calendar = "always"; tiers = ( { name = "copy"; ack_within = "1h"; } ); } );
routes = ( { center = "cc-east"; continue = true; }, { center = "cc-west"; } );
customers = (
CONF
	i=0
	while [ $i -lt 20 ]; do
		printf '  { id = "c%02d"; assets = ( ' $i
		j=0
		while [ $j -lt 10 ]; do
			printf '{ name = "h%d"; checks = ( { plugin = "dummy"; interval = "1s"; max_attempts = 1; state = 2; } ); }' $j
			[ $j -lt 9 ] && printf ', '
			j=$((j + 1))
		done
		printf ' ); }'
		[ $i -lt 19 ] && printf ','
		printf '\n'
		i=$((i + 1))
	done
	echo ");"
} >"$IT_TMP/m.conf"
"$MAMORID" -c "$IT_TMP/m.conf" --check-config >"$IT_TMP/check.log" 2>&1 || it_fail "config: $(cat "$IT_TMP/check.log")"

# the centers: cc-west reads everything, cc-east subscribes and stalls
SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i cc-west -u cc-west -P secret-cc-west \
	-t 'mamori/v1/alerts/cc-west/#' -F '%t %p'
SUB_PID=$IT_LAST_PID
it_bg stall python3 "$MQ" stall 127.0.0.1 "$port" cc-east secret-cc-east 'mamori/v1/alerts/cc-east/#'
STALL_PID=$IT_LAST_PID
it_wait_for 10 grep -q subscribed "$IT_TMP/stall.log" || it_fail "stalled subscriber: $(cat "$IT_TMP/stall.log")"
it_mamorid "$IT_TMP/m.conf"
it_wait_for 15 sh -c "grep -q 'mamori/v1/alerts/cc-west/' '$SUB_LOG'" || it_fail "no alert reached cc-west"

# sample mamorid and the broker every 0.5 s for 24 s; flood at 8 s
cat >"$IT_TMP/sampler.py" <<'PY'
import sys, time, urllib.request
mport, pid, mosq, dur = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def rss(p):
    for l in open("/proc/%s/status" % p):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
want = ("mamori_scheduling_lag_max_seconds", "mamori_outbox_messages", "mamori_mqtt_unacked",
        "mamori_outbox_acked_total", "mamori_mqtt_connected")
end = time.time() + dur
while time.time() < end:
    m = dict((k, 0.0) for k in want)
    try:
        for l in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5).read().decode().splitlines():
            f = l.split()
            if len(f) == 2 and f[0].split("{")[0] in m:
                m[f[0].split("{")[0]] += float(f[1])
    except OSError as e:
        print("metrics: %s" % e, file=sys.stderr)
    print("%.2f %s %d %d" % (time.time(), " ".join("%g" % m[k] for k in want), rss(pid), rss(mosq)), flush=True)
    time.sleep(0.5)
print("done", flush=True)
PY
it_bg sampler python3 "$IT_TMP/sampler.py" "$mport" "$MAMORID_PID" "$MOSQ_PID" 24
SAMPLER_PID=$IT_LAST_PID
sleep 8
python3 "$MQ" flood 127.0.0.1 "$port" it-flood secret-it-flood mamori/v1/alerts/cc-east/fill $FLOOD $SIZE \
	>"$IT_TMP/flood.out" 2>&1 || it_fail "flood: $(cat "$IT_TMP/flood.out")"
echo "flood: $FLOOD messages of $SIZE bytes to the stalled center: $(cat "$IT_TMP/flood.out")"
it_wait_for 40 grep -q '^done' "$IT_TMP/sampler.log" || it_fail "sampler: $(tail -3 "$IT_TMP/sampler.log")"
T_END=$(date +%s)
sleep 3
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$IT_TMP/mamorid.log")"
kill -0 "$STALL_PID" || it_fail "the broker closed the stalled subscriber: $(cat "$IT_TMP/stall.log")"
kill -0 "$SUB_PID" || it_fail "the good subscriber died: $(tail -3 "$SUB_LOG")"

# figures and bounds
rss_max_kb=$((64 * 1024))
it_asan && rss_max_kb=$((448 * 1024)) # its quarantine (256 MB) fills up
broker_max_kb=$(((QBYTES + INFL * SIZE) / 1024 + 32 * 1024))
python3 - "$IT_TMP/sampler.log" "$rss_max_kb" "$broker_max_kb" <<'PY' || it_fail "bounds (above)"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
rss_max, broker_max = int(sys.argv[2]), int(sys.argv[3])
if len(rows) < 20:
    sys.exit("only %d samples" % len(rows))
lag = max(float(r[1]) for r in rows)
outbox = max(float(r[2]) for r in rows)
unacked = max(float(r[3]) for r in rows)
acked = float(rows[-1][4]) - float(rows[0][4])
disconnected = sum(1 for r in rows if float(r[5]) < 1)
m0, m1 = int(rows[0][6]), max(int(r[6]) for r in rows)
b0, b1 = int(rows[0][7]), max(int(r[7]) for r in rows)
secs = float(rows[-1][0]) - float(rows[0][0])
print("mamorid: worst scheduling lag %.3f s; at most %d outbox messages in memory, %d publishes unacked; "
      "%d alert messages acknowledged by the broker in %.0f s; RSS %d -> at most %d kB (+%d MB)"
      % (lag, outbox, unacked, acked, secs, m0, m1, (m1 - m0) // 1024))
print("broker: RSS %d -> at most %d kB (+%d MB; bound %d MB)" % (b0, b1, (b1 - b0) // 1024, broker_max // 1024))
fail = []
if lag >= 1.0:
    fail.append("checks fell behind: worst lag %.3f s" % lag)
if outbox > 2000 or unacked > 2000:
    fail.append("mamorid's queues grew: outbox %d, unacked %d" % (outbox, unacked))
if disconnected:
    fail.append("mamorid lost the broker in %d samples" % disconnected)
if acked < 100 * secs:
    fail.append("only %d alert messages went out in %.0f s" % (acked, secs))
if m1 - m0 > rss_max:
    fail.append("mamorid's memory grew by %d MB" % ((m1 - m0) // 1024))
if b1 - b0 > broker_max:
    fail.append("the broker's memory grew by %d MB, beyond the shipped bounds" % ((b1 - b0) // 1024))
for f in fail:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if fail else 0)
PY
grep -q 'Outgoing messages are being dropped for client cc-east' "$IT_TMP/mosquitto.log" ||
	it_fail "the broker never dropped for the stalled center: its queue was not bounded"
grep 'being dropped' "$IT_TMP/mosquitto.log" | grep -v cc-east &&
	it_fail "the broker dropped messages for another client"

# cc-west received every alert event made until 5 s before the end
sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" \
	"SELECT alert_id, seq FROM alert_event WHERE time < $T_END - 5" >"$IT_TMP/events.txt"
python3 - "$SUB_LOG" "$IT_TMP/events.txt" <<'PY' || it_fail "cc-west missed events (above)"
import json, sys
got, n = set(), 0
for line in open(sys.argv[1], errors="replace"):
    topic, _, payload = line.rstrip("\n").partition(" ")
    d = json.loads(payload)
    got.add((d["id"], int(d["seq"])))
    n += 1
want = set()
for line in open(sys.argv[2]):
    a, s = line.rstrip("\n").split("|")
    want.add((a, int(s)))
lost = want - got
print("cc-west: %d messages, %d distinct events; the database: %d events; lost %d" % (n, len(got), len(want), len(lost)))
if len(want) < 1000:
    sys.exit("too few events to show anything: %d" % len(want))
if lost:
    sys.exit("lost %d, e.g. %s" % (len(lost), sorted(lost)[:5]))
PY
echo "PASS $IT_NAME"
