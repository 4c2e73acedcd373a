#!/bin/sh
# mqtt_acl: real mosquitto with contrib/mosquitto's ACL and a password file
# on a free loopback port.  Proves: an agent publishes only under its own
# {customer}/{host}; not as another customer, not as another PC of its
# customer, not server topics; it cannot read alerts; a contact center reads
# only its own alerts; anonymous logins are refused.
. tests/integration/lib.sh
it_init
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || it_skip "mosquitto not installed"
command -v mosquitto_pub >/dev/null 2>&1 || it_skip "mosquitto-clients not installed"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

port=$(it_free_port)
pw=$IT_TMP/passwd
: >"$pw"
for u in c0001/PC-001 c0001/PC-002 c0002/PC-001 mamorid cc-east cc-west; do
	mosquitto_passwd -b "$pw" "$u" "secret-$u" || it_fail "mosquitto_passwd $u"
done
chmod 0644 "$pw" "$IT_TMP"
chmod 0755 "$IT_TMP"
cp contrib/mosquitto/mamori.acl "$IT_TMP/acl"
chmod 0644 "$IT_TMP/acl"
# The throughput and ACL settings of contrib/mosquitto/mosquitto.conf;
# listeners and paths replaced for the test.
grep -E '^(per_listener_settings|allow_anonymous|max_inflight_messages|max_queued_messages|set_tcp_nodelay|message_size_limit)' \
	contrib/mosquitto/mosquitto.conf >"$IT_TMP/mosquitto.conf"
cat >>"$IT_TMP/mosquitto.conf" <<EOC
listener $port 127.0.0.1
password_file $pw
acl_file $IT_TMP/acl
log_dest stderr
EOC
it_bg mosquitto "$MOSQUITTO" -c "$IT_TMP/mosquitto.conf"
it_wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$port" -u mamorid -P secret-mamorid -t mamori/v1/server/t/status -m x ||
	it_fail "broker did not start: $(cat "$IT_TMP/mosquitto.log")"

# as USER: pub TOPIC MSG
pub() {
	_u=$1
	shift
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u "$_u" -P "secret-$_u" -t "$1" -m "$2" 2>/dev/null
	return 0 # a denied publish is dropped silently (3.1.1); the subscriber decides
}
# sub_bg NAME USER FILTER: collect "topic payload" lines into $IT_TMP/NAME.out
sub_bg() {
	it_bg "$1" mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u "$2" -P "secret-$2" -t "$3" -v
}
subs_ready() {
	# every collector is connected once a probe reaches it
	pub mamorid mamori/v1/alerts/cc-east/ready ready
	grep -q ready "$IT_TMP/cc_east.log"
}

sub_bg server mamorid 'mamori/v1/agents/#'
sub_bg agent_reader c0001/PC-001 'mamori/v1/#'
sub_bg cc_east cc-east 'mamori/v1/alerts/#'
sub_bg cc_west cc-west 'mamori/v1/alerts/#'
it_wait_for 10 subs_ready || it_fail "subscribers not ready"

pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/defender own-report
pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/status online
pub c0001/PC-001 mamori/v1/agents/c0002/PC-001/defender as-other-customer
pub c0001/PC-001 mamori/v1/agents/c0001/PC-002/defender as-other-pc
pub c0001/PC-001 mamori/v1/agents/c0001/PC-001/other wrong-kind
pub c0001/PC-001 mamori/v1/state/c0001/PC-001/defender forged-state
pub c0001/PC-001 mamori/v1/alerts/cc-east/c0001 forged-alert
pub c0002/PC-001 mamori/v1/agents/c0002/PC-001/defender b-own-report
pub mamorid mamori/v1/alerts/cc-east/c0001 alert-east
pub mamorid mamori/v1/alerts/cc-west/c0002 alert-west
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t mamori/v1/agents/c0001/PC-001/defender -m anonymous 2>/dev/null
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-001 -P wrong -t mamori/v1/agents/c0001/PC-001/defender -m badpass 2>/dev/null
pub mamorid mamori/v1/alerts/cc-east/done done
it_wait_for 10 grep -q done "$IT_TMP/cc_east.log" || it_fail "end marker not seen"
it_wait_for 5 grep -q b-own-report "$IT_TMP/server.log" || true

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
