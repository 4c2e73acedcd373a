#!/bin/sh
# make check-valgrind: every unit suite (and the fuzz replayers) under
# valgrind's memcheck.  A suite passes when valgrind reports no error and
# no leak (definitely or indirectly lost) in any of its processes: Check
# runs each test in a forked child, and valgrind checks every child at
# its exit.  "Possibly lost" blocks are shown in the logs and counted in
# the summary but do not fail: a test that fails exits its child at once,
# with the store's or a server's threads still running, and everything
# those threads hold shows as possibly lost (seen with test_store_ckpt's
# timing tests under valgrind); a real leak of ours is definite.  Suppressions (tests/valgrind.supp) are for third-party
# libraries only, each with its reason there.  The suites' own results
# are printed too; a test that fails only because valgrind makes it 20-50
# times slower (the speed tests: jsonw, perf, hash flooding...) is listed
# but does not fail this target - memory errors and leaks do.
#
#   sh tests/run-valgrind.sh BUILD_DIR BINARY...
#
# Logs: BUILD_DIR/valgrind/NAME/PID.log, the suite's output in
# BUILD_DIR/valgrind/NAME/output.txt.  Needs a build without
# sanitizers (valgrind and ASan do not mix).
set -u
B=$1
shift
command -v valgrind >/dev/null 2>&1 || {
	echo "check-valgrind: valgrind not found; install Debian package valgrind" >&2
	exit 1
}
: "${CK_TIMEOUT_MULTIPLIER:=20}"
export CK_TIMEOUT_MULTIPLIER
supp=$(pwd)/tests/valgrind.supp
pass=0
fail=0
failed=""
slow=""
start=$(date +%s)
for t in "$@"; do
	name=$(basename "$t")
	dir=$B/valgrind/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	t0=$(date +%s)
	out=$(valgrind --tool=memcheck --leak-check=full \
		--show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect \
		--suppressions="$supp" --num-callers=30 \
		--log-file="$dir/%p.log" "$t" 2>&1)
	rc=$?
	t1=$(date +%s)
	printf '%s\n' "$out" >"$dir/output.txt"
	# every process that got to its end wrote a summary
	errs=$(grep -h 'ERROR SUMMARY:' "$dir"/*.log 2>/dev/null |
		sed 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/' | awk '{s += $1} END {print s + 0}')
	procs=$(grep -l 'ERROR SUMMARY:' "$dir"/*.log 2>/dev/null | wc -l)
	possibly=$(grep -h 'possibly lost:' "$dir"/*.log 2>/dev/null | grep -vc ' 0 bytes')
	checks=$(printf '%s\n' "$out" | grep -E '^([0-9]+%: Checks|replayed )' | tail -n 1)
	if [ "$errs" -eq 0 ]; then
		pass=$((pass + 1))
		echo "valgrind: $name: clean, $procs processes ($possibly with possibly lost blocks)," \
			"$((t1 - t0)) s; ${checks:-no summary}"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "valgrind: $name: $errs errors or leaks in $procs processes, $((t1 - t0)) s"
		grep -l 'ERROR SUMMARY: [1-9]' "$dir"/*.log | head -n 3 | sed "s/^/  $name| see /"
	fi
	if [ $rc -ne 0 ]; then
		slow="$slow $name"
		printf '%s\n' "$out" | grep -E ':[EF]:' | head -n 3 | sed "s/^/  $name| /"
	fi
done
echo "valgrind: all suites in $(($(date +%s) - start)) s"
[ -n "$slow" ] && echo "valgrind: suites with failed tests under valgrind (timing):$slow"
[ -n "$failed" ] && echo "valgrind: suites with errors or leaks:$failed"
echo "valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]
