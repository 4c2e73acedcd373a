/*
 * ingress/mqtt_cmd: the contact centers' command topic, an adapter over
 * the service layer.  mamori.cmd/1 on <prefix>/v1/cmd/{center} is parsed
 * (proto), acted on through app_alert_act with the scope of that one
 * center and the idempotency key (center, id), and answered with
 * mamori.cmdresult/1 on .../result through the durable outbox (app_send),
 * so an answer is published only once the change it reports is written.
 *
 * Retained messages on the command topic are ignored (counted, logged
 * rate-limited): the broker hands a topic's retained message to every new
 * subscription, so a retained command would come back at each of our
 * (re)subscriptions - days later, for an alert in another state, and
 * answered again every time.  A command published while we are away still
 * arrives: the broker queues it in our persistent session as an ordinary
 * (not retained) message.
 *
 * Must never: act on an alert itself (only through src/app), include
 * anything below the service layer but the codecs and the transport.
 */
#ifndef MAMORI_INGRESS_MQTT_CMD_H
#define MAMORI_INGRESS_MQTT_CMD_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct mqtt;
struct mqtt_cmd;

struct mqtt_cmd_counters {
	uint64_t commands;         /* handled and answered (accepted or refused) */
	uint64_t retained_ignored; /* retained: neither executed nor answered */
};

struct mqtt_cmd *mqtt_cmd_new(struct app *app, struct mqtt *mqtt, const char *node);
void mqtt_cmd_free(struct mqtt_cmd *mc);
/* One message as it arrived on `topic` with its retain flag (tests call it
 * without a broker).  Returns the answer's topic and payload through the
 * outbox; a retained message is only counted. */
void mqtt_cmd_handle(struct mqtt_cmd *mc, const char *topic, const void *payload, size_t len,
                     int retain);
const struct mqtt_cmd_counters *mqtt_cmd_counters(const struct mqtt_cmd *mc);
/* The whole answer for a payload from `center`, without the outbox
 * (malloc'd; tests).  *fresh (may be NULL): 1 when it acted now. */
char *mqtt_cmd_answer(struct mqtt_cmd *mc, const char *center, const void *payload, size_t len,
                      int *fresh);

#endif
