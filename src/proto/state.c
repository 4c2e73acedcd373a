/*
 * proto/state: the mamori.state/1 codec (see state.h).
 */
#include "proto/state.h"
#include "perfdata/perfdata.h"
#include "state/state.h"
#include "util/mem.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void proto_time_utc(double t, char *buf, size_t size)
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

static char *format(const struct proto_state *s, int cut);

/* The broker refuses what is larger than mamorid's own limit (64 KiB):
 * a state with a long output is published without it (and says so), so
 * the retained state of the check is never refused for its size. */
char *proto_format_state(const struct proto_state *s)
{
	char *json = format(s, 0);
	if (json && strlen(json) > PROTO_STATE_MAX) {
		free(json);
		json = format(s, 1);
	}
	return json;
}

static char *format(const struct proto_state *s, int cut)
{
	char t1[40], t2[40];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "schema", "mamori.state/1");
	cJSON_AddStringToObject(o, "node", s->node ? s->node : "");
	cJSON_AddStringToObject(o, "customer", s->customer);
	cJSON_AddStringToObject(o, "asset", s->asset);
	cJSON_AddStringToObject(o, "check", s->check);
	cJSON_AddStringToObject(o, "service", s->service ? s->service : "");
	cJSON_AddNumberToObject(o, "state", s->state);
	cJSON_AddStringToObject(o, "state_name", state_name(s->state));
	cJSON_AddBoolToObject(o, "hard", s->hard);
	cJSON_AddNumberToObject(o, "attempt", s->attempt);
	cJSON_AddNumberToObject(o, "max_attempts", s->max_attempts);
	cJSON_AddBoolToObject(o, "flapping", s->flapping);
	cJSON_AddBoolToObject(o, "stale", s->stale);
	cJSON_AddBoolToObject(o, "acknowledged", s->acknowledged);
	if (cut) {
		/* 1 KiB of the first line, cut on a character boundary */
		char first[1025];
		const char *out = s->output ? s->output : "";
		size_t n = strlen(out) < 1024 ? strlen(out) : 1024;
		while (n && n < strlen(out) && ((unsigned char)out[n] & 0xc0) == 0x80)
			n--;
		memcpy(first, out, n);
		first[n] = '\0';
		cJSON_AddStringToObject(o, "output", first);
		cJSON_AddBoolToObject(o, "truncated", 1);
		cJSON_AddItemToObject(o, "perfdata", cJSON_CreateArray());
	} else {
		cJSON_AddStringToObject(o, "output", s->output ? s->output : "");
		if (s->long_output && *s->long_output)
			cJSON_AddStringToObject(o, "long_output", s->long_output);
		cJSON_AddItemToObject(o, "perfdata", perf_json(s->perfdata));
	}
	proto_time_utc(s->last_check, t1, sizeof t1);
	proto_time_utc(s->last_change, t2, sizeof t2);
	cJSON_AddStringToObject(o, "last_check", t1);
	cJSON_AddStringToObject(o, "last_change", t2);
	char *json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}
