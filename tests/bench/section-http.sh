#!/bin/sh
# ==== http: the API under load (issue 9, "Benchmark") ====
# Run by `make bench` (tests/bench/all.sh) or on its own from the
# repository top after `make all build/bench/http_fill build/bench/httpload
# build/bench/core_bench`.  Three parts, each next to a reference measured
# in this same run, printed as ratios (never asserted):
#
# 1. API reads against Debian's nginx serving the same bytes.  A store
#    made by http_fill (the store's batch API: 100,000 alerts of history,
#    5,000 of them unresolved) under a daemon with 5,000 customers of 20
#    PCs (100,000 dummy checks, interval 1 h, every state known from the
#    store, so the loop is quiet); the overview and a page of 1,000 open
#    alerts are fetched once (bytes, time to first byte: both answers are
#    built whole before their first byte), written to files that nginx
#    (one process, `master_process off`, sendfile as Debian ships it)
#    serves, and both servers are driven by wrk with the same
#    connections and duration; mamorid with an API token (made over the
#    UNIX socket: POST /api/v1/users, POST /api/v1/tokens).  Servers are
#    pinned to core 0, wrk and httpload to core 1.  Also: the alert page
#    at one connection, and the CPU mamorid spends per request of each
#    read endpoint (httpload, closed loop on one connection).
# 2. Event fan-out, on the same daemon: comments on open alerts through
#    the API (POST .../comment) at BENCH_HTTP_EVENTS/s (1,000), first with
#    no stream, then with 100 event streams (?types=alert) counting the
#    events they receive; mamorid's CPU (/proc/PID/stat, all threads)
#    over each window.  Figures: CPU per event delivered (all of it /
#    events counted at the clients) and the streams' share ((CPU with
#    streams - CPU without, scaled to the same number of comments) /
#    events delivered).
# 3. The pipeline and the agent path with HTTP load (50 event streams and
#    200 API requests/s from httpload) against the same without it:
#    core_bench pipeline (100,000 dummy checks due every 1 ms, in-process,
#    with the API listening in both runs; checks per CPU second of the
#    pinned process) and mamorid's agent reports judged per second end to
#    end (mosquitto, mamori-agentsim, marker row in SQLite, as
#    agents_bench.sh), alternating without / with load, BENCH_HTTP_ROUNDS
#    rounds (3; medians).  Two request mixes: "all" (the reads a
#    dashboard makes, round robin, including the whole-model ones: status,
#    one customer, the overview) and "paged" (the page and lookup reads
#    only).
#
# Environment: BENCH_QUICK=1 (~1 min: 1,000 customers, 20,000 alerts, 2 s
# windows), BENCH_SECONDS (window, 5), BENCH_HTTP_CUSTOMERS (5000),
# BENCH_HTTP_PCS (20), BENCH_HTTP_ALERTS (100000), BENCH_HTTP_UNRESOLVED
# (5000), BENCH_HTTP_CONNS (wrk connections, 4), BENCH_HTTP_EVENTS (1000),
# BENCH_HTTP_STREAMS (100), BENCH_HTTP_RATE (200), BENCH_HTTP_SSE (50),
# BENCH_HTTP_ROUNDS (agent path, 3; quick 1), BENCH_AGENTS (20000),
# BENCH_AGENT_REPORTS (per run, 100000), BENCH_HTTP_PARTS (which parts:
# "reads fanout pipeline agents"), BENCH_KEEP=1 (keep the work directory).
# Exit 0, 1 when a part failed; parts whose tools are missing say skipped.
# mamorid started as root stays root here (a bench/demo, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
if [ "$QUICK" = 1 ]; then
	T=${BENCH_SECONDS:-2}
	NC=${BENCH_HTTP_CUSTOMERS:-1000}
	NA=${BENCH_HTTP_ALERTS:-20000}
	AG=${BENCH_AGENTS:-10000}
	AN=${BENCH_AGENT_REPORTS:-40000}
	ROUNDS=${BENCH_HTTP_ROUNDS:-1}
else
	T=${BENCH_SECONDS:-5}
	NC=${BENCH_HTTP_CUSTOMERS:-5000}
	NA=${BENCH_HTTP_ALERTS:-100000}
	AG=${BENCH_AGENTS:-20000}
	AN=${BENCH_AGENT_REPORTS:-100000}
	ROUNDS=${BENCH_HTTP_ROUNDS:-3}
