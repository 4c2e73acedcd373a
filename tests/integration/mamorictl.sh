#!/bin/sh
# mamorictl over the HTTP API of a real mamorid (listening on loopback TCP
# and a UNIX socket; the test runs as the daemon's user, so the socket
# makes it admin): every command, its table and its --json (the server's
# bytes unchanged), exit codes (2 usage, 3 unreachable, 4 not found, 1 a
# 409 for acking twice and a 401 over TCP without a token), paging across
# the API's 1,000-row pages, times in the local time zone (Asia/Tokyo
# here), Japanese output (LANG=ja_JP.UTF-8) with columns aligned in
# display width, a check output with ESC sequences printed escaped (no raw
# ESC anywhere in any output), a note that tries to forge a line, the
# token file's permission check, and a broken server (python on loopback:
# not JSON, 5xx, wrong types, an endless cursor, deep nesting, a redirect)
# that gets clear refusals and the bearer token, which is never printed.
# Users, tokens and the SLA summary are tested when the daemon has those
# routes; until then (404 for the route) that part is skipped with a
# message.
. tests/integration/lib.sh

[ -x "$MAMORID" ] && [ -x "$MAMORICTL" ] || it_skip "mamorid/mamorictl not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "$PLUGIN_DIR/dummy.so not built"
for t in curl python3 sqlite3; do
	command -v $t >/dev/null || it_skip "$t missing"
done

it_init
export TZ=Asia/Tokyo
unset LC_ALL LC_MESSAGES MAMORI_URL MAMORI_SOCKET MAMORI_TOKEN_FILE
export LANG=C.UTF-8
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
O=$IT_TMP/out
E=$IT_TMP/err
ESC=$(printf '\033')

# rc WANT ARGS...: mamorictl over the socket, stdout in $O, stderr in $E;
# fails unless it exits WANT; never a raw ESC in what it printed.
rc() {
	_want=$1
	shift
	"$MAMORICTL" "$@" >"$O" 2>"$E"
	_rc=$?
	if [ "$_rc" -ne "$_want" ]; then
		echo "--- stdout:" >&2
		cat "$O" >&2
		echo "--- stderr:" >&2
		cat "$E" >&2
		it_fail "mamorictl $*: exit $_rc, expected $_want"
	fi
	! grep -q "$ESC" "$O" "$E" || it_fail "mamorictl $*: printed a raw ESC"
	[ -z "${SECRET:-}" ] || ! grep -qF "$SECRET" "$O" "$E" || it_fail "mamorictl $*: printed the token"
	# under ASan (B=build-asan) a report may come with the expected code
	! grep -q "Sanitizer\|runtime error:" "$E" || it_fail "mamorictl $*: $(cat "$E")"
}
ctl() { # WANT ARGS...
	_w=$1
	shift
	rc "$_w" --socket "$SOCK" "$@"
}
has() { # TEXT [FILE]
	grep -qF -- "$1" "${2:-$O}" || {
		cat "${2:-$O}" >&2
		it_fail "no '$1' in the $([ "${2:-$O}" = "$E" ] && echo stderr || echo stdout) above"
	}
}
hasnt() { # TEXT [FILE]
	! grep -qF -- "$1" "${2:-$O}" || {
		cat "${2:-$O}" >&2
		it_fail "'$1' in the output above"
	}
}
# py EXPR: EXPR over d, the JSON document in $O (or the list of them:
# one per line, for pages)
py() {
	python3 -c '
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = docs[0] if len(docs) == 1 else docs
print(eval(sys.argv[2]))' "$O" "$1"
}
# same SERVER-PATH: --json printed exactly what the server sends
same() {
	curl -s --unix-socket "$SOCK" "http://local$1" >"$IT_TMP/curl"
	[ "$(tail -c 1 "$IT_TMP/curl" | od -An -c | tr -d ' ')" = '\n' ] || printf '\n' >>"$IT_TMP/curl"
	cmp -s "$IT_TMP/curl" "$O" || {
		diff "$IT_TMP/curl" "$O" >&2
		it_fail "--json is not the server's JSON for $1"
	}
}
# aligned: every row's columns start at the header's display columns
# (fields are separated by two or more spaces; a kanji is two columns)
aligned() {
	python3 - "$O" <<'PY' || it_fail "columns not aligned: $(cat "$O")"
import re, sys, unicodedata
def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
def starts(line):
    return [0] + [width(line[:m.end()]) for m in re.finditer(r"  +", line)]
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
head = starts(lines[0])
for l in lines[1:]:
    s = starts(l)
    if s != head[:len(s)]:
        sys.exit("header %s, row %s: %r" % (head, s, l))
PY
}

