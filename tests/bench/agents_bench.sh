#!/bin/sh
# tests/bench/agents_bench.sh: agent reports end to end, run by
# tests/bench/run.sh (section 6) or on its own from the repository top.
#
# A real mosquitto on a free loopback port with contrib/mosquitto's
# throughput settings (max_inflight_messages, set_tcp_nodelay), then:
#   ref   the reference: a plain `mosquitto_sub -q 1` (output to /dev/null)
#         drains N reports of the simulator (A agents, M customers); rate =
#         N / (first publish -> mosquitto_sub has received the N-th).
#   reg   mamorid (0 agents) starts: RSS0.  The simulator sends one report
#         per agent for A unknown PCs (each registers an asset), then a
#         marker report; once the marker's row is in SQLite every report
#         before it has been judged (one broker, one subscriber session:
#         delivery in order; the marker is sent after every report was
#         PUBACKed).  RSS1: (RSS1 - RSS0) / A is the RSS per agent.
#   e2e   the same N-report stream as ref, to mamorid: rate = N / (first
#         publish -> the marker's row is in SQLite).  Also mamorid's CPU
#         per report (all its threads) and the broker's.
#   rss_restart  mamorid restarted on the same state (A agents loaded from
#         SQLite): RSS per agent without the registration's heap history.
#   backlog  N reports queued at the broker for an absent subscriber, then
#         drained: mosquitto_sub vs mamorid (started cold).  The broker only
#         delivers then, so this is closer to the subscriber's own ceiling.
# The broker never drops (max_queued_messages 0 here); its dropped-message
# counter is read from $SYS and printed, and must stay 0.
#
# Output: one line per figure, "name value ... key value ..." (run.sh keeps
# them in its results file); progress on stderr.  Exit 0, 1 on failure,
# 77 when mosquitto or the binaries are missing.
#
# Environment: BENCH_QUICK=1 (~20 s), BENCH_AGENTS (A; 100000, quick 20000),
# BENCH_AGENT_REPORTS (N; 200000, quick 60000), BENCH_AGENT_CUSTOMERS (M,
# 100), BENCH_AGENT_CONNS (simulator connections, 2), BENCH_AGENT_MQTT
# (extra keys for mamorid's mqtt group, e.g. "protocol = 4;"),
# BENCH_KEEP=1 (keep the work directory and print its path).
# mamorid started as root stays root here (a bench/demo, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
MAMORID=$B/mamorid
SIM=$B/tools/mamori-agentsim
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
FIX=tests/fixtures/defender/healthy.json
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	A=${BENCH_AGENTS:-20000}; N=${BENCH_AGENT_REPORTS:-60000}
else
	A=${BENCH_AGENTS:-100000}; N=${BENCH_AGENT_REPORTS:-200000}
fi
M=${BENCH_AGENT_CUSTOMERS:-100}
K=${BENCH_AGENT_CONNS:-2}
TIMEOUT=${BENCH_AGENT_TIMEOUT:-300}

for f in "$MAMORID" "$SIM" "$B/plugins/defender.so"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "agents_bench: $f missing (make all)" >&2; exit 77; }
done
[ -x "$MOSQUITTO" ] && command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null &&
	command -v sqlite3 >/dev/null || { echo "agents_bench: needs mosquitto, mosquitto-clients, sqlite3" >&2; exit 77; }

W=$(mktemp -d "${TMPDIR:-/tmp}/mamori-agents.XXXXXX") || exit 1
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "agents_bench: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { echo "agents_bench: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system, all threads
# wait_for SECONDS CMD...: poll every 20 ms until CMD succeeds
wait_for() {
	_end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.02
	done
}

# ---- the broker: contrib/mosquitto's throughput settings, plain loopback ----
PORT=$(free_port)
{
	echo "listener $PORT 127.0.0.1"
	echo "allow_anonymous true"
	grep -E '^(max_inflight_messages|set_tcp_nodelay|message_size_limit)[[:space:]]' contrib/mosquitto/mosquitto.conf
	echo "max_queued_messages 0" # unbounded for the bench: a drop would falsify the count
	echo "persistence false"
	echo "sys_interval 1"
} >"$W/mosq.conf"
"$MOSQUITTO" -c "$W/mosq.conf" >"$W/mosq.log" 2>&1 &
BROKER=$!
PIDS="$PIDS $BROKER"
wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$PORT" -t probe -m x || die "mosquitto did not start ($(tail -2 "$W/mosq.log"))"

sim() { # sim AGENTS COUNT -> the simulator's summary line on stdout
	"$SIM" -H 127.0.0.1 -p "$PORT" -c "$M" -n "$1" -N "$2" -r 0 -k "$K" 2>>"$W/sim.err"
}
field() { # field LINE KEY -> the word after KEY
	printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'
}
dropped() {
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -t '$SYS/broker/publish/messages/dropped' -C 1 -W 5 2>/dev/null || echo n/a
}

