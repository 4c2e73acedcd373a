/*
 * ingress/mqtt_cmd: mamori.cmd/1 -> app -> mamori.cmdresult/1 (see
 * mqtt_cmd.h).
 */
#include "ingress/mqtt_cmd.h"
#include "alert/alert.h"
#include "app/app.h"
#include "mqtt/mqtt.h"
#include "proto/cmd.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mqtt_cmd {
	struct app *app;
	struct mqtt *mqtt;
	struct mqtt_sub *sub;
	struct mqtt_cmd_counters cnt;
	char node[128];
};

char *mqtt_cmd_answer(struct mqtt_cmd *mc, const char *center, const void *payload, size_t len,
                      int *fresh)
{
	if (fresh)
		*fresh = 0;
	struct cmd c;
	char msg[256] = "";
	enum cmd_err e = cmd_parse(payload, len, &c, msg, sizeof msg);
	if (e == CMD_OK) {
		const char *centers[1] = { center };
		struct app_scope sc = { .centers = centers, .n_centers = 1 };
		struct alert_action act = { .type = c.action,
			                    .actor = c.by,
			                    .note = c.note,
			                    .cmd_id = c.id,
			                    .vendor = c.vendor,
			                    .planned_at = c.planned_at,
			                    .result = c.result };
		struct app_result r;
		app_alert_act(mc->app, &sc, c.alert, &act, center, c.id, &r, NULL, NULL);
		e = (enum cmd_err)app_cmd_code(r.err);
		snprintf(msg, sizeof msg, "%s", r.msg);
		if (fresh)
			*fresh = r.fresh;
	}
	char *answer =
	    cmd_format_result(c.id[0] ? c.id : NULL, c.alert, e, msg[0] ? msg : NULL, mc->node);
	if (e != CMD_OK)
		log_info("alerts", "command from %s refused: %s", center, cmd_errname(e));
	cmd_clear(&c);
	return answer;
}

void mqtt_cmd_handle(struct mqtt_cmd *mc, const char *topic, const void *payload, size_t len,
                     int retain)
{
	if (retain) {
		/* The broker's stored copy, replayed at every subscription (see
		 * mqtt_cmd.h).  The text names only the topic, so log_msg's
		 * rate limit holds a center that keeps one retained to 5 lines
		 * a minute. */
		mc->cnt.retained_ignored++;
		log_warn("alerts",
		         "ignored a retained command on %s: commands must be published without "
		         "retain (the broker replays retained ones); not executed, not answered",
		         topic);
		return;
	}
	const char *prefix = mqtt_prefix(mc->mqtt);
	size_t pl = strlen(prefix);
	if (strncmp(topic, prefix, pl) != 0 || strncmp(topic + pl, "/v1/cmd/", 8) != 0)
		return;
	const char *center = topic + pl + 8;
	if (!*center || strchr(center, '/'))
		return;
	char *answer = mqtt_cmd_answer(mc, center, payload, len, NULL);
	if (!answer) {
		log_err("alerts", "command on %s: no memory for the answer", topic);
		return;
	}
	char rt[1024];
	snprintf(rt, sizeof rt, "%s/result", topic);
	app_send(mc->app, rt, answer);
	free(answer);
	mc->cnt.commands++;
}

static void on_msg(const char *topic, const void *payload, size_t len, int qos, int retain,
                   void *ud)
{
	mqtt_cmd_handle(ud, topic, payload, len, retain);
}

const struct mqtt_cmd_counters *mqtt_cmd_counters(const struct mqtt_cmd *mc)
{
	return &mc->cnt;
}

struct mqtt_cmd *mqtt_cmd_new(struct app *app, struct mqtt *mqtt, const char *node)
{
	struct mqtt_cmd *mc = xcalloc(1, sizeof *mc);
	mc->app = app;
	mc->mqtt = mqtt;
	snprintf(mc->node, sizeof mc->node, "%s", node ? node : "");
	if (mqtt) {
		char filter[512];
		snprintf(filter, sizeof filter, "%s/v1/cmd/+", mqtt_prefix(mqtt));
		mc->sub = mqtt_subscribe(mqtt, filter, 1, on_msg, mc);
		if (!mc->sub)
			log_err("alerts", "cannot subscribe to %s", filter);
	}
	return mc;
}

void mqtt_cmd_free(struct mqtt_cmd *mc)
{
	if (!mc)
		return;
	if (mc->mqtt && mc->sub)
		mqtt_unsubscribe(mc->mqtt, mc->sub);
	free(mc);
}
