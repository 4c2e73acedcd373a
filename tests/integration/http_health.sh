#!/bin/sh
# HTTP server on the loop: the real mamorid with an `http` group on a free
# loopback port, [::1] and a UNIX socket, curl from Debian as the client.
# /healthz and /readyz (ready follows the broker: killed -> 503, back ->
# 200), every other path 404, methods and bodies refused, a 1 MB header
# refused (431), slow clients (partial request lines) dropped after the
# idle timeout while /healthz keeps answering at once, the connection
# limit, config errors with file:line at --check-config, and an address in
# use refusing the start with a clear error.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v curl >/dev/null || it_skip "curl missing"
command -v python3 >/dev/null || it_skip "python3 missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
it_mosquitto
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
conf() { # $1: http group body
	cat <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "h1"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-http"; };
http = { $1 };
customers = ( { id = "c1"; assets = ( { name = "a"; checks = ( { plugin = "dummy"; interval = "1s"; } ); } ); } );
CONF
}

# ---- config errors ----
conf "listen = \"127.0.0.1:$hport\"; colour = \"blue\";" >"$IT_TMP/bad1.conf"
"$MAMORID" -c "$IT_TMP/bad1.conf" --check-config >"$IT_TMP/bad1.log" 2>&1 &&
	it_fail "unknown http key accepted"
grep -q 'bad1.conf:3: http.colour: unknown key' "$IT_TMP/bad1.log" ||
	it_fail "no file:line for the unknown key: $(cat "$IT_TMP/bad1.log")"
conf 'listen = "localhost:80";' >"$IT_TMP/bad2.conf"
"$MAMORID" -c "$IT_TMP/bad2.conf" --check-config >"$IT_TMP/bad2.log" 2>&1 &&
	it_fail "a host name was accepted as listen address"
grep -q 'numeric addresses only' "$IT_TMP/bad2.log" || it_fail "bad listen: $(cat "$IT_TMP/bad2.log")"
conf 'timeout = "30s";' >"$IT_TMP/bad3.conf"
"$MAMORID" -c "$IT_TMP/bad3.conf" --check-config >/dev/null 2>&1 && it_fail "http without listen accepted"

# ---- serving ----
conf "listen = [ \"127.0.0.1:$hport\", \"[::1]:$hport\", \"unix:$SOCK\" ]; timeout = \"2s\"; max_connections = 60;" >"$IT_TMP/m.conf"
"$MAMORID" -c "$IT_TMP/m.conf" --check-config >/dev/null 2>&1 || it_fail "config refused"
it_mamorid "$IT_TMP/m.conf"
it_wait_online
U=http://127.0.0.1:$hport
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "$U/healthz")" = 200 ] || it_fail "healthz not 200"
[ "$(curl -s "$U/healthz")" = ok ] || it_fail "healthz body"
it_wait_for 10 sh -c "curl -s '$U/readyz' | grep -q '\"ready\":true,\"store\":\"ok\",\"broker\":\"connected\"'" ||
	it_fail "readyz not ready: $(curl -s "$U/readyz")"
if curl -s -o /dev/null --max-time 2 "http://[::1]:$hport/healthz" 2>/dev/null; then
	[ "$(code "http://[::1]:$hport/readyz")" = 200 ] || it_fail "IPv6 listener"
fi
[ "$(curl -s --unix-socket "$SOCK" http://local/healthz)" = ok ] || it_fail "UNIX socket listener"
[ "$(stat -c %a "$SOCK")" = 660 ] || it_fail "UNIX socket mode $(stat -c %a "$SOCK")"
[ "$(code "$U/api/v1/customers")" = 401 ] || it_fail "the API answered without a login"
[ "$(code "$U/nothing/here")" = 404 ] || it_fail "an unknown path not 404"
[ "$(code -X POST "$U/healthz")" = 405 ] || it_fail "POST not 405"
[ "$(code -X DELETE "$U/readyz")" = 405 ] || it_fail "DELETE not 405"
[ "$(code -X GET --data x=1 "$U/healthz")" = 413 ] || it_fail "a body not refused"
curl -s -D - -o /dev/null "$U/healthz" | grep -qi '^x-content-type-options: nosniff' ||
	it_fail "no nosniff header"

# hostile clients: a 1 MB header, garbage, half requests that never end
python3 - "$hport" <<'PY' || it_fail "hostile clients: see above"
import socket, sys, time
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)
s = conn()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1000000 + b"\r\n\r\n")
got = s.recv(64)
if not got.startswith(b"HTTP/1.1 431") and not got.startswith(b"HTTP/1.1 413"):
    sys.exit("1 MB header answered %r" % got[:40])
