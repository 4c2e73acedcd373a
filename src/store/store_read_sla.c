/*
 * store_read_sla: the SLA summary per center and customer (store.h,
 * store_read_sla) - a read of the reader thread (store_read.c).
 *
 * One statement, three branches joined by UNION ALL and folded by one
 * GROUP BY (center, customer), so the figures come from one snapshot and
 * SQLite does the merging:
 *   - unresolved alerts, through the partial index alert_unresolved
 *     (named: without statistics SQLite would rather walk alert_center
 *     to save the GROUP BY sort, i.e. the whole history), with their
 *     deadline rows: `open`, and `due` with the running-deadline
 *     condition the alert pages use for due_before (store__sql_running_due);
 *   - the month's breaches: `sla_breach` events in [month_start,
 *     month_end) through alert_event_breach (schema 5), re-announcements
 *     left out, their alerts looked up by id;
 *   - the month's acknowledgements through alert_acked_at (schema 5), the
 *     median of acked_at - opened_at per pair with window functions
 *     (row_number and count over the pair, ordered by the duration; the
 *     one or two middle rows are averaged): exact, one sort of the
 *     month's acknowledgements, and only the middle rows leave SQLite.
 * The scope filter is the alert pages' (store__sql_scope), repeated in
 * each branch; the customer list must not drive these branches (unary +),
 * each has a narrower index.  On a schema-4 file (a read-only store) the
 * two month branches scan the alert and alert_event tables instead: the
 * same figures, slower.
 *
 * Why breach time and not opened_at: a month's count is then final when
 * the month ends (an alert opened on the 31st that breaches on the 1st is
 * next month's breach), and it counts breaches at every tier - the
 * deadline row's breached flags are set only at the last tier, carry no
 * time, and are always written with their event.
 *
 * Must never: read the whole alert history for a month's figures, splice
 * a value into the SQL text, or hand out a string that points into SQLite.
 */
#include "store/store_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SLA_SINCE 2 /* the alert tables exist since schema 2 (indexes: 5) */

static int bad(char *err, size_t errlen, const char *msg)
{
	if (errlen)
		snprintf(err, errlen, "%s", msg);
	return STORE_EINVAL;
}

static int is_time(double t)
{
	return isfinite(t) && t >= 0;
}

int store_sla_query_check(const struct store_sla_query *q, char *err, size_t errlen)
{
	if (!q)
		return bad(err, errlen, "no query");
	if (q->n_centers > STORE_READ_MAX_ALERTS || q->n_customers > STORE_READ_MAX_ALERTS)
		return bad(err, errlen, "too many centers or customers (at most 1000 each)");
	if ((q->n_centers && !q->centers) || (q->n_customers && !q->customers))
		return bad(err, errlen, "a list of centers or customers is missing");
	for (size_t i = 0; i < q->n_centers; i++)
		if (!q->centers[i])
			return bad(err, errlen, "a center is NULL");
	for (size_t i = 0; i < q->n_customers; i++)
		if (!q->customers[i])
			return bad(err, errlen, "a customer is NULL");
	if (!is_time(q->now))
		return bad(err, errlen, "now must be a time");
	if (!isfinite(q->due_within) || q->due_within <= 0)
		return bad(err, errlen, "due_within must be a number of seconds > 0");
	if (!is_time(q->month_start) || !is_time(q->month_end) || q->month_end <= q->month_start)
		return bad(err, errlen, "the month must be two times, start before end");
	return 0;
}

static void scope(struct store__sql *qb, const struct store_sla_query *q)
{
	store__sql_scope(qb, q->centers, q->n_centers, q->customers, q->n_customers, 0);
}

