/*
 * store_notify: the on-call notification tables (schema 10) - items (one
 * notification each, keyed by alert event, contact and channel), the
 * attempts to deliver them, the paging state of unresolved alerts, and
 * the mails of documents (a monthly report: one row per recipient, the
 * whole message in it until sent) - written as batch operations, loaded
 * once at startup (mails without their content), and one alert's
 * notifications or one mail's content read on the reader thread.
 *
 * An item insert that meets its key is ignored: that is the dedup that
 * keeps a notification from being written twice.  Items and pages are
 * the store's node's (store_set_node).  Must never: return an item whose
 * alert event is gone with a payload it does not have (payload NULL).
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define NOTIFY_SINCE 10 /* the tables exist since schema 10 */

enum kind {
	K_ITEM,
	K_UPDATE,
	K_ATTEMPT,
	K_PAGE,
	K_PAGE_DEL,
	K_PRUNE,
	K_KEY,
	K_MAIL,
	K_MAIL_UPDATE
};

enum {
	S_ITEM,
	S_UPDATE,
	S_ATTEMPT,
	S_PAGE,
	S_PAGE_DEL,
	S_PRUNE_ITEMS,
	S_PRUNE_ATTEMPTS,
	S_KEY,
	S_MAIL,
	S_MAIL_UPDATE,
	S_PRUNE_MAILS,
	S__COUNT
};

static const char *const sql[S__COUNT] = {
	[S_ITEM] =
	    "INSERT OR IGNORE INTO notify_item (alert_id, seq, event, contact, channel, node,"
	    " status, attempts, created, due, updated, error)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
	[S_UPDATE] = "UPDATE notify_item SET status = ?1, attempts = ?2, due = ?3, updated = ?4,"
	             " error = ?5 WHERE alert_id = ?6 AND seq = ?7 AND event = ?8 AND contact = ?9"
	             " AND channel = ?10",
	[S_ATTEMPT] =
	    "INSERT OR REPLACE INTO notify_attempt (alert_id, seq, event, contact, channel,"
	    " attempt, time, result, detail, message_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
	[S_PAGE] = "INSERT OR REPLACE INTO notify_page (alert_id, node, center, tier, severity,"
	           " repeat_at, repeats, paged, seq) VALUES (?,?,?,?,?,?,?,?,?)",
	[S_PAGE_DEL] = "DELETE FROM notify_page WHERE alert_id = ?",
	[S_PRUNE_ITEMS] =
	    "DELETE FROM notify_item WHERE (alert_id, seq, event, contact, channel) IN"
	    " (SELECT alert_id, seq, event, contact, channel FROM notify_item"
	    " WHERE created < ?1 AND status IN ('sent', 'failed') ORDER BY created"
	    " LIMIT ?2)",
	[S_PRUNE_ATTEMPTS] =
	    "DELETE FROM notify_attempt WHERE (alert_id, seq, event, contact, channel,"
	    " attempt) IN (SELECT alert_id, seq, event, contact, channel, attempt"
	    " FROM notify_attempt WHERE time < ?1 ORDER BY time LIMIT ?2)",
	/* the first key stays: a second node or a race never replaces it */
	[S_KEY] = "INSERT OR IGNORE INTO notify_key (id, key) VALUES (1, ?)",
	/* a document mailed again (a month's report on request) replaces its
	 * row once that was sent or given up; one still on its way stays */
	[S_MAIL] =
	    "INSERT INTO notify_mail (key, address, node, channel, customer,"
	    " subject, body, html, att_name, att_type, att, status, attempts, created,"
	    " due, updated, error, message_id)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	    " ON CONFLICT (key, address) DO UPDATE SET node = excluded.node,"
	    " channel = excluded.channel, customer = excluded.customer,"
	    " subject = excluded.subject, body = excluded.body, html = excluded.html,"
	    " att_name = excluded.att_name, att_type = excluded.att_type, att = excluded.att,"
	    " status = excluded.status, attempts = excluded.attempts,"
	    " created = excluded.created, due = excluded.due, updated = excluded.updated,"
	    " error = excluded.error, message_id = excluded.message_id"
	    " WHERE notify_mail.status IN ('sent', 'failed')",
	/* once sent or given up, the HTML and the file are not kept */
	[S_MAIL_UPDATE] =
	    "UPDATE notify_mail SET status = ?1, attempts = ?2, due = ?3, updated = ?4,"
	    " error = ?5, message_id = coalesce(?6, message_id),"
	    " html = CASE WHEN ?1 IN ('sent', 'failed') THEN NULL ELSE html END,"
	    " att = CASE WHEN ?1 IN ('sent', 'failed') THEN NULL ELSE att END"
	    " WHERE key = ?7 AND address = ?8",
	[S_PRUNE_MAILS] = "DELETE FROM notify_mail WHERE rowid IN (SELECT rowid FROM notify_mail"
	                  " WHERE created < ?1 AND status IN ('sent', 'failed') ORDER BY created"
	                  " LIMIT ?2)",
};