# ---- ref: the bare subscriber ------------------------------------------------
# A persistent session made first (-E: subscribe and leave), so nothing the
# simulator publishes before mosquitto_sub is back can be missed.
say "ref: mosquitto_sub drains $N reports ($A agents, $M customers, $K connections)"
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-ref -c -q 1 -t 'mamori/v1/agents/+/+/defender' -E ||
	die "mosquitto_sub -E"
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-ref -c -q 1 -t 'mamori/v1/agents/+/+/defender' \
	-C "$N" -W "$TIMEOUT" >/dev/null 2>"$W/sub.err" &
SUB=$!
b0=$(cpu_ticks "$BROKER")
out=$(sim "$A" "$N") || die "simulator (ref): $(tail -3 "$W/sim.err")"
wait "$SUB" || die "mosquitto_sub did not receive $N reports within ${TIMEOUT}s"
t1=$(now)
b1=$(cpu_ticks "$BROKER")
t0=$(field "$out" first_publish)
# Drop the reference's persistent session: left behind, the broker would
# queue every later report for that offline client too (and charge the
# work to mamorid's run).
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-ref -t 'mamori/v1/agents/+/+/defender' -E ||
	die "mosquitto_sub (clearing the reference session)"
echo "agents_ref $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f/s", n / (b - a) }') reports $N seconds $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') sim_rate $(field "$out" rate) broker_cpu_us $(awk -v t="$((b1 - b0))" -v n="$N" 'BEGIN { printf "%.1f", t * 1e4 / n }')"

# ---- mamorid ------------------------------------------------------------------
ST=$W/state
mkdir -p "$ST"
{
	echo "daemon = { state_dir = \"$ST\"; plugin_dir = \"$B/plugins\"; log_level = \"warning\"; node = \"bench\"; };"
	echo "mqtt = { host = \"127.0.0.1\"; port = $PORT; client_id = \"mamorid-bench\"; ${BENCH_AGENT_MQTT:-} };"
	echo 'calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );'
	echo 'centers = ( { name = "cc"; calendar = "always";'
	echo '              tiers = ( { name = "t1"; ack_within = "15m"; resolve_within = "4h"; } ); } );'
	echo 'routes = ( { center = "cc"; } );'
	echo 'customers = ('
	awk -v m="$M" 'BEGIN { for (i = 1; i <= m; i++)
		printf "  { id = \"c%04d\"; name = \"customer %d\"; agents = { defender = { auto_register = true; stale_after = \"1h\"; }; }; }%s\n",
			i, i, i < m ? "," : "" }'
	echo ');'
} >"$W/mamori.conf"
"$MAMORID" -c "$W/mamori.conf" --check-config >"$W/check.log" 2>&1 || die "config refused: $(head -3 "$W/check.log")"

start_mamorid() {
	"$MAMORID" -f -c "$W/mamori.conf" >>"$W/mamorid.log" 2>&1 &
	MPID=$!
	PIDS="$PIDS $MPID"
	# reports published before mamorid subscribed would be lost: wait for
	# its retained "online" (published after the subscriptions)
	wait_for 20 sh -c "mosquitto_sub -h 127.0.0.1 -p $PORT -t 'mamori/v1/server/+/status' -C 1 -W 1 | grep -q online" ||
		die "mamorid did not come online ($(tail -3 "$W/mamorid.log"))"
	sleep 0.5 # let start-up allocations settle before RSS0
}
stop_mamorid() {
	kill "$MPID" 2>/dev/null
	wait "$MPID" 2>/dev/null
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -r -n -t 'mamori/v1/server/bench/status'
}
row_of() { # row_of ASSET -> 1 once c0001/ASSET/defender is in SQLite
	[ "$(sqlite3 -cmd '.timeout 2000' "$ST/mamori.db" \
		"SELECT count(*) FROM check_state WHERE customer='c0001' AND asset='$1' AND name='defender'" 2>/dev/null)" = 1 ]
}
# marker NAME: publish one report for a new PC after the stream (the
# simulator has all its PUBACKs), wait until its row is persisted.
marker() {
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t "mamori/v1/agents/c0001/$1/defender" -f "$FIX" || return 1
	wait_for "$TIMEOUT" row_of "$1"
}

start_mamorid
rss0=$(rss_kb "$MPID")

# ---- reg: A new PCs, one report each ----------------------------------------
say "reg: $A PCs register (one report each)"
c0=$(cpu_ticks "$MPID")
out=$(sim "$A" "$A") || die "simulator (reg): $(tail -3 "$W/sim.err")"
marker MARK-reg || die "registration marker never persisted ($(tail -3 "$W/mamorid.log"))"
t1=$(now)
c1=$(cpu_ticks "$MPID")
t0=$(field "$out" first_publish)
n_assets=$(sqlite3 -cmd '.timeout 2000' "$ST/mamori.db" "SELECT count(*) FROM check_state" 2>/dev/null)
[ "$n_assets" = $((A + 1)) ] || die "expected $((A + 1)) check rows after registration, found $n_assets"
sleep 1
rss1=$(rss_kb "$MPID")
echo "agents_reg $(awk -v n="$A" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f/s", n / (b - a) }') agents $A seconds $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') cpu_us $(awk -v t="$((c1 - c0))" -v n="$A" 'BEGIN { printf "%.1f", t * 1e4 / n }')"
echo "agents_rss per_agent_bytes $(awk -v a="$rss0" -v b="$rss1" -v n="$A" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }') agents $A rss0_kb $rss0 rss1_kb $rss1"

