/*
 * store_state: the tables of schema 1 - check_state (the state of every
 * check) and asset (assets registered at run time) - as batch operations
 * applied by the writer thread, their startup reads, and the read of
 * check states while the loop runs (store_read_states, on the reader
 * thread).
 *
 * A batch operation is a copy made on the loop thread into the batch's
 * memory, so the caller may pass stack buffers.  Must never: touch the
 * database from the loop thread after store_start (the load functions
 * run before it).
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STATE, K_ASSET, K_FORGET };

enum { S_STATE, S_ASSET, S_FORGET, S__COUNT };

static const char *const sql[S__COUNT] = {
	[S_STATE] =
	    "INSERT INTO check_state (customer, asset, name, plugin, state, hard, attempt,"
	    " hard_state, flapping, stale, hist, n_hist, flap_pct, last_check, last_change,"
	    " last_hard_change, next_check, output, long_output, perfdata, ack, ack_expires,"
	    " ack_author, ack_comment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	    /* An upsert rewrites the row in place; OR REPLACE deleted and
	     * re-inserted it (twice the B-tree work). */
	    " ON CONFLICT (customer, asset, name) DO UPDATE SET plugin=excluded.plugin,"
	    " state=excluded.state, hard=excluded.hard, attempt=excluded.attempt,"
	    " hard_state=excluded.hard_state, flapping=excluded.flapping, stale=excluded.stale,"
	    " hist=excluded.hist, n_hist=excluded.n_hist, flap_pct=excluded.flap_pct,"
	    " last_check=excluded.last_check, last_change=excluded.last_change,"
	    " last_hard_change=excluded.last_hard_change, next_check=excluded.next_check,"
	    " output=excluded.output, long_output=excluded.long_output, perfdata=excluded.perfdata,"
	    " ack=excluded.ack, ack_expires=excluded.ack_expires, ack_author=excluded.ack_author,"
	    " ack_comment=excluded.ack_comment",
	[S_ASSET] =
	    "INSERT OR IGNORE INTO asset (customer, name, type, address, source, registered_at)"
	    " VALUES (?,?,?,?,?,?)",
	[S_FORGET] = "DELETE FROM check_state WHERE customer=? AND asset=? AND name=?",
};

struct tbl {
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	return store__prepare_all(db, sql, t->st, S__COUNT, "check_state", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

/* ---- writer thread ---- */

static int apply_state(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_state_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_STATE];
	store__bind_text(st, 1, r->customer);
	store__bind_text(st, 2, r->asset);
	store__bind_text(st, 3, r->name);
	store__bind_text(st, 4, r->plugin ? r->plugin : "");
	sqlite3_bind_int(st, 5, r->state);
	sqlite3_bind_int(st, 6, r->hard);
	sqlite3_bind_int(st, 7, r->attempt);
	sqlite3_bind_int(st, 8, r->hard_state);
	sqlite3_bind_int(st, 9, r->flapping);
	sqlite3_bind_int(st, 10, r->stale);
	sqlite3_bind_int64(st, 11, r->hist);
	sqlite3_bind_int(st, 12, r->n_hist);
	sqlite3_bind_double(st, 13, r->flap_pct);
	store__bind_time(st, 14, r->last_check);
	store__bind_time(st, 15, r->last_change);
	store__bind_time(st, 16, r->last_hard_change);
	store__bind_time(st, 17, r->next_check);
	store__bind_text(st, 18, r->output);
	store__bind_text(st, 19, r->long_output);
	store__bind_text(st, 20, r->perfdata);
	sqlite3_bind_int(st, 21, r->ack);
	store__bind_time(st, 22, r->ack_expires);
	store__bind_text(st, 23, r->ack_author);
	store__bind_text(st, 24, r->ack_comment);
	return store__run(st);
}

static int apply_asset(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_asset_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_ASSET];
	store__bind_text(st, 1, r->customer);
	store__bind_text(st, 2, r->name);
	store__bind_text(st, 3, r->type);
	store__bind_text(st, 4, r->address);
	store__bind_text(st, 5, r->source ? r->source : "");
	sqlite3_bind_double(st, 6, r->registered_at);
	return store__run(st);
}

