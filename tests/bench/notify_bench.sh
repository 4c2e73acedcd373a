#!/bin/sh
# tests/bench/notify_bench.sh: on-call notification figures, run by
# tests/bench/section-notify.sh or on its own from the repository top.
#
#   mail   alert event -> the notification in the Dovecot mailbox: a real
#          mamorid opens N alerts (one at a time, through its API socket);
#          the time from the request to the mail's file appearing in the
#          technician's Maildir (new/ or cur/), p50 and p99.  Reference in
#          the same run: the same submission (STARTTLS, AUTH, a message of
#          the same size) made by `curl` from the shell, timed the same way.
#          Postfix delivers over LMTP to Dovecot (tests/integration/
#          mailserver.sh); needs root (Postfix's master).
#   storm  2,000 alerts from silent agents within ~10 s (mamori-agentsim
#          through a real broker): mamorid's CPU (all threads) per alert
#          with notifications to an SMS gateway and a webhook (a local
#          HTTPS recorder), against the same storm with no notifications
#          configured; the messages it sent.
#
# Output: one line per figure ("name value ... key value ..."), progress on
# stderr.  Exit 0, 1 on failure, 77 when something needed is missing.
# Environment: BENCH_NOTIFY_N (alerts for `mail`, 60; quick 20),
# BENCH_KEEP=1 (keep the work directory).
# mamorid started as root stays root here (a bench/demo, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
MAMORID=$B/mamorid
SIM=$B/tools/mamori-agentsim
N=${BENCH_NOTIFY_N:-60}
[ -n "${BENCH_QUICK:-}" ] && N=${BENCH_NOTIFY_N:-20}
for f in "$MAMORID" "$SIM" "$B/plugins/email.so" "$B/plugins/sms.so" "$B/plugins/webhook.so"; do
	[ -f "$f" ] || { echo "notify_bench: $f missing (make all)" >&2; exit 77; }
done
command -v python3 >/dev/null && command -v mosquitto >/dev/null && command -v sqlite3 >/dev/null ||
	{ echo "notify_bench: needs python3, mosquitto, sqlite3" >&2; exit 77; }
. tests/integration/mailserver.sh

W=$(mktemp -d "${TMPDIR:-/tmp}/mamori-notify-bench.XXXXXX") || exit 1
chmod 755 "$W"
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	ms_stop "$W/ms"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "notify_bench: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
say() { echo "notify_bench: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wait_for() {
	_end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.05
	done
}
abs_plugins=$(cd "$B/plugins" && pwd)

# ---- mail: alert event -> Dovecot mailbox ----
mkdir -p "$W/ms"
if ms_start "$W/ms" >"$W/ms.env" 2>"$W/ms.err"; then
	. "$W/ms.env"
	PW=$(cat "$MS_PASSWORD_FILE")
	printf 'tanaka:{PLAIN}%s\n' "$PW" >>"$W/ms/dovecot/users"
	sock=$W/api.sock
	mkdir -p "$W/state"
	cat >"$W/mail.conf" <<EOF
daemon = { state_dir = "$W/state"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori"; log_level = "warning"; node = "bench"; };
http = { listen = "unix:$sock"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = "24x7"; } );
centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc"; } );
notify = { channels = ( { name = "mail"; plugin = "email"; from = "mamori@mamori.test";
  smtp = { url = "smtp://127.0.0.1:$MS_SMTP_PORT"; user = "probe"; password_file = "$MS_PASSWORD_FILE"; ca_file = "$MS_CA"; }; } );
  bundle_window = "0s"; repeat = "0"; link_base = "https://mmr.jp"; };
contacts = ( { name = "tanaka"; email = "tanaka@probe.test"; } );
oncall = ( { center = "cc"; layers = ( { members = "tanaka"; } ); } );
customers = ( { id = "c1"; name = "株式会社ベンチ"; assets = ( { name = "h"; type = "host"; checks = ( { plugin = "dummy"; interval = "1h"; } ); } ); } );
EOF
	"$MAMORID" -f -c "$W/mail.conf" >"$W/mamorid.log" 2>&1 &
	MPID=$!
	PIDS="$PIDS $MPID"
	wait_for 10 test -S "$sock" || die "mamorid did not start: $(tail -3 "$W/mamorid.log")"
	say "mail: $N alerts through mamorid, then $N submissions by curl"
	python3 - "$sock" "$W/ms/mail/tanaka" "$N" "$MS_SMTP_PORT" "$MS_CA" "$PW" "$W" <<'PY' || die "mail figures"
import json, os, socket, subprocess, sys, time
sock, maildir, n, smtp, ca, pw, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
seen = set()

def files():
    out = []
    for d in ("new", "cur"):
        p = os.path.join(maildir, d)
        if os.path.isdir(p):
            out += [os.path.join(p, f) for f in os.listdir(p)]
    return out

def wait_new(marker, t0, limit=30):
    while time.time() - t0 < limit:
        for f in files():
            if f in seen:
                continue
            try:
                data = open(f, "rb").read()
            except OSError:
                continue
            if marker.encode() in data:
                seen.add(f)
                return time.time() - t0
        time.sleep(0.002)
    raise SystemExit("no mail with " + marker)

def post(path, body):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    b = json.dumps(body).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), len(b)) + b)
    r = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        r += c
    s.close()
    return json.loads(r.split(b"\r\n\r\n", 1)[1])

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]

for f in files():
    seen.add(f)
