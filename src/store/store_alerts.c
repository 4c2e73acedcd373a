/*
 * store_alerts: the alert tables of schema 2 (alert, alert_event,
 * deadline, dispatch, cmd_seen) and retention - batch operations applied
 * by the writer thread, and the startup reads.  The outbox has its own
 * file (store_outbox.c).
 *
 * A batch operation is a copy made on the loop thread into the batch's
 * own memory (store__balloc), so the caller may pass stack buffers; the
 * writer applies it inside the batch's transaction with statements
 * prepared once.  Must never: run on the loop thread after store_start
 * except the load functions, which run before it.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_ALERT, K_EVENT, K_DISPATCH, K_CMD_SEEN, K_PRUNE };

struct cmd_seen_op {
	const char *center, *id, *result;
	double time;
};

struct prune_op {
	double alerts_before, cmds_before;
	int limit;
};

enum {
	S_ALERT,
	S_DEADLINE,
	S_DEADLINE_DEL,
	S_EVENT,
	S_DISPATCH,
	S_CMD_SEEN,
	S_PRUNE_PICK,
	S_PRUNE_EVENTS,
	S_PRUNE_DEADLINE,
	S_PRUNE_DISPATCH,
	S_PRUNE_ALERTS,
	S_PRUNE_CMDS,
	S__COUNT
};

static const char *const sql[S__COUNT] = {
	/* An upsert, not INSERT OR REPLACE: REPLACE deletes the old row, and
	 * ON DELETE CASCADE would take the alert's history with it. */
	[S_ALERT] =
	    "INSERT INTO alert (id, check_key, customer, asset, check_name, service,"
	    " center, also, contract, state, summary, status, flapping, stale, manual, count, seq,"
	    " opened_at, updated_at, acked_at, acked_by, resolved_at, runbook)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	    " ON CONFLICT (id) DO UPDATE SET center = excluded.center, also = excluded.also,"
	    " contract = excluded.contract, state = excluded.state, summary = excluded.summary,"
	    " status = excluded.status, flapping = excluded.flapping, stale = excluded.stale,"
	    " manual = excluded.manual, count = excluded.count, seq = excluded.seq,"
	    " updated_at = excluded.updated_at, acked_at = excluded.acked_at,"
	    " acked_by = excluded.acked_by, resolved_at = excluded.resolved_at,"
	    " runbook = excluded.runbook",
	[S_DEADLINE] =
	    "INSERT OR REPLACE INTO deadline (alert_id, tier, tier_name, paused, acked, stopped,"
	    " ack_breached, resolve_breached, ack_due, resolve_due, ack_left, resolve_left,"
	    " reannounce_at, breaches) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_DEADLINE_DEL] = "DELETE FROM deadline WHERE alert_id = ?",
	[S_EVENT] =
	    "INSERT OR IGNORE INTO alert_event (alert_id, seq, type, time, actor, note, cmd_id,"
	    " payload) VALUES (?,?,?,?,?,?,?,?)",
	[S_DISPATCH] =
	    "INSERT OR REPLACE INTO dispatch (alert_id, seq, time, actor, vendor, planned_at,"
	    " result) VALUES (?,?,?,?,?,?,?)",
	[S_CMD_SEEN] =
	    "INSERT OR REPLACE INTO cmd_seen (center, id, result, time) VALUES (?,?,?,?)",
	/* Retention without relying on ON DELETE CASCADE (foreign keys are
	 * not enforced, see store.c): pick the alerts into a temp table, then
	 * delete their children and them. */
	[S_PRUNE_PICK] =
	    "INSERT INTO temp.prune_ids SELECT id FROM alert WHERE resolved_at < ? LIMIT ?",
	[S_PRUNE_EVENTS] =
	    "DELETE FROM alert_event WHERE alert_id IN (SELECT id FROM temp.prune_ids)",
	[S_PRUNE_DEADLINE] =
	    "DELETE FROM deadline WHERE alert_id IN (SELECT id FROM temp.prune_ids)",
	[S_PRUNE_DISPATCH] =
	    "DELETE FROM dispatch WHERE alert_id IN (SELECT id FROM temp.prune_ids)",
	[S_PRUNE_ALERTS] = "DELETE FROM alert WHERE id IN (SELECT id FROM temp.prune_ids)",
	[S_PRUNE_CMDS] =
	    "DELETE FROM cmd_seen WHERE (center, id) IN (SELECT center, id FROM cmd_seen"
	    " WHERE time < ? LIMIT ?)",
};

