/*
 * store_month: synchronous reads of one customer's month, for the report
 * workers (store.h, "synchronous reads of one customer's month").
 *
 * A report worker opens its own read-only connection (store_open_readonly)
 * and never starts it; these functions run their statement at once on
 * the calling thread.  WAL lets them read while the daemon's writer
 * commits; store_month_begin/end hold one read transaction so that every
 * read of one report sees the same snapshot.  Each read walks one index
 * range of one customer (state_change's primary key, alert_customer,
 * series' unique key, the buckets' primary key), never a whole table.
 *
 * Must never: write (the connection is read-only and query_only), run on
 * a store another thread uses, or be called on the loop thread of
 * mamorid (a month is many rows: that is what the workers are for).
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static double cnum(sqlite3_stmt *st, int i, double null)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? null : sqlite3_column_double(st, i);
}

static int fail(struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(s->db));
	return STORE_EFAIL;
}

static int prepare(struct store *s, int min_schema, const char *q, sqlite3_stmt **st, char *err,
                   size_t errlen)
{
	if (s->schema < min_schema) {
		snprintf(err, errlen,
		         "the database has schema %d; this read needs %d (run mamorid "
		         "once to upgrade it)",
		         s->schema, min_schema);
		return STORE_ESCHEMA;
	}
	if (sqlite3_prepare_v2(s->db, q, -1, st, NULL) != SQLITE_OK)
		return fail(s, err, errlen, "prepare");
	return 0;
}

static int finish(struct store *s, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
	int r = rc == SQLITE_DONE ? 0 : fail(s, err, errlen, "read");
	sqlite3_finalize(st);
	return r;
}

int store_month_begin(struct store *s, char *err, size_t errlen)
{
	if (store__exec(s->db, "BEGIN", err, errlen) != 0)
		return STORE_EFAIL;
	return 0;
}

void store_month_end(struct store *s)
{
	char e[256];
	store__exec(s->db, "COMMIT", e, sizeof e);
}

int store_month_changes(struct store *s, const char *customer, double from, double to,
                        void (*cb)(void *ud, const struct store_state_change_row *r), void *ud,
                        char *err, size_t errlen)
{
	/* Per check: its newest row before `from` (the primary key's range
	 * walked backwards), then its rows in [from, to). */
	static const char q[] =
	    "WITH c AS (SELECT DISTINCT asset, check_name FROM state_change WHERE customer = ?1)"
	    " SELECT x.asset, x.check_name, x.t, x.state, x.stale, x.output"
	    " FROM c JOIN state_change x ON x.customer = ?1 AND x.asset = c.asset"
	    " AND x.check_name = c.check_name AND x.t = (SELECT max(t) FROM state_change"
	    " WHERE customer = ?1 AND asset = c.asset AND check_name = c.check_name AND t < ?2)"
	    " UNION ALL"
	    " SELECT asset, check_name, t, state, stale, output FROM state_change"
	    " WHERE customer = ?1 AND t >= ?2 AND t < ?3"
	    " ORDER BY 1, 2, 3";
	sqlite3_stmt *st;
	int rc = prepare(s, 8, q, &st, err, errlen);
	if (rc)
		return rc;
	store__bind_text(st, 1, customer);
	sqlite3_bind_double(st, 2, from);
	sqlite3_bind_double(st, 3, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_state_change_row r = {
			.customer = customer,
			.asset = ctext(st, 0),
			.check = ctext(st, 1),
			.t = sqlite3_column_double(st, 2),
			.state = sqlite3_column_int(st, 3),
			.stale = sqlite3_column_int(st, 4),
			.output = ctext(st, 5),
		};
		cb(ud, &r);
	}
	return finish(s, st, rc, err, errlen);
}

int store_month_runs(struct store *s, double from, double to,
                     void (*cb)(void *ud, const struct store_monitor_run_row *r), void *ud,
                     char *err, size_t errlen)
{
	if (s->schema < 11)
		return 0; /* no record of the runs: no gap is told */
	/* the last run seen before `from` (a gap may reach into the month),
	 * then the runs of the month: a handful (one per start) */
	static const char q[] =
	    "SELECT node, started, seen, stopped FROM monitor_run"
	    " WHERE started < ?2 AND seen >= coalesce((SELECT max(seen) FROM monitor_run"
	    " WHERE seen < ?1), ?1) ORDER BY started";
	sqlite3_stmt *st;
	int rc = prepare(s, 11, q, &st, err, errlen);
	if (rc)
		return rc;
	sqlite3_bind_double(st, 1, from);
	sqlite3_bind_double(st, 2, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_monitor_run_row r = {
			.node = ctext(st, 0),
			.started = sqlite3_column_double(st, 1),
			.seen = sqlite3_column_double(st, 2),
			.stopped = sqlite3_column_int(st, 3),
		};
		cb(ud, &r);
	}
	return finish(s, st, rc, err, errlen);
}

