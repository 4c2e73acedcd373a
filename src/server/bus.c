/*
 * bus: the server's side of the MQTT bridge.
 *
 * Owns the mqtt object (when the config has an `mqtt` group), the host
 * API's subscribe/publish for plugins, and the retained
 * `<prefix>/v1/state/{customer}/{asset}/{check}` messages (mamori.state/1)
 * published whenever a check's state, hardness, attempt, flapping or
 * output changes.  Only src/mqtt includes <mosquitto.h>.
 */
#define MAMORI_SERVER_INTERNAL
#include "server/server_int.h"
#include "mqtt/mqtt.h"
#include "perfdata/perfdata.h"
#include "plugin/host.h"
#include "util/log.h"
#include "util/mem.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mamori_sub {
	struct server *s;
	struct mqtt_sub *sub;
	mamori_msg_cb cb;
	void *ud;
	void *inst;
};

int bus_open(struct server *s, const config_setting_t *group)
{
	if (!group)
		return 0; /* no broker configured: plugins get MAMORI_E_NOTSUP */
	struct mqtt_conf mc;
	char err[1024] = "";
	mqtt_conf_init(&mc);
	if (mqtt_conf_parse(group, &mc, err, sizeof err) != 0) {
		log_always("config", LOG_LVL_ERR, "%s", err);
		mqtt_conf_free(&mc);
		return -1;
	}
	if (!mc.node || !*mc.node) {
		free(mc.node);
		mc.node = xstrdup(s->conf->node);
	}
	s->mqtt = mqtt_new(s->loop, &mc, err, sizeof err);
	mqtt_conf_free(&mc);
	if (!s->mqtt) {
		log_always("mqtt", LOG_LVL_ERR, "%s", err);
		return -1;
	}
	return 0;
}

int bus_start(struct server *s)
{
	return s->mqtt ? mqtt_start(s->mqtt) : 0;
}

void bus_close(struct server *s)
{
	if (!s->mqtt)
		return;
	mqtt_stop(s->mqtt);
	mqtt_free(s->mqtt);
	s->mqtt = NULL;
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
	struct server *s = ctx;
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
	struct server *s = ctx;
	if (s->mqtt && w->sub)
		mqtt_unsubscribe(s->mqtt, w->sub);
	free(w);
}

static int ops_publish(void *ctx, void *inst, const char *topic, const void *payload, size_t len,
                       int qos, int retain)
{
	struct server *s = ctx;
	if (!s->mqtt)
		return MAMORI_E_NOTSUP;
	return mqtt_publish(s->mqtt, topic, payload, len, qos, retain, NULL) == 0 ? 0
	                                                                          : MAMORI_E_INVAL;
}

static const char *ops_prefix(void *ctx)
{
	struct server *s = ctx;
	return s->mqtt ? mqtt_prefix(s->mqtt) : "mamori";
}

void bus_fill_ops(struct host_ops *ops)
{
	ops->mqtt_subscribe = ops_subscribe;
	ops->mqtt_unsubscribe = ops_unsubscribe;
	ops->mqtt_publish = ops_publish;
	ops->mqtt_prefix = ops_prefix;
}

/* ---- mamori.state/1 ---- */

void bus_time_rfc3339(double t, char *buf, size_t size)
{
	if (t <= 0) {
		snprintf(buf, size, "%s", "");
		return;
	}
	time_t sec = (time_t)t;
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void add_range(cJSON *o, const char *key, const struct mamori_range *r)
{
	if (!r->set)
		return;
	char buf[96];
	perf_range_format(r, buf, sizeof buf);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *perf_json(const char *text)
{
	cJSON *arr = cJSON_CreateArray();
	if (!text || !*text)
		return arr;
	char *copy = xstrdup(text);
	struct mamori_perfdata items[32];
	int n = perf_parse(copy, items, 32, NULL);
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "label", items[i].label);
		if (items[i].flags & MAMORI_PERF_VALUE_UNKNOWN)
			cJSON_AddNullToObject(o, "value");
		else if (isfinite(items[i].value))
			cJSON_AddNumberToObject(o, "value", items[i].value);
		cJSON_AddStringToObject(o, "uom", items[i].uom ? items[i].uom : "");
		add_range(o, "warn", &items[i].warn);
		add_range(o, "crit", &items[i].crit);
		if (items[i].flags & MAMORI_PERF_HAS_MIN)
			cJSON_AddNumberToObject(o, "min", items[i].min);
		if (items[i].flags & MAMORI_PERF_HAS_MAX)
			cJSON_AddNumberToObject(o, "max", items[i].max);
		cJSON_AddItemToArray(arr, o);
	}
	free(copy);
	return arr;
}

/* Publish the retained state of c.  Called by run.c after a result that
 * changed something a subscriber shows. */
void bus_publish_state(struct server *s, const struct check *c)
{
	if (!s->mqtt)
		return;
	char topic[1024], t1[40], t2[40];
	snprintf(topic, sizeof topic, "%s/v1/state/%s/%s/%s", mqtt_prefix(s->mqtt),
	         c->asset->cust->id, c->asset->name, c->name);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "schema", "mamori.state/1");
	cJSON_AddStringToObject(o, "node", s->conf->node);
	cJSON_AddStringToObject(o, "customer", c->asset->cust->id);
	cJSON_AddStringToObject(o, "asset", c->asset->name);
	cJSON_AddStringToObject(o, "check", c->name);
	cJSON_AddStringToObject(o, "service", service_name(c->p.service));
	cJSON_AddNumberToObject(o, "state", c->st.state);
	cJSON_AddStringToObject(o, "state_name", state_name(c->st.state));
	cJSON_AddBoolToObject(o, "hard", c->st.hard);
	cJSON_AddNumberToObject(o, "attempt", c->st.attempt);
	cJSON_AddNumberToObject(o, "max_attempts", c->p.max_attempts);
	cJSON_AddBoolToObject(o, "flapping", c->st.flapping);
	cJSON_AddBoolToObject(o, "stale", c->st.stale);
	cJSON_AddBoolToObject(o, "acknowledged", !!(c->flags & CK_ACK));
	cJSON_AddStringToObject(o, "output", check_output(c));
	if (*check_long(c))
		cJSON_AddStringToObject(o, "long_output", check_long(c));
	cJSON_AddItemToObject(o, "perfdata", perf_json(check_perf(c)));
	bus_time_rfc3339(c->st.last_check, t1, sizeof t1);
	bus_time_rfc3339(c->st.last_change, t2, sizeof t2);
	cJSON_AddStringToObject(o, "last_check", t1);
	cJSON_AddStringToObject(o, "last_change", t2);
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (json) {
		if (mqtt_publish(s->mqtt, topic, json, strlen(json), 1, 1, NULL) != 0)
			log_warn("mqtt", "cannot publish state of %s", c->key);
		free(json);
	}
}
