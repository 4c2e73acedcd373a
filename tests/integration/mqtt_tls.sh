#!/bin/sh
# mqtt_tls: mamorid talks to a real mosquitto over TLS only, with the CA it
# is told to trust, a client certificate, and a username whose password
# comes from a file.  Checks: it connects and publishes its retained
# "online" status; an agent report over TLS is judged; the password never
# reaches the log; a wrong CA makes it refuse the broker (and keep running,
# retrying) instead of connecting.
. tests/integration/lib.sh
it_init
command -v openssl >/dev/null 2>&1 || it_skip "openssl not installed"
command -v mosquitto_pub >/dev/null 2>&1 || it_skip "mosquitto-clients not installed"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
chmod 0755 "$IT_TMP"
cd "$IT_TMP" || exit 1
top=$OLDPWD

# A CA, a broker certificate for 127.0.0.1, a client certificate, and an
# unrelated CA for the negative case.
mkca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" 2>/dev/null
}
mkcert() { # name ca extfile-line
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
		printf '%s\n' "$3" >"$1.ext" &&
		openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
			-extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
mkca ca && mkca otherca || it_fail "cannot make CAs"
mkcert broker ca "subjectAltName=IP:127.0.0.1" || it_fail "cannot make the broker certificate"
mkcert client ca "extendedKeyUsage=clientAuth" || it_fail "cannot make the client certificate"
chmod 0644 ./*.key ./*.pem
# mamorid's own secrets: refused if others may read them
chmod 0600 client.key

secret='s3cr3t-never-logged'
(umask 077 && printf '%s\n' "$secret" >mamorid.password)
: >passwd
mosquitto_passwd -b passwd mamorid "$secret" || it_fail "mosquitto_passwd"
mosquitto_passwd -b passwd agent agentpw || it_fail "mosquitto_passwd"
chmod 0644 passwd
port=$(it_free_port)
cat >mosquitto.conf <<EOC
per_listener_settings false
allow_anonymous false
password_file $IT_TMP/passwd
listener $port 127.0.0.1
cafile $IT_TMP/ca.pem
certfile $IT_TMP/broker.pem
keyfile $IT_TMP/broker.key
require_certificate false
log_dest stderr
EOC
[ "$(id -u)" -eq 0 ] && echo "user root" >>mosquitto.conf
cd "$top" || exit 1
it_bg mosquitto "$MOSQUITTO" -c "$IT_TMP/mosquitto.conf"
sub() { # extra mosquitto_sub args...
	mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$IT_TMP/ca.pem" -u agent -P agentpw "$@"
}
it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$IT_TMP/ca.pem" -u agent -P agentpw -t probe -m x ||
	it_fail "TLS broker did not start: $(cat "$IT_TMP/mosquitto.log")"

IT_STATE_DIR=$IT_TMP/state
conf() { # ca-file
	cat <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-tls"; node = "tls-node";
         username = "mamorid"; password_file = "$IT_TMP/mamorid.password";
         tls = { ca_file = "$1"; cert_file = "$IT_TMP/client.pem"; key_file = "$IT_TMP/client.key"; }; };
customers = ( { id = "c0001"; agents = { defender = { auto_register = true; }; }; } );
EOC
}
conf "$IT_TMP/ca.pem" >"$IT_TMP/m.conf"
it_mamorid "$IT_TMP/m.conf"
online() { sub -t 'mamori/v1/server/tls-node/status' -C 1 -W 1 2>/dev/null | grep -q '^online$'; }
it_wait_for 15 online || it_fail "mamorid did not come online over TLS: $(tail -5 "$IT_TMP/mamorid.log")"
mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$IT_TMP/ca.pem" -u agent -P agentpw -q 1 \
	-t mamori/v1/agents/c0001/PC-9/defender -f tests/fixtures/defender/realtime-off.json || it_fail "publish"
judged() { sub -t 'mamori/v1/state/c0001/PC-9/defender' -C 1 -W 1 2>/dev/null | grep -q '"state":2'; }
it_wait_for 10 judged || it_fail "report over TLS not judged: $(tail -5 "$IT_TMP/mamorid.log")"
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
grep -q "$secret" "$IT_TMP/mamorid.log" && it_fail "the MQTT password reached the log"

# A broker certificate from a CA we were not told to trust: no connection,
# and the daemon keeps running and retrying.
conf "$IT_TMP/otherca.pem" >"$IT_TMP/bad.conf"
"$MAMORID" -f -c "$IT_TMP/bad.conf" >"$IT_TMP/bad.log" 2>&1 &
bad=$!
IT_PIDS="$IT_PIDS $bad"
sleep 3
kill -0 "$bad" 2>/dev/null || it_fail "mamorid exited on an untrusted broker: $(tail -5 "$IT_TMP/bad.log")"
grep -q "connected to" "$IT_TMP/bad.log" && it_fail "mamorid connected to a broker with an untrusted certificate"
grep -q "certificate verify failed" "$IT_TMP/bad.log" || it_fail "no TLS error logged: $(tail -5 "$IT_TMP/bad.log")"
exit 0