struct tbl {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *x = xcalloc(1, sizeof *x);
	*ctx = x;
	x->db = db;
	char e[256];
	if (store__exec(db, "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY)", e,
	                sizeof e) != 0) {
		snprintf(err, errlen, "alert tables: %s", e);
		return -1;
	}
	return store__prepare_all(db, sql, x->st, S__COUNT, "alert tables", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *x = ctx;
	if (!x)
		return;
	store__finalize_all(x->st, S__COUNT);
	free(x);
}

/* ---- writer thread ---- */

static int apply_alert(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *x = ctx;
	const struct store_alert_row *r = op;
	sqlite3_stmt *st = x->st[S_ALERT];
	store__bind_text(st, 1, r->id);
	store__bind_text(st, 2, r->check_key);
	store__bind_text(st, 3, r->customer ? r->customer : "");
	store__bind_text(st, 4, r->asset ? r->asset : "");
	store__bind_text(st, 5, r->check_name ? r->check_name : "");
	store__bind_text(st, 6, r->service);
	store__bind_text(st, 7, r->center);
	store__bind_text(st, 8, r->also);
	sqlite3_bind_int(st, 9, r->contract);
	sqlite3_bind_int(st, 10, r->state);
	store__bind_text(st, 11, r->summary);
	store__bind_text(st, 12, r->status);
	sqlite3_bind_int(st, 13, r->flapping);
	sqlite3_bind_int(st, 14, r->stale);
	sqlite3_bind_int(st, 15, r->manual);
	sqlite3_bind_int64(st, 16, r->count);
	sqlite3_bind_int64(st, 17, r->seq);
	sqlite3_bind_double(st, 18, r->opened_at);
	sqlite3_bind_double(st, 19, r->updated_at);
	store__bind_time(st, 20, r->acked_at);
	store__bind_text(st, 21, r->acked_by);
	store__bind_time(st, 22, r->resolved_at);
	store__bind_text(st, 23, r->runbook);
	if (store__run(st) != 0)
		return -1;
	if (!r->has_clock) {
		st = x->st[S_DEADLINE_DEL];
		store__bind_text(st, 1, r->id);
		return store__run(st);
	}
	st = x->st[S_DEADLINE];
	store__bind_text(st, 1, r->id);
	sqlite3_bind_int(st, 2, r->tier);
	store__bind_text(st, 3, r->tier_name);
	sqlite3_bind_int(st, 4, r->paused);
	sqlite3_bind_int(st, 5, r->acked);
	sqlite3_bind_int(st, 6, r->stopped);
	sqlite3_bind_int(st, 7, r->ack_breached);
	sqlite3_bind_int(st, 8, r->resolve_breached);
	store__bind_time(st, 9, r->ack_due);
	store__bind_time(st, 10, r->resolve_due);
	if (r->ack_left >= 0)
		sqlite3_bind_double(st, 11, r->ack_left);
	if (r->resolve_left >= 0)
		sqlite3_bind_double(st, 12, r->resolve_left);
	store__bind_time(st, 13, r->reannounce_at);
	sqlite3_bind_int(st, 14, r->breaches);
	return store__run(st);
}

static int apply_event(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_event_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_EVENT];
	store__bind_text(st, 1, r->alert_id);
	sqlite3_bind_int64(st, 2, r->seq);
	store__bind_text(st, 3, r->type);
	sqlite3_bind_double(st, 4, r->time);
	store__bind_text(st, 5, r->actor ? r->actor : "mamori");
	store__bind_text(st, 6, r->note);
	store__bind_text(st, 7, r->cmd_id);
	store__bind_text(st, 8, r->payload ? r->payload : "");
	return store__run(st);
}

static int apply_dispatch(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_dispatch_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_DISPATCH];
	store__bind_text(st, 1, r->alert_id);
	sqlite3_bind_int64(st, 2, r->seq);
	sqlite3_bind_double(st, 3, r->time);
	store__bind_text(st, 4, r->actor ? r->actor : "mamori");
	store__bind_text(st, 5, r->vendor);
	store__bind_time(st, 6, r->planned_at);
	store__bind_text(st, 7, r->result);
	return store__run(st);
}

