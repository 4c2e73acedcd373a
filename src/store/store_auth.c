/*
 * store_auth: the tables of src/auth (schema 6) - users, API tokens,
 * login sessions and the audit log - written as batch operations and read
 * back once at startup.
 *
 * Rows hold no secret in the clear (src/auth hashes passwords, token
 * secrets and session values before they get here); the store never
 * interprets the hashes.  Deleting a user deletes its tokens and sessions
 * in the same operation, so no half of it can be committed alone.
 * Must never: log a row's contents (hashes and CSRF tokens are not for
 * logs either), drop or filter valid rows on its own - src/auth decides
 * what has expired.
 */
#include "store/store_int.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

enum kind { K_USER, K_USER_DELETE, K_TOKEN, K_SESSION, K_SESSION_DELETE, K_AUDIT, K_AUDIT_PRUNE };

enum {
	S_USER,
	S_USER_DELETE,
	S_USER_TOKENS,
	S_USER_SESSIONS,
	S_TOKEN,
	S_SESSION,
	S_SESSION_DELETE,
	S_AUDIT,
	S_AUDIT_PRUNE,
	S__COUNT
};

static const char *const sql[S__COUNT] = {
	/* nothing refers to these rows by a foreign key: REPLACE is an upsert */
	[S_USER] = "INSERT OR REPLACE INTO auth_user (name, role, centers, customer, password,"
	           " created, disabled) VALUES (?,?,?,?,?,?,?)",
	[S_USER_DELETE] = "DELETE FROM auth_user WHERE name = ?",
	[S_USER_TOKENS] = "DELETE FROM auth_token WHERE user_name = ?",
	[S_USER_SESSIONS] = "DELETE FROM auth_session WHERE user_name = ?",
	[S_TOKEN] = "INSERT OR REPLACE INTO auth_token (id, secret, user_name, role, centers,"
	            " customer, label, created, expires, last_used, revoked)"
	            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
	[S_SESSION] = "INSERT OR REPLACE INTO auth_session (id, user_name, created, last_seen,"
	              " expires, csrf) VALUES (?,?,?,?,?,?)",
	[S_SESSION_DELETE] = "DELETE FROM auth_session WHERE id = ?",
	[S_AUDIT] =
	    "INSERT INTO auth_audit (time, who, what, from_addr, detail) VALUES (?,?,?,?,?)",
	[S_AUDIT_PRUNE] = "DELETE FROM auth_audit WHERE rowid IN (SELECT rowid FROM auth_audit"
	                  " WHERE time < ? ORDER BY time LIMIT ?)",
};

struct tbl {
	sqlite3_stmt *st[S__COUNT];
};

static int tbl_open(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen)
{
	struct tbl *t = xcalloc(1, sizeof *t);
	*ctx = t;
	return store__prepare_all(db, sql, t->st, S__COUNT, "auth", err, errlen);
}

static void tbl_close(void *ctx)
{
	struct tbl *t = ctx;
	if (!t)
		return;
	store__finalize_all(t->st, S__COUNT);
	free(t);
}

static sqlite3_stmt *stmt(void *ctx, int i)
{
	return ((struct tbl *)ctx)->st[i];
}

static int apply_user(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_auth_user_row *r = op;
	sqlite3_stmt *st = stmt(ctx, S_USER);
	store__bind_text(st, 1, r->name);
	store__bind_text(st, 2, r->role);
	store__bind_text(st, 3, r->centers);
	store__bind_text(st, 4, r->customer);
	store__bind_text(st, 5, r->password);
	sqlite3_bind_double(st, 6, r->created);
	sqlite3_bind_int(st, 7, r->disabled ? 1 : 0);
	return store__run(st);
}

static int apply_user_delete(void *ctx, sqlite3 *db, const void *op)
{
	const char *name = *(const char *const *)op;
	static const int which[] = { S_USER_TOKENS, S_USER_SESSIONS, S_USER_DELETE };
	for (size_t i = 0; i < ARRAY_LEN(which); i++) {
		sqlite3_stmt *st = stmt(ctx, which[i]);
		store__bind_text(st, 1, name);
		if (store__run(st) != 0)
			return -1;
	}
	return 0;
}

