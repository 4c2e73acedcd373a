# Real mail servers for the mail_latency tests: Postfix (SMTP, STARTTLS and
# implicit TLS, AUTH through Dovecot SASL) delivering over LMTP to Dovecot
# (IMAP with STARTTLS, IMAPS), all on loopback ports picked at start, all
# state in one temp directory.  No system config is touched.
#
# Use it either sourced (functions below) or as a command:
#   sh tests/integration/mailserver.sh start DIR   # prints KEY=VALUE lines, exit 0
#                                                  # or 77 if the servers cannot run
#   sh tests/integration/mailserver.sh stop DIR
#
# Recipient domains (all land in the mailbox of user "probe"):
#   probe@probe.test  normal path: Postfix -> LMTP -> Dovecot
#   probe@slow.test   delayed path: a pipe transport that waits MS_SLOW_DELAY
#                     seconds (default 4) then delivers with dovecot-lda
#   probe@lost.test   accepted, then discarded (never delivered)
# A recipient access map can put mail on hold (ms_hold DIR on|off) and
# `ms_release DIR` releases the hold queue.
#
# Postfix's master must start as root (it drops privileges itself); when
# not root the start reports 77 (skip) with the reason.

ms_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()' 2>/dev/null ||
		perl -MIO::Socket::INET -e 'my $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1) or die; print $s->sockport,"\n"'
}

ms_die() {
	echo "mailserver: $*" >&2
	return 77
}

# ms_certs DIR: a CA and a server certificate for 127.0.0.1 / localhost, valid
# for MS_CERT_DAYS days (2 by default; a test that fakes the clock months
# ahead, report_mail.sh, sets more).
ms_certs() {
	_days=${MS_CERT_DAYS:-2}
	_d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days "$_days" -subj "/CN=mamori test CA" \
		-keyout "$_d/ca.key" -out "$_d/ca.pem" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$_d/key.pem" -out "$_d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$_d/san.ext"
	openssl x509 -req -in "$_d/server.csr" -CA "$_d/ca.pem" -CAkey "$_d/ca.key" \
		-CAcreateserial -days "$_days" -extfile "$_d/san.ext" -out "$_d/cert.pem" >/dev/null 2>&1
}

