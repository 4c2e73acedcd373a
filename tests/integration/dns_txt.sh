#!/bin/sh
# dns_txt end to end: a real mamorid runs dns_txt checks against a real
# dnsmasq on a loopback port (TXT records for a verification token, SPF,
# DMARC and DKIM with a key made here by openssl), a black-hole UDP port
# (timeout) and a restart of dnsmasq with a changed record (change
# detection).  States are read from the state db.
#
# Issue 16 (RFC 7208 / RFC 7489 judgements), one case per class: the first
# all decides; a domain-spec that is an address ("use ip4:"); a macro only
# allowed in explanation text; not too strict (100 ip4 terms and a dual
# CIDR after a domain: a WARNING for the size only); void lookups and the
# 10-MX limit resolved through the same c-ares channel; DMARC with spaces
# and capital tag names, a bad tag named, an invalid sp= as bad as p=.
. tests/integration/lib.sh

DNSMASQ=${DNSMASQ:-/usr/sbin/dnsmasq}
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/dns_txt.so" ] || it_skip "$PLUGIN_DIR/dns_txt.so not built"
[ -x "$DNSMASQ" ] || it_skip "dnsmasq missing (Debian package dnsmasq-base)"
command -v openssl >/dev/null || it_skip "openssl missing"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v mosquitto >/dev/null || it_skip "mosquitto missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"

mqtt_port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
	>"$IT_TMP/mosquitto.conf"
it_bg mosquitto mosquitto -c "$IT_TMP/mosquitto.conf"

# A DKIM key published as strings of 200 characters.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
	openssl pkey -pubout -outform DER | base64 -w0 >"$IT_TMP/dkim.b64" ||
	it_fail "openssl could not make a key"
dkim=$(fold -w 200 "$IT_TMP/dkim.b64" | paste -sd, -)

# 100 ip4 terms (about 1,500 bytes: over 512, so a WARNING with the size).
long_spf="v=spf1 a:mail.mx.test/24//64"
i=0
while [ $i -lt 100 ]; do
	long_spf="$long_spf ip4:198.51.100.$i"
	i=$((i + 1))
done
long_spf="$long_spf -all"
mx11=""
i=0
while [ $i -lt 11 ]; do
	mx11="$mx11 --mx-host=mx11.test,m$i.mx.test,$i"
	i=$((i + 1))
done

dns_port=$(it_free_port)
http_port=$(it_free_port)

tcp_up() {
	python3 -c 'import socket,sys;socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$1"
}

# start_dns TOKEN: dnsmasq with the verification token TOKEN.
# --keep-in-foreground, not --no-daemon: in debug mode dnsmasq answers TCP
# in its only process, so one TCP connection (long.test is over 1232 bytes,
# c-ares retries it over TCP) blocks every UDP answer for up to 15 s.
start_dns() {
	it_bg dnsmasq "$DNSMASQ" --keep-in-foreground --log-facility=- --port="$dns_port" \
		--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --pid-file= \
		-C /dev/null --log-queries \
		--local=/test/ \
		--txt-record="example.test,mail-filter-verify=$1" \
		--txt-record="example.test,v=spf1 ip4:192.0.2.0/24 include:_spf.mail.test -all" \
		--txt-record="_spf.mail.test,v=spf1 a mx ~all" \
		--txt-record="open.test,v=spf1 +all" \
		--txt-record="_dmarc.example.test,v=DMARC1; p=reject; rua=mailto:dmarc@example.test" \
		--txt-record="_dmarc.lax.test,v=DMARC1; p=none" \
		--txt-record="mail._domainkey.example.test,v=DKIM1; k=rsa; p=$dkim" \
		--txt-record="old._domainkey.example.test,v=DKIM1; k=rsa; p=" \
		--txt-record="allall.test,v=spf1 all -all" \
		--txt-record="aip.test,v=spf1 a:192.0.2.1 -all" \
		--txt-record="crt.test,v=spf1 -all exp=%{r}.example.test" \
		--txt-record="long.test,$long_spf" \
		--host-record=mail.mx.test,192.0.2.25,2001:db8::25 \
		--txt-record="void.test,v=spf1 a:nx1.test a:nx2.test mx:nx3.test -all" \
		--txt-record="mx11.test,v=spf1 mx -all" $mx11 \
		--txt-record="_dmarc.spaced.test,V = DMARC1 ; P = reject ; RUA = mailto:d@spaced.test" \
		--txt-record="_dmarc.adkim.test,v=DMARC1; p=reject; adkim=relaxed" \
		--txt-record="_dmarc.badsp.test,v=DMARC1; p=reject; sp=quarantin"
	DNS_PID=$IT_LAST_PID
	it_wait_for 10 tcp_up "$dns_port" || it_fail "dnsmasq did not start"
}
start_dns 9f86d081884c7d65

