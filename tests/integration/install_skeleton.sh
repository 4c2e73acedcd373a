#!/bin/sh
# it: serial
# make install into a DESTDIR, build contrib/plugin-skeleton out of tree
# against the installed header and mamori-plugin.pc, and run it in mamorid.
. tests/integration/lib.sh
it_init
dest="$IT_TMP/root"
(umask 002 && make -s install DESTDIR="$dest" prefix=/usr/local) >"$IT_TMP/install.log" 2>&1 || it_fail "make install failed: $(tail -5 "$IT_TMP/install.log")"
for f in usr/local/sbin/mamorid usr/local/bin/mamorictl usr/local/include/mamori/plugin.h \
	usr/local/lib/pkgconfig/mamori-plugin.pc usr/local/lib/mamori/plugins/dummy.so \
	usr/local/lib/mamori/plugins/exec.so usr/local/share/mamori/holidays/jp.csv \
	usr/local/share/mamori/www/index.html usr/local/share/mamori/www/vendor/chart.min.js; do
	[ -e "$dest/$f" ] || it_fail "make install did not install $f"
done
# The state dir holds every customer's alerts: not for others (even when
# make runs with a permissive umask); the example config stays readable.
statedir=$(sed -n 's/^statedir = //p' config.mk)
[ "$(stat -c %a "$dest$statedir")" = 750 ] || it_fail "state dir $statedir is $(stat -c %a "$dest$statedir"), not 750"
conf=$(sed -n 's/^pkgconfdir = //p' config.mk)/mamori.conf.example
[ "$(stat -c %a "$dest$conf")" = 644 ] || it_fail "$conf is $(stat -c %a "$dest$conf"), not 644"
cp -R contrib/plugin-skeleton "$IT_TMP/skel"
PKG_CONFIG_PATH="$dest/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
	make -s -C "$IT_TMP/skel" CFLAGS="-O2 -Wall -Wextra -Werror" >"$IT_TMP/skel.log" 2>&1 ||
	it_fail "out-of-tree plugin build failed: $(cat "$IT_TMP/skel.log")"
# Only the ABI symbol is exported.
syms=$(nm -D --defined-only "$IT_TMP/skel/hello.so" | awk '$2 ~ /[TDRB]/ {print $3}' | grep -v '^_' | tr '\n' ' ')
[ "$syms" = "mamori_plugin_v1 " ] || it_fail "hello.so exports more than mamori_plugin_v1: $syms"
mkdir -p "$IT_TMP/plugins"
cp "$IT_TMP/skel/hello.so" "$dest/usr/local/lib/mamori/plugins/dummy.so" "$IT_TMP/plugins/"
IT_STATE_DIR="$IT_TMP/state"
cat >"$IT_TMP/m.conf" <<EOC
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$IT_TMP/plugins"; data_dir = "share/mamori"; };
http = { listen = "unix:$IT_TMP/api.sock"; };
customers = ( { id = "c1"; assets = ( { name = "box"; checks = (
  { plugin = "hello"; greeting = "konnichiwa"; warn = "5"; crit = "20"; interval = "1s"; max_attempts = 1; } ); } ); } );
EOC
"$dest/usr/local/sbin/mamorid" -c "$IT_TMP/m.conf" --check-config >/dev/null || it_fail "installed mamorid rejects the config"
MAMORID="$dest/usr/local/sbin/mamorid" it_mamorid "$IT_TMP/m.conf"
it_wait_state 10 c1 box hello "1|1|1|konnichiwa from box" || it_fail "hello plugin result not seen"
MAMORI_SOCKET=$IT_TMP/api.sock "$dest/usr/local/bin/mamorictl" checks >"$IT_TMP/checks.out" 2>&1
grep -Eq "^WARNING +HARD +c1/box/hello .* konnichiwa from box\$" "$IT_TMP/checks.out" ||
	it_fail "the installed mamorictl does not show the check: $(cat "$IT_TMP/checks.out")"
exit 0
