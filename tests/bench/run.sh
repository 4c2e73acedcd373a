#!/bin/sh
# tests/bench/run.sh: `make bench`.  Runs the benchmark programs of
# tests/bench (built by the Makefile into build/bench) and Nagios Core 4,
# and prints every figure next to a reference measured in this same run,
# as a ratio.  Figures are printed, never asserted (doc/benchmarks.md says
# what each means).  A program that fails prints "fail" in its row and the
# script exits 1 at the end; a missing Nagios is "skip".
#
# Parameters (environment):
#   BENCH_QUICK=1            ~30 s version: short windows, smaller sizes
#   BENCH_SECONDS            measuring window of each rate (default 5, quick 1)
#   BENCH_CPU                core the in-process benchmarks are pinned to (0)
#   BENCH_PIPELINE_CHECKS    100000      BENCH_LAG_CHECKS     10000
#   BENCH_HIST_VARY_CHECKS   10000  checks of the history's changing-perfdata runs
#   BENCH_EXEC_HOT           1000  exec checks due as fast as possible (= Nagios services)
#   BENCH_EXEC_PARALLEL      8     children in flight (mamori max_concurrent, bare total)
#   BENCH_EXEC_BIG           1000000 (quick 100000) configured checks, large daemon
#   BENCH_RSS_BIG            1000000 (quick 200000)  BENCH_LOAD_CHECKS 100000
#   BENCH_NAGIOS=0           skip Nagios
#   BENCH_NAGIOS_MAXCONC     Nagios max_concurrent_checks (default BENCH_EXEC_PARALLEL,
#                            as mamori; 0 = unlimited starts all services at once)
# mamorid started as root stays root here (a bench, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
cd "$(dirname "$0")/../.." || exit 1
B=build/bench
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	T=${BENCH_SECONDS:-1}; BIG=${BENCH_EXEC_BIG:-100000}; RSSBIG=${BENCH_RSS_BIG:-200000}; WARM=2
else
	T=${BENCH_SECONDS:-5}; BIG=${BENCH_EXEC_BIG:-1000000}; RSSBIG=${BENCH_RSS_BIG:-1000000}; WARM=4
fi
CPU=${BENCH_CPU:-0}
NPIPE=${BENCH_PIPELINE_CHECKS:-100000}
NLAG=${BENCH_LAG_CHECKS:-10000}
NVARY=${BENCH_HIST_VARY_CHECKS:-10000}
HOT=${BENCH_EXEC_HOT:-1000}
PAR=${BENCH_EXEC_PARALLEL:-8}
NLOAD=${BENCH_LOAD_CHECKS:-100000}
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
CHECK_DUMMY=/usr/lib/nagios/plugins/check_dummy
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mamori-bench.XXXXXX") || exit 1
RES=$WORK/results
LOG=$WORK/bench.log
: >"$RES"
FAILED=0
NAGIOS_PID=

cleanup() {
	if [ -n "$NAGIOS_PID" ]; then
		kill "$NAGIOS_PID" 2>/dev/null
		sleep 1
		kill -9 "$NAGIOS_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pin() {
	if command -v taskset >/dev/null 2>&1; then taskset -c "$CPU" "$@"; else "$@"; fi
}

# run NAME CMD...: run a benchmark program, keep its result line as "NAME line".
run() {
	name=$1
	shift
	printf '  %-16s ' "$name"
	if out=$("$@" 2>>"$LOG"); then
		line=$(printf '%s\n' "$out" | tail -n 1)
		echo "$line"
		echo "$name $line" >>"$RES"
	else
		echo "FAILED (see below)"
		echo "$name FAILED" >>"$RES"
		FAILED=1
		tail -n 5 "$LOG" | sed 's/^/    /'
	fi
}

# get NAME FIELD: the value after FIELD in NAME's line (a leading rate for FIELD "rate").
get() {
	awk -v n="$1" -v f="$2" '$1 == n {
		if (f == "rate") { v = $3; sub("/s", "", v); print v; exit }
		for (i = 3; i < NF; i++) if ($i == f) { v = $(i + 1); sub("/s", "", v); print v; exit }
	}' "$RES"
}

