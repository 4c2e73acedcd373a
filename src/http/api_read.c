/*
 * api_read: the API's GET handlers over the service layer - customers,
 * assets, checks, alerts (in memory and from the store), downtimes, the
 * overview, status and the caller's own identity.
 *
 * Every list is what the service layer returns for the caller's scope
 * (who_scope), so a viewer sees its own customer only; a lookup outside
 * the scope answers 404 like one that does not exist.  Pages are bounded
 * (at most 1,000 rows), so every answer is built whole and stays small;
 * the overview is one row per customer (~200 bytes).
 * Must never: block (store reads are asynchronous), answer with rows of
 * another tenant.
 */
#include "http/http_int.h"
#include "app/app.h"
#include "util/jsonw.h"
#include "util/mem.h"

#include "buildcfg.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[4] = { "ok", "warning", "critical", "unknown" };

static const char *state_name(int s)
{
	return s >= 0 && s < 4 ? state_names[s] : NULL;
}

static int parse_state(const char *v)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(v, state_names[i]) == 0)
			return i;
	char *e = NULL;
	long n = strtol(v, &e, 10);
	return *v && !*e && n >= 0 && n <= 3 ? (int)n : -1;
}

static int q_bool(struct req *r, const char *name, int *out)
{
	const char *v = req_query(r, name);
	*out = -1;
	if (!v)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return reply_error(r, 400, "bad_parameter",
		                   "query parameter '%s' must be true or false", name),
		       -1;
	return 0;
}

static int q_page(struct req *r, struct app_page *pg)
{
	long limit = 100;
	memset(pg, 0, sizeof *pg);
	if (q_int(r, "limit", 1, APP_PAGE_MAX, &limit) < 0)
		return -1;
	pg->limit = (unsigned)limit;
	pg->after = req_query(r, "after");
	return 0;
}

static void page_end(struct jw *w, const char *next)
{
	jw_key(w, "next");
	jw_str(w, next);
}

/* A 200 answer that others with the same scope may get from the cache
 * until something changes: with an ETag (a hash of the bytes), and 304
 * for a client that has them. */
static int reply_cacheable(struct req *r, struct buf *b)
{
	static const unsigned char key[16] = "mamori-answers!";
	char etag[40];
	snprintf(etag, sizeof etag, "\"%016llx\"",
	         (unsigned long long)jsonw_siphash(key, b->p, b->n, 1, 3));
	size_t bytes = b->n;
	reply_json(r, 200, b);
	req_add_header(r, "ETag", etag);
	cache_keep(r, etag, bytes);
	const char *inm = req_header(r, "If-None-Match");
	if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
		if (!r->resp_shared && r->resp)
			MHD_destroy_response(r->resp);
		r->resp = NULL;
		r->resp_shared = 0;
		r->done = 0;
		reply_empty(r, 304);
		req_add_header(r, "ETag", etag);
	}
	return 0;
}

/* ---- me, status ---- */

int api_me(struct req *r)
{
	static const char *const roles[] = { "admin", "operator", "viewer" };
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "user", r->who.user);
	jw_kstr(&w, "role", r->who.role >= 0 && r->who.role <= 2 ? roles[r->who.role] : NULL);
	jw_key(&w, "centers");
	jw_arr(&w);
	for (size_t i = 0; i < r->who.n_centers; i++)
		jw_str(&w, r->who.centers[i]);
	jw_end_arr(&w);
	jw_kstr(&w, "customer", r->who.customer);
	jw_kstr(&w, "auth", r->who.local ? "local" : r->who.cookie ? "session" : "token");
	/* where the request came from, as mamori sees it (behind a trusted
	 * proxy: the client's address and scheme) */
	jw_kstr(&w, "from", r->from);
	jw_kbool(&w, "secure", r->secure);
	if (r->who.cookie)
		jw_kstr(&w, "csrf_token", r->who.csrf);
	jw_end_obj(&w);
	return reply_json(r, 200, &b);
}

