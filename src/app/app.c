/*
 * app: the service layer's queries and subscriptions (see app.h); the
 * commands are command.c.
 *
 * Queries walk the registry or the alert table once per call and copy
 * at most one page; checks are ordered by key, so a page of the checks of
 * one customer sorts only that customer's checks.
 */
#include "app/app_int.h"
#include "alert/alert.h"
#include "alerting/alerting.h"
#include "engine/engine.h"
#include "events/events.h"
#include "proto/cmd.h"
#include "registry/registry.h"
#include "series/forward.h"
#include "series/series.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <mamori/plugin.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Command ids: a million per origin, as long as the alerts they name are
 * kept (daemon.retention_days); the created ids of repeats: 100,000. */
#define CMD_SEEN_CAP 1000000
#define CMD_MADE_CAP 100000

const char *app_strerror(int err)
{
	switch (err) {
	case APP_OK: return "ok";
	case APP_E_INVALID: return "invalid request";
	case APP_E_NOTFOUND: return "not found";
	case APP_E_FORBIDDEN: return "outside the caller's scope";
	case APP_E_STATE: return "not allowed in this state";
	case APP_E_LAST_TIER: return "already at the last tier";
	case APP_E_NOMEM: return "out of memory";
	case APP_E_DENIED: return "denied";
	case APP_E_UNAVAILABLE: return "unavailable";
	default: return "error";
	}
}

double app__now(const struct app *a)
{
	return a->d.clock ? a->d.clock(a->d.clock_ud) : ev_now(a->d.loop);
}

void app_health(struct app *a, struct app_health *out)
{
	memset(out, 0, sizeof *out);
	out->store_ok = out->broker_ok = 1;
	if (a->d.health)
		a->d.health(a->d.health_ud, out);
}

size_t app_seen_count(const struct app *a)
{
	return cmd_seen_count(a->seen);
}

int app_seen(const struct app *a, const char *origin, const char *id)
{
	return cmd_seen_lookup(a->seen, origin, id, NULL);
}

int app__fail(struct app_result *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	r->err = err;
	return err;
}

int app__customer_in_scope(const struct app_scope *sc, const char *customer)
{
	if (sc->all || !sc->n_customers)
		return 1;
	for (size_t i = 0; i < sc->n_customers; i++)
		if (customer && strcmp(sc->customers[i], customer) == 0)
			return 1;
	return 0;
}

int app__center_in_scope(const struct app_scope *sc, const char *center)
{
	if (sc->all)
		return 1;
	for (size_t i = 0; i < sc->n_centers; i++)
		if (center && strcmp(sc->centers[i], center) == 0)
			return 1;
	return 0;
}

/* An alert is visible to the scope through its center (or one it is
 * also sent to), and only for customers in scope. */
int app__alert_in_scope(const struct app_scope *sc, const struct alert *al)
{
	if (sc->all)
		return 1;
	if (!app__customer_in_scope(sc, al->customer))
		return 0;
	if (sc->read_by_customer || app__center_in_scope(sc, al->center))
		return 1;
	for (size_t i = 0; i < al->n_also; i++)
		if (app__center_in_scope(sc, al->also[i]))
			return 1;
	return 0;
}

void app__remember_made(struct app *a, const char *origin, const char *idem, const char *id)
{
	/* bounded: forget everything once it is this large (the code stays in
	 * cmd_seen; only the created id of a repeat is lost) */
	if (a->made.count >= CMD_MADE_CAP) {
		size_t it = 0;
		const struct hmap_entry *e;
		while (hmap_next(&a->made, &it, &e))
			free(e->value);
		hmap_free(&a->made);
		hmap_init(&a->made);
	}
	char *k = xasprintf("%s\n%s", origin, idem);
	char *v = xasprintf("%s%c%s", id, 0, k); /* the key lives after the value */
	free(k);
	const char *key = v + strlen(v) + 1;
	free(hmap_put(&a->made, key, strlen(key), v));
}

static void on_seen_row(void *ud, const char *center, const char *id, const char *result,
                        double time)
{
	struct app *a = ud;
	enum cmd_err e = CMD_OK;
	const char *colon = result ? strchr(result, ':') : NULL;
	size_t n = colon ? (size_t)(colon - result) : result ? strlen(result) : 0;
	for (int i = 0; i < CMD_E__COUNT; i++)
		if (result && strlen(cmd_errname((enum cmd_err)i)) == n &&
		    strncmp(result, cmd_errname((enum cmd_err)i), n) == 0)
			e = (enum cmd_err)i;
	cmd_seen_add(a->seen, center, id, e, time);
	if (colon && colon[1])
		app__remember_made(a, center, id, colon + 1);
}

