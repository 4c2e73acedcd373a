#!/bin/sh
# it: long
# report_mail: the monthly report's schedule and delivery end to end.  A
# real mamorid whose clock is moved with libfaketime (Debian's faketime):
#   1. on a day of month M-1 it runs its checks for a few seconds and
#      stops (the state history of that month is its own);
#   2. on the first business day of month M (Japan's calendar: the first
#      weekday that is not a holiday of share/mamori/holidays/jp.csv,
#      10:00 in Tokyo) the schedule makes M-1's PDF and hands it to the
#      e-mail channel (Postfix with STARTTLS and AUTH, Dovecot: the real
#      servers of mailserver.sh, their certificates valid at that date);
# the test reads the mail back over IMAP: one per address, the Japanese
# subject, the summary as the HTML body, the PDF attached (pdftotext
# names the customer and the month); report_run says 'handed'; a restart
# on the same day sends nothing again.  Then the operator's "send it
# again" (mamorictl report --send, POST .../report/send): refusals that
# send nothing (usage, a month not ended, a customer without addresses,
# malformed bodies), then one mail more per address, complete (HTML body,
# PDF in the language asked), with a Message-ID of its own, sent once.
# Why faketime: the schedule's rule is "the first business day of the
# month, in the customer's calendar"; only a clock that reads that day
# tests it in a real daemon.  libev's timers run on the monotonic clock,
# left real (FAKETIME_DONT_FAKE_MONOTONIC=1): only the wall clock moves.
. tests/integration/lib.sh
. tests/integration/mailserver.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -x "$MAMORICTL" ] || it_skip "$MAMORICTL not built"
[ -f "$PLUGIN_DIR/email.so" ] || it_skip "$PLUGIN_DIR/email.so not built"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "$PLUGIN_DIR/dummy.so not built"
FAKELIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[ -n "$FAKELIB" ] || it_skip "libfaketime missing (Debian package faketime)"
[ -x /usr/sbin/postfix ] || it_skip "postfix missing (Debian package postfix)"
[ -x /usr/sbin/dovecot ] || it_skip "dovecot missing (Debian packages dovecot-imapd dovecot-lmtpd)"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v curl >/dev/null || it_skip "curl missing"
command -v pdftotext >/dev/null || it_skip "pdftotext missing (Debian package poppler-utils)"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/ms" "$IT_TMP/att"
chmod 755 "$IT_TMP"
trap 'ms_stop "$IT_TMP/ms"; it_cleanup' EXIT
# the clock is moved up to 3 months ahead: certificates valid long enough
MS_CERT_DAYS=3650
ms_start "$IT_TMP/ms" >"$IT_TMP/ms.env" 2>"$IT_TMP/ms.err"
rc=$?
[ $rc -eq 77 ] && it_skip "mail servers cannot run here: $(cat "$IT_TMP/ms.err")"
[ $rc -eq 0 ] || it_fail "mail servers did not start: $(cat "$IT_TMP/ms.err")"
. "$IT_TMP/ms.env"
PW=$(cat "$MS_PASSWORD_FILE")
for u in keiri boss; do
	printf '%s:{PLAIN}%s\n' "$u" "$PW" >>"$IT_TMP/ms/dovecot/users"
done

