/*
 * app/report_sched: the monthly reports the service sends by itself - on
 * the first business day of a month in each customer's calendar, the
 * previous month's report of every customer with a `report` group is
 * made (PDF, with its summary paragraph) and handed to the delivery hook
 * (the e-mail channel's outbox: app_set_report_delivery).
 *
 * Once: a report handed on is recorded (report_run, through the journal)
 * in the same batch as whatever the hook appends to it - the outbox rows
 * of the mails - so after a restart it is neither made nor sent again,
 * and never lost between the two.  Without a hook the report is made and
 * recorded as 'no_delivery' (logged), so turning delivery on later does
 * not send old months.  A report that failed is tried again an hour
 * later (not recorded).
 *
 * Load: a minute's timer walks the customers (on the loop: a comparison
 * per customer and month, the due month computed once per calendar); at
 * most SCHED_INFLIGHT reports are with the workers at once, and each one
 * that comes back continues the walk where it stopped, so 5,000 customers
 * on the same morning never fill the workers' queue nor the memory, and
 * the workers are never idle while reports are due.
 *
 * Must never: send anything itself (the hook does), hand a report on
 * twice, block the loop.
 */
#include "app/app_int.h"
#include "journal/journal.h"
#include "registry/registry.h"
#include "report/report.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHED_EVERY    60.0 /* s between walks */
#define SCHED_INFLIGHT 8    /* reports with the workers at once */
#define SCHED_RETRY    3600.0

struct sched_job {
	struct app *a;
	char key[300]; /* "customer\nYYYY-MM" */
	char customer[128], month[8], lang[4], name[256];
	char **to;
	size_t n_to;
	/* on demand (app_report_send): the caller's answer; NULL: the schedule */
	app_report_sent_fn fn;
	void *ud;
};

/* An on-demand answer waiting for its rows to be written. */
struct sent_wait {
	app_report_sent_fn fn;
	void *ud;
	struct app_report_sent s;
};

static void walk(struct app *a);

static const struct cal *sched_cal(const struct app *a, const struct customer *cu)
{
	const char *name = app__report_calendar(a, cu);
	if (!name)
		name = "always";
	const struct model *m = &a->d.reg->m;
	for (size_t i = 0; i < m->n_calendars; i++)
		if (strcmp(m->calendars[i].name, name) == 0)
			return m->calendars[i].cal;
	return NULL;
}

static void mark(struct app *a, const char *key, double value)
{
	double *v = hmap_get(&a->sched_done, key, strlen(key));
	if (v) {
		*v = value;
		return;
	}
	v = xmalloc(sizeof *v);
	*v = value;
	char *k = xstrdup(key);
	hmap_put(&a->sched_done, k, strlen(k), v);
}

static void record(struct app *a, const char *customer, const char *month, const char *status,
                   const char *detail)
{
	struct store_batch *b = a->d.journal ? journal_batch(a->d.journal) : NULL;
	if (!b)
		return;
	struct store_report_run_row r = { .customer = customer,
		                          .month = month,
		                          .time = app__now(a),
		                          .status = status,
		                          .detail = detail };
	store_batch_report_run(b, &r);
}

static void job_free(struct sched_job *j)
{
	for (size_t i = 0; i < j->n_to; i++)
		free(j->to[i]);
	free(j->to);
	free(j);
}

static void sent_written(void *ud)
{
	struct sent_wait *w = ud;
	w->fn(w->ud, APP_OK, "", &w->s);
	free(w);
}

/* The mail of a report made: subject, file name, the summary as HTML,
 * handed to the hook.  1: handed (its rows are in the pending batch). */