static int apply_token(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_auth_token_row *r = op;
	sqlite3_stmt *st = stmt(ctx, S_TOKEN);
	store__bind_text(st, 1, r->id);
	store__bind_text(st, 2, r->secret);
	store__bind_text(st, 3, r->user);
	store__bind_text(st, 4, r->role);
	store__bind_text(st, 5, r->centers);
	store__bind_text(st, 6, r->customer);
	store__bind_text(st, 7, r->label);
	sqlite3_bind_double(st, 8, r->created);
	store__bind_time(st, 9, r->expires);
	store__bind_time(st, 10, r->last_used);
	store__bind_time(st, 11, r->revoked);
	return store__run(st);
}

static int apply_session(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_auth_session_row *r = op;
	sqlite3_stmt *st = stmt(ctx, S_SESSION);
	store__bind_text(st, 1, r->id);
	store__bind_text(st, 2, r->user);
	sqlite3_bind_double(st, 3, r->created);
	sqlite3_bind_double(st, 4, r->last_seen);
	sqlite3_bind_double(st, 5, r->expires);
	store__bind_text(st, 6, r->csrf);
	return store__run(st);
}

static int apply_session_delete(void *ctx, sqlite3 *db, const void *op)
{
	sqlite3_stmt *st = stmt(ctx, S_SESSION_DELETE);
	store__bind_text(st, 1, *(const char *const *)op);
	return store__run(st);
}

static int apply_audit(void *ctx, sqlite3 *db, const void *op)
{
	const struct store_auth_audit_row *r = op;
	sqlite3_stmt *st = stmt(ctx, S_AUDIT);
	sqlite3_bind_double(st, 1, r->time);
	store__bind_text(st, 2, r->who);
	store__bind_text(st, 3, r->what);
	store__bind_text(st, 4, r->from);
	store__bind_text(st, 5, r->detail);
	return store__run(st);
}

struct prune {
	double before;
	int limit;
};

static int apply_audit_prune(void *ctx, sqlite3 *db, const void *op)
{
	const struct prune *p = op;
	sqlite3_stmt *st = stmt(ctx, S_AUDIT_PRUNE);
	sqlite3_bind_double(st, 1, p->before);
	sqlite3_bind_int(st, 2, p->limit);
	return store__run(st);
}

static const struct store__kind kinds[] = {
	[K_USER] = { "auth user", apply_user },
	[K_USER_DELETE] = { "auth user delete", apply_user_delete },
	[K_TOKEN] = { "auth token", apply_token },
	[K_SESSION] = { "auth session", apply_session },
	[K_SESSION_DELETE] = { "auth session delete", apply_session_delete },
	[K_AUDIT] = { "auth audit", apply_audit },
	[K_AUDIT_PRUNE] = { "auth audit prune", apply_audit_prune },
};

const struct store__table store__auth_table = {
	.name = "auth",
	.open = tbl_open,
	.close = tbl_close,
	.kinds = kinds,
	.n_kinds = ARRAY_LEN(kinds),
};

/* ---- batch operations (loop thread) ---- */

void store_batch_auth_user(struct store_batch *b, const struct store_auth_user_row *r)
{
	struct store_auth_user_row *d = store__push(b, &store__auth_table, K_USER, sizeof *d);
	*d = *r;
	d->name = store__bdup(b, r->name);
	d->role = store__bdup(b, r->role);
	d->centers = store__bdup(b, r->centers);
	d->customer = store__bdup(b, r->customer);
	d->password = store__bdup(b, r->password);
}

void store_batch_auth_user_delete(struct store_batch *b, const char *name)
{
	const char **d = store__push(b, &store__auth_table, K_USER_DELETE, sizeof *d);
	*d = store__bdup(b, name);
}

void store_batch_auth_token(struct store_batch *b, const struct store_auth_token_row *r)
{
	struct store_auth_token_row *d = store__push(b, &store__auth_table, K_TOKEN, sizeof *d);
	*d = *r;
	d->id = store__bdup(b, r->id);
	d->secret = store__bdup(b, r->secret);
	d->user = store__bdup(b, r->user);
	d->role = store__bdup(b, r->role);
	d->centers = store__bdup(b, r->centers);
	d->customer = store__bdup(b, r->customer);
	d->label = store__bdup(b, r->label);
}

void store_batch_auth_session(struct store_batch *b, const struct store_auth_session_row *r)
{
	struct store_auth_session_row *d = store__push(b, &store__auth_table, K_SESSION, sizeof *d);
	*d = *r;
	d->id = store__bdup(b, r->id);
	d->user = store__bdup(b, r->user);
	d->csrf = store__bdup(b, r->csrf);
}

void store_batch_auth_session_delete(struct store_batch *b, const char *id)
{
	const char **d = store__push(b, &store__auth_table, K_SESSION_DELETE, sizeof *d);
	*d = store__bdup(b, id);
}