fi
NP=${BENCH_HTTP_PCS:-20}
NU=${BENCH_HTTP_UNRESOLVED:-5000}
CONNS=${BENCH_HTTP_CONNS:-4}
EVR=${BENCH_HTTP_EVENTS:-1000}
NSTREAMS=${BENCH_HTTP_STREAMS:-100}
RATE=${BENCH_HTTP_RATE:-200}
NSSE=${BENCH_HTTP_SSE:-50}
PARTS=${BENCH_HTTP_PARTS:-reads fanout pipeline agents}
MAMORID=$B/mamorid
LOAD=$B/bench/httpload
WRK=$(command -v wrk || echo /usr/bin/wrk)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
SRV_CPU=0
GEN_CPU=1
[ "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)" -ge 2 ] || GEN_CPU=0

for f in "$MAMORID" "$LOAD" "$B/bench/http_fill" "$B/bench/core_bench" "$B/plugins/dummy.so"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "  http: $f missing (make all $B/bench/http_fill $B/bench/httpload)"; exit 1; }
done
command -v curl >/dev/null || { echo "  http: skipped (curl missing)"; exit 0; }

W=$(mktemp -d "${TMPDIR:-/tmp}/mamori-http.XXXXXX") || exit 1
chmod 700 "$W"
PIDS=
status=0
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "http: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { echo "$*" >&2; }
fail() {
	echo "  FAILED: $*"
	status=1
}
# $PIN_SRV / $PIN_GEN CMD: pinned when taskset exists (taskset execs CMD,
# so $! of a background one is CMD's own pid)
PIN_SRV=
PIN_GEN=
if command -v taskset >/dev/null 2>&1; then
	PIN_SRV="taskset -c $SRV_CPU"
	PIN_GEN="taskset -c $GEN_CPU"
fi
free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wait_for() { # wait_for SECONDS CMD...
	_end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.05
	done
}
field() { # field LINE KEY -> the word after KEY (a trailing /s removed)
	printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { v = $(i + 1); sub("/s$", "", v); print v; exit } }'
}
ratio() {
	awk -v a="${1:--}" -v b="${2:--}" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-";
		else printf "%.3f\n", a / b }'
}
row() { printf '%-46s %12s %12s %8s  %s\n' "$1" "${2:--}" "${3:--}" "${4:--}" "$5"; }
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
# med FILE LABEL COLUMN: the median of COLUMN over FILE's lines for LABEL
med() {
	awk -v n="$2" -v c="$3" '$1 == n && $c != "" { print $c }' "$1" 2>/dev/null | sort -n |
		awk '{ v[NR] = $1 } END {
			if (!NR) exit
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf(m >= 1000 ? "%.0f\n" : "%.10g\n", m) }'
}

# make_token SOCKET FILE: an admin user and its API token, over the UNIX
# socket as the local administrator.
make_token() {
	curl -sf --unix-socket "$1" -X POST -H 'Content-Type: application/json' \
		-d '{"name":"bench","role":"admin","password":"bench-password-1"}' \
		http://local/api/v1/users >/dev/null || return 1
	curl -sf --unix-socket "$1" -X POST -H 'Content-Type: application/json' \
		-d '{"user":"bench","label":"bench"}' http://local/api/v1/tokens |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$2"
	chmod 600 "$2"
	[ -s "$2" ]
}

