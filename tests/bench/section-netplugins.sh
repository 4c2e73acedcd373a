#!/bin/sh
# ==== network plugins: dns_txt, utm, mail_latency ====
# mamori's CPU per check (user+sys of the process running the plugin
# through the real loader and host API; the servers and spawned commands
# are not counted) with 10,000 checks against real local servers
# (dnsmasq, snmpd, openssl s_server, Postfix + Dovecot when root), next
# to a reference measured in the same run: the CPU of one dig / snmpget /
# s_client process per query (what an exec'd Nagios-style check pays),
# and for queue mode a bare posix_spawn+waitpid of the same command.
# Figures are printed, never asserted.  Exit 1 when a benchmark failed.
#   BENCH_QUICK=1        1,000 checks instead of 10,000
#   BENCH_NET_CHECKS     checks per figure (default 10000)
#   BENCH_MAIL_PROBES    probe-mode runs (default 1000; 0 = none)
B=${B:-build}
N=${BENCH_NET_CHECKS:-10000}
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK:-0}" != 0 ] && N=${BENCH_NET_CHECKS:-1000}
PROBES=${BENCH_MAIL_PROBES:-1000}
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK:-0}" != 0 ] && PROBES=${BENCH_MAIL_PROBES:-100}
REFS=200
status=0
OUT=$(mktemp "${TMPDIR:-/tmp}/mamori-netbench.XXXXXX") || exit 1
trap 'rm -f "$OUT"' EXIT

# bench NAME CMD...: run, keep stdout (our figures), stderr only on failure.
bench() {
	name=$1
	shift
	if [ ! -x "$1" ]; then
		echo "  $name: $1 not built (make $1)"
		status=1
		return
	fi
	"$@" >>"$OUT" 2>"$OUT.err"
	rc=$?
	if [ $rc = 77 ]; then
		echo "  $name: skipped ($(tail -n 1 "$OUT.err"))"
	elif [ $rc != 0 ]; then
		echo "  $name: FAILED (exit $rc)"
		grep -v ' info ' "$OUT.err" | tail -n 5 | sed 's/^/    /'
		status=1
	fi
	rm -f "$OUT.err"
}

# dig_ref PORT N: CPU per `dig` process (children user+sys), or "-".
dig_ref() {
	command -v dig >/dev/null 2>&1 || { echo -; return; }
	python3 - "$1" "$2" <<'EOF' 2>/dev/null || echo -
import os, subprocess, sys
port, n = sys.argv[1], int(sys.argv[2])
t0 = os.times()
for _ in range(n):
    subprocess.run(["dig", "@127.0.0.1", "-p", port, "+short", "TXT", "a.test"],
                   stdout=subprocess.DEVNULL, check=True)
t1 = os.times()
print("%.1f" % ((t1.children_user + t1.children_system - t0.children_user - t0.children_system) * 1e6 / n))
EOF
}

echo "checks per figure: $N (mail probes: $PROBES); CPU of this machine's mamori process only"
bench dns_txt "$B/bench/dns_txt_bench" "$N" 50
bench utm "$B/bench/utm_bench" "$N" 50 "$REFS"
bench mail_latency "$B/bench/mail_bench" "$N" 8 "$PROBES"

# The dig reference needs its own dnsmasq (dns_txt_bench stops its own).
DIGREF=-
if command -v dig >/dev/null 2>&1 && [ -x /usr/sbin/dnsmasq ]; then
	port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	/usr/sbin/dnsmasq --no-daemon --port="$port" --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --pid-file= -C /dev/null --log-facility=/dev/null --local=/test/ \
		--txt-record=a.test,mail-filter-verify=9f86d081884c7d65 2>/dev/null &
	dpid=$!
	sleep 0.3
	DIGREF=$(dig_ref "$port" "$REFS")
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
fi

# fig LABEL: the "us CPU/check" (or "/run") figure of the line starting with LABEL.
fig() {
	awk -v l="$1" 'index($0, l) == 1 { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^us$/) { print $i; exit } }' "$OUT"
}
ratio() {
	awk -v a="${1:--}" -v b="${2:--}" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "-";
		else printf "%.4f\n", a / b }'
}
row() { printf '%-34s %12s %12s %8s  %s\n' "$1" "${2:--}" "${3:--}" "${4:--}" "$5"; }

echo
sed 's/^/  /' "$OUT"
echo
row "figure (us CPU per check)" "mamori" "reference" "ratio" "target / reference"
d1=$(fig "dns_txt exists")
d2=$(fig "dns_txt spf")
row "dns_txt exists (1 query)" "$d1" "$DIGREF" "$(ratio "$d1" "$DIGREF")" "<= 50 us; ref one dig process$( [ "$DIGREF" = - ] && echo ' (dig not installed: bind9-dnsutils)')"
row "dns_txt spf (5 queries)" "$d2" "$DIGREF" "$(ratio "$d2" "$DIGREF")" "<= 50 us per query"
s=$(fig "ref snmpget")
u1=$(fig "utm v2c")
u2=$(fig "utm v3")
u3=$(fig "utm https")
row "utm v2c (scalars + ifName walk)" "$u1" "$s" "$(ratio "$u1" "$s")" "ref one snmpget process, same scalars"
row "utm v3 authPriv" "$u2" "$s" "$(ratio "$u2" "$s")" "ref one snmpget process (v2c)"
c=$(fig "ref s_client")
row "utm https (TLS handshake + cert)" "$u3" "$c" "$(ratio "$u3" "$c")" "ref one openssl s_client process"
sp=$(fig "ref spawn")
q1=$(fig "mail queue (cat)")
q2=$(fig "mail queue (postqueue)")
p=$(fig "mail probe")
row "mail_latency queue (stand-in)" "$q1" "$sp" "$(ratio "$q1" "$sp")" "ref bare posix_spawn+waitpid"
row "mail_latency queue (postqueue -j)" "$q2" "$sp" "$(ratio "$q2" "$sp")" "ref bare posix_spawn+waitpid"
row "mail_latency probe (SMTP+IMAP)" "$p" "" "" "send + polls + delete, STARTTLS both"
exit $status
