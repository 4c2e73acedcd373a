#!/bin/sh
# tests/lint/layers.sh: the module rules of doc/architecture.md, checked
# on the source (make lint, part of make check and so of CI).
#
#  1. Only src/store includes <sqlite3.h>, only src/mqtt <mosquitto.h>,
#     only src/http <microhttpd.h>, only src/report cairo and pango.
#  2. A module includes only the modules its row below allows (the
#     one-way graph); a new dependency is a change to this table and to
#     doc/architecture.md, made on purpose.
#  3. A module's internal header (*_int.h) is included only from its
#     own directory.
# Prints every violation with file:line and exits 1 if there is any.
set -u
cd "$(dirname "$0")/../.." || exit 1

# module: the modules it may include (besides itself)
allowed() {
	case "$1" in
	util | wheel | perfdata | cal) echo "" ;;
	ctl) echo "util" ;;
	state) echo "cal" ;;
	sla) echo "cal" ;;
	route) echo "sla cal" ;;
	alert) echo "route sla state cal" ;;
	proc) echo "util" ;;
	store) echo "util" ;;
	events) echo "util" ;;
	journal) echo "store util" ;;
	series) echo "journal perfdata store util" ;;
	statelog) echo "events journal state store util" ;;
	# the monthly report: snapshot in, bytes out, its own read-only store
	report) echo "cal store util" ;;
	mqtt) echo "config util" ;;
	# config validates plugin keys (loader tables); plugins read their
	# config through config/pconf: one pair, documented
	config) echo "cal perfdata plugin util" ;;
	plugin) echo "config perfdata proc util" ;;
	proto) echo "alert cal perfdata state util" ;;
	registry) echo "cal config events journal plugin state store util wheel" ;;
	engine) echo "cal events journal perfdata plugin proto registry state store util wheel" ;;
	bus) echo "events mqtt plugin proto util" ;;
	alerting) echo "alert config events journal mqtt proto registry route sla state store util" ;;
	app) echo "alert alerting engine events journal proto registry report series state store util" ;;
	auth) echo "journal store util" ;;
	# on-call notifications: a hub subscriber and an ingress of replies
	# (acks through app); notifier instances through plugin
	notify) echo "alert app cal config events journal plugin proto store util" ;;
	# adapters: the service layer, the codecs, their transport
	ingress) echo "app proto alert mqtt util" ;;
	http) echo "app auth proto alert events util" ;;
	server) echo "alert alerting app auth bus cal config engine events ingress http journal notify plugin proc registry report series statelog store util" ;;
	*) echo "?" ;;
	esac
}

bad=0
fail() {
	echo "layers: $*"
	bad=1
}

for f in $(find src -name '*.[ch]' | sort); do
	mod=$(echo "$f" | cut -d/ -f2)
	case "$mod" in *.c | *.h) mod=main ;; esac
	# 1. libraries with one owner
	grep -n '#include <sqlite3.h>' "$f" | while IFS=: read -r ln _; do
		[ "$mod" = store ] || echo "layers: $f:$ln: only src/store includes <sqlite3.h>"
	done
	grep -n '#include <mosquitto.h>' "$f" | while IFS=: read -r ln _; do
		[ "$mod" = mqtt ] || echo "layers: $f:$ln: only src/mqtt includes <mosquitto.h>"
	done
	grep -n '#include <microhttpd.h>' "$f" | while IFS=: read -r ln _; do
		[ "$mod" = http ] || echo "layers: $f:$ln: only src/http includes <microhttpd.h>"
	done
	grep -n '#include <\(cairo\|pango\)' "$f" | while IFS=: read -r ln _; do
		[ "$mod" = report ] || echo "layers: $f:$ln: only src/report includes cairo and pango"
	done
	[ "$mod" = main ] && continue
	ok=$(allowed "$mod")
	if [ "$ok" = "?" ]; then
		fail "$f: module src/$mod has no row in tests/lint/layers.sh (and doc/architecture.md)"
		continue
	fi
	grep -n '^#include "[a-z_]*/' "$f" | while IFS=: read -r ln inc; do
		dep=$(echo "$inc" | sed 's/#include "\([a-z_]*\)\/.*/\1/')
		hdr=$(echo "$inc" | sed 's/#include "\(.*\)"/\1/')
		[ "$dep" = "$mod" ] && continue
		case "$hdr" in
		*_int.h) echo "layers: $f:$ln: $hdr is internal to src/$dep" ;;
		esac
		case " $ok " in
		*" $dep "*) ;;
		*) echo "layers: $f:$ln: src/$mod may not include $hdr (allowed: ${ok:-nothing})" ;;
		esac
	done
done >"${TMPDIR:-/tmp}/layers.$$"
if [ -s "${TMPDIR:-/tmp}/layers.$$" ]; then
	cat "${TMPDIR:-/tmp}/layers.$$"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/layers.$$"
[ $bad = 0 ] && echo "layers: ok ($(find src -name '*.[ch]' | wc -l) files)"
exit $bad
