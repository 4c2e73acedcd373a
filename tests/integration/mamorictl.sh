#!/bin/sh
# mamorictl through the store's read API, next to a running mamorid and
# after it stopped: `status` (format, filters, -p, PENDING), `alerts`
# (format, newest first, filters, --limit over several pages), `alert ID`
# (the alert and its history; an unknown id), and its refusals (no
# database, bad --limit / --status, usage).  mamorictl never writes: the
# database file and its schema version are unchanged by it.  Besides the
# daemon's own alerts, alert rows with known times are written with
# sqlite3; times are printed in the local time zone, UTC here.  Text from
# agents and plugins (a check's output with an ESC sequence, an alert's
# note with a newline) is printed escaped, Japanese text unchanged, and
# mamorid's log shows it escaped too.
. tests/integration/lib.sh

[ -x "$MAMORID" ] && [ -x "$MAMORICTL" ] || it_skip "mamorid/mamorictl not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "$PLUGIN_DIR/dummy.so not built"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
export TZ=UTC
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
ctl() { "$MAMORICTL" -d "$IT_STATE_DIR" "$@"; }
db() { sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "$1"; }
expect() { # name file: compare with the expected text on stdin
	cat >"$IT_TMP/want"
	cmp -s "$IT_TMP/want" "$2" || {
		diff -u "$IT_TMP/want" "$2" >&2
		it_fail "$1"
	}
}

# ---- refusals that need no database ----
ctl status >"$IT_TMP/out" 2>"$IT_TMP/err"
[ $? -eq 1 ] || it_fail "status without a database did not exit 1"
grep -q "no database at $IT_STATE_DIR/mamori.db" "$IT_TMP/err" || it_fail "no database: $(cat "$IT_TMP/err")"
[ ! -e "$IT_STATE_DIR/mamori.db" ] || it_fail "mamorictl created a database"
for args in "" "bogus" "alert" "status --limit 3" "alerts -p" "alert A-1 --center x"; do
	# shellcheck disable=SC2086
	ctl $args >/dev/null 2>&1
	[ $? -eq 2 ] || it_fail "mamorictl $args: not a usage error"
done
ctl alerts --limit 0 2>"$IT_TMP/err"
[ $? -eq 2 ] && grep -q "limit must be a positive number" "$IT_TMP/err" || it_fail "--limit 0: $(cat "$IT_TMP/err")"
ctl alerts --status closed 2>"$IT_TMP/err"
[ $? -eq 2 ] && grep -q "status must be open, acknowledged, resolved or unresolved, not 'closed'" "$IT_TMP/err" ||
	it_fail "--status closed: $(cat "$IT_TMP/err")"

# ---- a running daemon with three checks ----
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; flush_interval = "50ms"; };
customers = (
  { id = "c1"; assets = ( { name = "pc1"; checks = (
      { plugin = "dummy"; name = "crit"; state = 2; output = "it broke"; max_attempts = 1; interval = "1s"; },
      { plugin = "dummy"; name = "fine"; state = 0; output = "all good"; max_attempts = 1; interval = "1s"; } ); } ); },
  { id = "c2"; assets = ( { name = "utm"; checks = (
      { plugin = "dummy"; name = "warn"; state = 1; output = "a bit off"; max_attempts = 1; interval = "1s"; } ); } ); },
  { id = "c4"; assets = ( { name = "pc"; checks = (
      { plugin = "dummy"; name = "evil"; state = 0; max_attempts = 1; interval = "1s";
        output = "evil \x1b[2J\x1b]0;owned\x07\xc2\x9b31m 監視 end"; } ); } ); } );
EOF
ESC=$(printf '\033')
it_mamorid "$IT_TMP/mamori.conf"
it_wait_state 20 c2 utm warn "1|1|1|a bit off" || it_fail "checks did not run"
it_wait_state 20 c1 pc1 fine "0|1|1|all good" || it_fail "checks did not run"
it_wait_state 20 c1 pc1 crit "2|1|1|it broke" || it_fail "checks did not run"
it_wait_state 20 c4 pc evil "0|1|1|evil" || it_fail "checks did not run"

