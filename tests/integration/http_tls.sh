#!/bin/sh
# HTTPS served by mamorid itself (http.tls) and behind Debian's nginx with
# the shipped example (contrib/nginx/mamori.conf): a self-signed
# certificate made with openssl for 127.0.0.1; a key file readable by
# others refuses the start with the chmod that fixes it; curl verifies the
# certificate; plain HTTP on the TLS port gets no answer; the UNIX socket
# stays plain; nginx terminates TLS and mamorid believes its
# X-Forwarded-For / -Proto only when it is a trusted proxy.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v curl >/dev/null || it_skip "curl missing"
command -v openssl >/dev/null || it_skip "openssl missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$IT_TMP/api.key" -out "$IT_TMP/api.crt" \
	>"$IT_TMP/openssl.log" 2>&1 || it_fail "openssl: $(cat "$IT_TMP/openssl.log")"
conf() { # $1: extra http keys
	cat <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "t1"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ];
         tls = { cert_file = "$IT_TMP/api.crt"; key_file = "$IT_TMP/api.key"; }; $1 };
customers = ( { id = "c1"; assets = ( { name = "a"; checks = ( { plugin = "dummy"; interval = "1s"; } ); } ); } );
CONF
}
conf "" >"$IT_TMP/m.conf"

# a key others can read: refused, with the fix in the message
chmod 644 "$IT_TMP/api.key"
"$MAMORID" -c "$IT_TMP/m.conf" -f >"$IT_TMP/bad.log" 2>&1 && it_fail "started with a world-readable key"
grep -q "chmod 600" "$IT_TMP/bad.log" || it_fail "no fix in the message: $(cat "$IT_TMP/bad.log")"
grep -q "BEGIN" "$IT_TMP/bad.log" && it_fail "the key's content reached the log"
chmod 600 "$IT_TMP/api.key"

# config errors
conf 'trusted_proxies = [ "10.0.0.0/33" ];' >"$IT_TMP/bad1.conf"
"$MAMORID" -c "$IT_TMP/bad1.conf" --check-config >"$IT_TMP/bad1.log" 2>&1 && it_fail "bad CIDR accepted"
grep -q "bad1.conf:3:.*trusted_proxies\|CIDR" "$IT_TMP/bad1.log" || it_fail "bad CIDR: $(cat "$IT_TMP/bad1.log")"
sed 's/key_file = "[^"]*";//' "$IT_TMP/m.conf" >"$IT_TMP/bad2.conf"
"$MAMORID" -c "$IT_TMP/bad2.conf" --check-config >"$IT_TMP/bad2.log" 2>&1 && it_fail "tls without key accepted"
grep -q "needs both cert_file and key_file" "$IT_TMP/bad2.log" || it_fail "tls without key: $(cat "$IT_TMP/bad2.log")"

it_mamorid "$IT_TMP/m.conf"
it_wait_for 10 test -S "$SOCK" || it_fail "mamorid did not start: $(tail -5 "$IT_TMP/mamorid.log")"
U=https://127.0.0.1:$hport
[ "$(curl -s --cacert "$IT_TMP/api.crt" "$U/healthz")" = ok ] || it_fail "HTTPS healthz"
curl -s --max-time 3 "http://127.0.0.1:$hport/healthz" | grep -q ok && it_fail "plain HTTP answered on the TLS port"
curl -s --max-time 3 "$U/healthz" >/dev/null 2>&1 && it_fail "curl accepted an unverified certificate?"
[ "$(curl -s --unix-socket "$SOCK" http://l/healthz)" = ok ] || it_fail "UNIX socket not plain"
me=$(curl -s --unix-socket "$SOCK" http://l/api/v1/me)
echo "$me" | grep -q '"secure":false' || it_fail "local socket secure: $me"

# nginx in front, with the shipped example (ports and paths the test's)
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	nport=$(it_free_port)
	pport=$(it_free_port)
	mkdir -p "$IT_TMP/nginx"
	{
		echo "worker_processes 1; pid $IT_TMP/nginx/pid; error_log $IT_TMP/nginx/error.log;"
		echo "events { worker_connections 64; }"
		echo "http { access_log off; client_body_temp_path $IT_TMP/nginx; proxy_temp_path $IT_TMP/nginx;"
		sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$pport;|" \
			-e "s|listen 443 ssl http2;|listen 127.0.0.1:$nport ssl;|" \
			-e "/listen \[::\]:443/d" -e "/listen 80;/d" -e "/listen \[::\]:80;/d" \
			-e "s|server_name mamori.example.net;|server_name localhost;|" \
			-e "s|/etc/ssl/mamori/fullchain.pem|$IT_TMP/api.crt|" \
			-e "s|/etc/ssl/mamori/privkey.pem|$IT_TMP/api.key|" contrib/nginx/mamori.conf
		echo "}"
	} >"$IT_TMP/nginx/nginx.conf"
	# mamorid behind it: plain HTTP on loopback, nginx trusted
	kill "$MAMORID_PID"
	it_wait_for 10 sh -c "! kill -0 $MAMORID_PID 2>/dev/null"
	cat >"$IT_TMP/p.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "t1"; };
http = { listen = [ "127.0.0.1:$pport", "unix:$SOCK" ]; trusted_proxies = [ "127.0.0.1" ]; };
customers = ( { id = "c1"; assets = ( { name = "a"; checks = ( { plugin = "dummy"; interval = "1s"; } ); } ); } );
CONF
	it_mamorid "$IT_TMP/p.conf"
	it_wait_for 10 test -S "$SOCK" || it_fail "mamorid (proxied) did not start"
	it_bg nginx "$NGINX" -p "$IT_TMP/nginx" -c "$IT_TMP/nginx/nginx.conf" -g "daemon off;"
	it_wait_for 10 curl -s --cacert "$IT_TMP/api.crt" "https://127.0.0.1:$nport/healthz" ||
		it_fail "nginx did not proxy: $(cat "$IT_TMP/nginx/error.log" "$IT_TMP/nginx.log" 2>/dev/null | tail -5)"
	[ "$(curl -s --cacert "$IT_TMP/api.crt" "https://127.0.0.1:$nport/readyz" | grep -c '"ready":true')" = 1 ] ||
		it_fail "readyz through nginx"
fi
echo "PASS $IT_NAME"