# ---- usage errors (exit 2), before any server exists ----
for args in "" "bogus" "alert" "status extra" "alerts --status closed" "alerts --limit 0" \
	"alerts --limit x" "alerts -p" "comment A-1" "downtime" "downtime add c1 --comment x" \
	"downtime add c1 --end +1h" "user add bob" "user add bob --role king" \
	"alerts --center a --center b" "--timeout 0 status" "alert A-1 --note x" \
	"--url http://127.0.0.1:1 --socket /x status" "checks a b" "token" "--nope status"; do
	# shellcheck disable=SC2086
	rc 2 $args
	[ ! -s "$O" ] || it_fail "usage error '$args' printed on stdout"
done
rc 2 alerts --status closed
has "--status must be open, acknowledged, resolved or unresolved, not 'closed'" "$E"
rc 2 comment A-1
has "comment needs --note" "$E"
rc 2 --url ftp://example.org status
has "must start with http:// or https://" "$E"
rc 0 --help
has "Exit status: 0 done; 1 the server refused (4xx) or a failure; 2 usage; 3 cannot"
has "/run/mamori/api.sock"

# ---- nothing listening: exit 3 ----
rc 3 --socket "$IT_TMP/none.sock" status
has "cannot reach mamorid at $IT_TMP/none.sock" "$E"
rc 3 --url "http://127.0.0.1:$hport" alerts
MAMORI_SOCKET=$IT_TMP/none.sock rc 3 status
has "$IT_TMP/none.sock" "$E"
MAMORI_URL=http://127.0.0.1:$hport MAMORI_SOCKET=$IT_TMP/none.sock rc 3 status
has "http://127.0.0.1:$hport" "$E"

# ---- the token file: refused unless only its owner (and group) may read it ----
printf 'sekrit-t0ken-value\n' >"$IT_TMP/token"
chmod 0644 "$IT_TMP/token"
rc 1 --socket "$SOCK" --token-file "$IT_TMP/token" status
has "bad permissions 0644 on $IT_TMP/token: readable by others" "$E"
hasnt "sekrit" "$E"
MAMORI_TOKEN_FILE=$IT_TMP/token rc 1 --socket "$SOCK" status
has "bad permissions 0644" "$E"
printf 'two words\n' >"$IT_TMP/token2"
chmod 0600 "$IT_TMP/token2"
rc 1 --socket "$SOCK" --token-file "$IT_TMP/token2" status
has "not a token" "$E"
hasnt "two words" "$E"
rc 1 --socket "$SOCK" --token-file "$IT_TMP/missing" status
has "cannot read $IT_TMP/missing" "$E"

