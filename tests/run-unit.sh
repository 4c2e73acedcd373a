#!/bin/sh
# Runs every unit test binary given as arguments (check suites).  Prints
# each binary's summary and a closing "N passed, N failed" over binaries.
# CK_DEFAULT_TIMEOUT is raised under sanitizers (slower).
#
# $UNIT_JOBS binaries at a time (default 2; 1: one by one), from a pool
# (tests/pool.sh); the ones that hold time bounds (SERIAL below) run
# afterwards, alone.
. tests/pool.sh
SERIAL="test_isolate test_mail_latency test_store_ckpt test_auth"
: "${CK_DEFAULT_TIMEOUT:=60}"
export CK_DEFAULT_TIMEOUT
R=$(mktemp -d "${TMPDIR:-/tmp}/mamori-unit.XXXXXX") || exit 1
trap 'rm -rf "$R"' EXIT INT TERM

run_one() {
	name=$(basename "$1")
	out=$("$1" 2>&1)
	rc=$?
	echo "$rc" >"$R/$name.rc"
	msg=$(printf '%s\n' "$out" | grep -E '^([0-9]+%: Checks|replayed )' | sed "s/^/$name: /"
	      [ $rc -eq 0 ] || printf '%s\n' "$out" | grep -vE '^Running suite' | tail -n 30 |
	          sed "s/^/  $name| /")
	printf '%s\n' "$msg"
}

pooled="" serial=""
for t in "$@"; do
	case " $SERIAL " in
	*" $(basename "$t") "*) serial="$serial $t" ;;
	*) pooled="$pooled $t" ;;
	esac
done
# shellcheck disable=SC2086
pool_run "${UNIT_JOBS:-2}" run_one $pooled
for t in $serial; do
	run_one "$t"
done

pass=0 fail=0 failed=""
for t in "$@"; do
	name=$(basename "$t")
	if [ "$(cat "$R/$name.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $name"
	fi
done
echo "unit: $pass passed, $fail failed"
[ -n "$failed" ] && echo "failed unit tests:$failed"
[ $fail -eq 0 ]