int api_status(struct req *r)
{
	struct app_health hl;
	struct app_metrics m;
	app_health(req_app(r), &hl);
	app_metrics_core(req_app(r), &m);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "version", MAMORI_VERSION);
	jw_kbool(&w, "ready", hl.store_ok && (!hl.broker_configured || hl.broker_ok));
	jw_kstr(&w, "store", hl.store_ok ? "ok" : "failing");
	jw_kstr(&w, "broker",
	        !hl.broker_configured ? "none"
	        : hl.broker_ok        ? "connected"
	                              : "disconnected");
	/* counts across the whole daemon: what a viewer may know too (no
	 * names); admins and operators see the per-center figures */
	jw_key(&w, "checks");
	jw_obj(&w);
	jw_kint(&w, "total", (long long)m.checks);
	for (int i = 0; i < 4; i++)
		jw_kint(&w, state_names[i], (long long)m.by_state[i]);
	jw_kint(&w, "pending", (long long)m.pending);
	jw_end_obj(&w);
	if (r->who.role != ROLE_VIEWER) {
		jw_kint(&w, "alerts_unresolved", (long long)m.alerts_unresolved);
		jw_key(&w, "open_by_center");
		jw_arr(&w);
		for (size_t i = 0; i < m.n_open_by_center; i++) {
			jw_obj(&w);
			jw_kstr(&w, "center", m.open_by_center[i].center);
			jw_kstr(&w, "tier", m.open_by_center[i].tier);
			jw_kint(&w, "open", (long long)m.open_by_center[i].open);
			jw_end_obj(&w);
		}
		jw_end_arr(&w);
	}
	jw_end_obj(&w);
	app_metrics_clear(&m);
	return reply_json(r, 200, &b);
}

/* ---- customers, assets ---- */

static void customer_json(struct jw *w, const struct app_customer *c)
{
	jw_obj(w);
	jw_kstr(w, "id", c->id);
	jw_kstr(w, "name", c->name);
	jw_kstr(w, "region", c->region);
	jw_kint(w, "assets", (long long)c->n_assets);
	jw_kint(w, "checks", (long long)c->n_checks);
	jw_kstr(w, "worst", state_name(c->worst));
	jw_end_obj(w);
}

int api_customers(struct req *r)
{
	struct app_scope sc;
	struct app_customers *l = NULL;
	who_scope(&r->who, &sc);
	int rc = app_customers(req_app(r), &sc, &l);
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "customers");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++)
		customer_json(&w, &l->rows[i]);
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_customers_free(l);
	return reply_json(r, 200, &b);
}