static int apply_forget(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_state_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_FORGET];
	store__bind_text(st, 1, r->customer);
	store__bind_text(st, 2, r->asset);
	store__bind_text(st, 3, r->name);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_STATE] = { "state", apply_state },
	[K_ASSET] = { "asset", apply_asset },
	[K_FORGET] = { "forget", apply_forget },
};

const struct store__table store__state_table = {
	.name = "check_state",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

#define D(f) (d->f = store__bdup(b, r->f))

void store_batch_state(struct store_batch *b, const struct store_state_row *r)
{
	struct store_state_row *d = store__push(b, &store__state_table, K_STATE, sizeof *d);
	*d = *r;
	D(customer), D(asset), D(name), D(plugin), D(output), D(long_output), D(perfdata);
	D(ack_author), D(ack_comment);
}

void store_batch_asset(struct store_batch *b, const struct store_asset_row *r)
{
	struct store_asset_row *d = store__push(b, &store__state_table, K_ASSET, sizeof *d);
	*d = *r;
	D(customer), D(name), D(type), D(address), D(source);
}

#undef D

void store_batch_forget(struct store_batch *b, const char *customer, const char *asset,
                        const char *name)
{
	struct store_state_row *d = store__push(b, &store__state_table, K_FORGET, sizeof *d);
	d->customer = store__bdup(b, customer);
	d->asset = store__bdup(b, asset);
	d->name = store__bdup(b, name);
}

/* ---- startup reads ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_load_states(struct store *s, void (*cb)(void *, const struct store_state_row *), void *ud)
{
	sqlite3_stmt *st;
	const char *q =
	    "SELECT customer, asset, name, plugin, state, hard, attempt, hard_state, flapping, stale,"
	    " hist, n_hist, flap_pct, last_check, last_change, last_hard_change, next_check, output,"
	    " long_output, perfdata, ack, ack_expires, ack_author, ack_comment FROM check_state";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_state_row r = {
			.customer = col_text(st, 0),
			.asset = col_text(st, 1),
			.name = col_text(st, 2),
			.plugin = col_text(st, 3),
			.state = sqlite3_column_int(st, 4),
			.hard = sqlite3_column_int(st, 5),
			.attempt = sqlite3_column_int(st, 6),
			.hard_state = sqlite3_column_int(st, 7),
			.flapping = sqlite3_column_int(st, 8),
			.stale = sqlite3_column_int(st, 9),
			.hist = (uint32_t)sqlite3_column_int64(st, 10),
			.n_hist = sqlite3_column_int(st, 11),
			.flap_pct = sqlite3_column_double(st, 12),
			.last_check = sqlite3_column_double(st, 13),
			.last_change = sqlite3_column_double(st, 14),
			.last_hard_change = sqlite3_column_double(st, 15),
			.next_check = sqlite3_column_double(st, 16),
			.output = col_text(st, 17),
			.long_output = col_text(st, 18),
			.perfdata = col_text(st, 19),
			.ack = sqlite3_column_int(st, 20),
			.ack_expires = sqlite3_column_double(st, 21),
			.ack_author = col_text(st, 22),
			.ack_comment = col_text(st, 23),
		};
		if (r.customer && r.asset && r.name)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_load_assets(struct store *s, void (*cb)(void *, const struct store_asset_row *), void *ud)
{
	sqlite3_stmt *st;
	const char *q = "SELECT customer, name, type, address, source, registered_at FROM asset";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_asset_row r = {
			.customer = col_text(st, 0),
			.name = col_text(st, 1),
			.type = col_text(st, 2),
			.address = col_text(st, 3),
			.source = col_text(st, 4),
			.registered_at = sqlite3_column_double(st, 5),
		};
		if (r.customer && r.name && r.type)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- reads while the loop runs (the reader thread, store_read.c) ---- */

#define STATES_SINCE 1

static int run_states(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	/* problems first, as mamorictl status has always shown them */
	const char *q =
	    "SELECT customer, asset, name, plugin, state, hard, attempt, hard_state, flapping, stale,"
	    " hist, n_hist, flap_pct, last_check, last_change, last_hard_change, next_check, output,"
	    " long_output, perfdata, ack, ack_expires, ack_author, ack_comment FROM check_state"
	    " WHERE (?1 IS NULL OR customer = ?1) AND (?2 IS NULL OR asset = ?2)"
	    " AND (?3 = 0 OR state <> 0)"
	    " ORDER BY state = 0, state DESC, customer, asset, name";
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "check states: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.states.customer);
	store__bind_text(st, 2, rd->in.states.asset);
	sqlite3_bind_int(st, 3, rd->in.states.problems_only);
	int rc;
	struct store__arena *m = &rd->mem;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!col_text(st, 0) || !col_text(st, 1) || !col_text(st, 2))
			continue;
		struct store_state_row *d = store__read_push((void **)&rd->states, &rd->n_states,
		                                             &rd->cap_states, sizeof *d);
		d->customer = store__arena_dup(m, col_text(st, 0));
		d->asset = store__arena_dup(m, col_text(st, 1));
		d->name = store__arena_dup(m, col_text(st, 2));
		d->plugin = store__arena_dup(m, col_text(st, 3));
		d->state = sqlite3_column_int(st, 4);
		d->hard = sqlite3_column_int(st, 5);
		d->attempt = sqlite3_column_int(st, 6);
		d->hard_state = sqlite3_column_int(st, 7);
		d->flapping = sqlite3_column_int(st, 8);
		d->stale = sqlite3_column_int(st, 9);
		d->hist = (uint32_t)sqlite3_column_int64(st, 10);
		d->n_hist = sqlite3_column_int(st, 11);
		d->flap_pct = sqlite3_column_double(st, 12);
		d->last_check = sqlite3_column_double(st, 13); /* NULL (never checked): 0 */
		d->last_change = sqlite3_column_double(st, 14);
		d->last_hard_change = sqlite3_column_double(st, 15);
		d->next_check = sqlite3_column_double(st, 16);
		d->output = store__arena_dup(m, col_text(st, 17));
		d->long_output = store__arena_dup(m, col_text(st, 18));
		d->perfdata = store__arena_dup(m, col_text(st, 19));
		d->ack = sqlite3_column_int(st, 20);
		d->ack_expires = sqlite3_column_double(st, 21);
		d->ack_author = store__arena_dup(m, col_text(st, 22));
		d->ack_comment = store__arena_dup(m, col_text(st, 23));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rd->n_states = 0;
		return store__read_fail(rd, STORE_EFAIL, "check states: %s", sqlite3_errmsg(db));
	}
	return 0;
}

int store_read_states(struct store *s, const char *filter, int problems_only, store_read_cb cb,
                      void *ud)
{
	if (!cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_states, STATES_SINCE);
	if (filter) {
		/* "customer" or "customer/asset": names never hold a '/' of
		 * their own (config__valid_ident), an asset's rest is its own */
		const char *slash = strchr(filter, '/');
		if (slash) {
			size_t n = (size_t)(slash - filter);
			char *c = store__arena_alloc(&rd->mem, n + 1);
			memcpy(c, filter, n);
			c[n] = '\0';
			rd->in.states.customer = c;
			rd->in.states.asset = store__arena_dup(&rd->mem, slash + 1);
		} else
			rd->in.states.customer = store__arena_dup(&rd->mem, filter);
	}
	rd->in.states.problems_only = problems_only != 0;
	return store__read_submit(s, rd);
}