void store_batch_auth_audit(struct store_batch *b, const struct store_auth_audit_row *r)
{
	struct store_auth_audit_row *d = store__push(b, &store__auth_table, K_AUDIT, sizeof *d);
	*d = *r;
	d->who = store__bdup(b, r->who);
	d->what = store__bdup(b, r->what);
	d->from = store__bdup(b, r->from);
	d->detail = store__bdup(b, r->detail);
}

void store_batch_auth_audit_prune(struct store_batch *b, double before, int limit)
{
	struct prune *d = store__push(b, &store__auth_table, K_AUDIT_PRUNE, sizeof *d);
	d->before = before;
	d->limit = limit;
}

/* ---- startup reads ---- */

static const char *ctext(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* The rules the table's CHECKs enforce on our own rows: a row written
 * behind the store's back may break them, and is never passed on. */
static int scope_ok(const char *role, const char *centers, const char *customer)
{
	if (!role)
		return 0;
	if (strcmp(role, "admin") == 0)
		return 1;
	if (strcmp(role, "operator") == 0)
		return centers != NULL;
	if (strcmp(role, "viewer") == 0)
		return customer != NULL;
	return 0;
}

static int load(struct store *s, const char *q, void (*row)(sqlite3_stmt *st, void *x), void *x)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		row(st, x);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct loader {
	union {
		void (*user)(void *ud, const struct store_auth_user_row *r);
		void (*token)(void *ud, const struct store_auth_token_row *r);
		void (*session)(void *ud, const struct store_auth_session_row *r);
	} cb;
	void *ud;
};

static void user_row(sqlite3_stmt *st, void *x)
{
	struct loader *l = x;
	struct store_auth_user_row r = {
		.name = ctext(st, 0),
		.role = ctext(st, 1),
		.centers = ctext(st, 2),
		.customer = ctext(st, 3),
		.password = ctext(st, 4),
		.created = sqlite3_column_double(st, 5),
		.disabled = sqlite3_column_int(st, 6),
	};
	if (r.name && r.password && scope_ok(r.role, r.centers, r.customer))
		l->cb.user(l->ud, &r);
}

int store_load_auth_users(struct store *s, void (*cb)(void *, const struct store_auth_user_row *),
                          void *ud)
{
	struct loader l = { .cb.user = cb, .ud = ud };
	return load(s,
	            "SELECT name, role, centers, customer, password, created, disabled"
	            " FROM auth_user ORDER BY name",
	            user_row, &l);
}

static void token_row(sqlite3_stmt *st, void *x)
{
	struct loader *l = x;
	struct store_auth_token_row r = {
		.id = ctext(st, 0),
		.secret = ctext(st, 1),
		.user = ctext(st, 2),
		.role = ctext(st, 3),
		.centers = ctext(st, 4),
		.customer = ctext(st, 5),
		.label = ctext(st, 6),
		.created = sqlite3_column_double(st, 7),
		.expires = sqlite3_column_double(st, 8),
		.last_used = sqlite3_column_double(st, 9),
		.revoked = sqlite3_column_double(st, 10),
	};
	if (r.id && r.secret && r.user && scope_ok(r.role, r.centers, r.customer))
		l->cb.token(l->ud, &r);
}

int store_load_auth_tokens(struct store *s, void (*cb)(void *, const struct store_auth_token_row *),
                           void *ud)
{
	struct loader l = { .cb.token = cb, .ud = ud };
	return load(s,
	            "SELECT id, secret, user_name, role, centers, customer, label, created,"
	            " expires, last_used, revoked FROM auth_token ORDER BY created, id",
	            token_row, &l);
}

static void session_row(sqlite3_stmt *st, void *x)
{
	struct loader *l = x;
	struct store_auth_session_row r = {
		.id = ctext(st, 0),
		.user = ctext(st, 1),
		.created = sqlite3_column_double(st, 2),
		.last_seen = sqlite3_column_double(st, 3),
		.expires = sqlite3_column_double(st, 4),
		.csrf = ctext(st, 5),
	};
	if (r.id && r.user && r.csrf)
		l->cb.session(l->ud, &r);
}

int store_load_auth_sessions(struct store *s,
                             void (*cb)(void *, const struct store_auth_session_row *), void *ud)
{
	struct loader l = { .cb.session = cb, .ud = ud };
	return load(s,
	            "SELECT id, user_name, created, last_seen, expires, csrf FROM auth_session"
	            " ORDER BY created, id",
	            session_row, &l);
}
