#!/bin/sh
# notify_http: the SMS and chat-webhook notifiers end to end.  A real
# mamorid pages technicians through a local HTTPS server that records
# every request (tests/integration/httprecorder.py) and stands in for
# Twilio, a JSON SMS gateway, and Slack, Microsoft Teams and Mattermost
# incoming webhooks.  Checked: each request as its template says (URL,
# auth, content type, fields; the Japanese SMS fits one UCS-2 segment and
# keeps the link), the gateway answering 500 then 200 (delivered once,
# the retry recorded, the same idempotency key), a 400 (given up, the
# alert's notify_failed event), and an SMS reply through the JSON
# gateway's signed inbound webhook acknowledging the alert (unsigned and
# forged ones refused), and a Twilio inbound SMS posted as a form exactly
# as Twilio sends it (signature checked over the decoded form; forged,
# changed, unsigned and garbage bodies refused); the notification
# metrics scraped from /metrics against the store's rows.
. tests/integration/lib.sh
. tests/integration/mailserver.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
for p in sms webhook; do
	[ -f "$PLUGIN_DIR/$p.so" ] || it_skip "$PLUGIN_DIR/$p.so not built"
done
command -v python3 >/dev/null || it_skip "python3 missing"
command -v openssl >/dev/null || it_skip "openssl missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/tls"
ms_certs "$IT_TMP/tls" || it_fail "openssl"
CA=$IT_TMP/tls/ca.pem
port=$(it_free_port)
mport=$(it_free_port)
while [ "$mport" = "$port" ]; do mport=$(it_free_port); done
LOG=$IT_TMP/requests.jsonl
PLAN=$IT_TMP/plan
: >"$PLAN"
it_bg recorder python3 tests/integration/httprecorder.py "$port" "$IT_TMP/tls/cert.pem" \
	"$IT_TMP/tls/key.pem" "$LOG" "$PLAN"
it_wait_for 10 curl -s --cacert "$CA" -X POST -d x "https://127.0.0.1:$port/ping" ||
	it_fail "the recorder did not start"
: >"$LOG"
secret() { printf '%s\n' "$2" >"$IT_TMP/$1" && chmod 600 "$IT_TMP/$1"; }
secret twilio.token "twilio-auth-token-123"
secret gw.token "gateway-bearer-456"
secret gw.inbound "gateway-inbound-key-789"
secret slack.url "https://127.0.0.1:$port/services/T000/B000/secretpart"
sock=$IT_TMP/api.sock
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "debug"; node = "it"; };
http = { listen = "unix:$sock"; metrics_listen = "127.0.0.1:$mport"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = "24x7"; } );
centers = ( { name = "cc-a"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); },
            { name = "cc-b"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); },
            { name = "cc-c"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { service = "utm"; center = "cc-a"; }, { service = "dns"; center = "cc-b"; }, { center = "cc-c"; } );
notify = {
  channels = (
    { name = "twilio"; plugin = "sms"; template = "twilio"; from = "+815000000000";
      url = "https://127.0.0.1:$port/2010-04-01/Accounts/AC123/Messages.json";
      user = "AC123"; secret_file = "$IT_TMP/twilio.token"; ca_file = "$CA";
      inbound = "twilio"; inbound_url = "https://mmr.jp/api/v1/notify/inbound/twilio"; },
    { name = "gw"; plugin = "sms"; template = "json"; from = "MAMORI";
      url = "https://127.0.0.1:$port/sms/send"; secret_file = "$IT_TMP/gw.token"; ca_file = "$CA";
      inbound = "json"; inbound_secret_file = "$IT_TMP/gw.inbound"; },
    { name = "slack"; plugin = "webhook"; template = "slack"; url_file = "$IT_TMP/slack.url"; ca_file = "$CA"; },
    { name = "teams"; plugin = "webhook"; template = "teams"; url = "https://127.0.0.1:$port/teams/hook"; ca_file = "$CA"; },
    { name = "mattermost"; plugin = "webhook"; template = "mattermost"; url = "https://127.0.0.1:$port/hooks/mm"; ca_file = "$CA"; } );
  link_base = "https://mmr.jp"; bundle_window = "1s"; retry_min = "1s"; retry_max = "2s"; repeat = "0";
  give_up_after = "30s";
};
contacts = (
  { name = "tanaka"; phone = "+819011112222"; channels = ( { channel = "twilio"; } ); },
  { name = "suzuki"; phone = "+819033334444"; channels = ( { channel = "gw"; } ); },
  { name = "noc-room"; language = "en"; channels = ( { channel = "slack"; }, { channel = "teams"; }, { channel = "mattermost"; } ); } );
