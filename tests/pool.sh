# A small job pool for the test runners (sourced; POSIX sh, no `wait -n`).
#
# pool_run JOBS FN ITEM...: runs "FN ITEM" for every ITEM, at most JOBS at
# a time, and returns when all are done.  Each of JOBS workers walks the
# list and takes the next item nobody took yet (mkdir is atomic), so a long
# item does not hold up the others.  FN runs in a subshell: it reports
# through files and standard output, not through variables.
#
# Most tests mostly wait (for a broker, a timer, a child), so two at a time
# on two cores finishes a pass in little more than half the time.  Tests
# that measure time or load under a bound run alone (the runners' serial
# lists), so a neighbour cannot make them fail.

pool_run() {
	_pool_jobs=$1
	_pool_fn=$2
	shift 2
	_pool_q=$(mktemp -d "${TMPDIR:-/tmp}/mamori-pool.XXXXXX") || return 1
	_pool_n=0
	for _pool_it in "$@"; do
		_pool_n=$((_pool_n + 1))
		printf '%s\n' "$_pool_it" >"$_pool_q/item.$_pool_n"
	done
	[ "$_pool_jobs" -ge 1 ] 2>/dev/null || _pool_jobs=1
	_pool_w=0
	while [ $_pool_w -lt "$_pool_jobs" ]; do
		_pool_w=$((_pool_w + 1))
		(
			_k=0
			while [ $_k -lt $_pool_n ]; do
				_k=$((_k + 1))
				if mkdir "$_pool_q/claim.$_k" 2>/dev/null; then
					"$_pool_fn" "$(cat "$_pool_q/item.$_k")"
				fi
			done
		) &
	done
	wait
	rm -rf "$_pool_q"
}
