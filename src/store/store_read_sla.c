/*
 * store_read_sla: the SLA summary per center and customer (store.h,
 * store_read_sla) - a read of the reader thread (store_read.c).
 *
 * Two statements in the read's one transaction (one snapshot):
 *   - counts: two branches joined by UNION ALL and folded by one GROUP BY
 *     (center, customer), ordered by pair -
 *       unresolved alerts with their deadline rows: `open`, and `due` with
 *       the running-deadline condition the alert pages use for due_before
 *       (store__sql_running_due), through the partial index
 *       alert_unresolved (named: without statistics SQLite would rather
 *       walk alert_center to save the GROUP BY sort, i.e. the whole
 *       history);
 *       the month's breaches: `sla_breach` events in [month_start,
 *       month_end) through alert_event_breach (schema 5), re-announcements
 *       left out, their alerts looked up by id;
 *   - acknowledgements: (pair, acked_at - opened_at) of the alerts
 *     acknowledged in the month, ordered by pair and duration, read from
 *     alert_acked_at alone (schema 5: it holds every column the read
 *     needs, the table is never touched); the median of each pair is its
 *     middle value, or the mean of the middle two - exact.  SQLite's
 *     window functions give the same figure at four times the cost.
 * Both lists are in pair order; one merge joins them.
 *
 * Bounded work: the unresolved alerts, the month's breach events and the
 * month's acknowledgements (one sort), never the whole history.  With a
 * short list of customers (a customer's own view) the read is driven by
 * the customer index instead: those customers' alerts only.  Memory: the
 * rows, and the durations of the largest pair.  The scope filter is the
 * alert pages' (store__sql_scope), repeated in each branch.  On a file
 * without the schema-5 indexes (an older one, read-only) the month's
 * figures scan the alert and alert_event tables instead: the same
 * figures, slower.
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
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A short list of customers (a customer's own view, a filter) drives the
 * read by the customer index: those customers' alerts are few next to a
 * month of everyone's.  A longer list, or none, drives it by time. */
#define BY_CUSTOMER_MAX 8

static int by_customer(const struct store_sla_query *q)
{
	return q->n_customers > 0 && q->n_customers <= BY_CUSTOMER_MAX;
}

static void scope(struct store__sql *qb, const struct store_sla_query *q)
{
	store__sql_scope(qb, q->centers, q->n_centers, q->customers, q->n_customers,
	                 by_customer(q));
}

/* A breach announced in the month, not a re-announcement (that repeats a
 * breach counted when it happened); json_extract only on well-formed
 * JSON, so a damaged payload fails no read (and counts). */
static void first_breach(struct store__sql *qb, const struct store_sla_query *q)
{
	store__sql_add(qb, " e.type = 'sla_breach' AND e.time >= ");
	store__sql_bind(qb, NULL, q->month_start);
	store__sql_add(qb, " AND e.time < ");
	store__sql_bind(qb, NULL, q->month_end);
	store__sql_add(qb, " AND NOT coalesce(CASE WHEN json_valid(e.payload)"
	                   " THEN json_extract(e.payload, '$.reannounce') END, 0)");
}

/* open, due, breached per pair, ordered by pair */
static void build_counts(struct store__sql *qb, const struct store_sla_query *q)
{
	double due[2] = { q->now, q->now + q->due_within };
	store__sql_add(qb,
	               "SELECT center, customer, sum(n_open), sum(n_due), sum(n_breached) FROM (");
	store__sql_add(qb, "SELECT a.center AS center, a.customer AS customer, count(*) AS n_open,"
	                   " coalesce(sum(");
	store__sql_running_due(qb, "BETWEEN ? AND ?", due, 2);
	store__sql_add(qb, "), 0) AS n_due, 0 AS n_breached FROM alert a");
	if (!by_customer(q))
		store__sql_add(qb, " INDEXED BY alert_unresolved");
	store__sql_add(qb,
	               " LEFT JOIN deadline d ON d.alert_id = a.id WHERE a.status <> 'resolved'");
	scope(qb, q);
	store__sql_add(qb, " GROUP BY a.center, a.customer UNION ALL"
	                   " SELECT a.center, a.customer, 0, 0, count(*) FROM alert a WHERE ");
	if (by_customer(q)) {
		/* the customers' alerts, each looking at its own events */
		store__sql_add(qb,
		               "EXISTS (SELECT 1 FROM alert_event e WHERE e.alert_id = a.id AND");
		first_breach(qb, q);
		store__sql_add(qb, ")");
	} else {
		/* the month's breaches (alert_event_breach), their alerts by id */
		store__sql_add(qb, "a.id IN (SELECT e.alert_id FROM alert_event e WHERE");
		first_breach(qb, q);
		store__sql_add(qb, ")");
	}
	scope(qb, q);
	store__sql_add(qb, " GROUP BY a.center, a.customer)"
	                   " GROUP BY center, customer ORDER BY center, customer");
}

/* the month's acknowledgements: pair and time to acknowledge, ordered by
 * pair and time (alert_acked_at covers every column read) */