oncall = ( { center = "cc-a"; layers = ( { members = "tanaka"; } ); },
           { center = "cc-b"; layers = ( { members = "suzuki"; } ); },
           { center = "cc-c"; layers = ( { members = "noc-room"; } ); } );
customers = ( { id = "c1"; name = "株式会社サンプル"; assets = (
  { name = "utm-1"; type = "utm"; checks = ( { plugin = "dummy"; interval = "1h"; } ); } ); } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -S "$sock" || it_fail "no API socket"

api() { # METHOD PATH [BODY] [extra curl args...]
	_m=$1
	_p=$2
	shift 2
	_b=
	if [ $# -gt 0 ]; then
		_b=$1
		shift
	fi
	curl -s --max-time 10 --unix-socket "$sock" -X "$_m" -H 'Content-Type: application/json' \
		${_b:+-d "$_b"} "$@" "http://local$_p"
}
open_alert() { # CHECK SERVICE SUMMARY
	api POST /api/v1/alerts "{\"customer\":\"c1\",\"asset\":\"utm-1\",\"check\":\"$1\",\"service\":\"$2\",\"summary\":\"$3\",\"severity\":\"critical\"}" |
		sed -n 's/.*"alert":"\([^"]*\)".*/\1/p'
}
req() { python3 tests/integration/reqcheck.py "$LOG" "$@"; }
nreq() { [ "$(req count "$1")" -ge "$2" ]; }
db() { sqlite3 -cmd '.timeout 3000' "$IT_STATE_DIR/mamori.db" "$1"; }

# ---- Twilio ----
A=$(open_alert utm utm "UTM 応答なし: ping 100% loss, SNMP timeout, HTTPS management unreachable")
[ -n "$A" ] || it_fail "no alert"
it_wait_for 20 nreq /2010-04-01/Accounts/AC123/Messages.json 1 || it_fail "no Twilio request"
P=/2010-04-01/Accounts/AC123/Messages.json
[ "$(req last $P header:content-type)" = application/x-www-form-urlencoded ] || it_fail "twilio content type"
[ "$(req last $P header:authorization)" = "Basic $(printf 'AC123:twilio-auth-token-123' | base64)" ] ||
	it_fail "twilio auth: $(req last $P header:authorization)"
[ "$(req last $P form:To)" = "+819011112222" ] || it_fail "twilio To"
[ "$(req last $P form:From)" = "+815000000000" ] || it_fail "twilio From"
body=$(req last $P form:Body)
units=$(req utf16 $P form:Body)
[ "$units" -le 70 ] || it_fail "the SMS takes $units UTF-16 units (one segment is 70): $body"
case "$body" in *"株式会社"*"https://mmr.jp/a/"*) ;; *) it_fail "SMS text: $body" ;; esac

# ---- the JSON gateway: 500, then 200 - delivered once ----
printf '500\n200\n' >"$PLAN"
ALERT_B=$(open_alert dns dns "DMARC レコードなし")
it_wait_for 20 nreq /sms/send 2 || it_fail "no retry after the gateway's 500: $(req count /sms/send)"
sleep 3
[ "$(req count /sms/send)" -eq 2 ] || it_fail "sent $(req count /sms/send) times"
[ "$(req 0 /sms/send status)" = 500 ] && [ "$(req 1 /sms/send status)" = 200 ] || it_fail "plan"
[ "$(req 0 /sms/send header:idempotency-key)" = "$(req 1 /sms/send header:idempotency-key)" ] ||
	it_fail "the retry has another idempotency key"
[ "$(req last /sms/send header:authorization)" = "Bearer gateway-bearer-456" ] || it_fail "gateway auth"
[ "$(req last /sms/send json:to)" = "+819033334444" ] || it_fail "gateway to"
[ "$(req last /sms/send json:alert)" = "$ALERT_B" ] || it_fail "gateway alert"
[ "$(db "SELECT status || '/' || attempts FROM notify_item WHERE alert_id = '$ALERT_B'")" = sent/2 ] ||
	it_fail "item of B: $(db "SELECT status || '/' || attempts FROM notify_item WHERE alert_id = '$ALERT_B'")"