# The dates: month M is two months from now (never January, May or
# November, whose first days are near holidays: the rule is tested in
# test_report; here one plain first business day is enough), its first
# business day in Japan found from the holiday table the daemon reads.
set -- $(python3 - share/mamori/holidays/jp.csv <<'PY'
import datetime, sys
hol = set(l.split(",")[0] for l in open(sys.argv[1]) if l[:1].isdigit())
t = datetime.date.today()
y, m = t.year, t.month + 2
while True:
    if m > 12:
        y, m = y + 1, m - 12
    if m not in (1, 5, 11):
        break
    m += 1
d = datetime.date(y, m, 1)
while d.weekday() >= 5 or d.isoformat() in hol:
    d += datetime.timedelta(days=1)
p = datetime.date(y, m, 1) - datetime.timedelta(days=1)
# M-1's data: its 20th, 10:00 in Tokyo (01:00 UTC); the day: 10:00 in Tokyo
print("%s 01:00:00" % p.replace(day=20).isoformat(), "%s 01:00:00" % d.isoformat(),
      "%04d-%02d" % (p.year, p.month), p.year, p.month)
PY
)
[ $# -eq 7 ] || it_fail "cannot compute the dates: $*"
BEFORE="$1 $2"
DAY="$3 $4"
MONTH=$5
YEAR=$6
MON=$7

sock=$IT_TMP/api.sock
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "info"; node = "it"; flush_interval = "50ms"; };
http = { listen = "unix:$sock"; };
calendars = ( { name = "jp-business"; timezone = "Asia/Tokyo"; hours = [ "mon-fri 09:00-18:00" ];
                holidays = "jp"; } );
