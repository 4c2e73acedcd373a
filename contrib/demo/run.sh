#!/bin/sh
# Runs the demo from the build tree: a private state directory under
# ./demo-state, mamorid in the foreground, and a status table every 10 s.
# Stop with Ctrl-C.  DEMO_SECONDS=N stops it after N seconds (tests).
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
state="$top/demo-state"
mkdir -p "$state"
# A port the "UTM management" check can reach: a tiny listener.
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()' 2>/dev/null || echo 18080)
sed -e "s|@STATE@|$state|" -e "s|@PLUGINS@|$top/build/plugins|" -e "s|@DATA@|$top/share/mamori|" \
	-e "s|@PORT@|$port|" contrib/demo/demo.conf.in >"$state/demo.conf"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
if command -v python3 >/dev/null 2>&1; then
	python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
	pids="$pids $!"
fi
build/mamorid -c "$state/demo.conf" --check-config
echo "demo: mamorid running; state in $state; Ctrl-C to stop"
build/mamorid -f -c "$state/demo.conf" &
pids="$pids $!"
end=$(($(date +%s) + ${DEMO_SECONDS:-31536000}))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 10
	echo "---- $(date '+%H:%M:%S') status (mamorictl -d $state status) ----"
	build/mamorictl -d "$state" status || true
done
