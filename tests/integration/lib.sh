# Shared helpers for integration tests (sourced, POSIX sh + bash-isms avoided).
# Each test script: runs from the repository top, exits 0 = pass,
# 77 = skipped (say why on stderr), anything else = fail.  It starts the real
# servers it needs on loopback ports it picks, and stops them (trap).
#
#   . tests/integration/lib.sh
#   it_init                       # makes $IT_TMP, installs cleanup trap
#   port=$(it_free_port)
#   it_bg name cmd args...        # start a background process, killed at exit
#   it_wait_for 10 cmd args...    # poll until cmd succeeds (max 10 s)
#   it_mamorid conf               # start build/mamorid -f -c conf in background
#   it_state cust asset check     # prints "state|hard|output" from the state db
#   it_fail "message"             # print and exit 1
#   it_mosquitto [conf lines...]  # private broker on a free port: sets $port
#   it_wait_online                # until mamorid's retained "online" is on $port
#   it_mosquitto_shipped LOGIN... # broker with contrib/mosquitto's config: sets $port

B=${B:-build}
MAMORID=${MAMORID:-$B/mamorid}
# it_asan: true when mamorid is an AddressSanitizer build (its quarantine
# and redzones make memory figures several times larger)
it_asan() { ldd "$MAMORID" 2>/dev/null | grep -q libasan; }
MAMORICTL=${MAMORICTL:-$B/mamorictl}
PLUGIN_DIR=${PLUGIN_DIR:-$B/plugins}
IT_NAME=$(basename "$0" .sh)
# Tests run as root in CI, and their configs name no daemon.user: let
# mamorid stay root there (privdrop.sh tests the drop and unsets this).
MAMORI_ALLOW_ROOT=1
export MAMORI_ALLOW_ROOT
IT_PIDS=""

