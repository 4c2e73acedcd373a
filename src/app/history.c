/*
 * history: the service layer's reads of what the store keeps - alert
 * pages beyond memory and one alert's whole history - through the
 * store's reader thread (see app.h).  Results are copied out of the
 * store's read before its callback returns.
 *
 * Must never: wait for the store on the loop; hand out the store's rows.
 */
#include "app/app_int.h"
#include "alert/alert.h"
#include "store/store.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupn(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static const char *severity_of(int state)
{
	static const char *const names[] = { "ok", "warning", "critical", "unknown" };
	return names[state & 3];
}

/* The stored alert is in scope through its center or one it was also
 * sent to (`also`, a JSON array of names), and its customer. */
static int row_in_scope(const struct app_scope *sc, const struct store_alert_row *r)
{
	if (sc->all)
		return 1;
	if (!app__customer_in_scope(sc, r->customer))
		return 0;
	if (sc->read_by_customer || app__center_in_scope(sc, r->center))
		return 1;
	for (size_t i = 0; r->also && i < sc->n_centers; i++) {
		char q[160];
		snprintf(q, sizeof q, "\"%s\"", sc->centers[i]);
		if (strstr(r->also, q))
			return 1;
	}
	return 0;
}

static void copy_row(const struct store_alert_row *r, struct app_alert *o)
{
	memset(o, 0, sizeof *o);
	o->id = xstrdup(r->id);
	o->key = app__dup0(r->check_key);
	o->customer = app__dup0(r->customer);
	o->asset = app__dup0(r->asset);
	o->check = app__dup0(r->check_name);
	o->service = app__dup0(r->service);
	o->summary = app__dup0(r->summary);
	o->center = dupn(r->center);
	o->tier = dupn(r->tier_name);
	o->status = app__dup0(r->status);
	o->severity = xstrdup(severity_of(r->state));
	o->acked_by = dupn(r->acked_by);
	o->runbook = dupn(r->runbook);
	o->seq = (uint32_t)r->seq;
	o->count = (uint32_t)r->count;
	o->opened_at = r->opened_at;
	o->updated_at = r->updated_at;
	o->acked_at = r->acked_at;
	o->resolved_at = r->resolved_at;
	o->ack_due = r->acked ? 0 : r->ack_due;
	o->resolve_due = r->resolve_due;
	o->paused = r->paused != 0;
	o->waiting = !!(r->paused & SLA_PAUSE_WAIT);
	o->in_downtime = !!(r->paused & SLA_PAUSE_DOWNTIME);
	o->ack_breached = r->ack_breached;
	o->resolve_breached = r->resolve_breached;
}

/* ---- pages ---- */

struct page_req {
	app_alerts_fn fn;
	void *ud;
	unsigned limit;
};

static void on_page(void *ud, const struct store_read *rd)
{
	struct page_req *q = ud;
	int st = store_read_status(rd);
	if (st != 0) {
		q->fn(q->ud, st == STORE_ECLOSED ? APP_E_UNAVAILABLE : APP_E_INVALID,
		      store_read_error(rd), NULL);
		free(q);
		return;
	}
	struct app_alerts *l = xcalloc(1, sizeof *l);
	size_t n = store_read_alert_count(rd);
	l->rows = xcalloc(n ? n : 1, sizeof *l->rows);
	for (size_t i = 0; i < n; i++)
		copy_row(store_read_alert_at(rd, i), &l->rows[l->n++]);
	if (store_read_more(rd) && l->n)
		l->next = xasprintf("%.17g|%s", l->rows[l->n - 1].opened_at, l->rows[l->n - 1].id);
	q->fn(q->ud, APP_OK, "", l);
	free(q);
}

