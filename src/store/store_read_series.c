/*
 * store_read_series: the perfdata history's read on the reader thread
 * (store_read.c) - the series of one check, then each one's points on one
 * tier, grouped into buckets of the requested step.
 *
 * The series come from the unique index (customer, asset, check_name,
 * label); each series' points are one range scan of its primary key
 * (series, t), grouped by t / step (integer division, so buckets are
 * aligned on multiples of step since the epoch).  The total is bounded:
 * a series whose points would pass the bound is left out whole and the
 * read says "more", so a caller never gets half a line.
 *
 * Must never: hand out a string that points into SQLite, or read more
 * than max_points + 1 points of a series.
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SERIES_SINCE 7    /* the tables exist since schema 7 */
#define MAX_TIME     1e11 /* s: year 5138, keeps milliseconds in range */

int store_series_query_check(const struct store_series_query *q, char *err, size_t errlen)
{
	const char *why = NULL;
	if (!q)
		why = "no query";
	else if (!q->customer || !q->asset || !q->check)
		why = "customer, asset and check are required";
	else if (q->tier < STORE_SERIES_RAW || q->tier > STORE_SERIES_1H)
		why = "unknown tier";
	else if (!isfinite(q->from) || !isfinite(q->to) || q->from < 0 || q->to > MAX_TIME)
		why = "from and to must be times";
	else if (q->from >= q->to)
		why = "from must be before to";
	else if (!isfinite(q->step) || q->step <= 0)
		why = "step must be positive";
	else if (q->tier == STORE_SERIES_RAW && llround(q->step * 1000) < 1)
		why = "a raw step is at least 1 ms";
	else if (q->tier != STORE_SERIES_RAW &&
	         (q->step != floor(q->step) ||
	          (int64_t)q->step % (q->tier == STORE_SERIES_5M ? 300 : 3600) != 0))
		why = "a rollup step must be a multiple of the tier (300 or 3600 s)";
	else if (q->max_points < 1 || q->max_points > STORE_SERIES_MAX_POINTS)
		why = "max_points out of range";
	if (why && errlen)
		snprintf(err, errlen, "%s", why);
	return why ? STORE_EINVAL : 0;
}

/* ---- reader thread ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static const char *const points_sql[] = {
	[STORE_SERIES_RAW] = "SELECT t / ?2 AS b, min(v), max(v), sum(v), count(*) FROM series_raw"
	                     " WHERE series = ?1 AND t >= ?3 AND t < ?4 GROUP BY b ORDER BY b"
	                     " LIMIT ?5",
	[STORE_SERIES_5M] = "SELECT t / ?2 AS b, min(vmin), max(vmax), sum(vsum), sum(n)"
	                    " FROM series_5m WHERE series = ?1 AND t >= ?3 AND t < ?4"
	                    " GROUP BY b ORDER BY b LIMIT ?5",
	[STORE_SERIES_1H] = "SELECT t / ?2 AS b, min(vmin), max(vmax), sum(vsum), sum(n)"
	                    " FROM series_1h WHERE series = ?1 AND t >= ?3 AND t < ?4"
	                    " GROUP BY b ORDER BY b LIMIT ?5",
};

/* The points of line l (appended); 1 when they would pass the bound (the
 * line's points are taken back), 0, or -1 on a database error. */
