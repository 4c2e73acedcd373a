#!/bin/sh
# /metrics: the real mamorid with a metrics_listen address, checked with
# Debian's promtool (the exposition format) and scraped by a real
# Prometheus server on loopback, whose query API must give our series
# back.  /metrics is not served on the API's address (no login yet).
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v curl >/dev/null || it_skip "curl missing"
PROM=$(command -v prometheus || echo /usr/bin/prometheus)
PROMTOOL=$(command -v promtool || echo /usr/bin/promtool)
[ -x "$PROM" ] && [ -x "$PROMTOOL" ] || it_skip "prometheus not installed"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
hport=$(it_free_port)
mport=$(it_free_port)
cat >"$IT_TMP/m.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "m1"; };
http = { listen = "127.0.0.1:$hport"; metrics_listen = "127.0.0.1:$mport"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = ( { id = "c1"; assets = (
  { name = "a"; checks = ( { plugin = "dummy"; interval = "1s"; state = 2; max_attempts = 1; } ); },
  { name = "b"; checks = ( { plugin = "dummy"; interval = "1s"; state = 0; } ); } ); } );
CONF
it_mamorid "$IT_TMP/m.conf"
M=http://127.0.0.1:$mport/metrics
it_wait_for 10 sh -c "curl -s '$M' | grep -q '^mamori_alerts_open{center=\"cc-east\",tier=\"contact-center\"} 1'" ||
	it_fail "no open alert in /metrics: $(curl -s "$M" | grep alerts_open)"
curl -s "$M" >"$IT_TMP/metrics.txt"
"$PROMTOOL" check metrics <"$IT_TMP/metrics.txt" >"$IT_TMP/promtool.log" 2>&1 ||
	it_fail "promtool: $(cat "$IT_TMP/promtool.log")"
curl -s -D - -o /dev/null "$M" | grep -qi '^content-type: text/plain; version=0.0.4' ||
	it_fail "content type"
grep -q '^mamori_checks_by_state{state="critical"} 1$' "$IT_TMP/metrics.txt" || it_fail "critical count"
grep -q '^mamori_checks_by_state{state="ok"} 1$' "$IT_TMP/metrics.txt" || it_fail "ok count"
grep -q '^mamori_check_results_total{plugin="dummy",state="critical"} [1-9]' "$IT_TMP/metrics.txt" || it_fail "results by plugin and state"
grep -q '^mamori_check_duration_seconds_count{plugin="dummy"} [1-9]' "$IT_TMP/metrics.txt" || it_fail "check durations by plugin"
grep -q '^mamori_plugin_host_restarts_total 0$' "$IT_TMP/metrics.txt" || it_fail "host restarts"
grep -q '^mamori_auth_users 0$' "$IT_TMP/metrics.txt" || it_fail "auth metrics"
grep -q '^mamori_alert_events_by_type_total{event="opened"} 1$' "$IT_TMP/metrics.txt" ||
	it_fail "opened count"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/metrics")" = 404 ] ||
	it_fail "/metrics served on the API address"

# a real Prometheus scrapes it and answers from its own storage
pport=$(it_free_port)
cat >"$IT_TMP/prom.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: mamori
    static_configs: [ { targets: [ "127.0.0.1:$mport" ] } ]
YML
it_bg prometheus "$PROM" --config.file="$IT_TMP/prom.yml" --storage.tsdb.path="$IT_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$pport"
q() {
	curl -s "http://127.0.0.1:$pport/api/v1/query?query=$1"
}
it_wait_for 40 sh -c "curl -s 'http://127.0.0.1:$pport/api/v1/query?query=mamori_checks' | grep -q '\"value\":\[[0-9.]*,\"2\"\]'" ||
	it_fail "Prometheus did not scrape mamori_checks: $(q mamori_checks) $(tail -3 "$IT_TMP/prometheus.log")"
q 'up%7Bjob%3D%22mamori%22%7D' | grep -q '"value":\[[0-9.]*,"1"\]' || it_fail "target not up: $(q up)"
q 'mamori_alerts_open' | grep -q '"center":"cc-east"' || it_fail "alerts_open series: $(q mamori_alerts_open)"
echo "PASS http_metrics"
