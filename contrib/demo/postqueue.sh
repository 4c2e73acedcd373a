#!/bin/sh
# A stand-in for `postqueue -j` in the demo (run by mail_latency in queue
# mode as "/bin/sh postqueue.sh busy|empty").  A real Postfix needs root
# and a full setup (main.cf, master.cf, a spool directory), too much for a
# demo that starts in seconds; tests/integration/mailserver.sh starts a
# real Postfix + Dovecot for the tests.  The output has postqueue -j's
# shape: one JSON object per message, arrival_time in epoch seconds.
#   busy   three messages; a deferred one 40 minutes old (WARNING at 30m)
#   empty  no output (an empty queue)
now=$(date +%s)
case "${1:-busy}" in
empty)
	exit 0
	;;
busy)
	cat <<EOF
{"queue_name": "active", "queue_id": "4Qx1k25Bz3z9sDf", "arrival_time": $((now - 3)), "message_size": 2841, "forced_expire": false, "sender": "office@tanaka-seisakusho.test", "recipients": [{"address": "orders@supplier.test"}]}
{"queue_name": "deferred", "queue_id": "4Qx0Zq1mHsz9sBv", "arrival_time": $((now - 2400)), "message_size": 918342, "forced_expire": false, "sender": "sales@tanaka-seisakusho.test", "recipients": [{"address": "buyer@customer.test", "delay_reason": "connect to mx.customer.test[192.0.2.25]:25: Connection timed out"}]}
{"queue_name": "deferred", "queue_id": "4Qx0t86Fmnz9sCw", "arrival_time": $((now - 610)), "message_size": 5120, "forced_expire": false, "sender": "office@tanaka-seisakusho.test", "recipients": [{"address": "info@customer.test", "delay_reason": "host mx.customer.test[192.0.2.25] said: 451 4.7.1 Greylisted, try again later"}]}
EOF
	;;
*)
	echo "postqueue: fatal: usage: postqueue.sh busy|empty" >&2
	exit 64
	;;
esac