# A black hole: a UDP socket nobody reads, on a port the kernel gives it
# (a port picked as free beforehand may be taken meanwhile by another
# test's DNS server, which would then answer).
it_bg hole python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0))
open(sys.argv[1]+".tmp","w").write(str(s.getsockname()[1]));__import__("os").rename(sys.argv[1]+".tmp",sys.argv[1]);time.sleep(3600)' "$IT_TMP/hole.port"
it_wait_for 10 test -s "$IT_TMP/hole.port" || it_fail "the black hole did not start"
hole_port=$(cat "$IT_TMP/hole.port")

abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
srv="server = \"127.0.0.1:$dns_port\"; interval = \"1s\"; max_attempts = 1;"
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $mqtt_port; client_id = "mamorid-it-dns"; topic_prefix = "mamori"; };
http = { listen = "127.0.0.1:$http_port"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-test"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-test"; } );
customers = (
  { id = "c0001"; name = "DNS Test Co"; region = "aichi";
    assets = (
      { name = "example.test"; type = "domain"; address = "example.test";
        checks = (
          { plugin = "dns_txt"; name = "token"; kind = "regex"; server = "127.0.0.1:$dns_port";
            interval = "3s"; max_attempts = 1;
            expect = "^mail-filter-verify=[0-9a-f]{16}\$"; },
          { plugin = "dns_txt"; name = "token_exact"; kind = "equals"; $srv
            expect = "mail-filter-verify=9f86d081884c7d65"; },
          { plugin = "dns_txt"; name = "spf"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "dmarc"; kind = "dmarc"; $srv },
          { plugin = "dns_txt"; name = "dkim"; kind = "dkim"; selector = "mail"; $srv },
          { plugin = "dns_txt"; name = "dkim_old"; kind = "dkim"; selector = "old"; $srv },
          { plugin = "dns_txt"; name = "gone"; record = "gone.test"; $srv },
          { plugin = "dns_txt"; name = "open_spf"; record = "open.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "lax_dmarc"; record = "lax.test"; kind = "dmarc"; $srv },
          { plugin = "dns_txt"; name = "spf_allall"; record = "allall.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "spf_aip"; record = "aip.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "spf_crt"; record = "crt.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "spf_long"; record = "long.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "spf_void"; record = "void.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "spf_mx11"; record = "mx11.test"; kind = "spf"; $srv },
          { plugin = "dns_txt"; name = "dm_spaced"; record = "spaced.test"; kind = "dmarc"; $srv },
          { plugin = "dns_txt"; name = "dm_adkim"; record = "adkim.test"; kind = "dmarc"; $srv },
          { plugin = "dns_txt"; name = "dm_badsp"; record = "badsp.test"; kind = "dmarc"; $srv },
          { plugin = "dns_txt"; name = "hole"; record = "example.test"; timeout = "1s";
            server = "127.0.0.1:$hole_port"; interval = "2s"; max_attempts = 1; }
        ); } ); } );
EOF

# A semantic error in a dns_txt check block stops the config, naming the key.
sed 's#kind = "dmarc"; server#kind = "dmark"; server#' "$IT_TMP/mamori.conf" >"$IT_TMP/bad.conf"
if "$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/bad.log" 2>&1; then
	it_fail "kind = \"dmark\" was accepted"
fi
grep -q "unknown kind" "$IT_TMP/bad.log" || it_fail "no clear error: $(cat "$IT_TMP/bad.log")"
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"

it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -f "$IT_STATE_DIR/mamori.db" || it_fail "no state db"

a=example.test
it_wait_state 20 c0001 $a token "0|" || it_fail "token"
it_wait_state 20 c0001 $a token_exact "0|" || it_fail "token_exact"
it_wait_state 20 c0001 $a spf "0|" || it_fail "spf"
it_wait_state 20 c0001 $a dmarc "0|" || it_fail "dmarc"
it_wait_state 20 c0001 $a dkim "0|" || it_fail "dkim"
it_wait_state 20 c0001 $a dkim_old "2|" || it_fail "dkim_old (revoked key)"
it_wait_state 20 c0001 $a gone "2|" || it_fail "gone (NXDOMAIN)"
it_wait_state 20 c0001 $a open_spf "2|" || it_fail "open_spf (+all)"
it_wait_state 20 c0001 $a lax_dmarc "1|" || it_fail "lax_dmarc (p=none)"
it_wait_state 20 c0001 $a hole "3|" || it_fail "hole (timeout)"
it_state c0001 $a gone | grep -q NXDOMAIN || it_fail "gone: $(it_state c0001 $a gone)"

# Issue 16: state and the words that tell a person why.
expect() { # check state-prefix text
	it_wait_state 20 c0001 $a "$1" "$2|" || it_fail "$1: $(it_state c0001 $a "$1")"
	it_state c0001 $a "$1" | grep -qF "$3" || it_fail "$1 lacks \"$3\": $(it_state c0001 $a "$1")"
}
expect spf_allall 2 "stops at its first all, +all: anyone may send"
expect spf_aip 2 "use ip4:192.0.2.1"
expect spf_crt 2 "only allowed in explanation text"
expect spf_long 1 "bytes, over 512"
expect spf_void 2 "3 void lookups for IPv4 senders"
expect spf_mx11 2 "mx11.test has 11 MX records, more than 10"
expect dm_spaced 0 "DMARC p=reject"
expect dm_adkim 1 'DMARC tag adkim="relaxed": must be r or s'
expect dm_badsp 2 'invalid sp="quarantin"'
# mamorid asked dnsmasq for the targets' addresses and MX records
grep -q "query\[MX\] mx11.test" "$IT_TMP/dnsmasq.log" || it_fail "dnsmasq saw no MX query for mx11.test"
grep -q "query\[AAAA\] nx1.test" "$IT_TMP/dnsmasq.log" || it_fail "dnsmasq saw no AAAA query for nx1.test"
it_state c0001 $a dkim_old | grep -q revoked || it_fail "dkim_old: $(it_state c0001 $a dkim_old)"

# The filter's token changes: equals goes CRITICAL, regex reports the change.
kill "$DNS_PID"
it_wait_for 10 sh -c "! kill -0 $DNS_PID 2>/dev/null"
start_dns 0000000000000000
# token runs every 3 s: its WARNING (the change) lasts one interval.
it_wait_state 20 c0001 $a token "1|" || it_fail "token: change not reported"
it_state c0001 $a token | grep -q 'removed "mail-filter-verify=9f86d081884c7d65"' ||
	it_fail "token change text: $(it_state c0001 $a token)"
it_wait_state 20 c0001 $a token_exact "2|" || it_fail "token_exact after change"
it_wait_state 20 c0001 $a token "0|" || it_fail "token: back to OK after the change"

kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
exit 0
