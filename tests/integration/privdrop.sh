#!/bin/sh
# it: serial
# privdrop: mamorid started as root becomes daemon.user.
#
# Started as root with daemon.user = "nobody": /proc/PID/status shows the
# user's uid and gid (real, effective, saved, fs), no supplementary root
# group and no capabilities; the state directory, made by root before the
# start with a root-owned file in it, and everything mamorid creates in
# it belong to the user; an exec'd plugin (in process) and the plugin
# host of an isolated plugin run as the user too.  Then the refusals:
# daemon.user = "root", a user that does not exist, and the escape hatch
# daemon.allow_root = true (runs as root, says so).
. tests/integration/lib.sh
[ "$(id -u)" = 0 ] || it_skip "not root (the privilege drop needs a start as root)"
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/exec.so" ] || it_skip "exec plugin not built"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
getent passwd nobody >/dev/null || it_skip "no user 'nobody'"
unset MAMORI_ALLOW_ROOT
it_init
chmod 755 "$IT_TMP" # the user must reach its files in here
U=nobody
UID_N=$(id -u $U)
GID_N=$(id -g $U)
IT_STATE_DIR=$IT_TMP/state
mkdir -m 750 "$IT_STATE_DIR"
echo "left by an older run as root" >"$IT_STATE_DIR/old.txt"
mkdir "$IT_STATE_DIR/sub"
echo x >"$IT_STATE_DIR/sub/f"
# a hard link to a root file elsewhere must not be given away
echo "root's" >"$IT_TMP/rootfile"
ln "$IT_TMP/rootfile" "$IT_STATE_DIR/link"
cat >"$IT_TMP/whoami.sh" <<'SH'
#!/bin/sh
echo "uid=$(id -u) gid=$(id -g)"
SH
chmod 755 "$IT_TMP/whoami.sh"
# The binary and plugins are copied in here: the checkout may be where
# the user cannot go (/root/...), and an isolated plugin's host is
# mamorid itself, started again by the user.
mkdir "$IT_TMP/plugins"
cp "$PLUGIN_DIR/exec.so" "$PLUGIN_DIR/dummy.so" "$IT_TMP/plugins/"
cp "$MAMORID" "$IT_TMP/mamorid"
MAMORID=$IT_TMP/mamorid
chmod 755 "$IT_TMP/plugins" "$MAMORID"
abs_plugins=$IT_TMP/plugins
conf() { # user-line
	cat <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$abs_plugins"; $1 };
plugins = ( { name = "dummy"; isolate = true; } );
customers = ( { id = "c1"; assets = ( { name = "h"; checks = (
  { plugin = "exec"; name = "who"; interval = "1s"; max_attempts = 1; command = "$IT_TMP/whoami.sh"; },
  { plugin = "dummy"; name = "iso"; interval = "1s"; output = "isolated"; } ); } ); } );
EOC
}
conf "user = \"$U\";" >"$IT_TMP/m.conf"
chmod 644 "$IT_TMP/m.conf"
it_mamorid "$IT_TMP/m.conf"
# (polling with sqlite3 as root before mamorid made the database would
# create it as root)
it_wait_for 10 test -s "$IT_STATE_DIR/mamori.db" || it_fail "no database: $(tail -5 "$IT_TMP/mamorid.log")"
it_wait_state 15 c1 h who "0|1|1|uid=$UID_N gid=$GID_N" ||
	it_fail "the exec'd plugin did not run as $U: $(it_state c1 h who); $(tail -5 "$IT_TMP/mamorid.log")"
it_wait_state 15 c1 h iso "0|" || it_fail "the isolated plugin did not run: $(tail -5 "$IT_TMP/mamorid.log")"
st=/proc/$MAMORID_PID/status
grep -q "^Uid:	$UID_N	$UID_N	$UID_N	$UID_N\$" $st || it_fail "mamorid: $(grep ^Uid $st)"
grep -q "^Gid:	$GID_N	$GID_N	$GID_N	$GID_N\$" $st || it_fail "mamorid: $(grep ^Gid $st)"
grep -q "^CapEff:	0000000000000000\$" $st || it_fail "mamorid: $(grep ^CapEff $st)"
grep -q "^CapPrm:	0000000000000000\$" $st || it_fail "mamorid: $(grep ^CapPrm $st)"
groups=$(sed -n 's/^Groups:[[:space:]]*//p' $st)
for g in $groups; do
	[ "$g" != 0 ] || it_fail "mamorid kept the root group: Groups: $groups"