ctl status >"$IT_TMP/out" || it_fail "status failed"
expect "status" "$IT_TMP/out" <<'EOF'
CRITICAL HARD c1/pc1/crit: it broke
WARNING  HARD c2/utm/warn: a bit off
OK       HARD c1/pc1/fine: all good
OK       HARD c4/pc/evil: evil \x1b[2J\x1b]0;owned\x07\u009b31m 監視 end
EOF
grep -q "$ESC" "$IT_TMP/out" && it_fail "status printed a raw ESC"
grep -q "$ESC" "$IT_TMP/mamorid.log" && it_fail "mamorid logged a raw ESC"
grep 'c4/pc/evil' "$IT_TMP/mamorid.log" | grep -qF ': evil \x1b[2J\x1b]0;owned\x07\u009b31m 監視 end' ||
	it_fail "mamorid's log line: $(grep c4/pc/evil "$IT_TMP/mamorid.log")"
ctl -p status c1 >"$IT_TMP/out"
expect "status -p c1" "$IT_TMP/out" <<'EOF'
CRITICAL HARD c1/pc1/crit: it broke
EOF
ctl status c2/utm >"$IT_TMP/out"
expect "status c2/utm" "$IT_TMP/out" <<'EOF'
WARNING  HARD c2/utm/warn: a bit off
EOF
ctl status nobody >"$IT_TMP/out"
expect "status nobody" "$IT_TMP/out" <<'EOF'
no checks match
EOF
# the daemon opened alerts of its own for the two problems (no route:
# no center); they and their history are there
it_wait_for 10 sh -c "\"$MAMORICTL\" -d '$IT_STATE_DIR' alerts --customer c1 | grep -q 'c1/pc1/crit'" ||
	it_fail "the daemon's alert is not listed: $(ctl alerts 2>&1)"
ctl alerts --customer c1 --status open >"$IT_TMP/out"
grep -Eq '^A-[^ ]+ +open +CRITICAL c1/pc1/crit +- +[0-9-]+ [0-9:]+ it broke$' "$IT_TMP/out" ||
	it_fail "the daemon's alert: $(cat "$IT_TMP/out")"
id=$(cut -d' ' -f1 "$IT_TMP/out")
ctl alert "$id" >"$IT_TMP/out" || it_fail "alert $id failed"
grep -Eq '^ +1  [0-9-]+ [0-9:]+  opened +mamori$' "$IT_TMP/out" || it_fail "alert $id: $(cat "$IT_TMP/out")"

# ---- alerts with known times, written behind the daemon's back ----
db "INSERT INTO alert (id, check_key, customer, asset, check_name, service, center, also, state,
      summary, status, seq, count, opened_at, updated_at, acked_at, acked_by, resolved_at) VALUES
 ('A-n1-01', 'c5/pc1/crit', 'c5', 'pc1', 'crit', 'defender', 'cc-east', NULL, 2, 'it broke',
  'acknowledged', 3, 2, 1700000000, 1700000300, 1700000200, 'Sato', NULL),
 ('A-n1-02', 'c6/utm/warn', 'c6', 'utm', 'warn', 'utm', 'cc-west', '[\"cc-east\"]', 1, 'a bit off',
  'open', 1, 1, 1700003600, 1700003600, NULL, NULL, NULL),
 ('A-n1-00', 'c5/pc1/fine', 'c5', 'pc1', 'fine', 'defender', 'cc-east', NULL, 0, 'was broken',
  'resolved', 2, 1, 1699990000, 1699990500, NULL, NULL, 1699990500),
 ('A-n1-03', 'c7/pc' || char(27) || '[8m/x', 'c7', 'pc' || char(27) || '[8m', 'x', 'defender',
  'cc-south', NULL, 2, '脅威を検出: ' || char(27) || ']0;owned' || char(7), 'open', 2, 1,
  1700000000, 1700000000, NULL, NULL, NULL);
