#!/bin/sh
# it: serial
# mail_latency end to end: a real mamorid runs mail_latency checks against a
# real Postfix (SMTP + STARTTLS / implicit TLS, AUTH through Dovecot SASL)
# delivering over LMTP to a real Dovecot (IMAP), all on loopback ports
# (tests/integration/mailserver.sh).  Several probe checks share one
# mailbox, so each must pick out its own probes; queue mode reads the real
# Postfix queue with postqueue -j.  States are read from the state db.
. tests/integration/lib.sh
. tests/integration/mailserver.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/mail_latency.so" ] || it_skip "$PLUGIN_DIR/mail_latency.so not built"
[ -x /usr/sbin/postfix ] || it_skip "postfix missing (Debian package postfix)"
[ -x /usr/sbin/dovecot ] || it_skip "dovecot missing (Debian packages dovecot-imapd dovecot-lmtpd)"
command -v mosquitto >/dev/null || it_skip "mosquitto missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
command -v openssl >/dev/null || it_skip "openssl missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/ms"
chmod 755 "$IT_TMP"

# stop the servers (even half-started ones: they daemonize) before lib.sh's
# cleanup removes the directory
trap 'ms_stop "$IT_TMP/ms"; it_cleanup' EXIT
MS_SLOW_DELAY=3 ms_start "$IT_TMP/ms" >"$IT_TMP/ms.env" 2>"$IT_TMP/ms.err"
rc=$?
[ $rc -eq 77 ] && it_skip "mail servers cannot run here: $(cat "$IT_TMP/ms.err")"
[ $rc -eq 0 ] || it_fail "mail servers did not start: $(cat "$IT_TMP/ms.err")"
. "$IT_TMP/ms.env"

mqtt_port=$(it_free_port)
http_port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
	>"$IT_TMP/mosquitto.conf"
it_bg mosquitto mosquitto -c "$IT_TMP/mosquitto.conf"

abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
# probe CHECK-NAME SMTP-URL RCPT PASSWORD-FILE EXTRA: one probe check block
probe() {
	cat <<EOF
          { plugin = "mail_latency"; name = "$1"; service = "mail"; max_attempts = 1;
            smtp = { url = "$2"; user = "probe"; password_file = "$4";
                     from = "monitor@mamori.test"; to = "$3"; ca_file = "$MS_CA"; };
            imap = { url = "imap://127.0.0.1:$MS_IMAP_PORT"; user = "probe";
                     password_file = "$MS_PASSWORD_FILE"; mailbox = "INBOX"; ca_file = "$MS_CA"; };
            poll_interval = "300ms"; $5 },
EOF
}
{
	cat <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $mqtt_port; client_id = "mamorid-it-mail"; topic_prefix = "mamori"; };
http = { listen = "127.0.0.1:$http_port"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-test"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-test"; } );
customers = (
  { id = "c0001"; name = "Mail Test Co"; region = "aichi";
    assets = (
      { name = "mail.test"; type = "host"; address = "127.0.0.1";
        checks = (
EOF
	probe fast "smtp://127.0.0.1:$MS_SMTP_PORT" probe@probe.test "$MS_PASSWORD_FILE" \
		'warning = "5s"; critical = "10s"; lost_after = "15s"; timeout = "40s"; interval = "5s";'
	probe fast_tls "smtps://127.0.0.1:$MS_SMTPS_PORT" probe@probe.test "$MS_PASSWORD_FILE" \
		'warning = "5s"; critical = "10s"; lost_after = "15s"; timeout = "40s"; interval = "5s";'
	probe slow "smtp://127.0.0.1:$MS_SMTP_PORT" probe@slow.test "$MS_PASSWORD_FILE" \
		'warning = "2s"; critical = "10s"; lost_after = "15s"; timeout = "40s"; interval = "5s";'
	probe lost "smtp://127.0.0.1:$MS_SMTP_PORT" probe@lost.test "$MS_PASSWORD_FILE" \
		'warning = "1s"; critical = "2s"; lost_after = "3s"; timeout = "30s"; interval = "5s";'
	probe badauth "smtp://127.0.0.1:$MS_SMTP_PORT" probe@probe.test "$MS_BAD_PASSWORD_FILE" \
		'warning = "1s"; critical = "2s"; lost_after = "3s"; timeout = "30s"; interval = "5s";'
	cat <<EOF
          { plugin = "mail_latency"; name = "queue"; mode = "queue"; max_attempts = 1;
            queue_command = "$MS_POSTQUEUE"; warning = "1h"; critical = "2h";
            count_warning = 50; count_critical = 100; interval = "3s"; }
        ); } ); } );
EOF
} >"$IT_TMP/mamori.conf"

"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"

it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -f "$IT_STATE_DIR/mamori.db" || it_fail "no state db"

a=mail.test
it_wait_state 30 c0001 $a fast "0|" || it_fail "fast"
it_wait_state 30 c0001 $a fast_tls "0|" || it_fail "fast_tls"
it_wait_state 30 c0001 $a slow "1|" || it_fail "slow (3 s transport, warning 2 s)"
it_wait_state 30 c0001 $a lost "2|" || it_fail "lost"
it_wait_state 30 c0001 $a badauth "3|" || it_fail "badauth"
it_wait_state 30 c0001 $a queue "0|" || it_fail "queue"
it_state c0001 $a fast | grep -q "delivered in" || it_fail "fast: $(it_state c0001 $a fast)"
it_state c0001 $a lost | grep -q "not delivered" || it_fail "lost: $(it_state c0001 $a lost)"
it_state c0001 $a badauth | grep -q "SMTP authentication failed" ||
	it_fail "badauth: $(it_state c0001 $a badauth)"
# the probes of four checks share one mailbox: none is taken for another's
grep -q "late probe" "$IT_TMP/mamorid.log" && it_fail "a probe was mistaken for a late one"
# no password in the daemon's log
grep -q "$(cat "$MS_PASSWORD_FILE")" "$IT_TMP/mamorid.log" && it_fail "password in the log"

# Mail held in the queue: queue mode sees it.
ms_hold "$IT_TMP/ms" on
sed 's#count_warning = 50; count_critical = 100#count_warning = 0; count_critical = 100#' \
	"$IT_TMP/mamori.conf" >"$IT_TMP/m2.conf" && cp "$IT_TMP/m2.conf" "$IT_TMP/mamori.conf"
kill -HUP "$MAMORID_PID"
it_wait_state 40 c0001 $a queue "1|" || it_fail "queue with held mail"
it_state c0001 $a queue | grep -q "queued" || it_fail "queue: $(it_state c0001 $a queue)"
ms_hold "$IT_TMP/ms" off
ms_release "$IT_TMP/ms"

kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
exit 0