struct app *app_new(const struct app_deps *d)
{
	struct app *a = xcalloc(1, sizeof *a);
	a->d = *d;
	snprintf(a->node, sizeof a->node, "%s", d->node ? d->node : "");
	a->d.node = a->node;
	a->datadir = xstrdup(d->datadir ? d->datadir : ".");
	a->d.datadir = a->datadir;
	snprintf(a->report_lang, sizeof a->report_lang, "ja");
	a->seen =
	    cmd_seen_new(CMD_SEEN_CAP, (d->retention_days ? d->retention_days : 400) * 86400.0);
	hmap_init(&a->made);
	if (!a->seen) {
		free(a->datadir);
		free(a);
		return NULL;
	}
	app__sched_init(a);
	if (d->store) {
		store_load_cmd_seen(d->store, CMD_SEEN_CAP, on_seen_row, a);
		log_info("app", "restored %zu command ids", cmd_seen_count(a->seen));
	}
	return a;
}

void app_free(struct app *a)
{
	if (!a)
		return;
	cmd_seen_free(a->seen);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->made, &it, &e))
		free(e->value);
	hmap_free(&a->made);
	app__sched_free(a);
	free(a->report_calendar);
	free(a->datadir);
	free(a);
}

/* ---- checks ---- */

char *app__dup0(const char *s)
{
	return xstrdup(s ? s : "");
}

static void copy_check(struct app *a, const struct check *c, struct app_check *o)
{
	memset(o, 0, sizeof *o);
	o->key = xstrdup(c->key);
	o->customer = xstrdup(c->asset->cust->id);
	o->asset = xstrdup(c->asset->name);
	o->check = xstrdup(c->name);
	o->service = app__dup0(service_name(c->p.service));
	o->plugin = app__dup0(c->pi ? c->pi->name : "");
	o->state = c->st.state;
	o->hard = c->st.hard;
	o->attempt = c->st.attempt;
	o->max_attempts = c->p.max_attempts;
	o->hard_state = c->st.hard_state;
	o->flapping = c->st.flapping;
	o->stale = c->st.stale;
	o->running = c->run != NULL;
	o->acknowledged = !!(c->flags & CK_ACK);
	o->passive = !!(c->flags & CK_PASSIVE);
	o->has_result = c->st.has_result;
	double now = app__now(a);
	o->in_downtime = registry_in_downtime(a->d.reg, c, now);
	o->last_check = c->st.last_check;
	o->last_change = c->st.last_change;
	o->next_due = engine_next_due(a->d.engine, c);
	o->output = xstrdup(check_output(c));
	o->perfdata = xstrdup(check_perf(c));
	o->long_output = xstrdup(check_long(c));
	o->runbook = c->p.runbook ? xstrdup(c->p.runbook) : NULL;
}

void app_check_clear(struct app_check *c)
{
	free(c->key);
	free(c->customer);
	free(c->asset);
	free(c->check);
	free(c->service);
	free(c->plugin);
	free(c->output);
	free(c->perfdata);
	free(c->long_output);
	free(c->runbook);
	memset(c, 0, sizeof *c);
}

void app_checks_free(struct app_checks *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		app_check_clear(&l->rows[i]);
	free(l->rows);
	free(l->next);
	free(l);
}

static int check_matches(const struct check *c, const struct app_check_filter *f)
{
	if (!f)
		return 1;
	if (f->asset && strcmp(f->asset, c->asset->name) != 0)
		return 0;
	if (f->service && strcmp(f->service, service_name(c->p.service)) != 0)
		return 0;
	if (f->state >= 0 && f->state != c->st.state)
		return 0;
	if (f->hard >= 0 && f->hard != c->st.hard)
		return 0;
	if (f->acknowledged >= 0 && f->acknowledged != !!(c->flags & CK_ACK))
		return 0;
	if (f->problems && c->st.state == 0)
		return 0;
	return 1;
}

static int cmp_check(const void *x, const void *y)
{
	const struct check *const *a = x, *const *b = y;
	return strcmp((*a)->key, (*b)->key);
}