int store_month_states(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_state_row *r), void *ud, char *err,
                       size_t errlen)
{
	static const char q[] =
	    "SELECT asset, name, plugin, state, hard, hard_state, stale, last_check, last_change,"
	    " last_hard_change, output, perfdata FROM check_state WHERE customer = ?"
	    " ORDER BY asset, name";
	sqlite3_stmt *st;
	int rc = prepare(s, 1, q, &st, err, errlen);
	if (rc)
		return rc;
	store__bind_text(st, 1, customer);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_state_row r = {
			.customer = customer,
			.asset = ctext(st, 0),
			.name = ctext(st, 1),
			.plugin = ctext(st, 2),
			.state = sqlite3_column_int(st, 3),
			.hard = sqlite3_column_int(st, 4),
			.hard_state = sqlite3_column_int(st, 5),
			.stale = sqlite3_column_int(st, 6),
			.last_check = cnum(st, 7, 0),
			.last_change = cnum(st, 8, 0),
			.last_hard_change = cnum(st, 9, 0),
			.output = ctext(st, 10),
			.perfdata = ctext(st, 11),
		};
		cb(ud, &r);
	}
	return finish(s, st, rc, err, errlen);
}

int store_month_assets(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_asset_row *r), void *ud, char *err,
                       size_t errlen)
{
	static const char q[] = "SELECT name, type, address, source, registered_at FROM asset"
	                        " WHERE customer = ? ORDER BY name";
	sqlite3_stmt *st;
	int rc = prepare(s, 1, q, &st, err, errlen);
	if (rc)
		return rc;
	store__bind_text(st, 1, customer);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_asset_row r = {
			.customer = customer,
			.name = ctext(st, 0),
			.type = ctext(st, 1),
			.address = ctext(st, 2),
			.source = ctext(st, 3),
			.registered_at = cnum(st, 4, 0),
		};
		cb(ud, &r);
	}
	return finish(s, st, rc, err, errlen);
}

