#!/bin/bash
# tests/bench/compare.sh BEFORE AFTER: the four figures a change of the core
# must not slow down (make bench sections 1, 6 and alerts), measured in two
# checkouts in one run, alternating - e.g. before and after a refactor:
#
#   pipeline     build/bench/core_bench pipeline N S store, pinned to one
#                core as tests/bench/run.sh does (section 1, "pipeline, store")
#   agents e2e   tests/bench/agents_bench.sh "agents_e2e" (section 6)
#   backlog      the same run's "agents_backlog" (section 6)
#   alert p99    tests/bench/alerts_latency.sh "p99_ms" (section alerts)
#
# Each round runs every figure once per tree, before/after back to back, the
# order swapped every round (B A, A B, B A, ...) so slow drifts in machine
# load hit both sides alike.  Each tree runs its own scripts and binaries.
# Nothing is built unless BENCH_BUILD=1; both trees must have been built with
#   ./configure && make -j2 all build/bench/core_bench build/bench/alerts_bench
#
# Environment:
#   ROUNDS=3            rounds (runs per tree and figure)
#   PIPE_SECONDS=3      pipeline window (make bench: 5, quick: 1); +1 s warm-up
#   PIPE_CHECKS=100000  pipeline checks (make bench default)
#   BENCH_CPU=0         core the pipeline is pinned to
#   AGENTS_QUICK=0      1 = agents_bench quick sizes (60,000 reports: windows
#                       of ~0.7 s, too short to be stable); default = make
#                       bench's sizes (200,000 reports, 100,000 agents, ~20 s)
#   ALERTS_ROUNDS=1000  alert latency samples (make bench: 200; p99 of 200 is
#                       the 2nd-worst sample, 1,000 costs ~0.5 s more)
#   BENCH_NICE=0        niceness for every benchmark process
#   BENCH_BUILD=1       run `make -j2 all build/bench/...` in both trees first
#   KEEP_LOG=1          keep the raw outputs (default: kept only on failure)
#
# Output: a table "figure, before runs, after runs, median before, median
# after, after/before, speed" where speed is after relative to before with
# higher = faster (rates: after/before; latency: before/after); the
# requirement is speed >= 0.97.  Two control rows (mosquitto_sub alone, same
# broker, independent of either tree) show how much the machine's noise moves
# a figure between runs.
#
# Noise seen with BEFORE = AFTER = the same tree (3 rounds, 189 s, shared
# 2-core VM): pipeline speed 0.943, e2e 1.029, backlog 1.000, alert p99 0.810
# (p99 runs 1.05-2.34 ms).  So a single run cannot show 0.97 for the pipeline
# or for p99; use ROUNDS=5 (about 5 min) and read p99 next to its p50 and the
# absolute target (< 10 ms).
# mamorid started as root stays root here (a bench, no daemon.user)
export MAMORI_ALLOW_ROOT=1
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 BEFORE_TREE AFTER_TREE" >&2
	exit 2
fi
BEFORE=$(cd "$1" && pwd) || exit 2
AFTER=$(cd "$2" && pwd) || exit 2
ROUNDS=${ROUNDS:-3}
PIPE_SECONDS=${PIPE_SECONDS:-3}
PIPE_CHECKS=${PIPE_CHECKS:-100000}
CPU=${BENCH_CPU:-0}
AGENTS_QUICK=${AGENTS_QUICK:-0}
ALERTS_ROUNDS=${ALERTS_ROUNDS:-1000}
NICE=${BENCH_NICE:-0}
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX") || exit 1
RES=$LOGDIR/results # lines: side figure value
: >"$RES"
FAILED=0
START=$(date +%s)

PIN=
command -v taskset >/dev/null 2>&1 && PIN="taskset -c $CPU"
nic() { nice -n "$NICE" "$@"; } # NICE=0: no change

need=(build/mamorid build/tools/mamori-agentsim build/plugins/defender.so build/plugins/dummy.so
	build/bench/core_bench build/bench/alerts_bench)
