/*
 * bus: the broker side of the daemon (see bus.h).
 */
#include "bus/bus.h"
#include "events/events.h"
#include "mqtt/mqtt.h"
#include "plugin/host.h"
#include "proto/state.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bus {
	struct ev_loop *loop;
	struct mqtt *mqtt;
	struct events *events;
	struct events_sub *state_sub;
	char *node;
};

struct mamori_sub {
	struct bus *s;
	struct mqtt_sub *sub;
	mamori_msg_cb cb;
	void *ud;
	void *inst;
};

/* EVENT_STATE: publish what changed (retained: a new subscriber gets the
 * last state of every check at once). */
static void on_state(void *ud, const struct event *e)
{
	struct bus *b = ud;
	const struct event_state *es = e->detail;
	if (!b->mqtt || !es || !es->visible || !e->json)
		return;
	char topic[1024];
	snprintf(topic, sizeof topic, "%s/v1/state/%s/%s/%s", mqtt_prefix(b->mqtt), es->customer,
	         es->asset, es->check);
	if (mqtt_publish(b->mqtt, topic, e->json, strlen(e->json), 1, 1, NULL) != 0)
		log_warn("mqtt", "cannot publish state of %s", es->key);
}

struct bus *bus_open(struct ev_loop *loop, const config_setting_t *group, const char *node,
                     struct events *events)
{
	struct bus *b = xcalloc(1, sizeof *b);
	b->loop = loop;
	b->events = events;
	if (!group)
		return b; /* no broker configured: plugins get MAMORI_E_NOTSUP */
	struct mqtt_conf mc;
	char err[1024] = "";
	mqtt_conf_init(&mc);
	if (mqtt_conf_parse(group, &mc, err, sizeof err) != 0) {
		log_always("config", LOG_LVL_ERR, "%s", err);
		mqtt_conf_free(&mc);
		free(b);
		return NULL;
	}
	if (!mc.node || !*mc.node) {
		free(mc.node);
		mc.node = xstrdup(node);
	}
	b->mqtt = mqtt_new(loop, &mc, err, sizeof err);
	b->node = xstrdup(mc.node);
	mqtt_conf_free(&mc);
	if (!b->mqtt) {
		log_always("mqtt", LOG_LVL_ERR, "%s", err);
		free(b->node);
		free(b);
		return NULL;
	}
	b->state_sub = events_subscribe(events, EVENT_MASK(EVENT_STATE), on_state, b);
	return b;
}

int bus_start(struct bus *b)
{
	return b->mqtt ? mqtt_start(b->mqtt) : 0;
}

void bus_close(struct bus *b)
{
	if (!b || !b->mqtt)
		return;
	events_unsubscribe(b->events, b->state_sub);
	b->state_sub = NULL;
	mqtt_stop(b->mqtt);
	mqtt_free(b->mqtt);
	b->mqtt = NULL;
}

void bus_free(struct bus *b)
{
	bus_close(b);
	if (b)
		free(b->node);
	free(b);
}

void bus_publish_health(struct bus *b, int store_failing, double since, double now)
{
	if (!b || !b->mqtt)
		return;
	char topic[512], payload[512];
	snprintf(topic, sizeof topic, "%s/v1/server/%s/health", mqtt_prefix(b->mqtt), b->node);
	/* the node is a checked topic level (no quote, no backslash) */
	int n = snprintf(payload, sizeof payload,
	                 "{\"schema\":\"mamori.health/1\",\"node\":\"%s\",\"store\":\"%s\","
	                 "\"since\":%.3f,\"time\":%.3f}",
	                 b->node, store_failing ? "failing" : "ok", since, now);
	if (n > 0 && (size_t)n < sizeof payload &&
	    mqtt_publish(b->mqtt, topic, payload, (size_t)n, 1, 1, NULL) != 0)
		log_warn("mqtt", "cannot publish the server's health on %s", topic);
}

int bus_connected(const struct bus *b)
{
	return b && b->mqtt ? mqtt_counters(b->mqtt)->connected : -1;
}

void bus_get_stats(const struct bus *b, struct bus_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!b || !b->mqtt)
		return;
	const struct mqtt_counters *c = mqtt_counters(b->mqtt);
	out->configured = 1;
	out->connected = c->connected;
	out->msgs_in = c->msgs_in;
	out->msgs_out = c->msgs_out;
	out->acks = c->acks;
	out->rejected_size = c->rejected_size;
	out->rejected_nosub = c->rejected_nosub;
	out->publish_errors = c->publish_errors;
	out->connects = c->connects;
	out->connect_failures = c->connect_failures;
	out->unacked = c->unacked;
	out->bytes_in = c->bytes_in;
	out->bytes_out = c->bytes_out;
}

struct mqtt *bus_mqtt(const struct bus *b)
{
	return b ? b->mqtt : NULL;
}

/* ---- host API ---- */

static void sub_shim(const char *topic, const void *payload, size_t len, int qos, int retain,
                     void *ud)
{
	struct mamori_sub *w = ud;
	struct mamori_msg m = { .struct_size = sizeof m,
		                .topic = topic,
		                .payload = payload,
		                .len = len,
		                .qos = qos,
		                .retain = retain };
	w->cb(w, &m, w->ud);
}

static int ops_subscribe(void *ctx, void *inst, const char *filter, int qos, mamori_msg_cb cb,
                         void *ud, struct mamori_sub **out)
{
	struct bus *s = ctx;
	if (!s->mqtt)
		return MAMORI_E_NOTSUP;
	if (!filter || !cb || qos < 0 || qos > 1)
		return MAMORI_E_INVAL;
	struct mamori_sub *w = xcalloc(1, sizeof *w);
	w->s = s;
	w->cb = cb;
	w->ud = ud;
	w->inst = inst;
	w->sub = mqtt_subscribe(s->mqtt, filter, qos, sub_shim, w);
	if (!w->sub) {
		free(w);
		return MAMORI_E_INVAL;
	}
	if (out)
		*out = w;
	return 0;
}

static void ops_unsubscribe(void *ctx, struct mamori_sub *w)
{
	struct bus *s = ctx;
	if (s->mqtt && w->sub)
		mqtt_unsubscribe(s->mqtt, w->sub);
	free(w);
}

static int ops_publish(void *ctx, void *inst, const char *topic, const void *payload, size_t len,
                       int qos, int retain)
{
	struct bus *s = ctx;
	if (!s->mqtt)
		return MAMORI_E_NOTSUP;
	return mqtt_publish(s->mqtt, topic, payload, len, qos, retain, NULL) == 0 ? 0
	                                                                          : MAMORI_E_INVAL;
}

static const char *ops_prefix(void *ctx)
{
	struct bus *s = ctx;
	return s->mqtt ? mqtt_prefix(s->mqtt) : "mamori";
}

void bus_fill_ops(struct bus *b, struct host_ops *ops)
{
	ops->mqtt_ctx = b;
	ops->mqtt_subscribe = ops_subscribe;
	ops->mqtt_unsubscribe = ops_unsubscribe;
	ops->mqtt_publish = ops_publish;
	ops->mqtt_prefix = ops_prefix;
}
