#!/bin/sh
# Every example configuration we ship parses and validates:
# `mamorid --check-config` on etc/mamori.conf and on each file of
# etc/conf.d/ (those hold a `customers` list: each is appended to a small
# header with daemon, calendars, centers and routes).  Paths are rewritten
# so the check can pass on any machine: state_dir to a temp dir,
# plugin_dir to the build tree, data_dir to share/mamori, and every
# /etc/mamori/... file (secrets, CA files) to a temp file made here (a
# real PEM certificate for *.pem / *.crt, a one-line secret otherwise).
# A copy with an unknown key must be refused, so the test can fail.
# Exit 0 pass, 77 skip, 1 fail.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v openssl >/dev/null || it_skip "openssl missing"
it_init
abs_plugins=$(cd "$PLUGIN_DIR" && pwd)
abs_data=$(pwd)/share/mamori
fake=$IT_TMP/etc-mamori
mkdir -p "$IT_TMP/state" "$fake"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=example \
	-keyout "$IT_TMP/example.key" -out "$IT_TMP/example.pem" 2>/dev/null || it_fail "openssl"

# make_files FILE: create a stand-in for every "/etc/mamori/..." it names.
make_files() {
	grep -o '"/etc/mamori/[^"]*"' "$1" | tr -d '"' | sort -u | while read -r p; do
		f=$fake/${p#/etc/mamori/}
		mkdir -p "$(dirname "$f")"
		case "$f" in
		*.pem | *.crt) cp "$IT_TMP/example.pem" "$f" ;;
		*) printf 'example-secret\n' >"$f" ;;
		esac
		chmod 600 "$f"
	done
}

# rewrite IN OUT: the path rewrites above.
rewrite() {
	sed -e "s#\"/etc/mamori/#\"$fake/#g" \
		-e "s#state_dir *= *\"[^\"]*\"#state_dir = \"$IT_TMP/state\"#" \
		-e "s#plugin_dir *= *\"[^\"]*\"#plugin_dir = \"$abs_plugins\"#" \
		-e "s#data_dir *= *\"[^\"]*\"#data_dir = \"$abs_data\"#" "$1" >"$2"
	grep -q 'data_dir *=' "$2" ||
		sed -i "s#plugin_dir = \"$abs_plugins\";#plugin_dir = \"$abs_plugins\"; data_dir = \"$abs_data\";#" "$2"
}

header() {
	cat <<EOF
daemon = { state_dir = "/var/lib/mamori"; plugin_dir = "/usr/lib/mamori/plugins"; };
mqtt = { host = "127.0.0.1"; port = 1883; client_id = "mamorid"; };
calendars = ( { name = "jp-business"; timezone = "Asia/Tokyo"; hours = [ "mon-fri 09:00-17:30" ]; holidays = "jp"; } );
centers = ( { name = "cc-east"; calendar = "jp-business";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
EOF
}

# check NAME FILE: must validate.
n=0
check() {
	make_files "$2"
	rewrite "$2" "$IT_TMP/$1.conf"
	if ! "$MAMORID" -c "$IT_TMP/$1.conf" --check-config >"$IT_TMP/$1.log" 2>&1; then
		sed 's/^/    /' "$IT_TMP/$1.log" >&2
		it_fail "$1 does not validate"
	fi
	n=$((n + 1))
}

for f in etc/*.conf etc/*.conf.example; do
	[ -f "$f" ] || continue
	check "$(basename "$f")" "$f"
done
for f in etc/conf.d/*; do
	[ -f "$f" ] || continue
	name=conf.d-$(basename "$f")
	{ header; cat "$f"; } >"$IT_TMP/$name.in"
	check "$name" "$IT_TMP/$name.in"
done
[ "$n" -gt 0 ] || it_fail "no example found under etc/"

# The harness sees errors: an unknown key in the first check block.
sed '0,/checks = ( {/s//checks = ( { no_such_key = 1;/' "$IT_TMP/mamori.conf.conf" >"$IT_TMP/bad.conf"
cmp -s "$IT_TMP/mamori.conf.conf" "$IT_TMP/bad.conf" && it_fail "could not make the bad copy"
if "$MAMORID" -c "$IT_TMP/bad.conf" --check-config >"$IT_TMP/bad.log" 2>&1; then
	it_fail "a config with an unknown key was accepted"
fi
grep -q no_such_key "$IT_TMP/bad.log" || it_fail "the error does not name the key: $(cat "$IT_TMP/bad.log")"
echo "etc_examples: $n example files validate"
exit 0