/* A max-heap by key of at most cap checks: when full, a smaller key
 * replaces the largest. */
static void heap_push(struct check **h, size_t *n, size_t cap, struct check *c)
{
	size_t i;
	if (*n < cap) {
		i = (*n)++;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (strcmp(h[p]->key, c->key) >= 0)
				break;
			h[i] = h[p];
			i = p;
		}
		h[i] = c;
		return;
	}
	/* replace the root (the largest) and sift down */
	i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, big = i;
		const char *bk = c->key;
		if (l < *n && strcmp(h[l]->key, bk) > 0) {
			big = l;
			bk = h[l]->key;
		}
		if (r < *n && strcmp(h[r]->key, bk) > 0)
			big = r;
		if (big == i)
			break;
		h[i] = h[big];
		i = big;
	}
	h[i] = c;
}

static int page_limit(const struct app_page *pg, unsigned *limit, char *msg, size_t msglen)
{
	*limit = pg && pg->limit ? pg->limit : 100;
	if (*limit > APP_PAGE_MAX) {
		snprintf(msg, msglen, "limit must be 1..%d", APP_PAGE_MAX);
		return APP_E_INVALID;
	}
	return APP_OK;
}

int app_checks(struct app *a, const struct app_scope *sc, const struct app_check_filter *f,
               const struct app_page *pg, struct app_checks **out, char *msg, size_t msglen)
{
	unsigned limit;
	*out = NULL;
	if (page_limit(pg, &limit, msg, msglen) != APP_OK)
		return APP_E_INVALID;
	if (f && f->state > 3) {
		snprintf(msg, msglen, "state must be 0..3");
		return APP_E_INVALID;
	}
	const struct model *m = &a->d.reg->m;
	if (f && f->customer) {
		if (!app__customer_in_scope(sc, f->customer)) {
			snprintf(msg, msglen, "customer '%s' is outside your scope", f->customer);
			return APP_E_FORBIDDEN;
		}
		if (!registry_customer(a->d.reg, f->customer)) {
			snprintf(msg, msglen, "unknown customer '%s'", f->customer);
			return APP_E_NOTFOUND;
		}
	}
	/* The page: the `limit` smallest keys past the cursor among the
	 * matching checks in scope, kept in a max-heap of limit + 1 entries
	 * (the extra one says whether there is a next page).  One pass over
	 * the model, no allocation beyond the page, nothing sorted but the
	 * page: a request costs O(checks), not O(checks log checks), and
	 * keyset paging stays right across reloads. */
	const char *after = pg ? pg->after : NULL;
	size_t cap = (size_t)limit + 1, n = 0;
	struct check **cand = xmalloc(cap * sizeof *cand);
	size_t it = 0;
	const struct hmap_entry *e;
	for (size_t i = 0; i < m->n_custs; i++) {
		const struct customer *cu = m->custs[i];
		if (f && f->customer && strcmp(f->customer, cu->id) != 0)
			continue;
		if (!app__customer_in_scope(sc, cu->id))
			continue;
		it = 0;
		while (hmap_next(&cu->assets, &it, &e)) {
			const struct asset *as = e->value;
			for (struct check *c = as->checks; c; c = c->anext) {
				if (after && strcmp(c->key, after) <= 0)
					continue;
				if (n == cap && strcmp(c->key, cand[0]->key) >= 0)
					continue; /* not among the smallest */
				if (!check_matches(c, f))
					continue;
				heap_push(cand, &n, cap, c);
			}
		}
	}
	if (n)
		qsort(cand, n, sizeof *cand, cmp_check);
	struct app_checks *l = xcalloc(1, sizeof *l);
	size_t take = n < limit ? n : limit;
	l->rows = xcalloc(take ? take : 1, sizeof *l->rows);
	for (size_t i = 0; i < take; i++)
		copy_check(a, cand[i], &l->rows[i]);
	l->n = take;
	if (n > take)
		l->next = xstrdup(cand[take - 1]->key);
	free(cand);
	*out = l;
	return APP_OK;
}

int app_check_get(struct app *a, const struct app_scope *sc, const char *customer,
                  const char *asset, const char *check, struct app_check *out)
{
	memset(out, 0, sizeof *out);
	if (!app__customer_in_scope(sc, customer))
		return APP_E_FORBIDDEN;
	const struct check *c = registry_check(a->d.reg, customer, asset, check);
	if (!c)
		return APP_E_NOTFOUND;
	copy_check(a, c, out);
	return APP_OK;
}

