#!/bin/sh
# mqtt_takeover: with contrib/mosquitto's config (use_username_as_clientid),
# a login cannot take over another login's session by connecting with its
# client id.  Victims, each connected with client id = login: mamorid
# itself (real, subscribed to reports and commands), an agent (holding its
# "offline" last will, as the Windows agent does) and a contact center
# (subscribed to its alerts).  An agent login and a center login connect
# with each victim's client id (clean session, as an attacker would), and
# so does the victim's own login with a wrong password.  Then: the broker
# closed no session for a duplicate id, each victim connected exactly once,
# the agent's will was not published, and mamorid still judges a report and
# the center still receives the alert it opens.
. tests/integration/lib.sh
it_init
[ -x "$MAMORID" ] || it_skip "no $MAMORID yet"
[ -f "$PLUGIN_DIR/defender.so" ] || it_skip "defender plugin not built"
command -v sqlite3 >/dev/null 2>&1 || it_skip "sqlite3 not installed"

it_mosquitto_shipped mamorid c0001/PC-001 c0001/PC-002 cc-east cc-west
B_LOG=$IT_TMP/mosquitto.log

IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
(umask 077 && printf 'secret-mamorid\n' >"$IT_TMP/mamorid.password") # a secret: 0600
cat >"$IT_TMP/mamori.conf" <<EOF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "it-takeover"; };
mqtt = { host = "127.0.0.1"; port = $port; client_id = "mamorid"; topic_prefix = "mamori";
         username = "mamorid"; password_file = "$IT_TMP/mamorid.password"; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; } ); },
            { name = "cc-west"; calendar = "always";
              tiers = ( { name = "utm-desk"; ack_within = "15m"; resolve_within = "4h"; } ); } );
routes = ( { service = "utm"; center = "cc-west"; }, { center = "cc-east"; } );
customers = ( { id = "c0001"; name = "Takeover test"; agents = { defender = { auto_register = true; }; }; } );
EOF

# as LOGIN [mosquitto_sub args...] (password secret-LOGIN)
as() {
	_u=$1
	shift
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u "$_u" -P "secret-$_u" "$@"
}
# Victims.  The center reads its alerts; the agent can read nothing but
# holds a connection with its last will, like a PC between reports.
it_bg victim_center mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u cc-east -P secret-cc-east -i cc-east \
	-t 'mamori/v1/alerts/cc-east/#' -v
it_bg victim_agent mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-002 -P secret-c0001/PC-002 \
	-i c0001/PC-002 -t 'mamori/v1/agents/c0001/PC-002/none' --will-topic mamori/v1/agents/c0001/PC-002/status --will-payload offline --will-qos 1 --will-retain
it_mamorid "$IT_TMP/mamori.conf"
# Every login below is used by one connection at a time (cc-west probes
# here and attacks later), so no session is taken over legitimately.
online() {
	as cc-west -t 'mamori/v1/server/it-takeover/status' -C 1 -W 1 2>/dev/null | grep -q '^online$'
}
connected() { # client-id: connections the broker logged for it
	grep -c "New client connected from .* as $1 (" "$B_LOG"
}
it_wait_for 15 online || it_fail "mamorid did not come online: $(tail -5 "$IT_TMP/mamorid.log")"
it_wait_for 5 sh -c "grep -q 'as c0001/PC-002 (' '$B_LOG' && grep -q 'as cc-east (' '$B_LOG'" ||
	it_fail "victims not connected: $(cat "$B_LOG")"
for v in mamorid c0001/PC-002 cc-east; do
	[ "$(connected "$v")" = 1 ] || it_fail "$v connected $(connected "$v") times before the attacks"
done

# Attacks: connect with the victim's client id, clean session, stay ~1 s.
attack() { # login password client-id
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u "$1" -P "$2" -i "$3" -t 'mamori/v1/none' -W 1 \
		>/dev/null 2>&1
	return 0
}
for victim in mamorid c0001/PC-002 cc-east; do
	attack c0001/PC-001 secret-c0001/PC-001 "$victim" # an agent
	attack cc-west secret-cc-west "$victim"           # a center
	attack "$victim" wrong-password "$victim"         # the victim's login, wrong password
done
sleep 1

grep -q 'already connected, closing old connection' "$B_LOG" &&
	it_fail "a session was taken over: $(grep 'already connected' "$B_LOG")"
for v in mamorid c0001/PC-002 cc-east; do
	[ "$(connected "$v")" = 1 ] || it_fail "$v was disconnected: $(connected "$v") connections"
done
kill -0 "$MAMORID_PID" 2>/dev/null || it_fail "mamorid died"

# The agent's will did not fire: no "PC offline" for PC-002.
[ -z "$(it_state c0001 PC-002 defender)" ] || it_fail "the agent's last will was published: $(it_state c0001 PC-002 defender)"
# mamorid still has its subscriptions and the center still gets its alerts.
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-001 -P secret-c0001/PC-001 \
	-t mamori/v1/agents/c0001/PC-001/defender -f tests/fixtures/defender/realtime-off.json || it_fail "publish"
it_wait_state 10 c0001 PC-001 defender "2|" || it_fail "mamorid did not judge the report after the attacks"
it_wait_for 10 grep -q '"event":"opened"' "$IT_TMP/victim_center.log" ||
	it_fail "the center did not receive the alert: $(cat "$IT_TMP/victim_center.log")"
[ "$(connected mamorid)" = 1 ] || it_fail "mamorid reconnected"
echo "PASS mqtt_takeover"
exit 0
