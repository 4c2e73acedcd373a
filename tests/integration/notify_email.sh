#!/bin/sh
# it: long
# notify_email: on-call e-mail end to end with the real Postfix (SMTP,
# STARTTLS and implicit TLS, AUTH) and Dovecot (IMAP) of mailserver.sh.
# A real mamorid pages the on-call technicians of an alert's tier; the
# test reads their mailboxes over IMAP and checks the mail: the Japanese
# subject (RFC 2047) and body, Date, Message-ID, and In-Reply-To /
# References threading every mail of one alert; escalation pages the
# next tier (over smtps://); the resolution reaches both.  Faults: SMTP
# down then up (delivered once, the retry recorded); mamorid killed -9
# while the server holds its "250" (at most one duplicate, with the same
# Message-ID, marked, and recorded as such); a clean restart pages no one
# twice.  mamorictl oncall and notifications read it all back.
. tests/integration/lib.sh
. tests/integration/mailserver.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -x "$MAMORICTL" ] || it_skip "$MAMORICTL not built"
[ -f "$PLUGIN_DIR/email.so" ] || it_skip "$PLUGIN_DIR/email.so not built"
[ -x /usr/sbin/postfix ] || it_skip "postfix missing (Debian package postfix)"
[ -x /usr/sbin/dovecot ] || it_skip "dovecot missing (Debian packages dovecot-imapd dovecot-lmtpd)"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v curl >/dev/null || it_skip "curl missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/ms"
chmod 755 "$IT_TMP"
trap 'ms_stop "$IT_TMP/ms"; it_cleanup' EXIT
ms_start "$IT_TMP/ms" >"$IT_TMP/ms.env" 2>"$IT_TMP/ms.err"
rc=$?
[ $rc -eq 77 ] && it_skip "mail servers cannot run here: $(cat "$IT_TMP/ms.err")"
[ $rc -eq 0 ] || it_fail "mail servers did not start: $(cat "$IT_TMP/ms.err")"
. "$IT_TMP/ms.env"
PW=$(cat "$MS_PASSWORD_FILE")
# the technicians' mailboxes (same password as the probe user)
for u in tanaka suzuki sato mamori; do
	printf '%s:{PLAIN}%s\n' "$u" "$PW" >>"$IT_TMP/ms/dovecot/users"
done

# the SMTP proxy that can hold the server's "250" (the kill -9 window)
proxy_port=$(it_free_port)
it_bg smtp_hold python3 tests/integration/smtp_hold.py "$proxy_port" "$MS_SMTP_PORT" \
	"$IT_TMP/hold" "$IT_TMP/held" 6
sock=$IT_TMP/api.sock
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "debug"; node = "it"; };
http = { listen = "unix:$sock"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = "24x7"; } );
centers = ( { name = "cc-a"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); },
            { name = "cc-b"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { service = "dns"; center = "cc-b"; }, { center = "cc-a"; } );
notify = {
  channels = (
    { name = "mail"; plugin = "email"; from = "mamori@mamori.test"; from_name = "mamori 監視";
      smtp = { url = "smtp://127.0.0.1:$MS_SMTP_PORT"; user = "probe"; password_file = "$MS_PASSWORD_FILE";
               ca_file = "$MS_CA"; timeout = "20s"; };
      reply = { url = "imap://127.0.0.1:$MS_IMAP_PORT/INBOX"; user = "mamori";
                password_file = "$MS_PASSWORD_FILE"; ca_file = "$MS_CA"; poll = "500ms"; }; },
    { name = "mail_tls"; plugin = "email"; from = "mamori@mamori.test";
      smtp = { url = "smtps://127.0.0.1:$MS_SMTPS_PORT"; user = "probe"; password_file = "$MS_PASSWORD_FILE";
               ca_file = "$MS_CA"; }; },
    { name = "mail_proxy"; plugin = "email"; from = "mamori@mamori.test";
      smtp = { url = "smtp://127.0.0.1:$proxy_port"; starttls = false; timeout = "30s"; }; } );
  link_base = "https://mamori.example.jp"; message_id_domain = "mamori.test";
  reply_to = "mamori+{token}@probe.test";
  bundle_window = "1s"; retry_min = "1s"; retry_max = "2s"; repeat = "0";
};
contacts = (
  { name = "tanaka"; email = "tanaka@probe.test"; language = "ja"; channels = ( { channel = "mail"; } ); },
  { name = "suzuki"; email = "suzuki@probe.test"; language = "en"; channels = ( { channel = "mail_tls"; } ); },
  { name = "sato"; email = "sato@probe.test"; channels = ( { channel = "mail_proxy"; } ); } );