INSERT INTO alert_event (alert_id, seq, type, time, actor, note, payload) VALUES
 ('A-n1-01', 2, 'acknowledged', 1700000200, 'Sato', 'on my way', '{}'),
 ('A-n1-01', 1, 'opened', 1700000000, 'mamori', NULL, '{}'),
 ('A-n1-01', 3, 'dispatched', 1700000300, 'Sato', NULL, '{}'),
 ('A-n1-03', 1, 'opened', 1700000000, 'mamori', NULL, '{}'),
 ('A-n1-03', 2, 'acknowledged', 1700000100, 'Sato' || char(27) || '[2J',
  'on my way' || char(10) || '     3  2023-11-14 22:18:20  resolved       forged', '{}');
INSERT INTO dispatch (alert_id, seq, time, actor, vendor, planned_at, result) VALUES
 ('A-n1-01', 3, 1700000300, 'Sato', 'Vendor K.K.', 1700086400, NULL);
INSERT INTO deadline (alert_id, tier, tier_name, acked, ack_due, resolve_due, breaches) VALUES
 ('A-n1-01', 1, 'back-office', 1, 1700000900, 1700014400, 0);" || it_fail "sqlite3 insert"
ctl alerts --customer c5 >"$IT_TMP/out" || it_fail "alerts failed"
expect "alerts" "$IT_TMP/out" <<'EOF'
A-n1-01                  acknowledged CRITICAL c5/pc1/crit                      cc-east      2023-11-14 22:13:20 it broke
A-n1-00                  resolved     OK       c5/pc1/fine                      cc-east      2023-11-14 19:26:40 was broken
EOF
ctl alerts --customer c6 >"$IT_TMP/out"
expect "alerts --customer c6" "$IT_TMP/out" <<'EOF'
A-n1-02                  open         WARNING  c6/utm/warn                      cc-west      2023-11-14 23:13:20 a bit off
EOF
ctl alerts --center cc-east --status unresolved | cut -d' ' -f1 >"$IT_TMP/out"
expect "alerts --center cc-east --status unresolved (a copy counts)" "$IT_TMP/out" <<'EOF'
A-n1-02
A-n1-01
EOF
ctl alerts --customer c5 --limit 1 >"$IT_TMP/out" 2>"$IT_TMP/err"
[ "$(cut -d' ' -f1 "$IT_TMP/out")" = "A-n1-01" ] || it_fail "--customer c5 --limit 1: $(cat "$IT_TMP/out")"
grep -q "more alerts than --limit 1" "$IT_TMP/err" || it_fail "no note about more alerts"
ctl alerts --customer nobody >"$IT_TMP/out"
expect "alerts --customer nobody" "$IT_TMP/out" <<'EOF'
no alerts match
EOF

ctl alert A-n1-01 >"$IT_TMP/out" || it_fail "alert failed"
expect "alert A-n1-01" "$IT_TMP/out" <<'EOF'
alert     A-n1-01
status    acknowledged (acknowledged by Sato, 2023-11-14 22:16:40)
check     c5/pc1/crit
service   defender
severity  CRITICAL
center    cc-east
opened    2023-11-14 22:13:20
updated   2023-11-14 22:18:20
count     2
summary   it broke
sla       tier back-office (1), ack due (acknowledged), resolve due 2023-11-15 02:13:20, 0 breaches
events:
     1  2023-11-14 22:13:20  opened         mamori
     2  2023-11-14 22:16:40  acknowledged   Sato: on my way
     3  2023-11-14 22:18:20  dispatched     Sato
dispatches:
     3  2023-11-14 22:18:20  Sato: vendor Vendor K.K., planned 2023-11-15 22:13:20, result -
EOF
ctl alerts --customer c7 >"$IT_TMP/out"
expect "alerts --customer c7 (escaped)" "$IT_TMP/out" <<'EOF'
A-n1-03                  open         CRITICAL c7/pc\x1b[8m/x                   cc-south     2023-11-14 22:13:20 脅威を検出: \x1b]0;owned\x07
EOF
ctl alert A-n1-03 >"$IT_TMP/out"
grep -q "$ESC" "$IT_TMP/out" && it_fail "alert printed a raw ESC"
grep -qF 'check     c7/pc\x1b[8m/x' "$IT_TMP/out" || it_fail "alert A-n1-03 check: $(cat "$IT_TMP/out")"
grep -qF 'summary   脅威を検出: \x1b]0;owned\x07' "$IT_TMP/out" || it_fail "alert A-n1-03 summary: $(cat "$IT_TMP/out")"
grep -qF '  acknowledged   Sato\x1b[2J: on my way\n     3  2023-11-14 22:18:20  resolved       forged' "$IT_TMP/out" ||
	it_fail "alert A-n1-03 note: $(cat "$IT_TMP/out")"
