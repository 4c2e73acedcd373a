#!/usr/bin/env python3
# Reconcile what an MQTT subscriber received on the alert topics with the
# alert tables of mamorid's database (used by alerts_kill9.sh,
# broker_restart.sh, disk_full.sh and `make soak`; not a test itself).
#
#   alerts_reconcile.py SUB_LOG EVENTS ALERTS [--copy CENTER] [--min-events N]
#                       [--min-breaches N] [--label TEXT]
#
# SUB_LOG: one message a line, "TOPIC PAYLOAD" or "TIME TOPIC PAYLOAD"
# (mosquitto_sub -F '%t %p' or '%U %t %p').  EVENTS: "alert_id|seq|type|time"
# rows of alert_event; ALERTS: "id|check_key|seq|status" rows of alert.
# Messages on a topic containing /CENTER/ (--copy) are counted apart: that
# center gets a copy of every event too.
#
# Fails (exit 1), printing why, on: an event in the database never received
# (lost), on either center; a message for an event the database does not
# hold; an alert whose events are not seq 1..n or whose alert.seq is not n;
# an alert whose events first arrived out of seq order; two unresolved
# alerts of one check at once (opened twice).  Duplicates (an event
# received more than once: QoS 1 is at least once) are counted, not failed.
# The last line is the report: "lost L, duplicated D, out of order O,
# opened twice T, ...".
import argparse, json, sys
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("sub")
ap.add_argument("events")
ap.add_argument("alerts")
ap.add_argument("--copy", default=None)
ap.add_argument("--min-events", type=int, default=0)
ap.add_argument("--min-breaches", type=int, default=0)
ap.add_argument("--label", default="")
a = ap.parse_args()

rx = {"main": defaultdict(int), "copy": defaultdict(int)}
first_order = {"main": defaultdict(list), "copy": defaultdict(list)}
msgs = 0
for line in open(a.sub, errors="replace"):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) >= 2 and "/" not in parts[0] and len(parts) == 3:
        topic, payload = parts[1], parts[2]
    else:
        topic, _, payload = line.rstrip("\n").partition(" ")
    if "/alerts/" not in topic:
        continue
    try:
        d = json.loads(payload)
    except ValueError:
        print("unparsable message on", topic)
        sys.exit(1)
    msgs += 1
    side = "copy" if a.copy and ("/%s/" % a.copy) in topic else "main"
    k = (d["id"], d["seq"])
    if rx[side][k] == 0:
        first_order[side][d["id"]].append(d["seq"])
    rx[side][k] += 1

db, by_alert = set(), defaultdict(list)
for line in open(a.events):
    aid, seq, typ, t = line.rstrip("\n").split("|")
    db.add((aid, int(seq)))
    by_alert[aid].append((int(seq), typ, float(t)))
info = {}
for line in open(a.alerts):
    aid, key, seq, status = line.rstrip("\n").split("|")
    info[aid] = (key, int(seq), status)

fail = 0
lost = db - set(rx["main"])
if lost:
    print("LOST: %d events never received, e.g. %s" % (len(lost), sorted(lost)[:5]))
    fail = 1
lost_copy = set()
if a.copy:
    lost_copy = db - set(rx["copy"])
    if lost_copy:
        print("LOST on center %s: %d events, e.g. %s" % (a.copy, len(lost_copy), sorted(lost_copy)[:5]))
        fail = 1
extra = (set(rx["main"]) | set(rx["copy"])) - db
if extra:
    print("received %d events the database does not hold, e.g. %s" % (len(extra), sorted(extra)[:5]))
    fail = 1
dups = sum(n - 1 for side in rx.values() for n in side.values() if n > 1)
holes = 0
for aid, evs in by_alert.items():
    seqs = sorted(s for s, _, _ in evs)
    if seqs != list(range(1, len(seqs) + 1)) or aid not in info or info[aid][1] != len(seqs):
        holes += 1
        if holes <= 5:
            print("alert %s: seqs %s.. alert.seq %s" % (aid, seqs[:10], info.get(aid, ("", "?"))[1]))
if holes:
    fail = 1
ooo = 0
for side in first_order.values():
    for aid, seqs in side.items():
        if seqs != sorted(seqs):
            ooo += 1
            if ooo <= 5:
                print("alert %s: events first arrived in the order %s" % (aid, seqs[:12]))
if ooo:
    fail = 1
# opened twice: per check, the alerts' lifetimes never overlap
per_check = defaultdict(list)
for aid, evs in by_alert.items():
    if aid in info:
        per_check[info[aid][0]].append(aid)
doubles = 0
for key, ids in per_check.items():
    timeline = sorted((t, seq, aid, typ) for aid in ids for seq, typ, t in by_alert[aid])
    active = None
    for t, seq, aid, typ in timeline:
        if typ == "opened":
            if active and active != aid:
                doubles += 1
                if doubles <= 5:
                    print("check %s: %s opened while %s was unresolved" % (key, aid, active))
            active = aid
        elif typ == "reopened":
            active = aid
        elif typ == "resolved" and active == aid:
            active = None
if doubles:
    fail = 1
types = defaultdict(int)
for evs in by_alert.values():
    for _, typ, _ in evs:
        types[typ] += 1
breaches = types["sla_breach"] + types["escalated"]
unresolved = sum(1 for v in info.values() if v[2] != "resolved")
if len(db) < a.min_events or breaches < a.min_breaches:
    print("too little happened to prove anything: %d events (want %d), %d breaches/escalations (want %d)"
          % (len(db), a.min_events, breaches, a.min_breaches))
    fail = 1
print("%slost %d, duplicated %d, out of order %d, opened twice %d, holes %d; alerts %d, events %d (%s), "
      "messages %d, unresolved at end %d"
      % (a.label + ": " if a.label else "", len(lost) + len(lost_copy), dups, ooo, doubles, holes, len(info),
         len(db), ", ".join("%s %d" % kv for kv in sorted(types.items())), msgs, unresolved))
sys.exit(fail)