oncall = (
  { center = "cc-a"; tier = "contact-center"; layers = ( { members = "tanaka"; } ); },
  { center = "cc-a"; tier = "back-office"; layers = ( { members = "suzuki"; } ); },
  { center = "cc-b"; layers = ( { members = "sato"; } ); } );
customers = ( { id = "c1"; name = "株式会社サンプル製作所"; assets = (
  { name = "utm-1"; type = "utm"; checks = ( { plugin = "dummy"; interval = "1h"; } ); } ); } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -S "$sock" || it_fail "no API socket"

api() { # METHOD PATH [BODY]
	curl -s --max-time 10 --unix-socket "$sock" -X "$1" -H 'Content-Type: application/json' \
		${3:+-d "$3"} "http://local$2"
}
open_alert() { # CHECK SERVICE SUMMARY -> alert id
	api POST /api/v1/alerts "{\"customer\":\"c1\",\"asset\":\"utm-1\",\"check\":\"$1\",\"service\":\"$2\",\"summary\":\"$3\",\"severity\":\"critical\"}" |
		sed -n 's/.*"alert":"\([^"]*\)".*/\1/p'
}
imap() { # USER ARGS...
	_u=$1
	shift
	curl -s --max-time 10 --ssl-reqd --cacert "$MS_CA" --user "$_u:$PW" "$@"
}
uids() { imap "$1" "imap://127.0.0.1:$MS_IMAP_PORT/INBOX" -X "UID SEARCH ALL" | tr -d '\r' | sed -n 's/^\* SEARCH//p'; }
nmail() { uids "$1" | wc -w; }
has_mail() { [ "$(nmail "$1")" -ge "$2" ]; }
check_mail() { # USER UID -> $IT_TMP/m.USER.UID
	imap "$1" "imap://127.0.0.1:$MS_IMAP_PORT/INBOX;UID=$2" | python3 tests/integration/mailcheck.py >"$IT_TMP/m.$1.$2" ||
		it_fail "cannot read mail $2 of $1"
}
f() { sed -n "s/^$3=//p" "$IT_TMP/m.$1.$2"; }
db() { sqlite3 -cmd '.timeout 3000' "$IT_STATE_DIR/mamori.db" "$1"; }

# ---- who is on call ----
"$MAMORICTL" --socket "$sock" oncall >"$IT_TMP/oncall.txt" || it_fail "mamorictl oncall"
grep -q 'cc-a *contact-center *tanaka' "$IT_TMP/oncall.txt" || it_fail "oncall: $(cat "$IT_TMP/oncall.txt")"
grep -q 'cc-a *back-office *suzuki' "$IT_TMP/oncall.txt" || it_fail "oncall: $(cat "$IT_TMP/oncall.txt")"

# ---- one alert: opened (tanaka), escalated (suzuki, smtps), resolved (both) ----
A=$(open_alert utm utm "UTM 応答なし: ping 100% loss")
[ -n "$A" ] || it_fail "no alert opened"
it_wait_for 20 has_mail tanaka 1 || it_fail "no mail for tanaka: $(grep notify "$IT_TMP/mamorid.log" | tail -5)"
u1=$(uids tanaka | awk '{print $1}')
check_mail tanaka "$u1"
[ "$(f tanaka "$u1" subject)" = "[mamori] 重大 発生: 株式会社サンプル製作所 utm utm-1/utm" ] ||
	it_fail "subject: '$(f tanaka "$u1" subject)'"
[ "$(f tanaka "$u1" header_ascii)" = True ] || it_fail "raw header not ASCII"
[ "$(f tanaka "$u1" longest_subject_line)" -le 76 ] || it_fail "Subject line of $(f tanaka "$u1" longest_subject_line)"
[ "$(f tanaka "$u1" from)" = "mamori 監視 <mamori@mamori.test>" ] || it_fail "from: $(f tanaka "$u1" from)"
[ "$(f tanaka "$u1" charset)" = utf-8 ] || it_fail "charset: $(f tanaka "$u1" charset)"
[ "$(f tanaka "$u1" date_ok)" = True ] || it_fail "Date"
[ "$(f tanaka "$u1" auto_submitted)" = auto-generated ] || it_fail "Auto-Submitted"
f tanaka "$u1" body | grep -q '内容:     UTM 応答なし: ping 100% loss' || it_fail "body: $(f tanaka "$u1" body)"
f tanaka "$u1" body | grep -q "https://mamori.example.jp/alerts/$A" || it_fail "no link in the body"
mid1=$(f tanaka "$u1" message_id)
root=$(f tanaka "$u1" references)
case "$mid1" in "<1.opened.mail+$A+tanaka+"*"@mamori.test>") ;; *) it_fail "Message-ID $mid1" ;; esac
case "$root" in "<$A+tanaka+"*"@mamori.test>") ;; *) it_fail "References $root" ;; esac
[ "$(f tanaka "$u1" in_reply_to)" = "$root" ] || it_fail "In-Reply-To"

