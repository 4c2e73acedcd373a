#!/bin/sh
# Monthly report figures (doc/report.md, "Cost"): one customer with 50 PCs
# (HTML and PDF), then every customer of a demo-sized store through a
# whole mamorid's schedule and report workers, with the checks' scheduling
# lag before and during the run.  BENCH_QUICK: 300 customers instead of
# 5,000.  BENCH_REPORT_CUSTOMERS, BENCH_REPORT_PCS, BENCH_REPORT_WORKERS
# override; REPORT_BENCH_DIR keeps (and reuses) the filled store.
B=${B:-build}
N=${BENCH_REPORT_CUSTOMERS:-5000}
[ -n "${BENCH_QUICK:-}" ] && N=${BENCH_REPORT_CUSTOMERS:-300}
PCS=${BENCH_REPORT_PCS:-10}
echo "one customer's month, 50 PCs (report_make, 7 runs):"
"$B/bench/report_bench" one 50 || exit 1
echo "every customer's PDF of last month through the schedule ($N customers, $PCS PCs each;"
echo "the store is filled first; target: under 10 minutes, checks not delayed):"
MAMORI_PLUGIN_DIR="$B/plugins" "$B/bench/report_bench" all "$N" "$PCS" || exit 1
