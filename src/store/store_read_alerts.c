/*
 * store_read_alerts: the alert reads of the reader thread (store_read.c) -
 * a filtered page of alerts, newest first, and one alert's whole history -
 * and what other alert reads share with them (store_int.h): the SQL
 * builder, the scope filter (centers with copies, customers) and the
 * running-deadline condition, so that every read means the same by them.
 *
 * The query is copied on the loop thread (store_read_alerts); its SQL is
 * built and run on the reader thread, every value bound, never spliced
 * into the text.  A page reads at most limit + 1 rows (the extra one only
 * says that another page exists), ordered by (opened_at DESC, id DESC) so
 * that the cursor (the last row's opened_at and id) picks up exactly
 * after it even when many alerts share an opened_at.  Indexes (schema 4):
 * alert_opened serves that order, alert_unresolved_opened the same for
 * unresolved alerts (every status but "resolved" and due_before say
 * `status <> 'resolved'` outright so that it applies), alert_customer and
 * alert_check a narrow filter.  A center filter walks the time order (a
 * center is large, and copies in `also` are not indexed).  Must never: return a
 * row twice or skip one across pages, or hand out a string that points
 * into SQLite (rows are copied into the read's memory).
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERTS_SINCE 2 /* the alert tables exist since schema 2 (their runbook since 8) */

/* ---- checking and copying the query (loop thread) ---- */

static int bad(char *err, size_t errlen, const char *fmt, const char *what)
{
	if (errlen)
		snprintf(err, errlen, fmt, what);
	return STORE_EINVAL;
}

int store_alert_query_check(const struct store_alert_query *q, char *err, size_t errlen)
{
	char num[32];
	if (!q)
		return bad(err, errlen, "%s", "no query");
	if (q->limit < 1 || q->limit > STORE_READ_MAX_ALERTS) {
		snprintf(num, sizeof num, "%u", q->limit);
		return bad(err, errlen, "limit must be 1..1000, not %s", num);
	}
	if (q->status && strcmp(q->status, "open") != 0 && strcmp(q->status, "acknowledged") != 0 &&
	    strcmp(q->status, "resolved") != 0 && strcmp(q->status, "unresolved") != 0)
		return bad(err, errlen,
		           "status must be open, acknowledged, resolved or unresolved, not '%s'",
		           q->status);
	if (q->severity < -1 || q->severity > 3) {
		snprintf(num, sizeof num, "%d", q->severity);
		return bad(err, errlen,
		           "severity must be 1 (warning), 2 (critical), 3 (unknown)"
		           " or -1 (any), not %s",
		           num);
	}
	if (q->n_centers > STORE_READ_MAX_ALERTS || q->n_customers > STORE_READ_MAX_ALERTS)
		return bad(err, errlen, "%s", "too many centers or customers (at most 1000 each)");
	if ((q->n_centers && !q->centers) || (q->n_customers && !q->customers))
		return bad(err, errlen, "%s", "a list of centers or customers is missing");
	for (size_t i = 0; i < q->n_centers; i++)
		if (!q->centers[i])
			return bad(err, errlen, "%s", "a center is NULL");
	for (size_t i = 0; i < q->n_customers; i++)
		if (!q->customers[i])
			return bad(err, errlen, "%s", "a customer is NULL");
	if (q->due_before < 0 || q->due_before != q->due_before)
		return bad(err, errlen, "%s", "due_before must be a time (or 0)");
	if (q->after_opened != q->after_opened)
		return bad(err, errlen, "%s", "after_opened is not a number");
	return 0;
}

