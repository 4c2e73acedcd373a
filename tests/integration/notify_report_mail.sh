#!/bin/sh
# notify_report_mail: a document the service mails by itself (the monthly
# report's PDF, handed to notify_mail) through the durable outbox, the
# email plugin and the real Postfix (STARTTLS, AUTH) into Dovecot, read
# back over IMAP: multipart/mixed around a multipart/alternative (the
# Japanese text and its HTML), the PDF attached byte for byte (SHA-256),
# the RFC 2047 subject, Date, Message-ID, Auto-Submitted; one mail per
# recipient.  Faults: the SMTP server unreachable and the process killed
# (what kill -9 leaves) - the next run sends it from the store, the file
# read back from there, once; sent rows drop the file.
# The driver is tests/integration/notify_mail_drv.c (a mamorid core).
. tests/integration/lib.sh
. tests/integration/mailserver.sh

DRV=${DRV:-$B/tests/it/notify_mail_drv}
[ -x "$DRV" ] || it_skip "$DRV not built (make integration builds it)"
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
for u in keiri boss; do
	printf '%s:{PLAIN}%s\n' "$u" "$PW" >>"$IT_TMP/ms/dovecot/users"
done
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
conf() { # FILE SMTP_URL
	cat >"$1" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "info"; node = "it"; };
notify = {
  channels = (
    { name = "mail"; plugin = "email"; from = "reports@mamori.test"; from_name = "mamori レポート";
      smtp = { url = "$2"; user = "probe"; password_file = "$MS_PASSWORD_FILE";
               ca_file = "$MS_CA"; timeout = "10s"; }; } );
  message_id_domain = "mamori.test"; retry_min = "500ms"; retry_max = "1s";
};
EOF
}
conf "$IT_TMP/good.conf" "smtp://127.0.0.1:$MS_SMTP_PORT"
conf "$IT_TMP/down.conf" "smtp://127.0.0.1:$(it_free_port)"

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

# a PDF-like file of 300 KB (any bytes: the attachment is base64)
pdf=$IT_TMP/report-c1-2026-05.pdf
{ printf '%%PDF-1.7\n'; head -c 307200 /dev/urandom; } >"$pdf"
sum=$(sha256sum "$pdf" | cut -d' ' -f1)

# ---- sent: one mail per recipient, the file intact ----
"$DRV" send "$IT_TMP/good.conf" report/c1/2026-05 "$pdf" 30 keiri@probe.test boss@probe.test \
	>"$IT_TMP/drv1.out" 2>"$IT_TMP/drv1.log" || it_fail "driver: $(cat "$IT_TMP/drv1.out" "$IT_TMP/drv1.log" | tail -5)"
grep -q '^sent 2 failed 0 pending 0$' "$IT_TMP/drv1.out" || it_fail "driver: $(cat "$IT_TMP/drv1.out")"
it_wait_for 20 has_mail keiri 1 || it_fail "keiri got no mail"
it_wait_for 20 has_mail boss 1 || it_fail "boss got no mail"
set -- $(uids keiri)
check_mail keiri "$1"
u=$1
[ "$(f keiri "$u" subject)" = "月次セキュリティレポート 2026年5月 (株式会社サンプル製作所 様)" ] ||
	it_fail "subject: $(f keiri "$u" subject)"
[ "$(f keiri "$u" header_ascii)" = True ] || it_fail "a raw header is not ASCII"
[ "$(f keiri "$u" content_type)" = multipart/mixed ] || it_fail "content type: $(f keiri "$u" content_type)"
[ "$(f keiri "$u" structure)" = "multipart/mixed multipart/alternative text/plain text/html application/pdf" ] ||
	it_fail "structure: $(f keiri "$u" structure)"
[ "$(f keiri "$u" attachments)" = "report-c1-2026-05.pdf:application/pdf:$sum" ] ||
	it_fail "attachment: $(f keiri "$u" attachments) (want $sum)"
