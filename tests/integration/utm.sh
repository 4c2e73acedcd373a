#!/bin/sh
# utm end to end: a real mamorid runs utm checks against
#  - two real snmpd (Debian) on loopback UDP ports, generated configs:
#    A plain (v2c community + v3 authPriv SHA/AES user, FortiGate OIDs set
#    with `override`), B the same plus `override` ifOperStatus.1 = 2 so
#    `lo` reads down; A is restarted to reset sysUpTime (reboot);
#  - three `openssl s_server` with certificates made here: valid 1 year
#    (self-signed, pinned with ca_file / not pinned / verify = false),
#    expiring in 10 days, expired.
# States are read from the state db.  Exit 0 pass, 77 skip, 1 fail.
. tests/integration/lib.sh

SNMPD=${SNMPD:-/usr/sbin/snmpd}
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/utm.so" ] || it_skip "$PLUGIN_DIR/utm.so not built"
[ -x "$SNMPD" ] || it_skip "snmpd missing (Debian package snmpd)"
for c in openssl python3 mosquitto sqlite3; do
	command -v $c >/dev/null || it_skip "$c missing"
done

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/snmpA" "$IT_TMP/snmpB"

mqtt_port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
	>"$IT_TMP/mosquitto.conf"
it_bg mosquitto mosquitto -c "$IT_TMP/mosquitto.conf"

udp_port() {
	python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
snmp_a=$(udp_port)
snmp_b=$(udp_port)
http_port=$(it_free_port)

# snmpd_conf FILE EXTRA: community, v3 user, FortiGate values.
snmpd_conf() {
	cat >"$1" <<EOF
rocommunity mamoritest 127.0.0.1
createUser mamori SHA "authpass123" AES "privpass123"
rouser mamori authpriv
override .1.3.6.1.4.1.12356.101.4.1.3.0 unsigned 45
override .1.3.6.1.4.1.12356.101.4.1.4.0 unsigned 35
override .1.3.6.1.4.1.12356.101.4.1.8.0 unsigned 1234
$2
EOF
}
snmpd_conf "$IT_TMP/snmpA.conf" ""
snmpd_conf "$IT_TMP/snmpB.conf" "override .1.3.6.1.2.1.2.2.1.8.1 integer 2"

# (the persistent dir gets its own snmpd.conf written at exit: keep ours apart)
start_snmpd() { # name port logname
	it_bg "$3" env SNMP_PERSISTENT_DIR="$IT_TMP/$1" "$SNMPD" -f -Lo -C \
		-c "$IT_TMP/$1.conf" -M /nonexistent -m "" "udp:127.0.0.1:$2"
	if command -v snmpget >/dev/null; then
		it_wait_for 10 env MIBS= snmpget -v2c -c mamoritest -t 0.3 -r 0 "127.0.0.1:$2" \
			1.3.6.1.2.1.1.3.0 || it_fail "snmpd $3 did not start"
	else
		sleep 1
	fi
}
start_snmpd snmpA "$snmp_a" snmpA
SNMPA_PID=$IT_LAST_PID
start_snmpd snmpB "$snmp_b" snmpB

# Secrets
printf 'mamoritest\n' >"$IT_TMP/community"
printf 'wrong-community\n' >"$IT_TMP/wrong"
printf 'authpass123\n' >"$IT_TMP/auth"
printf 'privpass123\n' >"$IT_TMP/priv"
chmod 600 "$IT_TMP/community" "$IT_TMP/wrong" "$IT_TMP/auth" "$IT_TMP/priv"

# Certificates and TLS servers: 1 year, 10 days, expired.
mkcert() { # name days
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$IT_TMP/$1.key" -out "$IT_TMP/$1.pem" -days 1 -subj /CN=localhost \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null &&
		openssl x509 -in "$IT_TMP/$1.pem" -signkey "$IT_TMP/$1.key" -days "$2" \
			-out "$IT_TMP/$1.crt" 2>/dev/null || it_fail "openssl could not make $1"
}
mkcert year 365
mkcert soon 10
mkcert expired -1
tcp_up() {
	python3 -c 'import socket,sys;socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$1"
}
for n in year soon expired; do
	p=$(it_free_port)
	eval "tls_$n=$p"
	it_bg "tls_$n" openssl s_server -accept "127.0.0.1:$p" -cert "$IT_TMP/$n.crt" \
		-key "$IT_TMP/$n.key" -www -quiet
	it_wait_for 10 tcp_up "$p" || it_fail "s_server $n did not start"
done
closed_port=$(it_free_port)

abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
abs_data=$(pwd)/share/mamori
fast='interval = "1s"; max_attempts = 1; timeout = "5s"; reboot_window = 0;'
v2a="snmp = { port = $snmp_a; community_file = \"$IT_TMP/community\"; timeout = \"500ms\"; };"
v2b="snmp = { port = $snmp_b; community_file = \"$IT_TMP/community\"; timeout = \"500ms\"; };"
v3a="snmp = { port = $snmp_a; version = \"3\"; user = \"mamori\"; auth_protocol = \"SHA\";
        auth_password_file = \"$IT_TMP/auth\"; priv_protocol = \"AES\";
        priv_password_file = \"$IT_TMP/priv\"; timeout = \"500ms\"; };"
https() { # port extra
	echo "https = { url = \"https://localhost:$1/\"; $2 };"
}
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; data_dir = "$abs_data";
           log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $mqtt_port; client_id = "mamorid-it-utm"; topic_prefix = "mamori"; };