[ "$(db "SELECT result FROM notify_attempt WHERE alert_id = '$ALERT_B' ORDER BY attempt")" = "retry
sent" ] || it_fail "attempts of B"

# ---- chat webhooks: Slack, Teams, Mattermost ----
C=$(open_alert web web "Web フィルタ停止")
it_wait_for 20 nreq /services/T000/B000/secretpart 1 || it_fail "no Slack request"
it_wait_for 20 nreq /teams/hook 1 || it_fail "no Teams request"
it_wait_for 20 nreq /hooks/mm 1 || it_fail "no Mattermost request"
[ "$(req last /services/ json:attachments.0.color)" = "#D93025" ] || it_fail "slack color"
case "$(req last /services/ json:text)" in "[mamori] CRITICAL opened: 株式会社サンプル web"*) ;;
*) it_fail "slack text: $(req last /services/ json:text)" ;; esac
[ "$(req last /services/ json:attachments.0.title_link)" = "https://mmr.jp/alerts/$C" ] || it_fail "slack link"
[ "$(req last /teams/hook json:@type)" = MessageCard ] || it_fail "teams card"
[ "$(req last /teams/hook json:potentialAction.0.targets.0.uri)" = "https://mmr.jp/alerts/$C" ] || it_fail "teams link"
[ "$(req last /hooks/mm json:username)" = mamori ] || it_fail "mattermost"
# the Slack URL is a secret: never in the log
grep -q secretpart "$IT_TMP/mamorid.log" && it_fail "the Slack URL is in the log"

# ---- a 400: never works as it is - given up at once ----
printf '400\n400\n400\n' >"$PLAN"
D=$(open_alert utm2 utm "UTM 2")
it_wait_for 20 sh -c "[ \"\$(sqlite3 -cmd '.timeout 3000' '$IT_STATE_DIR/mamori.db' \"SELECT status FROM notify_item WHERE alert_id = '$D'\")\" = failed ]" ||
	it_fail "a 400 was not given up"
it_wait_for 10 sh -c "curl -s --unix-socket '$sock' http://local/api/v1/alerts/$D | grep -q '\"type\":\"notify_failed\"'" ||
	it_fail "no notify_failed event on D"
: >"$PLAN"

# ---- an SMS reply through the gateway's signed webhook ----
code=$(req last /sms/send json:text | sed -n 's/.*了解\([0-9][0-9][0-9][0-9]\).*/\1/p')
[ -n "$code" ] || it_fail "no reply code in $(req last /sms/send json:text)"
reply="{\"from\":\"+819033334444\",\"text\":\"了解 $code\",\"id\":\"gw-msg-1\"}"
sig=$(printf '%s' "$reply" | openssl dgst -sha256 -hmac "gateway-inbound-key-789" | sed 's/.*= //')
st() { api POST /api/v1/notify/inbound/gw "$1" -o /dev/null -w '%{http_code}' ${2:+-H "$2"}; }
[ "$(st "$reply")" = 403 ] || it_fail "an unsigned reply was not refused"
[ "$(st "$reply" "X-Mamori-Signature: sha256=0000$sig")" = 403 ] || it_fail "a forged reply was not refused"
[ "$(api POST /api/v1/notify/inbound/nope "$reply" -o /dev/null -w '%{http_code}')" = 404 ] || it_fail "unknown channel"
api GET "/api/v1/alerts/$ALERT_B" | grep -q '"status":"open"' || it_fail "B acknowledged by a refused reply"
[ "$(st "$reply" "X-Mamori-Signature: sha256=$sig")" = 200 ] || it_fail "the signed reply was refused"
it_wait_for 10 sh -c "curl -s --unix-socket '$sock' http://local/api/v1/alerts/$ALERT_B | grep -q '\"status\":\"acknowledged\"'" ||
	it_fail "the SMS reply did not acknowledge B"
