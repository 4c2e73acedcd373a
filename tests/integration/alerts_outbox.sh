#!/bin/sh
# alerts_outbox: the alert outbox stays bounded in memory and loses nothing
# while the broker is away (a REAL mosquitto, stopped with SIGSTOP).
#
# mamorid runs with alerts = { outbox_memory = 5; outbox_inflight = 2; }.
#   1. OUTBOX_PCS PCs report real-time protection off: as many alerts open,
#      each with a 2 s ack deadline on a 24x7 center with three tiers.
#   2. The broker is frozen (kill -STOP): no PUBACKs, nothing is delivered.
#      The deadlines keep firing (sla_breach, escalated): the messages pile
#      up in the outbox table while at most 5 stay in memory (log line).
#   3. mamorid is killed with SIGKILL while the broker is still frozen and
#      restarted: it loads at most 5 of the unsent rows (log line), the
#      rest waits in the table; more deadlines fire meanwhile.
#   4. The broker thaws (kill -CONT): the outbox drains to 0 through the
#      reloads; then healthy reports resolve every alert.
# Checks: every alert_event row in the database reached the subscriber,
# nothing it does not hold, each alert's events arrived (first copies) in
# seq order with seq 1..n, the memory bound held in both processes (log
# lines), nothing was dropped, and the reloads really happened.
. tests/integration/lib.sh
. tests/integration/alerts.lib
it_init
alerts_require sqlite3
V=tests/fixtures/defender
PCS=${OUTBOX_PCS:-40}
BOUND=5

# Unlimited queues: the subscriber must not lose QoS 1 messages.
it_mosquitto "max_inflight_messages 1000" "max_queued_messages 0"

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "ob1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-outbox"; topic_prefix = "mamori";
         connect_timeout = 2.0; reconnect_min = 0.2; reconnect_max = 1.0; };
alerts = { outbox_memory = $BOUND; outbox_inflight = 2; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "t1"; ack_within = "2s"; resolve_within = "1h"; },
                        { name = "t2"; ack_within = "2s"; resolve_within = "1h"; },
                        { name = "t3"; ack_within = "3s"; resolve_within = "1h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Outbox";
    agents = { defender = { auto_register = true; stale_after = "1h"; flap_detection = false; }; }; } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(head -3 "$IT_TMP/check.log")"
# the keys are checked: out of range is refused with file and line
sed 's/outbox_memory = 5;/outbox_memory = 0;/' "$IT_TMP/mamori.conf" >"$IT_TMP/bad.conf"
"$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/bad.log" 2>&1 &&
	it_fail "outbox_memory = 0 accepted"
grep -q "outbox_memory" "$IT_TMP/bad.log" || it_fail "no outbox_memory error: $(head -3 "$IT_TMP/bad.log")"

SUB_LOG=$IT_TMP/sub.log
it_bg sub mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i outbox-subscriber -F '%U %t %p' \
	-t 'mamori/v1/alerts/#'
sleep 0.5

LOG=$IT_TMP/mamorid.log
start_mamorid() {
	"$MAMORID" -f -c "$IT_TMP/mamori.conf" >>"$LOG" 2>&1 &
	MAMORID_PID=$!
	IT_PIDS="$IT_PIDS $MAMORID_PID"
}
db() { sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "$1"; }
outbox_rows() { db 'SELECT count(*) FROM outbox'; }

start_mamorid
it_wait_online

# 1. PCS alerts open
report_all() { # fixture
	python3 - "$port" "$PCS" "$V/$1" <<'PY'
import json, subprocess, sys
port, n, fixture = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = json.dumps(json.load(open(fixture)))
for i in range(n):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1",
                    "-t", "mamori/v1/agents/c0001/PC-%03d/defender" % i, "-m", body], check=True)
PY
}
report_all realtime-off.json || it_fail "cannot publish reports"
it_wait_for 20 sh -c "[ \"\$(. tests/integration/alerts.lib; SUB_LOG='$SUB_LOG' q event=opened count)\" -ge $PCS ]" ||
	it_fail "only $(q event=opened count) of $PCS alerts opened"

# 2. freeze the broker; deadlines keep firing into the outbox
kill -STOP "$MOSQ_PID" || it_fail "cannot stop the broker"
THAWED=0
thaw() { [ "$THAWED" = 1 ] || kill -CONT "$MOSQ_PID" 2>/dev/null; THAWED=1; }
trap 'thaw; it_cleanup' EXIT
it_wait_for 20 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" -ge $((PCS / 2)) ]" ||
	it_fail "the outbox did not fill while the broker was frozen: $(outbox_rows) rows"
