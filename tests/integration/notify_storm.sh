#!/bin/sh
# it: serial
# notify_storm: storm control end to end with real agents through the
# broker.  mamori-agentsim plays Windows agents that report once and go
# silent (what a customer's UTM outage looks like from here: every PC
# behind it stops reporting); after stale_after each PC's Defender check
# goes stale and opens an alert.  The on-call technician is told by SMS
# (a JSON gateway) and a webhook, both recorded by a local HTTPS server.
#   outage  300 PCs of one customer silent at once: ONE SMS and ONE webhook
#           message for all 300 alerts (notify.hold gathers the burst).
#   storm   2,000 PCs of four customers going silent over ~10 s (a fresh
#           mamorid): every alert becomes items, but the technician gets a
#           few bundles, the SMS within the per-hour cap (the overflow
#           waits for the hour: it is summarised in the next SMS); the CPU
#           mamorid spent per alert is printed.
. tests/integration/lib.sh
. tests/integration/mailserver.sh

SIM=$B/tools/mamori-agentsim
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -x "$SIM" ] || it_skip "$SIM not built"
for p in sms webhook defender; do
	[ -f "$PLUGIN_DIR/$p.so" ] || it_skip "$PLUGIN_DIR/$p.so not built"
done
command -v python3 >/dev/null || it_skip "python3 missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v openssl >/dev/null || it_skip "openssl missing"

it_init
it_mosquitto "max_queued_messages 0"
mkdir -p "$IT_TMP/tls"
ms_certs "$IT_TMP/tls" || it_fail "openssl"
CA=$IT_TMP/tls/ca.pem
hport=$(it_free_port)
LOG=$IT_TMP/requests.jsonl
: >"$IT_TMP/plan"
it_bg recorder python3 tests/integration/httprecorder.py "$hport" "$IT_TMP/tls/cert.pem" \
	"$IT_TMP/tls/key.pem" "$LOG" "$IT_TMP/plan"
it_wait_for 10 curl -s --cacert "$CA" -X POST -d x "https://127.0.0.1:$hport/ping" || it_fail "recorder"
: >"$LOG"
printf 'gw-token\n' >"$IT_TMP/gw.token"
chmod 600 "$IT_TMP/gw.token"
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)