api POST "/api/v1/alerts/$A/escalate" '{"note":"to the back office"}' | grep -q '"result":"ok"' || it_fail "escalate"
it_wait_for 20 has_mail suzuki 1 || it_fail "no mail for suzuki (smtps)"
s1=$(uids suzuki | awk '{print $1}')
check_mail suzuki "$s1"
case "$(f suzuki "$s1" subject)" in "[mamori] CRITICAL escalated: "*) ;; *) it_fail "suzuki subject: $(f suzuki "$s1" subject)" ;; esac
f suzuki "$s1" body | grep -q 'Output:    UTM 応答なし' || it_fail "suzuki body"

api POST "/api/v1/alerts/$A/resolve" '{"note":"rebooted"}' | grep -q '"result":"ok"' || it_fail "resolve"
it_wait_for 20 has_mail tanaka 2 || it_fail "no resolved mail for tanaka"
it_wait_for 20 has_mail suzuki 2 || it_fail "no resolved mail for suzuki"
u2=$(uids tanaka | awk '{print $2}')
check_mail tanaka "$u2"
case "$(f tanaka "$u2" subject)" in *復旧*) ;; *) it_fail "resolved subject: $(f tanaka "$u2" subject)" ;; esac
# the thread: same root, a message id of its own
[ "$(f tanaka "$u2" references)" = "$root" ] || it_fail "resolved mail not in the thread"
[ "$(f tanaka "$u2" message_id)" != "$mid1" ] || it_fail "two mails with one id"

"$MAMORICTL" --socket "$sock" notifications "$A" >"$IT_TMP/notif.txt" || it_fail "mamorictl notifications"
[ "$(grep -c ' sent ' "$IT_TMP/notif.txt")" -ge 4 ] || it_fail "notifications: $(cat "$IT_TMP/notif.txt")"

# ---- acknowledge by replying to the mail (through Postfix, read over IMAP) ----
send_reply() { # FROM TO IN-REPLY-TO TEXT
	{
		printf 'From: %s\r\nTo: %s\r\nSubject: Re: [mamori]\r\n' "$1" "$2"
		printf 'Message-ID: <reply-%s@probe.test>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n' \
			"$(date +%s%N)" "$3" "$3"
		printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n'
		printf '%s\r\n\r\n> [mamori] ...\r\n' "$4" | base64
	} >"$IT_TMP/reply.eml"
	curl -s --max-time 10 --ssl-reqd --cacert "$MS_CA" --user "probe:$PW" \
		--mail-from "$1" --mail-rcpt "$2" --upload-file "$IT_TMP/reply.eml" \
		"smtp://127.0.0.1:$MS_SMTP_PORT" || it_fail "cannot send a reply"
}
status_of() { api GET "/api/v1/alerts/$1" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | head -1; }
is_acked() { [ "$(status_of "$1")" = acknowledged ]; }
n1=$(nmail tanaka)
D=$(open_alert mail mail "メール遅延 2 時間")
it_wait_for 20 has_mail tanaka $((n1 + 1)) || it_fail "no mail for D"
ud=$(uids tanaka | awk '{print $NF}')
check_mail tanaka "$ud"
rto=$(f tanaka "$ud" reply_to)
midd=$(f tanaka "$ud" message_id)
case "$rto" in "mamori+$D+tanaka+"*"@probe.test") ;; *) it_fail "Reply-To: $rto" ;; esac
# forged: a token of our shape with a wrong signature
forged=$(echo "$midd" | sed 's/+tanaka+[0-9a-f]*@/+tanaka+00000000000000000000000000000000@/')
send_reply tanaka@probe.test "mamori@probe.test" "$forged" "了解"
# the right reply, but from someone else's address
send_reply sato@probe.test "$rto" "$midd" "了解"
it_wait_for 20 sh -c "[ \$(grep -c 'names no alert of ours\|came from another address' '$IT_TMP/mamorid.log') -ge 2 ]" ||
	it_fail "the forged replies were not read: $(grep -i reply "$IT_TMP/mamorid.log" | tail -3)"
