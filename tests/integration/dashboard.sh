#!/bin/sh
# it: serial
# dashboard: the browser dashboard in a real browser (Debian's chromium,
# headless, driven by playwright-core from tests/browser, pinned in its
# package-lock.json) against a real mamorid, a real mosquitto and the
# agent simulator:
#   - the static files: types, ETag/304, CSP and the other headers, no
#     directory listing, no path traversal (curl --path-as-is), HEAD;
#   - log in through the form; a customer turns red within 2 s of the
#     simulator turning Defender off on one of its PCs; the alert's ack
#     countdown ticks; acknowledge it from the queue (the ack countdown
#     stops); the alert page's history says who acknowledged;
#   - live updates survive a lost connection: a proxy between the browser
#     and mamorid drops it, a banner shows, an alert is resolved meanwhile,
#     and after the reconnect (with Last-Event-ID) the queue shows it
#     without a reload;
#   - a viewer of customer A sees only A, and B's alert and customer pages
#     say "not found";
#   - a customer name and a check output holding HTML render as text (no
#     script runs, no element is made from them);
#   - a manual inquiry opened from the queue, a downtime added and ended;
#   - screenshots (overview, queue, alert page, customer page; English and
#     Japanese) in $DASHBOARD_OUT (default build/test-output/dashboard).
# The 5,000-customer performance test is tests/integration/dashboard_perf.sh.
# Skips (77) when chromium, node/npm or playwright-core are missing
# (contrib/quickstart.sh test installs them: chromium fonts-noto-cjk nodejs
# npm, then npm ci in tests/browser).
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"
[ -f "$PLUGIN_DIR/defender.so" ] || it_skip "defender.so not built"
AGENTSIM=${AGENTSIM:-$B/tools/mamori-agentsim}
[ -x "$AGENTSIM" ] || it_skip "$AGENTSIM not built"
command -v curl >/dev/null || it_skip "curl missing"
CHROMIUM=${CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}
[ -x "$CHROMIUM" ] || it_skip "chromium missing (Debian package chromium)"
command -v node >/dev/null || it_skip "node missing (Debian package nodejs)"
if [ ! -d tests/browser/node_modules/playwright-core ]; then
	command -v npm >/dev/null || it_skip "npm missing (Debian package npm)"
	(cd tests/browser && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
		it_skip "npm ci in tests/browser failed (no registry?)"
fi
OUT=${DASHBOARD_OUT:-$B/test-output/dashboard}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

it_init
it_mosquitto
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
# a copy of the data dir: the test adds a hidden file and a symlink to www
DATA=$IT_TMP/share
cp -R share/mamori "$DATA"
WWW=$DATA/www
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
cat >"$IT_TMP/m.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "$DATA";
           log_level = "info"; node = "h1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-dash"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; };
auth = { kdf_memory = 8; kdf_time_cost = 1; };
# a raw sample every second: the last hour's chart has points however fast the test runs
history = { raw_min_interval = "1s"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "Tanaka <script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> 製作所";
    region = "aichi";
    agents = { defender = { auto_register = true; stale_after = "15m";
               runbook = "Defender off: call the customer <b>today</b> and ask them to turn real-time protection on"; }; };
    assets = ( { name = "web"; checks = ( { plugin = "dummy"; name = "site"; service = "web"; interval = "2s";
                 output = "200 OK <b>bold</b><script>window.__xss=3</script>"; } ); } ); },
  { id = "c0002"; name = "Suzuki Dental"; region = "gifu";
    assets = ( { name = "reception-pc"; checks = ( { plugin = "dummy"; name = "backup"; interval = "1s";
                 max_attempts = 1; state = 2; output = "last backup 9 days ago";
                 runbook = "https://wiki.example.net/runbooks/backup?id=1&lang=ja"; } ); } ); },
  { id = "c0003"; name = "加藤会計事務所"; region = "mie";
    assets = ( { name = "mail-relay"; checks = ( { plugin = "dummy"; name = "queue"; service = "mail"; interval = "1s";
                 max_attempts = 1; state = 1; output = "mail queue 230 messages";
                 perf = "latency=0.62s;5;10;0 queue=230;500;1000;0";
                 runbook = "<script>window.__xss=4</script> Check the relay's queue, then call the customer"; } ); } ); } );
CONF
"$MAMORID" -c "$IT_TMP/m.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/m.conf"
it_wait_online
it_wait_for 10 test -S "$SOCK" || it_fail "no API socket"

api() { # METHOD PATH [JSON] -> body; status in $IT_TMP/status
	curl -s -o "$IT_TMP/body" -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://local$2" >"$IT_TMP/status"
	cat "$IT_TMP/body"
}
api POST /api/v1/users '{"name":"op1","role":"operator","centers":["cc-east"],"password":"op1-password-long"}' >/dev/null
[ "$(cat "$IT_TMP/status")" = 201 ] || it_fail "cannot create op1: $(cat "$IT_TMP/body")"
api POST /api/v1/users '{"name":"viewer-a","role":"viewer","customer":"c0001","password":"viewer-password-long"}' >/dev/null
[ "$(cat "$IT_TMP/status")" = 201 ] || it_fail "cannot create viewer-a: $(cat "$IT_TMP/body")"

