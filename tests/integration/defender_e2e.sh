#!/bin/sh
# defender_e2e: every test vector end to end through a REAL mosquitto and
# mamorid: publish a report -> retained mamori/v1/state/c0001/<host>/defender
# with the expected state; every bad payload changes nothing while a healthy
# host keeps being judged; "offline" -> "PC offline"; auto-registration.
# Needs the core's wiring (mqtt module + host->mqtt_*, check_find,
# asset_register, state publishing); skips while build/mamorid is missing.
. tests/integration/lib.sh
it_init
[ -x "$MAMORID" ] || it_skip "no $MAMORID yet"
[ -f "$PLUGIN_DIR/defender.so" ] || it_skip "defender plugin not built"
command -v mosquitto_pub >/dev/null 2>&1 || it_skip "mosquitto-clients not installed"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
V=tests/fixtures/defender

port=$(it_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n' "$port" >"$IT_TMP/mosq.conf"
it_bg mosquitto "$MOSQUITTO" -c "$IT_TMP/mosq.conf"
it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t probe -m x || it_fail "broker did not start"

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid-it"; topic_prefix = "mamori"; };
http = { listen = "127.0.0.1:$(it_free_port)"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { center = "cc-east"; } );
customers = (
  { id = "c0001"; name = "IT one"; agents = { defender = { auto_register = true; stale_after = "15m"; }; }; },
  { id = "c0002"; name = "IT two"; agents = { defender = { auto_register = false; stale_after = "15m"; }; }; },
  { id = "c0003"; name = "IT three"; agents = { defender = { auto_register = true; stale_after = "3s"; }; }; } );
EOF
"$MAMORID" -c "$IT_TMP/mamori.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_skip "mamorid does not accept this config yet: $(head -3 "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/mamori.conf"
it_wait_online

pubfile() { # customer host file
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "mamori/v1/agents/$1/$2/defender" -f "$3" ||
		it_fail "publish $3"
}
# state_of customer host -> the retained state message's "state" field, or ""
state_of() {
	mosquitto_sub -h 127.0.0.1 -p "$port" -t "mamori/v1/state/$1/$2/defender" -C 1 -W 2 2>/dev/null |
		python3 -c 'import json,sys; d=sys.stdin.read(); print(json.loads(d)["state"] if d.strip() else "")'
}
wait_state() { # customer host expected(0-3)
	_end=$(($(date +%s) + 10))
	while [ "$(date +%s)" -lt "$_end" ]; do
		_s=$(state_of "$1" "$2")
		[ "$_s" = "$3" ] && return 0
	done
	echo "state of $1/$2 is '$_s', expected $3" >&2
	return 1
}

# every good vector on its own PC (auto-registered)
for pair in healthy:0 realtime-off:2 service-stopped:2 passive-third-party-av:1 \
	stale-signatures:2 tamper-off:1 never-scanned:1 reboot-pending:1 powershell51-dates:0; do
	name=${pair%:*}
	want=${pair#*:}
	pubfile c0001 "PC-$name" "$V/$name.json"
	wait_state c0001 "PC-$name" "$want" || it_fail "$name.json"
done

# bad payloads on the healthy PC: nothing changes, the next good report counts
for f in "$V"/bad/*.json; do
	pubfile c0001 PC-healthy "$f"
done
pubfile c0001 PC-healthy "$V/realtime-off.json"
wait_state c0001 PC-healthy 2 || it_fail "healthy host no longer judged after bad payloads"
for f in "$V"/bad/*.json; do
	pubfile c0001 PC-badonly "$f"
done
sleep 1
[ -z "$(state_of c0001 PC-badonly)" ] || it_fail "bad payloads created state for PC-badonly"

# auto_register = false and unknown customers: rejected, no state
pubfile c0002 PC-new "$V/healthy.json"
pubfile c9999 PC-x "$V/healthy.json"
sleep 1
[ -z "$(state_of c0002 PC-new)" ] || it_fail "registered a PC although auto_register = false"
[ -z "$(state_of c9999 PC-x)" ] || it_fail "accepted an unknown customer"

# last will
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -r -t mamori/v1/agents/c0001/PC-healthy/status -m offline
_end=$(($(date +%s) + 10))
until mosquitto_sub -h 127.0.0.1 -p "$port" -t mamori/v1/state/c0001/PC-healthy/defender -C 1 -W 2 | grep -q 'PC offline'; do
	[ "$(date +%s)" -lt "$_end" ] || it_fail "no 'PC offline' state"
done
# freshness: a PC that reported once and then went quiet turns CRITICAL
# "agent silent since ..." after stale_after (3 s for c0003); after its
# "offline" last will it must not (silence is expected then)
pubfile c0003 PC-quiet "$V/healthy.json"
pubfile c0003 PC-off "$V/healthy.json"
wait_state c0003 PC-quiet 0 || it_fail "c0003 report not judged"
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0003/PC-off/status -m offline
_end=$(($(date +%s) + 12))
until mosquitto_sub -h 127.0.0.1 -p "$port" -t mamori/v1/state/c0003/PC-quiet/defender -C 1 -W 2 | grep -q '"state":2.*agent silent since'; do
	[ "$(date +%s)" -lt "$_end" ] || it_fail "a silent agent did not go CRITICAL 'agent silent since'"
done
mosquitto_sub -h 127.0.0.1 -p "$port" -t mamori/v1/state/c0003/PC-off/defender -C 1 -W 2 | grep -q 'PC offline' ||
	it_fail "PC-off did not stay 'PC offline' (freshness must be suspended after offline)"
kill -0 "$MAMORID_PID" || it_fail "mamorid died"
echo "PASS defender_e2e"