const char *const *store__read_dup_list(struct store_read *rd, const char *const *v, size_t n)
{
	if (!n)
		return NULL;
	const char **d = store__arena_alloc(&rd->mem, n * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = store__arena_dup(&rd->mem, v[i]);
	return d;
}

/* ---- SQL text and its values (reader thread; store_int.h) ---- */

void store__sql_add(struct store__sql *q, const char *text)
{
	size_t n = strlen(text);
	if (q->len + n + 1 > q->cap) {
		q->cap = (q->len + n + 1) * 2;
		q->sql = xrealloc(q->sql, q->cap);
	}
	memcpy(q->sql + q->len, text, n + 1);
	q->len += n;
}

void store__sql_value(struct store__sql *q, const char *text, double num)
{
	struct store__bind *b =
	    store__read_push((void **)&q->binds, &q->n_binds, &q->cap_binds, sizeof *q->binds);
	b->text = text;
	b->num = num;
}

void store__sql_bind(struct store__sql *q, const char *text, double num)
{
	store__sql_value(q, text, num);
	store__sql_add(q, "?");
}

/* "(?,?,...)" with the values bound. */
static void bind_list(struct store__sql *q, const char *const *v, size_t n)
{
	store__sql_add(q, "(");
	for (size_t i = 0; i < n; i++) {
		if (i)
			store__sql_add(q, ",");
		store__sql_bind(q, v[i], 0);
	}
	store__sql_add(q, ")");
}

void store__sql_scope(struct store__sql *q, const char *const *centers, size_t n_centers,
                      const char *const *customers, size_t n_customers, int index)
{
	if (n_centers) {
		/* the owner, or a center receiving copies; json_each only on
		 * well-formed JSON (CASE evaluates in order), so a damaged
		 * `also` fails no read */
		store__sql_add(q, " AND (a.center IN ");
		bind_list(q, centers, n_centers);
		store__sql_add(q,
		               " OR CASE WHEN a.also IS NOT NULL AND json_valid(a.also) THEN EXISTS"
		               " (SELECT 1 FROM json_each(a.also) j WHERE j.value IN ");
		bind_list(q, centers, n_centers);
		store__sql_add(q, ") ELSE 0 END)");
	}
	if (n_customers) {
		/* unary + : the column, not its index */
		store__sql_add(q, index ? " AND a.customer IN " : " AND +a.customer IN ");
		bind_list(q, customers, n_customers);
	}
}

void store__sql_running_due(struct store__sql *q, const char *cmp, const double *v, size_t nv)
{
	/* as the SLA clock sees it (sla.c next_event): a paused or stopped
	 * clock runs no deadline; an ack deadline runs until the ack; a
	 * breached one (at the last tier) is spent */
	store__sql_add(q, "(a.status <> 'resolved' AND d.stopped = 0 AND d.paused = 0"
	                  " AND ((d.acked = 0 AND d.ack_breached = 0 AND d.ack_due ");
	store__sql_add(q, cmp);
	for (size_t i = 0; i < nv; i++)
		store__sql_value(q, NULL, v[i]);
	store__sql_add(q, ") OR (d.resolve_breached = 0 AND d.resolve_due ");
	store__sql_add(q, cmp);
	for (size_t i = 0; i < nv; i++)
		store__sql_value(q, NULL, v[i]);
	store__sql_add(q, ")))");
}

int store__sql_prepare(const struct store__sql *q, sqlite3 *db, sqlite3_stmt **st)
{
	*st = NULL;
	int rc = sqlite3_prepare_v2(db, q->sql, -1, st, NULL);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(*st) != (int)q->n_binds)
		rc = SQLITE_RANGE; /* the text and the values disagree: a bug */
	for (size_t i = 0; rc == SQLITE_OK && i < q->n_binds; i++) {
		if (q->binds[i].text)
			store__bind_text(*st, (int)i + 1, q->binds[i].text);
		else
			sqlite3_bind_double(*st, (int)i + 1, q->binds[i].num);
	}
	return rc;
}

void store__sql_free(struct store__sql *q)
{
	free(q->sql);
	free(q->binds);
	memset(q, 0, sizeof *q);
}

/* ---- the page (reader thread) ---- */

static void build(struct store__sql *qb, const struct store_alert_query *q, int schema)
{
	store__sql_add(qb, STORE__ALERT_SELECT_FOR(schema));
	store__sql_add(qb, " WHERE 1");
	store__sql_scope(qb, q->centers, q->n_centers, q->customers, q->n_customers, 1);
	if (q->status && strcmp(q->status, "resolved") != 0)
		/* says outright what status = 'open' implies, so that SQLite
		 * may use the partial index alert_unresolved_opened */
		store__sql_add(qb, " AND a.status <> 'resolved'");
	if (q->status && strcmp(q->status, "unresolved") != 0) {
		store__sql_add(qb, " AND a.status = ");
		store__sql_bind(qb, q->status, 0);
	}
	if (q->service) {
		store__sql_add(qb, " AND a.service = ");
		store__sql_bind(qb, q->service, 0);
	}
	if (q->check_key) {
		store__sql_add(qb, " AND a.check_key = ");
		store__sql_bind(qb, q->check_key, 0);
	}
	if (q->severity > 0) {
		store__sql_add(qb, " AND a.state = ");
		store__sql_bind(qb, NULL, q->severity);
	}
	if (q->due_before > 0) {
		store__sql_add(qb, " AND ");
		store__sql_running_due(qb, "< ?", &q->due_before, 1);
	}
	if (q->after_id) {
		store__sql_add(qb, " AND (a.opened_at, a.id) < (");
		store__sql_bind(qb, NULL, q->after_opened);
		store__sql_add(qb, ", ");
		store__sql_bind(qb, q->after_id, 0);
		store__sql_add(qb, ")");
	}
	store__sql_add(qb, " ORDER BY a.opened_at DESC, a.id DESC LIMIT ");
	store__sql_bind(qb, NULL, q->limit + 1);
}

