#!/bin/sh
# Alert figures: events persisted per second with group commit, the time
# of the SLA summary over stored alerts, and the latency from an agent's
# publish to the alert at a subscriber.
B=${B:-build}
N=200000
[ -n "${BENCH_QUICK:-}" ] && N=50000
echo "alert events persisted with group commit (target >= 50,000/s):"
"$B/bench/alerts_bench" persist "$N" || exit 1
NS=100000
[ -n "${BENCH_QUICK:-}" ] && NS=20000
echo "SLA summary (app_sla) over $NS stored alerts, all of this month / over 13 months:"
"$B/bench/sla_bench" "$NS" 1 || exit 1
"$B/bench/sla_bench" "$NS" 13 || exit 1
echo "alert latency, agent publish -> alert at a subscriber (target p99 < 10 ms):"
sh tests/bench/alerts_latency.sh