int api_customer(struct req *r)
{
	/* the route checked the customer is the caller's to see: build that
	 * one only, not every customer */
	const char *one[1] = { r->param[0] };
	struct app_scope sc = { .customers = one, .n_customers = 1, .read_by_customer = 1 };
	struct app_customers *l = NULL;
	app_customers(req_app(r), &sc, &l);
	const struct app_customer *c = NULL;
	for (size_t i = 0; l && i < l->n && !c; i++)
		if (strcmp(l->rows[i].id, r->param[0]) == 0)
			c = &l->rows[i];
	if (!c) {
		app_customers_free(l);
		return reply_error(r, 404, "not_found", "no such customer");
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	customer_json(&w, c);
	app_customers_free(l);
	return reply_json(r, 200, &b);
}

int api_assets(struct req *r)
{
	struct app_scope sc;
	struct app_assets *l = NULL;
	who_scope(&r->who, &sc);
	int rc = app_assets(req_app(r), &sc, r->param[0], &l);
	if (rc == APP_E_FORBIDDEN || rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such customer");
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "assets");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++) {
		const struct app_asset *x = &l->rows[i];
		jw_obj(&w);
		jw_kstr(&w, "customer", x->customer);
		jw_kstr(&w, "name", x->name);
		jw_kstr(&w, "type", x->type);
		jw_kstr(&w, "address", x->address);
		jw_kstr(&w, "parent", x->parent);
		jw_kbool(&w, "registered", x->registered);
		jw_ktime(&w, "registered_at", x->registered_at);
		jw_kint(&w, "checks", (long long)x->n_checks);
		jw_kstr(&w, "worst", state_name(x->worst));
		jw_kbool(&w, "down", x->down);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_assets_free(l);
	return reply_json(r, 200, &b);
}

/* ---- checks ---- */

static void check_json(struct jw *w, const struct app_check *c, int full)
{
	jw_obj(w);
	jw_kstr(w, "customer", c->customer);
	jw_kstr(w, "asset", c->asset);
	jw_kstr(w, "check", c->check);
	jw_kstr(w, "service", c->service);
	jw_kstr(w, "plugin", c->plugin);
	jw_kstr(w, "state", c->has_result ? state_name(c->state) : "pending");
	jw_kstr(w, "state_type", c->hard ? "hard" : "soft");
	jw_kint(w, "attempt", c->attempt);
	jw_kint(w, "max_attempts", c->max_attempts);
	jw_kbool(w, "flapping", c->flapping);
	jw_kbool(w, "stale", c->stale);
	jw_kbool(w, "acknowledged", c->acknowledged);
	jw_kbool(w, "in_downtime", c->in_downtime);
	jw_kbool(w, "passive", c->passive);
	jw_ktime(w, "last_check", c->last_check);
	jw_ktime(w, "last_change", c->last_change);
	jw_ktime(w, "next_due", c->next_due);
	jw_kstr(w, "output", c->output);
	jw_kstr(w, "perfdata", c->perfdata);
	if (full) {
		jw_kstr(w, "long_output", c->long_output);
		jw_kbool(w, "running", c->running);
		jw_kstr(w, "runbook", c->runbook);
	}
	jw_end_obj(w);
}

int api_checks(struct req *r)
{
	struct app_check_filter f = { .state = -1, .hard = -1, .acknowledged = -1 };
	struct app_page pg;
	int problems = -1;
	if (q_page(r, &pg) || q_bool(r, "hard", &f.hard) ||
	    q_bool(r, "acknowledged", &f.acknowledged) || q_bool(r, "problems", &problems))
		return 0;
	f.problems = problems == 1;
	f.customer = req_query(r, "customer");
	f.asset = req_query(r, "asset");
	f.service = req_query(r, "service");
	const char *st = req_query(r, "state");
	if (st && (f.state = parse_state(st)) < 0)
		return reply_error(
		    r, 400, "bad_parameter",
		    "query parameter 'state' must be ok, warning, critical or unknown");
	if (f.asset && !f.customer)
		return reply_error(r, 400, "bad_parameter",
		                   "query parameter 'asset' needs 'customer'");
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct app_checks *l = NULL;
	char msg[APP_MSG_MAX] = "";
	int rc = app_checks(req_app(r), &sc, &f, &pg, &l, msg, sizeof msg);
	if (rc == APP_E_FORBIDDEN)
		return reply_error(r, 404, "not_found", "no such customer");
	if (rc == APP_E_INVALID)
		return reply_error(r, 400, "bad_parameter", "%s", msg);
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "checks");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++)
		check_json(&w, &l->rows[i], 0);
	jw_end_arr(&w);
	page_end(&w, l->next);
	jw_end_obj(&w);
	app_checks_free(l);
	return reply_json(r, 200, &b);
}

struct check_req {
	struct req *r;
	struct buf b; /* the check, rendered: its alerts follow */
};

static void alert_json(struct jw *w, const struct app_alert *x);

static void on_check_alerts(void *ud, int err, const char *msg, struct app_alerts *page)
{
	struct check_req *cr = ud;
	struct req *r = cr->r;
	if (req_orphaned(r)) {
		app_alerts_free(page);
		buf_free(&cr->b);
		free(cr);
		req_release(r);
		return;
	}
	struct jw w;
	jw_init(&w, &cr->b);
	w.first = 0; /* inside the check's object, after its members */
	w.depth = 1;
	jw_key(&w, "recent_alerts");
	jw_arr(&w);
	for (size_t i = 0; page && i < page->n; i++)
		alert_json(&w, &page->rows[i]);
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_alerts_free(page);
	struct buf b = cr->b;
	free(cr);
	req_finish_json(r, 200, &b);
}

/* One check with its current state and its recent alerts (the newest
 * 20, from the store: every problem it had, with when it was
 * acknowledged and resolved).  Its perfdata over time: .../series. */
