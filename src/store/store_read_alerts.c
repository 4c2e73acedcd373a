/*
 * store_read_alerts: the alert reads of the reader thread (store_read.c) -
 * a filtered page of alerts, newest first, and one alert's whole history.
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

#define ALERTS_SINCE 2 /* the alert tables exist since schema 2 */

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

static const char *const *dup_list(struct store_read *rd, const char *const *v, size_t n)
{
	if (!n)
		return NULL;
	const char **d = store__arena_alloc(&rd->mem, n * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = store__arena_dup(&rd->mem, v[i]);
	return d;
}

/* ---- the page (reader thread) ---- */

/* A value to bind: text, or a number when text is NULL. */
struct bind {
	const char *text;
	double num;
};

/* The SQL text and its values, in the order of their `?`. */
struct query {
	char *sql;
	size_t len, cap;
	struct bind *binds;
	size_t n_binds, cap_binds;
};

static void add(struct query *qb, const char *text)
{
	size_t n = strlen(text);
	if (qb->len + n + 1 > qb->cap) {
		qb->cap = (qb->len + n + 1) * 2;
		qb->sql = xrealloc(qb->sql, qb->cap);
	}
	memcpy(qb->sql + qb->len, text, n + 1);
	qb->len += n;
}

static void bind(struct query *qb, const char *text, double num)
{
	struct bind *b =
	    store__read_push((void **)&qb->binds, &qb->n_binds, &qb->cap_binds, sizeof *qb->binds);
	b->text = text;
	b->num = num;
	add(qb, "?");
}

/* "(?,?,...)" with the values bound. */
static void bind_list(struct query *qb, const char *const *v, size_t n)
{
	add(qb, "(");
	for (size_t i = 0; i < n; i++) {
		if (i)
			add(qb, ",");
		bind(qb, v[i], 0);
	}
	add(qb, ")");
}

static void build(struct query *qb, const struct store_alert_query *q)
{
	add(qb, STORE__ALERT_SELECT " WHERE 1");
	if (q->n_centers) {
		/* the owner, or a center receiving copies; json_each only on
		 * well-formed JSON (CASE evaluates in order), so a damaged
		 * `also` fails no read */
		add(qb, " AND (a.center IN ");
		bind_list(qb, q->centers, q->n_centers);
		add(qb, " OR CASE WHEN a.also IS NOT NULL AND json_valid(a.also) THEN EXISTS"
		        " (SELECT 1 FROM json_each(a.also) j WHERE j.value IN ");
		bind_list(qb, q->centers, q->n_centers);
		add(qb, ") ELSE 0 END)");
	}
	if (q->n_customers) {
		add(qb, " AND a.customer IN ");
		bind_list(qb, q->customers, q->n_customers);
	}
	if (q->status && strcmp(q->status, "resolved") != 0)
		/* says outright what status = 'open' implies, so that SQLite
		 * may use the partial index alert_unresolved_opened */
		add(qb, " AND a.status <> 'resolved'");
	if (q->status && strcmp(q->status, "unresolved") != 0) {
		add(qb, " AND a.status = ");
		bind(qb, q->status, 0);
	}
	if (q->service) {
		add(qb, " AND a.service = ");
		bind(qb, q->service, 0);
	}
	if (q->check_key) {
		add(qb, " AND a.check_key = ");
		bind(qb, q->check_key, 0);
	}
	if (q->severity > 0) {
		add(qb, " AND a.state = ");
		bind(qb, NULL, q->severity);
	}
	if (q->due_before > 0) {
		/* as the SLA clock sees it (sla.c next_event): a paused or
		 * stopped clock runs no deadline; an ack deadline runs until
		 * the ack; a breached one (at the last tier) is spent */
		add(qb, " AND a.status <> 'resolved' AND d.stopped = 0 AND d.paused = 0"
		        " AND ((d.acked = 0 AND d.ack_breached = 0 AND d.ack_due < ");
		bind(qb, NULL, q->due_before);
		add(qb, ") OR (d.resolve_breached = 0 AND d.resolve_due < ");
		bind(qb, NULL, q->due_before);
		add(qb, "))");
	}
	if (q->after_id) {
		add(qb, " AND (a.opened_at, a.id) < (");
		bind(qb, NULL, q->after_opened);
		add(qb, ", ");
		bind(qb, q->after_id, 0);
		add(qb, ")");
	}
	add(qb, " ORDER BY a.opened_at DESC, a.id DESC LIMIT ");
	bind(qb, NULL, q->limit + 1);
}

static int run_page(struct store_read *rd, sqlite3 *db)
{
	const struct store_alert_query *q = &rd->in.alerts;
	struct query qb = { 0 };
	build(&qb, q);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, qb.sql, -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < qb.n_binds; i++) {
		if (qb.binds[i].text)
			store__bind_text(st, (int)i + 1, qb.binds[i].text);
		else
			sqlite3_bind_double(st, (int)i + 1, qb.binds[i].num);
	}
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
	free(qb.sql);
	free(qb.binds);
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
	c->centers = dup_list(rd, q->centers, q->n_centers);
	c->customers = dup_list(rd, q->customers, q->n_customers);
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
	if (sqlite3_prepare_v2(db, STORE__ALERT_SELECT " WHERE a.id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
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
