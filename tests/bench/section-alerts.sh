#!/bin/sh
# Alert figures: events persisted per second with group commit,
# and the latency from an agent's publish to the alert at a subscriber.
B=${B:-build}
N=200000
[ -n "${BENCH_QUICK:-}" ] && N=50000
echo "alert events persisted with group commit (target >= 50,000/s):"
"$B/bench/alerts_bench" persist "$N" || exit 1
echo "alert latency, agent publish -> alert at a subscriber (target p99 < 10 ms):"
sh tests/bench/alerts_latency.sh