# ---- a broken or hostile server (python, on loopback): clear refusals ----
cat >"$IT_TMP/fake.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, code, body, extra=()):
        b = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        sys.stderr.write("GET %s auth=%s\n" % (self.path, self.headers.get("Authorization")))
        sys.stderr.flush()
        p = self.path
        if p == "/api/v1/status":
            return self.reply(200, "not json at all")
        if p == "/api/v1/me":
            return self.reply(500, json.dumps({"error": {"code": "internal", "message": "boom \x1b[2J\x1b]0;t\x07"}}))
        if p.startswith("/api/v1/alerts?"):
            return self.reply(200, '{"alerts": "nope", "next": null}')
        if p == "/api/v1/alerts/A-1":
            return self.reply(200, json.dumps({"alert": {"id": 7, "status": ["x"], "opened_at": 12,
                "summary": "\x1b[31mred\u009b"}, "events": {"a": 1}, "dispatches": None}))
        if p.startswith("/api/v1/checks?"):
            # a cursor that never ends
            return self.reply(200, json.dumps({"checks": [{"customer": "c", "asset": "a", "check": p[-6:],
                "state": "ok"}], "next": "again"}))
        if p == "/api/v1/downtimes":
            return self.reply(200, "[" * 100 + "]" * 100)
        if p == "/api/v1/sla":
            return self.reply(302, "", [("Location", "http://127.0.0.1:1/api/v1/sla")])
        self.reply(404, '{"error":{"code":"not_found","message":"no such resource"}}')
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
fport=$(it_free_port)
it_bg fake python3 "$IT_TMP/fake.py" "$fport"
it_wait_for 10 curl -s "http://127.0.0.1:$fport/x" || it_fail "the fake server did not start"
printf 'tok-%s-value\n' "$$" >"$IT_TMP/ftoken"
chmod 0600 "$IT_TMP/ftoken"
F="--url http://127.0.0.1:$fport --token-file $IT_TMP/ftoken"
SECRET=tok-$$-value
# shellcheck disable=SC2086
{
	rc 1 $F status
	has "the server's answer is not JSON" "$E"
	rc 3 $F whoami
	has 'boom \x1b[2J\x1b]0;t\x07 (HTTP 500 internal)' "$E"
	rc 1 $F alerts
	has "has no list 'alerts'" "$E"
	rc 0 $F alert A-1
	grep -Eq '^ID +-$' "$O" && grep -Eq '^opened +-$' "$O" || it_fail "wrong types: $(cat "$O")"
	has 'summary       \x1b[31mred\u009b'
	rc 0 $F checks --limit 3
	[ "$(wc -l <"$O")" -eq 4 ] || it_fail "an endless cursor: $(cat "$O")"
	has "more checks than --limit 3" "$E"
	rc 1 $F downtime list
	has "nested too deep" "$E"
	rc 1 $F sla
	has "HTTP 302" "$E"
}
SECRET=
grep -q "127.0.0.1:1" "$IT_TMP/fake.log" && it_fail "followed a redirect"
[ "$(grep -c "auth=Bearer tok-$$-value$" "$IT_TMP/fake.log")" -eq "$(grep -c '^GET /api/' "$IT_TMP/fake.log")" ] ||
	it_fail "the token was not sent on every request: $(cat "$IT_TMP/fake.log")"
[ "$(grep -c '^GET /api/v1/checks' "$IT_TMP/fake.log")" -eq 3 ] || it_fail "pages fetched: $(cat "$IT_TMP/fake.log")"
grep -q "after=again" "$IT_TMP/fake.log" || it_fail "the cursor was not followed"