static int hand(struct app *a, struct sched_job *j, struct report_result *res)
{
	struct app_report_mail m = {
		.customer = j->customer,
		.customer_name = j->name,
		.month = j->month,
		.lang = j->lang,
		.to = (const char *const *)j->to,
		.n_to = j->n_to,
		.summary = res->summary ? res->summary : "",
		.pdf = res->data,
		.pdf_len = res->len,
	};
	char file[200], subject[400];
	snprintf(file, sizeof file, "report-%s-%s.pdf", j->customer, j->month);
	for (char *p = file; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	if (strcmp(j->lang, "ja") == 0)
		snprintf(subject, sizeof subject, "月次セキュリティレポート %.4s年%d月 (%s 様)",
		         j->month, atoi(j->month + 5), j->name);
	else
		snprintf(subject, sizeof subject, "Monthly security report %s (%s)", j->month,
		         j->name);
	char *html = report_summary_html(m.summary, j->lang, subject);
	m.pdf_name = file;
	m.subject = subject;
	m.html = html;
	int handed = 0;
	if (a->sched_deliver && j->n_to)
		handed = a->sched_deliver(a->sched_deliver_ud, &m) == 0;
	free(html);
	return handed;
}

/* A report made on demand: handed to the hook, answered once its rows
 * are written (or with the error). */
static void on_demand_made(struct app *a, struct sched_job *j, struct report_result *res)
{
	if (res->err != REPORT_OK) {
		char msg[APP_MSG_MAX];
		snprintf(msg, sizeof msg, "the report could not be made: %.200s", res->msg);
		log_err("report", "%s %s: %s", j->customer, j->month, msg);
		j->fn(j->ud, res->err == REPORT_E_INVALID ? APP_E_INVALID : APP_E_UNAVAILABLE, msg,
		      NULL);
		return;
	}
	if (!hand(a, j, res)) {
		log_warn("report", "%s %s: not sent again: the delivery hook refused it",
		         j->customer, j->month);
		j->fn(j->ud, APP_E_UNAVAILABLE,
		      "the report was made but the e-mail channel refused it (see the log)", NULL);
		return;
	}
	record(a, j->customer, j->month, "handed", "sent again on request");
	mark(a, j->key, 1); /* the schedule never sends it on top */
	log_notice("report",
	           "%s %s: monthly report made in %.0f ms (%zu bytes), handed to"
	           " delivery again on request",
	           j->customer, j->month, res->seconds * 1000, res->len);
	struct sent_wait *w = xcalloc(1, sizeof *w);
	w->fn = j->fn;
	w->ud = j->ud;
	snprintf(w->s.customer, sizeof w->s.customer, "%s", j->customer);
	snprintf(w->s.month, sizeof w->s.month, "%s", j->month);
	snprintf(w->s.lang, sizeof w->s.lang, "%s", j->lang);
	w->s.n_to = j->n_to;
	w->s.bytes = res->len;
	if (a->d.journal)
		journal_ticket(a->d.journal, sent_written, w);
	else
		sent_written(w);
}

static void on_made(void *ud, struct report_result *res)
{
	struct sched_job *j = ud;
	struct app *a = j->a;
	if (j->fn) {
		on_demand_made(a, j, res);
		job_free(j);
		return;
	}
	a->sched_inflight--;
	if (res->err != REPORT_OK) {
		log_err("report", "%s %s: the monthly report failed: %s (tried again in an hour)",
		        j->customer, j->month, res->msg);
		mark(a, j->key, -(app__now(a) + SCHED_RETRY)); /* < 0: retry after */
		job_free(j);
		if (res->err != REPORT_E_CLOSED)
			walk(a);
		return;
	}
	int handed = hand(a, j, res);
	/* the record rides in the batch the hook's rows are in */
	record(a, j->customer, j->month, handed ? "handed" : "no_delivery",
	       handed             ? NULL
	       : a->sched_deliver ? "the delivery hook refused it"
	                          : "no e-mail channel");
	if (!handed)
		a->sched_undelivered++;
	a->sched_made++;
	mark(a, j->key, 1);
	log_info("report", "%s %s: monthly report made in %.0f ms (%zu bytes), %s", j->customer,
	         j->month, res->seconds * 1000, res->len,
	         handed ? "handed to delivery" : "not sent (no e-mail channel)");
	job_free(j);
	walk(a); /* the next one, if any is due */
}

/* One walk: every customer with a report group whose month is due. */
static void walk(struct app *a)
{
	if (!a->d.reports)
		return;
	double now = app__now(a);
	const struct model *m = &a->d.reg->m;
	/* the due month per calendar, computed once per walk (a handful of
	 * calendars, thousands of customers) */
	struct {
		const struct cal *c;
		int due, y, mo;
	} memo[16];
	size_t n_memo = 0;
	/* from where the last walk stopped, once around: a report that
	 * comes back starts the next one (on_made), so a morning of 5,000
	 * customers is one pass in pieces, not a scan per report */
	size_t n = m->n_custs;
	for (size_t step = 0; step < n && a->sched_inflight < SCHED_INFLIGHT; step++) {
		size_t i = (a->sched_cursor + step) % n;
		a->sched_next = (i + 1) % n;
		const struct customer *cu = m->custs[i];
		if (!cu->report_set)
			continue;
		const struct cal *c = sched_cal(a, cu);
		if (!c)
			continue;
		int y = 0, mo = 0, due = -1;
		for (size_t k = 0; k < n_memo && due < 0; k++)
			if (memo[k].c == c) {
				due = memo[k].due;
				y = memo[k].y;
				mo = memo[k].mo;
			}
		if (due < 0) {
			double at;
			due = report_due(c, now, &y, &mo, &at);
			if (n_memo < 16)
				memo[n_memo++] = (__typeof__(memo[0])){ c, due, y, mo };
		}
		if (!due)
			continue;
		char key[300];
		snprintf(key, sizeof key, "%s\n%04d-%02d", cu->id, y, mo);
		double *st = hmap_get(&a->sched_done, key, strlen(key));
		if (st && (*st >= 0 || -*st > now))
			continue; /* done, with the workers, or waiting to retry */
		struct sched_job *j = xcalloc(1, sizeof *j);
		j->a = a;
		snprintf(j->key, sizeof j->key, "%s", key);
		snprintf(j->customer, sizeof j->customer, "%s", cu->id);
		snprintf(j->month, sizeof j->month, "%04d-%02d", y, mo);
		snprintf(j->name, sizeof j->name, "%s", cu->name && *cu->name ? cu->name : cu->id);
		j->to = xcalloc(cu->n_report_email + 1, sizeof *j->to);
		for (size_t k = 0; k < cu->n_report_email; k++)
			j->to[j->n_to++] = xstrdup(cu->report_email[k]);
		char msg[256] = "";
		struct report_input *in =
		    app__report_input(a, cu, y, mo, NULL, REPORT_PDF, msg, sizeof msg);
		if (!in) {
			log_err("report", "%s %04d-%02d: %s", cu->id, y, mo, msg);
			mark(a, key, -(now + SCHED_RETRY));
			job_free(j);
			continue;
		}
		snprintf(j->lang, sizeof j->lang, "%s", in->lang);
		int rc = report_pool_submit(a->d.reports, in, 1, on_made, j);
		report_input_free(in);
		if (rc != REPORT_OK) {
			job_free(j);
			break; /* the workers are full: the next walk */
		}
		mark(a, key, 0); /* with the workers */
		a->sched_inflight++;
	}
	a->sched_cursor = a->sched_next;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct app *a = w->data;
	if (a->sched_on)
		walk(a);
}

static void on_run_row(void *ud, const struct store_report_run_row *r)
{
	struct app *a = ud;
	if (strcmp(r->status, "failed") == 0)
		return;
	char key[300];
	snprintf(key, sizeof key, "%s\n%s", r->customer, r->month);
	mark(a, key, 1);
}

void app__sched_init(struct app *a)
{
	hmap_init(&a->sched_done);
	if (a->d.store) {
		/* the reports of the last months already made: never twice */
		time_t t = (time_t)app__now(a) - 70 * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		char since[24];
		snprintf(since, sizeof since, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
		store_load_report_runs(a->d.store, since, on_run_row, a);
	}
	if (a->d.loop) {
		ev_timer_init(&a->sched_timer, on_tick, 5.0, SCHED_EVERY);
		a->sched_timer.data = a;
	}
}

void app__sched_free(struct app *a)
{
	if (a->d.loop && ev_is_active(&a->sched_timer)) {
		ev_ref(a->d.loop);
		ev_timer_stop(a->d.loop, &a->sched_timer);
	}
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->sched_done, &it, &e)) {
		free((void *)e->key);
		free(e->value);
	}
	hmap_free(&a->sched_done);
}

