/*
 * store_read: the reader thread - reads while the loop runs (store.h,
 * "reads while the loop runs").
 *
 * The loop thread queues a request (struct store_read: what to read,
 * copied, and the function that reads it); the reader thread runs each in
 * one read transaction on its own read-only connection - WAL lets it read
 * while the writer commits, and a transaction sees whole batches - and
 * moves it to the `done` list; one ev_async brings the loop thread to run
 * the callbacks and free the requests.  Like the batch engine it knows no
 * table: the request files (store_read_alerts.c, store_state.c) supply
 * the `run` functions.
 *
 * Threads: `queue`, `done` and `stop` are shared under `lock`; `db` is
 * the reader thread's (store__reader_stop only interrupts it, and closes
 * it after the join); `accepting` and `pending` are the loop thread's.
 * Must never: block the loop (a submit takes the lock for a list append;
 * the reader holds it only to move a request), run a callback anywhere but
 * on the loop thread or inside store_close, run a callback twice or not
 * at all for an accepted request, or write to the database.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_MS 2000 /* only a WAL recovery or restart makes a reader wait */

struct store_reader {
	struct store *s;
	sqlite3 *db;
	pthread_t thread;
	int running; /* the thread exists */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_read *queue, *queue_tail; /* under lock */
	struct store_read *done, *done_tail;   /* under lock */
	int stop;                              /* under lock */
	struct ev_loop *loop;
	ev_async async;
	int accepting;  /* loop thread */
	size_t pending; /* loop thread: accepted, callback not run yet */
};

const char *store_strerror(int err)
{
	switch (err) {
	case STORE_OK: return "ok";
	case STORE_EFAIL: return "the database failed";
	case STORE_EINVAL: return "malformed request";
	case STORE_ESTOPPED: return "the store's reader does not run";
	case STORE_ECLOSED: return "the store closed before the read ran";
	case STORE_ESCHEMA: return "the database's schema is too old for this read";
	default: return "unknown store error";
	}
}

/* ---- requests ---- */

struct store_read *store__read_new(store_read_cb cb, void *ud,
                                   int (*run)(struct store_read *rd, sqlite3 *db), int min_schema)
{
	struct store_read *rd = xcalloc(1, sizeof *rd);
	rd->cb = cb;
	rd->ud = ud;
	rd->run = run;
	rd->min_schema = min_schema;
	return rd;
}

void store__read_free(struct store_read *rd)
{
	if (!rd)
		return;
	store__arena_free(&rd->mem);
	free(rd->alerts);
	free(rd->events);
	free(rd->dispatches);
	free(rd->states);
	free(rd->sla);
	free(rd->lines);
	free(rd->points);
	free(rd->nitems);
	free(rd->nattempts);
	free(rd);
}

void *store__read_push(void **arr, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, *cap * size);
	}
	char *p = (char *)*arr + (*n)++ * size;
	memset(p, 0, size);
	return p;
}

int store__read_fail(struct store_read *rd, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rd->error, sizeof rd->error, fmt, ap);
	va_end(ap);
	rd->status = status;
	return status;
}

#define D(f) (d->f = store__arena_dup(&rd->mem, r->f))

void store__read_copy_alert(struct store_read *rd, struct store_alert_row *d,
                            const struct store_alert_row *r)
{
	*d = *r;
	D(id), D(check_key), D(customer), D(asset), D(check_name), D(service), D(center);
	D(also), D(summary), D(status), D(acked_by), D(tier_name), D(vendor), D(result);
	D(runbook);
}

#undef D

int store_read_status(const struct store_read *rd)
{
	return rd->status;
}

const char *store_read_error(const struct store_read *rd)
{
	return rd->error;
}

int store_read_more(const struct store_read *rd)
{
	return rd->more;
}

size_t store_read_alert_count(const struct store_read *rd)
{
	return rd->n_alerts;
}

const struct store_alert_row *store_read_alert_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_alerts ? &rd->alerts[i] : NULL;
}

const struct store_alert_row *store_read_history_alert(const struct store_read *rd)
{
	return store_read_alert_at(rd, 0);
}

size_t store_read_event_count(const struct store_read *rd)
{
	return rd->n_events;
}

const struct store_event_row *store_read_event_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_events ? &rd->events[i] : NULL;
}

size_t store_read_dispatch_count(const struct store_read *rd)
{
	return rd->n_dispatches;
}

const struct store_dispatch_row *store_read_dispatch_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_dispatches ? &rd->dispatches[i] : NULL;
}

size_t store_read_state_count(const struct store_read *rd)
{
	return rd->n_states;
}

const struct store_state_row *store_read_state_at(const struct store_read *rd, size_t i)
{
	return i < rd->n_states ? &rd->states[i] : NULL;
}

/* ---- the reader thread ---- */

