#!/bin/sh
# mqtt_idle: mamorid connected to a real mosquitto and idle (one agent
# report judged, then nothing) costs almost no CPU, over plain TCP and
# over TLS, whichever socket I/O its session has; it says once per
# connection which ("broker socket I/O: buffered" when its read/write
# interposer is in libmosquitto's path, "unbuffered" when not), and that
# matches the build: buffered exactly when mamorid exports read/write/
# close.  No unit test binary (but the interposer's own suite) and no tool
# exports them: the interposer is linked into mamorid only.
# Guards against the spin where an unbuffered session (interposer not
# linked or not exported) burned one core on empty reads at idle.
# MAMORID=... runs it on another build (e.g. make IO_INTERPOSE=no).
. tests/integration/lib.sh
it_init
tport=$(it_free_port)
tls=
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$IT_TMP/broker.key" \
		-out "$IT_TMP/broker.pem" 2>/dev/null; then
	chmod 0755 "$IT_TMP"
	chmod 0644 "$IT_TMP/broker.key" "$IT_TMP/broker.pem"
	tls=1
fi
if [ -n "$tls" ]; then
	# as root, mosquitto would drop to user "mosquitto" before reading the key
	[ "$(id -u)" -eq 0 ] && root="user root" || root="# not root"
	it_mosquitto "listener $tport 127.0.0.1" "certfile $IT_TMP/broker.pem" \
		"keyfile $IT_TMP/broker.key" "$root"
else
	it_mosquitto
fi

# utime + stime of all of mamorid's threads, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$MAMORID_PID/stat"; }
hz=$(getconf CLK_TCK)

# idle NAME MQTT-KEYS: start mamorid with those mqtt keys, one report,
# then 2 s idle; sets $mode to its "broker socket I/O" line
idle() {
	IT_STATE_DIR=$IT_TMP/state-$1
	cat >"$IT_TMP/$1.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; };
mqtt = { host = "127.0.0.1"; client_id = "mamorid-idle-$1"; $2 };
customers = ( { id = "c0001"; agents = { defender = { auto_register = true; }; }; } );
EOC
	it_mamorid "$IT_TMP/$1.conf"
	it_wait_online
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/agents/c0001/PC-$1/defender" \
		-f tests/fixtures/defender/healthy.json || it_fail "publish"
	it_wait_state 10 c0001 "PC-$1" defender "0|" ||
		it_fail "$1: report not judged: $(tail -3 "$IT_TMP/mamorid.log")"
	sleep 0.5
	t0=$(ticks)
	sleep 2
	t1=$(ticks)
	kill "$MAMORID_PID"
	wait "$MAMORID_PID" 2>/dev/null
	pct=$(awk -v d="$((t1 - t0))" -v hz="$hz" 'BEGIN { printf "%.0f", d * 100 / hz / 2 }')
	lines=$(grep -c 'broker socket I/O' "$IT_TMP/mamorid.log")
	mode=$(grep -o 'broker socket I/O: [a-z]*' "$IT_TMP/mamorid.log" | head -n 1)
	echo "$1: idle mamorid used ${pct}% of one core over 2 s ($((t1 - t0)) ticks at $hz Hz); $mode"
	[ "$pct" -lt 20 ] || it_fail "$1: idle mamorid used ${pct}% of a core ($mode)"
	[ "$lines" = 1 ] || it_fail "$1: $lines 'broker socket I/O' lines for one connection"
	mv "$IT_TMP/mamorid.log" "$IT_TMP/mamorid-$1.log"
}

idle plain "port = $port;"
if [ -n "$tls" ]; then
	idle tls "port = $tport; tls = { ca_file = \"$IT_TMP/broker.pem\"; };"
	grep -q 'TLS records batched by OpenSSL' "$IT_TMP/mamorid-tls.log" ||
		it_fail "tls: no TLS batching reported: $(grep 'socket I/O' "$IT_TMP/mamorid-tls.log")"
else
	echo "openssl missing: TLS part skipped"
fi

command -v nm >/dev/null 2>&1 || { echo "nm missing: link checks skipped"; exit 0; }
exports() { nm -D --defined-only "$1" 2>/dev/null | grep -cwE 'read|write|close'; }
case "$(exports "$MAMORID"):$mode" in
3:*": buffered" | 0:*": unbuffered") ;;
*) it_fail "$MAMORID exports $(exports "$MAMORID") of read/write/close but logged '$mode'" ;;
esac
for f in "$B"/tests/test_* "$B"/tools/* "$MAMORICTL"; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	case $f in */test_mqtt_interpose) continue ;; esac
	[ "$(exports "$f")" = 0 ] || it_fail "$f exports read/write/close: the interposer is for mamorid only"
done
exit 0