# ratio A B: A/B with 2 decimals, or "-" when either is missing.
ratio() {
	awk -v a="${1:--}" -v b="${2:--}" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-";
		else printf "%.2f\n", a / b }'
}

# ---- Nagios Core 4 ---------------------------------------------------------

nagios_bench() {
	nag=/usr/sbin/nagios4
	if [ "${BENCH_NAGIOS:-1}" = 0 ] || [ ! -x "$nag" ] || [ ! -x "$CHECK_DUMMY" ]; then
		echo "  nagios           skipped (BENCH_NAGIOS=0 or nagios4/check_dummy missing)"
		echo "nagios SKIP" >>"$RES"
		return
	fi
	d=$WORK/nagios
	mkdir -p "$d/checkresults"
	user=$(id -un)
	group=$(id -gn)
	if [ "$(id -u)" = 0 ]; then
		# Nagios drops root privileges to nagios_user; Debian's package
		# creates "nagios".
		if id nagios >/dev/null 2>&1; then user=nagios; group=$(id -gn nagios); else user=nobody; group=nogroup; fi
	fi
	sed -e "s|@DIR@|$d|g" -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" \
		-e "s|@MAXCONC@|${BENCH_NAGIOS_MAXCONC:-$PAR}|g" tests/bench/nagios/nagios.cfg.in >"$d/nagios.cfg"
	echo "\$USER1\$=/usr/lib/nagios/plugins" >"$d/resource.cfg"
	{
		cat tests/bench/nagios/objects-head.cfg
		awk -v n="$HOT" 'BEGIN { for (i = 0; i < n; i++)
			printf "define service {\n  host_name h\n  service_description s%d\n  check_command check_dummy\n  check_interval 1\n  retry_interval 1\n  max_check_attempts 1\n  check_period always\n  contacts nobody\n  notification_period always\n  notifications_enabled 0\n}\n", i }'
	} >"$d/objects.cfg"
	chmod 755 "$WORK"
	[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$d"
	if ! "$nag" -v "$d/nagios.cfg" >"$d/verify.txt" 2>&1; then
		echo "  nagios           FAILED: config refused (nagios4 -v)"
		sed 's/^/    /' "$d/verify.txt" | grep -i error | head -5
		echo "nagios FAILED" >>"$RES"
		FAILED=1
		return
	fi
	"$nag" -d "$d/nagios.cfg" >>"$LOG" 2>&1
	i=0
	while [ $i -lt 50 ] && ! $B/nagios_qh "$d/nagios.qh" >/dev/null 2>&1; do sleep 0.2; i=$((i + 1)); done
	NAGIOS_PID=$(cat "$d/nagios.pid" 2>/dev/null)
	sleep "$WARM" # warm-up: the first checks all start together
	a=$($B/nagios_qh "$d/nagios.qh" 2>>"$LOG")
	t0=$(date +%s.%N)
	sleep "$T"
	b=$($B/nagios_qh "$d/nagios.qh" 2>>"$LOG")
	t1=$(date +%s.%N)
	kill "$NAGIOS_PID" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$NAGIOS_PID" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$NAGIOS_PID" 2>/dev/null
	NAGIOS_PID=
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "  nagios           FAILED: no worker statistics from the query socket"
		echo "nagios FAILED" >>"$RES"
		FAILED=1
		return
	fi
	line=$(awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v n="$HOT" -v u="$user" \
		'BEGIN { printf "nagios %.0f/s jobs %d seconds %.2f services %d user %s\n", (b - a) / (t1 - t0), b - a, t1 - t0, n, u }')
	echo "  $line"
	echo "nagios $line" >>"$RES"
}

# ---- the run ----------------------------------------------------------------

