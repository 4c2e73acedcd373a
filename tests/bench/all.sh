#!/bin/sh
# make bench: the core figures (run.sh), then every tests/bench/section-*.sh
# (one per area: alerts, network plugins, the HTTP API).  Each prints its own
# table of figures next to references measured in the same invocation.
# Nothing is asserted; the exit status is non-zero only when a benchmark
# could not do its work.
status=0
sh tests/bench/run.sh || status=1
for s in tests/bench/section-*.sh; do
	[ -f "$s" ] || continue
	echo
	echo "==== $(basename "$s" .sh | sed 's/^section-//') ===="
	sh "$s" || status=1
done
exit $status