[ "$(grep -c resolved "$IT_TMP/out")" -eq 1 ] || it_fail "a note forged a line: $(cat "$IT_TMP/out")"
ctl alert A-n1-00 | grep -q "^resolved  2023-11-14 19:35:00$" || it_fail "resolved alert: $(ctl alert A-n1-00)"
ctl alert A-nope >"$IT_TMP/out" 2>"$IT_TMP/err"
[ $? -eq 1 ] && grep -q "no alert A-nope" "$IT_TMP/err" && [ ! -s "$IT_TMP/out" ] ||
	it_fail "unknown alert: $(cat "$IT_TMP/err")"

# ---- more than a page: 1500 more alerts, read in pages of 1000 ----
db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
 INSERT INTO alert (id, check_key, customer, asset, check_name, state, status, seq, opened_at,
   updated_at) SELECT printf('A-bulk-%04d', i), 'c3/a/x', 'c3', 'a', 'x', 2, 'open', 1,
   1600000000 + i / 3, 1 FROM n" || it_fail "bulk insert"
n=$(ctl alerts --customer c3 --limit 1200 2>/dev/null | wc -l)
[ "$n" -eq 1200 ] || it_fail "--limit 1200 printed $n lines"
ctl alerts --customer c3 --limit 5000 >"$IT_TMP/out" 2>"$IT_TMP/err"
[ "$(wc -l <"$IT_TMP/out")" -eq 1500 ] && [ "$(sort -u "$IT_TMP/out" | wc -l)" -eq 1500 ] ||
	it_fail "--limit 5000: $(wc -l <"$IT_TMP/out") lines, $(sort -u "$IT_TMP/out" | wc -l) distinct"
[ ! -s "$IT_TMP/err" ] || it_fail "--limit 5000 complained: $(cat "$IT_TMP/err")"
[ "$(head -n 1 "$IT_TMP/out" | cut -d' ' -f1)" = "A-bulk-1500" ] &&
	[ "$(tail -n 1 "$IT_TMP/out" | cut -d' ' -f1)" = "A-bulk-0001" ] || it_fail "not newest first"

# ---- after the daemon stopped: same answers, nothing written ----
kill -TERM "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || it_fail "mamorid did not stop"
sum=$(cksum <"$IT_STATE_DIR/mamori.db")
ver=$(db "PRAGMA user_version")
ctl status >"$IT_TMP/out" || it_fail "status after stop"
[ "$(wc -l <"$IT_TMP/out")" -eq 4 ] || it_fail "status after stop: $(cat "$IT_TMP/out")"
ctl alerts --limit 2000 >/dev/null || it_fail "alerts after stop"
ctl alert A-n1-01 >/dev/null || it_fail "alert after stop"
[ "$(cksum <"$IT_STATE_DIR/mamori.db")" = "$sum" ] || it_fail "mamorictl changed the database"
[ "$(db "PRAGMA user_version")" = "$ver" ] || it_fail "schema version changed"

# ---- a database from a newer mamori is refused, untouched ----
db "PRAGMA user_version = 99"
sum=$(cksum <"$IT_STATE_DIR/mamori.db")
ctl status >/dev/null 2>"$IT_TMP/err"
[ $? -eq 1 ] && grep -q "schema version 99, written by a newer mamori" "$IT_TMP/err" ||
	it_fail "newer schema: $(cat "$IT_TMP/err")"
[ "$(cksum <"$IT_STATE_DIR/mamori.db")" = "$sum" ] || it_fail "mamorictl changed a newer database"
exit 0