struct tbl {
	const struct store *s; /* its node */
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	t->s = s;
	return store__prepare_all(db, sql, t->st, S__COUNT, "notify", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

static int apply_item(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_item_row *r = op;
	sqlite3_stmt *st = t->st[S_ITEM];
	store__bind_text(st, 1, r->alert_id);
	sqlite3_bind_int64(st, 2, r->seq);
	store__bind_text(st, 3, r->event);
	store__bind_text(st, 4, r->contact);
	store__bind_text(st, 5, r->channel);
	store__bind_text(st, 6, t->s->node);
	store__bind_text(st, 7, r->status ? r->status : "pending");
	sqlite3_bind_int(st, 8, r->attempts);
	sqlite3_bind_double(st, 9, r->created);
	store__bind_time(st, 10, r->due);
	sqlite3_bind_double(st, 11, r->updated > 0 ? r->updated : r->created);
	store__bind_text(st, 12, r->error);
	return store__run(st);
}

static int apply_update(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_item_row *r = op;
	sqlite3_stmt *st = t->st[S_UPDATE];
	store__bind_text(st, 1, r->status);
	sqlite3_bind_int(st, 2, r->attempts);
	store__bind_time(st, 3, r->due);
	sqlite3_bind_double(st, 4, r->updated);
	store__bind_text(st, 5, r->error);
	store__bind_text(st, 6, r->alert_id);
	sqlite3_bind_int64(st, 7, r->seq);
	store__bind_text(st, 8, r->event);
	store__bind_text(st, 9, r->contact);
	store__bind_text(st, 10, r->channel);
	return store__run(st);
}

static int apply_attempt(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_attempt_row *r = op;
	sqlite3_stmt *st = t->st[S_ATTEMPT];
	store__bind_text(st, 1, r->alert_id);
	sqlite3_bind_int64(st, 2, r->seq);
	store__bind_text(st, 3, r->event);
	store__bind_text(st, 4, r->contact);
	store__bind_text(st, 5, r->channel);
	sqlite3_bind_int(st, 6, r->attempt);
	sqlite3_bind_double(st, 7, r->time);
	store__bind_text(st, 8, r->result);
	store__bind_text(st, 9, r->detail);
	store__bind_text(st, 10, r->message_id);
	return store__run(st);
}

static int apply_page(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_page_row *r = op;
	sqlite3_stmt *st = t->st[S_PAGE];
	store__bind_text(st, 1, r->alert_id);
	store__bind_text(st, 2, t->s->node);
	store__bind_text(st, 3, r->center);
	store__bind_text(st, 4, r->tier);
	sqlite3_bind_int(st, 5, r->severity);
	store__bind_time(st, 6, r->repeat_at);
	sqlite3_bind_int(st, 7, r->repeats);
	store__bind_text(st, 8, r->paged);
	sqlite3_bind_int64(st, 9, r->seq);
	return store__run(st);
}

static int apply_page_del(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	sqlite3_stmt *st = t->st[S_PAGE_DEL];
	store__bind_text(st, 1, *(const char *const *)op);
	return store__run(st);
}

struct prune {
	double before;
	int limit;
};

static int apply_prune(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct prune *p = op;
	sqlite3_stmt *a = t->st[S_PRUNE_ITEMS], *b = t->st[S_PRUNE_ATTEMPTS];
	sqlite3_stmt *c = t->st[S_PRUNE_MAILS];
	sqlite3_bind_double(a, 1, p->before);
	sqlite3_bind_int(a, 2, p->limit);
	sqlite3_bind_double(b, 1, p->before);
	sqlite3_bind_int(b, 2, p->limit);
	sqlite3_bind_double(c, 1, p->before);
	sqlite3_bind_int(c, 2, p->limit);
	return store__run(a) == 0 && store__run(b) == 0 && store__run(c) == 0 ? 0 : -1;
}

struct keyop {
	size_t len;
	unsigned char key[64];
};

static int apply_key(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct keyop *k = op;
	sqlite3_stmt *st = t->st[S_KEY];
	sqlite3_bind_blob(st, 1, k->key, (int)k->len, SQLITE_TRANSIENT);
	return store__run(st);
}

static int apply_mail(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_mail_row *r = op;
	sqlite3_stmt *st = t->st[S_MAIL];
	store__bind_text(st, 1, r->key);
	store__bind_text(st, 2, r->address);
	store__bind_text(st, 3, t->s->node);
	store__bind_text(st, 4, r->channel);
	store__bind_text(st, 5, r->customer);
	store__bind_text(st, 6, r->subject ? r->subject : "");
	store__bind_text(st, 7, r->body ? r->body : "");
	store__bind_text(st, 8, r->html);
	store__bind_text(st, 9, r->att_name);
	store__bind_text(st, 10, r->att_type);
	if (r->att)
		sqlite3_bind_blob64(st, 11, r->att, r->att_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	store__bind_text(st, 12, r->status ? r->status : "pending");
	sqlite3_bind_int(st, 13, r->attempts);
	sqlite3_bind_double(st, 14, r->created);
	store__bind_time(st, 15, r->due);
	sqlite3_bind_double(st, 16, r->updated > 0 ? r->updated : r->created);
	store__bind_text(st, 17, r->error);
	store__bind_text(st, 18, r->message_id);
	return store__run(st);
}

static int apply_mail_update(void *ctx, sqlite3 *db, const void *op)
{
	const struct tbl *t = ctx;
	const struct store_notify_mail_row *r = op;
	sqlite3_stmt *st = t->st[S_MAIL_UPDATE];
	store__bind_text(st, 1, r->status);
	sqlite3_bind_int(st, 2, r->attempts);
	store__bind_time(st, 3, r->due);
	sqlite3_bind_double(st, 4, r->updated);
	store__bind_text(st, 5, r->error);
	store__bind_text(st, 6, r->message_id);
	store__bind_text(st, 7, r->key);
	store__bind_text(st, 8, r->address);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_ITEM] = { "notify item", apply_item },
	[K_UPDATE] = { "notify item update", apply_update },
	[K_ATTEMPT] = { "notify attempt", apply_attempt },
	[K_PAGE] = { "notify page", apply_page },
	[K_PAGE_DEL] = { "notify page delete", apply_page_del },
	[K_PRUNE] = { "notify prune", apply_prune },
	[K_KEY] = { "notify key", apply_key },
	[K_MAIL] = { "notify mail", apply_mail },
	[K_MAIL_UPDATE] = { "notify mail update", apply_mail_update },
};

const struct store__table store__notify_table = {
	.name = "notify",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

static void copy_item(struct store_batch *b, struct store_notify_item_row *d,
                      const struct store_notify_item_row *r)
{
	*d = *r;
	d->alert_id = store__bdup(b, r->alert_id);
	d->event = store__bdup(b, r->event);
	d->contact = store__bdup(b, r->contact);
	d->channel = store__bdup(b, r->channel);
	d->status = store__bdup(b, r->status);
	d->error = store__bdup(b, r->error);
	d->payload = NULL;
}

void store_batch_notify_item(struct store_batch *b, const struct store_notify_item_row *r)
{
	copy_item(b, store__push(b, &store__notify_table, K_ITEM, sizeof *r), r);
}

void store_batch_notify_update(struct store_batch *b, const struct store_notify_item_row *r)
{
	copy_item(b, store__push(b, &store__notify_table, K_UPDATE, sizeof *r), r);
}

void store_batch_notify_attempt(struct store_batch *b, const struct store_notify_attempt_row *r)
{
	struct store_notify_attempt_row *d =
	    store__push(b, &store__notify_table, K_ATTEMPT, sizeof *d);
	*d = *r;
	d->alert_id = store__bdup(b, r->alert_id);
	d->event = store__bdup(b, r->event);
	d->contact = store__bdup(b, r->contact);
	d->channel = store__bdup(b, r->channel);
	d->result = store__bdup(b, r->result);
	d->detail = store__bdup(b, r->detail);
	d->message_id = store__bdup(b, r->message_id);
}

void store_batch_notify_page(struct store_batch *b, const struct store_notify_page_row *r)
{
	struct store_notify_page_row *d = store__push(b, &store__notify_table, K_PAGE, sizeof *d);
	*d = *r;
	d->alert_id = store__bdup(b, r->alert_id);
	d->center = store__bdup(b, r->center);
	d->tier = store__bdup(b, r->tier);
	d->paged = store__bdup(b, r->paged);
	d->payload = NULL;
}

void store_batch_notify_page_delete(struct store_batch *b, const char *alert_id)
{
	const char **d = store__push(b, &store__notify_table, K_PAGE_DEL, sizeof *d);
	*d = store__bdup(b, alert_id);
}

void store_batch_notify_prune(struct store_batch *b, double before, int limit)
{
	struct prune *p = store__push(b, &store__notify_table, K_PRUNE, sizeof *p);
	p->before = before;
	p->limit = limit;
}

void store_batch_notify_key(struct store_batch *b, const unsigned char *key, size_t len)
{
	struct keyop *k = store__push(b, &store__notify_table, K_KEY, sizeof *k);
	k->len = len < sizeof k->key ? len : sizeof k->key;
	memcpy(k->key, key, k->len);
}

static void copy_mail(struct store_batch *b, struct store_notify_mail_row *d,
                      const struct store_notify_mail_row *r, int content)
{
	*d = *r;
	d->key = store__bdup(b, r->key);
	d->address = store__bdup(b, r->address);
	d->status = store__bdup(b, r->status);
	d->error = store__bdup(b, r->error);
	d->message_id = store__bdup(b, r->message_id);
	if (!content) {
		d->channel = d->customer = d->subject = d->body = d->html = NULL;
		d->att_name = d->att_type = NULL;
		d->att = NULL;
		d->att_len = 0;
		return;
	}
	d->channel = store__bdup(b, r->channel);
	d->customer = store__bdup(b, r->customer);
	d->subject = store__bdup(b, r->subject);
	d->body = store__bdup(b, r->body);
	d->html = store__bdup(b, r->html);
	d->att_name = store__bdup(b, r->att_name);
	d->att_type = store__bdup(b, r->att_type);
	if (r->att) {
		void *p = store__balloc(b, r->att_len ? r->att_len : 1);
		memcpy(p, r->att, r->att_len);
		d->att = p;
	}
}

void store_batch_notify_mail(struct store_batch *b, const struct store_notify_mail_row *r)
{
	copy_mail(b, store__push(b, &store__notify_table, K_MAIL, sizeof *r), r, 1);
}

void store_batch_notify_mail_update(struct store_batch *b, const struct store_notify_mail_row *r)
{
	copy_mail(b, store__push(b, &store__notify_table, K_MAIL_UPDATE, sizeof *r), r, 0);
}

/* ---- startup loads ---- */

int store_load_notify_key(struct store *s, unsigned char *buf, size_t size, size_t *len)
{
	if (s->schema < NOTIFY_SINCE)
		return -1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT key FROM notify_key WHERE id = 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st), out = 1;
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		const void *p = sqlite3_column_blob(st, 0);
		if (p && n >= 16) {
			*len = n < size ? n : size;
			memcpy(buf, p, *len);
			out = 0;
		}
	} else if (rc != SQLITE_DONE) {
		out = -1;
	}
	sqlite3_finalize(st);
	return out;
}

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static double ctime_(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_double(st, i);
}

#define ITEM_COLS                                                                                   \
	"i.alert_id, i.seq, i.event, i.contact, i.channel, i.status, i.attempts, i.created, i.due," \
	" i.updated, i.error"

static void item_row(sqlite3_stmt *st, struct store_notify_item_row *r)
{
	memset(r, 0, sizeof *r);
	r->alert_id = ctext(st, 0);
	r->seq = sqlite3_column_int64(st, 1);
	r->event = ctext(st, 2);
	r->contact = ctext(st, 3);
	r->channel = ctext(st, 4);
	r->status = ctext(st, 5);
	r->attempts = sqlite3_column_int(st, 6);
	r->created = ctime_(st, 7);
	r->due = ctime_(st, 8);
	r->updated = ctime_(st, 9);
	r->error = ctext(st, 10);
}

int store_load_notify_items(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_item_row *r), void *ud)
{
	if (s->schema < NOTIFY_SINCE)
		return -1;
	sqlite3_stmt *st;
	const char *q = "SELECT " ITEM_COLS ", e.payload FROM notify_item i"
	                " LEFT JOIN alert_event e ON e.alert_id = i.alert_id AND e.seq = i.seq"
	                " WHERE i.node = ? AND i.status IN ('pending', 'sending')"
	                " ORDER BY i.created, i.alert_id, i.seq";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, s->node);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_notify_item_row r;
		item_row(st, &r);
		r.payload = ctext(st, 11);
		if (r.alert_id && r.event && r.contact && r.channel && r.status)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_load_notify_pages(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_page_row *r), void *ud)
{
	if (s->schema < NOTIFY_SINCE)
		return -1;
	sqlite3_stmt *st;
	const char *q = "SELECT p.alert_id, p.center, p.tier, p.severity, p.repeat_at, p.repeats,"
	                " p.paged, p.seq, e.payload FROM notify_page p LEFT JOIN alert_event e"
	                " ON e.alert_id = p.alert_id AND e.seq = p.seq WHERE p.node = ?"
	                " ORDER BY p.alert_id";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, s->node);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_notify_page_row r = {
			.alert_id = ctext(st, 0),
			.center = ctext(st, 1),
			.tier = ctext(st, 2),
			.severity = sqlite3_column_int(st, 3),
			.repeat_at = ctime_(st, 4),
			.repeats = sqlite3_column_int(st, 5),
			.paged = ctext(st, 6),
			.seq = sqlite3_column_int64(st, 7),
			.payload = ctext(st, 8),
		};
		if (r.alert_id)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_load_notify_mails(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_mail_row *r), void *ud)
{
	if (s->schema < NOTIFY_SINCE)
		return -1;
	sqlite3_stmt *st;
	const char *q =
	    "SELECT key, address, channel, customer, status, attempts, created, due,"
	    " updated, error, message_id FROM notify_mail"
	    " WHERE node = ? AND status IN ('pending', 'sending') ORDER BY created, key";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store__bind_text(st, 1, s->node);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_notify_mail_row r = {
			.key = ctext(st, 0),
			.address = ctext(st, 1),
			.channel = ctext(st, 2),
			.customer = ctext(st, 3),
			.status = ctext(st, 4),
			.attempts = sqlite3_column_int(st, 5),
			.created = ctime_(st, 6),
			.due = ctime_(st, 7),
			.updated = ctime_(st, 8),
			.error = ctext(st, 9),
			.message_id = ctext(st, 10),
		};
		if (r.key && r.address && r.channel && r.status)
			cb(ud, &r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- one alert's notifications (reader thread) ---- */

static const char *keep(struct store_read *rd, sqlite3_stmt *st, int i)
{
	return store__arena_dup(&rd->mem, ctext(st, i));
}

static int run_notifications(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT center, customer FROM alert WHERE id = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.alert_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rd->ncenter = keep(rd, st, 0);
		rd->ncustomer = keep(rd, st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	if (!rd->ncustomer)
		return 0; /* unknown alert: not an error */
	const char *qi = "SELECT " ITEM_COLS " FROM notify_item i WHERE i.alert_id = ?"
	                 " ORDER BY i.created, i.seq, i.event, i.contact, i.channel LIMIT ?";
	if (sqlite3_prepare_v2(db, qi, -1, &st, NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.alert_id);
	sqlite3_bind_int(st, 2, STORE_READ_MAX_HISTORY + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_nitems == STORE_READ_MAX_HISTORY) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_notify_item_row r;
		item_row(st, &r);
		struct store_notify_item_row *d = store__read_push(
		    (void **)&rd->nitems, &rd->n_nitems, &rd->cap_nitems, sizeof *d);
		*d = r;
		d->alert_id = keep(rd, st, 0);
		d->event = keep(rd, st, 2);
		d->contact = keep(rd, st, 3);
		d->channel = keep(rd, st, 4);
		d->status = keep(rd, st, 5);
		d->error = keep(rd, st, 10);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	const char *qa = "SELECT alert_id, seq, event, contact, channel, attempt, time, result,"
	                 " detail, message_id FROM notify_attempt WHERE alert_id = ?"
	                 " ORDER BY time, seq, event, contact, channel, attempt LIMIT ?";
	if (sqlite3_prepare_v2(db, qa, -1, &st, NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.alert_id);
	sqlite3_bind_int(st, 2, STORE_READ_MAX_HISTORY + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rd->n_nattempts == STORE_READ_MAX_HISTORY) {
			rd->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		struct store_notify_attempt_row *d = store__read_push(
		    (void **)&rd->nattempts, &rd->n_nattempts, &rd->cap_nattempts, sizeof *d);
		d->alert_id = keep(rd, st, 0);
		d->seq = sqlite3_column_int64(st, 1);
		d->event = keep(rd, st, 2);
		d->contact = keep(rd, st, 3);
		d->channel = keep(rd, st, 4);
		d->attempt = sqlite3_column_int(st, 5);
		d->time = sqlite3_column_double(st, 6);
		d->result = keep(rd, st, 7);
		d->detail = keep(rd, st, 8);
		d->message_id = keep(rd, st, 9);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store__read_fail(rd, STORE_EFAIL, "notifications: %s", sqlite3_errmsg(db));
	return 0;
}

int store_read_notifications(struct store *s, const char *alert_id, store_read_cb cb, void *ud)
{
	if (!alert_id || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_notifications, NOTIFY_SINCE);
	rd->in.alert_id = store__arena_dup(&rd->mem, alert_id);
	return store__read_submit(s, rd);
}

const char *store_read_notify_center(const struct store_read *rd)
{
	return rd->ncenter;
}

const char *store_read_notify_customer(const struct store_read *rd)
{
	return rd->ncustomer;
}

size_t store_read_notify_item_count(const struct store_read *rd)
{
	return rd->n_nitems;
}

const struct store_notify_item_row *store_read_notify_item_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_nitems ? &rd->nitems[i] : NULL;
}

size_t store_read_notify_attempt_count(const struct store_read *rd)
{
	return rd->n_nattempts;
}

const struct store_notify_attempt_row *store_read_notify_attempt_at(const struct store_read *rd,
                                                                    size_t i)
{
	return i < rd->n_nattempts ? &rd->nattempts[i] : NULL;
}

/* ---- one mail's content (reader thread) ---- */

static int run_mail(struct store_read *rd, sqlite3 *db)
{
	sqlite3_stmt *st;
	const char *q = "SELECT key, address, channel, customer, subject, body, html, att_name,"
	                " att_type, att, status, attempts, created, due, updated, error,"
	                " message_id FROM notify_mail WHERE key = ? AND address = ?";
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return store__read_fail(rd, STORE_EFAIL, "notify mail: %s", sqlite3_errmsg(db));
	store__bind_text(st, 1, rd->in.mail.key);
	store__bind_text(st, 2, rd->in.mail.address);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_notify_mail_row *d = store__arena_alloc(&rd->mem, sizeof *d);
		memset(d, 0, sizeof *d);
		d->key = keep(rd, st, 0);
		d->address = keep(rd, st, 1);
		d->channel = keep(rd, st, 2);
		d->customer = keep(rd, st, 3);
		d->subject = keep(rd, st, 4);
		d->body = keep(rd, st, 5);
		d->html = keep(rd, st, 6);
		d->att_name = keep(rd, st, 7);
		d->att_type = keep(rd, st, 8);
		const void *blob = sqlite3_column_blob(st, 9);
		size_t n = (size_t)sqlite3_column_bytes(st, 9);
		if (blob) {
			void *p = store__arena_alloc(&rd->mem, n ? n : 1);
			memcpy(p, blob, n);
			d->att = p;
			d->att_len = n;
		}
		d->status = keep(rd, st, 10);
		d->attempts = sqlite3_column_int(st, 11);
		d->created = ctime_(st, 12);
		d->due = ctime_(st, 13);
		d->updated = ctime_(st, 14);
		d->error = keep(rd, st, 15);
		d->message_id = keep(rd, st, 16);
		rd->nmail = d;
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store__read_fail(rd, STORE_EFAIL, "notify mail: %s", sqlite3_errmsg(db));
	return 0;
}

int store_read_notify_mail(struct store *s, const char *key, const char *address, store_read_cb cb,
                           void *ud)
{
	if (!key || !address || !cb)
		return STORE_EINVAL;
	struct store_read *rd = store__read_new(cb, ud, run_mail, NOTIFY_SINCE);
	rd->in.mail.key = store__arena_dup(&rd->mem, key);
	rd->in.mail.address = store__arena_dup(&rd->mem, address);
	return store__read_submit(s, rd);
}

const struct store_notify_mail_row *store_read_notify_mail_row(const struct store_read *rd)
{
	return rd->nmail;
}