int app_alerts_stored(struct app *a, const struct app_scope *sc, const struct app_alert_filter *f,
                      const struct app_page *pg, app_alerts_fn fn, void *ud, char *msg,
                      size_t msglen)
{
	if (!a->d.store) {
		snprintf(msg, msglen, "nothing is stored (no state directory)");
		return APP_E_UNAVAILABLE;
	}
	unsigned limit = pg && pg->limit ? pg->limit : 100;
	if (limit > APP_PAGE_MAX) {
		snprintf(msg, msglen, "limit must be 1..%d", APP_PAGE_MAX);
		return APP_E_INVALID;
	}
	struct store_alert_query q = { .severity = -1, .limit = limit };
	/* the scope first, then the filter within it */
	const char *one_center[1], *one_customer[1];
	if (!sc->all) {
		if (!sc->read_by_customer) {
			q.centers = sc->centers;
			q.n_centers = sc->n_centers;
		}
		q.customers = sc->customers;
		q.n_customers = sc->n_customers;
		if (!sc->n_centers && !sc->read_by_customer) {
			snprintf(msg, msglen, "your scope has no contact center");
			return APP_E_FORBIDDEN;
		}
	}
	if (f && f->center) {
		if (!sc->read_by_customer && !app__center_in_scope(sc, f->center)) {
			snprintf(msg, msglen, "center '%s' is outside your scope", f->center);
			return APP_E_FORBIDDEN;
		}
		one_center[0] = f->center;
		q.centers = one_center;
		q.n_centers = 1;
	}
	if (f && f->customer) {
		if (!app__customer_in_scope(sc, f->customer)) {
			snprintf(msg, msglen, "customer '%s' is outside your scope", f->customer);
			return APP_E_FORBIDDEN;
		}
		one_customer[0] = f->customer;
		q.customers = one_customer;
		q.n_customers = 1;
	}
	if (f) {
		q.status = f->status;
		q.service = f->service;
		q.severity = f->severity;
		q.due_before = f->due_before;
		q.check_key = f->check_key;
	}
	if (pg && pg->after) {
		const char *bar = strchr(pg->after, '|');
		char *end = NULL;
		double t = bar ? strtod(pg->after, &end) : 0;
		if (!bar || end != bar || !bar[1]) {
			snprintf(msg, msglen, "bad cursor");
			return APP_E_INVALID;
		}
		q.after_opened = t;
		q.after_id = bar + 1;
	}
	if (store_alert_query_check(&q, msg, msglen) != 0)
		return APP_E_INVALID;
	struct page_req *r = xmalloc(sizeof *r);
	r->fn = fn;
	r->ud = ud;
	r->limit = limit;
	int rc = store_read_alerts(a->d.store, &q, on_page, r);
	if (rc != 0) {
		free(r);
		snprintf(msg, msglen, "%s", store_strerror(rc));
		return rc == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE;
	}
	return APP_OK;
}

/* ---- one alert's history ---- */

struct hist_req {
	app_history_fn fn;
	void *ud;
	struct app_scope sc; /* the caller keeps its arrays until the callback */
};

void app_history_free(struct app_history *h)
{
	if (!h)
		return;
	app_alert_clear(&h->alert);
	for (size_t i = 0; i < h->n_events; i++) {
		free(h->events[i].type);
		free(h->events[i].actor);
		free(h->events[i].note);
		free(h->events[i].cmd_id);
		free(h->events[i].json);
	}
	free(h->events);
	for (size_t i = 0; i < h->n_dispatches; i++) {
		free(h->dispatches[i].actor);
		free(h->dispatches[i].vendor);
		free(h->dispatches[i].result);
	}
	free(h->dispatches);
	free(h);
}