/* ---- customers ---- */

int app__worse(int a, int b)
{
	/* CRITICAL > WARNING > UNKNOWN > OK, as a NOC reads them */
	static const int rank[4] = { 0, 2, 3, 1 };
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return rank[b & 3] > rank[a & 3] ? b : a;
}

int app_customers(struct app *a, const struct app_scope *sc, struct app_customers **out)
{
	const struct model *m = &a->d.reg->m;
	struct app_customers *l = xcalloc(1, sizeof *l);
	l->rows = xcalloc(m->n_custs + 1, sizeof *l->rows);
	for (size_t i = 0; i < m->n_custs; i++) {
		const struct customer *cu = m->custs[i];
		if (!app__customer_in_scope(sc, cu->id))
			continue;
		struct app_customer *o = &l->rows[l->n++];
		o->id = xstrdup(cu->id);
		o->name = app__dup0(cu->name ? cu->name : cu->id);
		o->region = app__dup0(cu->region);
		o->n_assets = cu->assets.count;
		size_t it = 0;
		const struct hmap_entry *e;
		while (hmap_next(&cu->assets, &it, &e)) {
			const struct asset *as = e->value;
			for (const struct check *c = as->checks; c; c = c->anext) {
				o->n_checks++;
				if (c->st.has_result)
					o->worst = app__worse(o->worst, c->st.state);
			}
		}
	}
	*out = l;
	return APP_OK;
}

void app_customers_free(struct app_customers *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].id);
		free(l->rows[i].name);
		free(l->rows[i].region);
	}
	free(l->rows);
	free(l);
}

/* ---- assets ---- */

static int cmp_asset(const void *x, const void *y)
{
	const struct app_asset *a = x, *b = y;
	return strcmp(a->name, b->name);
}

int app_assets(struct app *a, const struct app_scope *sc, const char *customer,
               struct app_assets **out)
{
	*out = NULL;
	const struct customer *cu = registry_customer(a->d.reg, customer);
	if (!cu)
		return APP_E_NOTFOUND;
	if (!app__customer_in_scope(sc, customer))
		return APP_E_FORBIDDEN;
	struct app_assets *l = xcalloc(1, sizeof *l);
	l->rows = xcalloc(cu->assets.count + 1, sizeof *l->rows);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&cu->assets, &it, &e)) {
		const struct asset *as = e->value;
		struct app_asset *o = &l->rows[l->n++];
		o->customer = xstrdup(cu->id);
		o->name = xstrdup(as->name);
		o->type = app__dup0(as->type);
		o->address = app__dup0(as->address);
		o->parent = as->parent_name ? xstrdup(as->parent_name) : NULL;
		o->registered = as->registered;
		o->registered_at = as->registered_at;
		o->down = as->crit_checks > 0;
		for (const struct check *c = as->checks; c; c = c->anext) {
			o->n_checks++;
			if (c->st.has_result)
				o->worst = app__worse(o->worst, c->st.state);
		}
	}
	qsort(l->rows, l->n, sizeof *l->rows, cmp_asset);
	*out = l;
	return APP_OK;
}

void app_assets_free(struct app_assets *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].customer);
		free(l->rows[i].name);
		free(l->rows[i].type);
		free(l->rows[i].address);
		free(l->rows[i].parent);
	}
	free(l->rows);
	free(l);
}

/* ---- alerts ---- */

static void copy_alert(const struct alert *al, struct app_alert *o)
{
	memset(o, 0, sizeof *o);
	o->id = xstrdup(al->id);
	o->key = app__dup0(al->key);
	o->customer = app__dup0(al->customer);
	o->asset = app__dup0(al->asset);
	o->check = app__dup0(al->check);
	o->service = app__dup0(al->service);
	o->summary = app__dup0(al->summary);
	o->center = al->center ? xstrdup(al->center) : NULL;
	o->tier = alert_tier_name(al) ? xstrdup(alert_tier_name(al)) : NULL;
	o->status = xstrdup(alert_status_name(al->status));
	o->severity = xstrdup(alert_severity_name(al->state));
	o->acked_by = al->acked_by ? xstrdup(al->acked_by) : NULL;
	o->runbook = al->runbook ? xstrdup(al->runbook) : NULL;
	o->seq = al->seq;
	o->count = al->count;
	o->opened_at = al->opened_at;
	o->updated_at = al->updated_at;
	o->acked_at = al->acked_at;
	o->resolved_at = al->resolved_at;
	int running = al->sla.terms && (!al->sla.paused || al->sla.stopped);
	o->ack_due = running && !al->sla.acked ? al->sla.ack_due : 0;
	o->resolve_due = running ? al->sla.resolve_due : 0;
	o->paused = al->sla.paused != 0;
	o->waiting = !!(al->sla.paused & SLA_PAUSE_WAIT);
	o->in_downtime = !!(al->sla.paused & SLA_PAUSE_DOWNTIME);
	o->ack_breached = al->sla.ack_breached;
	o->resolve_breached = al->sla.resolve_breached;
}

