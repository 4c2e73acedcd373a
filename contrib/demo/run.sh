#!/bin/sh
# Runs the demo from the build tree: a private Mosquitto on a loopback
# port, mamorid in the foreground with its state under ./demo-state, the
# agent simulator playing 30 PCs of 3 customers (some with Defender off,
# aging signatures, silent agents and garbage payloads), and a status table
# every 10 s.  Stop with Ctrl-C.  DEMO_SECONDS=N stops after N seconds.
# The dashboard: http://127.0.0.1:8080/ (DEMO_HTTP_PORT=N for another
# port; a free one is picked when 8080 is taken), login "demo" with the
# password printed at the start (an operator of both contact centers).
#
# The network plugins get private servers too, all on 127.0.0.1 ports
# picked here and stopped with the demo:
#   dnsmasq          the customers' TXT records (token, SPF, DMARC, DKIM)
#   snmpd            v2c, generated config, FortiGate values and a "wan1"
#                    interface made with `override`
#   openssl s_server the UTM's HTTPS management, certificate made here,
#                    valid for 20 days (utm: WARNING)
# mail_latency runs in queue mode on contrib/demo/postqueue.sh (why not a
# real Postfix: see there).  Debian packages: dnsmasq-base, snmpd, openssl
# (contrib/quickstart.sh installs them); a missing one is reported and its
# checks go UNKNOWN/CRITICAL, the rest of the demo runs.
# mamorid started as root stays root here (a bench/demo, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
demo="$top/contrib/demo"
state="$top/demo-state"
# mamorid refuses a state dir its group or others may write to (a umask
# of 002 would make one); the database in it is not for others either.
mkdir -p "$state"
chmod 750 "$state"
# python3 starts slowly on a busy machine: one call picks all ports, one
# waits for all TCP servers.
# shellcheck disable=SC2046
set -- $(python3 -c 'import socket
for t in "tcp", "tcp", "udp", "tcp":
	s = socket.socket(type=socket.SOCK_DGRAM if t == "udp" else socket.SOCK_STREAM)
	s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
mqttport=$1 dnsport=$2 snmpport=$3 tlsport=$4
httpport=${DEMO_HTTP_PORT:-8080}
python3 -c 'import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$httpport" 2>/dev/null ||
	httpport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# tcp_wait NAME:PORT...: wait up to 5 s for each; name the ones that never answered.
tcp_wait() {
	python3 -c 'import socket,sys,time
end = time.time() + 5
for a in sys.argv[1:]:
	name, port = a.split(":")
	while True:
		try:
			socket.create_connection(("127.0.0.1", int(port)), 0.5).close(); break
		except OSError:
			if time.time() > end:
				print("demo: %s did not start (see its log in the state dir)" % name, file=sys.stderr); break
			time.sleep(0.05)' "$@"
}
# wait_for TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times.
wait_for() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
sed -e "s|@STATE@|$state|g" -e "s|@PLUGINS@|$top/build/plugins|" -e "s|@DATA@|$top/share/mamori|" \
	-e "s|@DEMO@|$demo|g" -e "s|@MQTTPORT@|$mqttport|" -e "s|@DNSPORT@|$dnsport|g" \
	-e "s|@SNMPPORT@|$snmpport|g" -e "s|@TLSPORT@|$tlsport|g" -e "s|@HTTPPORT@|$httpport|g" \
	contrib/demo/demo.conf.in >"$state/demo.conf"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM
missing() {
	echo "demo: $1 missing (Debian package $2): its checks will not be OK" >&2
}

# A private broker for the demo only: loopback, anonymous.  Production uses
# contrib/mosquitto/ (TLS, per-agent credentials, ACL).
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nmax_inflight_messages 1000\n' "$mqttport" >"$state/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && printf 'user root\n' >>"$state/mosquitto.conf"
/usr/sbin/mosquitto -c "$state/mosquitto.conf" >"$state/mosquitto.log" 2>&1 &
pids="$pids $!"

# Keys and certificates (fresh each start, ~0.2 s).
if command -v openssl >/dev/null; then
	# DKIM: RSA 2048 for one customer (published as 200-character strings,
	# a TXT string holds 255 at most), Ed25519 (raw 32 bytes) for another.
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null |
		openssl pkey -pubout -outform DER | base64 -w0 | fold -w 200 | paste -sd, - >"$state/dkim-rsa.txt"
	openssl genpkey -algorithm ed25519 2>/dev/null |
		openssl pkey -pubout -outform DER | tail -c 32 | base64 -w0 >"$state/dkim-ed25519.txt"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 20 \
		-subj "/CN=utm-1.tanaka-seisakusho.test" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$state/utm-https.key" -out "$state/utm-https.crt" 2>/dev/null
else
	missing openssl openssl
	: >"$state/dkim-rsa.txt"
	: >"$state/dkim-ed25519.txt"
fi
(umask 077 && printf 'demo-community\n' >"$state/utm.community")

# DNS: the customers' zones under .test, answered by dnsmasq only.
cat >"$state/dnsmasq.conf" <<EOF
port=$dnsport
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
local=/test/
txt-record=tanaka-seisakusho.test,"mail-filter-verify=9f86d081884c7d65"
txt-record=tanaka-seisakusho.test,"v=spf1 ip4:192.0.2.0/24 include:_spf.mailfilter.test -all"
txt-record=_spf.mailfilter.test,"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 ~all"
txt-record=_dmarc.tanaka-seisakusho.test,"v=DMARC1; p=none; rua=mailto:dmarc@tanaka-seisakusho.test"
txt-record=mamori._domainkey.tanaka-seisakusho.test,"v=DKIM1; k=rsa; p=",$(cat "$state/dkim-rsa.txt")
txt-record=suzuki-dental.test,"google-site-verification=rXOxyZounnZasA8Z7oaD3c14JdjS9aKSWvsR1EbUSIQ"
txt-record=suzuki-dental.test,"v=spf1 include:_spf.mailfilter.test +all"
txt-record=_dmarc.suzuki-dental.test,"v=DMARC1; p=quarantine; rua=mailto:dmarc@suzuki-dental.test"
txt-record=kato-accounting.test,"mail-filter-verify=2c26b46b68ffc68f"
txt-record=kato-accounting.test,"v=spf1 mx include:_spf.mailfilter.test -all"
txt-record=_mamori-verify.kato-accounting.test,"mamori-site-verification=kato-7d1f"
txt-record=_dmarc.kato-accounting.test,"v=DMARC1; p=reject; rua=mailto:dmarc@kato-accounting.test"
txt-record=mamori._domainkey.kato-accounting.test,"v=DKIM1; k=ed25519; p=$(cat "$state/dkim-ed25519.txt")"
EOF
dnsmasq=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
if [ -x "$dnsmasq" ]; then
	"$dnsmasq" --no-daemon --pid-file= -C "$state/dnsmasq.conf" >"$state/dnsmasq.log" 2>&1 &
	pids="$pids $!"
else
	missing dnsmasq dnsmasq-base
fi

# SNMP: a FortiGate as far as the utm plugin's profile can tell.
# `override` answers fixed values: CPU 23 %, memory 41 %, 1234 sessions,
# and interface 1 (the loopback, always up) is named wan1.
cat >"$state/snmpd.conf" <<EOF
rocommunity demo-community 127.0.0.1
dontLogTCPWrappersConnects yes
override .1.3.6.1.2.1.31.1.1.1.1.1 octet_str "wan1"
override .1.3.6.1.2.1.2.2.1.2.1 octet_str "wan1"
override .1.3.6.1.4.1.12356.101.4.1.3.0 unsigned 23
override .1.3.6.1.4.1.12356.101.4.1.4.0 unsigned 41
override .1.3.6.1.4.1.12356.101.4.1.8.0 unsigned 1234
override .1.3.6.1.4.1.12356.101.4.1.11.0 unsigned 17
EOF
snmpd=/usr/sbin/snmpd
if [ -x "$snmpd" ]; then
	# -C: only this config; -M/-m: no MIB files (faster start); its own
	# persistent dir so nothing under /var/lib/snmp is touched.
	mkdir -p "$state/snmp"
	SNMP_PERSISTENT_DIR="$state/snmp" "$snmpd" -f -Lo -C -c "$state/snmpd.conf" -M /nonexistent -m "" \
		"udp:127.0.0.1:$snmpport" >"$state/snmpd.log" 2>&1 &
	pids="$pids $!"
else
	missing snmpd snmpd
fi

# HTTPS: the UTM's management page.
if [ -f "$state/utm-https.crt" ]; then
	openssl s_server -accept "127.0.0.1:$tlsport" -cert "$state/utm-https.crt" \
		-key "$state/utm-https.key" -www -quiet >"$state/s_server.log" 2>&1 </dev/null &
	pids="$pids $!"
fi

# Everything up? (at most 5 s each; usually well under 1 s in total)
ports="mosquitto:$mqttport"
[ -x "$dnsmasq" ] && ports="$ports dnsmasq:$dnsport"
[ -f "$state/utm-https.crt" ] && ports="$ports s_server:$tlsport"
# shellcheck disable=SC2086
tcp_wait $ports
[ -x "$snmpd" ] && { wait_for 50 grep -q '^NET-SNMP version' "$state/snmpd.log" ||
	echo "demo: snmpd did not start, see $state/snmpd.log" >&2; }

build/mamorid -c "$state/demo.conf" --check-config
echo "demo: mamorid running; state in $state; Ctrl-C to stop"
build/mamorid -f -c "$state/demo.conf" &
pids="$pids $!"
wait_for 50 test -S "$state/api.sock" || echo "demo: mamorid's API socket did not appear" >&2
# The dashboard's demo login: made over the local socket (the local
# administrator), once per demo state dir; its password stays in the
# state dir (0600).
if [ ! -s "$state/demo-password" ]; then
	(umask 077 && python3 -c 'import secrets; print("demo-" + secrets.token_urlsafe(9))' >"$state/demo-password")
fi
pw=$(cat "$state/demo-password")
python3 - "$state/api.sock" "$pw" <<'PY' || echo "demo: could not create the demo login" >&2
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("local")
c.request("POST", "/api/v1/users", json.dumps({"name": "demo", "role": "operator",
          "centers": ["cc-east", "cc-west"], "password": sys.argv[2]}), {"Content-Type": "application/json"})
r = c.getresponse()
sys.exit(0 if r.status in (201, 409) else 1)  # 409: made by an earlier run
PY
echo "demo: dashboard  http://127.0.0.1:$httpport/   login: demo   password: $pw"
build/tools/mamori-agentsim -p "$mqttport" -c 3 -n 30 -r 3 -d "${DEMO_SECONDS:-31536000}" --status \
	--defender-off 10 --aging 10 --silent 5 --bad 3 >"$state/agentsim.log" 2>&1 &
pids="$pids $!"
end=$(($(date +%s) + ${DEMO_SECONDS:-31536000}))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 10
	echo "---- $(date '+%H:%M:%S') checks (mamorictl --socket $state/api.sock checks; dashboard http://127.0.0.1:$httpport/ demo / $pw) ----"
	build/mamorictl --socket "$state/api.sock" checks | head -70 || true
done
