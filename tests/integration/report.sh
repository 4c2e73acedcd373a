#!/bin/sh
# The monthly report end to end: a store filled with last month's data of
# three customers (build/bench/report_bench fill), a real mamorid on it,
# and `mamorictl report` over the local socket (admin) and over TCP with a
# viewer's token: the PDF written with -o (A4, its text extracted with
# pdftotext names the customer and says "Page 1 of"), the HTML on stdout
# (self-contained: no script, no external reference), usage errors (exit
# 2), a month that has not begun (exit 1, the server's 400), an unknown
# customer (exit 4), and a viewer who gets its own customer's report but
# not another's (404: exit 4, as for one that does not exist); sending a
# month again: a viewer refused (403 for its own customer, 404 for
# another), and 503 without an e-mail channel.
. tests/integration/lib.sh

[ -x "$MAMORID" ] && [ -x "$MAMORICTL" ] || it_skip "mamorid/mamorictl not built"
[ -x "$B/bench/report_bench" ] || it_skip "$B/bench/report_bench not built (make $B/bench/report_bench)"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "$PLUGIN_DIR/dummy.so not built"
command -v python3 >/dev/null || it_skip "python3 missing"

it_init
unset LC_ALL LC_MESSAGES MAMORI_URL MAMORI_SOCKET MAMORI_TOKEN_FILE
export LANG=C.UTF-8
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 750 "$IT_STATE_DIR"
"$B/bench/report_bench" fill "$IT_STATE_DIR" 3 5 >"$IT_TMP/fill.log" 2>&1 ||
	it_fail "filling the store: $(cat "$IT_TMP/fill.log")"
