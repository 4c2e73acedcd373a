#!/bin/sh
# it: long
# tls_clients: mamori's TLS clients refuse a server they must not trust and
# talk to one they must.  `openssl s_server` on loopback plays the server:
#
#   good       certificate for 127.0.0.1 from the configured CA
#   wronghost  from the configured CA, but for another host name
#   tls11      the good certificate, but TLS 1.1 only
#   selfsigned self-signed for 127.0.0.1 (not from the configured CA)
#
# Clients driven: mamorictl --url https://... --ca-file (libcurl),
# mamorid's MQTT connection with mqtt.tls (libmosquitto) and the email
# notifier over smtps (libcurl through plugins/lib/curlloop.c, the setup
# the webhook, sms and mail_latency plugins share).  Each must refuse
# wronghost, tls11 and selfsigned with that case's TLS error, and get
# through the handshake with good (mamorictl: s_server -www answers HTTP,
# which mamorictl then reads; mamorid: its MQTT CONNECT reaches s_server;
# email: the handshake completes and the mail then times out waiting for
# an SMTP greeting s_server never sends).
#
# Note: Debian 12's OpenSSL already refuses TLS 1.1 at its default
# security level, so the tls11 case guards against a regression in that
# default as much as against our explicit TLS 1.2 floor.
. tests/integration/lib.sh
it_init
command -v openssl >/dev/null 2>&1 || it_skip "openssl not installed"
[ -x "$MAMORICTL" ] || it_skip "$MAMORICTL not built"
cd "$IT_TMP" || exit 1
top=$OLDPWD

