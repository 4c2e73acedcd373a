/*
 * store_series: the perfdata history's tables (schema 7) - series
 * identities, raw samples, 5-minute and hourly rollups - written as batch
 * operations, pruned in bounded steps, and the identities read back once
 * at startup.
 *
 * Rollups are written as additions: the daemon sends what a bucket got
 * since the last batch, and the upsert merges it (min of mins, max of
 * maxes, sums of sums and counts).  So nothing is read back per batch,
 * a bucket still open is on disk up to the last batch, and a batch the
 * disk refused and the writer applies again counts once (the whole
 * transaction was rolled back).
 *
 * Retention runs on the writer thread in steps: each step carries its
 * cutoffs and budgets; the cursor (the next series id to visit) lives in
 * this table's context, which only the writer touches.  Each delete is
 * bounded with a LIMIT-like subquery (Debian's SQLite has no DELETE ...
 * LIMIT), so a step is a few short statements however far behind it is.
 *
 * Must never: read a bucket back to merge it on the loop, delete a series
 * row that still has samples, or run an unbounded delete.
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdlib.h>

enum kind { K_PUT, K_RAW, K_ADD5, K_ADD1H, K_PRUNE };

enum {
	S_PUT,
	S_RAW,
	S_ADD5,
	S_ADD1H,
	S_UPD5,
	S_UPD1H,
	S_NEXT,
	S_DEL_RAW,
	S_DEL_5M,
	S_DEL_1H,
	S_HAS_ROWS,
	S_DEL_SERIES,
	S__COUNT
};

#define ADD(tbl)                                                                                   \
	"INSERT INTO " tbl " (series, t, vmin, vmax, vsum, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"     \
	" ON CONFLICT (series, t) DO UPDATE SET vmin = min(vmin, excluded.vmin),"                  \
	" vmax = max(vmax, excluded.vmax), vsum = vsum + excluded.vsum, n = n + excluded.n"

/* The same as an update alone: one B-tree seek where the upsert makes
 * two (a bucket is added to many times, created once). */
#define UPD(tbl)                                                                                   \
	"UPDATE " tbl " SET vmin = min(vmin, ?3), vmax = max(vmax, ?4), vsum = vsum + ?5,"         \
	" n = n + ?6 WHERE series = ?1 AND t = ?2"

/* At most ?3 + 1 rows of one series older than ?2: the rows up to the
 * (?3 + 1)-th oldest, or all of them when there are fewer. */
#define DEL(tbl)                                                                                   \
	"DELETE FROM " tbl " WHERE series = ?1 AND t < ?2 AND t <= coalesce((SELECT t FROM " tbl   \
	" WHERE series = ?1 AND t < ?2 ORDER BY t LIMIT 1 OFFSET ?3), ?2)"

static const char *const sql[S__COUNT] = {
	[S_PUT] = "INSERT INTO series (id, customer, asset, check_name, label, unit, created,"
	          " last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE"
	          " SET unit = excluded.unit, last_seen = max(last_seen, excluded.last_seen)",
	[S_RAW] = "INSERT OR REPLACE INTO series_raw (series, t, v) VALUES (?1, ?2, ?3)",
	[S_ADD5] = ADD("series_5m"),
	[S_ADD1H] = ADD("series_1h"),
	[S_UPD5] = UPD("series_5m"),
	[S_UPD1H] = UPD("series_1h"),
	[S_NEXT] = "SELECT id, last_seen FROM series WHERE id >= ?1 ORDER BY id LIMIT 1",
	[S_DEL_RAW] = DEL("series_raw"),
	[S_DEL_5M] = DEL("series_5m"),
	[S_DEL_1H] = DEL("series_1h"),
	[S_HAS_ROWS] = "SELECT EXISTS (SELECT 1 FROM series_raw WHERE series = ?1)"
	               " OR EXISTS (SELECT 1 FROM series_5m WHERE series = ?1)"
	               " OR EXISTS (SELECT 1 FROM series_1h WHERE series = ?1)",
	[S_DEL_SERIES] = "DELETE FROM series WHERE id = ?1",
};