# wrk_run URL [HEADER] -> "rps p50_ms p99_ms" (wrk on the generator core)
wrk_run() {
	_u=$1
	shift
	if [ $# -gt 0 ]; then
		$PIN_GEN "$WRK" -t1 -c"$WC" -d"${T}s" --latency -H "$1" "$_u" >"$W/wrk.out" 2>&1
	else
		$PIN_GEN "$WRK" -t1 -c"$WC" -d"${T}s" --latency "$_u" >"$W/wrk.out" 2>&1
	fi
	awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		$1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
		$1 == "Requests/sec:" { r = $2 }
		$1 ~ /^Non-2xx/ { bad = $NF }
		END { if (r == "" || bad != "") print "- - -"; else printf "%.0f %.2f %.2f\n", r, p50, p99 }' "$W/wrk.out"
}

# ttfb URL: median time to first byte of 9 requests (ms), and bytes
ttfb() {
	for _i in 1 2 3 4 5 6 7 8 9; do
		curl -s -o "$W/body" -H "Authorization: Bearer $(cat "$W/token")" \
			-w '%{time_starttransfer} %{size_download}\n' "$1"
	done | sort -n | awk 'NR == 5 { printf "%.2f %d\n", $1 * 1000, $2 }'
}

echo "mamori http benchmarks: $(date -u +%Y-%m-%dT%H:%MZ), $(getconf _NPROCESSORS_ONLN) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "window ${T}s; servers on core $SRV_CPU, wrk/httpload on core $GEN_CPU"

# ==== 1. API reads against nginx =============================================
MPID=
if want reads || want fanout; then
	echo
	echo "1. API reads: $NC customers x $NP PCs ($((NC * NP)) checks), $NA alerts in the store, $NU unresolved"
	ST=$W/state
	mkdir -p "$ST"
	chmod 700 "$ST"
	HPORT=$(free_port)
	SOCK=$W/api.sock
	if ! "$B/bench/http_fill" "$ST" "$NC" "$NP" "$NA" "$NU" >"$W/customers.conf" 2>"$W/fill.out"; then
		fail "http_fill: $(tail -2 "$W/fill.out")"
		exit 1
	fi
	echo "  store made with the batch API: $(cat "$W/fill.out")"
	{
		echo "daemon = { state_dir = \"$ST\"; plugin_dir = \"$B/plugins\"; log_level = \"warning\"; node = \"bench\"; };"
		echo "http = { listen = [ \"127.0.0.1:$HPORT\", \"unix:$SOCK\" ]; };"
		echo 'auth = { kdf_memory = 8; kdf_time_cost = 1; };'
		echo 'calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );'
		echo 'centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "7d"; resolve_within = "30d"; } ); } );'
		echo 'routes = ( { center = "cc"; } );'
		echo 'defaults = { interval = "1h"; retry_interval = "1h"; max_attempts = 1; };'
		cat "$W/customers.conf"
	} >"$W/api.conf"
	t0=$(date +%s.%N)
	$PIN_SRV "$MAMORID" -f -c "$W/api.conf" >"$W/mamorid.log" 2>&1 &
	MPID=$!
	PIDS="$PIDS $MPID"
	if ! wait_for 120 test -S "$SOCK" || ! make_token "$SOCK" "$W/token"; then
		fail "mamorid did not start: $(grep -v ' info ' "$W/mamorid.log" | tail -3)"
		exit 1
	fi
	echo "  mamorid up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, RSS $(awk '/^VmRSS/ { print $2 }' "/proc/$MPID/status") KiB; $(curl -s --unix-socket "$SOCK" http://local/api/v1/status | sed 's/.*"checks":{\([^}]*\)}.*"alerts_unresolved":\([0-9]*\).*/checks {\1}, unresolved alerts \2/')"
fi
ov="- -" al="- -"
m_ov="- - -" n_ov="- - -" m_al="- - -" n_al="- - -" m_al1="- - -" n_al1="- - -"
if want reads; then
	AUTH="Authorization: Bearer $(cat "$W/token")"
	BASE=http://127.0.0.1:$HPORT
	OVU=$BASE/api/v1/overview
	ALU="$BASE/api/v1/alerts?status=open&limit=1000"
	ov=$(ttfb "$OVU")
	cp "$W/body" "$W/overview.json"
	al=$(ttfb "$ALU")
	cp "$W/body" "$W/alerts.json"
	n_alerts=$(grep -o '"id":"A-' "$W/alerts.json" | wc -l)
	[ "$n_alerts" = 1000 ] || fail "the alert page holds $n_alerts alerts, not 1000"
	echo "  overview: $(echo "$ov" | cut -d' ' -f1) ms to first byte (median of 9), $(echo "$ov" | cut -d' ' -f2) bytes"
	echo "  alert page: $(echo "$al" | cut -d' ' -f1) ms to first byte, $(echo "$al" | cut -d' ' -f2) bytes, $n_alerts alerts"

	# nginx on the same bytes
	NG=
	if [ -x "$NGINX" ] && [ -x "$WRK" ]; then
		mkdir -p "$W/ngx/www" "$W/ngx/tmp"
		cp "$W/overview.json" "$W/alerts.json" "$W/ngx/www/"
		NPORT=$(free_port)
		cat >"$W/ngx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $W/ngx/nginx.pid;
error_log $W/ngx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/ngx/tmp; proxy_temp_path $W/ngx/tmp; fastcgi_temp_path $W/ngx/tmp;
	uwsgi_temp_path $W/ngx/tmp; scgi_temp_path $W/ngx/tmp;
	default_type application/json;
	sendfile on; tcp_nopush on; tcp_nodelay on;
	keepalive_requests 1000000; keepalive_timeout 60;
	server { listen 127.0.0.1:$NPORT; root $W/ngx/www; }
}
EOF
		$PIN_SRV "$NGINX" -e "$W/ngx/error.log" -p "$W/ngx" -c "$W/ngx/nginx.conf" >"$W/ngx/out.log" 2>&1 &
		NG=$!
		PIDS="$PIDS $NG"
		wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$NPORT/alerts.json" ||
			{ fail "nginx did not start: $(tail -2 "$W/ngx/error.log" "$W/ngx/out.log")"; NG=; }
	fi
	if [ -n "$NG" ]; then
		for f in alerts overview; do
			curl -s -o "$W/ngx.body" "http://127.0.0.1:$NPORT/$f.json"
			cmp -s "$W/$f.json" "$W/ngx.body" || fail "nginx does not serve the same bytes ($f)"
		done
		say "  wrk: overview, alert page ($CONNS connections, ${T}s each)"
		WC=$CONNS
		m_ov=$(wrk_run "$OVU" "$AUTH")
		n_ov=$(wrk_run "http://127.0.0.1:$NPORT/overview.json")
		m_al=$(wrk_run "$ALU" "$AUTH")
		n_al=$(wrk_run "http://127.0.0.1:$NPORT/alerts.json")
		WC=1
		m_al1=$(wrk_run "$ALU" "$AUTH")
		n_al1=$(wrk_run "http://127.0.0.1:$NPORT/alerts.json")
		kill "$NG" 2>/dev/null
		echo "  wrk -t1 -d${T}s: requests/s p50_ms p99_ms"
		echo "    overview, $CONNS connections:   mamorid $m_ov   nginx $n_ov"
		echo "    alert page, $CONNS connections: mamorid $m_al   nginx $n_al"
		echo "    alert page, 1 connection:  mamorid $m_al1   nginx $n_al1"
	else
		echo "  nginx or wrk missing (Debian packages nginx-light, wrk): no comparison"
	fi

	# CPU per request of each read endpoint (closed loop, one connection)
	cat >"$W/endpoints" <<EOF
