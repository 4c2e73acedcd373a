#!/bin/sh
# Runs the demo from the build tree: a private Mosquitto on a loopback
# port, mamorid in the foreground with its state under ./demo-state, the
# agent simulator playing 30 PCs of 3 customers (some with Defender off,
# aging signatures, silent agents and garbage payloads), and a status table
# every 10 s.  Stop with Ctrl-C.  DEMO_SECONDS=N stops after N seconds.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
state="$top/demo-state"
mkdir -p "$state"
# A port the "UTM management" check can reach: a tiny listener.
free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}
port=$(free_port)
mqttport=$(free_port)
sed -e "s|@STATE@|$state|" -e "s|@PLUGINS@|$top/build/plugins|" -e "s|@DATA@|$top/share/mamori|" \
	-e "s|@PORT@|$port|" -e "s|@MQTTPORT@|$mqttport|" contrib/demo/demo.conf.in >"$state/demo.conf"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
pids="$pids $!"
# A private broker for the demo only: loopback, anonymous.  Production uses
# contrib/mosquitto/ (TLS, per-agent credentials, ACL).
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqttport" >"$state/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && printf 'user root\n' >>"$state/mosquitto.conf"
/usr/sbin/mosquitto -c "$state/mosquitto.conf" >"$state/mosquitto.log" 2>&1 &
pids="$pids $!"
sleep 0.5
build/mamorid -c "$state/demo.conf" --check-config
echo "demo: mamorid running; state in $state; Ctrl-C to stop"
build/mamorid -f -c "$state/demo.conf" &
pids="$pids $!"
sleep 1
build/tools/mamori-agentsim -p "$mqttport" -c 3 -n 30 -r 3 -d "${DEMO_SECONDS:-31536000}" --status \
	--defender-off 10 --aging 10 --silent 5 --bad 3 >"$state/agentsim.log" 2>&1 &
pids="$pids $!"
end=$(($(date +%s) + ${DEMO_SECONDS:-31536000}))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 10
	echo "---- $(date '+%H:%M:%S') status (mamorictl -d $state status) ----"
	build/mamorictl -d "$state" status | head -40 || true
done