static int apply_cmd_seen(void *ctx, sqlite3 *db, const void *op)
{
	const struct cmd_seen_op *o = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_CMD_SEEN];
	store__bind_text(st, 1, o->center);
	store__bind_text(st, 2, o->id);
	store__bind_text(st, 3, o->result);
	sqlite3_bind_double(st, 4, o->time);
	return store__run(st);
}

static int apply_prune(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *x = ctx;
	const struct prune_op *o = op;
	sqlite3_stmt *st = x->st[S_PRUNE_PICK];
	sqlite3_bind_double(st, 1, o->alerts_before);
	sqlite3_bind_int(st, 2, o->limit);
	int rc = store__run(st);
	for (int i = S_PRUNE_EVENTS; i <= S_PRUNE_ALERTS; i++)
		rc |= store__run(x->st[i]);
	rc |= sqlite3_exec(x->db, "DELETE FROM temp.prune_ids", NULL, NULL, NULL) != SQLITE_OK;
	if (rc)
		return -1;
	st = x->st[S_PRUNE_CMDS];
	sqlite3_bind_double(st, 1, o->cmds_before);
	sqlite3_bind_int(st, 2, o->limit);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_ALERT] = { "alert", apply_alert },
	[K_EVENT] = { "alert event", apply_event },
	[K_DISPATCH] = { "dispatch", apply_dispatch },
	[K_CMD_SEEN] = { "cmd_seen", apply_cmd_seen },
	[K_PRUNE] = { "retention", apply_prune },
};

const struct store__table store__alerts_table = {
	.name = "alert tables",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

#define D(f) (d->f = store__bdup(b, r->f))

void store_batch_alert_again(struct store_batch *b, void *slot, const struct store_alert_row *r)
{
	struct store_alert_row *d = slot;
	*d = *r;
	D(id), D(check_key), D(customer), D(asset), D(check_name), D(service), D(center);
	D(also), D(summary), D(status), D(acked_by), D(tier_name), D(runbook);
	d->vendor = d->result = NULL;
}

const char *store_batch_alert_id(const void *slot)
{
	return ((const struct store_alert_row *)slot)->id;
}

void *store_batch_alert(struct store_batch *b, const struct store_alert_row *r)
{
	void *slot = store__push(b, &store__alerts_table, K_ALERT, sizeof(struct store_alert_row));
	store_batch_alert_again(b, slot, r);
	return slot;
}

void store_batch_event(struct store_batch *b, const struct store_event_row *r)
{
	struct store_event_row *d = store__push(b, &store__alerts_table, K_EVENT, sizeof *d);
	*d = *r;
	D(alert_id), D(type), D(actor), D(note), D(cmd_id), D(payload);
}

void store_batch_dispatch(struct store_batch *b, const struct store_dispatch_row *r)
{
	struct store_dispatch_row *d = store__push(b, &store__alerts_table, K_DISPATCH, sizeof *d);
	*d = *r;
	D(alert_id), D(actor), D(vendor), D(result);
}

#undef D

void store_batch_cmd_seen(struct store_batch *b, const char *center, const char *id,
                          const char *result, double time)
{
	struct cmd_seen_op *o = store__push(b, &store__alerts_table, K_CMD_SEEN, sizeof *o);
	o->center = store__bdup(b, center);
	o->id = store__bdup(b, id);
	o->result = store__bdup(b, result ? result : "ok");
	o->time = time;
}

void store_batch_prune(struct store_batch *b, double alerts_before, double cmds_before, int limit)
{
	struct prune_op *o = store__push(b, &store__alerts_table, K_PRUNE, sizeof *o);
	o->alerts_before = alerts_before;
	o->cmds_before = cmds_before;
	o->limit = limit > 0 ? limit : 1000;
}

/* ---- reading rows (startup, and the reader thread: store_read_alerts.c) ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static double cnum(sqlite3_stmt *st, int i, double null_value)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value
	                                                 : sqlite3_column_double(st, i);
}

void store__alert_row(sqlite3_stmt *st, struct store_alert_row *r)
{
	memset(r, 0, sizeof *r);
	r->id = ctext(st, 0);
	r->check_key = ctext(st, 1);
	r->customer = ctext(st, 2);
	r->asset = ctext(st, 3);
	r->check_name = ctext(st, 4);
	r->service = ctext(st, 5);
	r->center = ctext(st, 6);
	r->also = ctext(st, 7);
	r->contract = sqlite3_column_int(st, 8);
	r->state = sqlite3_column_int(st, 9);
	r->summary = ctext(st, 10);
	r->status = ctext(st, 11);
	r->flapping = sqlite3_column_int(st, 12);
	r->stale = sqlite3_column_int(st, 13);
	r->manual = sqlite3_column_int(st, 14);
	r->count = sqlite3_column_int64(st, 15);
	r->seq = sqlite3_column_int64(st, 16);
	r->opened_at = cnum(st, 17, 0);
	r->updated_at = cnum(st, 18, 0);
	r->acked_at = cnum(st, 19, 0);
	r->acked_by = ctext(st, 20);
	r->resolved_at = cnum(st, 21, 0);
	r->has_clock = sqlite3_column_type(st, 22) != SQLITE_NULL;
	r->tier = sqlite3_column_int(st, 23);
	r->tier_name = ctext(st, 24);
	r->paused = sqlite3_column_int(st, 25);
	r->acked = sqlite3_column_int(st, 26);
	r->stopped = sqlite3_column_int(st, 27);
	r->ack_breached = sqlite3_column_int(st, 28);
	r->resolve_breached = sqlite3_column_int(st, 29);
	r->ack_due = cnum(st, 30, 0);
	r->resolve_due = cnum(st, 31, 0);
	r->ack_left = cnum(st, 32, -1);
	r->resolve_left = cnum(st, 33, -1);
	r->reannounce_at = cnum(st, 34, 0);
	r->breaches = sqlite3_column_int(st, 35);
	r->vendor = ctext(st, 36);
	r->planned_at = cnum(st, 37, 0);
	r->result = ctext(st, 38);
	r->runbook = ctext(st, 39);
}

static int load_alert_query(sqlite3 *db, const char *where, double arg, int bind,
                            void (*cb)(void *, const struct store_alert_row *), void *ud)
{
	char q[2048];
	snprintf(q, sizeof q, "%s %s ORDER BY a.opened_at", STORE__ALERT_SELECT, where);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (bind)
		sqlite3_bind_double(st, 1, arg);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_alert_row r;
		store__alert_row(st, &r);
		if (r.id && r.check_key && r.status)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_load_alerts(struct store *s, double resolved_since,
                      void (*cb)(void *, const struct store_alert_row *), void *ud)
{
	sqlite3 *db = s->db;
	/* Two queries so each uses its partial index. */
	if (load_alert_query(db, "WHERE a.status <> 'resolved'", 0, 0, cb, ud) != 0)
		return -1;
	return load_alert_query(db, "WHERE a.resolved_at IS NOT NULL AND a.resolved_at >= ?",
	                        resolved_since, 1, cb, ud);
}

