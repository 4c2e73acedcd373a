#!/bin/sh
# mqtt_limits: contrib/mosquitto's size limits fit mamorid's.
#   - message_size_limit equals mamorid's default mqtt.max_message_size
#     (src/mqtt/mqtt_conf.c), so the broker queues nothing mamorid drops;
#   - max_queued_bytes is set, at least one message and at most 1 GiB per
#     client, so an absent mamorid cannot have gigabytes queued;
#   - with the shipped settings, the broker delivers an agent's report of
#     exactly the limit and refuses one byte more.
. tests/integration/lib.sh
it_init
command -v python3 >/dev/null 2>&1 || it_skip "python3 needed"
C=${IT_SHIPPED_CONF:-contrib/mosquitto/mosquitto.conf}

setting() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$C"; }
# the default, set in mqtt_conf_init (the first assignment in the file)
mamorid_max=$(($(sed -n 's/^[[:space:]]*c->max_message_size = \([0-9 *]*\);$/\1/p' src/mqtt/mqtt_conf.c | head -1)))
[ "$mamorid_max" -gt 0 ] || it_fail "cannot read mamorid's default max_message_size"
size_limit=$(setting message_size_limit)
[ "$size_limit" = "$mamorid_max" ] ||
	it_fail "message_size_limit is '$size_limit', mamorid's max_message_size $mamorid_max"
qbytes=$(setting max_queued_bytes)
[ -n "$qbytes" ] || it_fail "no max_queued_bytes: queued bytes per client are unbounded"
[ "$qbytes" -ge "$size_limit" ] && [ "$qbytes" -le 1073741824 ] ||
	it_fail "max_queued_bytes $qbytes: want between message_size_limit and 1 GiB"

it_mosquitto_shipped mamorid c0001/PC-001
it_bg server mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u mamorid -P secret-mamorid \
	-t 'mamori/v1/agents/#' -F '%t %l'
pub() { # file
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u c0001/PC-001 -P secret-c0001/PC-001 \
		-t mamori/v1/agents/c0001/PC-001/defender -f "$1"
}
python3 -c 'import sys; sys.stdout.write("x" * int(sys.argv[1]))' "$size_limit" >"$IT_TMP/at"
python3 -c 'import sys; sys.stdout.write("x" * int(sys.argv[1]))' "$((size_limit + 1))" >"$IT_TMP/over"
printf 'ready' >"$IT_TMP/ready"
ready() { pub "$IT_TMP/ready" && grep -q ' 5$' "$IT_TMP/server.log"; }
it_wait_for 10 ready || it_fail "subscriber not ready"
pub "$IT_TMP/over"
pub "$IT_TMP/at" || it_fail "publish at the limit"
printf 'done' >"$IT_TMP/done"
pub "$IT_TMP/done"
it_wait_for 10 grep -q ' 4$' "$IT_TMP/server.log" || it_fail "end marker not seen"
grep -q " $size_limit\$" "$IT_TMP/server.log" || it_fail "a report of exactly $size_limit bytes was not delivered"
grep -q " $((size_limit + 1))\$" "$IT_TMP/server.log" && it_fail "the broker delivered a report over $size_limit bytes"
echo "PASS mqtt_limits"
exit 0