# ---- the static files, over TCP without a login ----
base=http://127.0.0.1:$hport
hdr() { curl -s -o /dev/null -D - --path-as-is "$@" | tr -d '\r'; }
code() { curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@"; }
h=$(hdr "$base/")
echo "$h" | grep -q '^HTTP/1.1 200' || it_fail "GET / is not 200: $h"
echo "$h" | grep -qi '^content-type: text/html; charset=utf-8' || it_fail "/ is not text/html: $h"
echo "$h" | grep -qi "^content-security-policy: default-src 'self'; script-src 'self'; style-src 'self'" ||
	it_fail "/ has no strict CSP: $h"
for x in 'x-content-type-options: nosniff' 'x-frame-options: DENY' 'referrer-policy: no-referrer' \
	'cache-control: no-cache' 'etag: W/"' 'last-modified: '; do
	echo "$h" | grep -qi "^$x" || it_fail "/ lacks '$x': $h"
done
etag=$(echo "$h" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ "$(code -H "If-None-Match: $etag" "$base/")" = 304 ] || it_fail "If-None-Match $etag: not 304"
[ "$(code -H 'If-None-Match: W/"other"' "$base/")" = 200 ] || it_fail "another ETag: not 200"
lm=$(echo "$h" | sed -n 's/^[Ll]ast-[Mm]odified: //p')
[ "$(code -H "If-Modified-Since: $lm" "$base/")" = 304 ] || it_fail "If-Modified-Since: not 304"
hdr "$base/ui/app.js" | grep -qi '^content-type: text/javascript; charset=utf-8' || it_fail "app.js type"
hdr "$base/ui/js/overview.js" | grep -qi '^content-type: text/javascript' || it_fail "js/overview.js type"
hdr "$base/ui/i18n/ja.json" | grep -qi '^content-type: application/json' || it_fail "i18n/ja.json type"
hdr "$base/ui/app.css" | grep -qi '^content-type: text/css' || it_fail "app.css type"
hdr -I "$base/ui/app.js" | grep -qi "^content-length: $(wc -c <share/mamori/www/app.js)" || it_fail "HEAD length"
curl -s "$base/ui/app.js" | cmp -s - share/mamori/www/app.js || it_fail "app.js bytes differ"
# traversal, hidden files, listings, unknown types, deeper paths: all 404
printf 'secret\n' >"$WWW/.hidden-test.txt"
for p in /ui/../../../etc/passwd /ui/..%2f..%2fetc%2fpasswd /ui/%2e%2e/%2e%2e/etc/passwd \
	/ui/js/../../../../etc/passwd /ui/js/..%2f..%2f..%2fetc%2fpasswd /ui/..%2fwww%2fapp.js \
	/ui/.hidden-test.txt /ui/js /ui/js/ /ui/i18n /ui/ /ui/x/y/z.js /ui/nope.js /ui/index.html.bak \
	/ui/%00.js /etc/passwd /index.html /ui/js/%2e%2e /ui/%2e; do
	c=$(code "$base$p")
	case "$c" in
	404 | 400) ;;
	*) it_fail "GET $p: $c, want 404" ;;
	esac
done
# MHD decodes %00 and the path ends there: "app.js%00.css" is app.js, as JavaScript
hdr "$base/ui/app.js%00.css" | grep -qi '^content-type: text/css' && it_fail "app.js%00.css served as CSS"
curl -s --path-as-is "$base/ui/../../../etc/passwd" | grep -q 'root:' && it_fail "traversal served /etc/passwd"
[ "$(code -X POST "$base/ui/app.js")" = 405 ] || it_fail "POST /ui/app.js: not 405"
[ "$(code "$base/ui/app.js?v=1")" = 400 ] || it_fail "a query on a file: not 400"
# a symlink inside the www dir is not followed
ln -s /etc/passwd "$WWW/link-test.txt"
[ "$(code "$base/ui/link-test.txt")" = 404 ] || it_fail "a symlink was followed"
ln -s "$WWW/app.js" "$WWW/link-app.js"
[ "$(code "$base/ui/link-app.js")" = 404 ] || it_fail "a symlink inside www was followed"
mkdir "$WWW/sub.js"
[ "$(code "$base/ui/sub.js")" = 404 ] || it_fail "a directory named like a file was served"

# ---- in the browser ----
# the alert of c0002 (the viewer of c0001 must not see it)
it_wait_for 20 sh -c "curl -s --unix-socket '$SOCK' 'http://local/api/v1/alerts?customer=c0002' | grep -q '\"id\"'" ||
	it_fail "c0002's alert did not open"
b_alert=$(api GET '/api/v1/alerts?customer=c0002' | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts"][0]["id"])')
# one healthy PC for c0001 first (the simulator's agent 0 is c0001/PC-00001)
"$AGENTSIM" -p "$port" -c 1 -n 1 -k 1 -r 5 -N 3 >"$IT_TMP/sim0.log" 2>&1 || it_fail "simulator: $(cat "$IT_TMP/sim0.log")"
it_wait_for 10 sh -c "curl -s --unix-socket '$SOCK' 'http://local/api/v1/checks?customer=c0001&service=defender' | grep -q '\"state\":\"ok\"'" ||
	it_fail "c0001/PC-00001 not OK after the healthy reports"

MAMORI_URL=$base MAMORI_SOCK=$SOCK MAMORI_PORT=$hport MQTT_PORT=$port AGENTSIM=$AGENTSIM \
	CHROMIUM=$CHROMIUM OUT=$OUT B_ALERT=$b_alert \
	node tests/browser/dashboard.mjs >"$IT_TMP/browser.log" 2>&1
rc=$?
cat "$IT_TMP/browser.log"
[ $rc = 0 ] || it_fail "browser checks failed (above)"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS $IT_NAME (screenshots in $OUT)"