/* One request in one read transaction: a snapshot. */
static void run_one(struct store_reader *r, struct store_read *rd)
{
	char e[256];
	int code = SQLITE_OK;
	if (store__exec(r->db, "BEGIN", e, sizeof e) != 0) {
		code = sqlite3_errcode(r->db); /* a stop may interrupt BEGIN itself */
		store__read_fail(rd, STORE_EFAIL, "%s", e);
	} else {
		int rc = rd->run(rd, r->db);
		code = sqlite3_errcode(r->db);
		if (rc < 0 && rd->status == 0)
			store__read_fail(rd, rc, "%s", sqlite3_errmsg(r->db));
		store__exec(r->db, "COMMIT", e, sizeof e); /* ends the snapshot */
	}
	if (rd->status == 0)
		return;
	pthread_mutex_lock(&r->lock);
	int stopping = r->stop;
	pthread_mutex_unlock(&r->lock);
	if (stopping && (code & 0xff) == SQLITE_INTERRUPT) {
		store__read_fail(rd, STORE_ECLOSED, "%s", store_strerror(STORE_ECLOSED));
		return;
	}
	if (rd->status == STORE_EFAIL)
		log_err("store", "read from %s failed: %s", r->s->path, rd->error);
}

static void *reader(void *arg)
{
	struct store_reader *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->queue && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break; /* what is still queued is cancelled by the stop */
		struct store_read *rd = r->queue;
		r->queue = rd->next;
		if (!r->queue)
			r->queue_tail = NULL;
		pthread_mutex_unlock(&r->lock);
		rd->next = NULL;
		run_one(r, rd);
		pthread_mutex_lock(&r->lock);
		if (r->done_tail)
			r->done_tail->next = rd;
		else
			r->done = rd;
		r->done_tail = rd;
		ev_async_send(r->loop, &r->async);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- the loop side ---- */

/* Run rd's callback and free it (loop thread, or store_close). */
static void deliver(struct store_reader *r, struct store_read *rd)
{
	rd->cb(rd->ud, rd);
	store__read_free(rd);
	if (--r->pending == 0)
		ev_unref(r->loop); /* nothing pending: no longer keep the loop */
}

static struct store_read *take_done(struct store_reader *r)
{
	pthread_mutex_lock(&r->lock);
	struct store_read *list = r->done;
	r->done = r->done_tail = NULL;
	pthread_mutex_unlock(&r->lock);
	return list;
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct store_reader *r = w->data;
	struct store_read *rd = take_done(r);
	while (rd) {
		struct store_read *next = rd->next;
		deliver(r, rd);
		rd = next;
	}
}

int store__read_submit(struct store *s, struct store_read *rd)
{
	struct store_reader *r = s->r;
	if (!r || !r->accepting) {
		store__read_free(rd);
		return STORE_ESTOPPED;
	}
	if (s->schema < rd->min_schema) {
		store__read_free(rd);
		return STORE_ESCHEMA;
	}
	rd->schema = s->schema;
	rd->next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->queue_tail)
		r->queue_tail->next = rd;
	else
		r->queue = rd;
	r->queue_tail = rd;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->pending++ == 0)
		ev_ref(r->loop); /* a loop run for reads lasts until they are back */
	return 0;
}

struct store_reader *store__reader_new(struct store *s)
{
	struct store_reader *r = xcalloc(1, sizeof *r);
	r->s = s;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	return r;
}

int store__reader_start(struct store_reader *r, struct ev_loop *loop, char *err, size_t errlen)
{
	if (sqlite3_open_v2(r->s->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "reader: cannot open %s: %s", r->s->path,
		         r->db ? sqlite3_errmsg(r->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(r->db, BUSY_MS);
	if (store__exec(r->db, "PRAGMA query_only=1", err, errlen) != 0)
		goto fail;
	r->loop = loop;
	ev_async_init(&r->async, on_async);
	r->async.data = r;
	ev_async_start(loop, &r->async);
	ev_unref(loop); /* an idle reader keeps no loop alive */
	r->stop = 0;
	if (pthread_create(&r->thread, NULL, reader, r) != 0) {
		snprintf(err, errlen, "reader: cannot start a thread");
		ev_ref(loop);
		ev_async_stop(loop, &r->async);
		r->loop = NULL;
		goto fail;
	}
	r->running = 1;
	r->accepting = 1;
	return 0;
fail:
	sqlite3_close(r->db);
	r->db = NULL;
	return -1;
}

void store__reader_stop(struct store_reader *r)
{
	if (!r || !r->running)
		return;
	r->accepting = 0;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	sqlite3_interrupt(r->db); /* a long read ends now (STORE_ECLOSED) */
	pthread_join(r->thread, NULL);
	r->running = 0;
	/* every accepted request once: the finished ones, then the rest */
	struct store_read *rd = take_done(r);
	while (rd) {
		struct store_read *next = rd->next;
		deliver(r, rd);
		rd = next;
	}
	rd = r->queue;
	r->queue = r->queue_tail = NULL;
	while (rd) {
		struct store_read *next = rd->next;
		store__read_fail(rd, STORE_ECLOSED, "%s", store_strerror(STORE_ECLOSED));
		deliver(r, rd);
		rd = next;
	}
	ev_ref(r->loop); /* the unref of start */
	ev_async_stop(r->loop, &r->async);
	r->loop = NULL;
	sqlite3_close(r->db);
	r->db = NULL;
}

void store__reader_free(struct store_reader *r)
{
	if (!r)
		return;
	store__reader_stop(r);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