s = conn()
s.sendall(bytes(range(256)) * 4 + b"\r\n\r\n")
s.recv(64)  # an answer or a close, never a hang
slow = []
for _ in range(40):  # slow loris: a request line that never ends
    c = conn()
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
    slow.append(c)
t0 = time.time()
s = conn()
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
if not s.recv(64).startswith(b"HTTP/1.1 200"):
    sys.exit("healthz did not answer next to 40 slow clients")
if time.time() - t0 > 1.0:
    sys.exit("healthz took %.2fs next to 40 slow clients" % (time.time() - t0))
time.sleep(3.5)  # timeout = 2s: the slow ones are dropped
dropped = 0
for c in slow:
    c.settimeout(0.5)
    try:
        if c.recv(64) == b"":
            dropped += 1
    except OSError:
        dropped += 1
if dropped < 40:
    sys.exit("%d of 40 slow clients still connected after the timeout" % (40 - dropped))
PY

# the connection limit (60 per address): more are not served
python3 - "$hport" <<'PY' || it_fail "connection limit"
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(60):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Wait: ")  # accepted, never done
    held.append(c)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
extra.setblocking(False)
# 3 s with the 60 kept busy (a header byte every 0.3 s: under the 2 s
# idle timeout): the 61st must not be answered meanwhile
end = time.time() + 3
while time.time() < end:
    for c in held:
        c.sendall(b"a")
    try:
        if extra.recv(64).startswith(b"HTTP/1.1 200"):
            sys.exit("a connection beyond the limit was served")
    except BlockingIOError:
        pass
    except OSError:
        break  # refused outright: fine too
    time.sleep(0.3)
PY
# once they are gone (closed, or timed out) it serves again
it_wait_for 10 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 '$U/healthz')\" = 200 ]" ||
	it_fail "healthz after the limit test"

# readiness follows the broker
kill "$MOSQ_PID"
it_wait_for 15 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$U/readyz')\" = 503 ]" ||
	it_fail "readyz still ready with the broker gone: $(curl -s "$U/readyz")"
curl -s "$U/readyz" | grep -q '"broker":"disconnected"' || it_fail "readyz does not say why"
[ "$(code "$U/healthz")" = 200 ] || it_fail "healthz must not depend on the broker"

# an address in use refuses the start, clearly
conf "listen = \"127.0.0.1:$hport\";" >"$IT_TMP/dup.conf"
sed -i "s#state_dir = \"$IT_STATE_DIR\"#state_dir = \"$IT_TMP/state2\"#" "$IT_TMP/dup.conf"
mkdir -p "$IT_TMP/state2"
"$MAMORID" -f -c "$IT_TMP/dup.conf" >"$IT_TMP/dup.log" 2>&1 && it_fail "started on an address in use"
grep -q "cannot listen on 127.0.0.1:$hport" "$IT_TMP/dup.log" || it_fail "no clear error: $(tail -3 "$IT_TMP/dup.log")"

kill "$MAMORID_PID"
wait "$MAMORID_PID"
rc=$?
[ $rc = 0 ] || it_fail "mamorid exited with $rc: $(tail -5 "$IT_TMP/mamorid.log")"
grep -E 'Sanitizer|runtime error' "$IT_TMP/mamorid.log" "$IT_TMP"/bad*.log && it_fail "sanitizer report"
[ -e "$SOCK" ] && it_fail "the UNIX socket file was left behind"
echo "PASS http_health"