int api_check(struct req *r)
{
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct app_check c;
	int rc = app_check_get(req_app(r), &sc, r->param[0], r->param[1], r->param[2], &c);
	if (rc != APP_OK) {
		app_check_clear(&c);
		return reply_error(r, 404, "not_found", "no such check");
	}
	struct check_req *cr = xcalloc(1, sizeof *cr);
	cr->r = r;
	struct jw w;
	jw_init(&w, &cr->b);
	check_json(&w, &c, 1);
	cr->b.n--; /* reopen the object: drop its '}' */
	struct app_alert_filter f = { .severity = -1, .check_key = c.key };
	struct app_page pg = { .limit = 20 };
	char msg[APP_MSG_MAX];
	rc = app_alerts_stored(req_app(r), &sc, &f, &pg, on_check_alerts, cr, msg, sizeof msg);
	app_check_clear(&c);
	if (rc != APP_OK) { /* nothing stored: the check alone */
		on_check_alerts(cr, rc, msg, NULL);
		return 0;
	}
	req_suspend(r);
	return 0;
}

/* ---- alerts ---- */

static void alert_json(struct jw *w, const struct app_alert *x)
{
	jw_obj(w);
	jw_kstr(w, "id", x->id);
	jw_kint(w, "seq", x->seq);
	jw_kstr(w, "customer", x->customer);
	jw_kstr(w, "asset", x->asset);
	jw_kstr(w, "check", x->check);
	jw_kstr(w, "service", x->service);
	jw_kstr(w, "summary", x->summary);
	/* a manual inquiry (api_act.c names them so) */
	jw_kbool(w, "inquiry",
	         (x->asset && strcmp(x->asset, "inquiry") == 0) ||
	             (x->check && strncmp(x->check, "inquiry-", 8) == 0));
	jw_kstr(w, "runbook", x->runbook); /* a URL or a text, or null */
	jw_kstr(w, "center", x->center);
	jw_kstr(w, "tier", x->tier);
	jw_kstr(w, "status", x->status);
	jw_kstr(w, "severity", x->severity);
	jw_kstr(w, "acked_by", x->acked_by);
	jw_kint(w, "count", x->count);
	jw_ktime(w, "opened_at", x->opened_at);
	jw_ktime(w, "updated_at", x->updated_at);
	jw_ktime(w, "acked_at", x->acked_at);
	jw_ktime(w, "resolved_at", x->resolved_at);
	jw_ktime(w, "ack_due", x->ack_due);
	jw_ktime(w, "resolve_due", x->resolve_due);
	jw_kbool(w, "paused", x->paused);
	jw_kbool(w, "waiting", x->waiting);         /* why: waiting for the customer */
	jw_kbool(w, "in_downtime", x->in_downtime); /* why: a downtime */
	jw_kbool(w, "ack_breached", x->ack_breached);
	jw_kbool(w, "resolve_breached", x->resolve_breached);
	jw_end_obj(w);
}

static void alerts_page_json(struct buf *b, const struct app_alerts *l, const char *source)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj(&w);
	jw_kstr(&w, "source", source);
	jw_key(&w, "alerts");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++)
		alert_json(&w, &l->rows[i]);
	jw_end_arr(&w);
	page_end(&w, l->next);
	jw_end_obj(&w);
}

static void on_stored_page(void *ud, int err, const char *msg, struct app_alerts *page)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_alerts_free(page);
		req_release(r);
		return;
	}
	if (err != APP_OK) {
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	alerts_page_json(&b, page, "store");
	app_alerts_free(page);
	req_finish_json(r, 200, &b);
}

/* Unresolved alerts (status open, acknowledged or unresolved) are read
 * from memory, where every one of them is and is current; anything that
 * includes resolved alerts is read from the store, which keeps them all
 * (daemon.retention_days).  Both order newest first with the same
 * cursor. */
