/*
 * format.c: the JSON the alert pipeline publishes (mamori.alert/1,
 * mamori.cmdresult/1) and RFC 3339 input.
 *
 * Times are printed in the offset of the alert's SLA calendar (so a Tokyo
 * center reads "+09:00"), rounded to whole seconds; without SLA terms, in
 * UTC ("Z").  Absent times are JSON null, never 0 or "".
 */
#include "proto/cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "cal/cal.h"

static const char *const default_text[CMD_E__COUNT] = {
	NULL,
	"malformed command",
	"wrong or missing schema",
	"missing field",
	"invalid field",
	"unknown action",
	"unknown alert",
	"alert belongs to another center",
	"not allowed in the alert's current status",
	"already at the last tier",
	"out of memory",
};

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void add_time(cJSON *o, const char *k, const struct alert *a, double t)
{
	char buf[40];
	if (t <= 0) {
		cJSON_AddNullToObject(o, k);
		return;
	}
	/* Whole seconds, truncated as a clock shows them: an event at
	 * 21:00:29.6 happened at 21:00:29, not in a second that had not
	 * begun (rounding once published times ahead of the event). */
	time_t s = (time_t)floor(t);
	if (a && a->sla.terms && a->sla.terms->cal) {
		if (cal_format_rfc3339(a->sla.terms->cal, s, buf, sizeof(buf)) < 0)
			buf[0] = 0;
	} else {
		struct tm tm;
		if (!gmtime_r(&s, &tm) ||
		    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			buf[0] = 0;
	}
	if (buf[0])
		cJSON_AddStringToObject(o, k, buf);
	else
		cJSON_AddNullToObject(o, k);
}

static char *finish(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

char *cmd_format_result(const char *id, const char *alert_id, enum cmd_err e, const char *err_text,
                        const char *node)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "schema", CMD_RESULT_SCHEMA);
	add_str(o, "id", id);
	cJSON_AddBoolToObject(o, "ok", e == CMD_OK);
	if (e == CMD_OK)
		cJSON_AddNullToObject(o, "error");
	else
		add_str(o, "error",
		        err_text                     ? err_text
		        : (unsigned)e < CMD_E__COUNT ? default_text[e]
		                                     : "error");
	cJSON_AddStringToObject(o, "code", cmd_errname(e));
	add_str(o, "alert", alert_id);
	add_str(o, "node", node);
	return finish(o);
}

/* Deadline as published: absent when acked (ack), paused or stopped. */
static void add_deadlines(cJSON *o, const struct alert *a)
{
	const struct sla_clock *c = &a->sla;
	int running = c->terms && !c->stopped && !c->paused;
	add_time(o, "ack_due", a, running && !c->acked ? c->ack_due : 0);
	add_time(o, "resolve_due", a, running ? c->resolve_due : 0);
	if (c->terms && c->paused && !c->stopped) {
		/* Business seconds that remained when the clock paused. */
		if (c->ack_left >= 0 && !c->acked)
			cJSON_AddNumberToObject(o, "ack_left", c->ack_left);
		if (c->resolve_left >= 0)
			cJSON_AddNumberToObject(o, "resolve_left", c->resolve_left);
	}
	cJSON_AddBoolToObject(o, "paused", c->terms && c->paused && !c->stopped);
	cJSON_AddBoolToObject(o, "waiting", (c->paused & SLA_PAUSE_WAIT) && !c->stopped);
	cJSON_AddNumberToObject(o, "breaches", c->breaches);
}

static void add_dispatch(cJSON *o, const struct alert *a)
{
	const struct alert_dispatch *d = &a->dispatch;
	if (!d->vendor && !d->result && d->planned_at <= 0)
		return;
	cJSON *g = cJSON_AddObjectToObject(o, "dispatch");
	if (!g)
		return;
	add_str(g, "vendor", d->vendor);
	add_time(g, "planned_at", a, d->planned_at);
	add_str(g, "result", d->result);
}

static void add_event(cJSON *o, const struct alert *a, const struct alert_event *ev)
{
	cJSON_AddNumberToObject(o, "seq", ev->seq);
	cJSON_AddStringToObject(o, "event", alert_event_name(ev->type));
	add_time(o, "time", a, ev->time);
	add_str(o, "actor", ev->actor);
	add_str(o, "note", ev->note);
	if (ev->cmd_id)
		cJSON_AddStringToObject(o, "cmd", ev->cmd_id);
	if (ev->type == ALERT_EV_SLA_BREACH) {
		cJSON_AddStringToObject(o, "breach",
		                        sla_deadline_name((enum sla_deadline)ev->breach));
		cJSON_AddBoolToObject(o, "reannounce", ev->reannounce);
	}
	if (ev->type == ALERT_EV_RESOLVED)
		cJSON_AddNumberToObject(o, "duration", floor(ev->duration + 0.5));
}

char *cmd_format_alert(const struct alert *a, const struct alert_event *ev, const char *node)
{
	static const char *const states[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "schema", ALERT_SCHEMA);
	add_str(o, "node", node);
	add_str(o, "id", a->id);
	add_event(o, a, ev);
	add_str(o, "customer", a->customer);
	add_str(o, "asset", a->asset);
	add_str(o, "check", a->check);
	add_str(o, "service", a->service);
	cJSON_AddStringToObject(o, "state", states[a->state & 3]);
	cJSON_AddStringToObject(o, "severity", alert_severity_name(a->state));
	add_str(o, "summary", a->summary);
	add_str(o, "runbook", a->runbook);
	add_str(o, "center", a->center);
	if (a->n_also) {
		cJSON *also = cJSON_AddArrayToObject(o, "also");
		for (size_t i = 0; also && i < a->n_also; i++)
			cJSON_AddItemToArray(also, cJSON_CreateString(a->also[i]));
	}
	if (a->sla.terms)
		cJSON_AddNumberToObject(o, "tier", a->sla.tier + 1);
	else
		cJSON_AddNullToObject(o, "tier");
	add_str(o, "tier_name", alert_tier_name(a));
	cJSON_AddBoolToObject(o, "contract", a->contract);
	cJSON_AddStringToObject(o, "status", alert_status_name(a->status));
	cJSON_AddBoolToObject(o, "flapping", a->flapping);
	cJSON_AddBoolToObject(o, "stale", a->stale);
	cJSON_AddNumberToObject(o, "count", a->count);
	add_time(o, "opened_at", a, a->opened_at);
	add_deadlines(o, a);
	add_time(o, "acked_at", a, a->status == ALERT_ACKED ? a->acked_at : 0);
	add_str(o, "acked_by", a->status == ALERT_ACKED ? a->acked_by : NULL);
	add_time(o, "resolved_at", a, a->status == ALERT_RESOLVED ? a->resolved_at : 0);
	add_dispatch(o, a);
	return finish(o);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int cmd_parse_rfc3339(const char *s, double *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	double frac = 0;
	if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		double scale = 0.1;
		if (!(p[1] >= '0' && p[1] <= '9'))
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	int sign = 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == 0)
		sign = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) &&
	         p[3] == ':' && !digits(p + 4, 2, &om))
		sign = *p == '+' ? 1 : -1;
	else
		return -1;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	struct tm tm = { .tm_year = y - 1900,
		         .tm_mon = mo - 1,
		         .tm_mday = d,
		         .tm_hour = h,
		         .tm_min = mi,
		         .tm_sec = sec };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (double)t - sign * (oh * 3600 + om * 60) + frac;
	return 0;
}