reports = { calendar = "jp-business"; lang = "en"; schedule = true; };
centers = ( { name = "cc-east"; calendar = "jp-business";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
notify = {
  channels = (
    { name = "mail"; plugin = "email"; from = "reports@mamori.test"; from_name = "mamori レポート";
      smtp = { url = "smtp://127.0.0.1:$MS_SMTP_PORT"; user = "probe"; password_file = "$MS_PASSWORD_FILE";
               ca_file = "$MS_CA"; timeout = "10s"; }; } );
  message_id_domain = "mamori.test"; retry_min = "500ms"; retry_max = "1s";
};
customers = (
  { id = "c1"; name = "株式会社サンプル製作所";
    report = { email = [ "keiri@probe.test", "boss@probe.test" ]; lang = "ja"; };
    assets = ( { name = "pc-01"; checks = ( { plugin = "dummy"; name = "defender"; service = "defender";
                                              interval = "1s"; output = "Defender OK"; } ); },
               { name = "utm-1"; type = "utm"; checks = ( { plugin = "dummy"; name = "utm"; service = "utm";
                                              interval = "1s"; output = "UTM OK"; } ); } ); },
  { id = "c2"; name = "No Report Co.";
    assets = ( { name = "pc-01"; checks = ( { plugin = "dummy"; name = "defender"; interval = "1h"; } ); } ); } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"

# month M-1's run: the schedule off (on the 20th it would make M-2's report)
sed 's/schedule = true;/schedule = false;/' "$IT_TMP/mamori.conf" >"$IT_TMP/before.conf"

# mamorid at a faked wall clock (UTC), started from that instant on: the
# library preloaded into mamorid itself (the faketime command would fork
# it as a child, out of reach of the test's kill); a sanitizer build
# accepts a preload before its runtime.  The log: $IT_TMP/mamorid.log.
fake_mamorid() { # "YYYY-MM-DD HH:MM:SS" [CONF]
	it_bg mamorid env TZ=UTC LD_PRELOAD="$FAKELIB" FAKETIME="@$1" FAKETIME_DONT_FAKE_MONOTONIC=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$MAMORID" -f -c "${2:-$IT_TMP/mamori.conf}"
	MAMORID_PID=$IT_LAST_PID
	it_wait_for 10 test -S "$sock" || it_fail "mamorid did not start at $1: $(tail -5 "$IT_TMP/mamorid.log")"
}
stop_mamorid() {
	kill "$MAMORID_PID"
	it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null" || it_fail "mamorid did not stop"
	cat "$IT_TMP/mamorid.log" >>"$IT_TMP/earlier.log"
}
imap() { # USER ARGS...
	_u=$1
	shift
	curl -s --max-time 10 --ssl-reqd --cacert "$MS_CA" --user "$_u:$PW" "$@"
}
uids() { imap "$1" "imap://127.0.0.1:$MS_IMAP_PORT/INBOX" -X "UID SEARCH ALL" | tr -d '\r' | sed -n 's/^\* SEARCH//p'; }
nmail() { uids "$1" | wc -w; }
has_mail() { [ "$(nmail "$1")" -ge "$2" ]; }
check_mail() { # USER UID -> $IT_TMP/m.USER.UID, attachments in $IT_TMP/att/USER.UID/
	mkdir -p "$IT_TMP/att/$1.$2"
	imap "$1" "imap://127.0.0.1:$MS_IMAP_PORT/INBOX;UID=$2" |
		MAILCHECK_SAVE="$IT_TMP/att/$1.$2" python3 tests/integration/mailcheck.py >"$IT_TMP/m.$1.$2" ||
		it_fail "cannot read mail $2 of $1"
}
f() { sed -n "s/^$3=//p" "$IT_TMP/m.$1.$2"; }
db() { sqlite3 -cmd '.timeout 3000' "$IT_STATE_DIR/mamori.db" "$1"; }

# ---- 1. a few seconds of month M-1 ----
fake_mamorid "$BEFORE" "$IT_TMP/before.conf"
it_wait_for 20 sh -c "[ \$(sqlite3 -cmd '.timeout 3000' '$IT_STATE_DIR/mamori.db' \"SELECT count(*) FROM state_change WHERE customer = 'c1'\" 2>/dev/null) -ge 2 ]" ||
	it_fail "no state history in M-1: $(tail -5 "$IT_TMP/mamorid.log")"
t=$(db "SELECT min(t) FROM state_change WHERE customer = 'c1'")
want=$(python3 -c "import calendar,time; print(calendar.timegm(time.strptime('$BEFORE', '%Y-%m-%d %H:%M:%S')))")
# the faked clock is what the daemon records (within a minute of it)
[ "$(python3 -c "print(abs($t - $want) < 60)")" = True ] || it_fail "state history at $t, faked $want"
sleep 2
stop_mamorid
[ "$(db "SELECT count(*) FROM report_run")" = 0 ] || it_fail "a report made in M-1"
# the run is recorded, its clean stop too (what tells the gap)
[ "$(db "SELECT count(*) || '|' || sum(stopped) || '|' || (min(seen) >= $want) FROM monitor_run")" = "1|1|1" ] ||
	it_fail "monitor_run after the first run: $(db "SELECT * FROM monitor_run")"

# ---- 2. the first business day of M: made and mailed ----
fake_mamorid "$DAY"
it_wait_for 60 has_mail keiri 1 || it_fail "no report mailed to keiri: $(grep report "$IT_TMP/mamorid.log" | tail -5)"
it_wait_for 20 has_mail boss 1 || it_fail "no report mailed to boss"
grep -q "c1 $MONTH: monthly report made in .* handed to delivery" "$IT_TMP/mamorid.log" ||
	it_fail "not logged: $(grep report "$IT_TMP/mamorid.log" | tail -5)"
[ "$(db "SELECT status FROM report_run WHERE customer = 'c1' AND month = '$MONTH'")" = handed ] ||
	it_fail "report_run: $(db "SELECT * FROM report_run")"
[ "$(db "SELECT count(*) FROM report_run WHERE customer = 'c2'")" = 0 ] || it_fail "a report for c2 (no report group)"
it_wait_for 20 sh -c "[ \$(sqlite3 -cmd '.timeout 3000' '$IT_STATE_DIR/mamori.db' \"SELECT count(*) FROM notify_mail WHERE key = 'report/c1/$MONTH' AND status = 'sent'\") = 2 ]" ||
	it_fail "outbox: $(db "SELECT address, status, attempts, error FROM notify_mail")"
subject="月次セキュリティレポート ${YEAR}年${MON}月 (株式会社サンプル製作所 様)"
for u in keiri boss; do
	[ "$(nmail $u)" = 1 ] || it_fail "$u got $(nmail $u) mails"
	set -- $(uids $u)
	check_mail $u "$1"
	[ "$(f $u "$1" subject)" = "$subject" ] || it_fail "$u's subject: $(f $u "$1" subject)"
	[ "$(f $u "$1" to)" = "$u@probe.test" ] || it_fail "$u's To: $(f $u "$1" to)"
	[ "$(f $u "$1" structure)" = "multipart/mixed multipart/alternative text/plain text/html application/pdf" ] ||
		it_fail "structure: $(f $u "$1" structure)"
	f $u "$1" html | grep -q "<h1[^>]*>$subject</h1>" || it_fail "$u's HTML body: $(f $u "$1" html | head -c 400)"
	f $u "$1" html | grep -q '株式会社サンプル製作所' || it_fail "the HTML body does not name the customer"
	# the summary paragraph: monitoring began on the 20th (the first run)
	f $u "$1" body | grep -q "監視は${YEAR}年${MON}月20日に始まりました。" || it_fail "the text body: $(f $u "$1" body | head -c 300)"
	f $u "$1" html | grep -q "監視は${YEAR}年${MON}月20日に始まりました。" || it_fail "the summary is not in the HTML body"
	f $u "$1" body | grep -q "今月は監視そのものが合計.*止まっていました" || it_fail "the summary does not tell the monitoring gap"
	pdf=$IT_TMP/att/$u.$1/report-c1-$MONTH.pdf
	[ -f "$pdf" ] || it_fail "no attachment report-c1-$MONTH.pdf: $(f $u "$1" attachments)"
	head -c 5 "$pdf" | grep -q '%PDF-' || it_fail "the attachment is not a PDF"
	pdftotext "$pdf" "$pdf.txt" || it_fail "pdftotext"
	grep -q '株式会社サンプル製作所' "$pdf.txt" || it_fail "the PDF does not name the customer"
	grep -q "${YEAR}年${MON}月" "$pdf.txt" || it_fail "the PDF does not name the month: $(head -5 "$pdf.txt")"
	# mamorid was stopped from the 20th on: that is said, not counted as up
	grep -q "今月は監視そのものが合計" "$pdf.txt" || it_fail "the PDF does not tell the monitoring gap"
	# the SLA terms of the center its alerts go to
	grep -q "contact-center: 15分以内に受付、4時間以内に解決" "$pdf.txt" || it_fail "the PDF does not state the SLA terms"
done
cp "$IT_TMP/att/keiri.$(uids keiri | awk '{print $1}')/report-c1-$MONTH.pdf" "$IT_TMP/first.pdf"

# ---- 3. a restart on the same day sends nothing again ----
stop_mamorid
fake_mamorid "$DAY"
# the schedule's first walk is 5 s after the start; give it two
sleep 8
grep -q "c1 $MONTH: monthly report made" "$IT_TMP/mamorid.log" && it_fail "made again after the restart"
[ "$(nmail keiri) $(nmail boss)" = "1 1" ] || it_fail "mailed again after the restart: $(nmail keiri) $(nmail boss)"
[ "$(db "SELECT count(*) FROM report_run WHERE customer = 'c1'")" = 1 ] || it_fail "report_run: $(db "SELECT * FROM report_run")"

# ---- 4. sent again on request (a customer lost the mail) ----
ctl() { # WANT ARGS...
	_want=$1
	shift
	"$MAMORICTL" --socket "$sock" "$@" >"$IT_TMP/ctl.out" 2>"$IT_TMP/ctl.err"
	_rc=$?
	[ "$_rc" -eq "$_want" ] || it_fail "mamorictl $*: exit $_rc, expected $_want: $(cat "$IT_TMP/ctl.out" "$IT_TMP/ctl.err")"
}
mid1=$(f keiri "$(uids keiri | awk '{print $1}')" message_id)
# refusals first: nothing is sent by them
ctl 2 report --customer c1 --month "$MONTH" --send --format pdf
ctl 2 report --customer c1 --month "$MONTH" --send -o "$IT_TMP/x.pdf"
ctl 1 report --customer c1 --month "$(echo "$DAY" | cut -c1-7)" --send
grep -q "has not ended" "$IT_TMP/ctl.err" || it_fail "this month: $(cat "$IT_TMP/ctl.err")"
ctl 1 report --customer c2 --month "$MONTH" --send
grep -q "no report e-mail addresses" "$IT_TMP/ctl.err" || it_fail "c2: $(cat "$IT_TMP/ctl.err")"
ctl 4 report --customer nobody --month "$MONTH" --send
ctl 2 report --customer c1 --month "$MONTH" --send --lang fr
api_send() { # CUSTOMER BODY -> "STATUS BODY"
	curl -s --max-time 30 --unix-socket "$sock" -X POST -H 'Content-Type: application/json' \
		-d "$2" -w ' %{http_code}' "http://local/api/v1/customers/$1/report/send"
}
case "$(api_send c1 '{"month":"2027-1"}')" in *'"bad_body"'*' 400') ;; *) it_fail "a malformed month: $(api_send c1 '{"month":"2027-1"}')" ;; esac
case "$(api_send c1 '{"month":"'"$MONTH"'","to":"x@evil.test"}')" in *' 400') ;; *) it_fail "an unknown member was taken" ;; esac
case "$(api_send c1 '[1,2]')" in *' 400') ;; *) it_fail "a body that is not an object" ;; esac
sleep 1
[ "$(nmail keiri) $(nmail boss)" = "1 1" ] || it_fail "a refused request sent something"
# the real one, in English this time
ctl 0 report --customer c1 --month "$MONTH" --send --lang en
grep -q "queued" "$IT_TMP/ctl.out" || it_fail "mamorictl: $(cat "$IT_TMP/ctl.out")"
it_wait_for 30 has_mail keiri 2 || it_fail "not mailed again to keiri: $(grep 'report\|notify' "$IT_TMP/mamorid.log" | tail -5)"
it_wait_for 20 has_mail boss 2 || it_fail "not mailed again to boss"
grep -q "c1 $MONTH: monthly report made in .* handed to delivery again on request" "$IT_TMP/mamorid.log" ||
	it_fail "not logged: $(grep report "$IT_TMP/mamorid.log" | tail -3)"