int store_month_alerts(struct store *s, const char *customer, double from, double to,
                       void (*alert_cb)(void *ud, const struct store_alert_row *r),
                       void (*event_cb)(void *ud, const struct store_event_row *r),
                       void (*dispatch_cb)(void *ud, const struct store_dispatch_row *r,
                                           const char *check_key),
                       void *ud, char *err, size_t errlen)
{
	/* alert_customer (customer, opened_at): every alert of the customer
	 * opened before `to`; those resolved before `from` are skipped in
	 * the row (an index on resolved_at per customer does not exist, and
	 * a customer has few alerts a month next to its whole history only
	 * after years: retention keeps 400 days). */
	static const char qa[] =
	    STORE__ALERT_SELECT " WHERE a.customer = ?1 AND a.opened_at < ?3"
	                        " AND (a.resolved_at IS NULL OR a.resolved_at >= ?2)"
	                        " ORDER BY a.opened_at, a.id";
	static const char qe[] = "SELECT seq, type, time, actor, note, cmd_id, payload"
	                         " FROM alert_event WHERE alert_id = ? ORDER BY seq";
	static const char qd[] =
	    "SELECT p.alert_id, p.seq, p.time, p.actor, p.vendor, p.planned_at, p.result,"
	    " a.check_key FROM alert a JOIN dispatch p ON p.alert_id = a.id"
	    " WHERE a.customer = ?1 AND a.opened_at < ?3 AND p.time >= ?2 AND p.time < ?3"
	    " ORDER BY p.time, p.alert_id, p.seq";
	sqlite3_stmt *sa = NULL, *se = NULL, *sd = NULL;
	int rc = prepare(s, 2, qa, &sa, err, errlen);
	if (!rc)
		rc = prepare(s, 2, qe, &se, err, errlen);
	if (!rc)
		rc = prepare(s, 2, qd, &sd, err, errlen);
	if (rc) {
		sqlite3_finalize(sa);
		sqlite3_finalize(se);
		return rc;
	}
	store__bind_text(sa, 1, customer);
	sqlite3_bind_double(sa, 2, from);
	sqlite3_bind_double(sa, 3, to);
	int ok = 1;
	while (ok && (rc = sqlite3_step(sa)) == SQLITE_ROW) {
		struct store_alert_row r;
		store__alert_row(sa, &r);
		if (alert_cb)
			alert_cb(ud, &r);
		if (!event_cb)
			continue;
		store__bind_text(se, 1, r.id);
		int erc;
		while ((erc = sqlite3_step(se)) == SQLITE_ROW) {
			struct store_event_row e = {
				.alert_id = r.id,
				.seq = sqlite3_column_int64(se, 0),
				.type = ctext(se, 1),
				.time = sqlite3_column_double(se, 2),
				.actor = ctext(se, 3),
				.note = ctext(se, 4),
				.cmd_id = ctext(se, 5),
				.payload = ctext(se, 6),
			};
			event_cb(ud, &e);
		}
		ok = erc == SQLITE_DONE;
		sqlite3_reset(se);
	}
	if (!ok || rc != SQLITE_DONE) {
		rc = fail(s, err, errlen, "read alerts");
		goto out;
	}
	store__bind_text(sd, 1, customer);
	sqlite3_bind_double(sd, 2, from);
	sqlite3_bind_double(sd, 3, to);
	while ((rc = sqlite3_step(sd)) == SQLITE_ROW) {
		struct store_dispatch_row d = {
			.alert_id = ctext(sd, 0),
			.seq = sqlite3_column_int64(sd, 1),
			.time = sqlite3_column_double(sd, 2),
			.actor = ctext(sd, 3),
			.vendor = ctext(sd, 4),
			.planned_at = cnum(sd, 5, 0),
			.result = ctext(sd, 6),
		};
		if (dispatch_cb)
			dispatch_cb(ud, &d, ctext(sd, 7));
	}
	rc = rc == SQLITE_DONE ? 0 : fail(s, err, errlen, "read dispatches");
out:
	sqlite3_finalize(sa);
	sqlite3_finalize(se);
	sqlite3_finalize(sd);
	return rc;
}

int store_month_series(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_series_row *r), void *ud, char *err,
                       size_t errlen)
{
	static const char q[] = "SELECT id, asset, check_name, label, unit, created, last_seen"
	                        " FROM series WHERE customer = ? ORDER BY id";
	sqlite3_stmt *st;
	int rc = prepare(s, 7, q, &st, err, errlen);
	if (rc)
		return rc;
	store__bind_text(st, 1, customer);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_series_row r = {
			.id = sqlite3_column_int64(st, 0),
			.customer = customer,
			.asset = ctext(st, 1),
			.check = ctext(st, 2),
			.label = ctext(st, 3),
			.unit = ctext(st, 4),
			.created = sqlite3_column_double(st, 5),
			.last_seen = sqlite3_column_double(st, 6),
		};
		cb(ud, &r);
	}
	return finish(s, st, rc, err, errlen);
}

int store_month_buckets(struct store *s, int tier, int64_t series, double from, double to,
                        void (*cb)(void *ud, const struct store_series_agg *a), void *ud, char *err,
                        size_t errlen)
{
	const char *q;
	if (tier == STORE_SERIES_5M)
		q = "SELECT t, vmin, vmax, vsum, n FROM series_5m WHERE series = ? AND t >= ?"
		    " AND t < ? ORDER BY t";
	else if (tier == STORE_SERIES_1H)
		q = "SELECT t, vmin, vmax, vsum, n FROM series_1h WHERE series = ? AND t >= ?"
		    " AND t < ? ORDER BY t";
	else {
		snprintf(err, errlen, "tier %d is not a rollup tier", tier);
		return STORE_EINVAL;
	}
	sqlite3_stmt *st;
	int rc = prepare(s, 7, q, &st, err, errlen);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, series);
	sqlite3_bind_double(st, 2, from);
	sqlite3_bind_double(st, 3, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_series_agg a = {
			.t = sqlite3_column_int64(st, 0),
			.min = sqlite3_column_double(st, 1),
			.max = sqlite3_column_double(st, 2),
			.sum = sqlite3_column_double(st, 3),
			.n = (uint32_t)sqlite3_column_int64(st, 4),
		};
		cb(ud, &a);
	}
	return finish(s, st, rc, err, errlen);
}