f keiri "$u" body | grep -q '2026年5月の監視レポートをお送りします。' || it_fail "text: $(f keiri "$u" body)"
[ "$(f keiri "$u" body_charset)" = utf-8 ] || it_fail "charset: $(f keiri "$u" body_charset)"
f keiri "$u" html | grep -q '<p>株式会社サンプル製作所 御中</p>' || it_fail "html: $(f keiri "$u" html)"
f keiri "$u" message_id | grep -q '^<mail\.[0-9a-f]*@mamori\.test>$' || it_fail "message id: $(f keiri "$u" message_id)"
[ "$(f keiri "$u" date_ok)" = True ] || it_fail "Date"
[ "$(f keiri "$u" auto_submitted)" = auto-generated ] || it_fail "Auto-Submitted"
f keiri "$u" from | grep -q 'mamori レポート <reports@mamori.test>' || it_fail "from: $(f keiri "$u" from)"
set -- $(uids boss)
check_mail boss "$1"
[ "$(f boss "$1" attachments)" = "report-c1-2026-05.pdf:application/pdf:$sum" ] || it_fail "boss's attachment"
[ "$(f boss "$1" message_id)" != "$(f keiri "$u" message_id)" ] || it_fail "two recipients, one Message-ID"
[ "$(db "SELECT count(*) FROM notify_mail WHERE key = 'report/c1/2026-05' AND status = 'sent' AND att IS NULL AND html IS NULL AND attempts = 1")" = 2 ] ||
	it_fail "rows: $(db "SELECT address, status, attempts, length(att) FROM notify_mail")"

# ---- the SMTP server unreachable, the process killed; the next run sends it ----
"$DRV" crash "$IT_TMP/down.conf" report/c1/2026-06 "$pdf" 3 keiri@probe.test \
	>"$IT_TMP/drv2.out" 2>"$IT_TMP/drv2.log"
[ $? -eq 3 ] || it_fail "crash run: $(cat "$IT_TMP/drv2.out" "$IT_TMP/drv2.log" | tail -5)"
grep -q '^sent 0 failed 0 pending 1$' "$IT_TMP/drv2.out" || it_fail "crash run: $(cat "$IT_TMP/drv2.out")"
grep -q 'tried again' "$IT_TMP/drv2.log" || it_fail "no retry logged: $(tail -5 "$IT_TMP/drv2.log")"
r=$(db "SELECT status || '|' || (attempts >= 2) || '|' || length(att) FROM notify_mail WHERE key = 'report/c1/2026-06'")
case $r in
pending\|1\|307209 | sending\|1\|307209) ;;
*) it_fail "after the crash: $r" ;;
esac
[ "$(nmail keiri)" -eq 1 ] || it_fail "delivered while the server was unreachable"
"$DRV" resume "$IT_TMP/good.conf" 30 >"$IT_TMP/drv3.out" 2>"$IT_TMP/drv3.log" ||
	it_fail "resume: $(cat "$IT_TMP/drv3.out" "$IT_TMP/drv3.log" | tail -5)"
grep -q '^sent 1 failed 0 pending 0$' "$IT_TMP/drv3.out" || it_fail "resume: $(cat "$IT_TMP/drv3.out")"
grep -q 'restored 1 unsent mails' "$IT_TMP/drv3.log" || it_fail "not restored: $(head -5 "$IT_TMP/drv3.log")"
it_wait_for 20 has_mail keiri 2 || it_fail "not delivered after the restart"
set -- $(uids keiri)
check_mail keiri "$2"
[ "$(f keiri "$2" attachments)" = "report-c1-2026-05.pdf:application/pdf:$sum" ] ||
	it_fail "the file read back from the store differs: $(f keiri "$2" attachments)"
[ "$(db "SELECT status || '|' || (att IS NULL) FROM notify_mail WHERE key = 'report/c1/2026-06'")" = "sent|1" ] ||
	it_fail "row after the restart: $(db "SELECT status, attempts, error FROM notify_mail WHERE key = 'report/c1/2026-06'")"
# a run with nothing to send sends nothing
"$DRV" resume "$IT_TMP/good.conf" 2 >"$IT_TMP/drv4.out" 2>"$IT_TMP/drv4.log"
sleep 2
[ "$(nmail keiri) $(nmail boss)" = "2 1" ] || it_fail "sent again: keiri $(nmail keiri), boss $(nmail boss)"
grep -q "$PW" "$IT_TMP"/drv*.log && it_fail "a password in the log"
exit 0