/healthz
/api/v1/me
/api/v1/status
/api/v1/customers
/api/v1/customers/c0042
/api/v1/customers/c0042/assets
/api/v1/checks?customer=c0042&limit=100
/api/v1/checks?problems=true&limit=100
/api/v1/checks/c0042/pc01/defender
/api/v1/alerts?status=open&limit=100
/api/v1/alerts?status=open&limit=1000
/api/v1/alerts?customer=c0042&status=unresolved
/api/v1/alerts?status=resolved&limit=100
/api/v1/overview
/api/v1/sla
EOF
	ET=$T
	[ "$ET" -gt 2 ] && ET=2
	echo "  mamorid's CPU per request of each read (closed loop on one connection, ${ET} s each):"
	while read -r u; do
		echo "GET $u" >"$W/one"
		out=$($PIN_GEN "$LOAD" -p "$HPORT" -T "$W/token" -r 100000 -c 1 -u "$W/one" -d "$ET" -P "$MPID" 2>>"$W/load.err")
		n=$(field "$out" requests)
		printf '    %-50s %8s ms CPU %8s req/s  p99 %6s ms%s\n' "$u" \
			"$(awk -v c="$(field "$out" pid_cpu_s)" -v n="$n" 'BEGIN { if (n > 0) printf "%.3f", c * 1000 / n; else print "-" }')" \
			"$(field "$out" rate)" "$(field "$out" p99_ms)" \
			"$([ "$(field "$out" non2xx)" = 0 ] || echo "  (non-2xx: $(field "$out" non2xx))")"
	done <"$W/endpoints"
