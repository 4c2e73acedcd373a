#!/bin/sh
# mamori quick start: the two commands of the README.
#
#   sh contrib/quickstart.sh demo   install build deps, build, run the demo
#   sh contrib/quickstart.sh test   install build + test deps, run every test twice
#                                   (-Werror build, then ASan+UBSan build), then
#                                   every libFuzzer target (264 s split over them,
#                                   or FUZZ_SECONDS each: about 5 minutes, build
#                                   not included)
#
# Works on a fresh Debian 12 as root (or with sudo available): it installs
# the Debian packages it needs.  Set MAMORI_NO_APT=1 to skip installing.
set -eu

cd "$(dirname "$0")/.."

# Everything the build, the demo and the tests use, by Debian package name.
# clang + libclang-rt-14-dev: `make fuzz` (libFuzzer and the sanitizer
# runtimes are in libclang-rt-14-dev, which clang only recommends);
# llvm: llvm-symbolizer, for readable fuzzer reports.
# systemd: only systemd-analyze, which rates contrib/systemd/mamorid.service
# offline (tests/integration/systemd_unit.sh); installing it in a container
# does not make it the init.  faketime: the clock-jump test.
BUILD_PKGS="gcc make libc6-dev pkg-config libev-dev libconfig-dev libmosquitto-dev libssl-dev
 check libsubunit-dev libsqlite3-dev libcjson-dev libc-ares-dev libcurl4-openssl-dev libsnmp-dev
 libmicrohttpd-dev libargon2-dev libjs-chart.js libcairo2-dev libpango1.0-dev"
RUN_PKGS="libargon2-1 libcairo2 libpangocairo-1.0-0 fonts-noto-cjk mosquitto mosquitto-clients sqlite3 monitoring-plugins-basic openssl ca-certificates tzdata
 procps python3 dnsmasq-base snmpd"
TEST_PKGS="dnsmasq-base snmpd snmp nagios4-core postfix dovecot-imapd dovecot-lmtpd bind9-dnsutils curl
 iproute2 psmisc prometheus nginx-light wrk python3-yaml chromium fonts-noto-cjk poppler-utils
 clang libclang-rt-14-dev llvm systemd faketime graphite-carbon python3-whisper influxdb"

# The dashboard's browser tests (tests/integration/dashboard*.sh) drive
# Debian's chromium with playwright-core from npm (tests/browser, pinned in
# its package-lock.json).  Node.js: Debian's nodejs and npm, unless a node
# is already installed (another packaging of it must not be replaced).
command -v node >/dev/null 2>&1 || TEST_PKGS="$TEST_PKGS nodejs"
command -v npm >/dev/null 2>&1 || TEST_PKGS="$TEST_PKGS npm"

need_install() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || return 0
	done
	return 1
}

install_pkgs() {
	if [ -n "${MAMORI_NO_APT:-}" ] || ! need_install "$@"; then
		return 0
	fi
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "quickstart: installing Debian packages: $*"
	$SUDO apt-get update -qq
	# postfix asks questions at install time: answer "no configuration".
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections 2>/dev/null || true
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
	# The test suite starts its own servers on loopback ports; the ones the
	# packages started on their default ports are not needed.
	for svc in mosquitto snmpd postfix dovecot nagios4 prometheus nginx; do
		$SUDO systemctl stop "$svc" 2>/dev/null || $SUDO service "$svc" stop 2>/dev/null || true
	done
}

build() {
	./configure "$@"
	make clean >/dev/null
	make -j"$(nproc 2>/dev/null || echo 2)"
}

case "${1:-}" in
demo)
	# shellcheck disable=SC2086
	install_pkgs $BUILD_PKGS $RUN_PKGS
	build
	exec sh contrib/demo/run.sh
	;;
test)
	# shellcheck disable=SC2086
	install_pkgs $BUILD_PKGS $RUN_PKGS $TEST_PKGS
	# playwright-core for the browser tests, as pinned (no browser download:
	# the tests use Debian's chromium)
	if command -v npm >/dev/null 2>&1; then
		(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) ||
			echo "quickstart: npm ci in tests/browser failed: the browser tests will be skipped"
	fi
	start=$(date +%s)
	status=0
	echo "=== pass 1: warnings as errors ==="
	build --enable-werror
	make check || status=1
	echo "=== pass 2: AddressSanitizer + UndefinedBehaviorSanitizer ==="
	build --enable-werror --enable-sanitizers
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0" make check || status=1
	echo "=== fuzzing: every target, ${FUZZ_SECONDS:+$FUZZ_SECONDS s each}${FUZZ_SECONDS:-264 s in all} ==="
	# Bounded: FUZZ_BUDGET (264 s, what 22 targets of 12 s took) split
	# evenly over the targets, or FUZZ_SECONDS per target when set (make
	# fuzz FUZZ_SECONDS=600 by hand for long runs); a crash, leak or
	# sanitizer report fails the run and its input is saved under
	# tests/fuzz/regress/.
	make fuzz ${FUZZ_SECONDS:+FUZZ_SECONDS="$FUZZ_SECONDS"} || status=1
	echo "=== format ==="
	# The committed .clang-format is the style; a tree that differs fails.
	# (Skipped where clang-format is not installed, e.g. a minimal Debian.)
	if command -v clang-format >/dev/null 2>&1 && [ -d .git ]; then
		make format-check || { echo "quickstart: code differs from .clang-format (run make format)"; status=1; }
	fi
	echo "quickstart: all passes done in $(($(date +%s) - start))s, status $status"
	exit $status
	;;
*)
	echo "usage: sh contrib/quickstart.sh demo|test" >&2
	exit 2
	;;
esac
