#!/bin/sh
# it: long
# exec plugin end to end: a real mamorid runs Debian's check_dummy and
# check_tcp (against a real TCP server this test starts on loopback) and a
# script that hangs past its timeout; states are read from the state db.
. tests/integration/lib.sh

PLUGDIR=/usr/lib/nagios/plugins
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/exec.so" ] || it_skip "$PLUGIN_DIR/exec.so not built"
[ -x "$PLUGDIR/check_dummy" ] && [ -x "$PLUGDIR/check_tcp" ] ||
	it_skip "monitoring-plugins-basic not installed"
command -v python3 >/dev/null || it_skip "python3 missing (TCP server)"
command -v mosquitto >/dev/null || it_skip "mosquitto missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR" "$IT_TMP/www"

# A real broker (mamorid publishes states) and a real TCP server.
mqtt_port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
	>"$IT_TMP/mosquitto.conf"
it_bg mosquitto mosquitto -c "$IT_TMP/mosquitto.conf"
tcp_port=$(it_free_port)
it_bg http python3 -m http.server --bind 127.0.0.1 --directory "$IT_TMP/www" "$tcp_port"
HTTP_PID=$IT_LAST_PID
closed_port=$(it_free_port) # nothing listens there
http_port=$(it_free_port)
it_wait_for 10 "$PLUGDIR/check_tcp" -H 127.0.0.1 -p "$tcp_port" || it_fail "TCP server did not start"

# A plugin that hangs, with a grandchild, to prove the group is killed.
cat >"$IT_TMP/hang.sh" <<EOF
#!/bin/sh
sleep 300 &
echo \$! >"$IT_TMP/hang.pid"
wait
EOF
chmod 755 "$IT_TMP/hang.sh"

abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; log_level = "debug"; };
mqtt = { host = "127.0.0.1"; port = $mqtt_port; client_id = "mamorid-it-exec"; topic_prefix = "mamori"; };
http = { listen = "127.0.0.1:$http_port"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-test"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-test"; } );
customers = (
  { id = "c0001"; name = "Exec Test Co"; region = "aichi";
    assets = (
      { name = "lab"; type = "host"; address = "127.0.0.1";
        checks = (
          { plugin = "exec"; name = "dummy_ok"; interval = "1s"; max_attempts = 1;
            command = "$PLUGDIR/check_dummy 0 'all fine'"; },
          { plugin = "exec"; name = "dummy_crit"; interval = "1s"; max_attempts = 1;
            command = "$PLUGDIR/check_dummy 2 \"customer \$CUSTOMERNAME\$ down\""; },
          { plugin = "exec"; name = "tcp_up"; interval = "1s"; max_attempts = 1; timeout = "5s";
            command = "$PLUGDIR/check_tcp -H \$HOSTADDRESS\$ -p $tcp_port"; },
          { plugin = "exec"; name = "tcp_closed"; interval = "1s"; max_attempts = 1; timeout = "5s";
            command = "$PLUGDIR/check_tcp -H \$HOSTADDRESS\$ -p $closed_port"; },
          { plugin = "exec"; name = "hang"; interval = "30s"; max_attempts = 1; timeout = "1s";
            command = "$IT_TMP/hang.sh"; }
        ); } ); } );
EOF

# A config with a shell pipe must be refused, naming the problem.
sed 's#check_dummy 0 .all fine.#check_dummy 0 ok | cat#' "$IT_TMP/mamori.conf" >"$IT_TMP/bad.conf"
if "$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/bad.log" 2>&1; then
	it_fail "a command with '|' was accepted"
fi
grep -q "shell syntax" "$IT_TMP/bad.log" || it_fail "no clear error for '|': $(cat "$IT_TMP/bad.log")"
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"

it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -f "$IT_STATE_DIR/mamori.db" || it_fail "no state db"

it_wait_state 20 c0001 lab dummy_ok "0|" || it_fail "dummy_ok"
it_wait_state 20 c0001 lab dummy_crit "2|" || it_fail "dummy_crit"
case "$(it_state c0001 lab dummy_crit)" in
*"customer Exec Test Co down"*) ;;
*) it_fail "macro not expanded: $(it_state c0001 lab dummy_crit)" ;;
esac
it_wait_state 20 c0001 lab tcp_up "0|" || it_fail "tcp_up"
it_wait_state 20 c0001 lab tcp_closed "2|" || it_fail "tcp_closed"
it_wait_state 20 c0001 lab hang "3|" || it_fail "hang"
case "$(it_state c0001 lab hang)" in
*"timed out"*) ;;
*) it_fail "hang: expected a timeout, got $(it_state c0001 lab hang)" ;;
esac
# The hung plugin's own child must be gone (killed with its process group;
# a zombie left to a non-reaping PID 1 in a container counts as gone).
hang_pid=$(cat "$IT_TMP/hang.pid" 2>/dev/null) || it_fail "hang.sh did not run"
gone() {
	! kill -0 "$1" 2>/dev/null || grep -q '^[^)]*) [ZX]' "/proc/$1/stat" 2>/dev/null
}
it_wait_for 5 gone "$hang_pid" || it_fail "grandchild $hang_pid of a timed-out plugin survived"

# The service goes away: the check follows.
kill "$HTTP_PID"
it_wait_state 20 c0001 lab tcp_up "2|" || it_fail "tcp_up did not turn CRITICAL"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS exec_plugins"
exit 0