struct tbl {
	sqlite3_stmt *st[S__COUNT];
	int64_t cursor;  /* writer thread: the next series id to prune */
	uint64_t pruned; /* rows deleted (atomic: the loop reads it) */
};

struct raw_op {
	int64_t id, t_ms;
	double v;
};

struct add_op {
	int64_t id;
	struct store_series_agg a;
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	return store__prepare_all(db, sql, t->st, S__COUNT, "series", err, errlen);
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
	const struct store_series_row *r = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_PUT];
	sqlite3_bind_int64(st, 1, r->id);
	store__bind_text(st, 2, r->customer);
	store__bind_text(st, 3, r->asset);
	store__bind_text(st, 4, r->check);
	store__bind_text(st, 5, r->label);
	store__bind_text(st, 6, r->unit ? r->unit : "");
	sqlite3_bind_double(st, 7, r->created);
	sqlite3_bind_double(st, 8, r->last_seen);
	return store__run(st);
}

static int apply_raw(void *ctx, sqlite3 *db, const void *op)
{
	const struct raw_op *o = op;
	sqlite3_stmt *st = ((struct tbl *)ctx)->st[S_RAW];
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int64(st, 2, o->t_ms);
	sqlite3_bind_double(st, 3, o->v);
	return store__run(st);
}

static int bind_add(sqlite3_stmt *st, const struct add_op *o)
{
	sqlite3_bind_int64(st, 1, o->id);
	sqlite3_bind_int64(st, 2, o->a.t);
	sqlite3_bind_double(st, 3, o->a.min);
	sqlite3_bind_double(st, 4, o->a.max);
	sqlite3_bind_double(st, 5, o->a.sum);
	sqlite3_bind_int64(st, 6, o->a.n);
	return store__run(st);
}

/* Update the bucket; create it when the update found none. */
static int apply_add(sqlite3 *db, sqlite3_stmt *upd, sqlite3_stmt *add, const struct add_op *o)
{
	if (bind_add(upd, o) != 0)
		return -1;
	return sqlite3_changes(db) ? 0 : bind_add(add, o);
}

static int apply_add5(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *x = ctx;
	return apply_add(db, x->st[S_UPD5], x->st[S_ADD5], op);
}

static int apply_add1h(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *x = ctx;
	return apply_add(db, x->st[S_UPD1H], x->st[S_ADD1H], op);
}

/* Delete at most `budget` (> 0) rows of series id older than cutoff from
 * one table; the number deleted, or -1. */
static int64_t del_some(sqlite3_stmt *st, sqlite3 *db, int64_t id, int64_t cutoff, unsigned budget)
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, cutoff);
	sqlite3_bind_int64(st, 3, (int64_t)budget - 1);
	if (store__run(st) != 0)
		return -1;
	return sqlite3_changes(db);
}

