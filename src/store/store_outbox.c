/*
 * store_outbox: the outbox table - rows written and deleted (PUBACK) as
 * batch operations, and read back.
 *
 * A message that publishes an alert event stores only a reference
 * (alert_id, seq) to the event row, which holds the payload once; other
 * messages keep a payload (schema 3).  Each node numbers its own rows and
 * sees only them (schema 4: the key is (node, id), the node is the
 * store's, store_set_node).  Rows come in id order with the payload of a
 * reference resolved from its alert_event row; a reference whose event is
 * gone (retention after a very long outage, a damaged file) is logged,
 * deleted and never passed on.  Three ways in: store_load_outbox
 * (everything, startup), a bounded read at startup
 * (store_outbox_read_now) and the same read as a batch operation in the
 * writer thread (store_batch_outbox_read), which lets the daemon keep
 * only a bounded number of unsent messages in memory and reload the rest
 * while it runs.
 *
 * A read object is filled by exactly one thread (the writer, or the
 * caller before store_start); the loop looks at it only after the store
 * reported its batch written (the store's lock orders the two).
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The outbox of one node (schema 4: every statement names it) in id
 * order, a NULL payload resolved from its event; the last column says the
 * event is gone. */
#define READ_SQL                                                                                   \
	"SELECT o.id, o.topic, coalesce(o.payload, e.payload), o.qos, o.retain, o.created,"        \
	" o.alert_id, o.seq, o.payload IS NULL AND e.payload IS NULL"                              \
	" FROM outbox o LEFT JOIN alert_event e"                                                   \
	" ON o.payload IS NULL AND e.alert_id = o.alert_id AND e.seq = o.seq"                      \
	" WHERE o.node = ?1 AND o.id >= ?2 AND o.id <= ?3 ORDER BY o.id LIMIT ?4"
#define DELETE_SQL "DELETE FROM outbox WHERE node = ?1 AND id = ?2"

struct store_outbox_read {
	int64_t from, upto, next;
	size_t limit;
	int status; /* 1 done, 0 not run, -1 failed */
	size_t n, cap;
	struct store_outbox_row *rows; /* each row's strings: one block at topic */
};

typedef void (*row_cb)(void *ud, const struct store_outbox_row *r);

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Rows whose event is gone: their ids, deleted after the scan. */
struct lost {
	int64_t *ids;
	size_t n, cap;
};

static void lost_add(struct lost *l, int64_t id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		int64_t *p = realloc(l->ids, cap * sizeof *p);
		if (!p)
			return; /* stays in the table; found again next time */
		l->ids = p;
		l->cap = cap;
	}
	l->ids[l->n++] = id;
}

/* Step sel (bound by the caller) to its end: good rows to cb, lost ones
 * deleted with del (node's rows) afterwards.  *last: the last id looked at, *seen: how
 * many rows were looked at.  sel is reset, not finalized. */
static int scan(sqlite3_stmt *sel, sqlite3_stmt *del, const char *node, row_cb cb, void *ud,
                int64_t *last, size_t *seen)
{
	struct lost lost = { 0 };
	int rc;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct store_outbox_row r = {
			.id = sqlite3_column_int64(sel, 0),
			.topic = ctext(sel, 1),
			.payload = sqlite3_column_blob(sel, 2),
			.len = (size_t)sqlite3_column_bytes(sel, 2),
			.qos = sqlite3_column_int(sel, 3),
			.retain = sqlite3_column_int(sel, 4),
			.created = sqlite3_column_double(sel, 5),
			.alert_id = ctext(sel, 6),
			.seq = sqlite3_column_int64(sel, 7),
		};
		*last = r.id;
		(*seen)++;
		if (sqlite3_column_int(sel, 8) || !r.topic) {
			log_warn("store",
			         "outbox row %lld (%s) refers to event %s seq %lld, which is gone;"
			         " deleting the row",
			         (long long)r.id, r.topic ? r.topic : "no topic",
			         r.alert_id ? r.alert_id : "?", (long long)r.seq);
			lost_add(&lost, r.id);
			continue;
		}
		if (!r.payload)
			r.payload = "";
		cb(ud, &r);
	}
	sqlite3_reset(sel);
	sqlite3_clear_bindings(sel);
	for (size_t i = 0; i < lost.n; i++) {
		store__bind_text(del, 1, node);
		sqlite3_bind_int64(del, 2, lost.ids[i]);
		sqlite3_step(del);
		sqlite3_reset(del);
	}
	free(lost.ids);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int prepare2(sqlite3 *db, sqlite3_stmt **sel, sqlite3_stmt **del)
{
	*sel = *del = NULL;
	if (sqlite3_prepare_v2(db, READ_SQL, -1, sel, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, DELETE_SQL, -1, del, NULL) == SQLITE_OK)
		return 0;
	sqlite3_finalize(*sel);
	sqlite3_finalize(*del);
	return -1;
}

