#!/bin/sh
# it: serial
# dashboard_perf: the overview with 5,000 customers and their PCs (100,000
# by default, registered by the agent simulator) in headless Chromium:
#   - usable within 2 s of logging in (rows painted);
#   - 500 state changes per second for 30 s (PCs of 500 customers turning
#     Defender off and on, published over MQTT) cause no long task over
#     200 ms, measured with the browser's PerformanceObserver (longtask);
#   - the changes arrive (events counted by the page's live stream).
# Figures are printed and written to $DASHBOARD_OUT/perf.txt.
# DASH_PCS (default 100000), DASH_RATE (500), DASH_SECONDS (30) change the
# load.  Skips like dashboard.sh when the browser tools are missing.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/defender.so" ] || it_skip "defender.so not built"
AGENTSIM=${AGENTSIM:-$B/tools/mamori-agentsim}
[ -x "$AGENTSIM" ] || it_skip "$AGENTSIM not built"
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
NCUST=5000
NPCS=${DASH_PCS:-100000}
# a sanitizer build of mamorid registers PCs several times slower: fewer
# PCs there (the browser's figures do not depend on it)
if [ -z "${DASH_PCS:-}" ] && nm "$MAMORID" 2>/dev/null | grep -q __asan_init; then
	NPCS=20000
fi

it_init
it_mosquitto 'max_inflight_messages 2000' 'max_queued_messages 200000'
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
python3 - "$NCUST" >"$IT_TMP/customers.conf" <<'PY'
import sys
n = int(sys.argv[1])
regions = ["hokkaido", "tohoku", "kanto", "chubu", "aichi", "kansai", "chugoku", "shikoku", "kyushu", "okinawa"]
kinds = ["製作所", "歯科医院", "会計事務所", "商店", "Clinic", "Logistics", "工務店", "法律事務所"]
print("customers = (")
for i in range(1, n + 1):
    print('  { id = "c%04d"; name = "顧客%05d %s"; region = "%s"; agents = { defender = { auto_register = true; stale_after = "1h"; }; }; }%s'
          % (i, i, kinds[i % len(kinds)], regions[i % len(regions)], "," if i < n else ""))
print(");")
PY
cat >"$IT_TMP/m.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "$(pwd)/share/mamori";
           log_level = "notice"; node = "h1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-perf"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; };
auth = { kdf_memory = 8; kdf_time_cost = 1; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
CONF
cat "$IT_TMP/customers.conf" >>"$IT_TMP/m.conf"
it_mamorid "$IT_TMP/m.conf"
it_wait_online
it_wait_for 20 test -S "$SOCK" || it_fail "no API socket"
st=$(curl -s -o "$IT_TMP/user.json" -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	-d '{"name":"noc","role":"admin","password":"noc-password-long"}' http://local/api/v1/users)
[ "$st" = 201 ] || it_fail "cannot create the user: $st $(cat "$IT_TMP/user.json")"

# register the PCs (healthy), one report each
t0=$(date +%s)
"$AGENTSIM" -p "$port" -c "$NCUST" -n "$NPCS" -k 2 -r 0 -N "$NPCS" >"$IT_TMP/sim.log" 2>&1 || it_fail "simulator: $(cat "$IT_TMP/sim.log")"
checks() { curl -s --unix-socket "$SOCK" http://local/api/v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["checks"]["total"])'; }
it_wait_for 120 sh -c "[ \"\$(curl -s --unix-socket '$SOCK' http://local/api/v1/status | python3 -c 'import json,sys; c=json.load(sys.stdin)[\"checks\"]; print(c[\"total\"] - c[\"pending\"])')\" -ge $NPCS ]" ||
	it_fail "only $(checks) checks after registering $NPCS PCs"
echo "registered $NPCS PCs of $NCUST customers in $(($(date +%s) - t0)) s"

MAMORI_URL=http://127.0.0.1:$hport MQTT_PORT=$port CHROMIUM=$CHROMIUM OUT=$OUT NCUST=$NCUST NPCS=$NPCS \
	RATE=${DASH_RATE:-500} SECONDS_=${DASH_SECONDS:-30} FIXTURES=tests/fixtures/defender \
	node tests/browser/perf.mjs >"$IT_TMP/browser.log" 2>&1
rc=$?
cat "$IT_TMP/browser.log"
[ $rc = 0 ] || it_fail "browser checks failed (above)"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS $IT_NAME"
