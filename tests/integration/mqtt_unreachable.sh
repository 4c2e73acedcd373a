#!/bin/sh
# mqtt_unreachable: checks keep running on time while the broker is
# unreachable (a loopback listener whose accept queue is full, so connects
# hang like a blackholed address - without sending anything off the
# machine) and while a real broker restarts.  A check runs every 200 ms and
# appends a timestamp per run; the gaps between runs must stay small.
. tests/integration/lib.sh
it_init
command -v python3 >/dev/null 2>&1 || it_skip "python3 not installed"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -x "$MOSQUITTO" ] || it_skip "mosquitto not installed"

hole=$(it_free_port)
cat >"$IT_TMP/hole.py" <<EOP
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", $hole))
s.listen(0)
fill = []
for i in range(4):  # fill the accept queue; later SYNs are dropped
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", $hole))
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(120)
EOP
it_bg hole python3 "$IT_TMP/hole.py"
sleep 0.5

IT_STATE_DIR=$IT_TMP/state
mkconf() { # port
	cat <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; };
mqtt = { host = "127.0.0.1"; port = $1; connect_timeout = "2s"; };
customers = ( { id = "c1"; assets = ( { name = "a"; checks = (
  { plugin = "exec"; name = "tick"; interval = "200ms"; max_attempts = 1;
    command = "/bin/sh -c 'date +%s.%N >> $IT_TMP/ticks; echo OK'"; } ); } ); } );
EOC
}
# gaps FILE FROM: largest gap between runs after line FROM, and the count
gaps() {
	awk -v from="$2" 'NR > from { if (prev) { g = $1 - prev; if (g > max) max = g } prev = $1; n++ }
		END { printf "%d %.3f\n", n, max }' "$1"
}

mkconf "$hole" >"$IT_TMP/hole.conf"
it_mamorid "$IT_TMP/hole.conf"
sleep 4
set -- $(gaps "$IT_TMP/ticks" 0)
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null
echo "unreachable broker: $1 runs in 4 s, largest gap $2 s"
[ "$1" -ge 12 ] || it_fail "only $1 runs in 4 s with the broker unreachable"
awk -v g="$2" 'BEGIN { exit !(g < 0.6) }' || it_fail "a run was $2 s late with the broker unreachable"

# A real broker that goes away for 2 s and comes back.
port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$IT_TMP/mosq.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$IT_TMP/mosq.conf"
it_bg mosquitto "$MOSQUITTO" -c "$IT_TMP/mosq.conf"
mosq=$IT_LAST_PID
it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x || it_fail "broker did not start"
mkconf "$port" >"$IT_TMP/real.conf"
: >"$IT_TMP/ticks"
it_mamorid "$IT_TMP/real.conf"
online() { mosquitto_sub -h 127.0.0.1 -p "$port" -t 'mamori/v1/server/+/status' -C 1 -W 1 2>/dev/null | grep -q online; }
it_wait_for 10 online || it_fail "mamorid did not connect"
kill "$mosq"
wait "$mosq" 2>/dev/null
sleep 2
it_bg mosquitto2 "$MOSQUITTO" -c "$IT_TMP/mosq.conf"
it_wait_for 15 online || it_fail "mamorid did not reconnect after the broker restarted"
sleep 1
set -- $(gaps "$IT_TMP/ticks" 0)
echo "broker restart: $1 runs, largest gap $2 s"
awk -v g="$2" 'BEGIN { exit !(g < 0.6) }' || it_fail "a run was $2 s late while the broker restarted"
exit 0