ms_dovecot_conf() {
	_d=$1
	cat >"$_d/dovecot/dovecot.conf" <<EOF
base_dir = $_d/dovecot/run
state_dir = $_d/dovecot/state
log_path = $_d/dovecot/dovecot.log
instance_name = mamori-test-$MS_IMAP_PORT
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$_d/cert.pem
ssl_key = <$_d/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:$_d/mail/%n
first_valid_uid = 1
mail_uid = $MS_MAIL_USER
mail_gid = $MS_MAIL_GROUP
default_internal_user = $MS_INTERNAL_USER
default_login_user = $MS_LOGIN_USER
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $_d/dovecot/users
}
userdb {
  driver = static
  args = uid=$MS_MAIL_USER gid=$MS_MAIL_GROUP home=$_d/mail/%n allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $MS_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $MS_IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $MS_LMTP_PORT
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
  unix_listener auth-userdb {
    mode = 0666
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol lmtp {
  auth_username_format = %n
}
EOF
	printf 'probe:{PLAIN}%s\n' "$MS_PASSWORD" >"$_d/dovecot/users"
}

ms_postfix_conf() {
	_d=$1
	_pf=$_d/postfix
	cat >"$_pf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $_pf/queue
data_directory = $_pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.mamori.test
mydomain = mamori.test
myorigin = mamori.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
biff = no
maillog_file = $_pf/maillog
maillog_file_prefixes = $_d
smtp_dns_support_level = disabled
disable_dns_lookups = yes
virtual_mailbox_domains = probe.test
virtual_transport = lmtp:inet:127.0.0.1:$MS_LMTP_PORT
transport_maps = texthash:$_pf/transport
smtpd_recipient_restrictions = check_recipient_access texthash:$_pf/rcpt_access
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_cert_file = $_d/cert.pem
smtpd_tls_key_file = $_d/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $_d/dovecot/run/auth-postfix
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s
EOF
	# chroot column "n" everywhere: the services run from our temp dir.
	cat >"$_pf/master.cf" <<EOF
127.0.0.1:$MS_SMTP_PORT inet n - n - - smtpd
127.0.0.1:$MS_SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
slowpipe unix - n n - - pipe
  flags=q user=$MS_MAIL_USER argv=/bin/sh $_d/slow.sh \${sender}
EOF
	printf 'slow.test slowpipe:\nlost.test discard:lost\n' >"$_pf/transport"
	: >"$_pf/rcpt_access"
	cat >"$_d/slow.sh" <<EOF
#!/bin/sh
# delayed transport: hold the message MS_SLOW_DELAY seconds, then deliver it.
sleep $MS_SLOW_DELAY
exec /usr/lib/dovecot/dovecot-lda -c $_d/dovecot/dovecot.conf -o log_path=/dev/stderr -d probe -f "\$1"
EOF
}

# ms_start DIR: writes DIR/env (KEY=VALUE) and starts both servers.
ms_start() {
	_d=$1
	[ "$(id -u)" = 0 ] || { ms_die "Postfix's master needs root to start (uid $(id -u))"; return 77; }
	[ -x /usr/sbin/postfix ] || { ms_die "postfix not installed"; return 77; }
	[ -x /usr/sbin/dovecot ] || { ms_die "dovecot not installed"; return 77; }
	[ -x /usr/lib/dovecot/lmtp ] || { ms_die "dovecot-lmtpd not installed"; return 77; }
	id postfix >/dev/null 2>&1 || { ms_die "no postfix user"; return 77; }
	mkdir -p "$_d/dovecot/run" "$_d/dovecot/state" "$_d/mail" "$_d/postfix/queue" \
		"$_d/postfix/data" || return 1
	chmod 755 "$_d"
	MS_MAIL_USER=nobody
	MS_MAIL_GROUP=nogroup
	MS_INTERNAL_USER=dovecot
	MS_LOGIN_USER=dovenull
	MS_PASSWORD=probe-secret-$$
	MS_SLOW_DELAY=${MS_SLOW_DELAY:-4}
	MS_SMTP_PORT=$(ms_port)
	MS_SMTPS_PORT=$(ms_port)
	MS_IMAP_PORT=$(ms_port)
	MS_IMAPS_PORT=$(ms_port)
	MS_LMTP_PORT=$(ms_port)
	chown "$MS_MAIL_USER:$MS_MAIL_GROUP" "$_d/mail"
	chown postfix "$_d/postfix/data"
	ms_certs "$_d" || { ms_die "openssl failed"; return 1; }
	chmod 644 "$_d/cert.pem" "$_d/ca.pem"
	ms_dovecot_conf "$_d"
	ms_postfix_conf "$_d"
	printf '%s\n' "$MS_PASSWORD" >"$_d/password"
	printf 'wrong-%s\n' "$MS_PASSWORD" >"$_d/badpassword"
	chmod 600 "$_d/password" "$_d/badpassword"
	/usr/sbin/dovecot -c "$_d/dovecot/dovecot.conf" >"$_d/dovecot/start.log" 2>&1 ||
		{ cat "$_d/dovecot/start.log" >&2; ms_die "dovecot did not start"; return 1; }
	/usr/sbin/postfix -c "$_d/postfix" check >"$_d/postfix/check.log" 2>&1
	/usr/sbin/postfix -c "$_d/postfix" start >"$_d/postfix/start.log" 2>&1 ||
		{ cat "$_d/postfix/start.log" >&2; ms_die "postfix did not start"; return 1; }
	cat >"$_d/env" <<EOF
MS_DIR=$_d
MS_SMTP_PORT=$MS_SMTP_PORT
MS_SMTPS_PORT=$MS_SMTPS_PORT
MS_IMAP_PORT=$MS_IMAP_PORT
MS_IMAPS_PORT=$MS_IMAPS_PORT
MS_LMTP_PORT=$MS_LMTP_PORT
MS_CA=$_d/ca.pem
MS_PASSWORD_FILE=$_d/password
MS_BAD_PASSWORD_FILE=$_d/badpassword
MS_POSTQUEUE="/usr/sbin/postqueue -c $_d/postfix -j"
EOF
	ms_wait "$_d" || { ms_die "servers did not answer"; return 1; }
	cat "$_d/env"
}

# ms_wait DIR: until SMTP and IMAP greet (10 s at most).
ms_wait() {
	. "$1/env" 2>/dev/null || return 1
	_n=0
	while [ $_n -lt 100 ]; do
		if curl -s --max-time 2 "imap://127.0.0.1:$MS_IMAP_PORT/" -X CAPABILITY >/dev/null 2>&1 &&
			curl -s --max-time 2 "smtp://127.0.0.1:$MS_SMTP_PORT/" -X NOOP >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

ms_stop() {
	_d=$1
	[ -f "$_d/postfix/main.cf" ] && /usr/sbin/postfix -c "$_d/postfix" stop >/dev/null 2>&1
	if [ -f "$_d/dovecot/dovecot.conf" ]; then
		/usr/sbin/doveadm -c "$_d/dovecot/dovecot.conf" stop >/dev/null 2>&1 ||
			kill "$(cat "$_d/dovecot/run/master.pid" 2>/dev/null)" 2>/dev/null
	fi
	return 0
}

# ms_hold DIR on|off: put mail for probe@probe.test on hold (or not).
ms_hold() {
	if [ "$2" = on ]; then
		printf 'probe@probe.test HOLD\n' >"$1/postfix/rcpt_access"
	else
		: >"$1/postfix/rcpt_access"
	fi
	/usr/sbin/postfix -c "$1/postfix" reload >/dev/null 2>&1
}

# ms_release DIR: release held mail and deliver it now.
ms_release() {
	/usr/sbin/postsuper -c "$1/postfix" -H ALL >/dev/null 2>&1
	/usr/sbin/postqueue -c "$1/postfix" -f >/dev/null 2>&1
}

# ms_count DIR: number of messages in the probe mailbox.
ms_count() {
	/usr/bin/doveadm -c "$1/dovecot/dovecot.conf" search -u probe mailbox INBOX all 2>/dev/null | wc -l
}

# ms_drain DIR: expunge everything in the probe mailbox (through Dovecot,
# so its index agrees; removing files behind its back does not).
ms_drain() {
	/usr/bin/doveadm -c "$1/dovecot/dovecot.conf" expunge -u probe mailbox INBOX all
}

case "${0##*/}" in
mailserver.sh)
	case "$1" in
	start) ms_start "$2" ;;
	stop) ms_stop "$2" ;;
	hold) ms_hold "$2" "$3" ;;
	release) ms_release "$2" ;;
	count) ms_count "$2" ;;
	drain) ms_drain "$2" ;;
	*) echo "usage: mailserver.sh start|stop|hold|release|count|drain DIR [on|off]" >&2; exit 2 ;;
	esac
	;;
esac