# ---- a running daemon ----
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; flush_interval = "50ms"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; };
calendars = ( { name = "all-day"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "all-day";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c1"; assets = ( { name = "pc1"; checks = (
      { plugin = "dummy"; name = "crit"; state = 2; output = "it broke"; max_attempts = 1; interval = "1s";
        runbook = "Call the customer: 再起動を依頼"; },
      { plugin = "dummy"; name = "fine"; state = 0; output = "all good"; max_attempts = 1; interval = "1s"; },
      { plugin = "dummy"; name = "evil"; state = 1; max_attempts = 1; interval = "1s";
        output = "evil \x1b[2J\x1b]0;owned\x07\xc2\x9b31m 監視 end"; },
      { plugin = "dummy"; name = "slow"; delay = "1h"; timeout = "2h"; interval = "1h"; } ); } ); },
  { id = "c2"; assets = ( { name = "utm"; checks = (
      { plugin = "dummy"; name = "warn"; state = 1; output = "a bit off"; max_attempts = 1; interval = "1s"; } ); } ); } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/cc.log" 2>&1 || it_fail "config: $(cat "$IT_TMP/cc.log")"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 20 sh -c "\"$MAMORICTL\" --socket '$SOCK' --json alerts --status open |
	python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)[\"alerts\"]) != 3)'" ||
	it_fail "three alerts did not open: $("$MAMORICTL" --socket "$SOCK" alerts 2>&1)"

# ---- status, whoami ----
ctl 0 status
has "mamorid $(sed -n 's/.*MAMORI_VERSION "\(.*\)"/\1/p' buildcfg.h): ready (store ok, broker none)"
has "checks: 5 (ok 1, warning 2, critical 1, unknown 0, pending 1)"
has "unresolved alerts: 3"
grep -Eq '^cc-east +contact-center +3$' "$O" || it_fail "status by center: $(cat "$O")"
ctl 0 --json status
[ "$(py 'd["checks"]["pending"], d["alerts_unresolved"]')" = "(1, 3)" ] || it_fail "status --json: $(cat "$O")"
ctl 0 whoami
grep -Eq '^user +local$' "$O" && grep -Eq '^role +admin$' "$O" || it_fail "whoami: $(cat "$O")"
ctl 0 --json whoami
same /api/v1/me

# ---- checks: problems first, pending, escaped output ----
ctl 0 checks
grep -Eq '^STATE +TYPE +CHECK +SERVICE +LAST CHECK +FLAGS +OUTPUT$' "$O" || it_fail "checks header: $(cat "$O")"
[ "$(sed -n 2p "$O" | cut -c1-8)" = "CRITICAL" ] || it_fail "critical not first: $(cat "$O")"
[ "$(awk 'NR > 1 {print $1}' "$O" | tr '\n' ' ')" = "CRITICAL WARNING WARNING PENDING OK " ] ||
	it_fail "checks order: $(cat "$O")"
grep -Eq '^PENDING +- +c1/pc1/slow +other +- +- +\(no result yet\)$' "$O" || it_fail "pending: $(cat "$O")"
has 'evil \x1b[2J\x1b]0;owned\x07\u009b31m 監視 end'
aligned
ctl 0 checks c2
[ "$(awk 'NR > 1 {print $3}' "$O")" = "c2/utm/warn" ] || it_fail "checks c2: $(cat "$O")"
ctl 0 checks c1/pc1 --state critical
[ "$(wc -l <"$O")" -eq 2 ] && has "c1/pc1/crit"
ctl 0 checks -p
hasnt "c1/pc1/fine"
has "c1/pc1/crit"
ctl 0 checks --limit 2
[ "$(wc -l <"$O")" -eq 3 ] || it_fail "checks --limit 2: $(cat "$O")"
has "more checks than --limit 2" "$E"
ctl 0 --json checks
[ "$(py 'len(d["checks"])')" = 5 ] || it_fail "checks --json: $(cat "$O")"
[ "$(py '[c["output"] for c in d["checks"] if c["check"] == "evil"][0]')" = \
	"$(printf 'evil \033[2J\033]0;owned\007\302\23331m 監視 end')" ] || it_fail "the JSON's output"

# ---- alerts: table, filters, local times ----
ctl 0 alerts --status open
grep -Eq '^ID +STATUS +SEVERITY +CHECK +CENTER +OPENED +DUE +SUMMARY$' "$O" || it_fail "alerts header: $(cat "$O")"
[ "$(wc -l <"$O")" -eq 4 ] || it_fail "alerts: $(cat "$O")"
has 'c1/pc1/evil  cc-east'
has 'evil \x1b[2J\x1b]0;owned\x07\u009b31m 監視 end'
aligned
ctl 0 --json alerts --status open --severity critical
[ "$(py 'len(d["alerts"])')" = 1 ] || it_fail "--severity critical: $(cat "$O")"
id=$(py 'd["alerts"][0]["id"]')
opened=$(py 'd["alerts"][0]["opened_at"]')
due=$(py 'd["alerts"][0]["ack_due"]')
tokyo() { # RFC 3339 UTC -> local time in Tokyo, as mamorictl prints it
	python3 -c '
import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ")
print((t + datetime.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S"))' "$1"
}
ctl 0 alerts --status open --severity critical
grep -Eq "^$id +open +CRITICAL +c1/pc1/crit +cc-east +$(tokyo "$opened") +$(tokyo "$due") +it broke\$" "$O" ||
	it_fail "alert row (times in Asia/Tokyo: $(tokyo "$opened")): $(cat "$O")"
ctl 0 alerts --customer c2
[ "$(awk 'NR > 1 {print $4}' "$O")" = "c2/utm/warn" ] || it_fail "--customer c2: $(cat "$O")"
ctl 0 alerts --customer nobody
has "no alerts match"
ctl 0 alerts --due-before +20m --status open
[ "$(wc -l <"$O")" -eq 4 ] || it_fail "--due-before +20m: $(cat "$O")"
ctl 0 alerts --due-before +5m --status open
has "no alerts match"

# ---- one alert ----
ctl 0 alert "$id"
grep -Eq "^ID +$id\$" "$O" && grep -Eq '^status +open$' "$O" && grep -Eq '^check +c1/pc1/crit$' "$O" &&
	grep -Eq "^opened +$(tokyo "$opened")\$" "$O" && grep -Eq '^ +1 +[0-9-]+ [0-9:]+ +opened +mamori$' "$O" ||
	it_fail "alert $id: $(cat "$O")"
ctl 4 alert A-nope
has "no such alert (HTTP 404 not_found)" "$E"
[ ! -s "$O" ] || it_fail "a 404 printed on stdout"
ctl 4 --json alert A-nope
[ "$(py 'd["error"]["code"]')" = not_found ] || it_fail "--json 404: $(cat "$O")"

# ---- actions ----
ctl 0 ack "$id" --note "on my way"
[ "$(cat "$O")" = "ack $id: done" ] || it_fail "ack: $(cat "$O")"
ctl 1 ack "$id"
has "cannot ack: alert is acknowledged (HTTP 409 conflict)" "$E"
ctl 1 --json ack "$id"
[ "$(py 'd["error"]["code"]')" = conflict ] || it_fail "--json 409: $(cat "$O")"
ctl 4 ack A-nope
ctl 0 unack "$id"
ctl 0 ack "$id" --request-id r-1
hasnt "repeated"
ctl 0 ack "$id" --request-id r-1
has "(repeated: this request id was done before)"
ctl 0 --json unack "$id"
[ "$(py 'd["result"], d["alert"], d["repeated"]')" = "('ok', '$id', False)" ] || it_fail "unack --json: $(cat "$O")"
ctl 0 comment "$id" --note "電話しました"
ctl 0 dispatch "$id" --vendor "Vendor K.K." --planned-at "+1d" --note "parts ordered"
ctl 0 wait "$id" --note "customer away"
ctl 0 alert "$id"
has "runbook       Call the customer: 再起動を依頼"
has "paused        waiting for the customer"
ctl 0 escalate "$id"
ctl 1 escalate "$id"
has "HTTP 409 last_tier" "$E"
forge=$(printf 'line one\n   99  2030-01-01 00:00:00  resolved  forged\033[2J')
ctl 0 comment "$id" --note "$forge"
ctl 0 alert "$id"
has "tier          back-office"
has "電話しました"
grep -Eq '^ +[0-9]+ +[0-9-]+ [0-9:]+ +dispatched +local +parts ordered$' "$O" || it_fail "dispatched: $(cat "$O")"
grep -Eq '^ +[0-9]+ +[0-9-]+ [0-9:]+ +local +Vendor K.K. +[0-9-]+ [0-9:]+ +-$' "$O" || it_fail "dispatches: $(cat "$O")"
has 'line one\n   99  2030-01-01 00:00:00  resolved  forged\x1b[2J'
[ "$(grep -c forged "$O")" -eq 1 ] && ! grep -q '^ *99 ' "$O" || it_fail "a note forged a line: $(cat "$O")"
ctl 0 resolve "$id" --note "fixed"
ctl 0 alert "$id"
grep -Eq '^status +resolved$' "$O" || it_fail "not resolved: $(cat "$O")"
ctl 0 --json alert "$id"
same "/api/v1/alerts/$id"
ctl 1 ack "$id"

# ---- downtimes ----
ctl 0 downtime list
has "no downtimes"
ctl 0 downtime add c2/utm/warn --end +2h --comment "保守 window"
dt=$(sed -n 's/^downtime \(D-[^:]*\): done$/\1/p' "$O")
[ -n "$dt" ] || it_fail "downtime add: $(cat "$O")"
ctl 0 downtime list
grep -Eq "^$dt +c2/utm/warn +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +yes +runtime +local +保守 window\$" "$O" ||
	it_fail "downtime list: $(cat "$O")"
ctl 0 --json downtime list
same /api/v1/downtimes
ctl 0 downtime list --customer c1
has "no downtimes"
ctl 1 downtime add c1 --start +2h --end +1h --comment x
has "(HTTP 422 invalid)" "$E"
ctl 2 downtime add c1 --end tomorrow --comment x
has "--end: 'tomorrow' is not a time" "$E"
ctl 2 downtime add c1//x --end +1h --comment x
ctl 0 downtime del "$dt"
ctl 4 downtime del "$dt"
ctl 0 downtime list
has "no downtimes"

# ---- Japanese ----
LANG=ja_JP.UTF-8 ctl 0 alerts --status unresolved
has "重大度"
has "概要"
has "未対応"
aligned
LANG=ja_JP.UTF-8 ctl 0 checks
has "最終チェック"
aligned
LANG=ja_JP.UTF-8 ctl 0 status
has "チェック: 5 件"
LANG=ja_JP.UTF-8 ctl 2 alerts --limit 0
has "使い方は --help で" "$E"
LANG=ja_JP.UTF-8 LC_ALL=C ctl 0 alerts --status unresolved
has "SEVERITY"
LANG=C LC_MESSAGES=ja_JP.UTF-8 ctl 0 alerts --status unresolved
has "重大度"

# ---- over TCP: no token, no entry ----
rc 1 --url "http://127.0.0.1:$hport/" alerts
has "(HTTP 401 unauthenticated)" "$E"
has "give a token (--token-file)" "$E"

# ---- more than a page: 1,500 resolved alerts of c3 from the store ----
sqlite3 -cmd '.timeout 5000' "$IT_STATE_DIR/mamori.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
 SELECT i + 1 FROM n WHERE i < 1500) INSERT INTO alert (id, check_key, customer, asset, check_name,
 state, status, seq, opened_at, updated_at, resolved_at) SELECT printf('A-bulk-%04d', i), 'c3/a/x',
 'c3', 'a', 'x', 2, 'resolved', 1, 1600000000 + i, 1600000000 + i, 1600000000 + i FROM n" ||
	it_fail "sqlite3 insert"
ctl 0 alerts --customer c3 --limit 1200
[ "$(wc -l <"$O")" -eq 1201 ] || it_fail "--limit 1200: $(wc -l <"$O") lines"
has "more alerts than --limit 1200" "$E"
ctl 0 alerts --customer c3 --limit 5000
[ "$(awk 'NR > 1 {print $1}' "$O" | sort -u | wc -l)" -eq 1500 ] || it_fail "--limit 5000: $(wc -l <"$O") lines"
[ "$(sed -n 2p "$O" | cut -d' ' -f1)" = A-bulk-1500 ] && [ "$(tail -n 1 "$O" | cut -d' ' -f1)" = A-bulk-0001 ] ||
	it_fail "not newest first"
[ ! -s "$E" ] || it_fail "--limit 5000 complained: $(cat "$E")"
ctl 0 alerts --customer c3
[ "$(wc -l <"$O")" -eq 51 ] || it_fail "the default limit is not 50"
ctl 0 --json alerts --customer c3 --limit 1500
[ "$(py '[len(p["alerts"]) for p in d]')" = "[1000, 500]" ] || it_fail "--json pages: $(head -c 300 "$O")"
[ "$(py 'd[1]["next"] is None or d[1]["next"]')" != "" ] || it_fail "pages"
[ "$(py 'len(set(a["id"] for p in d for a in p["alerts"]))')" = 1500 ] || it_fail "a page repeated rows"

# ---- users, tokens, SLA: when the daemon has them (404 for the route until then) ----
# These routes are being built next to this client: the parts below are
# written against the documented shapes (POST /api/v1/users, /tokens ->
# {"id","token"}, GET /api/v1/sla -> {"rows"}) and were run only against a
# stand-in server; they need checking once the real routes exist.
"$MAMORICTL" --socket "$SOCK" user list >"$O" 2>"$E"
if [ $? -eq 4 ] && grep -q "no such resource" "$E"; then
	echo "SKIP $IT_NAME (part): mamorid has no /api/v1/users yet - user and token commands untested" >&2
else
	ctl 0 user list
	printf 'pw-for-alice-1\n' | ctl 0 user add alice --role operator --center cc-east
	has "user alice: done"
	ctl 0 user list
	grep -Eq '^alice +operator +cc-east ' "$O" || it_fail "user list: $(cat "$O")"
	hasnt "pw-for-alice"
	ctl 0 --json user list
	same /api/v1/users
	hasnt "pw-for-alice"
	printf 'pw-for-alice-2\n' | ctl 0 user passwd alice
	printf '' | ctl 1 user add bob --role viewer --customer c1
	has "no password given" "$E"
	ctl 1 token create ci --role viewer --customer c1
	has "names the user" "$E"
	ctl 0 token create ci --user alice --role viewer --customer c1 --out "$IT_TMP/ci.token"
	[ "$(stat -c %a "$IT_TMP/ci.token")" = 600 ] || it_fail "token file mode $(stat -c %a "$IT_TMP/ci.token")"
	tok=$(cat "$IT_TMP/ci.token")
	[ -n "$tok" ] || it_fail "no token written"
	hasnt "$tok"
	# a file in the way: refused before a token is made
	ctl 1 token create ci2 --user alice --out "$IT_TMP/ci.token"
	[ "$(cat "$IT_TMP/ci.token")" = "$tok" ] || it_fail "--out replaced a file"
	T="--url http://127.0.0.1:$hport --token-file $IT_TMP/ci.token"
	# shellcheck disable=SC2086
	rc 0 $T whoami
	grep -Eq '^role +viewer$' "$O" || it_fail "token whoami: $(cat "$O")"
	hasnt "$tok"
	# shellcheck disable=SC2086
	rc 0 $T alerts --status unresolved
	hasnt "c2/utm/warn"
	has "c1/pc1/evil"
	evil=$(awk '/c1\/pc1\/evil/ {print $1}' "$O")
	# shellcheck disable=SC2086
	rc 1 $T ack "$evil"
	has "(HTTP 403" "$E"
	hasnt "$tok" "$E"
	ctl 0 --json token list
	same /api/v1/tokens
	cid=$(py '[t["id"] for t in d["tokens"] if t.get("label") == "ci"][0]')
	ctl 0 token list
	grep -Eq "^$cid +ci " "$O" || it_fail "token list: $(cat "$O")"
	hasnt "$tok"
	ctl 0 token create once --user alice
	[ "$(wc -l <"$O")" -eq 1 ] && [ -s "$O" ] || it_fail "the new token on stdout: $(cat "$O")"
	has "shown only this once" "$E"
	ctl 0 token revoke "$cid"
	ctl 0 token revoke "$cid" # again: revoked is revoked (idempotent)
	# shellcheck disable=SC2086
	rc 1 $T whoami
	has "(HTTP 401" "$E"
	ctl 0 user del alice
	ctl 4 user del alice
fi
"$MAMORICTL" --socket "$SOCK" sla >"$O" 2>"$E"
if [ $? -eq 4 ] && grep -q "no such resource" "$E"; then
	echo "SKIP $IT_NAME (part): mamorid has no /api/v1/sla yet - sla untested" >&2
else
	ctl 0 sla
	grep -Eq '^CENTER +CUSTOMER +OPEN +DUE <1H +BREACHED +ACKED +MEDIAN ACK$' "$O" || it_fail "sla: $(cat "$O")"
	grep -Eq '^cc-east +c1 +' "$O" || it_fail "sla rows: $(cat "$O")"
	ctl 0 --json sla --center cc-east
	same "/api/v1/sla?center=cc-east"
fi

# ---- the daemon gone: 3 again ----
# a manual inquiry: a call becomes an alert
ctl 0 inquiry c1 --summary "phoned: the printer is offline" --caller "Sato (front desk)" --channel phone
has "done"
iid=$(grep -o 'A-[A-Za-z0-9-]*' "$O" | head -1)
[ -n "$iid" ] || it_fail "no alert id from inquiry: $(cat "$O")"
sleep 1.5
ctl 0 --json alert "$iid"
grep -q '"inquiry":true' "$O" || it_fail "inquiry not marked: $(head -c 300 "$O")"
grep -q 'phone, caller: Sato (front desk)' "$O" || it_fail "caller not in the history: $(head -c 600 "$O")"
ctl 2 inquiry c1
ctl 1 inquiry c1 --summary x --channel pigeon
kill -TERM "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || it_fail "mamorid did not stop"
ctl 3 status
! grep -q "Sanitizer\|runtime error:" "$IT_TMP/mamorid.log" || it_fail "mamorid: $(grep -A5 Sanitizer "$IT_TMP/mamorid.log")"
exit 0
