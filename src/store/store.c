/*
 * store: SQLite persistence with a writer thread.  See store.h.
 *
 * Threads: store_open/load_* run before the loop; afterwards only the
 * writer thread touches the database handle.  The loop and the writer
 * share `queue`, `busy` and the stats under `lock`.  WAL checkpoints run
 * on a third thread with its own connection (store_ckpt.c); the writer
 * brackets each batch with store__ckpt_enter/leave so that the rare
 * RESTART checkpoint can hold it off.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum op_type { OP_STATE, OP_ASSET, OP_FORGET, OP_X };

#define STORE_RETRY_MIN 0.1 /* s: first retry of a batch that failed */
#define STORE_RETRY_MAX 5.0

struct op {
	enum op_type type;
	union {
		struct store_state_row st;
		struct store_asset_row as;
		const void *x; /* OP_X: an alert-table operation (store_alerts.c) */
	} u;
};

/* Strings of a batch live in chunks that never move. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct store_batch {
	struct op *ops;
	size_t n, cap;
	struct chunk *chunks;
	struct store_batch *next;
	uint64_t number;
};

struct store {
	sqlite3 *db;
	char *path;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* writer waits for work; store_sync waits for idle */
	struct store_batch *head, *tail;
	int busy;    /* writer holds a batch */
	int failing; /* its last attempt to write it failed: retrying */
	int stop;
	struct ev_loop *loop;
	ev_async async;
	void (*done)(void *);
	void *done_ud;
	sqlite3_stmt *st_state, *st_asset, *st_forget;
	struct store_x *x;
	struct store_ckpt *ck;
	uint64_t submitted; /* loop thread only */
	uint64_t committed; /* under lock */
	struct store_stats stats;
};

/* ---- schema ---- */

