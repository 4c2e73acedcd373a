/*
 * store_downtime: the downtime table (schema 4) - downtimes entered while
 * the daemon runs, written and deleted as batch operations, read back
 * once at startup.
 *
 * The caller assigns ids ("D-<node>-<n>"), so a row written twice (an
 * edit) replaces the first.  Must never: drop or filter rows on its own -
 * the caller decides which downtimes have ended.
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdlib.h>

enum kind { K_PUT, K_DELETE };

enum { S_PUT, S_DELETE, S__COUNT };

static const char *const sql[S__COUNT] = {
	/* nothing refers to a downtime row: REPLACE is as good as an upsert */
	[S_PUT] = "INSERT OR REPLACE INTO downtime (id, customer, asset, check_name, start_at,"
	          " end_at, author, comment, created) VALUES (?,?,?,?,?,?,?,?,?)",
	[S_DELETE] = "DELETE FROM downtime WHERE id = ?",
};

struct tbl {
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	return store__prepare_all(db, sql, t->st, S__COUNT, "downtime", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

static int apply_put(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_downtime_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_PUT];
	store__bind_text(st, 1, r->id);
	store__bind_text(st, 2, r->customer);
	store__bind_text(st, 3, r->asset);
	store__bind_text(st, 4, r->check);
	sqlite3_bind_double(st, 5, r->start);
	sqlite3_bind_double(st, 6, r->end);
	store__bind_text(st, 7, r->author);
	store__bind_text(st, 8, r->comment);
	sqlite3_bind_double(st, 9, r->created);
	return store__run(st);
}

static int apply_delete(void *ctx, sqlite3 *db, const void *op)
{
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_DELETE];
	store__bind_text(st, 1, *(const char *const *)op);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_PUT] = { "downtime", apply_put },
	[K_DELETE] = { "downtime delete", apply_delete },
};

const struct store__table store__downtime_table = {
	.name = "downtime",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

void store_batch_downtime(struct store_batch *b, const struct store_downtime_row *r)
{
	struct store_downtime_row *d = store__push(b, &store__downtime_table, K_PUT, sizeof *d);
	*d = *r;
	d->id = store__bdup(b, r->id);
	d->customer = store__bdup(b, r->customer);
	d->asset = store__bdup(b, r->asset);
	d->check = store__bdup(b, r->check);
	d->author = store__bdup(b, r->author);
	d->comment = store__bdup(b, r->comment);
}

void store_batch_downtime_delete(struct store_batch *b, const char *id)
{
	const char **d = store__push(b, &store__downtime_table, K_DELETE, sizeof *d);
	*d = store__bdup(b, id);
}

/* ---- startup read ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_load_downtimes(struct store *s, void (*cb)(void *, const struct store_downtime_row *),
                         void *ud)
{
	sqlite3_stmt *st;
	const char *q = "SELECT id, customer, asset, check_name, start_at, end_at, author, comment,"
	                " created FROM downtime ORDER BY start_at, id";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_downtime_row r = {
			.id = ctext(st, 0),
			.customer = ctext(st, 1),
			.asset = ctext(st, 2),
			.check = ctext(st, 3),
			.start = sqlite3_column_double(st, 4),
			.end = sqlite3_column_double(st, 5),
			.author = ctext(st, 6),
			.comment = ctext(st, 7),
			.created = sqlite3_column_double(st, 8),
		};
		/* a row written behind the store's back may break the rules
		 * the CHECKs enforce on ours: never pass on a half row */
		if (r.id && r.customer && (r.asset || !r.check))
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