void app_alert_clear(struct app_alert *x)
{
	free(x->id);
	free(x->key);
	free(x->customer);
	free(x->asset);
	free(x->check);
	free(x->service);
	free(x->summary);
	free(x->center);
	free(x->tier);
	free(x->status);
	free(x->severity);
	free(x->acked_by);
	free(x->runbook);
	memset(x, 0, sizeof *x);
}

void app_alerts_free(struct app_alerts *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		app_alert_clear(&l->rows[i]);
	free(l->rows);
	free(l->next);
	free(l);
}

struct alert_walk {
	const struct app_scope *sc;
	const struct app_alert_filter *f;
	int has_after;
	double after_t;
	const char *after_id;
	const struct alert **cand;
	size_t n, cap;
};

/* Newest first: opened_at descending, then id descending.  The cursor
 * carries opened_at with %.17g, which gives the same double back. */
static int before_in_order(double t1, const char *id1, double t2, const char *id2)
{
	if (t1 != t2)
		return t1 > t2;
	return strcmp(id1, id2) > 0;
}

static int status_matches(const char *want, enum alert_status st)
{
	if (!want)
		return 1;
	if (strcmp(want, "unresolved") == 0)
		return st != ALERT_RESOLVED;
	return strcmp(want, alert_status_name(st)) == 0;
}

static void walk_alert(void *arg, const struct alert *al)
{
	struct alert_walk *w = arg;
	const struct app_alert_filter *f = w->f;
	if (!app__alert_in_scope(w->sc, al))
		return;
	if (f) {
		if (f->center && (!al->center || strcmp(f->center, al->center) != 0))
			return;
		if (f->customer && strcmp(f->customer, al->customer) != 0)
			return;
		if (f->service && (!al->service || strcmp(f->service, al->service) != 0))
			return;
		if (!status_matches(f->status, al->status))
			return;
		if (f->severity >= 0 && f->severity != al->state)
			return;
		if (f->due_before > 0) {
			int running = al->sla.terms && !al->sla.paused && !al->sla.stopped;
			double due = !al->sla.acked ? al->sla.ack_due : al->sla.resolve_due;
			if (al->status == ALERT_RESOLVED || !running || !(due > 0) ||
			    due >= f->due_before)
				return;
		}
	}
	if (w->has_after && !before_in_order(w->after_t, w->after_id, al->opened_at, al->id))
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->cand = xrealloc(w->cand, w->cap * sizeof *w->cand);
	}
	w->cand[w->n++] = al;
}

static int cmp_alert(const void *x, const void *y)
{
	const struct alert *const *a = x, *const *b = y;
	if (before_in_order((*a)->opened_at, (*a)->id, (*b)->opened_at, (*b)->id))
		return -1;
	return 1;
}