static void on_history(void *ud, const struct store_read *rd)
{
	struct hist_req *q = ud;
	int st = store_read_status(rd);
	const struct store_alert_row *row = st == 0 ? store_read_history_alert(rd) : NULL;
	if (st != 0)
		q->fn(q->ud, st == STORE_ECLOSED ? APP_E_UNAVAILABLE : APP_E_INVALID,
		      store_read_error(rd), NULL);
	else if (!row)
		q->fn(q->ud, APP_E_NOTFOUND, "unknown alert", NULL);
	else if (!row_in_scope(&q->sc, row))
		q->fn(q->ud, APP_E_FORBIDDEN, "the alert belongs to another center", NULL);
	else {
		struct app_history *h = xcalloc(1, sizeof *h);
		copy_row(row, &h->alert);
		h->truncated = store_read_more(rd);
		size_t ne = store_read_event_count(rd), nd = store_read_dispatch_count(rd);
		h->events = xcalloc(ne ? ne : 1, sizeof *h->events);
		for (size_t i = 0; i < ne; i++) {
			const struct store_event_row *e = store_read_event_at(rd, i);
			struct app_alert_event *o = &h->events[h->n_events++];
			o->seq = (uint32_t)e->seq;
			o->time = e->time;
			o->type = app__dup0(e->type);
			o->actor = app__dup0(e->actor);
			o->note = dupn(e->note);
			o->cmd_id = dupn(e->cmd_id);
			o->json = dupn(e->payload);
		}
		h->dispatches = xcalloc(nd ? nd : 1, sizeof *h->dispatches);
		for (size_t i = 0; i < nd; i++) {
			const struct store_dispatch_row *d = store_read_dispatch_at(rd, i);
			struct app_dispatch *o = &h->dispatches[h->n_dispatches++];
			o->seq = (uint32_t)d->seq;
			o->time = d->time;
			o->planned_at = d->planned_at;
			o->actor = app__dup0(d->actor);
			o->vendor = dupn(d->vendor);
			o->result = dupn(d->result);
		}
		q->fn(q->ud, APP_OK, "", h);
	}
	free(q);
}

int app_alert_history(struct app *a, const struct app_scope *sc, const char *id, app_history_fn fn,
                      void *ud)
{
	if (!a->d.store)
		return APP_E_UNAVAILABLE;
	if (!id || !*id)
		return APP_E_INVALID;
	struct hist_req *q = xmalloc(sizeof *q);
	q->fn = fn;
	q->ud = ud;
	q->sc = *sc;
	int rc = store_read_alert_history(a->d.store, id, on_history, q);
	if (rc != 0) {
		free(q);
		return rc == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE;
	}
	return APP_OK;
}

/* ---- alert events since a time (a live stream's resume) ---- */

struct since_req {
	app_events_since_fn fn;
	void *ud;
};

void app_stored_events_free(struct app_stored_events *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].alert_id);
		free(l->rows[i].json);
	}
	free(l->rows);
	free(l);
}

static void on_since(void *ud, const struct store_read *rd)
{
	struct since_req *q = ud;
	int st = store_read_status(rd);
	if (st != 0) {
		q->fn(q->ud, APP_E_UNAVAILABLE, store_strerror(st), NULL);
		free(q);
		return;
	}
	struct app_stored_events *l = xcalloc(1, sizeof *l);
	size_t n = store_read_event_count(rd);
	l->rows = xcalloc(n ? n : 1, sizeof *l->rows);
	for (size_t i = 0; i < n; i++) {
		const struct store_event_row *e = store_read_event_at(rd, i);
		if (!e->payload || !e->alert_id)
			continue;
		struct app_stored_event *o = &l->rows[l->n++];
		o->alert_id = xstrdup(e->alert_id);
		o->seq = (uint32_t)e->seq;
		o->time = e->time;
		o->json = xstrdup(e->payload);
	}
	l->truncated = store_read_more(rd);
	q->fn(q->ud, APP_OK, NULL, l);
	free(q);
}

int app_events_since(struct app *a, const struct app_scope *sc, double after, unsigned limit,
                     app_events_since_fn fn, void *ud, char *msg, size_t msglen)
{
	if (!a->d.store) {
		snprintf(msg, msglen, "nothing is stored (no state directory)");
		return APP_E_UNAVAILABLE;
	}
	const char *const *centers = NULL, *const *customers = NULL;
	size_t nc = 0, nu = 0;
	if (!sc->all) {
		if (!sc->read_by_customer) {
			centers = sc->centers;
			nc = sc->n_centers;
			if (!nc) {
				snprintf(msg, msglen, "your scope has no contact center");
				return APP_E_FORBIDDEN;
			}
		}
		customers = sc->customers;
		nu = sc->n_customers;
	}
	struct since_req *q = xmalloc(sizeof *q);
	q->fn = fn;
	q->ud = ud;
	int rc = store_read_events_since(a->d.store, after, centers, nc, customers, nu, limit,
	                                 on_since, q);
	if (rc != 0) {
		free(q);
		snprintf(msg, msglen, "%s", store_strerror(rc));
		return rc == STORE_EINVAL ? APP_E_INVALID : APP_E_UNAVAILABLE;
	}
	return APP_OK;
}
