#!/bin/sh
# mqtt_acl: real mosquitto with contrib/mosquitto's settings, ACL and a
# password file on a free loopback port (it_mosquitto_shipped).  Proves: an
# agent publishes only under its own {customer}/{host}; not as another
# customer, not as another PC of its customer, not server topics; it cannot
# read alerts; a contact center reads only its own alerts; anonymous logins
# are refused.  Session takeover by client id: mqtt_takeover.sh.
. tests/integration/lib.sh
it_init
it_mosquitto_shipped c0001/PC-001 c0001/PC-002 c0002/PC-001 mamorid cc-east cc-west

# as USER: pub TOPIC MSG
pub() {
	_u=$1
	shift
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u "$_u" -P "secret-$_u" -t "$1" -m "$2" 2>/dev/null
	return 0 # a denied publish is dropped silently (3.1.1); the subscriber decides
}
# sub_bg NAME USER FILTER: collect "topic payload" lines into $IT_TMP/NAME.log
sub_bg() {
	it_bg "$1" mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u "$2" -P "secret-$2" -t "$3" -v
}
# The broker binds client ids to logins (use_username_as_clientid): a
# login has one session at a time, and a second connection of the same
# login replaces the first.  So no login below publishes while its own
# subscriber runs: the agent reader is PC-002, which publishes nothing, and
# mamorid's subscriber (agents' topics) is stopped before mamorid's login
# publishes alerts.

# 1. agents -> mamorid
sub_bg server mamorid 'mamori/v1/agents/#'
SERVER_PID=$IT_LAST_PID
sub_bg agent_reader c0001/PC-002 'mamori/v1/#'
server_ready() {
	pub c0002/PC-001 mamori/v1/agents/c0002/PC-001/status ready
	grep -q 'status ready' "$IT_TMP/server.log"
}
it_wait_for 10 server_ready || it_fail "mamorid's subscriber not ready"
pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/defender own-report
pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/status online
pub c0001/PC-001 mamori/v1/agents/c0002/PC-001/defender as-other-customer
pub c0001/PC-001 mamori/v1/agents/c0001/PC-002/defender as-other-pc
pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/other wrong-kind
pub c0001/PC-001 mamori/v1/state/c0001/PC-001/defender forged-state
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-001/defender -m anonymous 2>/dev/null
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-001 -P wrong -t mamori/v1/agents/c0001/PC-001/defender -m badpass 2>/dev/null
pub c0002/PC-001 mamori/v1/agents/c0002/PC-001/defender b-own-report
it_wait_for 10 grep -q b-own-report "$IT_TMP/server.log" || it_fail "end marker not seen by mamorid's subscriber"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

# 2. mamorid -> centers
sub_bg cc_east cc-east 'mamori/v1/alerts/#'
sub_bg cc_west cc-west 'mamori/v1/alerts/#'
centers_ready() {
	pub mamorid mamori/v1/alerts/cc-east/ready ready
	pub mamorid mamori/v1/alerts/cc-west/ready ready
	grep -q ready "$IT_TMP/cc_east.log" && grep -q ready "$IT_TMP/cc_west.log"
}
it_wait_for 10 centers_ready || it_fail "center subscribers not ready"
pub c0001/PC-001 mamori/v1/alerts/cc-east/c0001 forged-alert
pub mamorid mamori/v1/alerts/cc-east/c0001 alert-east
pub mamorid mamori/v1/alerts/cc-west/c0002 alert-west
pub mamorid mamori/v1/alerts/cc-east/done done
pub mamorid mamori/v1/alerts/cc-west/done done
it_wait_for 10 grep -q done "$IT_TMP/cc_east.log" || it_fail "end marker not seen by cc-east"
it_wait_for 10 grep -q done "$IT_TMP/cc_west.log" || it_fail "end marker not seen by cc-west"

S=$IT_TMP/server.log
grep -q 'mamori/v1/agents/c0001/PC-001/defender own-report' "$S" || it_fail "own report not delivered"
grep -q 'mamori/v1/agents/c0001/PC-001/status online' "$S" || it_fail "own status not delivered"
grep -q 'b-own-report' "$S" || it_fail "customer B's own report not delivered"
for bad in as-other-customer as-other-pc wrong-kind anonymous badpass; do
	if grep -q "$bad" "$S"; then it_fail "ACL let through: $bad"; fi
done
grep -q forged-alert "$IT_TMP/cc_east.log" && it_fail "agent forged an alert"
[ -s "$IT_TMP/agent_reader.log" ] && it_fail "agent could read: $(head -3 "$IT_TMP/agent_reader.log")"
grep -q alert-east "$IT_TMP/cc_east.log" || it_fail "cc-east did not get its alert"
grep -q alert-west "$IT_TMP/cc_east.log" && it_fail "cc-east read cc-west's alert"
grep -q alert-west "$IT_TMP/cc_west.log" || it_fail "cc-west did not get its alert"
echo "PASS mqtt_acl"
exit 0