fi

# ==== 2. event fan-out ==========================================================
fan0= fan1=
if want fanout; then
	echo
	echo "2. event fan-out: comments on open alerts at $EVR/s through the API, without streams and with $NSTREAMS (?types=alert)"
	# 64 open alerts to comment on, in turn
	curl -s --unix-socket "$SOCK" "http://local/api/v1/alerts?status=open&limit=64" |
		grep -o '"id":"A-[^"]*"' | cut -d'"' -f4 |
		awk '{ printf "POST /api/v1/alerts/%s/comment {\"note\":\"bench: called the customer, waiting for a callback\"}\n", $1 }' >"$W/comments"
	fan0=$($PIN_GEN "$LOAD" -p "$HPORT" -T "$W/token" -r "$EVR" -c 256 -u "$W/comments" -d "$T" -P "$MPID" 2>>"$W/load.err") ||
		fail "comments without streams: $(tail -2 "$W/load.err")"
	fan1=$($PIN_GEN "$LOAD" -p "$HPORT" -T "$W/token" -s "$NSTREAMS" -S '/api/v1/events?types=alert' \
		-r "$EVR" -c 256 -u "$W/comments" -d "$T" -P "$MPID" 2>>"$W/load.err") ||
		fail "comments with streams: $(tail -2 "$W/load.err")"
	echo "  no streams:  $fan0"
	echo "  $NSTREAMS streams: $fan1"
fi
c0=$(field "$fan0" pid_cpu_s) r0=$(field "$fan0" ok) c1=$(field "$fan1" pid_cpu_s) r1=$(field "$fan1" ok)
ev=$(field "$fan1" events) w1=$(field "$fan1" window_s)
per_ev=$(awk -v c="$c1" -v e="$ev" 'BEGIN { if (e > 0) printf "%.2f", c * 1e6 / e; else print "-" }')
marg=$(awk -v c0="$c0" -v r0="$r0" -v c1="$c1" -v r1="$r1" -v e="$ev" 'BEGIN {
	if (e > 0 && r0 > 0) printf "%.2f", (c1 - c0 * r1 / r0) * 1e6 / e; else print "-" }')
per_c=$(awk -v c="$c0" -v r="$r0" 'BEGIN { if (r > 0) printf "%.0f", c * 1e6 / r; else print "-" }')
evs=$(awk -v e="$ev" -v w="$w1" 'BEGIN { if (w > 0) printf "%.0f", e / w; else print "-" }')
prod=$(awk -v r="$r1" -v w="$w1" 'BEGIN { if (w > 0) printf "%.0f", r / w; else print "-" }')
if [ -n "$MPID" ]; then
	kill "$MPID" 2>/dev/null
	wait "$MPID" 2>/dev/null
fi

# ==== 3. pipeline and agent path under HTTP load ===================================
# the request mixes: mixes CUSTOMER ASSET CHECK DIR
mixes() {
	cat >"$4/mix-all" <<EOF
GET /api/v1/status
GET /api/v1/alerts?status=open&limit=100
GET /api/v1/checks?customer=$1&problems=true&limit=100
GET /api/v1/checks/$1/$2/$3
GET /api/v1/customers/$1
GET /api/v1/alerts?customer=$1&status=unresolved
GET /api/v1/me
GET /api/v1/overview
EOF
	grep -v -e '/status$' -e '/overview$' -e '/customers/[^/]*$' "$4/mix-all" >"$4/mix-paged"
}
: >"$W/pipe.res"
: >"$W/pipe.load"
: >"$W/agents.res"
if want pipeline || want agents; then
	echo
	echo "3. the pipeline and the agent path with $NSSE event streams and $RATE API requests/s, against none"
	echo "   mix all: status, open alerts (100), a customer's problems, one check, one customer,"
	echo "   a customer's alerts, me, the overview; mix paged: the same without status, customer, overview"
