/*
 * app/report: the monthly customer report through the service layer -
 * scope, arguments, the snapshot of the configuration a report needs
 * (src/report's step 1, on the loop thread: copies only), and the hand-
 * over to the report workers, whose answer comes back on the loop.
 *
 * Which calendar a customer's report is counted in: its `report.calendar`,
 * else the calendar of its SLA contract, else `reports.calendar`; without
 * any, the report counts all hours only (in UTC) and says so.
 *
 * Must never: read the store here (the workers do), keep a registry or
 * calendar pointer in what it hands over.
 */
#include "app/app_int.h"
#include "alerting/alerting.h"
#include "registry/registry.h"
#include "report/report.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cal *cal_named(const struct app *a, const char *name)
{
	const struct model *m = &a->d.reg->m;
	for (size_t i = 0; name && i < m->n_calendars; i++)
		if (strcmp(m->calendars[i].name, name) == 0)
			return m->calendars[i].cal;
	return NULL;
}

void app_set_report_defaults(struct app *a, const char *calendar, const char *lang)
{
	free(a->report_calendar);
	a->report_calendar = calendar ? xstrdup(calendar) : NULL;
	snprintf(a->report_lang, sizeof a->report_lang, "%s", lang && *lang ? lang : "ja");
}

const char *app__report_calendar(const struct app *a, const struct customer *cu)
{
	if (cu->report_calendar && cal_named(a, cu->report_calendar))
		return cu->report_calendar;
	if (cu->sla_calendar && cal_named(a, cu->sla_calendar))
		return cu->sla_calendar;
	if (a->report_calendar && cal_named(a, a->report_calendar))
		return a->report_calendar;
	return NULL;
}

struct report_input *app__report_input(struct app *a, const struct customer *cu, int year,
                                       int month, const char *lang, int format, char *msg,
                                       size_t msglen)
{
	struct report_input *in = xcalloc(1, sizeof *in);
	in->customer = xstrdup(cu->id);
	in->name = xstrdup(cu->name && *cu->name ? cu->name : cu->id);
	snprintf(in->lang, sizeof in->lang, "%s",
	         lang              ? lang
	         : cu->report_lang ? cu->report_lang
	                           : a->report_lang);
	in->format = format;
	in->year = year;
	in->month = month;
	in->now = app__now(a);
	in->datadir = xstrdup(a->d.datadir ? a->d.datadir : ".");
	const char *cname = app__report_calendar(a, cu);
	const struct cal *c = cal_named(a, cname);
	/* no calendar: the month in UTC, no business hours ("always" is
	 * there in every configuration: UTC, 24x7) */
	const struct cal *zone = c ? c : cal_named(a, "always");
	if (!zone || report_input_calendar(in, zone, cname, c != NULL) != 0) {
		snprintf(msg, msglen, "the month %04d-%02d cannot be placed in calendar '%s'", year,
		         month, cname ? cname : "always");
		report_input_free(in);
		return NULL;
	}
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&cu->assets, &it, &e)) {
		const struct asset *as = e->value;
		for (const struct check *k = as->checks; k; k = k->anext)
			report_input_add_check(in, as->name, as->type, k->name,
			                       k->pi ? k->pi->name : "",
			                       service_name(k->p.service));
	}
	/* the SLA terms its alerts run on, stated in the alert section */
	struct alerting_tier tiers[16];
	size_t n_tiers = alerting_customer_tiers(a->d.alerting, cu, tiers, 16);
	for (size_t i = 0; i < n_tiers; i++)
		report_input_add_tier(in, tiers[i].center, tiers[i].tier, tiers[i].ack_within,
		                      tiers[i].resolve_within);
	return in;
}

struct rq {
	app_report_fn fn;
	void *ud;
	int format;
	char filename[160];
};

static void on_made(void *ud, struct report_result *res)
{
	struct rq *q = ud;
	if (res->err != REPORT_OK) {
		int err = res->err == REPORT_E_INVALID ? APP_E_INVALID : APP_E_UNAVAILABLE;
		q->fn(q->ud, err, res->msg, NULL);
		free(q);
		return;
	}
	struct app_report *r = xcalloc(1, sizeof *r);
	r->data = res->data;
	r->len = res->len;
	res->data = NULL;
	r->summary = res->summary;
	res->summary = NULL;
	r->seconds = res->seconds;
	r->type = q->format == REPORT_PDF ? "application/pdf" : "text/html; charset=utf-8";
	snprintf(r->filename, sizeof r->filename, "%s", q->filename);
	q->fn(q->ud, APP_OK, "", r);
	free(q);
}

int app_report(struct app *a, const struct app_scope *sc, const char *customer, const char *month,
               const char *lang, const char *format, int want_summary, app_report_fn fn, void *ud,
               char *msg, size_t msglen)
{
	int year, mon;
	if (!month || report_parse_month(month, &year, &mon) != 0) {
		snprintf(msg, msglen, "month: YYYY-MM");
		return APP_E_INVALID;
	}
	if (lang && strcmp(lang, "ja") && strcmp(lang, "en")) {
		snprintf(msg, msglen, "lang: ja or en");
		return APP_E_INVALID;
	}
	int fmt = REPORT_HTML;
	if (format && strcmp(format, "pdf") == 0)
		fmt = REPORT_PDF;
	else if (format && strcmp(format, "html") != 0) {
		snprintf(msg, msglen, "format: html or pdf");
		return APP_E_INVALID;
	}
	const struct customer *cu = registry_customer(a->d.reg, customer);
	if (!cu || !app__customer_in_scope(sc, customer)) {
		snprintf(msg, msglen, "no such customer");
		return APP_E_NOTFOUND;
	}
	if (!a->d.reports) {
		snprintf(msg, msglen, "reports are not made here (no store)");
		return APP_E_UNAVAILABLE;
	}
	struct report_input *in = app__report_input(a, cu, year, mon, lang, fmt, msg, msglen);
	if (!in)
		return APP_E_INVALID;
	if (in->now < in->from) {
		snprintf(msg, msglen, "the month %s has not begun yet", month);
		report_input_free(in);
		return APP_E_INVALID;
	}
	struct rq *q = xcalloc(1, sizeof *q);
	q->fn = fn;
	q->ud = ud;
	q->format = fmt;
	snprintf(q->filename, sizeof q->filename, "report-%s-%s-%s.%s", cu->id, month, in->lang,
	         fmt == REPORT_PDF ? "pdf" : "html");
	/* a name any client takes as it is (a header value, a file name) */
	for (char *p = q->filename; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	int rc = report_pool_submit(a->d.reports, in, want_summary, on_made, q);
	report_input_free(in);
	if (rc != REPORT_OK) {
		snprintf(msg, msglen, "%s", report_strerror(rc));
		free(q);
		return APP_E_UNAVAILABLE;
	}
	return APP_OK;
}

void app_report_free(struct app_report *r)
{
	if (!r)
		return;
	free(r->data);
	free(r->summary);
	free(r);
}
