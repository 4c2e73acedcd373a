#!/bin/sh
# Runs tests/integration/*.sh (or the names given in $IT).  Each test exits
# 0 (pass), 77 (skip) or anything else (fail).  Output of a failing test is
# shown.  Ends with "integration: N passed, N failed, N skipped".
#
# $IT_JOBS tests at a time (default 2; 1: one by one), from a pool
# (tests/pool.sh), longest first.  A test whose header has the line
# "# it: serial" (it measures time or load against a bound, or touches
# something system-wide) runs afterwards, alone.  Every test picks its own
# ports and temporary directory, so two can run side by side.
. tests/pool.sh

tests=${IT:-$(ls tests/integration/*.sh | grep -v '/lib.sh$' | grep -v '/mailserver.sh$')}
R=$(mktemp -d "${TMPDIR:-/tmp}/mamori-it.XXXXXX") || exit 1
# IT_KEEP (check-security): the outputs stay, for its search for secrets
trap '[ -n "${IT_KEEP:-}" ] || rm -rf "$R"' EXIT INT TERM

run_one() {
	name=$(basename "$1" .sh)
	start=$(date +%s)
	timeout 600 sh "$1" >"$R/$name.out" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	echo "$rc" >"$R/$name.rc"
	case $rc in
	0) echo "PASS $name (${secs}s)" ;;
	77) echo "SKIP $name: $(tail -n 1 "$R/$name.out")" ;;
	*) msg=$(printf 'FAIL %s (rc=%s, %ss)\n' "$name" "$rc" "$secs"
	         tail -n 40 "$R/$name.out" | sed "s/^/  $name| /")
	   printf '%s\n' "$msg" ;;
	esac
}

long="" other="" serial=""
for t in $tests; do
	if grep -q '^# it: serial$' "$t"; then
		serial="$serial $t"
	elif grep -q '^# it: long$' "$t"; then
		long="$long $t"
	else
		other="$other $t"
	fi
done
# shellcheck disable=SC2086
pool_run "${IT_JOBS:-2}" run_one $long $other
for t in $serial; do
	run_one "$t"
done

pass=0 fail=0 skip=0 failed=""
for t in $tests; do
	name=$(basename "$t" .sh)
	rc=$(cat "$R/$name.rc" 2>/dev/null || echo 1)
	case $rc in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)); failed="$failed $name" ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ -n "$failed" ] && echo "failed integration tests:$failed"
[ $fail -eq 0 ]