api GET "/api/v1/alerts/$ALERT_B" | grep -q '"acked_by":"suzuki"' || it_fail "B not acknowledged as suzuki"
# ---- a Twilio inbound SMS: a form POST exactly as Twilio sends it ----
# (every parameter of Twilio's messaging webhook, the empty ones too:
# they are signed), signed by Python's hmac over the URL configured at
# Twilio plus the parameters sorted by name, as Twilio documents it
code_a=$(printf '%s' "$body" | sed -n 's/.*了解\([0-9][0-9][0-9][0-9]\).*/\1/p')
[ -n "$code_a" ] || it_fail "no reply code in the Twilio SMS: $body"
TW_URL=https://mmr.jp/api/v1/notify/inbound/twilio
cat >"$IT_TMP/twilio.form" <<EOF
ToCountry=JP
ToState=
SmsMessageSid=SM0f3a5b2c9d8e7f60112233445566778
NumMedia=0
ToCity=
FromZip=
SmsSid=SM0f3a5b2c9d8e7f60112233445566778
FromState=
SmsStatus=received
FromCity=
Body=了解 $code_a よろしく & お願いします +1=2 100%
FromCountry=JP
To=+815000000000
ToZip=
NumSegments=1
ReferralNumMedia=0
MessageSid=SM0f3a5b2c9d8e7f60112233445566778
AccountSid=AC123
From=+819011112222
ApiVersion=2010-04-01
EOF
tw_sig() { # URL TOKEN FORMFILE
	python3 -c 'import sys, hmac, hashlib, base64
url, key, path = sys.argv[1:4]
params = [l.rstrip("\n").split("=", 1) for l in open(path, encoding="utf-8")]
data = url + "".join(k + v for k, v in sorted(params))
print(base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode())' "$@"
}
tw_post() { # SIGNATURE FORMFILE: prints the status, the answer in $IT_TMP/tw.out
	_s=$1
	_f=$2
	shift 2
	set -- -H "X-Twilio-Signature: $_s"
	while IFS= read -r _l; do set -- "$@" --data-urlencode "$_l"; done <"$_f"
	curl -s --max-time 10 --unix-socket "$sock" -A 'TwilioProxy/1.1' -o "$IT_TMP/tw.out" \
		-w '%{http_code}' "$@" http://local/api/v1/notify/inbound/twilio
}
SIG=$(tw_sig "$TW_URL" "twilio-auth-token-123" "$IT_TMP/twilio.form")
FORGED=$(tw_sig "$TW_URL" "not-the-auth-token" "$IT_TMP/twilio.form")
[ "$(tw_post "$FORGED" "$IT_TMP/twilio.form")" = 403 ] || it_fail "a forged Twilio signature was not refused"
grep -q forbidden "$IT_TMP/tw.out" || it_fail "forged: $(cat "$IT_TMP/tw.out")"
sed 's/^Body=.*/Body=ack/' "$IT_TMP/twilio.form" >"$IT_TMP/twilio.changed"
[ "$(tw_post "$SIG" "$IT_TMP/twilio.changed")" = 403 ] || it_fail "a changed parameter kept its signature"
[ "$(tw_post "" "$IT_TMP/twilio.form")" = 403 ] || it_fail "an unsigned Twilio request was not refused"
api GET "/api/v1/alerts/$A" | grep -q '"status":"open"' || it_fail "A acknowledged by a refused reply"
# garbage: refused by the form parser (400 bad_form) before any plugin sees it
fpost() {
	curl -s --max-time 10 --unix-socket "$sock" -H "X-Twilio-Signature: $SIG" -o "$IT_TMP/tw.out" \
		-w '%{http_code}' "$@" http://local/api/v1/notify/inbound/twilio
}
many=$(i=0; while [ $i -lt 65 ]; do printf 'k%d=v&' $i; i=$((i + 1)); done)
for g in 'Body=%00x&From=1' 'Body=%FF%FE&From=1' 'Body=%C0%AF&From=1' 'From=1&From=2' '=x&From=1' \
	"$many" "$(printf 'Bo\001dy=1')"; do
	[ "$(fpost -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$g")" = 400 ] ||
		it_fail "garbage form '$g': $(cat "$IT_TMP/tw.out")"
	grep -q '"bad_form"' "$IT_TMP/tw.out" || it_fail "garbage form '$g': $(cat "$IT_TMP/tw.out")"
done
[ "$(fpost -H 'Content-Type: text/plain' --data-binary 'From=1')" = 415 ] || it_fail "text/plain accepted"
[ "$(fpost -H 'Content-Type: multipart/form-data; boundary=x' --data-binary 'x')" = 415 ] ||
	it_fail "multipart accepted"
head -c 20000 /dev/zero | tr '\0' a | sed 's/^/Body=/' >"$IT_TMP/big.form"
[ "$(fpost -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$IT_TMP/big.form")" = 413 ] ||
	it_fail "an oversize form was not refused"