int app_alerts(struct app *a, const struct app_scope *sc, const struct app_alert_filter *f,
               const struct app_page *pg, struct app_alerts **out, char *msg, size_t msglen)
{
	unsigned limit;
	*out = NULL;
	if (page_limit(pg, &limit, msg, msglen) != APP_OK)
		return APP_E_INVALID;
	if (f && f->status && strcmp(f->status, "open") != 0 &&
	    strcmp(f->status, "acknowledged") != 0 && strcmp(f->status, "resolved") != 0 &&
	    strcmp(f->status, "unresolved") != 0) {
		snprintf(msg, msglen, "status must be open, acknowledged, resolved or unresolved");
		return APP_E_INVALID;
	}
	if (f && (f->severity == 0 || f->severity > 3)) {
		snprintf(msg, msglen, "severity must be 1 (warning), 2 (critical) or 3 (unknown)");
		return APP_E_INVALID;
	}
	struct alert_walk w = { .sc = sc, .f = f };
	/* cursor: "<opened_at>|<id>" */
	if (pg && pg->after) {
		const char *bar = strchr(pg->after, '|');
		char *end = NULL;
		w.after_t = bar ? strtod(pg->after, &end) : 0;
		if (!bar || end != bar || !bar[1]) {
			snprintf(msg, msglen, "bad cursor");
			return APP_E_INVALID;
		}
		w.has_after = 1;
		w.after_id = bar + 1;
	}
	alert_table_each(a->d.alerts, walk_alert, &w);
	if (w.n)
		qsort(w.cand, w.n, sizeof *w.cand, cmp_alert);
	struct app_alerts *l = xcalloc(1, sizeof *l);
	size_t take = w.n < limit ? w.n : limit;
	l->rows = xcalloc(take ? take : 1, sizeof *l->rows);
	for (size_t i = 0; i < take; i++)
		copy_alert(w.cand[i], &l->rows[i]);
	l->n = take;
	if (w.n > take)
		l->next = xasprintf("%.17g|%s", w.cand[take - 1]->opened_at, w.cand[take - 1]->id);
	free(w.cand);
	*out = l;
	return APP_OK;
}

int app_alert_get(struct app *a, const struct app_scope *sc, const char *id, struct app_alert *out)
{
	memset(out, 0, sizeof *out);
	const struct alert *al = id ? alert_find(a->d.alerts, id) : NULL;
	if (!al)
		return APP_E_NOTFOUND;
	if (!app__alert_in_scope(sc, al))
		return APP_E_FORBIDDEN;
	copy_alert(al, out);
	return APP_OK;
}

/* ---- downtimes ---- */

int app_downtimes(struct app *a, const struct app_scope *sc, struct app_downtimes **out)
{
	const struct model *m = &a->d.reg->m;
	double now = app__now(a);
	struct app_downtimes *l = xcalloc(1, sizeof *l);
	l->rows = xcalloc(m->n_downtimes + 1, sizeof *l->rows);
	for (size_t i = 0; i < m->n_downtimes; i++) {
		const struct cfg_downtime *d = &m->downtimes[i];
		if (!app__customer_in_scope(sc, d->customer))
			continue;
		struct app_downtime *o = &l->rows[l->n++];
		o->id = app__dup0(d->id);
		o->customer = xstrdup(d->customer);
		o->asset = d->asset ? xstrdup(d->asset) : NULL;
		o->check = d->check ? xstrdup(d->check) : NULL;
		o->author = d->author ? xstrdup(d->author) : NULL;
		o->comment = d->comment ? xstrdup(d->comment) : NULL;
		o->start = d->start;
		o->end = d->end;
		o->created = d->created;
		o->runtime = d->runtime;
		o->recurring = d->weekly != NULL;
		struct downtime w = { .start = d->start, .end = d->end, .recurring = d->weekly };
		o->active = downtime_active(&w, now);
	}
	*out = l;
	return APP_OK;
}

void app_downtimes_free(struct app_downtimes *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct app_downtime *d = &l->rows[i];
		free(d->id);
		free(d->customer);
		free(d->asset);
		free(d->check);
		free(d->author);
		free(d->comment);
	}
	free(l->rows);
	free(l);
}

/* ---- subscriptions ---- */

struct app_sub {
	struct app *a;
	struct app_scope sc; /* the caller's arrays: it keeps them while subscribed */
	app_event_fn fn;
	void *ud;
	uint32_t mask;
	struct events_sub *sub;
};

static int event_in_scope(const struct app_scope *sc, const struct event *e)
{
	if (sc->all)
		return 1;
	if (e->customer && !app__customer_in_scope(sc, e->customer))
		return 0;
	if (e->type == EVENT_COMMAND || (e->type == EVENT_ALERT && !sc->read_by_customer))
		return app__center_in_scope(sc, e->center);
	return 1;
}

static void sub_deliver(void *ud, const struct event *e)
{
	struct app_sub *s = ud;
	if (e->json && event_in_scope(&s->sc, e))
		s->fn(s->ud, e);
}