grep -q "later ones wait in the table" "$LOG" || it_fail "no spill while the broker was frozen"
spill=$(sed -n 's/.*outbox: \([0-9]*\) messages in memory (outbox_memory); later ones.*/\1/p' "$LOG" | sort -n | tail -1)
[ "${spill:-99}" -le "$BOUND" ] || it_fail "spilled only at $spill messages in memory (bound $BOUND)"

# 3. kill -9 with a large unsent outbox, restart while still frozen
kill -9 "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
rows_at_kill=$(outbox_rows)
[ "$rows_at_kill" -gt "$BOUND" ] || it_fail "only $rows_at_kill unsent rows at the kill"
: >"$IT_TMP/mamorid.log.1"
cat "$LOG" >>"$IT_TMP/mamorid.log.1"
: >"$LOG"
start_mamorid
it_wait_for 15 grep -q "unsent messages" "$LOG" || it_fail "no restore line: $(tail -5 "$LOG")"
restored=$(sed -n 's/.*restored .*, \([0-9]*\) unsent messages.*/\1/p' "$LOG" | head -1)
[ "${restored:-99}" -le "$BOUND" ] || it_fail "restored $restored messages into memory (bound $BOUND)"
grep -q "more wait in the table" "$LOG" || it_fail "restore did not leave rows in the table: $(grep unsent "$LOG")"
sleep 3 # more deadlines fire into the table
rows_frozen=$(outbox_rows)

# 4. thaw: everything drains through the reloads
thaw
it_wait_for 90 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained after the thaw: $(outbox_rows) rows"
report_all healthy.json || it_fail "cannot publish reports"
it_wait_for 30 sh -c "[ \"\$(. tests/integration/alerts.lib; SUB_LOG='$SUB_LOG' q event=resolved count)\" -ge $PCS ]" ||
	it_fail "only $(q event=resolved count) of $PCS alerts resolved"
it_wait_for 30 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$IT_STATE_DIR/mamori.db' 'SELECT count(*) FROM outbox')\" = 0 ]" ||
	it_fail "outbox not drained at the end: $(outbox_rows) rows"
sleep 1
kill -0 "$MAMORID_PID" || it_fail "mamorid died: $(tail -5 "$LOG")"
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null

cat "$LOG" >>"$IT_TMP/mamorid.log.1"
grep -q "dropping it" "$IT_TMP/mamorid.log.1" && it_fail "messages were dropped: $(grep 'dropping it' "$IT_TMP/mamorid.log.1" | head -3)"
grep -q "backlog in the table drained" "$LOG" || it_fail "no reload happened: $(grep outbox "$LOG" | tail -5)"
peak=$(sed -n 's/.*at most \([0-9]*\) in memory (outbox_memory.*/\1/p' "$LOG" | sort -n | tail -1)
reloaded=$(sed -n 's/.*drained: \([0-9]*\) messages reloaded.*/\1/p' "$LOG" | sort -n | tail -1)
[ "${peak:-99}" -le "$BOUND" ] || it_fail "$peak messages in memory at once (bound $BOUND)"

db "SELECT alert_id, seq, type FROM alert_event ORDER BY alert_id, seq" >"$IT_TMP/events.txt"
python3 - "$SUB_LOG" "$IT_TMP/events.txt" <<'PY' || it_fail "reconciliation failed (IT_KEEP=1 keeps the logs)"
import json, sys
from collections import defaultdict
sub, events = sys.argv[1:3]
first, seen, msgs = defaultdict(list), set(), 0
for line in open(sub, errors="replace"):
    _, topic, payload = (line.rstrip("\n").split(" ", 2) + ["", ""])[:3]
    try:
        d = json.loads(payload)
    except ValueError:
        print("unparsable message on", topic); sys.exit(1)
    msgs += 1
    k = (d["id"], d["seq"])
    if k not in seen:
        seen.add(k)
        first[d["id"]].append(d["seq"])
db, types = set(), defaultdict(int)
for line in open(events):
    aid, seq, typ = line.rstrip("\n").split("|")
    db.add((aid, int(seq)))
    types[typ] += 1
fail = 0
if db - seen:
    print("LOST: %d events never received, e.g. %s" % (len(db - seen), sorted(db - seen)[:5])); fail = 1
if seen - db:
    print("received %d events the database does not hold" % len(seen - db)); fail = 1
for aid, seqs in first.items():
    if seqs != list(range(1, len(seqs) + 1)):
        print("alert %s: events arrived in the order %s" % (aid, seqs)); fail = 1
print("events %d (%s), messages received %d" % (len(db), ", ".join("%s %d" % kv for kv in sorted(types.items())), msgs))
sys.exit(fail)
PY
echo "outbox rows at kill -9: $rows_at_kill, while frozen after restart: $rows_frozen; restored into memory: $restored; reloaded $reloaded; peak in memory $peak (bound $BOUND)"
echo "PASS alerts_outbox"