MONTH=$(python3 -c 'import time; t=time.gmtime(); y,m=t.tm_year,t.tm_mon-1
if m == 0: y, m = y-1, 12
print("%04d-%02d" % (y, m))')
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
O=$IT_TMP/out
E=$IT_TMP/err

cat >"$IT_TMP/mamori.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "share/mamori"; log_level = "info"; flush_interval = "50ms"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; };
auth = { kdf_memory = 8; kdf_time_cost = 1; };
reports = { schedule = false; };
customers = (
  { id = "c00000"; name = "Acme Trading"; report = { lang = "en"; email = [ "acme@example.test" ]; };
    assets = ( { name = "pc-01"; checks = ( { plugin = "dummy"; name = "defender"; service = "defender"; interval = "1h"; } ); },
               { name = "utm-1"; checks = ( { plugin = "dummy"; name = "utm"; service = "utm"; interval = "1h"; } ); } ); },
  { id = "c00001"; name = "Beta Kogyo";
    assets = ( { name = "pc-01"; checks = ( { plugin = "dummy"; name = "defender"; service = "defender"; interval = "1h"; } ); } ); },
  { id = "c00009"; name = "Gamma"; } );
CONF
it_mamorid "$IT_TMP/mamori.conf"
it_wait_for 10 test -S "$SOCK" || it_fail "mamorid did not listen: $(cat "$IT_TMP/mamorid.log")"

rc() { # WANT ARGS...
	_want=$1
	shift
	"$MAMORICTL" "$@" >"$O" 2>"$E"
	_rc=$?
	[ "$_rc" -eq "$_want" ] || it_fail "mamorictl $*: exit $_rc, expected $_want: $(cat "$E")"
}

# ---- usage ----
rc 2 --socket "$SOCK" report --month "$MONTH"
grep -q "report needs --customer" "$E" || it_fail "$(cat "$E")"
rc 2 --socket "$SOCK" report --customer c00000
rc 2 --socket "$SOCK" report --customer c00000 --month 2026-13
grep -q "month must be YYYY-MM" "$E" || it_fail "$(cat "$E")"
rc 2 --socket "$SOCK" report --customer c00000 --month "$MONTH" --lang fr
rc 2 --socket "$SOCK" report --customer c00000 --month "$MONTH" --format doc

# ---- as the local administrator ----
rc 0 --socket "$SOCK" report --customer c00000 --month "$MONTH" --format pdf -o "$IT_TMP/r.pdf"
head -c 5 "$IT_TMP/r.pdf" | grep -q '%PDF-' || it_fail "not a PDF"
[ ! -e "$IT_TMP/r.pdf.tmp" ] || it_fail "the temporary file was left"
if command -v pdftotext >/dev/null; then
	pdftotext "$IT_TMP/r.pdf" "$IT_TMP/r.txt" || it_fail "pdftotext"
	grep -q "Acme Trading" "$IT_TMP/r.txt" || it_fail "the PDF does not name the customer"
	grep -q "Page 1 of" "$IT_TMP/r.txt" || it_fail "no page numbers"
	grep -q "Availability" "$IT_TMP/r.txt" || it_fail "no availability"
	pdfinfo "$IT_TMP/r.pdf" | grep -q "595.28 x 841.89" || it_fail "not A4"
else
	echo "SKIP $IT_NAME (part): pdftotext missing (poppler-utils)" >&2
fi
rc 0 --socket "$SOCK" report --customer c00001 --month "$MONTH" --lang ja
grep -q '<html lang="ja">' "$O" || it_fail "not the Japanese HTML"
grep -q "Beta Kogyo" "$O" || it_fail "the HTML does not name the customer"
! grep -q "<script\|https\?://\|src=" "$O" || it_fail "the HTML refers to something outside it"
# a customer without data: said in plain words
rc 0 --socket "$SOCK" report --customer c00009 --month "$MONTH" --lang en
grep -q "We have no monitoring data for Gamma" "$O" || it_fail "no-data report: $(head -c 600 "$O")"
# refusals
rc 1 --socket "$SOCK" report --customer c00000 --month 2999-01
grep -q "has not begun" "$E" || it_fail "$(cat "$E")"
rc 4 --socket "$SOCK" report --customer nobody --month "$MONTH"

# ---- a viewer: its own customer only ----
printf 'pw-of-viewer-1\n' | "$MAMORICTL" --socket "$SOCK" user add vic --role viewer --customer c00001 >"$O" 2>"$E" ||
	it_fail "user add: $(cat "$E")"
rc 0 --socket "$SOCK" token create rep --user vic --role viewer --customer c00001 --out "$IT_TMP/vic.token"
T="--url http://127.0.0.1:$hport --token-file $IT_TMP/vic.token"
# shellcheck disable=SC2086
rc 0 $T report --customer c00001 --month "$MONTH" --format pdf -o "$IT_TMP/v.pdf"
head -c 5 "$IT_TMP/v.pdf" | grep -q '%PDF-' || it_fail "the viewer's PDF"
# shellcheck disable=SC2086
rc 4 $T report --customer c00000 --month "$MONTH"
# sending a report again is for operators: a viewer gets 403 for its own
# customer (exit 1) and 404 for another (exit 4)
# shellcheck disable=SC2086
rc 1 $T report --customer c00001 --month "$MONTH" --send
grep -q "403\|forbidden\|not allowed\|may not" "$E" || it_fail "a viewer's send: $(cat "$E")"
# shellcheck disable=SC2086
rc 4 $T report --customer c00000 --month "$MONTH" --send
# the administrator, without an e-mail channel here: 503 (exit 3)
rc 3 --socket "$SOCK" report --customer c00000 --month "$MONTH" --send
# the same over plain HTTP: 404 with the API's error, like a customer that does not exist
code=$(python3 - "$hport" "$(cat "$IT_TMP/vic.token")" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/api/v1/customers/c00000/report?month=2026-01", headers={"Authorization": "Bearer " + sys.argv[2]})
r = c.getresponse()
print(r.status, r.read().decode()[:200])
PY
)
case "$code" in
"404 "*not_found*) ;;
*) it_fail "a viewer asking for another customer's report: $code" ;;
esac
grep -q "ERROR\|Sanitizer" "$IT_TMP/mamorid.log" && it_fail "mamorid: $(grep 'ERROR\|Sanitizer' "$IT_TMP/mamorid.log")"
echo "PASS $IT_NAME"
