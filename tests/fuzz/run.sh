#!/bin/sh
# Runs the libFuzzer targets built by `make fuzz`:
#
#   sh tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Each target (all of BUILD_DIR/fuzz/fuzz_* when none are named) runs for
# SECONDS on a working corpus BUILD_DIR/fuzz-corpus/NAME, started from
# the committed seeds (tests/fuzz/corpus/NAME) and the regression inputs
# (tests/fuzz/regress/NAME, replayed first).  New inputs libFuzzer finds go
# to the working corpus only: the committed directories are never written,
# except that an input which crashes, leaks, trips a sanitizer, breaks a
# target's promise, hangs (FUZZ_TIMEOUT s, default 10) or runs out of
# memory is copied to tests/fuzz/regress/NAME/ (commit it with the fix).
# Prints one line per target and "fuzz: N passed, N failed"; exits 1 if
# any target failed.  Logs: BUILD_DIR/fuzz-logs/NAME.log.
set -u
B=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
SECS=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
: "${FUZZ_TIMEOUT:=10}"

if [ $# -eq 0 ]; then
	set --
	for f in "$B"/fuzz/fuzz_*; do
		[ -x "$f" ] && set -- "$@" "$(basename "$f" | sed 's/^fuzz_//')"
	done
fi
if [ $# -eq 0 ]; then
	echo "fuzz: no targets in $B/fuzz" >&2
	exit 1
fi

# Reports must stop the run and be symbolized; leaks are findings.
ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:symbolize=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

pass=0
fail=0
failed=""
start=$(date +%s)
for name in "$@"; do
	bin=$B/fuzz/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "fuzz: $name: no such target ($bin)"
		fail=$((fail + 1))
		failed="$failed $name"
		continue
	fi
	work=$B/fuzz-corpus/$name
	art=$B/fuzz-artifacts/$name
	log=$B/fuzz-logs/$name.log
	mkdir -p "$work" "$art" "$B/fuzz-logs"
	rm -f "$art"/*
	dirs="$work tests/fuzz/corpus/$name"
	[ -d "tests/fuzz/regress/$name" ] && dirs="$dirs tests/fuzz/regress/$name"
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$SECS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" $dirs >"$log" 2>&1
	rc=$?
	t1=$(date +%s)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | sed 's/cov: //')
	found=$(ls "$art" 2>/dev/null)
	if [ $rc -eq 0 ] && [ -z "$found" ]; then
		pass=$((pass + 1))
		echo "fuzz: $name: ok, $((t1 - t0)) s, ${runs:-?} runs, coverage ${cov:-?}, corpus $(ls "$work" | wc -l)"
		continue
	fi
	fail=$((fail + 1))
	failed="$failed $name"
	echo "fuzz: $name: FAILED (exit $rc) after $((t1 - t0)) s; log $log"
	grep -E 'ERROR: |SUMMARY: |runtime error: |^fuzz: |==[0-9]+== ?(ERROR|WARNING)' "$log" | head -n 8 | sed "s/^/  $name| /"
	mkdir -p "tests/fuzz/regress/$name"
	for f in $found; do
		cp "$art/$f" "tests/fuzz/regress/$name/$f"
		echo "  $name| input saved as tests/fuzz/regress/$name/$f"
	done
done
echo "fuzz: all targets in $(($(date +%s) - start)) s"
[ -n "$failed" ] && echo "fuzz: failed targets:$failed"
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