# a form on a JSON-only route is still 415
[ "$(curl -s --max-time 5 --unix-socket "$sock" -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
	-d 'customer=c1' -o /dev/null -w '%{http_code}' http://local/api/v1/alerts)" = 415 ] ||
	it_fail "a form body reached a JSON route"
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died on garbage forms"
# the real one: answered with TwiML, acknowledges A as tanaka
[ "$(tw_post "$SIG" "$IT_TMP/twilio.form")" = 200 ] ||
	it_fail "the signed Twilio reply was refused: $(cat "$IT_TMP/tw.out")"
grep -q '<Response></Response>' "$IT_TMP/tw.out" || it_fail "no TwiML answer: $(cat "$IT_TMP/tw.out")"
it_wait_for 10 sh -c "curl -s --unix-socket '$sock' http://local/api/v1/alerts/$A | grep -q '\"status\":\"acknowledged\"'" ||
	it_fail "the Twilio reply did not acknowledge A"
api GET "/api/v1/alerts/$A" | grep -q '"acked_by":"tanaka"' || it_fail "A not acknowledged as tanaka"
# a long Japanese reply (13 KB encoded: MHD hands the value over in
# pieces) verifies only if it is put back together exactly
long=$(python3 -c 'print("あ" * 1500)')
sed -e "s/^Body=.*/Body=了解 $long/" -e 's/^MessageSid=.*/MessageSid=SM0000000000000000000000000000long/' \
	"$IT_TMP/twilio.form" >"$IT_TMP/twilio.long"
SIG_LONG=$(tw_sig "$TW_URL" "twilio-auth-token-123" "$IT_TMP/twilio.long")
[ "$(tw_post "$SIG_LONG" "$IT_TMP/twilio.long")" = 200 ] ||
	it_fail "a long signed reply was refused: $(cat "$IT_TMP/tw.out")"
# it names no code: it acknowledges the one alert tanaka was paged for
# that waits (D, whose SMS was given up)
it_wait_for 10 sh -c "curl -s --unix-socket '$sock' http://local/api/v1/alerts/$D | grep -q '\"acked_by\":\"tanaka\"'" ||
	it_fail "the plain long reply did not acknowledge D"
# ---- the notification metrics, scraped from /metrics and checked
# against the store and what this test did ----
metric() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
it_wait_for 10 sh -c "curl -s 'http://127.0.0.1:$mport/metrics' | grep -q '^mamori_notify_pending 0$'" ||
	it_fail "notifications still pending: $(metric mamori_notify_pending)"
curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" >"$IT_TMP/metrics.txt"
for f in mamori_notify_items_total mamori_notify_sent_total mamori_notify_failed_total \
	mamori_notify_retries_total mamori_notify_messages_total mamori_notify_bundles_total \
	mamori_notify_capped_total mamori_notify_acks_total mamori_notify_pending mamori_notify_in_flight \
	mamori_notify_documents_pending; do
	grep -q "^# TYPE $f " "$IT_TMP/metrics.txt" || it_fail "no $f family"
done
m() { awk -v k="$1" '$1 == k { print $2 }' "$IT_TMP/metrics.txt"; }
sent_db=$(db "SELECT count(*) FROM notify_item WHERE status = 'sent'")
failed_db=$(db "SELECT count(*) FROM notify_item WHERE status = 'failed'")
items_db=$(db "SELECT count(*) FROM notify_item")
[ "$(m mamori_notify_items_total)" = "$items_db" ] || it_fail "items $(m mamori_notify_items_total), store $items_db"
[ "$(m mamori_notify_sent_total)" = "$sent_db" ] || it_fail "sent $(m mamori_notify_sent_total), store $sent_db"
[ "$(m mamori_notify_failed_total)" = "$failed_db" ] && [ "$failed_db" -ge 1 ] ||
	it_fail "failed $(m mamori_notify_failed_total), store $failed_db"
[ "$(m mamori_notify_retries_total)" -ge 1 ] || it_fail "no retry counted (the gateway's 500)"
[ "$(m mamori_notify_acks_total)" = 3 ] ||
	it_fail "acks $(m mamori_notify_acks_total), want 3 (SMS JSON, Twilio, the long Twilio reply)"
# refused: the JSON gateway's unsigned and forged, Twilio's forged, changed and unsigned
[ "$(m 'mamori_notify_replies_total{result="refused"}')" = 5 ] ||
	it_fail "refused replies: $(m 'mamori_notify_replies_total{result="refused"}')"
[ "$(m mamori_notify_in_flight)" = 0 ] || it_fail "in flight: $(m mamori_notify_in_flight)"
[ "$(m 'mamori_notify_suppressed_total{reason="quiet_hours"}')" = 0 ] || it_fail "suppressed"
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
exit 0