echo "mamori benchmarks: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -n), $NCPU cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo "window ${T}s per rate; in-process runs pinned to core $CPU; stderr in the log shown on failure"
echo
echo "1. in-process pipeline ($NPIPE dummy checks due every 1ms, one core)"
run bare_timer pin $B/bare_timer "$T" "$NPIPE" build/plugins/dummy.so
run pipeline_store pin $B/core_bench pipeline "$NPIPE" "$T" store
run pipeline_nostore pin $B/core_bench pipeline "$NPIPE" "$T" nostore
echo "2. scheduling lag ($NLAG checks every 1s, spread)"
run lag $B/core_bench lag "$NLAG" "$((T * 2))"
echo "3. exec check_dummy ($HOT checks due as fast as possible, $PAR in flight)"
if [ -x "$CHECK_DUMMY" ]; then
	perproc=$(((PAR + NCPU - 1) / NCPU))
	run bare_spawn $B/bare_spawn "$T" "$perproc" "$NCPU" $CHECK_DUMMY 0 bench
	run exec_small $B/exec_bench "$HOT" "$HOT" "$PAR" "$T"
	run exec_big $B/exec_bench "$BIG" "$HOT" "$PAR" "$T"
	nagios_bench
else
	echo "  skipped: $CHECK_DUMMY missing (Debian package monitoring-plugins-basic)"
fi
echo "4. RSS per configured check"
run rss_100k $B/core_bench rss 100000
run rss_big $B/core_bench rss "$RSSBIG"
echo "5. config load and reload ($NLOAD checks)"
run load $B/core_bench load "$NLOAD"
echo "7. perfdata history (checks due every 1ms, two perfdata values each, store, one core;"
echo "   $NPIPE checks with the same perfdata each run, $NVARY with perfdata changing each run)"
for mode in dummy text items; do
	[ "$mode" = dummy ] && nh=$NPIPE || nh=$NVARY
	run "hist_${mode}_off" pin $B/core_bench series "$nh" "$T" off "$mode"
	run "hist_${mode}_on" pin $B/core_bench series "$nh" "$T" on "$mode"
done

# ---- the table ----------------------------------------------------------------

bt=$(get bare_timer rate)
ps_=$(get pipeline_store rate)
pn=$(get pipeline_nostore rate)
bs=$(get bare_spawn rate)
es=$(get exec_small rate)
eb=$(get exec_big rate)
ng=$(get nagios rate)
row() { printf '%-44s %12s %12s %8s  %s\n' "$1" "${2:--}" "${3:--}" "${4:--}" "$5"; }
echo
row "figure" "mamori" "reference" "ratio" "target / reference"
row "1. pipeline, store (checks/s per core)" "$ps_" "$bt" "$(ratio "$ps_" "$bt")" ">= 500000/s; ref bare libev timer + dlopen'd call"
row "   pipeline, no store (checks/s per core)" "$pn" "$bt" "$(ratio "$pn" "$bt")" "ref bare libev timer + dlopen'd call"
row "   store's cost: store / no store" "$ps_" "$pn" "$(ratio "$ps_" "$pn")" ""
row "   pipeline, store / Nagios exec" "$ps_" "$ng" "$(ratio "$ps_" "$ng")" ">= 300x Nagios"
row "2. lag p99 at $NLAG checks/s (ms)" "$(get lag p99_ms)" "" "" "<= 5 ms (histogram bound $(get lag hist_p99_ms_le) ms)"
row "3. exec, $HOT configured (checks/s)" "$es" "$bs" "$(ratio "$es" "$bs")" ">= 0.85 of bare spawn limit"
row "   exec, $BIG configured (checks/s)" "$eb" "$bs" "$(ratio "$eb" "$bs")" ">= 0.85 of bare spawn limit"
row "   exec big / exec small daemon" "$eb" "$es" "$(ratio "$eb" "$es")" "~1.00 (spawn cost independent of size)"
row "   exec, $HOT configured / Nagios" "$es" "$ng" "$(ratio "$es" "$ng")" "~2x Nagios Core 4"
row "4. RSS per check at 100000 (bytes)" "$(get rss_100k per_check_bytes)" "1024" "$(ratio "$(get rss_100k per_check_bytes)" 1024)" "<= 1 KiB (after one run each: $(get rss_100k after_run_bytes))"
row "   RSS per check at $RSSBIG (bytes)" "$(get rss_big per_check_bytes)" "1024" "$(ratio "$(get rss_big per_check_bytes)" 1024)" "<= 1 KiB (after one run each: $(get rss_big after_run_bytes))"
row "5. config load, $NLOAD checks (ms)" "$(get load load_ms)" "1000" "$(ratio "$(get load load_ms)" 1000)" "< 1 s"
row "   reload, one check changed (ms)" "$(get load reload_ms)" "1000" "$(ratio "$(get load reload_ms)" 1000)" "< 1 s"
for mode in dummy text items; do
	case $mode in
	dummy) what="same perfdata each run (replayed)" ;;
	text) what="perfdata text changing each run (parsed)" ;;
	items) what="parsed items changing each run (exec-like)" ;;
	esac
	hon=$(get "hist_${mode}_on" rate)
	hoff=$(get "hist_${mode}_off" rate)
	[ "$mode" = dummy ] && lbl="7. history on / off, checks/s ($mode)" || lbl="   history on / off, checks/s ($mode)"
	row "$lbl" "$hon" "$hoff" "$(ratio "$hon" "$hoff")" ">= 0.9; $what"