static int run_page(struct store_read *rd, sqlite3 *db)
{
	const struct store_alert_query *q = &rd->in.alerts;
	struct store__sql qb = { 0 };
	build(&qb, q, rd->schema);
	sqlite3_stmt *st = NULL;
	int rc = store__sql_prepare(&qb, db, &st);
	if (rc == SQLITE_OK)
		rc = SQLITE_ROW;
	while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_alerts == q->limit) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_alert_row r;
		store__alert_row(st, &r);
		if (!r.id || !r.check_key || !r.status)
			continue; /* as store_load_alerts: never a half row */
		struct store_alert_row *d = store__read_push((void **)&rd->alerts, &rd->n_alerts,
		                                             &rd->cap_alerts, sizeof *d);
		store__read_copy_alert(rd, d, &r);
	}
	store__sql_free(&qb);
	if (rc != SQLITE_DONE) {
		store__read_fail(rd, STORE_EFAIL, "alerts: %s", sqlite3_errmsg(db));
		rd->n_alerts = 0;
		rd->more = 0;
	}
	sqlite3_finalize(st);
	return rd->status;
}

int store_read_alerts(struct store *s, const struct store_alert_query *q, store_read_cb cb,
                      void *ud)
{
	char err[160];
	if (store_alert_query_check(q, err, sizeof err) != 0 || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_page, ALERTS_SINCE);
	struct store_alert_query *c = &rd->in.alerts;
	*c = *q;
	c->centers = store__read_dup_list(rd, q->centers, q->n_centers);
	c->customers = store__read_dup_list(rd, q->customers, q->n_customers);
	c->status = store__arena_dup(&rd->mem, q->status);
	c->service = store__arena_dup(&rd->mem, q->service);
	c->check_key = store__arena_dup(&rd->mem, q->check_key);
	c->after_id = store__arena_dup(&rd->mem, q->after_id);
	return store__read_submit(s, rd);
}

/* ---- one alert's history (reader thread) ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static const char *keep(struct store_read *rd, sqlite3_stmt *st, int i)
{
	return store__arena_dup(&rd->mem, ctext(st, i));
}

static int read_events(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	const char *q = "SELECT alert_id, seq, type, time, actor, note, cmd_id, payload"
	                " FROM alert_event WHERE alert_id = ? ORDER BY seq LIMIT ?";
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, rd->in.alert_id);
	sqlite3_bind_int(st, 2, STORE_READ_MAX_HISTORY + 1);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_events == STORE_READ_MAX_HISTORY) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_event_row *d = store__read_push((void **)&rd->events, &rd->n_events,
		                                             &rd->cap_events, sizeof *d);
		d->alert_id = keep(rd, st, 0);
		d->seq = sqlite3_column_int64(st, 1);
		d->type = keep(rd, st, 2);
		d->time = sqlite3_column_double(st, 3);
		d->actor = keep(rd, st, 4);
		d->note = keep(rd, st, 5);
		d->cmd_id = keep(rd, st, 6);
		d->payload = keep(rd, st, 7);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int read_dispatches(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	const char *q = "SELECT alert_id, seq, time, actor, vendor, planned_at, result"
	                " FROM dispatch WHERE alert_id = ? ORDER BY seq LIMIT ?";
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, rd->in.alert_id);
	sqlite3_bind_int(st, 2, STORE_READ_MAX_HISTORY + 1);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_dispatches == STORE_READ_MAX_HISTORY) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_dispatch_row *d = store__read_push(
		    (void **)&rd->dispatches, &rd->n_dispatches, &rd->cap_dispatches, sizeof *d);
		d->alert_id = keep(rd, st, 0);
		d->seq = sqlite3_column_int64(st, 1);
		d->time = sqlite3_column_double(st, 2);
		d->actor = keep(rd, st, 3);
		d->vendor = keep(rd, st, 4);
		d->planned_at =
		    sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 5);
		d->result = keep(rd, st, 6);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int run_history(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	char q[2048];
	snprintf(q, sizeof q, "%s WHERE a.id = ?", STORE__ALERT_SELECT_FOR(rd->schema));
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "alert: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.alert_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_alert_row r;
		store__alert_row(st, &r);
		struct store_alert_row *d = store__read_push((void **)&rd->alerts, &rd->n_alerts,
		                                             &rd->cap_alerts, sizeof *d);
		store__read_copy_alert(rd, d, &r);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store__read_fail(rd, STORE_EFAIL, "alert: %s", sqlite3_errmsg(db));
	if (!rd->n_alerts)
		return 0; /* unknown: not an error */
	if (read_events(rd, db) != 0 || read_dispatches(rd, db) != 0) {
		store__read_fail(rd, STORE_EFAIL, "alert history: %s", sqlite3_errmsg(db));
		rd->n_alerts = rd->n_events = rd->n_dispatches = 0;
		rd->more = 0;
	}
	return rd->status;
}