for t in "$BEFORE" "$AFTER"; do
	if [ "${BENCH_BUILD:-0}" = 1 ]; then
		echo "building $t" >&2
		(cd "$t" && nice -n 10 make -s -j2 all build/bench/core_bench build/bench/alerts_bench) >"$LOGDIR/build.log" 2>&1 ||
			{ echo "build failed in $t (see $LOGDIR/build.log)" >&2; exit 1; }
	fi
	for f in "${need[@]}"; do
		[ -e "$t/$f" ] || { echo "$t/$f missing: cd $t && ./configure && make -j2 all build/bench/core_bench build/bench/alerts_bench" >&2; exit 1; }
	done
	(cd "$t" && make -q all) || echo "warning: $t: 'make all' is not up to date; figures are of the binaries as built" >&2
	for f in build/bench/core_bench build/bench/alerts_bench; do
		[ "$t/$f" -nt "$t/build/libmamoricore.a" ] || [ ! -e "$t/build/libmamoricore.a" ] ||
			echo "warning: $t/$f is older than build/libmamoricore.a (rebuild the bench binaries)" >&2
	done
done

# put SIDE FIGURE VALUE
put() { [ -n "$3" ] && echo "$1 $2 $3" >>"$RES"; }
# kv TEXT KEY: the value of "KEY=value" or of the word after "KEY"
kv() { printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i <= NF; i++) {
	if (index($i, k "=") == 1) { v = substr($i, length(k) + 2); sub("/s", "", v); print v; exit }
	if ($i == k && i < NF) { v = $(i + 1); sub("/s", "", v); print v; exit } } }'; }
# line TEXT NAME: the line of TEXT starting with NAME
line() { printf '%s\n' "$1" | awk -v n="$2" '$1 == n { print; exit }'; }
fail() { echo "  $1: FAILED (log $2)" >&2; FAILED=1; }

run_pipeline() { # SIDE TREE ROUND
	local log=$LOGDIR/pipeline.$1.$3 out l
	out=$(cd "$2" && nic $PIN build/bench/core_bench pipeline "$PIPE_CHECKS" "$PIPE_SECONDS" store 2>"$log.err") ||
		{ fail "pipeline $1" "$log.err"; return; }
	echo "$out" >"$log"
	l=$(line "$out" pipeline_store)
	put "$1" pipeline "$(printf '%s\n' "$l" | awk '{ v = $2; sub("/s", "", v); print v }')"
}
run_agents() {
	local log=$LOGDIR/agents.$1.$3 out l
	out=$(cd "$2" && nic env -u B BENCH_QUICK="$AGENTS_QUICK" sh tests/bench/agents_bench.sh 2>"$log.err") ||
		{ echo "$out" >"$log"; fail "agents $1" "$log.err"; return; }
	echo "$out" >"$log"
	l=$(line "$out" agents_e2e)
	put "$1" e2e "$(printf '%s\n' "$l" | awk '{ v = $2; sub("/s", "", v); print v }')"
	[ "$(kv "$l" dropped)" = 0 ] || echo "  warning: agents $1 round $3: broker dropped $(kv "$l" dropped) messages" >&2
	l=$(line "$out" agents_backlog)
	put "$1" backlog "$(printf '%s\n' "$l" | awk '{ v = $2; sub("/s", "", v); print v }')"
	put "$1" ctl_backlog "$(kv "$l" ref_mosquitto_sub)"
	l=$(line "$out" agents_ref)
	put "$1" ctl_ref "$(printf '%s\n' "$l" | awk '{ v = $2; sub("/s", "", v); print v }')"
}
run_alerts() {
	local log=$LOGDIR/alerts.$1.$3 out
	out=$(cd "$2" && nic env -u B ALERTS_ROUNDS="$ALERTS_ROUNDS" sh tests/bench/alerts_latency.sh 2>"$log.err") ||
		{ echo "$out" >"$log"; fail "alerts $1" "$log.err"; return; }
	echo "$out" >"$log"
	put "$1" p99 "$(kv "$(line "$out" latency)" p99_ms)"
	put "$1" p50 "$(kv "$(line "$out" latency)" p50_ms)"
}

