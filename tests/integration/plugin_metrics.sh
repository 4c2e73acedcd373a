#!/bin/sh
# plugin_metrics: a plugin's own counters on mamorid's /metrics (plugin ABI
# 1.2, mamori_plugin.metrics).  The real mamorid and a real mosquitto: bad
# agent payloads sent with mosquitto_pub are refused by the defender plugin
# (in-process: a passive plugin cannot be isolated) and counted by reason in
# mamori_defender_reports_rejected_total; the dummy plugin runs isolated
# (`isolate = true`, its own host process) and its counters come over the
# wire with the watchdog's pongs.  A test plugin named "check"
# (tests/plugins/metrics_clash.c) reports what the core must print with
# care.  promtool checks the exposition when installed.
. tests/integration/lib.sh
it_init
[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
[ -f "$PLUGIN_DIR/defender.so" ] && [ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "plugins not built"
command -v curl >/dev/null || it_skip "curl missing"
it_mosquitto
V=tests/fixtures/defender

[ -f "$B/tests/plugins/metrics_clash.so" ] || it_skip "test plugins not built"
# the shipped plugins and the test plugin "check" (metrics_clash.so),
# whose families the core must print with care
mkdir -p "$IT_TMP/plugins"
for _p in "$PLUGIN_DIR"/*.so "$B/tests/plugins/metrics_clash.so"; do
	ln -s "$(cd "$(dirname "$_p")" && pwd)/$(basename "$_p")" "$IT_TMP/plugins/"
done
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
mport=$(it_free_port)
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$IT_TMP/plugins"; log_level = "info"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-it"; topic_prefix = "mamori"; };
http = { metrics_listen = "127.0.0.1:$mport"; };
plugins = ( { name = "dummy"; isolate = true; }, { name = "check"; isolate = false; } );
customers = (
  { id = "c0001"; name = "one"; agents = { defender = { auto_register = true; stale_after = "15m"; }; };
    assets = ( { name = "srv"; checks = (
      { plugin = "dummy"; name = "d1"; state = 2; interval = "1s"; },
      { plugin = "dummy"; name = "d2"; state = 2; interval = "1s"; },
      { plugin = "dummy"; name = "d3"; interval = "1s"; } ); } ); },
  { id = "c0002"; name = "two"; agents = { defender = { auto_register = false; stale_after = "15m"; }; }; } );
EOF
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online
M=http://127.0.0.1:$mport/metrics

pub() { # customer host payload-file [mosquitto_pub options]
	_c=$1 _h=$2 _f=$3
	shift 3
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 "$@" -t "mamori/v1/agents/$_c/$_h/defender" -f "$_f" ||
		it_fail "publish $_f"
}
printf '{"schema":"mamori.defender/1",' >"$IT_TMP/truncated.json"
printf '[1,2,3]' >"$IT_TMP/array.json"
printf '{"schema":"someone.else/9"}' >"$IT_TMP/schema.json"

pub c0001 PC-1 "$IT_TMP/truncated.json"           # json
pub c0001 PC-1 "$V/bad/invalid-utf8.json"         # json
pub c0001 PC-1 "$IT_TMP/array.json"               # not_object
pub c0001 PC-1 "$IT_TMP/schema.json"              # schema
pub c0001 PC-1 "$IT_TMP/schema.json"              # schema
pub c0001 PC-1 "$IT_TMP/schema.json"              # schema
pub c9999 PC-1 "$V/healthy.json"                  # unknown_customer
pub c0002 PC-1 "$V/healthy.json"                  # registration_denied
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-3/status -m maybe # bad_status
pub c0001 PC-ok "$V/healthy.json"                 # accepted (and registered)

# the counts, once the accepted report is in (messages arrive in order)
want() { # line
	grep -qxF "$1" "$IT_TMP/m.txt" || it_fail "no line '$1' in /metrics: $(grep defender "$IT_TMP/m.txt")"
}
it_wait_for 15 sh -c "curl -s '$M' | grep -qx 'mamori_defender_reports_accepted_total{instance=\"defender\"} 1'" ||
	it_fail "no accepted report in /metrics: $(curl -s "$M" | grep defender)"
curl -s "$M" >"$IT_TMP/m.txt"
R=mamori_defender_reports_rejected_total
want "$R{instance=\"defender\",reason=\"json\"} 2"
want "$R{instance=\"defender\",reason=\"not_object\"} 1"
want "$R{instance=\"defender\",reason=\"schema\"} 3"
want "$R{instance=\"defender\",reason=\"type\"} 0"
want "$R{instance=\"defender\",reason=\"unknown_customer\"} 1"
want "$R{instance=\"defender\",reason=\"registration_denied\"} 1"
want "$R{instance=\"defender\",reason=\"bad_status\"} 1"
want "mamori_defender_reports_total{instance=\"defender\"} 9"
want "mamori_defender_assets_registered_total{instance=\"defender\"} 1"
want "# TYPE $R counter"
[ "$(grep -c "^# TYPE $R " "$IT_TMP/m.txt")" = 1 ] || it_fail "the family's TYPE is not printed once"
# the verdicts still come from the core's own counters
grep -q '^mamori_check_results_total{plugin="defender",state="ok"} 1$' "$IT_TMP/m.txt" ||
	it_fail "results by plugin: $(grep 'results_total{plugin="defender"' "$IT_TMP/m.txt")"

# the isolated dummy: its host sends the counters with each pong (1 s);
# two CRITICAL checks and one OK, every second
D=mamori_dummy_runs_total
val() { # series -> its value in /metrics now
	curl -s "$M" | awk -v s="$1" '$1 == s { print $2 }'
}
dummy_ran() {
	_c=$(val "$D{instance=\"dummy\",state=\"critical\"}")
	_o=$(val "$D{instance=\"dummy\",state=\"ok\"}")
	[ "${_c:-0}" -ge 4 ] && [ "${_o:-0}" -ge 2 ] && [ "$_c" -le $((2 * _o + 4)) ]
}
it_wait_for 15 dummy_ran || it_fail "isolated dummy's counters missing: $(curl -s "$M" | grep dummy)"
curl -s "$M" >"$IT_TMP/m.txt"
want "$D{instance=\"dummy\",state=\"warning\"} 0"
want "mamori_dummy_runs_delayed{instance=\"dummy\"} 0"
pgrep -P "$MAMORID_PID" -f -- "--plugin-host" >/dev/null || it_fail "the dummy plugin does not run in a host process"

# a plugin family never takes the place of the core's own; label values
# are escaped; a gauge named like a counter is refused
[ "$(grep -c '^# TYPE mamori_check_results_total ' "$IT_TMP/m.txt")" = 1 ] ||
	it_fail "mamori_check_results_total printed twice"
if grep -q '^mamori_check_results_total{instance=' "$IT_TMP/m.txt"; then
	it_fail "a plugin's series took the core's family"
fi
want 'mamori_check_odd_total{instance="check",text="a \"quoted\" \\ back\\slash 守り"} 1'
want '# HELP mamori_check_odd_total A \\ test.'
want '# TYPE mamori_check_mixed_total counter'
want 'mamori_check_mixed_total{instance="check",state="ok"} 2'
if grep -q '^mamori_check_mixed_total{instance="check"}' "$IT_TMP/m.txt"; then
	it_fail "a gauge named like a counter was shown"
fi

PROMTOOL=$(command -v promtool || echo /usr/bin/promtool)
if [ -x "$PROMTOOL" ]; then
	"$PROMTOOL" check metrics <"$IT_TMP/m.txt" >"$IT_TMP/promtool.log" 2>&1 ||
		it_fail "promtool: $(cat "$IT_TMP/promtool.log")"
fi
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS plugin_metrics"
