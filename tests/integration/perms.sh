#!/bin/sh
# it: serial
# perms: what mamorid creates is not for others, and what it trusts is
# not writable by others (ssh's rules).
#  - a state_dir its group or others may write to: --check-config and the
#    daemon refuse it, naming it and the chmod that fixes it, and create
#    nothing there;
#  - a fresh database (mamori.db, -wal, -shm) and the state_dir it creates
#    are not readable by others nor writable by the group, even when
#    started from a umask 022 shell;
#  - secret files (the MQTT password_file, a plugin's community_file, in
#    process and in an isolated plugin host) others may read or the group
#    may write are refused, naming the file; 0600 and 0640 are accepted;
#    the secret never reaches the output.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/utm.so" ] || it_skip "$PLUGIN_DIR/utm.so not built"
it_init
umask 022
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
port=$(it_free_port) # nobody listens: mamorid keeps retrying, which is fine here
secret='Sekr1t-never-shown'

conf() { # state_dir [extra mqtt keys] [plugins block] [utm check]
	cat <<EOC
daemon = { state_dir = "$1"; plugin_dir = "$abs_plugins"; data_dir = "share/mamori"; log_level = "info"; };
mqtt = { host = "127.0.0.1"; port = $port; connect_timeout = "1s"; ${2:-} };
${3:-}
customers = ( { id = "c1"; assets = ( { name = "fw"; address = "127.0.0.1"; checks = (
  { plugin = "dummy"; name = "d"; interval = "200ms"; output = "fine"; } ${4:-} ); } ); } );
EOC
}

# 1. A state_dir others may write to.
bad=$IT_TMP/open-state
mkdir "$bad"
chmod 0777 "$bad"
conf "$bad" >"$IT_TMP/open.conf"
"$MAMORID" -c "$IT_TMP/open.conf" --check-config >"$IT_TMP/open-cc.log" 2>&1 &&
	it_fail "--check-config accepted a 0777 state_dir"
grep -q "bad permissions 0777 on state_dir $bad: writable by others; run: chmod 750 $bad" "$IT_TMP/open-cc.log" ||
	{ cat "$IT_TMP/open-cc.log" >&2; it_fail "--check-config: no clear message for a 0777 state_dir"; }
timeout 10 "$MAMORID" -f -c "$IT_TMP/open.conf" >"$IT_TMP/open.log" 2>&1 &&
	it_fail "mamorid started on a 0777 state_dir"
grep -q "bad permissions 0777 on state_dir $bad: writable by others; run: chmod 750 $bad" "$IT_TMP/open.log" ||
	{ cat "$IT_TMP/open.log" >&2; it_fail "mamorid: no clear message for a 0777 state_dir"; }
[ -e "$bad/mamori.db" ] && it_fail "mamorid created a database in a 0777 state_dir"
chmod 0770 "$bad"
timeout 10 "$MAMORID" -f -c "$IT_TMP/open.conf" >"$IT_TMP/open.log" 2>&1 &&
	it_fail "mamorid started on a 0770 state_dir"
grep -q "bad permissions 0770 on state_dir $bad: writable by its group" "$IT_TMP/open.log" ||
	{ cat "$IT_TMP/open.log" >&2; it_fail "mamorid: no clear message for a 0770 state_dir"; }

# 2. A fresh state_dir and database from a umask 022 shell.
IT_STATE_DIR=$IT_TMP/state
conf "$IT_STATE_DIR" >"$IT_TMP/m.conf"
it_mamorid "$IT_TMP/m.conf"
# (sqlite3 would create a missing database itself, with its own mode)
it_wait_for 10 test -s "$IT_STATE_DIR/mamori.db" || it_fail "no database created"
it_wait_state 10 c1 fw d "0|" || { cat "$IT_TMP/mamorid.log" >&2; it_fail "no result written"; }
for f in "$IT_STATE_DIR" "$IT_STATE_DIR/mamori.db" "$IT_STATE_DIR/mamori.db-wal" "$IT_STATE_DIR/mamori.db-shm"; do
	[ -e "$f" ] || it_fail "$f was not created"
	m=$(stat -c %a "$f")
	# no bit for others, no group write
	[ $((0$m & 027)) -eq 0 ] || it_fail "$f is mode $m: readable by others or writable by the group"
done
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null

# 3. Secret files.
pw=$IT_TMP/mqtt.password
printf '%s\n' "$secret" >"$pw"
community=$IT_TMP/utm.community
printf '%s\n' "$secret" >"$community"
utm="{ plugin = \"utm\"; name = \"u\"; snmp = { community_file = \"$community\"; }; }"
# check_secret NAME FILE CONF-ARGS...: 0644, 0660 refused; 0600, 0640 accepted; missing: clear.
check_secret() {
	name=$1 file=$2
	shift 2
	conf "$IT_STATE_DIR" "$@" >"$IT_TMP/$name.conf"
	for mode in 644 660 604; do
		chmod "$mode" "$file"
		"$MAMORID" -c "$IT_TMP/$name.conf" --check-config >"$IT_TMP/$name.log" 2>&1 &&
			it_fail "$name: a 0$mode secret file was accepted"
		grep -q "bad permissions 0$mode on $file: .*run: chmod 600 $file" "$IT_TMP/$name.log" ||
			{ cat "$IT_TMP/$name.log" >&2; it_fail "$name: no clear message for a 0$mode secret"; }
		grep -q "$secret" "$IT_TMP/$name.log" && it_fail "$name: the secret reached the output"
	done
	for mode in 600 640; do
		chmod "$mode" "$file"
		"$MAMORID" -c "$IT_TMP/$name.conf" --check-config >"$IT_TMP/$name.log" 2>&1 ||
			{ cat "$IT_TMP/$name.log" >&2; it_fail "$name: a 0$mode secret file was refused"; }
	done
	mv "$file" "$file.away"
	"$MAMORID" -c "$IT_TMP/$name.conf" --check-config >"$IT_TMP/$name.log" 2>&1 &&
		it_fail "$name: a missing secret file was accepted"
	grep -q "cannot read.* $file: No such file or directory" "$IT_TMP/$name.log" ||
		{ cat "$IT_TMP/$name.log" >&2; it_fail "$name: no clear message for a missing secret"; }
	mv "$file.away" "$file"
}
check_secret mqtt "$pw" "username = \"mamorid\"; password_file = \"$pw\";"
check_secret utm "$community" "" "" ", $utm"
check_secret utm-isolated "$community" "" 'plugins = ( { name = "utm"; isolate = true; } );' ", $utm"

# And the daemon itself (not only --check-config) refuses a readable one.
chmod 644 "$pw"
conf "$IT_STATE_DIR" "username = \"mamorid\"; password_file = \"$pw\";" >"$IT_TMP/pw.conf"
timeout 10 "$MAMORID" -f -c "$IT_TMP/pw.conf" >"$IT_TMP/pw.log" 2>&1 && it_fail "mamorid started with a 0644 password_file"
grep -q "password_file: bad permissions 0644 on $pw: readable by others" "$IT_TMP/pw.log" ||
	{ cat "$IT_TMP/pw.log" >&2; it_fail "mamorid: no clear message for a 0644 password_file"; }
grep -q "$secret" "$IT_TMP/pw.log" && it_fail "the password reached the log"
exit 0