int store_load_outbox(struct store *s, void (*cb)(void *, const struct store_outbox_row *),
                      void *ud)
{
	sqlite3 *db = s->db;
	sqlite3_stmt *sel, *del;
	if (prepare2(db, &sel, &del) != 0)
		return -1;
	store__bind_text(sel, 1, s->node);
	sqlite3_bind_int64(sel, 2, INT64_MIN);
	sqlite3_bind_int64(sel, 3, INT64_MAX);
	sqlite3_bind_int64(sel, 4, -1); /* no limit */
	int64_t last = 0;
	size_t seen = 0;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	int rc = scan(sel, del, s->node, cb, ud, &last, &seen);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	return rc;
}

/* ---- reads in pieces ---- */

struct store_outbox_read *store_outbox_read_new(int64_t from, int64_t upto, size_t limit)
{
	struct store_outbox_read *rd = xcalloc(1, sizeof *rd);
	rd->from = rd->next = from;
	rd->upto = upto;
	rd->limit = limit;
	return rd;
}

static void rows_free(struct store_outbox_read *rd)
{
	for (size_t i = 0; i < rd->n; i++)
		free((void *)rd->rows[i].topic);
	free(rd->rows);
	rd->rows = NULL;
	rd->n = rd->cap = 0;
}

void store_outbox_read_free(struct store_outbox_read *rd)
{
	if (!rd)
		return;
	rows_free(rd);
	free(rd);
}

/* Copy a row: topic, payload (NUL-terminated too) and alert id in one block. */
static void keep_row(void *ud, const struct store_outbox_row *r)
{
	struct store_outbox_read *rd = ud;
	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 64;
		rd->rows = xrealloc(rd->rows, rd->cap * sizeof *rd->rows);
	}
	size_t lt = strlen(r->topic) + 1, la = r->alert_id ? strlen(r->alert_id) + 1 : 0;
	char *p = xmalloc(lt + r->len + 1 + la);
	struct store_outbox_row *d = &rd->rows[rd->n++];
	*d = *r;
	memcpy(p, r->topic, lt);
	d->topic = p;
	if (r->len)
		memcpy(p + lt, r->payload, r->len);
	p[lt + r->len] = '\0';
	d->payload = p + lt;
	d->alert_id = NULL;
	if (la) {
		memcpy(p + lt + r->len + 1, r->alert_id, la);
		d->alert_id = p + lt + r->len + 1;
	}
}

/* Run a read of node's rows with sel (READ_SQL) and del (DELETE_SQL),
 * inside a transaction the caller holds.  0 or -1. */
static int outbox_read(struct store_outbox_read *rd, const char *node, sqlite3_stmt *sel,
                       sqlite3_stmt *del)
{
	rows_free(rd);
	rd->next = rd->from;
	if (!rd->limit || rd->from > rd->upto) {
		rd->status = 1;
		return 0;
	}
	store__bind_text(sel, 1, node);
	sqlite3_bind_int64(sel, 2, rd->from);
	sqlite3_bind_int64(sel, 3, rd->upto);
	sqlite3_bind_int64(sel, 4,
	                   (uint64_t)rd->limit > (uint64_t)INT64_MAX ? -1 : (int64_t)rd->limit);
	int64_t last = rd->from;
	size_t seen = 0;
	if (scan(sel, del, node, keep_row, rd, &last, &seen) != 0) {
		log_err("store", "cannot read the outbox after id %lld: %s", (long long)rd->from,
		        sqlite3_errmsg(sqlite3_db_handle(sel)));
		rows_free(rd);
		rd->status = -1;
		return -1;
	}
	if (seen < rd->limit)
		rd->next = rd->upto < INT64_MAX ? rd->upto + 1 : INT64_MAX;
	else
		rd->next = last < INT64_MAX ? last + 1 : INT64_MAX;
	rd->status = 1;
	return 0;
}

