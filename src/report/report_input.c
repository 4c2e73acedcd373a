/*
 * report_input: step 1 of a report, on the loop thread - the month's
 * bounds, local days, UTC offsets and business hours computed from the
 * customer's calendar into plain numbers, and the copy a worker gets.
 *
 * Why numbers and not the calendar: a reload frees calendars while a
 * worker may still be busy, and a month is at most 31 days, ~60 business
 * intervals and a few offset changes - cheap to compute here, and the
 * worker then needs nothing of the configuration.
 *
 * Must never: keep a pointer to the calendar.  Depends on cal.
 */
#include "report/report_int.h"
#include "cal/cal.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int report_parse_month(const char *s, int *year, int *month)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -1;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int y = atoi(s), m = atoi(s + 5);
	if (y < 2000 || y > 2999 || m < 1 || m > 12)
		return -1;
	*year = y;
	*month = m;
	return 0;
}

static int days_in(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* The instant the offset changes within (a, b], found by halving (the
 * offset is one value on each side: one transition per day at most). */
static double transition(const struct cal *c, double a, double b)
{
	long oa = cal_utc_offset(c, (time_t)a);
	while (b - a > 1) {
		double m = a + (double)(long long)((b - a) / 2);
		if (cal_utc_offset(c, (time_t)m) == oa)
			a = m;
		else
			b = m;
	}
	return b;
}

int report_input_calendar(struct report_input *in, const struct cal *c, const char *cal_name,
                          int business)
{
	if (in->month < 1 || in->month > 12)
		return -1;
	int n = days_in(in->year, in->month);
	for (int d = 0; d < n; d++) {
		time_t t = cal_local_time(c, in->year, in->month, d + 1, 0, 0, 0);
		if (t == (time_t)-1)
			return -1;
		in->day[d] = (double)t;
	}
	int ny = in->month == 12 ? in->year + 1 : in->year,
	    nm = in->month == 12 ? 1 : in->month + 1;
	time_t end = cal_local_time(c, ny, nm, 1, 0, 0, 0);
	if (end == (time_t)-1)
		return -1;
	in->day[n] = (double)end;
	in->n_days = n;
	in->from = in->day[0];
	in->to = in->day[n];
	/* offsets: one at the start, one per change */
	free(in->offs);
	in->offs = xcalloc((size_t)n + 2, sizeof *in->offs);
	in->n_offs = 0;
	in->offs[in->n_offs++] =
	    (struct report_offset){ in->from, cal_utc_offset(c, (time_t)in->from) };
	for (int d = 0; d < n; d++) {
		long o1 = cal_utc_offset(c, (time_t)in->day[d + 1]);
		if (o1 != in->offs[in->n_offs - 1].off && in->n_offs < (size_t)n + 2)
			in->offs[in->n_offs++] =
			    (struct report_offset){ transition(c, in->day[d], in->day[d + 1]), o1 };
	}
	/* business hours */
	free(in->open);
	in->open = NULL;
	in->n_open = 0;
	size_t cap = 0;
	if (business) {
		time_t t = (time_t)in->from;
		while (t < (time_t)in->to) {
			time_t a = cal_next_open(c, t);
			if (a == (time_t)-1 || a >= (time_t)in->to)
				break;
			time_t b = cal_next_change(c, a);
			if (b == (time_t)-1 || b > (time_t)in->to)
				b = (time_t)in->to; /* open throughout (24x7) */
			if (in->n_open == cap) {
				cap = cap ? cap * 2 : 64;
				in->open = xrealloc(in->open, cap * sizeof *in->open);
			}
			in->open[in->n_open++] = (struct report_span){ (double)a, (double)b };
			t = b;
		}
	}
	free(in->calendar);
	in->calendar = business && cal_name ? xstrdup(cal_name) : NULL;
	return 0;
}

double report_first_business_day(const struct cal *c, int year, int month)
{
	time_t from = cal_local_time(c, year, month, 1, 0, 0, 0);
	int ny = month == 12 ? year + 1 : year, nm = month == 12 ? 1 : month + 1;
	time_t to = cal_local_time(c, ny, nm, 1, 0, 0, 0);
	if (from == (time_t)-1 || to == (time_t)-1)
		return -1;
	time_t t = cal_next_open(c, from);
	if (t == (time_t)-1 || t >= to)
		return -1;
	return (double)t;
}

int report_due(const struct cal *c, double now, int *year, int *month, double *at)
{
	time_t lt = (time_t)now + cal_utc_offset(c, (time_t)now);
	struct tm tm;
	gmtime_r(&lt, &tm);
	int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
	double fb = report_first_business_day(c, y, m);
	*at = fb;
	*year = m == 1 ? y - 1 : y;
	*month = m == 1 ? 12 : m - 1;
	return fb >= 0 && now >= fb;
}

char *report_summary_html(const char *summary, const char *lang, const char *title)
{
	struct rbuf b = { 0 };
	rbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"");
	rbuf_html(&b, lang);
	rbuf_puts(&b, "\"><head><meta charset=\"utf-8\"><title>");
	rbuf_html(&b, title);
	rbuf_puts(&b, "</title></head><body><h1 style=\"font-size:16px\">");
	rbuf_html(&b, title);
	rbuf_puts(&b, "</h1><p>");
	rbuf_html(&b, summary);
	rbuf_puts(&b, "</p></body></html>\n");
	return b.p;
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void report_input_add_check(struct report_input *in, const char *asset, const char *asset_type,
                            const char *check, const char *plugin, const char *service)
{
	if ((in->n_checks & (in->n_checks + 1)) == 0 || in->n_checks == 0)
		in->checks = xrealloc(in->checks, (2 * in->n_checks + 2) * sizeof *in->checks);
	struct report_check *c = &in->checks[in->n_checks++];
	c->asset = xstrdup(asset ? asset : "");
	c->asset_type = xstrdup(asset_type ? asset_type : "");
	c->check = xstrdup(check ? check : "");
	c->plugin = xstrdup(plugin ? plugin : "");
	c->service = xstrdup(service ? service : "other");
}

void report_input_add_tier(struct report_input *in, const char *center, const char *tier,
                           double ack_within, double resolve_within)
{
	in->tiers = xrealloc(in->tiers, (in->n_tiers + 1) * sizeof *in->tiers);
	struct report_tier *t = &in->tiers[in->n_tiers++];
	t->center = center ? xstrdup(center) : NULL;
	t->tier = xstrdup(tier ? tier : "");
	t->ack_within = ack_within;
	t->resolve_within = resolve_within;
}

struct report_input *report_input_dup(const struct report_input *in)
{
	struct report_input *o = xcalloc(1, sizeof *o);
	*o = *in;
	o->customer = dup0(in->customer);
	o->name = dup0(in->name);
	o->tz = dup0(in->tz);
	o->calendar = dup0(in->calendar);
	o->datadir = dup0(in->datadir);
	o->offs = NULL;
	if (in->n_offs) {
		o->offs = xcalloc(in->n_offs, sizeof *o->offs);
		memcpy(o->offs, in->offs, in->n_offs * sizeof *o->offs);
	}
	o->open = NULL;
	if (in->n_open) {
		o->open = xcalloc(in->n_open, sizeof *o->open);
		memcpy(o->open, in->open, in->n_open * sizeof *o->open);
	}
	o->checks = NULL;
	o->n_checks = 0;
	for (size_t i = 0; i < in->n_checks; i++) {
		const struct report_check *c = &in->checks[i];
		report_input_add_check(o, c->asset, c->asset_type, c->check, c->plugin, c->service);
	}
	o->tiers = NULL;
	o->n_tiers = 0;
	for (size_t i = 0; i < in->n_tiers; i++) {
		const struct report_tier *t = &in->tiers[i];
		report_input_add_tier(o, t->center, t->tier, t->ack_within, t->resolve_within);
	}
	return o;
}

void report_input_free(struct report_input *in)
{
	if (!in)
		return;
	free(in->customer);
	free(in->name);
	free(in->tz);
	free(in->calendar);
	free(in->datadir);
	free(in->offs);
	free(in->open);
	for (size_t i = 0; i < in->n_checks; i++) {
		free(in->checks[i].asset);
		free(in->checks[i].asset_type);
		free(in->checks[i].check);
		free(in->checks[i].plugin);
		free(in->checks[i].service);
	}
	free(in->checks);
	for (size_t i = 0; i < in->n_tiers; i++) {
		free(in->tiers[i].center);
		free(in->tiers[i].tier);
	}
	free(in->tiers);
	free(in);
}

const char *report_strerror(int err)
{
	switch (err) {
	case REPORT_OK: return "ok";
	case REPORT_E_INVALID: return "invalid request";
	case REPORT_E_STORE: return "the store cannot be read";
	case REPORT_E_RENDER: return "the report could not be rendered";
	case REPORT_E_BUSY: return "too many reports are being made";
	case REPORT_E_CLOSED: return "the report workers stopped";
	default: return "unknown error";
	}
}
