/*
 * store_history: the state history and the reports made (schema 9) -
 * state_change rows (one per change of a check's hard state or
 * staleness, written by src/statelog), their retention, and report_run
 * rows (the monthly reports the schedule handed on), read back once at
 * startup.
 *
 * Must never: decide what a change is (the caller does), or keep more of
 * an output than STORE_CHANGE_OUTPUT_MAX bytes (cut on a UTF-8 boundary).
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

enum kind { K_CHANGE, K_PRUNE, K_RUN, K_MRUN };

enum { S_CHANGE, S_PRUNE, S_RUN, S_MRUN, S__COUNT };

static const char *const sql[S__COUNT] = {
	[S_CHANGE] = "INSERT OR REPLACE INTO state_change (customer, asset, check_name, t, state,"
	             " stale, output) VALUES (?,?,?,?,?,?,?)",
	/* Debian's SQLite has no DELETE ... LIMIT: the bound is a subquery
	 * on the time index */
	[S_PRUNE] = "DELETE FROM state_change WHERE (customer, asset, check_name, t) IN"
	            " (SELECT customer, asset, check_name, t FROM state_change WHERE t < ?"
	            " ORDER BY t LIMIT ?)",
	[S_RUN] = "INSERT OR REPLACE INTO report_run (customer, month, time, status, detail)"
	          " VALUES (?,?,?,?,?)",
	[S_MRUN] = "INSERT OR REPLACE INTO monitor_run (node, started, seen, stopped)"
	           " VALUES (?,?,?,?)",
};

struct tbl {
	sqlite3_stmt *st[S__COUNT];
};

struct prune_op {
	double before;
	int limit;
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	/* monitor_run exists from schema 11 on (a read-only store of an
	 * older database prepares what it has) */
	return store__prepare_all(db, sql, t->st, s->schema >= 11 ? S__COUNT : S_MRUN,
	                          "state history", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

static int apply_change(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_state_change_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_CHANGE];
	store__bind_text(st, 1, r->customer);
	store__bind_text(st, 2, r->asset);
	store__bind_text(st, 3, r->check);
	sqlite3_bind_double(st, 4, r->t);
	sqlite3_bind_int(st, 5, r->state);
	sqlite3_bind_int(st, 6, r->stale != 0);
	store__bind_text(st, 7, r->output);
	return store__run(st);
}

static int apply_prune(void *ctx, sqlite3 *db, const void *op)
{
	const struct prune_op *o = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_PRUNE];
	sqlite3_bind_double(st, 1, o->before);
	sqlite3_bind_int(st, 2, o->limit);
	return store__run(st);
}

static int apply_run(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_report_run_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_RUN];
	store__bind_text(st, 1, r->customer);
	store__bind_text(st, 2, r->month);
	sqlite3_bind_double(st, 3, r->time);
	store__bind_text(st, 4, r->status);
	store__bind_text(st, 5, r->detail);
	return store__run(st);
}

static int apply_mrun(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_monitor_run_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_MRUN];
	if (!st)
		return 0; /* an older schema: nothing to record it in */
	store__bind_text(st, 1, r->node);
	sqlite3_bind_double(st, 2, r->started);
	sqlite3_bind_double(st, 3, r->seen);
	sqlite3_bind_int(st, 4, r->stopped != 0);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_CHANGE] = { "state change", apply_change },
	[K_PRUNE] = { "state history retention", apply_prune },
	[K_RUN] = { "report run", apply_run },
	[K_MRUN] = { "monitor run", apply_mrun },
};

const struct store__table store__history_table = {
	.name = "state history",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

/* The first line of s, at most max bytes, not cut inside a UTF-8
 * sequence. */
static const char *first_line(struct store_batch *b, const char *s, size_t max)
{
	if (!s)
		return NULL;
	size_t n = strcspn(s, "\r\n");
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	char *d = store__balloc(b, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void store_batch_state_change(struct store_batch *b, const struct store_state_change_row *r)
{
	struct store_state_change_row *d =
	    store__push(b, &store__history_table, K_CHANGE, sizeof *d);
	*d = *r;
	d->customer = store__bdup(b, r->customer);
	d->asset = store__bdup(b, r->asset);
	d->check = store__bdup(b, r->check);
	d->output = first_line(b, r->output, STORE_CHANGE_OUTPUT_MAX);
}

void store_batch_state_change_prune(struct store_batch *b, double before, int limit)
{
	struct prune_op *d = store__push(b, &store__history_table, K_PRUNE, sizeof *d);
	d->before = before;
	d->limit = limit > 0 ? limit : 1;
}

void store_batch_report_run(struct store_batch *b, const struct store_report_run_row *r)
{
	struct store_report_run_row *d = store__push(b, &store__history_table, K_RUN, sizeof *d);
	*d = *r;
	d->customer = store__bdup(b, r->customer);
	d->month = store__bdup(b, r->month);
	d->status = store__bdup(b, r->status);
	d->detail = store__bdup(b, r->detail);
}

void store_batch_monitor_run(struct store_batch *b, const struct store_monitor_run_row *r)
{
	struct store_monitor_run_row *d = store__push(b, &store__history_table, K_MRUN, sizeof *d);
	*d = *r;
	d->node = store__bdup(b, r->node ? r->node : "");
}

/* ---- startup read ---- */

int store_load_report_runs(struct store *s, const char *since,
                           void (*cb)(void *ud, const struct store_report_run_row *r), void *ud)
{
	if (s->schema < 9)
		return 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT customer, month, time, status, detail FROM report_run"
	                       " WHERE month >= ? ORDER BY customer, month",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, since ? since : "");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_report_run_row r = {
			.customer = (const char *)sqlite3_column_text(st, 0),
			.month = (const char *)sqlite3_column_text(st, 1),
			.time = sqlite3_column_double(st, 2),
			.status = (const char *)sqlite3_column_text(st, 3),
			.detail = (const char *)sqlite3_column_text(st, 4),
		};
		cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