http = { listen = "127.0.0.1:$http_port"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-test"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-test"; } );
customers = (
  { id = "c0001"; name = "UTM Test Co"; region = "aichi";
    assets = (
      { name = "utm-1"; type = "utm"; address = "127.0.0.1";
        checks = (
          { plugin = "utm"; name = "v2c"; $fast $v2a interfaces = [ "LOOP=lo" ];
            profile = "fortigate"; },
          { plugin = "utm"; name = "v3"; $fast $v3a profile = "fortigate";
            sessions = { warning = "5000"; }; },
          { plugin = "utm"; name = "v3_sessions"; $fast $v3a profile = "fortigate";
            sessions = { warning = "1000"; critical = "2000"; }; },
          { plugin = "utm"; name = "wan_down"; $fast $v2b interfaces = [ "WAN=lo" ];
            profile = "fortigate"; },
          { plugin = "utm"; name = "no_iface"; $fast $v2a interfaces = [ "pppoe9" ];
            profile = "fortigate"; },
          { plugin = "utm"; name = "wrong_comm"; $fast
            snmp = { port = $snmp_a; community_file = "$IT_TMP/wrong"; timeout = "300ms"; }; },
          { plugin = "utm"; name = "cert_year"; $fast $(https "$tls_year" "ca_file = \"$IT_TMP/year.crt\";") },
          { plugin = "utm"; name = "cert_untrusted"; $fast $(https "$tls_year" "") },
          { plugin = "utm"; name = "cert_noverify"; $fast $(https "$tls_year" "verify = false;") },
          { plugin = "utm"; name = "cert_soon"; $fast $(https "$tls_soon" "ca_file = \"$IT_TMP/soon.crt\";") },
          { plugin = "utm"; name = "cert_expired"; $fast $(https "$tls_expired" "ca_file = \"$IT_TMP/expired.crt\";") },
          { plugin = "utm"; name = "cert_closed"; $fast $(https "$closed_port" "") }
        ); } ); } );
EOF

# A semantic error in a utm check stops the config, naming the key.
sed 's#version = "3"; user = "mamori"; auth_protocol = "SHA"#version = "3"; user = "mamori"; auth_protocol = "SHA3"#' \
	"$IT_TMP/mamori.conf" >"$IT_TMP/bad.conf"
if "$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/bad.log" 2>&1; then
	it_fail "auth_protocol = \"SHA3\" was accepted"
fi
grep -q "auth_protocol" "$IT_TMP/bad.log" || it_fail "no clear error: $(cat "$IT_TMP/bad.log")"
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"

it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -f "$IT_STATE_DIR/mamori.db" || it_fail "no state db"

a=utm-1
it_wait_state 20 c0001 $a v2c "0|" || it_fail "v2c"
it_wait_state 20 c0001 $a v3 "0|" || it_fail "v3 authPriv"
it_wait_state 20 c0001 $a v3_sessions "1|" || it_fail "v3 sessions warning"
it_wait_state 20 c0001 $a wan_down "2|" || it_fail "wan_down"
it_wait_state 20 c0001 $a no_iface "2|" || it_fail "no_iface"
it_wait_state 20 c0001 $a wrong_comm "3|" || it_fail "wrong community"
it_wait_state 20 c0001 $a cert_year "0|" || it_fail "cert_year (pinned)"
it_wait_state 20 c0001 $a cert_untrusted "2|" || it_fail "cert_untrusted"
it_wait_state 20 c0001 $a cert_noverify "0|" || it_fail "cert_noverify"
it_wait_state 20 c0001 $a cert_soon "1|" || it_fail "cert_soon (10 days)"
it_wait_state 20 c0001 $a cert_expired "2|" || it_fail "cert_expired"
it_wait_state 20 c0001 $a cert_closed "2|" || it_fail "cert_closed"
it_state c0001 $a wan_down | grep -q 'WAN down' || it_fail "wan_down: $(it_state c0001 $a wan_down)"
it_state c0001 $a cert_soon | grep -q 'expires in' || it_fail "cert_soon: $(it_state c0001 $a cert_soon)"
it_state c0001 $a wrong_comm | grep -q 'no SNMP answer' ||
	it_fail "wrong_comm: $(it_state c0001 $a wrong_comm)"
grep -q 'mamoritest\|authpass123\|privpass123' "$IT_TMP/mamorid.log" && it_fail "a secret reached the log"

# Reboot: restart snmpd A (sysUpTime restarts) after it has been up a while.
sleep 2
kill "$SNMPA_PID"
wait "$SNMPA_PID" 2>/dev/null
start_snmpd snmpA "$snmp_a" snmpA2
it_wait_state 20 c0001 $a v2c "1|" || it_fail "v2c: reboot not reported"
it_state c0001 $a v2c | grep -q 'rebooted at' || it_fail "reboot text: $(it_state c0001 $a v2c)"
it_wait_state 20 c0001 $a v2c "0|" || it_fail "v2c: back to OK after the reboot"

kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"
exit 0