int store_read_alert_history(struct store *s, const char *alert_id, store_read_cb cb, void *ud)
{
	if (!alert_id || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_history, ALERTS_SINCE);
	rd->in.alert_id = store__arena_dup(&rd->mem, alert_id);
	return store__read_submit(s, rd);
}

/* ---- alert events since a time (the live stream's resume) ---- */

static int run_events_since(struct store_read *rd, sqlite3 *db)
{
	const struct store_alert_query *q = &rd->in.alerts;
	struct store__sql sql = { 0 };
	store__sql_add(&sql, "SELECT e.alert_id, e.seq, e.type, e.time, e.actor, e.note, e.cmd_id,"
	                     " e.payload FROM alert_event e JOIN alert a ON a.id = e.alert_id"
	                     " WHERE e.time > ");
	store__sql_bind(&sql, NULL, q->after_opened);
	store__sql_scope(&sql, q->centers, q->n_centers, q->customers, q->n_customers, 1);
	store__sql_add(&sql, " ORDER BY e.time, e.alert_id, e.seq LIMIT ");
	store__sql_bind(&sql, NULL, (double)q->limit + 1);
	sqlite3_stmt *st;
	if (store__sql_prepare(&sql, db, &st) != SQLITE_OK) {
		store__sql_free(&sql);
		return store__read_fail(rd, STORE_EFAIL, "alert events: %s", sqlite3_errmsg(db));
	}
	store__sql_free(&sql);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_events == q->limit) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_event_row *d = store__read_push((void **)&rd->events, &rd->n_events,
		                                             &rd->cap_events, sizeof *d);
		d->alert_id = keep(rd, st, 0);
		d->seq = sqlite3_column_int64(st, 1);
		d->type = keep(rd, st, 2);
		d->time = sqlite3_column_double(st, 3);
		d->actor = keep(rd, st, 4);
		d->note = keep(rd, st, 5);
		d->cmd_id = keep(rd, st, 6);
		d->payload = keep(rd, st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rd->n_events = 0;
		return store__read_fail(rd, STORE_EFAIL, "alert events: %s", sqlite3_errmsg(db));
	}
	return 0;
}

int store_read_events_since(struct store *s, double after, const char *const *centers,
                            size_t n_centers, const char *const *customers, size_t n_customers,
                            unsigned limit, store_read_cb cb, void *ud)
{
	if (!cb || limit == 0 || limit > 100000)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_events_since, ALERTS_SINCE);
	struct store_alert_query *q = &rd->in.alerts;
	memset(q, 0, sizeof *q);
	q->after_opened = after;
	q->limit = limit;
	q->centers = store__read_dup_list(rd, centers, n_centers);
	q->n_centers = n_centers;
	q->customers = store__read_dup_list(rd, customers, n_customers);
	q->n_customers = n_customers;
	return store__read_submit(s, rd);
}