[ "$(status_of "$D")" = open ] || it_fail "a forged reply acknowledged D"
# the real one: tanaka replies to the Reply-To address
send_reply tanaka@probe.test "$rto" "$midd" "了解しました"
it_wait_for 20 is_acked "$D" || it_fail "the reply did not acknowledge D: $(grep -i 'notify' "$IT_TMP/mamorid.log" | tail -3)"
api GET "/api/v1/alerts/$D" | grep -q '"acked_by":"tanaka"' || it_fail "D not acknowledged as tanaka"
api GET "/api/v1/alerts/$D" | grep -q 'acknowledged by e-mail reply' || it_fail "the ack's note"
# the mailbox is emptied: nothing is read twice
it_wait_for 10 sh -c "[ \$(curl -s --max-time 10 --ssl-reqd --cacert '$MS_CA' --user 'mamori:$PW' 'imap://127.0.0.1:$MS_IMAP_PORT/INBOX' -X 'UID SEARCH UNDELETED' | tr -d '\r' | sed -n 's/^\* SEARCH//p' | wc -w) -eq 0 ]" ||
	it_fail "the reply mailbox was not emptied"

# ---- SMTP down, then up: delivered once, the retry recorded ----
/usr/sbin/postfix -c "$IT_TMP/ms/postfix" stop >/dev/null 2>&1
n0=$(nmail tanaka)
ALERT_B=$(open_alert web web "Web サーバ停止")
it_wait_for 20 sh -c "[ \$(sqlite3 -cmd '.timeout 3000' '$IT_STATE_DIR/mamori.db' \"SELECT count(*) FROM notify_attempt WHERE alert_id = '$ALERT_B' AND result = 'retry'\") -ge 1 ]" ||
	it_fail "no retry recorded while SMTP was down"
/usr/sbin/postfix -c "$IT_TMP/ms/postfix" start >/dev/null 2>&1
it_wait_for 30 has_mail tanaka $((n0 + 1)) || it_fail "not delivered after SMTP came back"
sleep 3
[ "$(nmail tanaka)" -eq $((n0 + 1)) ] || it_fail "delivered more than once after the outage"
[ "$(db "SELECT status FROM notify_item WHERE alert_id = '$ALERT_B'")" = sent ] || it_fail "item of B not sent"

# ---- kill -9 while the server holds its 250: one duplicate at most, marked ----
touch "$IT_TMP/hold"
C=$(open_alert dns dns "DMARC レコードなし")
it_wait_for 20 test -f "$IT_TMP/held" || it_fail "the proxy never held a reply"
kill -9 "$MAMORID_PID"
rm -f "$IT_TMP/hold"
it_wait_for 20 has_mail sato 1 || it_fail "the held mail was not delivered"
[ "$(db "SELECT status FROM notify_item WHERE alert_id = '$C'")" = sending ] ||
	it_fail "the item of C is not 'sending' after the kill: $(db "SELECT status FROM notify_item WHERE alert_id = '$C'")"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 20 has_mail sato 2 || it_fail "not sent again after the restart"
sleep 3
[ "$(nmail sato)" -eq 2 ] || it_fail "more than one duplicate: $(nmail sato)"
set -- $(uids sato)
check_mail sato "$1"
check_mail sato "$2"
[ "$(f sato "$1" message_id)" = "$(f sato "$2" message_id)" ] || it_fail "the duplicate has another Message-ID"
[ "$(f sato "$2" duplicate)" = yes ] || it_fail "the duplicate is not marked"
[ "$(db "SELECT count(*) FROM notify_attempt WHERE alert_id = '$C' AND result = 'unknown'")" = 1 ] ||
	it_fail "the unknown attempt is not recorded"
[ "$(db "SELECT status || '|' || error FROM notify_item WHERE alert_id = '$C'")" = "sent|possible duplicate" ] ||
	it_fail "item of C: $(db "SELECT status || '|' || error FROM notify_item WHERE alert_id = '$C'")"

# ---- a clean restart pages nobody again ----
kill "$MAMORID_PID"
it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || it_fail "mamorid did not stop"
before="$(nmail tanaka) $(nmail suzuki) $(nmail sato)"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -S "$sock" || it_fail "no API socket after the restart"
sleep 3
[ "$(nmail tanaka) $(nmail suzuki) $(nmail sato)" = "$before" ] || it_fail "paged again after a restart"
[ "$(db "SELECT count(*) FROM notify_item WHERE status IN ('pending', 'sending')")" = 0 ] ||
	it_fail "notifications left unsent"
grep -q "$PW" "$IT_TMP/mamorid.log" && it_fail "a password in the log"
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
exit 0
