/*
 * series_read: the service layer's read of the perfdata history (see
 * app.h, "perfdata history") - the scope, the plan (which tier answers:
 * series_plan), one request to the store's reader thread, and a copy of
 * its answer for the caller.
 *
 * Must never: wait for the store on the loop, answer for a customer
 * outside the caller's scope (that is "not found", as for a check that
 * does not exist), or hand out the store's rows.
 */
#include "app/app_int.h"
#include "registry/registry.h"
#include "series/series.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series_req {
	app_series_fn fn;
	void *ud;
	struct series_plan plan;
	int exists;    /* the check is configured now */
	int one_label; /* a label was asked for */
};

void app_series_free(struct app_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->lines[i].label);
		free(s->lines[i].unit);
		free(s->lines[i].points);
	}
	free(s->lines);
	free(s);
}

static void on_series(void *ud, const struct store_read *rd)
{
	struct series_req *q = ud;
	int st = store_read_status(rd);
	size_t n = st == 0 ? store_read_series_count(rd) : 0;
	if (st != 0)
		q->fn(q->ud, st == STORE_ECLOSED ? APP_E_UNAVAILABLE : APP_E_INVALID,
		      store_read_error(rd), NULL);
	else if (!n && !store_read_more(rd) && (!q->exists || q->one_label))
		q->fn(q->ud, APP_E_NOTFOUND,
		      q->exists ? "no history for this label" : "no such check", NULL);
	else {
		struct app_series *s = xcalloc(1, sizeof *s);
		s->resolution = series_tier_name(q->plan.tier);
		s->from = q->plan.from;
		s->to = q->plan.to;
		s->step = q->plan.step;
		s->truncated = store_read_more(rd);
		s->lines = xcalloc(n ? n : 1, sizeof *s->lines);
		for (size_t i = 0; i < n; i++) {
			const struct store_series_row *r = store_read_series_at(rd, i);
			size_t np;
			const struct store_series_point *p = store_read_series_points(rd, i, &np);
			struct app_series_line *l = &s->lines[s->n++];
			l->label = xstrdup(r->label);
			l->unit = app__dup0(r->unit);
			l->points = xcalloc(np ? np : 1, sizeof *l->points);
			for (size_t j = 0; j < np; j++) {
				struct app_series_point *o = &l->points[l->n++];
				o->t = p[j].t;
				o->min = p[j].min;
				o->max = p[j].max;
				o->avg = p[j].n ? p[j].sum / p[j].n : 0;
				o->count = p[j].n;
			}
		}
		q->fn(q->ud, APP_OK, "", s);
	}
	free(q);
}

int app_series(struct app *a, const struct app_scope *sc, const char *customer, const char *asset,
               const char *check, const char *label, double from, double to, double step,
               app_series_fn fn, void *ud, char *msg, size_t msglen)
{
	if (!customer || !*customer || !asset || !*asset || !check || !*check || !fn) {
		snprintf(msg, msglen, "customer, asset and check are required");
		return APP_E_INVALID;
	}
	if (label && !*label) {
		snprintf(msg, msglen, "label must not be empty (omit it for every label)");
		return APP_E_INVALID;
	}
	if (!app__customer_in_scope(sc, customer)) {
		snprintf(msg, msglen, "no such check"); /* as for one that does not exist */
		return APP_E_NOTFOUND;
	}
	if (!a->d.store || !a->d.series) {
		snprintf(msg, msglen, "no perfdata history: nothing is stored");
		return APP_E_UNAVAILABLE;
	}
	struct series_plan plan;
	if (series_plan(series_get_conf(a->d.series), app__now(a), from, to, step,
	                APP_SERIES_MAX_POINTS, &plan, msg, msglen) != 0)
		return APP_E_INVALID;
	struct store_series_query sq = { .customer = customer,
		                         .asset = asset,
		                         .check = check,
		                         .label = label,
		                         .tier = plan.tier,
		                         .from = plan.from,
		                         .to = plan.to,
		                         .step = plan.step,
		                         .max_points = APP_SERIES_MAX_POINTS };
	struct series_req *q = xcalloc(1, sizeof *q);
	q->fn = fn;
	q->ud = ud;
	q->plan = plan;
	q->exists = registry_check(a->d.reg, customer, asset, check) != NULL;
	q->one_label = label != NULL;
	int rc = store_read_series(a->d.store, &sq, on_series, q);
	if (rc != 0) {
		free(q);
		snprintf(msg, msglen, "%s", store_strerror(rc));
		return rc == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE;
	}
	return APP_OK;
}