/* The steps themselves are in schema.c. */

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int check_integrity(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	int rc = sqlite3_step(st);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int ok = res && strcmp(res, "ok") == 0;
	if (!ok)
		snprintf(err, errlen, "%s", res ? res : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int version = 0;
	if (pragma_int(db, "PRAGMA user_version", &version) != 0) {
		snprintf(err, errlen, "%s: cannot read schema version: %s", path,
		         sqlite3_errmsg(db));
		return -1;
	}
	int latest = store_schema_latest();
	if (version > latest) {
		snprintf(
		    err, errlen,
		    "%s has schema version %d, written by a newer mamori (this one knows up to %d); "
		    "refusing to touch it",
		    path, version, latest);
		return -1;
	}
	for (int v = version; v < latest; v++) {
		char e[512], sql[64];
		if (exec_sql(db, "BEGIN IMMEDIATE", e, sizeof e) != 0 ||
		    exec_sql(db, store_schema_step(v + 1), e, sizeof e) != 0) {
			snprintf(err, errlen, "%s: migration to schema %d failed: %s", path, v + 1,
			         e);
			exec_sql(db, "ROLLBACK", e, sizeof e);
			return -1;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (exec_sql(db, sql, e, sizeof e) != 0 ||
		    exec_sql(db, "COMMIT", e, sizeof e) != 0) {
			snprintf(err, errlen, "%s: migration to schema %d failed: %s", path, v + 1,
			         e);
			exec_sql(db, "ROLLBACK", e, sizeof e);
			return -1;
		}
		if (v > 0 || version > 0)
			log_notice("store", "migrated %s to schema %d", path, v + 1);
	}
	return 0;
}

static int prepare_all(struct store *s, char *err, size_t errlen)
{
	static const char *const ins_state =
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
	    " ack_comment=excluded.ack_comment";
	static const char *const ins_asset =
	    "INSERT OR IGNORE INTO asset (customer, name, type, address, source, registered_at)"
	    " VALUES (?,?,?,?,?,?)";
	static const char *const del_state =
	    "DELETE FROM check_state WHERE customer=? AND asset=? AND name=?";
	if (sqlite3_prepare_v2(s->db, ins_state, -1, &s->st_state, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, ins_asset, -1, &s->st_asset, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, del_state, -1, &s->st_forget, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

struct store *store_open(const char *state_dir, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(state_dir, &sb) != 0) {
		if (mkdir(state_dir, 0750) != 0) {
			snprintf(err, errlen, "cannot create state_dir %s: %s", state_dir,
			         strerror(errno));
			return NULL;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state_dir %s is not a directory", state_dir);
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof *s);
	s->path = xasprintf("%s/%s", state_dir, STORE_FILE);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	char e[512];
	if (sqlite3_open_v2(s->path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", s->path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* Read-only checks first: switching to WAL rewrites the header, so a
	 * file we refuse must be refused before that.  A file that is not a
	 * database fails at its first read ("file is not a database"). */
	int version = 0;
	if (pragma_int(s->db, "PRAGMA user_version", &version) != 0) {
		snprintf(err, errlen,
		         "%s is not a usable SQLite database (%s); it was left untouched", s->path,
		         sqlite3_errmsg(s->db));
		goto fail;
	}
	if (version > store_schema_latest()) {
		snprintf(err, errlen,
		         "%s has schema version %d, written by a newer mamori (this one knows "
		         "up to %d); refusing to touch it",
		         s->path, version, store_schema_latest());
		goto fail;
	}
	if (check_integrity(s->db, e, sizeof e) != 0) {
		snprintf(
		    err, errlen,
		    "%s is corrupt (%s); it was left untouched - restore a backup or move it away",
		    s->path, e);
		goto fail;
	}
	if (exec_sql(s->db, "PRAGMA journal_mode=WAL", e, sizeof e) != 0) {
		snprintf(err, errlen,
		         "%s is not a usable SQLite database (%s); it was left untouched", s->path,
		         e);
		goto fail;
	}
	/* synchronous=NORMAL in WAL mode: a commit is durable against a
	 * process crash (kill -9) at once, and against power loss at the
	 * next checkpoint; no fsync per transaction. */
	/* Foreign keys are declared (documentation, tools) but not enforced:
	 * the writer inserts an alert before its events by construction and
	 * retention deletes the children itself; enforcement cost 35% of the
	 * alert event rate (tests/bench/alerts_bench persist). */
	/* 64 MiB page cache: check_state of 100,000 checks stays in memory, so
	 * a batch costs B-tree work, not page reads (the default 2 MiB made
	 * the writer read pages for every row). */
	if (exec_sql(s->db,
	             "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536",
	             e, sizeof e) != 0 ||
	    migrate(s->db, s->path, err, errlen) != 0 || prepare_all(s, err, errlen) != 0 ||
	    !(s->x = store__x_open(s->db, e, sizeof e)) ||
	    !(s->ck = store__ckpt_new(s->db, s->path, e, sizeof e))) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", s->path, e);
		goto fail;
	}
	return s;
fail:
	store__ckpt_free(s->ck);
	store__x_close(s->x);
	sqlite3_finalize(s->st_state);
	sqlite3_finalize(s->st_asset);
	sqlite3_finalize(s->st_forget);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->path);
	free(s);
	return NULL;
}

/* ---- batches ---- */

struct store_batch *store_batch_new(void)
{
	return xcalloc(1, sizeof(struct store_batch));
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	while (b->chunks) {
		struct chunk *c = b->chunks;
		b->chunks = c->next;
		free(c);
	}
	free(b->ops);
	free(b);
}

size_t store_batch_rows(const struct store_batch *b)
{
	return b->n;
}

void *store__balloc(struct store_batch *b, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct chunk *c = b->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > 65536 ? n : 65536;
		c = xmalloc(sizeof *c + size);
		c->size = size;
		c->used = 0;
		c->next = b->chunks;
		b->chunks = c;
	}
	char *p = c->data + c->used;
	c->used += n;
	return p;
}

const char *store__bdup(struct store_batch *b, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = store__balloc(b, n);
	memcpy(p, s, n);
	return p;
}

#define bdup store__bdup

sqlite3 *store__db(struct store *s)
{
	return s->db;
}

static struct op *push(struct store_batch *b, enum op_type t)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->ops = xrealloc(b->ops, b->cap * sizeof *b->ops);
	}
	struct op *o = &b->ops[b->n++];
	memset(o, 0, sizeof *o);
	o->type = t;
	return o;
}

void store__push_x(struct store_batch *b, void *xop)
{
	struct op *o = push(b, OP_X);
	o->u.x = xop;
}

void store_batch_state(struct store_batch *b, const struct store_state_row *r)
{
	struct op *o = push(b, OP_STATE);
	struct store_state_row *d = &o->u.st;
	*d = *r;
	d->customer = bdup(b, r->customer);
	d->asset = bdup(b, r->asset);
	d->name = bdup(b, r->name);
	d->plugin = bdup(b, r->plugin);
	d->output = bdup(b, r->output);
	d->long_output = bdup(b, r->long_output);
	d->perfdata = bdup(b, r->perfdata);
	d->ack_author = bdup(b, r->ack_author);
	d->ack_comment = bdup(b, r->ack_comment);
}

void store_batch_asset(struct store_batch *b, const struct store_asset_row *r)
{
	struct op *o = push(b, OP_ASSET);
	struct store_asset_row *d = &o->u.as;
	*d = *r;
	d->customer = bdup(b, r->customer);
	d->name = bdup(b, r->name);
	d->type = bdup(b, r->type);
	d->address = bdup(b, r->address);
	d->source = bdup(b, r->source);
}

void store_batch_forget(struct store_batch *b, const char *customer, const char *asset,
                        const char *name)
{
	struct op *o = push(b, OP_FORGET);
	o->u.st.customer = bdup(b, customer);
	o->u.st.asset = bdup(b, asset);
	o->u.st.name = bdup(b, name);
}

/* ---- writer thread ---- */

void store__bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void store__bind_time(sqlite3_stmt *st, int i, double t)
{
	if (t > 0)
		sqlite3_bind_double(st, i, t);
	else
		sqlite3_bind_null(st, i);
}

static int apply_op(struct store *s, const struct op *o)
{
	sqlite3_stmt *st;
	if (o->type == OP_X)
		return store__x_apply(s->x, s->db, o->u.x);
	if (o->type == OP_STATE) {
		const struct store_state_row *r = &o->u.st;
		st = s->st_state;
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
	} else if (o->type == OP_ASSET) {
		const struct store_asset_row *r = &o->u.as;
		st = s->st_asset;
		store__bind_text(st, 1, r->customer);
		store__bind_text(st, 2, r->name);
		store__bind_text(st, 3, r->type);
		store__bind_text(st, 4, r->address);
		store__bind_text(st, 5, r->source ? r->source : "");
		sqlite3_bind_double(st, 6, r->registered_at);
	} else {
		st = s->st_forget;
		store__bind_text(st, 1, o->u.st.customer);
		store__bind_text(st, 2, o->u.st.asset);
		store__bind_text(st, 3, o->u.st.name);
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Errors that say nothing about the rows: the disk is full, I/O failed,
 * memory or a lock was short.  The whole batch is rolled back and written
 * again later.  Anything else (a constraint, a value too big) is the row's
 * own fault: it is logged and skipped, the rest of the batch is kept. */
static int transient(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_NOMEM:
	case SQLITE_CANTOPEN:
	case SQLITE_PROTOCOL:
	case SQLITE_READONLY:
	case SQLITE_INTERRUPT: return 1;
	default: return 0;
	}
}

/* One transaction for the batch.  0: committed; -1: rolled back as a
 * whole (why says why), to be written again. */
static int write_batch(struct store *s, struct store_batch *b, char *why, size_t whylen)
{
	char e[512];
	store__ckpt_enter(s->ck);
	double t0 = mono();
	uint64_t errors = 0;
	int ok = 1;
	if (exec_sql(s->db, "BEGIN", e, sizeof e) != 0) {
		snprintf(why, whylen, "BEGIN: %s", e);
		ok = 0;
	}
	for (size_t i = 0; ok && i < b->n; i++)
		if (apply_op(s, &b->ops[i]) != 0) {
			/* SQLite may have rolled the transaction back by itself */
			if (transient(sqlite3_extended_errcode(s->db)) ||
			    sqlite3_get_autocommit(s->db)) {
				snprintf(why, whylen, "%s", sqlite3_errmsg(s->db));
				ok = 0;
				break;
			}
			errors++;
			log_err("store", "write failed (row skipped): %s", sqlite3_errmsg(s->db));
		}
	if (ok && exec_sql(s->db, "COMMIT", e, sizeof e) != 0) {
		snprintf(why, whylen, "COMMIT: %s", e);
		ok = 0;
	}
	if (!ok && !sqlite3_get_autocommit(s->db))
		exec_sql(s->db, "ROLLBACK", e, sizeof e);
	store__ckpt_leave(s->ck);
	pthread_mutex_lock(&s->lock);
	if (ok) {
		s->stats.batches++;
		s->stats.rows += b->n;
	} else
		s->stats.retries++;
	s->stats.errors += errors;
	s->stats.busy_seconds += mono() - t0;
	pthread_mutex_unlock(&s->lock);
	return ok ? 0 : -1;
}

/* Write b until it is written.  A batch that failed (disk full, I/O
 * error) is kept and tried again with a capped backoff: the batches
 * behind it wait, store_committed does not move, so nothing they hold is
 * published or acknowledged meanwhile.  Only a stop gives up (logged).
 * Called without the lock. */
static void write_until_done(struct store *s, struct store_batch *b)
{
	char why[600] = "";
	double delay = STORE_RETRY_MIN;
	unsigned tries = 0;
	while (write_batch(s, b, why, sizeof why) != 0) {
		tries++;
		pthread_mutex_lock(&s->lock);
		s->failing = 1;
		pthread_cond_broadcast(&s->cond); /* store_sync stops waiting for us */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + delay;
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
			;
		int stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop) {
			log_err("store", "stopping: a batch of %zu rows was not written (%s)", b->n,
			        why);
			break;
		}
		/* identical lines are rate-limited by the log module */
		log_err("store",
		        "cannot write to %s (%s); the batch is kept and written again until it"
		        " works - nothing it holds is published meanwhile",
		        s->path, why);
		delay = delay * 2 < STORE_RETRY_MAX ? delay * 2 : STORE_RETRY_MAX;
	}
	pthread_mutex_lock(&s->lock);
	int was = s->failing;
	s->failing = 0;
	pthread_mutex_unlock(&s->lock);
	if (was && tries && !s->stop)
		log_notice("store", "%s written again after %u failed attempts", s->path, tries);
}

static void *writer(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->head && s->stop)
			break;
		struct store_batch *b = s->head;
		s->head = b->next;
		if (!s->head)
			s->tail = NULL;
		s->busy = 1;
		pthread_mutex_unlock(&s->lock);
		uint64_t number = b->number;
		write_until_done(s, b);
		store_batch_free(b);
		pthread_mutex_lock(&s->lock);
		s->committed = number;
		s->busy = 0;
		pthread_cond_broadcast(&s->cond);
		if (s->loop)
			ev_async_send(s->loop, &s->async);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct store *s = w->data;
	if (s->done)
		s->done(s->done_ud);
}

int store_start(struct store *s, struct ev_loop *loop, void (*done)(void *ud), void *ud)
{
	s->loop = loop;
	s->done = done;
	s->done_ud = ud;
	if (loop) {
		ev_async_init(&s->async, on_async);
		s->async.data = s;
		ev_async_start(loop, &s->async);
		ev_unref(loop); /* the writer's wake-up must not keep the loop alive */
	}
	if (pthread_create(&s->thread, NULL, writer, s) != 0)
		return -1;
	s->started = 1;
	store__ckpt_start(s->ck); /* on failure, checkpoints stay inline */
	return 0;
}

uint64_t store_commit(struct store *s, struct store_batch *b)
{
	uint64_t number = b->number = ++s->submitted;
	if (!s->started) {
		char why[600];
		if (write_batch(s, b, why, sizeof why) != 0)
			log_err("store", "cannot write to %s: %s", s->path, why);
		store_batch_free(b);
		pthread_mutex_lock(&s->lock);
		s->committed = number;
		pthread_mutex_unlock(&s->lock);
		return number;
	}
	pthread_mutex_lock(&s->lock);
	b->next = NULL;
	if (s->tail)
		s->tail->next = b;
	else
		s->head = b;
	s->tail = b;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return number;
}

uint64_t store_committed(const struct store *s)
{
	struct store *m = (struct store *)s;
	pthread_mutex_lock(&m->lock);
	uint64_t n = m->committed;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int store_busy(const struct store *s)
{
	struct store *m = (struct store *)s;
	pthread_mutex_lock(&m->lock);
	int busy = m->busy || m->head;
	pthread_mutex_unlock(&m->lock);
	return busy;
}

void store_sync(struct store *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	while ((s->busy || s->head) && !s->failing)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
	struct store *m = (struct store *)s;
	pthread_mutex_lock(&m->lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->lock);
	store__ckpt_stats(m->ck, out);
}

void store_set_checkpoint(struct store *s, int pages, int64_t max_wal_bytes)
{
	store__ckpt_tune(s->ck, pages, max_wal_bytes);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		if (s->loop) {
			ev_ref(s->loop);
			ev_async_stop(s->loop, &s->async);
		}
	}
	/* The writer is done: stop the checkpointer and close its connection,
	 * then checkpoint everything so the WAL does not grow across restarts. */
	store__ckpt_free(s->ck);
	store__x_close(s->x);
	sqlite3_finalize(s->st_state);
	sqlite3_finalize(s->st_asset);
	sqlite3_finalize(s->st_forget);
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->path);
	free(s);
}

/* ---- startup reads ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_load_states(struct store *s, void (*cb)(void *, const struct store_state_row *), void *ud)
{
	sqlite3_stmt *st;
	const char *sql =
	    "SELECT customer, asset, name, plugin, state, hard, attempt, hard_state, flapping, stale,"
	    " hist, n_hist, flap_pct, last_check, last_change, last_hard_change, next_check, output,"
	    " long_output, perfdata, ack, ack_expires, ack_author, ack_comment FROM check_state";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
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
	const char *sql = "SELECT customer, name, type, address, source, registered_at FROM asset";
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
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