echo "before: $BEFORE ($(git -C "$BEFORE" rev-parse --short HEAD 2>/dev/null)$(git -C "$BEFORE" diff --quiet HEAD 2>/dev/null || echo ', modified'))"
echo "after:  $AFTER ($(git -C "$AFTER" rev-parse --short HEAD 2>/dev/null)$(git -C "$AFTER" diff --quiet HEAD 2>/dev/null || echo ', modified'))"
echo "$(uname -n), $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds;" \
	"pipeline $PIPE_CHECKS checks ${PIPE_SECONDS}s on core $CPU; agents $([ "$AGENTS_QUICK" = 1 ] && echo quick || echo full);" \
	"alert latency $ALERTS_ROUNDS samples"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="before after"; else order="after before"; fi
	echo "round $r/$ROUNDS ($order) ..." >&2
	for fig in pipeline agents alerts; do
		for side in $order; do
			if [ "$side" = before ]; then tree=$BEFORE; else tree=$AFTER; fi
			"run_$fig" "$side" "$tree" "$r"
		done
	done
done

# ---- the table ---------------------------------------------------------------
# vals SIDE FIG: the run values, space-separated, in run order
vals() { awk -v s="$1" -v f="$2" '$1 == s && $2 == f { printf "%s%s", sep, $3; sep = " " }' "$RES"; }
median() { [ -n "$1" ] || { echo -; return; }; printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { # fmt VALUES DECIMALS: values, shortened (rates in k)
	local out= v
	for v in $1; do out="$out${out:+ }$(awk -v v="$v" -v d="$2" 'BEGIN { if (v == "-") printf "-"; else if (d == "k") printf "%.0fk", v / 1000; else printf "%.2f", v }')"; done
	echo "${out:--}"
}
row() { printf '%-34s %-22s %-22s %8s %8s %7s %7s\n' "$@"; }
echo
row "figure" "before runs" "after runs" "med bef" "med aft" "aft/bef" "speed"
for spec in "pipeline|pipeline, store (checks/s/core)|k|up" "e2e|agent reports e2e (/s)|k|up" \
	"backlog|backlog drain (/s)|k|up" "p99|alert latency p99 (ms)|2|down" \
	"p50|  (alert latency p50, for scale)|2|down" \
	"ctl_ref|control: mosquitto_sub live (/s)|k|up" "ctl_backlog|control: mosquitto_sub backlog|k|up"; do
	IFS='|' read -r key label d dir <<<"$spec"
	vb=$(vals before "$key")
	va=$(vals after "$key")
	mb=$(median "$vb")
	ma=$(median "$va")
	ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }')
	speed=$(awk -v r="$ratio" -v d="$dir" 'BEGIN { if (r == "-" || r + 0 == 0) print "-";
		else if (d == "up") printf "%.3f", r; else printf "%.3f", 1 / r }')
	case $key in ctl_* | p50) ;; *) [ "$speed" != - ] && awk -v s="$speed" 'BEGIN { exit !(s < 0.97) }' && speed="$speed!" ;; esac
	if [ "$d" = k ]; then mbf=$(fmt "$mb" k); maf=$(fmt "$ma" k); else mbf=$(fmt "$mb" 2); maf=$(fmt "$ma" 2); fi
	row "$label" "$(fmt "$vb" "$d")" "$(fmt "$va" "$d")" "$mbf" "$maf" "$ratio" "$speed"
done
echo "speed: after relative to before, higher = faster (latency: before/after); '!' marks < 0.97"
echo "elapsed $(($(date +%s) - START)) s; load now $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FAILED" != 0 ] || [ "${KEEP_LOG:-0}" = 1 ]; then
	echo "raw outputs: $LOGDIR"
else
	rm -rf "$LOGDIR"
fi
exit "$FAILED"