it_cleanup() {
	for p in $IT_PIDS; do
		kill "$p" 2>/dev/null
	done
	# up to 3 s to exit cleanly (a sanitizer build checks for leaks then)
	_n=0
	while [ $_n -lt 30 ]; do
		_alive=0
		for p in $IT_PIDS; do
			kill -0 "$p" 2>/dev/null && _alive=1
		done
		[ $_alive = 0 ] && break
		sleep 0.1
		_n=$((_n + 1))
	done
	for p in $IT_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	# a sanitizer report in any process's log fails the test, even one
	# printed at exit (a leak found after the checks passed); a test that
	# crashes something on purpose names it in IT_SAN_IGNORE (a pattern of
	# the report's first line, e.g. the crashing test plugin's file)
	_san=""
	for _f in "$IT_TMP"/*.log; do
		[ -f "$_f" ] || continue
		_r=$(grep 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$_f")
		[ -n "${IT_SAN_IGNORE:-}" ] && _r=$(printf '%s\n' "$_r" | grep -v -- "$IT_SAN_IGNORE")
		[ -n "$_r" ] && _san="$_san $_f"
	done
	if [ -n "$_san" ]; then
		for _f in $_san; do
			echo "FAIL $IT_NAME: sanitizer report in $_f:" >&2
			grep -A25 'Sanitizer\|runtime error:' "$_f" | head -40 >&2
		done
		IT_SAN_FAIL=1
	fi
	if [ -n "${IT_KEEP:-}" ]; then
		echo "kept $IT_TMP" >&2
	else
		rm -rf "$IT_TMP"
	fi
	[ -z "${IT_SAN_FAIL:-}" ] || exit 1
}

it_init() {
	IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mamori-it-$IT_NAME.XXXXXX")
	trap it_cleanup EXIT
	trap 'exit 1' INT TERM
}

it_fail() {
	echo "FAIL $IT_NAME: $*" >&2
	exit 1
}

it_skip() {
	echo "SKIP $IT_NAME: $*" >&2
	exit 77
}

# A free TCP port on 127.0.0.1 (bind to 0, read the port, release).
it_free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()' 2>/dev/null ||
		perl -MIO::Socket::INET -e 'my $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1) or die; print $s->sockport,"\n"'
}

it_bg() {
	name=$1
	shift
	"$@" >"$IT_TMP/$name.log" 2>&1 &
	IT_LAST_PID=$!
	IT_PIDS="$IT_PIDS $IT_LAST_PID"
}

it_wait_for() {
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.1
	done
	return 0
}

it_mamorid() {
	it_bg mamorid "$MAMORID" -f -c "$1"
	MAMORID_PID=$IT_LAST_PID
}

# it_state customer asset check -> "state|hard|attempt|output"
it_state() {
	sqlite3 -cmd '.timeout 2000' "$IT_STATE_DIR/mamori.db" \
		"SELECT state||'|'||hard||'|'||attempt||'|'||output FROM check_state WHERE customer='$1' AND asset='$2' AND name='$3';" 2>/dev/null
}

# it_wait_state timeout customer asset check expected-prefix
it_wait_state() {
	_lim=$1
	shift
	_end=$(($(date +%s) + _lim))
	while :; do
		_s=$(it_state "$1" "$2" "$3")
		case "$_s" in
		"$4"*) return 0 ;;
		esac
		if [ "$(date +%s)" -ge "$_end" ]; then
			echo "state of $1/$2/$3 is '$_s', expected '$4...'" >&2
			return 1
		fi
		sleep 0.1
	done
}

# it_mosquitto [extra config lines...]: a private anonymous broker on a free
# loopback port (sets $port and $MOSQ_PID; skips when mosquitto is missing).
it_mosquitto() {
	_mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	[ -x "$_mosq" ] || it_skip "mosquitto not installed"
	command -v mosquitto_pub >/dev/null 2>&1 || it_skip "mosquitto-clients not installed"
	port=$(it_free_port)
	printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$IT_TMP/mosq.conf"
	for _l in "$@"; do
		printf '%s\n' "$_l" >>"$IT_TMP/mosq.conf"
	done
	it_bg mosquitto "$_mosq" -c "$IT_TMP/mosq.conf"
	MOSQ_PID=$IT_LAST_PID
	it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x || it_fail "broker did not start"
}

# it_wait_online: mamorid subscribed and published its retained "online"
# (reports published before would be dropped by the broker).
it_online_() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -t 'mamori/v1/server/+/status' -C 1 -W 1 2>/dev/null | grep -q online
}
it_wait_online() {
	it_wait_for 15 it_online_ || it_fail "mamorid did not come online on the broker"
}

# it_mosquitto_shipped LOGIN...: a broker on a free loopback port with the
# settings of contrib/mosquitto/mosquitto.conf and its ACL; listeners, TLS
# and paths are the test's.  Each LOGIN gets the password "secret-LOGIN"
# (password file $IT_TMP/passwd).  Fails unless every listener of the
# shipped file has the same value of each per-listener setting copied here
# (the test's one listener stands for all of them).  IT_SHIPPED_CONF: another
# file (e.g. to see a test fail on an older config); IT_SHIPPED_ACL_EXTRA:
# ACL lines for the test's own logins, appended to the shipped ACL.  Sets $port and
# $MOSQ_PID; the broker's log is $IT_TMP/mosquitto.log.
IT_SHIPPED_GLOBAL='per_listener_settings|allow_anonymous|max_inflight_messages|max_queued_messages|max_queued_bytes|set_tcp_nodelay|message_size_limit|retain_available'
IT_SHIPPED_LISTENER='use_username_as_clientid'
it_mosquitto_shipped() {
	_mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	[ -x "$_mosq" ] || it_skip "mosquitto not installed"
	command -v mosquitto_pub >/dev/null 2>&1 || it_skip "mosquitto-clients not installed"
	_sc=${IT_SHIPPED_CONF:-contrib/mosquitto/mosquitto.conf}
	for _k in $(echo "$IT_SHIPPED_LISTENER" | tr '|' ' '); do
		awk -v k="$_k" '$1 == "listener" { n++ } $1 == k && n { v[n] = $2 }
			END { for (i = 1; i <= n; i++) if (!(i in v) || v[i] != v[1]) exit 1; exit n == 0 }' "$_sc" ||
			it_fail "the listeners in $_sc do not all set $_k (alike)"
	done
	port=$(it_free_port)
	: >"$IT_TMP/passwd"
	# it-probe: the start probe's own login, so it takes over nobody's session
	for _u in it-probe "$@"; do
		mosquitto_passwd -b "$IT_TMP/passwd" "$_u" "secret-$_u" || it_fail "mosquitto_passwd $_u"
	done
	cp contrib/mosquitto/mamori.acl "$IT_TMP/acl"
	# a test's own logins (IT_SHIPPED_ACL_EXTRA: ACL lines), after the shipped ones
	[ -z "${IT_SHIPPED_ACL_EXTRA:-}" ] || printf '%s\n' "$IT_SHIPPED_ACL_EXTRA" >>"$IT_TMP/acl"
	chmod 0755 "$IT_TMP"
	chmod 0644 "$IT_TMP/passwd" "$IT_TMP/acl"
	{
		grep -E "^($IT_SHIPPED_GLOBAL)[[:space:]]" "$_sc"
		printf 'listener %s 127.0.0.1\n' "$port"
		grep -E "^($IT_SHIPPED_LISTENER)[[:space:]]" "$_sc" | sort -u
		printf 'password_file %s\nacl_file %s\nlog_dest stderr\n' "$IT_TMP/passwd" "$IT_TMP/acl"
	} >"$IT_TMP/mosquitto.conf"
	it_bg mosquitto "$_mosq" -c "$IT_TMP/mosquitto.conf"
	MOSQ_PID=$IT_LAST_PID
	it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -u it-probe -P secret-it-probe -t probe -m x ||
		it_fail "broker did not start: $(cat "$IT_TMP/mosquitto.log")"
}