fi
if want pipeline; then
	P3=$W/pipe
	mkdir -p "$P3"
	chmod 700 "$P3"
	mixes c000042 a07 k3 "$P3"
	PPORT=$(free_port)
	NPIPE=${BENCH_PIPELINE_CHECKS:-100000}
	# pipe_run LABEL [MIX]: one core_bench pipeline run, with the load if MIX
	pipe_run() {
		rm -rf "$P3/state" "$P3/go" "$P3/ready"
		mkdir -p "$P3/state"
		chmod 700 "$P3/state"
		$PIN_SRV env TMPDIR="$P3/state" BENCH_GO_FILE="${2:+$P3/go}" BENCH_READY_FILE="${2:+$P3/ready}" \
			BENCH_CONFIG_EXTRA="http = { listen = [ \"127.0.0.1:$PPORT\", \"unix:$P3/api.sock\" ]; }; auth = { kdf_memory = 8; kdf_time_cost = 1; };" \
			"$B/bench/core_bench" pipeline "$NPIPE" "$T" store >"$P3/out" 2>"$P3/err" &
		_cb=$!
		_l=
		if [ -n "${2:-}" ]; then
			# the load starts once every check has run once (core_bench's
			# warm-up): streams connected earlier get the first results
			if wait_for 60 test -e "$P3/ready" && make_token "$P3/api.sock" "$P3/token"; then
				_l=$($PIN_GEN "$LOAD" -p "$PPORT" -T "$P3/token" -s "$NSSE" -r "$RATE" -c 64 \
					-u "$P3/$2" -d "$T" -R "$P3/go" 2>>"$W/load.err")
			else
				fail "pipeline ($1): no API socket or token"
				kill "$_cb"
			fi
		fi
		wait "$_cb" || fail "core_bench pipeline ($1): $(tail -2 "$P3/err")"
		_o=$(cat "$P3/out")
		echo "  pipeline $1: $_o"
		[ -n "$_l" ] && echo "      $_l"
		echo "$1 $(field "$_o" pipeline_store) $(field "$_o" wall_rate)" >>"$W/pipe.res"
		[ -n "$_l" ] && echo "$1 $_l" >>"$W/pipe.load"
	}
	pipe_run none
	pipe_run all mix-all
	pipe_run paged mix-paged
	pipe_run none
fi
lget() { awk -v n="$1" -v k="$2" '$1 == n { for (i = 2; i < NF; i++) if ($i == k) { v = $(i + 1); sub("/s$", "", v); print v; exit } }' "$W/pipe.load"; }

# the agent path: mosquitto, the simulator, mamorid with the API listening
if ! want agents; then
	:
elif ! [ -x "$MOSQUITTO" ] || ! command -v mosquitto_pub >/dev/null || ! command -v sqlite3 >/dev/null ||
	! [ -x "$B/tools/mamori-agentsim" ]; then
	echo "  agents: skipped (mosquitto, mosquitto-clients, sqlite3 or mamori-agentsim missing)"