static int64_t scalar(sqlite3 *db, const char *q)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int64_t store_alert_total(struct store *s)
{
	if (!*s->node)
		return scalar(s->db, "SELECT count(*) FROM alert");
	/* This node's ids: "A-<node>-" and 14 base32 digits (alert_table.c).
	 * A range on the primary key, and the length, so that node "a" does
	 * not count the alerts of node "a-b". */
	char *lo = xasprintf("A-%s-", s->node), *hi = xasprintf("A-%s.", s->node);
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT count(*) FROM alert WHERE id >= ?1 AND id < ?2"
	                       " AND length(CAST(id AS BLOB)) = ?3",
	                       -1, &st, NULL) == SQLITE_OK) {
		store__bind_text(st, 1, lo);
		store__bind_text(st, 2, hi);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)strlen(lo) + 14);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	free(lo);
	free(hi);
	return v;
}

int store_load_cmd_seen(struct store *s, size_t limit,
                        void (*cb)(void *, const char *, const char *, const char *, double),
                        void *ud)
{
	sqlite3_stmt *st;
	const char *q =
	    "SELECT center, id, result, time FROM (SELECT center, id, result, time, row_number()"
	    " OVER (PARTITION BY center ORDER BY time DESC) AS k FROM cmd_seen)"
	    " WHERE k <= ? ORDER BY time";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (ctext(st, 0) && ctext(st, 1))
			cb(ud, ctext(st, 0), ctext(st, 1), ctext(st, 2),
			   sqlite3_column_double(st, 3));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
