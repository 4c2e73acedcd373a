/*
 * summary: the SLA summary per center and customer (app.h, app_sla) -
 * open alerts, those due within the hour, breaches and the median time to
 * acknowledge of this month - read from the store on its reader thread
 * (resolved alerts are pruned from memory; the month's are in the store).
 *
 * The scope is app_alerts_stored's: the caller's centers (an alert's
 * owner or a copy) and customers, narrowed by the center and customer
 * filters, each of which must lie inside the scope.  A row is keyed by the
 * alert's owning center, so a center that sees another's alerts through
 * copies gets rows of that center counting only those copies.
 *
 * "This month" is the calendar month of now in UTC, [first day 00:00Z,
 * first day of the next month 00:00Z).  A center's or customer's own
 * calendar zone (Asia/Tokyo: the month starts at 15:00Z the day before)
 * is not at hand here: the calendars belong to alerting's SLA terms, not
 * to the service layer, and one result has one window.  The window is
 * returned with the figures so that a client can show it.
 *
 * Must never: wait for the store on the loop; hand out the store's rows.
 */
#include "app/app_int.h"
#include "store/store.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUE_WITHIN 3600.0 /* "due within 1 h" */

/* [start, end) of the UTC calendar month containing t. */
static int utc_month(double t, double *start, double *end)
{
	if (!isfinite(t) || t < 0 || t > 253402300799.0) /* 9999-12-31T23:59:59Z */
		return -1;
	time_t s = (time_t)floor(t);
	struct tm tm;
	if (!gmtime_r(&s, &tm))
		return -1;
	struct tm first = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = 1 };
	struct tm next = first;
	if (++next.tm_mon == 12) {
		next.tm_mon = 0;
		next.tm_year++;
	}
	*start = (double)timegm(&first);
	*end = (double)timegm(&next);
	return 0;
}

struct sla_req {
	app_sla_fn fn;
	void *ud;
	double month_start, month_end;
};

void app_sla_free(struct app_sla *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->rows[i].center);
		free(s->rows[i].customer);
	}
	free(s->rows);
	free(s);
}

static void on_sla(void *ud, const struct store_read *rd)
{
	struct sla_req *q = ud;
	int st = store_read_status(rd);
	if (st != 0) {
		/* the database failed or closed: the caller may try again */
		q->fn(q->ud, st == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE,
		      store_read_error(rd), NULL);
		free(q);
		return;
	}
	struct app_sla *s = xcalloc(1, sizeof *s);
	s->month_start = q->month_start;
	s->month_end = q->month_end;
	size_t n = store_read_sla_count(rd);
	s->rows = xcalloc(n ? n : 1, sizeof *s->rows);
	for (size_t i = 0; i < n; i++) {
		const struct store_sla_row *r = store_read_sla_at(rd, i);
		struct app_sla_row *o = &s->rows[s->n++];
		o->center = r->center ? xstrdup(r->center) : NULL;
		o->customer = app__dup0(r->customer);
		o->open = (unsigned long long)r->open;
		o->due_1h = (unsigned long long)r->due;
		o->breached_month = (unsigned long long)r->breached;
		o->acked_month = (unsigned long long)r->acked;
		o->median_ack = r->acked > 0 ? r->median_ack : -1;
	}
	q->fn(q->ud, APP_OK, "", s);
	free(q);
}

int app_sla(struct app *a, const struct app_scope *sc, const char *center, const char *customer,
            app_sla_fn fn, void *ud, char *msg, size_t msglen)
{
	if (!a->d.store) {
		snprintf(msg, msglen, "nothing is stored (no state directory)");
		return APP_E_UNAVAILABLE;
	}
	if (!sc || !fn) {
		snprintf(msg, msglen, "no scope or no callback");
		return APP_E_INVALID;
	}
	struct store_sla_query q = { .now = app__now(a), .due_within = DUE_WITHIN };
	if (utc_month(q.now, &q.month_start, &q.month_end) != 0) {
		snprintf(msg, msglen, "the clock is not a usable time");
		return APP_E_INVALID;
	}
	/* the scope first, then the filters within it (app_alerts_stored) */
	const char *one_center[1], *one_customer[1];
	if (!sc->all) {
		if (!sc->n_centers && !sc->read_by_customer) {
			snprintf(msg, msglen, "your scope has no contact center");
			return APP_E_FORBIDDEN;
		}
		if (!sc->read_by_customer) {
			q.centers = sc->centers;
			q.n_centers = sc->n_centers;
		}
		q.customers = sc->customers;
		q.n_customers = sc->n_customers;
	}
	if (center) {
		if (!sc->read_by_customer && !app__center_in_scope(sc, center)) {
			snprintf(msg, msglen, "center '%s' is outside your scope", center);
			return APP_E_FORBIDDEN;
		}
		one_center[0] = center;
		q.centers = one_center;
		q.n_centers = 1;
	}
	if (customer) {
		if (!app__customer_in_scope(sc, customer)) {
			snprintf(msg, msglen, "customer '%s' is outside your scope", customer);
			return APP_E_FORBIDDEN;
		}
		one_customer[0] = customer;
		q.customers = one_customer;
		q.n_customers = 1;
	}
	if (store_sla_query_check(&q, msg, msglen) != 0)
		return APP_E_INVALID;
	struct sla_req *r = xmalloc(sizeof *r);
	r->fn = fn;
	r->ud = ud;
	r->month_start = q.month_start;
	r->month_end = q.month_end;
	int rc = store_read_sla(a->d.store, &q, on_sla, r);
	if (rc != 0) {
		free(r);
		snprintf(msg, msglen, "%s", store_strerror(rc));
		return rc == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE;
	}
	return APP_OK;
}