int store_outbox_read_now(struct store *s, struct store_outbox_read *rd)
{
	sqlite3 *db = s->db;
	sqlite3_stmt *sel, *del;
	if (prepare2(db, &sel, &del) != 0) {
		rd->status = -1;
		return -1;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	int rc = outbox_read(rd, s->node, sel, del);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	return rc;
}

/* ---- batch operations ---- */

enum kind { K_INSERT, K_DELETE, K_READ };

enum { S_INSERT, S_DELETE, S_READ, S__COUNT };

static const char *const sql[S__COUNT] = {
	[S_INSERT] = "INSERT OR REPLACE INTO outbox (node, id, topic, payload, alert_id, seq, qos,"
	             " retain, created) VALUES (?,?,?,?,?,?,?,?,?)",
	[S_DELETE] = DELETE_SQL,
	[S_READ] = READ_SQL,
};

struct tbl {
	const struct store *s; /* its node: set before store_start, fixed after */
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	t->s = s;
	return store__prepare_all(db, sql, t->st, S__COUNT, "outbox", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

static int apply_insert(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_outbox_row *r = op;
	sqlite3_stmt *st = t->st[S_INSERT];
	store__bind_text(st, 1, t->s->node);
	sqlite3_bind_int64(st, 2, r->id);
	store__bind_text(st, 3, r->topic);
	if (r->alert_id) {
		store__bind_text(st, 5, r->alert_id);
		sqlite3_bind_int64(st, 6, r->seq);
	} else {
		/* never NULL here: the copy is at least 1 byte */
		sqlite3_bind_blob(st, 4, r->payload, (int)r->len, SQLITE_STATIC);
	}
	sqlite3_bind_int(st, 7, r->qos);
	sqlite3_bind_int(st, 8, r->retain);
	sqlite3_bind_double(st, 9, r->created);
	return store__run(st);
}

static int apply_delete(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	sqlite3_stmt *st = t->st[S_DELETE];
	store__bind_text(st, 1, t->s->node);
	sqlite3_bind_int64(st, 2, *(const int64_t *)op);
	return store__run(st);
}

static int apply_read(void *ctx, sqlite3 *db, const void *op)
{
	struct tbl *t = ctx;
	return outbox_read(*(struct store_outbox_read *const *)op, t->s->node, t->st[S_READ],
	                   t->st[S_DELETE]);
}

static const struct store__kind kinds[] = {
	[K_INSERT] = { "outbox", apply_insert },
	[K_DELETE] = { "outbox delete", apply_delete },
	[K_READ] = { "outbox read", apply_read },
};

const struct store__table store__outbox_table = {
	.name = "outbox",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

void store_batch_outbox(struct store_batch *b, const struct store_outbox_row *r)
{
	struct store_outbox_row *d = store__push(b, &store__outbox_table, K_INSERT, sizeof *d);
	*d = *r;
	d->topic = store__bdup(b, r->topic);
	if (r->alert_id) {
		/* by reference: alert_event (alert_id, seq) holds the payload */
		d->alert_id = store__bdup(b, r->alert_id);
		d->payload = NULL;
		d->len = 0;
		return;
	}
	d->seq = 0;
	void *p = store__balloc(b, r->len ? r->len : 1);
	if (r->len)
		memcpy(p, r->payload, r->len);
	d->payload = p;
}

void store_batch_outbox_done(struct store_batch *b, int64_t id)
{
	*(int64_t *)store__push(b, &store__outbox_table, K_DELETE, sizeof id) = id;
}

void store_batch_outbox_read(struct store_batch *b, struct store_outbox_read *rd)
{
	*(struct store_outbox_read **)store__push(b, &store__outbox_table, K_READ, sizeof rd) = rd;
}

int64_t store_outbox_last_id(struct store *s)
{
	/* No AUTOINCREMENT: the highest id of this node's rows.  New ids
	 * continue after every row present (loaded at startup or later). */
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM outbox WHERE node = ?", -1,
	                       &st, NULL) != SQLITE_OK)
		return 0;
	store__bind_text(st, 1, s->node);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int store_outbox_read_status(const struct store_outbox_read *rd)
{
	return rd->status;
}

size_t store_outbox_read_count(const struct store_outbox_read *rd)
{
	return rd->n;
}

const struct store_outbox_row *store_outbox_read_row(const struct store_outbox_read *rd, size_t i)
{
	return i < rd->n ? &rd->rows[i] : NULL;
}

int64_t store_outbox_read_next(const struct store_outbox_read *rd)
{
	return rd->next;
}