int api_alerts(struct req *r)
{
	struct app_alert_filter f = { .severity = -1 };
	struct app_page pg;
	if (q_page(r, &pg))
		return 0;
	f.center = req_query(r, "center");
	f.customer = req_query(r, "customer");
	f.status = req_query(r, "status");
	f.service = req_query(r, "service");
	const char *sev = req_query(r, "severity");
	if (sev) {
		f.severity = strcmp(sev, "warning") == 0    ? 1
		             : strcmp(sev, "critical") == 0 ? 2
		             : strcmp(sev, "unknown") == 0  ? 3
		                                            : 0;
		if (!f.severity)
			return reply_error(
			    r, 400, "bad_parameter",
			    "query parameter 'severity' must be warning, critical or "
			    "unknown");
	}
	if (f.status && strcmp(f.status, "open") != 0 && strcmp(f.status, "acknowledged") != 0 &&
	    strcmp(f.status, "resolved") != 0 && strcmp(f.status, "unresolved") != 0)
		return reply_error(
		    r, 400, "bad_parameter",
		    "query parameter 'status' must be open, acknowledged, resolved or "
		    "unresolved");
	if (q_time(r, "due_before", &f.due_before) < 0)
		return 0;
	struct app_scope sc;
	who_scope(&r->who, &sc);
	/* a filter on another tenant's customer: nothing (not a 403) */
	if (f.customer && r->who.role == ROLE_VIEWER && strcmp(f.customer, r->who.customer) != 0)
		return reply_error(r, 404, "not_found", "no such customer");
	char msg[APP_MSG_MAX] = "";
	int memory = f.status && strcmp(f.status, "resolved") != 0;
	if (memory && cache_answer(r))
		return 0;
	if (memory) {
		struct app_alerts *l = NULL;
		int rc = app_alerts(req_app(r), &sc, &f, &pg, &l, msg, sizeof msg);
		if (rc == APP_E_INVALID)
			return reply_error(r, 400, "bad_parameter", "%s", msg);
		if (rc != APP_OK)
			return reply_app_error(r, rc, msg);
		struct buf b = { 0 };
		alerts_page_json(&b, l, "memory");
		app_alerts_free(l);
		return reply_cacheable(r, &b);
	}
	int rc = app_alerts_stored(req_app(r), &sc, &f, &pg, on_stored_page, r, msg, sizeof msg);
	if (rc == APP_E_INVALID)
		return reply_error(r, 400, "bad_parameter", "%s", msg);
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	req_suspend(r);
	return 0;
}

static void on_history(void *ud, int err, const char *msg, struct app_history *hi)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_history_free(hi);
		req_release(r);
		return;
	}
	if (err == APP_E_NOTFOUND || err == APP_E_FORBIDDEN) {
		app_history_free(hi);
		req_finish_error(r, 404, "not_found", "no such alert");
		return;
	}
	if (err != APP_OK) {
		app_history_free(hi);
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "alert");
	alert_json(&w, &hi->alert);
	jw_key(&w, "events");
	jw_arr(&w);
	for (size_t i = 0; i < hi->n_events; i++) {
		const struct app_alert_event *e = &hi->events[i];
		jw_obj(&w);
		jw_kint(&w, "seq", e->seq);
		jw_ktime(&w, "time", e->time);
		jw_kstr(&w, "type", e->type);
		jw_kstr(&w, "actor", e->actor);
		jw_kstr(&w, "note", e->note);
		jw_kstr(&w, "request_id", e->cmd_id);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_key(&w, "dispatches");
	jw_arr(&w);
	for (size_t i = 0; i < hi->n_dispatches; i++) {
		const struct app_dispatch *d = &hi->dispatches[i];
		jw_obj(&w);
		jw_kint(&w, "seq", d->seq);
		jw_ktime(&w, "time", d->time);
		jw_ktime(&w, "planned_at", d->planned_at);
		jw_kstr(&w, "actor", d->actor);
		jw_kstr(&w, "vendor", d->vendor);
		jw_kstr(&w, "result", d->result);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_kbool(&w, "truncated", hi->truncated);
	jw_end_obj(&w);
	app_history_free(hi);
	req_finish_json(r, 200, &b);
}

int api_alert(struct req *r)
{
	struct app_scope sc;
	who_scope(&r->who, &sc);
	int rc = app_alert_history(req_app(r), &sc, r->param[0], on_history, r);
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	req_suspend(r);
	return 0;
}

/* ---- downtimes ---- */

int api_downtimes(struct req *r)
{
	struct app_scope sc;
	who_scope(&r->who, &sc);
	const char *customer = req_query(r, "customer");
	struct app_downtimes *l = NULL;
	int rc = app_downtimes(req_app(r), &sc, &l);
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "downtimes");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++) {
		const struct app_downtime *d = &l->rows[i];
		if (customer && strcmp(customer, d->customer) != 0)
			continue;
		jw_obj(&w);
		jw_kstr(&w, "id", d->id);
		jw_kstr(&w, "customer", d->customer);
		jw_kstr(&w, "asset", d->asset);
		jw_kstr(&w, "check", d->check);
		jw_ktime(&w, "start", d->start);
		jw_ktime(&w, "end", d->end);
		jw_kstr(&w, "author", d->author);
		jw_kstr(&w, "comment", d->comment);
		jw_ktime(&w, "created", d->created);
		jw_kstr(&w, "origin", d->runtime ? "runtime" : "config");
		jw_kbool(&w, "recurring", d->recurring);
		jw_kbool(&w, "active", d->active);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_downtimes_free(l);
	return reply_json(r, 200, &b);
}