# ---- e2e: the same stream as ref, judged and persisted ---------------------------
say "e2e: $N reports to mamorid"
c0=$(cpu_ticks "$MPID")
b0=$(cpu_ticks "$BROKER")
out=$(sim "$A" "$N") || die "simulator (e2e): $(tail -3 "$W/sim.err")"
marker MARK-e2e || die "e2e marker never persisted ($(tail -3 "$W/mamorid.log"))"
t1=$(now)
c1=$(cpu_ticks "$MPID")
b1=$(cpu_ticks "$BROKER")
t0=$(field "$out" first_publish)
echo "agents_e2e $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f/s", n / (b - a) }') reports $N seconds $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') sim_rate $(field "$out" rate) mamorid_cpu_us $(awk -v t="$((c1 - c0))" -v n="$N" 'BEGIN { printf "%.1f", t * 1e4 / n }') broker_cpu_us $(awk -v t="$((b1 - b0))" -v n="$N" 'BEGIN { printf "%.1f", t * 1e4 / n }') dropped $(dropped)"

# ---- rss_restart: the same agents loaded from SQLite -------------------------------
stop_mamorid
start_mamorid
wait_for 60 row_of MARK-e2e || die "state lost over restart"
rss2=$(rss_kb "$MPID")
echo "agents_rss_restart per_agent_bytes $(awk -v a="$rss0" -v b="$rss2" -v n="$A" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }') agents $A rss_kb $rss2"

# ---- backlog: N reports queued at the broker while the subscriber is away ----
# The broker then only delivers (no publisher to serve at the same time),
# so this shows what the subscriber itself can take.  ref: mosquitto_sub's
# persistent session; mamorid: its own (clean_session = false).  Rate = N /
# (subscriber connected -> N-th report received / the marker persisted).
# mamorid's CPU figure includes its start-up (loading A agents).
say "backlog: $N reports queued for an absent subscriber, then drained"
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-bl -c -q 1 -t 'mamori/v1/agents/+/+/defender' -E ||
	die "mosquitto_sub -E (backlog)"
sim "$A" "$N" >/dev/null || die "simulator (backlog ref): $(tail -3 "$W/sim.err")"
t0=$(now)
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-bl -c -q 1 -t 'mamori/v1/agents/+/+/defender' \
	-C "$N" -W "$TIMEOUT" >/dev/null 2>"$W/sub.err" || die "mosquitto_sub (backlog) did not get $N reports"
t1=$(now)
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-bl -t 'mamori/v1/agents/+/+/defender' -E ||
	die "mosquitto_sub (clearing the backlog session)"
ref_bl=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
stop_mamorid
sim "$A" "$N" >/dev/null || die "simulator (backlog): $(tail -3 "$W/sim.err")"
mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t "mamori/v1/agents/c0001/MARK-bl/defender" -f "$FIX" ||
	die "backlog marker"
# t0: mamorid's "online" (it follows CONNACK, when the broker starts
# sending the backlog, by well under a millisecond): start-up (config,
# SQLite, plugins) is not part of the drain.
(mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'mamori/v1/server/+/status' -C 1 -W "$TIMEOUT" |
	grep -q online && now >"$W/online.t") &
WATCH=$!
sleep 0.3
rm -f "$W/online.t"
"$MAMORID" -f -c "$W/mamori.conf" >>"$W/mamorid.log" 2>&1 &
MPID=$!
PIDS="$PIDS $MPID"
c0=$(cpu_ticks "$MPID")
wait_for "$TIMEOUT" row_of MARK-bl || die "backlog marker never persisted ($(tail -3 "$W/mamorid.log"))"
t1=$(now)
c1=$(cpu_ticks "$MPID")
wait "$WATCH" 2>/dev/null
[ -s "$W/online.t" ] || die "no online status seen (backlog)"
t0=$(cat "$W/online.t")
echo "agents_backlog $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f/s", n / (b - a) }') reports $N ref_mosquitto_sub ${ref_bl}/s ratio $(awk -v n="$N" -v a="$t0" -v b="$t1" -v r="$ref_bl" 'BEGIN { printf "%.2f", n / (b - a) / r }') mamorid_cpu_us $(awk -v t="$((c1 - c0))" -v n="$N" 'BEGIN { printf "%.1f", t * 1e4 / n }')"
exit 0