lat, size = [], 0
for i in range(n):
    t0 = time.time()
    r = post("/api/v1/alerts", {"customer": "c1", "asset": "h", "check": "bench-%d" % i,
                                "service": "utm", "summary": "UTM 応答なし #%d" % i, "severity": "critical"})
    lat.append(wait_new("X-Mamori-Alert: " + r["alert"], t0))
    if not size:
        size = max(os.path.getsize(f) for f in seen if f.startswith(maildir))
    time.sleep(0.05)
ref = []
msg = os.path.join(work, "ref.eml")
for i in range(n):
    mid = "<ref-%d-%f@bench.test>" % (i, time.time())
    body = ("Date: Mon, 07 Dec 2026 00:00:00 +0000\r\nFrom: mamori@mamori.test\r\nTo: tanaka@probe.test\r\n"
            "Subject: ref\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" % mid) + ("QUJD" * 19 + "\r\n") * 12
    open(msg, "w").write(body)
    t0 = time.time()
    subprocess.run(["curl", "-s", "--ssl-reqd", "--cacert", ca, "--user", "probe:" + pw,
                    "--mail-from", "mamori@mamori.test", "--mail-rcpt", "tanaka@probe.test",
                    "--upload-file", msg, "smtp://127.0.0.1:" + smtp], check=True)
    ref.append(wait_new("Message-ID: " + mid, t0))
    time.sleep(0.05)
print("notify_mail alert_to_mailbox_p50_ms %.1f p99_ms %.1f n %d  curl_submission_p50_ms %.1f p99_ms %.1f n %d" % (
    pct(lat, 50) * 1000, pct(lat, 99) * 1000, n, pct(ref, 50) * 1000, pct(ref, 99) * 1000, n))
PY
	kill "$MPID" 2>/dev/null
	ms_stop "$W/ms"
else
	say "mail: skipped ($(cat "$W/ms.err"))"
fi

# ---- storm: CPU per alert with and without notifications ----
mkdir -p "$W/tls"
ms_certs "$W/tls" || die "openssl"
port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n' "$port" >"$W/mosq.conf"
mosquitto -c "$W/mosq.conf" >"$W/mosq.log" 2>&1 &
PIDS="$PIDS $!"
hport=$(free_port)
: >"$W/plan"
python3 tests/integration/httprecorder.py "$hport" "$W/tls/cert.pem" "$W/tls/key.pem" "$W/req.jsonl" "$W/plan" &
PIDS="$PIDS $!"
printf 'tok\n' >"$W/tok"
chmod 600 "$W/tok"
sleep 0.5
storm() { # LABEL NOTIFY(0|1)
	st=$W/state-$1
	mkdir -p "$st"
	{
		cat <<EOF
daemon = { state_dir = "$st"; plugin_dir = "$abs_plugins"; data_dir = "$(pwd)/share/mamori"; log_level = "warning"; node = "bench"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-$1"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = "24x7"; } );
centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc"; } );
customers = (
EOF
		for c in c0001 c0002 c0003 c0004; do
			printf '{ id = "%s"; name = "%s"; agents = { defender = { auto_register = true; stale_after = "4s"; max_attempts = 1; }; }; },\n' "$c" "$c"
		done | sed '$ s/,$//'
		echo ');'
		if [ "$2" = 1 ]; then
			cat <<EOF
notify = { channels = (
  { name = "gw"; plugin = "sms"; template = "json"; from = "M"; url = "https://127.0.0.1:$hport/sms"; secret_file = "$W/tok"; ca_file = "$W/tls/ca.pem"; },
  { name = "hook"; plugin = "webhook"; template = "json"; url = "https://127.0.0.1:$hport/hook"; ca_file = "$W/tls/ca.pem"; } );
  hold = "5s"; bundle_window = "10s"; sms_per_hour = 10; repeat = "0"; };
contacts = ( { name = "tanaka"; phone = "+819011112222"; channels = ( { channel = "gw"; } ); },
             { name = "room"; channels = ( { channel = "hook"; } ); } );
oncall = ( { center = "cc"; overrides = ( { contact = "tanaka"; from = "2000-01-01 00:00"; until = "2100-01-01 00:00"; },
                                          { contact = "room"; from = "2000-01-01 00:00"; until = "2100-01-01 00:00"; } ); } );
EOF
		fi
	} >"$W/$1.conf"
	: >"$W/req.jsonl"
	"$MAMORID" -f -c "$W/$1.conf" >"$W/$1.log" 2>&1 &
	spid=$!
	PIDS="$PIDS $spid"
	sleep 1
	t0=$(cpu_ticks "$spid")
	"$SIM" -p "$port" -c 4 -n 2000 -N 2000 -r 200 -d 60 --silent 100 >"$W/sim-$1.log" 2>&1 || die "simulator"
	wait_for 60 sh -c "[ \$(sqlite3 -cmd '.timeout 5000' '$st/mamori.db' 'SELECT count(*) FROM alert') -ge 2000 ]" ||
		die "storm $1: alerts did not open"
	# the last bundles (hold 5 s, window 10 s), then a quiet second
	sleep 17
	t1=$(cpu_ticks "$spid")
	msgs=$(wc -l <"$W/req.jsonl")
	kill "$spid"
	hz=$(getconf CLK_TCK)
	awk -v a="$t0" -v b="$t1" -v hz="$hz" -v l="$1" -v m="$msgs" \
		'BEGIN { printf "notify_storm_%s alerts 2000 cpu_s %.2f us_per_alert %.0f messages %d\n", l, (b - a) / hz, (b - a) / hz * 1e6 / 2000, m }'
}
say "storm: 2,000 alerts without notifications, then with"
storm plain 0
storm notify 1