/* ---- overview ---- */

static const char *const svc_names[APP_N_SERVICES] = { "other", "defender", "web",
	                                               "mail",  "utm",      "dns" };
static const char *const pc_names[APP_PC__COUNT] = { "ok",      "warning", "critical",
	                                             "unknown", "silent",  "pending" };

/* Compact on purpose: 5,000 customers in about 1 MB.  Services appear
 * only when the customer has checks for them. */
int api_overview(struct req *r)
{
	if (cache_answer(r))
		return 0;
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct app_overview *o = NULL;
	int rc = app_overview(req_app(r), &sc, &o);
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "customers");
	jw_arr(&w);
	for (size_t i = 0; i < o->n; i++) {
		const struct app_overview_row *x = &o->rows[i];
		jw_obj(&w);
		jw_kstr(&w, "id", x->id);
		jw_kstr(&w, "name", x->name);
		if (x->region && *x->region)
			jw_kstr(&w, "region", x->region);
		jw_key(&w, "services");
		jw_obj(&w);
		for (int s = 0; s < APP_N_SERVICES; s++) {
			if (x->worst[s] >= 0)
				jw_kstr(&w, svc_names[s], state_name(x->worst[s]));
			else if (x->pending[s])
				jw_kstr(&w, svc_names[s], "pending");
		}
		jw_end_obj(&w);
		if (x->pcs) {
			jw_key(&w, "pcs");
			jw_obj(&w);
			for (int v = 0; v < APP_PC__COUNT; v++)
				if (x->pcs_by[v])
					jw_kint(&w, pc_names[v], x->pcs_by[v]);
			jw_end_obj(&w);
		}
		jw_kint(&w, "open", x->open_alerts);
		if (x->acked_alerts)
			jw_kint(&w, "acked", x->acked_alerts);
		if (x->next_due > 0)
			jw_ktime(&w, "next_due", x->next_due);
		if (x->last_change > 0)
			jw_ktime(&w, "changed", x->last_change);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_overview_free(o);
	/* ETag: a hash of the answer (the same bytes give the same tag,
	 * whatever the caller); a client with it gets 304 and no body */
	return reply_cacheable(r, &b);
}

/* ---- SLA summary ---- */

