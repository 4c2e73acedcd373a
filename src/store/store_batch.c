/*
 * store_batch: the batch engine - batch memory, operations, the writer
 * thread, group commit and the retry of a batch the disk refuses.
 *
 * A batch is a list of operations, each (table, kind, data): the data is
 * a copy the table file made on the loop thread into the batch's own
 * memory.  The writer applies a batch in one transaction by calling the
 * kind's apply with the context the table prepared at open (store.c keeps
 * the list); it knows nothing about any table.  Batches are written in
 * the order they were handed over.
 *
 * Threads: the loop and the writer share `queue`, `busy`, `failing`,
 * `committed` and the stats under `lock`; only the writer touches the
 * database once started.  Must never: block the loop (store_commit only
 * queues), or let store_committed move past a batch not written.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_RETRY_MIN 0.1 /* s: first retry of a batch that failed */
#define STORE_RETRY_MAX 5.0
#define CHUNK_MIN       65536

/* ---- memory ---- */

struct store__chunk {
	struct store__chunk *next;
	size_t used, size;
	_Alignas(8) char data[];
};

void *store__arena_alloc(struct store__arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct store__chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
		c = xmalloc(sizeof *c + size);
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	char *p = c->data + c->used;
	c->used += n;
	return p;
}

const char *store__arena_dup(struct store__arena *a, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = store__arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

void store__arena_free(struct store__arena *a)
{
	while (a->head) {
		struct store__chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
}

/* ---- batches ---- */

struct op {
	const struct store__table *t;
	unsigned kind;
	const void *data;
};

struct store_batch {
	struct op *ops;
	size_t n, cap;
	struct store__arena mem;
	struct store_batch *next;
	uint64_t number;
};

struct store_batch *store_batch_new(void)
{
	return xcalloc(1, sizeof(struct store_batch));
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	store__arena_free(&b->mem);
	free(b->ops);
	free(b);
}

size_t store_batch_rows(const struct store_batch *b)
{
	return b->n;
}

void *store__balloc(struct store_batch *b, size_t n)
{
	return store__arena_alloc(&b->mem, n);
}

const char *store__bdup(struct store_batch *b, const char *s)
{
	return store__arena_dup(&b->mem, s);
}

void *store__push(struct store_batch *b, const struct store__table *t, unsigned kind, size_t size)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->ops = xrealloc(b->ops, b->cap * sizeof *b->ops);
	}
	void *data = store__arena_alloc(&b->mem, size ? size : 1);
	memset(data, 0, size);
	b->ops[b->n++] = (struct op){ .t = t, .kind = kind, .data = data };
	return data;
}

/* ---- helpers for the table files ---- */

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

int store__run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store__exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int store__prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n,
                       const char *what, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (sqlite3_prepare_v2(db, sql[i], -1, &st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
			return -1;
		}
	return 0;
}

void store__finalize_all(sqlite3_stmt **st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
}

/* ---- the writer ---- */

struct store_writer {
	struct store *s;
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
	uint64_t submitted; /* loop thread only */
	uint64_t committed; /* under lock */
	struct store_stats stats;
};

struct store_writer *store__writer_new(struct store *s)
{
	struct store_writer *w = xcalloc(1, sizeof *w);
	w->s = s;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	return w;
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

/* The context table t prepared in this store; NULL: not registered. */
static void *table_ctx(struct store *s, const struct store__table *t, int *found)
{
	for (size_t i = 0; i < s->n_tables; i++)
		if (s->tables[i].t == t) {
			*found = 1;
			return s->tables[i].ctx;
		}
	*found = 0;
	return NULL;
}

static int apply_op(struct store *s, const struct op *o)
{
	int found;
	void *ctx = table_ctx(s, o->t, &found);
	if (!found || o->kind >= o->t->n_kinds) {
		/* a programming error, not the disk's: the row is skipped */
		log_err("store", "no operation %u of table %s in this store", o->kind, o->t->name);
		return -1;
	}
	return o->t->kinds[o->kind].apply(ctx, s->db, o->data);
}

/* One transaction for the batch.  0: committed; -1: rolled back as a
 * whole (why says why), to be written again. */
static int write_batch(struct store_writer *w, struct store_batch *b, char *why, size_t whylen)
{
	struct store *s = w->s;
	char e[512];
	store__ckpt_enter(s->ck);
	double t0 = mono();
	uint64_t errors = 0;
	int ok = 1;
	if (store__exec(s->db, "BEGIN", e, sizeof e) != 0) {
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
			log_err("store", "write failed (row skipped): %s (%s %s)",
			        sqlite3_errmsg(s->db), b->ops[i].t->name,
			        b->ops[i].kind < b->ops[i].t->n_kinds
			            ? b->ops[i].t->kinds[b->ops[i].kind].name
			            : "?");
		}
	if (ok && store__exec(s->db, "COMMIT", e, sizeof e) != 0) {
		snprintf(why, whylen, "COMMIT: %s", e);
		ok = 0;
	}
	if (!ok && !sqlite3_get_autocommit(s->db))
		store__exec(s->db, "ROLLBACK", e, sizeof e);
	store__ckpt_leave(s->ck);
	pthread_mutex_lock(&w->lock);
	if (ok) {
		w->stats.batches++;
		w->stats.rows += b->n;
	} else
		w->stats.retries++;
	w->stats.errors += errors;
	w->stats.busy_seconds += mono() - t0;
	pthread_mutex_unlock(&w->lock);
	return ok ? 0 : -1;
}

/* Write b until it is written.  A batch that failed (disk full, I/O
 * error) is kept and tried again with a capped backoff: the batches
 * behind it wait, store_committed does not move, so nothing they hold is
 * published or acknowledged meanwhile.  Only a stop gives up (logged).
 * Called without the lock. */
static void write_until_done(struct store_writer *w, struct store_batch *b)
{
	char why[600] = "";
	double delay = STORE_RETRY_MIN;
	unsigned tries = 0;
	while (write_batch(w, b, why, sizeof why) != 0) {
		tries++;
		pthread_mutex_lock(&w->lock);
		w->failing = 1;
		pthread_cond_broadcast(&w->cond); /* store_sync stops waiting for us */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + delay;
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) != ETIMEDOUT)
			;
		int stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		if (stop) {
			log_err("store", "stopping: a batch of %zu rows was not written (%s)", b->n,
			        why);
			break;
		}
		/* identical lines are rate-limited by the log module */
		log_err("store",
		        "cannot write to %s (%s); the batch is kept and written again until it"
		        " works - nothing it holds is published meanwhile",
		        w->s->path, why);
		delay = delay * 2 < STORE_RETRY_MAX ? delay * 2 : STORE_RETRY_MAX;
	}
	pthread_mutex_lock(&w->lock);
	int was = w->failing;
	int stop = w->stop;
	w->failing = 0;
	pthread_mutex_unlock(&w->lock);
	if (was && tries && !stop)
		log_notice("store", "%s written again after %u failed attempts", w->s->path, tries);
}