for u in keiri boss; do
	set -- $(uids $u)
	check_mail $u "$2"
	[ "$(f $u "$2" subject)" = "Monthly security report $MONTH (株式会社サンプル製作所)" ] ||
		it_fail "$u's second subject: $(f $u "$2" subject)"
	[ "$(f $u "$2" structure)" = "multipart/mixed multipart/alternative text/plain text/html application/pdf" ] ||
		it_fail "the second mail lacks a part: $(f $u "$2" structure)"
	pdf=$IT_TMP/att/$u.$2/report-c1-$MONTH.pdf
	pdftotext "$pdf" "$pdf.txt" || it_fail "the second PDF"
	grep -q "Monthly security report" "$pdf.txt" || it_fail "the second PDF is not the English report"
	grep -q "contact-center: acknowledged within 15 min, resolved within 4 h" "$pdf.txt" || it_fail "the English terms"
	grep -q '株式会社サンプル製作所' "$pdf.txt" || it_fail "the second PDF does not name the customer"
done
[ "$(f keiri "$(uids keiri | awk '{print $2}')" message_id)" != "$mid1" ] || it_fail "mailed again with the same Message-ID"
[ "$(db "SELECT status || '|' || detail FROM report_run WHERE customer = 'c1' AND month = '$MONTH'")" = "handed|sent again on request" ] ||
	it_fail "report_run after the resend: $(db "SELECT * FROM report_run")"
it_wait_for 20 sh -c "[ \$(sqlite3 -cmd '.timeout 3000' '$IT_STATE_DIR/mamori.db' \"SELECT count(*) FROM notify_mail WHERE key = 'report/c1/$MONTH' AND status = 'sent' AND attempts = 1 AND att IS NULL\") = 2 ]" ||
	it_fail "outbox after the resend: $(db "SELECT address, status, attempts, error FROM notify_mail")"
sleep 2
[ "$(nmail keiri) $(nmail boss)" = "2 2" ] || it_fail "sent more than once: $(nmail keiri) $(nmail boss)"
grep -q "$PW" "$IT_TMP/mamorid.log" "$IT_TMP/earlier.log" && it_fail "a password in the log"
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
echo "PASS $IT_NAME"
exit 0