# conf STATE-DIR CUSTOMERS... -> $IT_TMP/mamori.conf
conf() {
	_st=$1
	shift
	{
		cat <<EOF
daemon = { state_dir = "$_st"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "info"; node = "it"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-storm"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = "24x7"; } );
centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc"; } );
notify = {
  channels = (
    { name = "gw"; plugin = "sms"; template = "json"; from = "MAMORI"; url = "https://127.0.0.1:$hport/sms";
      secret_file = "$IT_TMP/gw.token"; ca_file = "$CA"; },
    { name = "hook"; plugin = "webhook"; template = "json"; url = "https://127.0.0.1:$hport/hook"; ca_file = "$CA"; } );
  hold = "5s"; bundle_window = "10s"; sms_per_hour = 1; repeat = "0"; link_base = "https://mmr.jp";
};
contacts = ( { name = "tanaka"; phone = "+819011112222"; channels = ( { channel = "gw"; } ); },
             { name = "noc-room"; channels = ( { channel = "hook"; } ); } );
oncall = ( { center = "cc"; layers = ( { members = "tanaka"; } ); overrides = (
               { contact = "tanaka"; from = "2000-01-01 00:00"; until = "2100-01-01 00:00"; },
               { contact = "noc-room"; from = "2000-01-01 00:00"; until = "2100-01-01 00:00"; } ); } );
customers = (
EOF
		_sep=
		for c in "$@"; do
			printf '%s  { id = "%s"; name = "Storm %s"; agents = { defender = { auto_register = true; stale_after = "4s"; max_attempts = 1; }; }; }\n' \
				"$_sep" "$c" "$c"
			_sep=,
		done
		echo ');'
	} >"$IT_TMP/mamori.conf"
}
req() { python3 tests/integration/reqcheck.py "$LOG" "$@"; }
db() { sqlite3 -cmd '.timeout 5000' "$1/mamori.db" "$2"; }
alerts_of() { db "$1" "SELECT count(*) FROM alert WHERE status <> 'resolved'"; }
sum_counts() { # PATH-PREFIX: the items of every webhook message
	python3 - "$LOG" "$1" <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"].startswith(sys.argv[2]) and r["status"] < 300:
        n += json.loads(r["body"])["count"]
print(n)
PY
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ---- the outage: 300 PCs of one customer go silent ----
S1=$IT_TMP/state1
mkdir -p "$S1"
conf "$S1" c0001
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online
"$SIM" -p "$port" -c 1 -n 300 -N 300 -r 0 -d 30 --silent 100 >"$IT_TMP/sim1.log" 2>&1 || it_fail "simulator"
it_wait_for 30 sh -c "[ \$(sqlite3 -cmd '.timeout 5000' '$S1/mamori.db' \"SELECT count(*) FROM alert\") -ge 300 ]" ||
	it_fail "the 300 silent PCs did not open 300 alerts: $(alerts_of "$S1")"
it_wait_for 30 sh -c "[ \$(python3 tests/integration/reqcheck.py '$LOG' count /hook) -ge 1 ]" || it_fail "no webhook"
sleep 6
[ "$(req count /hook)" -eq 1 ] || it_fail "the outage paged the room $(req count /hook) times"
[ "$(req count /sms)" -eq 1 ] || it_fail "the outage sent $(req count /sms) SMS"
[ "$(req last /hook json:count)" = 300 ] || it_fail "the webhook message covers $(req last /hook json:count) alerts"
case "$(req last /sms json:text)" in "[mamori]300件"*) ;; *) it_fail "SMS: $(req last /sms json:text)" ;; esac
kill "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || it_fail "mamorid did not stop"
: >"$LOG"

# ---- the storm: 2,000 alerts within ~10 s ----
S2=$IT_TMP/state2
mkdir -p "$S2"
conf "$S2" c0001 c0002 c0003 c0004
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online
t0=$(cpu_ticks "$MAMORID_PID")
start=$(date +%s.%N)
"$SIM" -p "$port" -c 4 -n 2000 -N 2000 -r 200 -d 60 --silent 100 >"$IT_TMP/sim2.log" 2>&1 || it_fail "simulator"
it_wait_for 60 sh -c "[ \$(sqlite3 -cmd '.timeout 5000' '$S2/mamori.db' \"SELECT count(*) FROM alert\") -ge 2000 ]" ||
	it_fail "2,000 alerts were not opened: $(alerts_of "$S2")"
opened=$(date +%s.%N)
# every alert's items written; the bundles out (hold 5 s, window 10 s)
it_wait_for 60 sh -c "[ \$(python3 - '$LOG' /hook <<'PY'
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r['path'].startswith(sys.argv[2]) and r['status'] < 300:
        n += json.loads(r['body'])['count']
print(n)
PY
) -ge 2000 ]" || it_fail "the webhook messages cover $(sum_counts /hook) of 2,000 alerts"
t1=$(cpu_ticks "$MAMORID_PID")
[ "$(db "$S2" "SELECT count(*) FROM notify_item")" -eq 4000 ] ||
	it_fail "items: $(db "$S2" "SELECT count(*) FROM notify_item")"
hooks=$(req count /hook)
sms=$(req count /sms)
[ "$hooks" -le 4 ] || it_fail "the storm paged the room $hooks times"
[ "$sms" -eq 1 ] || it_fail "$sms SMS in an hour with sms_per_hour = 1"
waiting=$(db "$S2" "SELECT count(*) FROM notify_item WHERE channel = 'gw' AND status = 'pending'")
[ "$waiting" -gt 0 ] || it_fail "no SMS overflow waits for the next hour"
hz=$(getconf CLK_TCK)
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz }')
span=$(awk -v a="$start" -v b="$opened" 'BEGIN { printf "%.1f", b - a }')
per=$(awk -v c="$cpu" 'BEGIN { printf "%.0f", c * 1e6 / 2000 }')
echo "notify_storm: 2000 alerts opened in ${span} s; mamorid CPU ${cpu} s (${per} us per alert, agents' reports, staleness, alerts and notifications included); messages: ${hooks} webhook, ${sms} SMS (cap 1/h; ${waiting} SMS items wait for the hour)" >&2
grep -q 'err ' "$IT_TMP/mamorid.log" && it_fail "errors in the log: $(grep 'err ' "$IT_TMP/mamorid.log" | head -3)"
exit 0