static void build_acks(struct store__sql *qb, const struct store_sla_query *q)
{
	store__sql_add(qb, "SELECT a.center, a.customer, a.acked_at - a.opened_at FROM alert a"
	                   " WHERE a.acked_at >= ");
	store__sql_bind(qb, NULL, q->month_start);
	store__sql_add(qb, " AND a.acked_at < ");
	store__sql_bind(qb, NULL, q->month_end);
	scope(qb, q);
	store__sql_add(qb, " ORDER BY 1, 2, 3");
}

/* The order of ORDER BY center, customer: NULL first, then bytes (SQLite's
 * BINARY collation is memcmp, the same order as strcmp on text without
 * NUL). */
static int pair_cmp(const char *c1, const char *k1, const char *c2, const char *k2)
{
	if (!c1 != !c2)
		return c1 ? 1 : -1;
	int r = c1 ? strcmp(c1, c2) : 0;
	return r ? r : strcmp(k1, k2);
}

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int read_counts(struct store_read *rd, sqlite3 *db)
{
	struct store__sql qb = { 0 };
	build_counts(&qb, &rd->in.sla);
	sqlite3_stmt *st = NULL;
	int rc = store__sql_prepare(&qb, db, &st);
	store__sql_free(&qb);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (!ctext(st, 1))
				continue; /* NOT NULL in the schema: never a half row */
			struct store_sla_row *r = store__read_push((void **)&rd->sla, &rd->n_sla,
			                                           &rd->cap_sla, sizeof *r);
			r->center = store__arena_dup(&rd->mem, ctext(st, 0));
			r->customer = store__arena_dup(&rd->mem, ctext(st, 1));
			r->open = sqlite3_column_int64(st, 2);
			r->due = sqlite3_column_int64(st, 3);
			r->breached = sqlite3_column_int64(st, 4);
			r->median_ack = -1;
		}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct acks {
	struct store_sla_row *v; /* pairs with acked and median_ack */
	size_t n, cap;
	double *dur; /* the current pair's, ascending */
	size_t nd, capd;
};

static void close_pair(struct acks *k)
{
	if (!k->n || !k->nd)
		return;
	struct store_sla_row *r = &k->v[k->n - 1];
	size_t h = k->nd / 2;
	r->acked = (int64_t)k->nd;
	r->median_ack = k->nd % 2 ? k->dur[h] : (k->dur[h - 1] + k->dur[h]) / 2;
	k->nd = 0;
}

static int read_acks(struct store_read *rd, sqlite3 *db, struct acks *k)
{
	struct store__sql qb = { 0 };
	build_acks(&qb, &rd->in.sla);
	sqlite3_stmt *st = NULL;
	int rc = store__sql_prepare(&qb, db, &st);
	store__sql_free(&qb);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *center = ctext(st, 0), *customer = ctext(st, 1);
			if (!customer)
				continue;
			struct store_sla_row *cur = k->n ? &k->v[k->n - 1] : NULL;
			if (!cur || pair_cmp(cur->center, cur->customer, center, customer) != 0) {
				close_pair(k);
				cur = store__read_push((void **)&k->v, &k->n, &k->cap, sizeof *cur);
				cur->center = store__arena_dup(&rd->mem, center);
				cur->customer = store__arena_dup(&rd->mem, customer);
			}
			double *d = store__read_push((void **)&k->dur, &k->nd, &k->capd, sizeof *d);
			*d = sqlite3_column_double(st, 2);
		}
	close_pair(k);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* rd->sla (counts) and k->v (acknowledgements), both in pair order, into
 * one list in that order. */
static void merge(struct store_read *rd, struct acks *k)
{
	size_t n = rd->n_sla + k->n, i = 0, j = 0, o = 0;
	struct store_sla_row *m = xcalloc(n ? n : 1, sizeof *m);
	while (i < rd->n_sla || j < k->n) {
		const struct store_sla_row *a = i < rd->n_sla ? &rd->sla[i] : NULL;
		const struct store_sla_row *b = j < k->n ? &k->v[j] : NULL;
		int c = !a ? 1 : !b ? -1 : pair_cmp(a->center, a->customer, b->center, b->customer);
		if (c <= 0) {
			m[o] = *a;
			i++;
		}
		if (c >= 0) {
			if (c > 0) {
				m[o] = *b;
				m[o].open = m[o].due = m[o].breached = 0;
			}
			m[o].acked = b->acked;
			m[o].median_ack = b->median_ack;
			j++;
		}
		o++;
	}
	free(rd->sla);
	rd->sla = m;
	rd->n_sla = rd->cap_sla = o;
}

static int run_sla(struct store_read *rd, sqlite3 *db)
{
	struct acks k = { 0 };
	if (read_counts(rd, db) != 0 || read_acks(rd, db, &k) != 0) {
		store__read_fail(rd, STORE_EFAIL, "sla summary: %s", sqlite3_errmsg(db));
		rd->n_sla = 0;
	} else {
		merge(rd, &k);
	}
	free(k.v);
	free(k.dur);
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