static int read_points(struct store_read *rd, sqlite3_stmt *st, struct store__series_line *l)
{
	const struct store_series_query *q = &rd->in.series;
	int raw = q->tier == STORE_SERIES_RAW;
	/* raw rows are timed in ms, rollups in s */
	double scale = raw ? 1000.0 : 1.0;
	int64_t step = llround(q->step * scale);
	int64_t from = (int64_t)floor(q->from * scale), to = (int64_t)ceil(q->to * scale);
	size_t room = q->max_points - rd->n_points;
	sqlite3_bind_int64(st, 1, l->row.id);
	sqlite3_bind_int64(st, 2, step);
	sqlite3_bind_int64(st, 3, from);
	sqlite3_bind_int64(st, 4, to);
	sqlite3_bind_int64(st, 5, (int64_t)room + 1);
	l->first = rd->n_points;
	l->n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->n == room) {
			rd->n_points = l->first; /* not half a line */
			l->n = 0;
			sqlite3_reset(st);
			return 1;
		}
		struct store_series_point *p = store__read_push((void **)&rd->points, &rd->n_points,
		                                                &rd->cap_points, sizeof *p);
		p->t = (double)(sqlite3_column_int64(st, 0) * step) / scale;
		p->min = sqlite3_column_double(st, 1);
		p->max = sqlite3_column_double(st, 2);
		p->sum = sqlite3_column_double(st, 3);
		int64_t n = sqlite3_column_int64(st, 4);
		p->n = n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		l->n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int run_series(struct store_read *rd, sqlite3 *db)
{
	const struct store_series_query *q = &rd->in.series;
	sqlite3_stmt *list = NULL, *pts = NULL;
	const char *lq = q->label ? "SELECT id, label, unit, created, last_seen FROM series"
	                            " WHERE customer = ?1 AND asset = ?2 AND check_name = ?3"
	                            " AND label = ?4"
	                          : "SELECT id, label, unit, created, last_seen FROM series"
	                            " WHERE customer = ?1 AND asset = ?2 AND check_name = ?3"
	                            " ORDER BY label";
	if (sqlite3_prepare_v2(db, lq, -1, &list, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, points_sql[q->tier], -1, &pts, NULL) != SQLITE_OK) {
		store__read_fail(rd, STORE_EFAIL, "series: %s", sqlite3_errmsg(db));
		goto out;
	}
	store__bind_text(list, 1, q->customer);
	store__bind_text(list, 2, q->asset);
	store__bind_text(list, 3, q->check);
	if (q->label)
		store__bind_text(list, 4, q->label);
	int rc;
	while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
		if (!ctext(list, 1))
			continue;
		struct store__series_line *l =
		    store__read_push((void **)&rd->lines, &rd->n_lines, &rd->cap_lines, sizeof *l);
		l->row.id = sqlite3_column_int64(list, 0);
		l->row.customer = q->customer;
		l->row.asset = q->asset;
		l->row.check = q->check;
		l->row.label = store__arena_dup(&rd->mem, ctext(list, 1));
		l->row.unit = store__arena_dup(&rd->mem, ctext(list, 2) ? ctext(list, 2) : "");
		l->row.created = sqlite3_column_double(list, 3);
		l->row.last_seen = sqlite3_column_double(list, 4);
	}
	if (rc != SQLITE_DONE) {
		store__read_fail(rd, STORE_EFAIL, "series: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < rd->n_lines; i++) {
		int r = read_points(rd, pts, &rd->lines[i]);
		if (r < 0) {
			store__read_fail(rd, STORE_EFAIL, "series points: %s", sqlite3_errmsg(db));
			goto out;
		}
		if (r > 0) {
			rd->n_lines = i; /* the lines that fit whole */
			rd->more = 1;
			break;
		}
	}
out:
	if (rd->status) {
		rd->n_lines = rd->n_points = 0;
		rd->more = 0;
	}
	sqlite3_finalize(list);
	sqlite3_finalize(pts);
	return rd->status;
}

int store_read_series(struct store *s, const struct store_series_query *q, store_read_cb cb,
                      void *ud)
{
	char err[160];
	if (store_series_query_check(q, err, sizeof err) != 0 || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_series, SERIES_SINCE);
	struct store_series_query *c = &rd->in.series;
	*c = *q;
	c->customer = store__arena_dup(&rd->mem, q->customer);
	c->asset = store__arena_dup(&rd->mem, q->asset);
	c->check = store__arena_dup(&rd->mem, q->check);
	c->label = store__arena_dup(&rd->mem, q->label);
	return store__read_submit(s, rd);
}

/* ---- results (loop thread) ---- */

size_t store_read_series_count(const struct store_read *rd)
{
	return rd->n_lines;
}

const struct store_series_row *store_read_series_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_lines ? &rd->lines[i].row : NULL;
}

const struct store_series_point *store_read_series_points(const struct store_read *rd, size_t i,
                                                          size_t *n)
{
	if (i >= rd->n_lines) {
		*n = 0;
		return NULL;
	}
	*n = rd->lines[i].n;
	return rd->lines[i].n ? &rd->points[rd->lines[i].first] : NULL;
}