static void build(struct store__sql *qb, const struct store_sla_query *q)
{
	double due[2] = { q->now, q->now + q->due_within };
	store__sql_add(qb, "SELECT center, customer, sum(n_open), sum(n_due), sum(n_breached),"
	                   " sum(n_acked), max(median) FROM (");
	/* unresolved, due */
	store__sql_add(qb, "SELECT a.center AS center, a.customer AS customer, count(*) AS n_open,"
	                   " coalesce(sum(");
	store__sql_running_due(qb, "BETWEEN ? AND ?", due, 2);
	store__sql_add(qb, "), 0) AS n_due, 0 AS n_breached, 0 AS n_acked, NULL AS median"
	                   " FROM alert a INDEXED BY alert_unresolved"
	                   " LEFT JOIN deadline d ON d.alert_id = a.id"
	                   " WHERE a.status <> 'resolved'");
	scope(qb, q);
	store__sql_add(qb, " GROUP BY a.center, a.customer");
	/* breached this month: first announcements only (a re-announcement
	 * repeats a breach already counted when it happened); json_extract
	 * only on well-formed JSON, so a damaged payload fails no read */
	store__sql_add(qb, " UNION ALL SELECT a.center, a.customer, 0, 0, count(*), 0, NULL"
	                   " FROM alert a WHERE a.id IN (SELECT e.alert_id FROM alert_event e"
	                   " WHERE e.type = 'sla_breach' AND e.time >= ");
	store__sql_bind(qb, NULL, q->month_start);
	store__sql_add(qb, " AND e.time < ");
	store__sql_bind(qb, NULL, q->month_end);
	store__sql_add(qb, " AND NOT coalesce(CASE WHEN json_valid(e.payload)"
	                   " THEN json_extract(e.payload, '$.reannounce') END, 0))");
	scope(qb, q);
	store__sql_add(qb, " GROUP BY a.center, a.customer");
	/* acknowledged this month: count and exact median per pair */
	store__sql_add(qb, " UNION ALL SELECT center, customer, 0, 0, 0, max(n), avg(dur) FROM"
	                   " (SELECT a.center AS center, a.customer AS customer,"
	                   " a.acked_at - a.opened_at AS dur,"
	                   " row_number() OVER (PARTITION BY a.center, a.customer"
	                   " ORDER BY a.acked_at - a.opened_at) AS rn,"
	                   " count(*) OVER (PARTITION BY a.center, a.customer) AS n"
	                   " FROM alert a WHERE a.acked_at >= ");
	store__sql_bind(qb, NULL, q->month_start);
	store__sql_add(qb, " AND a.acked_at < ");
	store__sql_bind(qb, NULL, q->month_end);
	scope(qb, q);
	store__sql_add(qb, ") WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY center, customer");
	store__sql_add(qb, ") GROUP BY center, customer ORDER BY center, customer");
}

static int run_sla(struct store_read *rd, sqlite3 *db)
{
	struct store__sql qb = { 0 };
	build(&qb, &rd->in.sla);
	sqlite3_stmt *st = NULL;
	int rc = store__sql_prepare(&qb, db, &st);
	store__sql_free(&qb);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *customer = (const char *)sqlite3_column_text(st, 1);
			if (!customer)
				continue; /* NOT NULL in the schema: never a half row */
			struct store_sla_row *r =
			    store__read_push((void **)&rd->sla, &rd->n_sla, &rd->cap_sla, sizeof *r);
			r->center = store__arena_dup(&rd->mem, (const char *)sqlite3_column_text(st, 0));
			r->customer = store__arena_dup(&rd->mem, customer);
			r->open = sqlite3_column_int64(st, 2);
			r->due = sqlite3_column_int64(st, 3);
			r->breached = sqlite3_column_int64(st, 4);
			r->acked = sqlite3_column_int64(st, 5);
			r->median_ack = sqlite3_column_type(st, 6) == SQLITE_NULL
			                    ? -1
			                    : sqlite3_column_double(st, 6);
		}
	if (rc != SQLITE_DONE) {
		store__read_fail(rd, STORE_EFAIL, "sla summary: %s", sqlite3_errmsg(db));
		rd->n_sla = 0;
	}
	sqlite3_finalize(st);
	return rd->status;
}

int store_read_sla(struct store *s, const struct store_sla_query *q, store_read_cb cb, void *ud)
{
	char err[160];
	if (store_sla_query_check(q, err, sizeof err) != 0 || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_sla, SLA_SINCE);
	struct store_sla_query *c = &rd->in.sla;
	*c = *q;
	c->centers = store__read_dup_list(rd, q->centers, q->n_centers);
	c->customers = store__read_dup_list(rd, q->customers, q->n_customers);
	return store__read_submit(s, rd);
}

size_t store_read_sla_count(const struct store_read *rd)
{
	return rd->n_sla;
}

const struct store_sla_row *store_read_sla_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_sla ? &rd->sla[i] : NULL;
}