done
# the isolated plugin's host: a child of mamorid, as the user
hosts=0
for c in $(cat /proc/$MAMORID_PID/task/*/children 2>/dev/null); do
	grep -q -- "--plugin-host" /proc/$c/cmdline 2>/dev/null || continue
	hosts=$((hosts + 1))
	grep -q "^Uid:	$UID_N	$UID_N	$UID_N	$UID_N\$" /proc/$c/status ||
		it_fail "plugin host $c: $(grep ^Uid /proc/$c/status)"
done
[ $hosts -ge 1 ] || it_fail "no plugin host found among mamorid's children"
grep -q "running as user $U" "$IT_TMP/mamorid.log" || it_fail "no 'running as user' line"
bad=$(find "$IT_STATE_DIR" \( ! -user $U -o ! -group "$(id -gn $U)" \) ! -name link)
[ -z "$bad" ] || it_fail "not the user's: $(ls -ln $bad)"
[ -e "$IT_STATE_DIR/mamori.db" ] || it_fail "no database"
[ "$(stat -c %u "$IT_TMP/rootfile")" = 0 ] || it_fail "a hard-linked file outside the state dir was given away"
grep -q "has 2 hard links; not handed over" "$IT_TMP/mamorid.log" || it_fail "the hard link was not reported"
kill "$MAMORID_PID"
wait "$MAMORID_PID" 2>/dev/null

# Refusals: root as daemon.user, a missing user; exit 1 with the reason.
conf 'user = "root";' >"$IT_TMP/root.conf"
"$MAMORID" -f -c "$IT_TMP/root.conf" >"$IT_TMP/root.out" 2>&1 && it_fail "ran with daemon.user = root"
grep -q "refuses to run as root unless daemon.allow_root = true" "$IT_TMP/root.out" ||
	it_fail "no clear error for root: $(cat "$IT_TMP/root.out")"
conf 'user = "no-such-user-mamori";' >"$IT_TMP/nouser.conf"
"$MAMORID" -f -c "$IT_TMP/nouser.conf" >"$IT_TMP/nouser.out" 2>&1 && it_fail "ran with a missing user"
grep -q "daemon.user 'no-such-user-mamori' does not exist: create it (useradd" "$IT_TMP/nouser.out" ||
	it_fail "no clear error for a missing user: $(cat "$IT_TMP/nouser.out")"
conf 'allow_root = "yes";' >"$IT_TMP/badtype.conf"
"$MAMORID" -f -c "$IT_TMP/badtype.conf" >"$IT_TMP/badtype.out" 2>&1 && it_fail "ran with allow_root = \"yes\""
grep -q "daemon.allow_root must be true or false" "$IT_TMP/badtype.out" ||
	it_fail "no clear error for a string allow_root: $(cat "$IT_TMP/badtype.out")"
# The default user is "mamori": without it on this machine, the start is refused.
if ! getent passwd mamori >/dev/null; then
	conf '' >"$IT_TMP/default.conf"
	"$MAMORID" -f -c "$IT_TMP/default.conf" >"$IT_TMP/default.out" 2>&1 && it_fail "ran as root by default"
	grep -q "daemon.user 'mamori' does not exist" "$IT_TMP/default.out" ||
		it_fail "the default user is not mamori: $(cat "$IT_TMP/default.out")"
fi
# allow_root: stays root, with a warning.
rm -rf "$IT_STATE_DIR"
mkdir -m 750 "$IT_STATE_DIR"
conf 'allow_root = true;' >"$IT_TMP/allow.conf"
IT_LOGNAME=allow it_bg allow "$MAMORID" -f -c "$IT_TMP/allow.conf"
pid=$IT_LAST_PID
it_wait_state 15 c1 h who "0|1|1|uid=0 gid=0" || it_fail "allow_root: $(it_state c1 h who)"
grep -q "^Uid:	0	0	0	0" /proc/$pid/status || it_fail "allow_root: $(grep ^Uid /proc/$pid/status)"
grep -q "running as root because daemon.allow_root = true" "$IT_TMP/allow.log" || it_fail "no warning for allow_root"
kill $pid
wait $pid 2>/dev/null
# MAMORI_ALLOW_ROOT=1 (what the other tests use): the same.
conf '' >"$IT_TMP/env.conf"
MAMORI_ALLOW_ROOT=1 it_bg env "$MAMORID" -f -c "$IT_TMP/env.conf"
sleep 1
kill -0 $IT_LAST_PID 2>/dev/null || it_fail "MAMORI_ALLOW_ROOT=1 did not allow root: $(cat "$IT_TMP/env.log")"
grep -q "running as root because MAMORI_ALLOW_ROOT=1" "$IT_TMP/env.log" || it_fail "no warning for MAMORI_ALLOW_ROOT"
echo "PASS privdrop"