void app_report_schedule(struct app *a, int on)
{
	a->sched_on = on;
	if (!a->d.loop)
		return;
	if (on && !ev_is_active(&a->sched_timer)) {
		ev_timer_start(a->d.loop, &a->sched_timer);
		ev_unref(a->d.loop); /* the schedule alone keeps no loop alive */
	} else if (!on && ev_is_active(&a->sched_timer)) {
		ev_ref(a->d.loop);
		ev_timer_stop(a->d.loop, &a->sched_timer);
	}
}

void app_report_schedule_now(struct app *a)
{
	walk(a);
}

void app_set_report_delivery(struct app *a, app_report_deliver_fn fn, void *ud)
{
	a->sched_deliver = fn;
	a->sched_deliver_ud = ud;
}

void app_report_schedule_stats(const struct app *a, unsigned long long *made,
                               unsigned long long *undelivered, unsigned *inflight)
{
	*made = a->sched_made;
	*undelivered = a->sched_undelivered;
	*inflight = a->sched_inflight;
}

int app_report_send(struct app *a, const struct app_scope *sc, const char *customer,
                    const char *month, const char *lang, app_report_sent_fn fn, void *ud, char *msg,
                    size_t msglen)
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
	const struct customer *cu = customer ? registry_customer(a->d.reg, customer) : NULL;
	if (!cu || !app__customer_in_scope(sc, customer)) {
		snprintf(msg, msglen, "no such customer");
		return APP_E_NOTFOUND;
	}
	if (!cu->n_report_email) {
		snprintf(msg, msglen, "customer %s has no report e-mail addresses (report.email)",
		         cu->id);
		return APP_E_STATE;
	}
	if (!a->d.reports || !a->sched_deliver) {
		snprintf(msg, msglen,
		         "reports cannot be sent here (no store or no e-mail channel)");
		return APP_E_UNAVAILABLE;
	}
	struct report_input *in =
	    app__report_input(a, cu, year, mon, lang, REPORT_PDF, msg, msglen);
	if (!in)
		return APP_E_INVALID;
	if (in->now < in->to) {
		snprintf(msg, msglen, "the month %s has not ended: only a whole month is sent",
		         month);
		report_input_free(in);
		return APP_E_INVALID;
	}
	struct sched_job *j = xcalloc(1, sizeof *j);
	j->a = a;
	j->fn = fn;
	j->ud = ud;
	snprintf(j->key, sizeof j->key, "%s\n%04d-%02d", cu->id, year, mon);
	snprintf(j->customer, sizeof j->customer, "%s", cu->id);
	snprintf(j->month, sizeof j->month, "%04d-%02d", year, mon);
	snprintf(j->name, sizeof j->name, "%s", cu->name && *cu->name ? cu->name : cu->id);
	snprintf(j->lang, sizeof j->lang, "%s", in->lang);
	j->to = xcalloc(cu->n_report_email + 1, sizeof *j->to);
	for (size_t k = 0; k < cu->n_report_email; k++)
		j->to[j->n_to++] = xstrdup(cu->report_email[k]);
	int rc = report_pool_submit(a->d.reports, in, 1, on_made, j);
	report_input_free(in);
	if (rc != REPORT_OK) {
		snprintf(msg, msglen, "%s", report_strerror(rc));
		job_free(j);
		return APP_E_UNAVAILABLE;
	}
	return APP_OK;
}