mkca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" \
		-out "$1.pem" 2>/dev/null
}
mkcert() { # name ca subjectAltName
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
		printf 'subjectAltName=%s\n' "$3" >"$1.ext" &&
		openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
			-extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
mkca ca || it_fail "cannot make the CA"
mkcert good ca "IP:127.0.0.1" || it_fail "cannot make the good certificate"
mkcert wronghost ca "DNS:wrong.example.net" || it_fail "cannot make the wrong-host certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout selfsigned.key -out selfsigned.pem 2>/dev/null ||
	it_fail "cannot make the self-signed certificate"
chmod 0600 ./*.key
cd "$top" || exit 1

# s_server NAME CERT [options...]: a server on a free port ($port), its
# output in $IT_TMP/NAME.log; SPID is its pid.
s_server() {
	name=$1 cert=$2
	shift 2
	port=$(it_free_port)
	# stdin held open (a FIFO with a sleeping writer): at EOF on its stdin
	# s_server ends the connection
	if [ ! -p "$IT_TMP/stdin" ]; then
		mkfifo "$IT_TMP/stdin" || it_fail "mkfifo"
		sleep 3600 >"$IT_TMP/stdin" &
		IT_PIDS="$IT_PIDS $!"
	fi
	openssl s_server -accept "127.0.0.1:$port" -cert "$IT_TMP/$cert.pem" \
		-key "$IT_TMP/$cert.key" "$@" <"$IT_TMP/stdin" >"$IT_TMP/$name.log" 2>&1 &
	SPID=$!
	IT_PIDS="$IT_PIDS $SPID"
	# "ACCEPT" once it listens (no probe connection: without -www, s_server
	# serves one connection and stops after it)
	it_wait_for 10 grep -q ACCEPT "$IT_TMP/$name.log" ||
		it_fail "s_server $name did not start: $(cat "$IT_TMP/$name.log")"
}
s_stop() {
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
}

# The TLS-level errors libcurl and OpenSSL print, any and per case.
TLS_ERR='SSL\|certificate\|TLS\|protocol version\|handshake\|alert'
ANY_BAD='host name\|protocol version\|self-signed\|self signed\|certificate'
expect() { # case -> the error that case must give
	case $1 in
	wronghost) echo 'host name' ;;
	tls11) echo 'protocol version' ;;
	selfsigned) echo 'self-signed\|self signed\|certificate verify failed' ;;
	esac
}

# ---- mamorictl --url https ----
ctl() { # name -> rc, output in $IT_TMP/ctl-name.out
	"$MAMORICTL" --url "https://127.0.0.1:$port" --ca-file "$IT_TMP/ca.pem" --timeout 5 status \
		>"$IT_TMP/ctl-$1.out" 2>&1
}
for case in good wronghost tls11 selfsigned; do
	case $case in
	good) s_server s-good good -www ;;
	wronghost) s_server s-wronghost wronghost -www ;;
	tls11) s_server s-tls11 good -www -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' ;;
	selfsigned) s_server s-selfsigned selfsigned -www ;;
	esac
	ctl "$case"
	rc=$?
	s_stop
	out=$(cat "$IT_TMP/ctl-$case.out")
	if [ "$case" = good ]; then
		# through TLS: s_server's status page is no JSON, but no TLS error
		printf '%s\n' "$out" | grep -qi "$TLS_ERR" &&
			it_fail "mamorictl refused the good server: $out"
		grep -q 'ACCEPT\|GET /' "$IT_TMP/s-good.log" ||
			it_fail "the good server saw no request: $(cat "$IT_TMP/s-good.log")"
		echo "mamorictl good: through TLS ($out)" | head -c 200
		echo
	else
		[ $rc -ne 0 ] || it_fail "mamorictl accepted the $case server: $out"
		printf '%s\n' "$out" | grep -qi "$(expect "$case")" ||
			it_fail "mamorictl refused the $case server without the expected TLS error: $out"
		echo "mamorictl $case: refused: $out"
	fi
done

# ---- mamorid's MQTT connection (mqtt.tls) ----
mamorid_conf() {
	cat <<EOC
daemon = { state_dir = "$IT_TMP/state-$1"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid"; node = "tls-node";
         tls = { ca_file = "$IT_TMP/ca.pem"; }; };
customers = ( );
EOC
}
# s_server without -www echoes what the client sends: the MQTT CONNECT
# packet carries the protocol name "MQTT".
mqtt_connect_seen() { grep -q MQTT "$IT_TMP/m-$1.log"; }
tls_err_logged() { grep ' mqtt:' "$IT_TMP/mamorid-$1.log" | grep -qi "$(expect "$1")"; }
for case in good wronghost tls11 selfsigned; do
	case $case in
	good) s_server "m-$case" good ;;
	wronghost) s_server "m-$case" wronghost ;;
	tls11) s_server "m-$case" good -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' ;;
	selfsigned) s_server "m-$case" selfsigned ;;
	esac
	mkdir -p "$IT_TMP/state-$case"
	mamorid_conf "$case" >"$IT_TMP/m-$case.conf"
	it_bg "mamorid-$case" "$MAMORID" -f -c "$IT_TMP/m-$case.conf"
	mpid=$IT_LAST_PID
	if [ "$case" = good ]; then
		it_wait_for 15 mqtt_connect_seen "$case" ||
			it_fail "mamorid's MQTT CONNECT did not reach the good server: $(tail -5 "$IT_TMP/mamorid-$case.log")"
		echo "mamorid good: MQTT CONNECT sent over TLS"
	else
		it_wait_for 15 tls_err_logged "$case" ||
			it_fail "mamorid logged no TLS error against $case: $(tail -5 "$IT_TMP/mamorid-$case.log")"
		mqtt_connect_seen "$case" && it_fail "mamorid sent its MQTT CONNECT to the $case server"
		kill -0 "$mpid" 2>/dev/null || it_fail "mamorid exited on the $case server"
		echo "mamorid $case: refused: $(grep ' mqtt:' "$IT_TMP/mamorid-$case.log" | grep -i "$(expect "$case")" | head -1)"
	fi
	kill "$mpid" 2>/dev/null
	wait "$mpid" 2>/dev/null
	s_stop
done

# ---- the email notifier (libcurl, smtps) ----
# Driven by tests/integration/notify_mail_drv.c (a mamorid core with the
# real notifier plugins).  s_server speaks no SMTP: against the good one
# the handshake completes (s_server prints the cipher) and the mail then
# times out waiting for a greeting; against the others the handshake
# fails with the TLS reason in the log.
DRV=${DRV:-$B/tests/it/notify_mail_drv}
if [ -x "$DRV" ] && [ -f "$PLUGIN_DIR/email.so" ]; then
	abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
	printf 'x\n' >"$IT_TMP/doc.pdf"
	for case in good wronghost tls11 selfsigned; do
		case $case in
		good) s_server "e-$case" good ;;
		wronghost) s_server "e-$case" wronghost ;;
		tls11) s_server "e-$case" good -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' ;;
		selfsigned) s_server "e-$case" selfsigned ;;
		esac
		mkdir -p "$IT_TMP/estate-$case"
		cat >"$IT_TMP/e-$case.conf" <<EOC
daemon = { state_dir = "$IT_TMP/estate-$case"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori";
           log_level = "info"; node = "it"; };
notify = {
  channels = (
    { name = "mail"; plugin = "email"; from = "reports@mamori.test";
      smtp = { url = "smtps://127.0.0.1:$port"; ca_file = "$IT_TMP/ca.pem"; timeout = "3s"; }; } );
  retry_min = "10s"; retry_max = "10s";
};
EOC
		"$DRV" send "$IT_TMP/e-$case.conf" tls/$case "$IT_TMP/doc.pdf" 5 to@probe.test \
			>"$IT_TMP/edrv-$case.out" 2>"$IT_TMP/edrv-$case.err"
		s_stop
		if [ "$case" = good ]; then
			grep -q 'CIPHER is\|Shared ciphers' "$IT_TMP/e-$case.log" ||
				it_fail "the email notifier did not complete TLS with the good server: $(tail -3 "$IT_TMP/edrv-$case.err")"
			grep 'notify: mail' "$IT_TMP/edrv-$case.err" | grep -qi "$ANY_BAD" &&
				it_fail "the email notifier refused the good server: $(grep 'notify: mail' "$IT_TMP/edrv-$case.err" | head -1)"
			echo "email good: TLS handshake completed ($(grep 'notify: mail' "$IT_TMP/edrv-$case.err" | head -1))"
		else
			# (with TLS 1.3 the server's side completes before the client
			# checks the certificate: the client's log is what counts)
			grep -i "$(expect "$case")" "$IT_TMP/edrv-$case.err" >/dev/null ||
				it_fail "the email notifier refused $case without the expected TLS error: $(tail -3 "$IT_TMP/edrv-$case.err")"
			echo "email $case: refused: $(grep -i "$(expect "$case")" "$IT_TMP/edrv-$case.err" | head -1)"
		fi
	done
else
	echo "email notifier: skipped ($DRV or email.so not built)"
fi
exit 0