done
# ==== 6. agent reports end to end ===============================================
# Section owned by tests/bench/agents_bench.sh (see its header and
# doc/benchmarks.md, "Agent reports"): a real mosquitto, the agent simulator,
# mamorid with the defender plugin, and a plain mosquitto_sub as reference.
echo
echo "6. agent reports end to end (simulator -> mosquitto -> mamorid -> SQLite)"
if [ "${BENCH_AGENTS_SKIP:-0}" = 1 ]; then
	echo "  skipped (BENCH_AGENTS_SKIP=1)"
else
	BENCH_QUICK=$QUICK sh tests/bench/agents_bench.sh >"$WORK/agents.out" 2>>"$LOG"
	arc=$?
	sed 's/^/  /' "$WORK/agents.out"
	awk '{ print $1, $0 }' "$WORK/agents.out" >>"$RES" # the layout get() reads: name name value...
	if [ "$arc" = 77 ]; then
		echo "  skipped (mosquitto, mosquitto-clients or sqlite3 missing)"
	elif [ "$arc" != 0 ]; then
		echo "  agents FAILED"
		FAILED=1
	fi
	ar=$(get agents_ref rate)
	ae=$(get agents_e2e rate)
	apa=$(get agents_rss per_agent_bytes)
	echo
	row "figure" "mamori" "reference" "ratio" "target / reference"
	row "6. agent reports judged/s, end to end" "$ae" "$ar" "$(ratio "$ae" "$ar")" ">= 0.9 of bare mosquitto_sub, >= 50000/s"
	row "   agent reports judged/s / 50000" "$ae" "50000" "$(ratio "$ae" 50000)" "absolute target"
	abl=$(get agents_backlog rate)
	abr=$(get agents_backlog ref_mosquitto_sub)
	row "   backlog drained/s (broker only delivers)" "$abl" "$abr" "$(ratio "$abl" "$abr")" "ref: bare mosquitto_sub, same backlog"
	row "   backlog drained/s / 50000" "$abl" "50000" "$(ratio "$abl" 50000)" "the subscriber side alone"
	row "   registrations/s (new PCs)" "$(get agents_reg rate)" "$ar" "$(ratio "$(get agents_reg rate)" "$ar")" "ref: bare mosquitto_sub"
	row "   RSS per agent at $(get agents_rss agents) (bytes)" "$apa" "2048" "$(ratio "$apa" 2048)" "<= 2 KiB (after restart: $(get agents_rss_restart per_agent_bytes))"
fi
if [ "$FAILED" != 0 ]; then
	echo
	echo "some benchmarks FAILED; their log:"
	sed 's/^/  /' "$LOG" | grep -v ' info ' | tail -n 30
fi
exit "$FAILED"