static void *writer(void *arg)
{
	struct store_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->head && w->stop)
			break;
		struct store_batch *b = w->head;
		w->head = b->next;
		if (!w->head)
			w->tail = NULL;
		w->busy = 1;
		pthread_mutex_unlock(&w->lock);
		uint64_t number = b->number;
		write_until_done(w, b);
		store_batch_free(b);
		pthread_mutex_lock(&w->lock);
		w->committed = number;
		w->busy = 0;
		pthread_cond_broadcast(&w->cond);
		if (w->loop)
			ev_async_send(w->loop, &w->async);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void on_async(struct ev_loop *loop, ev_async *a, int revents)
{
	struct store_writer *w = a->data;
	if (w->done)
		w->done(w->done_ud);
}

int store__writer_start(struct store_writer *w, struct ev_loop *loop, void (*done)(void *ud),
                        void *ud)
{
	w->loop = loop;
	w->done = done;
	w->done_ud = ud;
	if (loop) {
		ev_async_init(&w->async, on_async);
		w->async.data = w;
		ev_async_start(loop, &w->async);
		ev_unref(loop); /* the writer's wake-up must not keep the loop alive */
	}
	if (pthread_create(&w->thread, NULL, writer, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

void store__writer_stop(struct store_writer *w)
{
	if (!w || !w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = 0;
	if (w->loop) {
		ev_ref(w->loop);
		ev_async_stop(w->loop, &w->async);
		w->loop = NULL;
	}
}

void store__writer_free(struct store_writer *w)
{
	if (!w)
		return;
	store__writer_stop(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

uint64_t store_commit(struct store *s, struct store_batch *b)
{
	struct store_writer *w = s->w;
	if (s->readonly) {
		log_err("store", "%s is open read-only: a batch of %zu rows dropped", s->path,
		        b->n);
		store_batch_free(b);
		return 0;
	}
	uint64_t number = b->number = ++w->submitted;
	if (!w->started) {
		char why[600];
		if (write_batch(w, b, why, sizeof why) != 0)
			log_err("store", "cannot write to %s: %s", s->path, why);
		store_batch_free(b);
		pthread_mutex_lock(&w->lock);
		w->committed = number;
		pthread_mutex_unlock(&w->lock);
		return number;
	}
	pthread_mutex_lock(&w->lock);
	b->next = NULL;
	if (w->tail)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return number;
}

uint64_t store_committed(const struct store *s)
{
	struct store_writer *w = s->w;
	pthread_mutex_lock(&w->lock);
	uint64_t n = w->committed;
	pthread_mutex_unlock(&w->lock);
	return n;
}

int store_busy(const struct store *s)
{
	struct store_writer *w = s->w;
	pthread_mutex_lock(&w->lock);
	int busy = w->busy || w->head;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

int store_failing(const struct store *s)
{
	struct store_writer *w = s->w;
	pthread_mutex_lock(&w->lock);
	int f = w->failing;
	pthread_mutex_unlock(&w->lock);
	return f;
}

void store_sync(struct store *s)
{
	struct store_writer *w = s->w;
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	while ((w->busy || w->head) && !w->failing)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
	struct store_writer *w = s->w;
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}
