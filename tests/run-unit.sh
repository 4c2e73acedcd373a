#!/bin/sh
# Runs every unit test binary given as arguments (check suites).  Prints
# each binary's summary and a closing "N passed, N failed" over binaries.
# CK_DEFAULT_TIMEOUT is raised under sanitizers (slower).
pass=0
fail=0
failed=""
: "${CK_DEFAULT_TIMEOUT:=60}"
export CK_DEFAULT_TIMEOUT
for t in "$@"; do
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^([0-9]+%: Checks|replayed )' | sed "s/^/$name: /"
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
		printf '%s\n' "$out" | grep -vE '^Running suite' | tail -n 30 | sed "s/^/  $name| /"
	fi
done
echo "unit: $pass passed, $fail failed"
[ -n "$failed" ] && echo "failed unit tests:$failed"
[ $fail -eq 0 ]