else
	A3=$W/agents
	mkdir -p "$A3/state"
	chmod 700 "$A3" "$A3/state"
	MPORT=$(free_port)
	APORT=$(free_port)
	{
		echo "listener $MPORT 127.0.0.1"
		echo "allow_anonymous true"
		grep -E '^(max_inflight_messages|set_tcp_nodelay|message_size_limit)[[:space:]]' contrib/mosquitto/mosquitto.conf
		echo "max_queued_messages 0"
		echo "persistence false"
	} >"$A3/mosq.conf"
	"$MOSQUITTO" -c "$A3/mosq.conf" >"$A3/mosq.log" 2>&1 &
	PIDS="$PIDS $!"
	M=100
	{
		echo "daemon = { state_dir = \"$A3/state\"; plugin_dir = \"$B/plugins\"; log_level = \"warning\"; node = \"bench\"; };"
		echo "mqtt = { host = \"127.0.0.1\"; port = $MPORT; client_id = \"mamorid-bench\"; };"
		echo "http = { listen = [ \"127.0.0.1:$APORT\", \"unix:$A3/api.sock\" ]; };"
		echo 'auth = { kdf_memory = 8; kdf_time_cost = 1; };'
		echo 'calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );'
		echo 'centers = ( { name = "cc"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );'
		echo 'routes = ( { center = "cc"; } );'
		echo 'customers = ('
		awk -v m="$M" 'BEGIN { for (i = 1; i <= m; i++)
			printf "  { id = \"c%04d\"; name = \"customer %d\"; agents = { defender = { auto_register = true; stale_after = \"1h\"; }; }; }%s\n",
				i, i, i < m ? "," : "" }'
		echo ');'
	} >"$A3/mamori.conf"
	wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t probe -m x || fail "mosquitto did not start"
	$PIN_SRV "$MAMORID" -f -c "$A3/mamori.conf" >"$A3/mamorid.log" 2>&1 &
	APID=$!
	PIDS="$PIDS $APID"
	FIX=tests/fixtures/defender/healthy.json
	row_of() {
		[ "$(sqlite3 -cmd '.timeout 2000' "$A3/state/mamori.db" \
			"SELECT count(*) FROM check_state WHERE customer='c0001' AND asset='$1' AND name='defender'" 2>/dev/null)" = 1 ]
	}
	# marker NAME: one report for a new PC after the stream; once its row
	# is in SQLite, every report before it was judged (agents_bench.sh)
	marker() {
		mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "mamori/v1/agents/c0001/$1/defender" -f "$FIX" &&
			wait_for 300 row_of "$1"
	}
	sim() { # sim AGENTS COUNT
		$PIN_GEN "$B/tools/mamori-agentsim" -H 127.0.0.1 -p "$MPORT" -c "$M" -n "$1" -N "$2" -r 0 -k 2 2>>"$A3/sim.err"
	}
	# agents_run LABEL N [MIX]
	agents_run() {
		_lp=
		if [ -n "${3:-}" ]; then
			rm -f "$A3/go"
			$PIN_GEN "$LOAD" -p "$APORT" -T "$A3/token" -s "$NSSE" -r "$RATE" -c 64 -u "$A3/$3" \
				-d 600 -R "$A3/go" >"$A3/load.out" 2>>"$W/load.err" &
			_lp=$!
			wait_for 30 test -f "$A3/go" || fail "agents ($1): the load did not start"
		fi
		_c0=$(cpu_ticks "$APID")
		_o=$(sim "$AG" "$AN") || fail "simulator ($1)"
		marker "MARK-$1-$2" || fail "agents ($1): marker never persisted"
		_t1=$(date +%s.%N)
		_c1=$(cpu_ticks "$APID")
		_t0=$(field "$_o" first_publish)
		_r=$(awk -v n="$AN" -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.0f", n / (b - a) }')
		_cpu=$(awk -v t="$((_c1 - _c0))" -v n="$AN" 'BEGIN { printf "%.1f", t * 1e4 / n }')
		_x=
		if [ -n "$_lp" ]; then
			kill -TERM "$_lp" 2>/dev/null # ends its window: it prints its figures
			wait "$_lp" 2>/dev/null
			_x=$(cat "$A3/load.out")
		fi
		echo "  agents $1 ($2): $_r reports/s, mamorid ${_cpu} us CPU per report${_x:+; $_x}"
		echo "$1 $_r $_cpu $(field "$_x" rate) $(field "$_x" p99_ms)" >>"$W/agents.res"
	}
	if wait_for 30 sh -c "mosquitto_sub -h 127.0.0.1 -p $MPORT -t 'mamori/v1/server/+/status' -C 1 -W 1 | grep -q online" &&
		make_token "$A3/api.sock" "$A3/token"; then
		mixes c0042 PC-00042 defender "$A3"
		say "  agents: $AG PCs register, then $ROUNDS round(s) of $AN reports without load, mix all, mix paged"
		if sim "$AG" "$AG" >/dev/null && marker MARK-reg; then
			i=1
			while [ "$i" -le "$ROUNDS" ]; do
				agents_run none "$i"
				agents_run all "$i" mix-all
				agents_run paged "$i" mix-paged
				i=$((i + 1))
			done
		else
			fail "agent registration"
		fi
	else
		fail "agents: mamorid did not come online or no token ($(tail -2 "$A3/mamorid.log"))"
	fi
fi

# ==== the table ==================================================================
w() { echo "$1" | cut -d' ' -f"$2"; }
pl_base=$(med "$W/pipe.res" none 2)
ab=$(med "$W/agents.res" none 2)
echo
row "figure" "mamori" "reference" "ratio" "target / reference"
if want reads; then
	row "1. overview, requests/s ($NC customers)" "$(w "$m_ov" 1)" "$(w "$n_ov" 1)" "$(ratio "$(w "$m_ov" 1)" "$(w "$n_ov" 1)")" ">= 0.5x nginx on the same bytes"
	row "   overview p99 (ms), $CONNS connections" "$(w "$m_ov" 3)" "$(w "$n_ov" 3)" "$(ratio "$(w "$m_ov" 3)" "$(w "$n_ov" 3)")" "ref nginx"
	row "   overview bytes, time to first byte (ms)" "$(w "$ov" 2)" "$(w "$ov" 1)" "" "built whole for each request"
	row "   alert page (1,000 of $NU open), requests/s" "$(w "$m_al" 1)" "$(w "$n_al" 1)" "$(ratio "$(w "$m_al" 1)" "$(w "$n_al" 1)")" ">= 0.5x nginx on the same bytes"
	row "   alert page p99 (ms), $CONNS connections" "$(w "$m_al" 3)" "$(w "$n_al" 3)" "$(ratio "$(w "$m_al" 3)" "$(w "$n_al" 3)")" "<= 20 ms; ref nginx"
	row "   alert page p99 (ms), 1 connection" "$(w "$m_al1" 3)" "$(w "$n_al1" 3)" "$(ratio "$(w "$m_al1" 3)" "$(w "$n_al1" 3)")" "<= 20 ms; ref nginx"
	row "   alert page bytes, time to first byte (ms)" "$(w "$al" 2)" "$(w "$al" 1)" "" "$NA alerts in the store"
fi
if want fanout; then
	row "2. fan-out: CPU per event delivered (us)" "$per_ev" "" "" "$evs events/s delivered ($prod comments/s x $(field "$fan1" sse_ready) streams)"
	row "   streams' share per event delivered (us)" "$marg" "" "" "(CPU with - without streams) / delivered"
	row "   one comment without streams (us CPU)" "$per_c" "" "" "HTTP, JSON, command, store, event"
	row "   events per stream, min / max" "$(field "$fan1" events_min)" "$(field "$fan1" events_max)" "" "comments made: $r1"
fi
if want pipeline; then
	row "3. pipeline checks/s per core, mix all" "$(med "$W/pipe.res" all 2)" "$pl_base" "$(ratio "$(med "$W/pipe.res" all 2)" "$pl_base")" ">= 0.95; ref the same without load"
	row "   pipeline checks/s per core, mix paged" "$(med "$W/pipe.res" paged 2)" "$pl_base" "$(ratio "$(med "$W/pipe.res" paged 2)" "$pl_base")" ">= 0.95"
	row "   API requests/s served, p99 ms (all)" "$(lget all rate)" "$(lget all p99_ms)" "" "asked $RATE/s, $(lget all sse_ready) streams, pipeline saturated"
	row "   API requests/s served, p99 ms (paged)" "$(lget paged rate)" "$(lget paged p99_ms)" "" "asked $RATE/s"
fi
if want agents; then
	row "   agent reports/s, mix all" "$(med "$W/agents.res" all 2)" "$ab" "$(ratio "$(med "$W/agents.res" all 2)" "$ab")" ">= 0.95; ref the same without load ($ROUNDS rounds, medians)"
	row "   agent reports/s, mix paged" "$(med "$W/agents.res" paged 2)" "$ab" "$(ratio "$(med "$W/agents.res" paged 2)" "$ab")" ">= 0.95"
	row "   mamorid us CPU per report, all / none" "$(med "$W/agents.res" all 3)" "$(med "$W/agents.res" none 3)" "$(ratio "$(med "$W/agents.res" all 3)" "$(med "$W/agents.res" none 3)")" ""
	row "   mamorid us CPU per report, paged / none" "$(med "$W/agents.res" paged 3)" "$(med "$W/agents.res" none 3)" "$(ratio "$(med "$W/agents.res" paged 3)" "$(med "$W/agents.res" none 3)")" ""
	row "   API requests/s served, p99 ms (all)" "$(med "$W/agents.res" all 4)" "$(med "$W/agents.res" all 5)" "" "asked $RATE/s during the agent runs"
fi
if [ -s "$W/load.err" ]; then
	echo
	echo "load generator messages:"
	sed 's/^/  /' "$W/load.err" | tail -5
fi
exit $status
