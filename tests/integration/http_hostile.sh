#!/bin/sh
# it: serial
# Hostile HTTP clients against a running mamorid with 300 checks every
# second (200 of them CRITICAL, so alert events flow at ~200/s): garbage
# requests, 1 MB headers, 100 slow-loris clients, 2,000 idle connections,
# event-stream readers that stop reading, and 2,000 API requests while all
# of that goes on.  Checks must keep their schedule (the worst scheduling
# lag is printed and must stay under 1 s), the stalled streams must be
# dropped, mamorid's memory must stay bounded (RSS growth printed, at most
# 64 MB), and a well-behaved client must be answered throughout.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v curl >/dev/null || it_skip "curl missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true
[ "$(ulimit -n)" -ge 4096 ] || it_skip "cannot raise the descriptor limit (ulimit -n $(ulimit -n))"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
hport=$(it_free_port)
mport=$(it_free_port)
SOCK=$IT_TMP/api.sock
{
	cat <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "notice"; node = "x1"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; metrics_listen = "127.0.0.1:$mport";
         max_connections = 3000; timeout = "20s"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "1h"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc"; } );
customers = (
CONF
	i=0
	while [ $i -lt 30 ]; do
		printf '  { id = "c%02d"; assets = ( ' $i
		j=0
		while [ $j -lt 10 ]; do
			st=0
			[ $j -lt 7 ] && st=2
			printf '{ name = "h%d"; checks = ( { plugin = "dummy"; interval = "1s"; max_attempts = 1; state = %d; } ); }' $j $st
			[ $j -lt 9 ] && printf ', '
			j=$((j + 1))
		done
		printf ' ); }'
		[ $i -lt 29 ] && printf ','
		printf '\n'
		i=$((i + 1))
	done
	echo ");"
} >"$IT_TMP/m.conf"
"$MAMORID" -c "$IT_TMP/m.conf" --check-config >"$IT_TMP/check.log" 2>&1 || it_fail "config: $(cat "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/m.conf"
it_wait_for 10 test -S "$SOCK" || it_fail "no API socket"
sleep 3

lagmax() { curl -s "http://127.0.0.1:$mport/metrics" | awk '$1=="mamori_scheduling_lag_max_seconds"{print $2}'; }
rss() { awk '/VmRSS/{print $2}' "/proc/$MAMORID_PID/status"; }
rss0=$(rss)

python3 - "$hport" "$SOCK" <<'PY' || it_fail "hostile clients (above)"
import socket, sys, threading, time, random

PORT, SOCK = int(sys.argv[1]), sys.argv[2]
def tcp():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return s
def first_line(s):
    got = b""
    try:
        while b"\r\n" not in got:
            c = s.recv(4096)
            if not c:
                break
            got += c
    except OSError:
        pass
    return got.split(b"\r\n")[0]
fails = []

# garbage, a 1 MB header, a truncated request, binary
rnd = random.Random(3)
for i in range(200):
    s = tcp()
    kind = i % 4
    try:
        if kind == 0:
            s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2000))) + b"\r\n\r\n")
        elif kind == 1:
            s.sendall(b"GET /api/v1/alerts HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1000000 + b"\r\n\r\n")
        elif kind == 2:
            s.sendall(b"GET /api/v1/%s HTTP/1.1\r\nHost: x\r\n\r\n" % bytes(rnd.randrange(33, 127) for _ in range(50)))
        else:
            s.sendall(b"POST /api/v1/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
    except OSError:
        pass
    line = first_line(s)
    if line and not line.startswith(b"HTTP/1.1 4"):
        fails.append("garbage %d answered %r" % (kind, line))
    s.close()

# 2,000 idle connections and 100 slow-loris clients, held open
idle = []
for i in range(2000):
    try:
        idle.append(tcp())
    except OSError as e:
        fails.append("idle connection %d refused: %s" % (i, e))
        break
loris = [tcp() for _ in range(100)]
stop = time.time() + 12
def drip():
    while time.time() < stop:
        for s in loris:
            try:
                s.send(b"G")
            except OSError:
                pass
        time.sleep(0.5)
threading.Thread(target=drip, daemon=True).start()

# stream readers that never read (over the UNIX socket: the local admin)
stalled = []
for i in range(5):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    u.connect(SOCK)
    u.sendall(b"GET /api/v1/events?types=alert,state HTTP/1.1\r\nHost: l\r\n\r\n")
    stalled.append(u)

# a good client all along: every answer in time
worst, n = 0.0, 0
while time.time() < stop:
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(5)
    t0 = time.time()
    try:
        u.connect(SOCK)
        u.sendall(b"GET /api/v1/alerts?status=open&limit=100 HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        line = first_line(u)
        if not line.startswith(b"HTTP/1.1 200"):
            fails.append("good client got %r" % line)
    except OSError as e:
        fails.append("good client: %s" % e)
    u.close()
    worst = max(worst, time.time() - t0)
    n += 1
    time.sleep(0.005)
print("good client: %d requests, worst answer %.3f s" % (n, worst))
if worst > 1.0:
    fails.append("a good client waited %.3f s" % worst)
for s in idle + loris + stalled:
    s.close()
if fails:
    for f in fails[:20]:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1)
PY
lag=$(lagmax)
rss1=$(rss)
echo "worst scheduling lag ${lag}s; RSS ${rss0} kB -> ${rss1} kB"
awk -v l="$lag" 'BEGIN{exit !(l < 1.0)}' || it_fail "checks fell behind: worst lag ${lag}s"
# 64 MB; an ASan build keeps freed memory in its quarantine (256 MB)
max_kb=65536
it_asan && max_kb=$((320 * 1024))
[ $((rss1 - rss0)) -lt $max_kb ] || it_fail "memory grew by $(((rss1 - rss0) / 1024)) MB"
dropped=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '$1=="mamori_http_sse_dropped_total"{print $2}')
[ "${dropped:-0}" -ge 5 ] || it_fail "stalled stream readers not dropped (dropped: $dropped)"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
[ "$(curl -s --unix-socket "$SOCK" http://l/healthz)" = ok ] || it_fail "not answering afterwards"
echo "PASS $IT_NAME"