struct app_sub *app_subscribe(struct app *a, const struct app_scope *sc, uint64_t after,
                              uint32_t mask, app_event_fn fn, void *ud, int *gap)
{
	struct app_sub *s = xcalloc(1, sizeof *s);
	s->a = a;
	s->sc = *sc;
	s->fn = fn;
	s->ud = ud;
	s->mask = mask;
	*gap = 0;
	if (after != APP_LIVE_ONLY && events_replay(a->d.events, after, mask, sub_deliver, s) != 0)
		*gap = 1;
	s->sub = events_subscribe(a->d.events, mask, sub_deliver, s);
	return s;
}

void app_unsubscribe(struct app *a, struct app_sub *s)
{
	if (!s)
		return;
	events_unsubscribe(a->d.events, s->sub);
	free(s);
}

void app_version(const struct app *a, struct app_version *v)
{
	v->changes = a->d.events ? events_changes(a->d.events) : 0;
	v->generation = a->generation;
}

void app_reloaded(struct app *a)
{
	a->generation++;
}

uint64_t app_events_epoch(const struct app *a)
{
	return a->d.events ? events_epoch(a->d.events) : 0;
}

/* ---- metrics ---- */

struct open_walk {
	struct app_metrics *m;
	size_t cap;
};

static void count_open(void *arg, const struct alert *al)
{
	struct open_walk *w = arg;
	struct app_metrics *m = w->m;
	if (al->status == ALERT_RESOLVED)
		return;
	m->alerts_unresolved++;
	const char *center = al->center ? al->center : "";
	const char *tier = alert_tier_name(al) ? alert_tier_name(al) : "";
	for (size_t i = 0; i < m->n_open_by_center; i++)
		if (strcmp(m->open_by_center[i].center, center) == 0 &&
		    strcmp(m->open_by_center[i].tier, tier) == 0) {
			m->open_by_center[i].open++;
			return;
		}
	if (m->n_open_by_center == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		m->open_by_center = xrealloc(m->open_by_center, w->cap * sizeof *m->open_by_center);
	}
	struct app_center_open *o = &m->open_by_center[m->n_open_by_center++];
	snprintf(o->center, sizeof o->center, "%s", center);
	snprintf(o->tier, sizeof o->tier, "%s", tier);
	o->open = 1;
}

static void copy_plugin(void *ud, const char *plugin, const struct engine_plugin_stats *st)
{
	struct app_metrics *m = ud;
	m->plugins = xrealloc(m->plugins, (m->n_plugins + 1) * sizeof *m->plugins);
	struct app_plugin_metrics *o = &m->plugins[m->n_plugins++];
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", plugin);
	for (int i = 0; i < 4; i++)
		o->results[i] = st->results[i];
	o->runs = st->runs;
	o->dur_sum = st->dur_sum;
	for (int i = 0; i < ENGINE_DUR_BUCKETS && i < 18; i++)
		o->dur_buckets[i] = st->dur_buckets[i];
}

/* Prometheus label text: backslash, double quote and newline escaped.
 * Returns the new length, or SIZE_MAX when it does not fit (the series is
 * then dropped rather than shown cut). */
static size_t label_put(char *out, size_t at, size_t size, const char *k, const char *v)
{
	if (at == SIZE_MAX)
		return at;
	int n = snprintf(out + at, size - at, "%s%s=\"", at ? "," : "", k);
	if (n < 0 || (size_t)n >= size - at)
		return SIZE_MAX;
	at += (size_t)n;
	for (const char *p = v; *p; p++) {
		if (at + 3 >= size)
			return SIZE_MAX;
		if (*p == '\\' || *p == '"' || *p == '\n') {
			out[at++] = '\\';
			out[at++] = *p == '\n' ? 'n' : *p;
		} else {
			out[at++] = *p;
		}
	}
	if (at + 2 > size)
		return SIZE_MAX;
	out[at++] = '"';
	out[at] = '\0';
	return at;
}

struct series_copy {
	struct app_metrics *m;
	size_t cap;
};

static void copy_series(void *ud, const char *plugin, const char *instance,
                        const struct mamori_metric *x)
{
	struct series_copy *sc = ud;
	struct app_metrics *m = sc->m;
	if (m->n_series == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 32;
		m->series = xrealloc(m->series, sc->cap * sizeof *m->series);
	}
	struct app_plugin_series *o = &m->series[m->n_series++];
	snprintf(o->family, sizeof o->family, "mamori_%s_%s", plugin, x->name);
	snprintf(o->help, sizeof o->help, "%s", x->help ? x->help : "");
	o->counter = x->type == MAMORI_METRIC_COUNTER;
	size_t at = label_put(o->labels, 0, sizeof o->labels, "instance", instance);
	for (size_t i = 0; i < x->n_labels; i++)
		at = label_put(o->labels, at, sizeof o->labels, x->labels[2 * i],
		               x->labels[2 * i + 1]);
	if (at == SIZE_MAX || strlen(o->family) != strlen(plugin) + strlen(x->name) + 8) {
		m->n_series--; /* cannot happen within the ABI's limits: never show it cut */
		return;
	}
	o->value = x->value;
	o->seq = (unsigned)(m->n_series - 1);
}