/* The next series at or after the cursor: 1 (id, last_seen), 0 none, -1. */
static int next_series(struct tbl *x, int64_t from, int64_t *id, double *last_seen)
{
	sqlite3_stmt *st = x->st[S_NEXT];
	sqlite3_bind_int64(st, 1, from);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*last_seen = sqlite3_column_double(st, 1);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int has_rows(struct tbl *x, int64_t id)
{
	sqlite3_stmt *st = x->st[S_HAS_ROWS];
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	int yes = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return yes;
}

static int apply_prune(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *x = ctx;
	const struct store_series_prune *p = op;
	const int del[3] = { S_DEL_RAW, S_DEL_5M, S_DEL_1H };
	const int64_t cut[3] = { p->raw_before_ms, p->m5_before, p->h1_before };
	uint64_t rows = 0;
	unsigned visited = 0;
	int wrapped = 0, rc = 0;
	while (visited < p->max_series && rows < p->max_rows) {
		int64_t id;
		double last_seen;
		int got = next_series(x, x->cursor, &id, &last_seen);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (!got) {
			if (wrapped || x->cursor == 0)
				break; /* every series visited once in this step */
			x->cursor = 0;
			wrapped = 1;
			continue;
		}
		int complete = 1;
		for (int i = 0; i < 3 && complete; i++) {
			unsigned budget = p->max_rows - (unsigned)rows;
			int64_t n = budget ? del_some(x->st[del[i]], db, id, cut[i], budget) : 0;
			if (n < 0) {
				rc = -1;
				break;
			}
			rows += (uint64_t)n;
			if (!budget || n >= budget)
				complete = 0; /* maybe more: the next step starts here */
		}
		if (rc || !complete)
			break;
		if (last_seen < p->series_before) {
			int h = has_rows(x, id);
			if (h < 0) {
				rc = -1;
				break;
			}
			if (!h) {
				sqlite3_stmt *st = x->st[S_DEL_SERIES];
				sqlite3_bind_int64(st, 1, id);
				if (store__run(st) != 0) {
					rc = -1;
					break;
				}
				rows++;
			}
		}
		x->cursor = id + 1;
		visited++;
	}
	__atomic_add_fetch(&x->pruned, rows, __ATOMIC_RELAXED);
	return rc;
}

static const struct store__kind kinds[] = {
	[K_PUT] = { "series", apply_put },
	[K_RAW] = { "series raw", apply_raw },
	[K_ADD5] = { "series 5m", apply_add5 },
	[K_ADD1H] = { "series 1h", apply_add1h },
	[K_PRUNE] = { "series retention", apply_prune },
};

const struct store__table store__series_table = {
	.name = "series",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

void store_batch_series(struct store_batch *b, const struct store_series_row *r)
{
	struct store_series_row *d = store__push(b, &store__series_table, K_PUT, sizeof *d);
	*d = *r;
	d->customer = store__bdup(b, r->customer);
	d->asset = store__bdup(b, r->asset);
	d->check = store__bdup(b, r->check);
	d->label = store__bdup(b, r->label);
	d->unit = store__bdup(b, r->unit ? r->unit : "");
}

void store_batch_series_raw(struct store_batch *b, int64_t id, int64_t t_ms, double v)
{
	struct raw_op *o = store__push(b, &store__series_table, K_RAW, sizeof *o);
	o->id = id;
	o->t_ms = t_ms;
	o->v = v;
}

void store_batch_series_add(struct store_batch *b, int tier, int64_t id,
                            const struct store_series_agg *a)
{
	unsigned kind = tier == STORE_SERIES_1H ? K_ADD1H : K_ADD5;
	struct add_op *o = store__push(b, &store__series_table, kind, sizeof *o);
	o->id = id;
	o->a = *a;
}

void store_batch_series_prune(struct store_batch *b, const struct store_series_prune *p)
{
	struct store_series_prune *o = store__push(b, &store__series_table, K_PRUNE, sizeof *o);
	*o = *p;
}

uint64_t store_series_pruned(struct store *s)
{
	for (size_t i = 0; i < s->n_tables; i++)
		if (s->tables[i].t == &store__series_table) {
			struct tbl *x = s->tables[i].ctx;
			return x ? __atomic_load_n(&x->pruned, __ATOMIC_RELAXED) : 0;
		}
	return 0;
}

/* ---- startup reads ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_load_series(struct store *s, void (*cb)(void *, const struct store_series_row *),
                      void *ud)
{
	sqlite3_stmt *st;
	const char *q = "SELECT id, customer, asset, check_name, label, unit, created, last_seen"
	                " FROM series ORDER BY id";
	if (s->schema < 7)
		return 0; /* a read-only file from before the history: nothing */
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_series_row r = {
			.id = sqlite3_column_int64(st, 0),
			.customer = ctext(st, 1),
			.asset = ctext(st, 2),
			.check = ctext(st, 3),
			.label = ctext(st, 4),
			.unit = ctext(st, 5),
			.created = sqlite3_column_double(st, 6),
			.last_seen = sqlite3_column_double(st, 7),
		};
		if (r.id > 0 && r.customer && r.asset && r.check && r.label && r.unit)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t store_series_last_id(struct store *s)
{
	sqlite3_stmt *st;
	if (s->schema < 7 || sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM series",
	                                        -1, &st, NULL) != SQLITE_OK)
		return 0;
	int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return id;
}