static void on_sla(void *ud, int err, const char *msg, struct app_sla *s)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_sla_free(s);
		req_release(r);
		return;
	}
	if (err != APP_OK) {
		app_sla_free(s);
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_ktime(&w, "month_start", s->month_start);
	jw_ktime(&w, "month_end", s->month_end);
	jw_key(&w, "rows");
	jw_arr(&w);
	for (size_t i = 0; i < s->n; i++) {
		const struct app_sla_row *x = &s->rows[i];
		jw_obj(&w);
		jw_kstr(&w, "center", x->center);
		jw_kstr(&w, "customer", x->customer);
		jw_kint(&w, "open", (long long)x->open);
		jw_kint(&w, "due_1h", (long long)x->due_1h);
		jw_kint(&w, "breached_month", (long long)x->breached_month);
		jw_kint(&w, "acked_month", (long long)x->acked_month);
		jw_key(&w, "median_ack_seconds");
		if (x->median_ack < 0)
			jw_null(&w);
		else
			jw_num(&w, x->median_ack);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_sla_free(s);
	req_finish_json(r, 200, &b);
}

/* GET /api/v1/sla?center=&customer=: this month's figures per center and
 * customer, from the store. */
int api_sla(struct req *r)
{
	const char *center = req_query(r, "center");
	const char *customer = req_query(r, "customer");
	if (customer && r->who.role == ROLE_VIEWER && strcmp(customer, r->who.customer) != 0)
		return reply_error(r, 404, "not_found", "no such customer");
	struct app_scope sc;
	who_scope(&r->who, &sc);
	char msg[APP_MSG_MAX] = "";
	int rc = app_sla(req_app(r), &sc, center, customer, on_sla, r, msg, sizeof msg);
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	req_suspend(r);
	return 0;
}

/* ---- perfdata history ---- */

static void on_series(void *ud, int err, const char *msg, struct app_series *s)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_series_free(s);
		req_release(r);
		return;
	}
	if (err == APP_E_NOTFOUND) {
		app_series_free(s);
		req_finish_error(r, 404, "not_found", "%s", msg && *msg ? msg : "no such check");
		return;
	}
	if (err != APP_OK) {
		app_series_free(s);
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "resolution", s->resolution);
	jw_ktime(&w, "from", s->from);
	jw_ktime(&w, "to", s->to);
	jw_knum(&w, "step", s->step);
	jw_kbool(&w, "truncated", s->truncated);
	jw_key(&w, "series");
	jw_arr(&w);
	for (size_t i = 0; i < s->n; i++) {
		const struct app_series_line *l = &s->lines[i];
		jw_obj(&w);
		jw_kstr(&w, "label", l->label);
		jw_kstr(&w, "unit", l->unit);
		jw_key(&w, "points"); /* [t (epoch s), min, avg, max, count] */
		jw_arr(&w);
		for (size_t k = 0; k < l->n; k++) {
			const struct app_series_point *p = &l->points[k];
			jw_arr(&w);
			jw_num(&w, p->t);
			jw_num(&w, p->min);
			jw_num(&w, p->avg);
			jw_num(&w, p->max);
			jw_int(&w, p->count);
			jw_end_arr(&w);
		}
		jw_end_arr(&w);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_series_free(s);
	req_finish_json(r, 200, &b);
}

/* GET /api/v1/checks/{customer}/{asset}/{check}/series?from=&to=&step=&label=
 * Defaults: `to` now; `from` 300 steps before `to`, or 24 hours without a
 * step; `step` (to - from) / 300. */
int api_series(struct req *r)
{
	double now = ev_now(req_loop(r)), from = 0, to = now, step = 0;
	int has_from = q_time(r, "from", &from);
	if (has_from < 0 || q_time(r, "to", &to) < 0)
		return 0;
	const char *sv = req_query(r, "step");
	if (sv) {
		char *e = NULL;
		step = strtod(sv, &e);
		if (!*sv || *e || !(step >= 1 && step <= 31 * 86400.0))
			return reply_error(r, 400, "bad_parameter",
			                   "query parameter 'step': seconds, 1..2678400");
		if (has_from)
			from = to - 300 * step;
	} else {
		if (has_from)
			from = to - 86400;
		step = (to - from) / 300;
		if (step < 1)
			step = 1;
	}
	struct app_scope sc;
	who_scope(&r->who, &sc);
	char msg[APP_MSG_MAX] = "";
	int rc = app_series(req_app(r), &sc, r->param[0], r->param[1], r->param[2],
	                    req_query(r, "label"), from, to, step, on_series, r, msg, sizeof msg);
	if (rc == APP_E_INVALID)
		return reply_error(r, 400, "bad_parameter", "%s", msg);
	if (rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such check");
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	req_suspend(r);
	return 0;
}