/* By family, then as reported (one HELP and TYPE per family). */
static int cmp_series(const void *a, const void *b)
{
	const struct app_plugin_series *x = a, *y = b;
	int c = strcmp(x->family, y->family);
	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

void app_metrics(struct app *a, struct app_metrics *out)
{
	app_metrics_core(a, out);
	struct series_copy sc = { .m = out };
	engine_plugin_series(a->d.engine, copy_series, &sc);
	if (out->n_series > 1)
		qsort(out->series, out->n_series, sizeof *out->series, cmp_series);
}

void app_metrics_core(struct app *a, struct app_metrics *out)
{
	memset(out, 0, sizeof *out);
	struct forward_stats fs;
	if (series_forward_stats(a->d.series, &fs)) {
		out->forward_configured = 1;
		out->forward_connected = fs.connected;
		out->forward_sent = fs.sent;
		out->forward_dropped = fs.dropped;
		out->forward_connects = fs.connects;
		out->forward_failures = fs.failures;
		out->forward_queued = fs.queued;
	}
	struct engine_stats es;
	engine_get_stats(a->d.engine, &es);
	out->checks = es.checks;
	out->waiting = es.waiting;
	out->runs_started = es.runs_started;
	out->runs_completed = es.runs_completed;
	out->runs_timed_out = es.runs_timed_out;
	out->runs_cancelled = es.runs_cancelled;
	out->passive_results = es.passive_results;
	out->stale_events = es.stale_events;
	out->late_completions = es.late_completions;
	out->state_changes = es.state_changes;
	out->hard_changes = es.hard_changes;
	out->lag_max = es.lag_max;
	out->lag_sum = es.lag_sum;
	out->lag_count = engine_lag_histogram(a->d.engine, out->lag_buckets);
	engine_plugin_stats(a->d.engine, copy_plugin, out);
	out->host_restarts = engine_host_restarts(a->d.engine);
	/* Checks per current state: the engine keeps the counts as it
	 * applies results (no walk of the model per request). */
	uint64_t counts[ENGINE_COUNT_SLOTS];
	engine_check_counts(a->d.engine, counts);
	for (int i = 0; i < 4; i++)
		out->by_state[i] = counts[i];
	out->pending = counts[ENGINE_PENDING];
	if (a->d.alerting) {
		struct alerting_stats as;
		alerting_get_stats(a->d.alerting, &as);
		out->alert_events = as.events;
		memcpy(out->alert_events_by_type, as.by_type, sizeof out->alert_events_by_type);
		out->outbox_published = as.published;
		out->outbox_acked = as.acked;
		out->outbox_ready = as.ready;
		out->outbox_inflight = as.inflight;
	}
	struct open_walk w = { .m = out };
	alert_table_each(a->d.alerts, count_open, &w);
	if (a->d.store) {
		struct store_stats ss;
		store_get_stats(a->d.store, &ss);
		out->store_configured = 1;
		out->store_failing = store_failing(a->d.store);
		out->store_batches = ss.batches;
		out->store_rows = ss.rows;
		out->store_row_errors = ss.errors;
		out->store_retries = ss.retries;
		out->store_busy_seconds = ss.busy_seconds;
	}
	if (a->d.broker_stats)
		a->d.broker_stats(a->d.health_ud, &out->broker);
	out->events_emitted = events_last_seq(a->d.events);
	out->command_ids = cmd_seen_count(a->seen);
	if (a->notify.stats) {
		out->notify_configured = 1;
		a->notify.stats(a->notify_ud, &out->notify);
	}
}

void app_metrics_clear(struct app_metrics *m)
{
	free(m->series);
	m->series = NULL;
	m->n_series = 0;
	free(m->plugins);
	m->plugins = NULL;
	m->n_plugins = 0;
	free(m->open_by_center);
	m->open_by_center = NULL;
	m->n_open_by_center = 0;
}
