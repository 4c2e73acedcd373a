#!/bin/sh
# Runs tests/integration/*.sh (or the names given in $IT).  Each test exits
# 0 (pass), 77 (skip) or anything else (fail).  Output of a failing test is
# shown.  Ends with "integration: N passed, N failed, N skipped".
pass=0
fail=0
skip=0
failed=""
tests=${IT:-$(ls tests/integration/*.sh | grep -v '/lib.sh$' | grep -v '/mailserver.sh$')}
for t in $tests; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	out=$(timeout 600 sh "$t" 2>&1)
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(printf '%s\n' "$out" | tail -n 1)" ;;
	*) fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name (rc=$rc, ${secs}s)"
	   printf '%s\n' "$out" | tail -n 40 | sed "s/^/  $name| /" ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ -n "$failed" ] && echo "failed integration tests:$failed"
[ $fail -eq 0 ]
