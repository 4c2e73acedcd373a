/*
 * report_pool: the threads that make reports, off the loop.
 *
 * Each worker owns a read-only connection to the store (store_open_
 * readonly, opened at its first job and kept): the month is read there,
 * on the worker, never on the loop and never through the daemon's own
 * reader thread (a month of a customer is thousands of rows; the reader
 * serves the API's short reads).  Workers run at the lowest CPU
 * priority (SCHED_IDLE: only CPU time nobody else wants; else nice 19):
 * on a 2-core machine a batch of 5,000 reports must not delay checks.  A
 * finished job goes on the `done` list and one ev_async brings the loop
 * thread to run its callback.
 *
 * Threads: `queue`, `done`, `stop`, `waiting`, `running` under `lock`;
 * each worker's store is its own; `pending` and callbacks are the loop's.
 * Must never: run a callback anywhere but on the loop thread (or inside
 * report_pool_free), run one twice or not at all for an accepted job, or
 * block the loop (a submit takes the lock for a list append).
 */
#include "report/report_int.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16

struct job {
	struct report_input *in;
	int want_summary;
	report_done_fn fn;
	void *ud;
	struct report_result res;
	struct job *next;
};

struct report_pool {
	struct ev_loop *loop;
	ev_async async;
	char *state_dir;
	pthread_t threads[MAX_THREADS];
	int n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue, *queue_tail; /* under lock */
	struct job *done, *done_tail;   /* under lock */
	size_t waiting;                 /* under lock: in queue */
	int stop;                       /* under lock */
	size_t max_queue;
	size_t pending; /* loop thread: accepted, callback not run */
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_job(struct report_pool *p, struct store **ro, struct job *j)
{
	struct report_result *r = &j->res;
	double t0 = mono();
	if (!*ro) {
		char err[512] = "";
		*ro = store_open_readonly(p->state_dir, err, sizeof err);
		if (!*ro) {
			r->err = REPORT_E_STORE;
			/* cut to the message's size (a long path may not fit) */
			size_t n = strnlen(err, sizeof r->msg - 1);
			memcpy(r->msg, err, n);
			r->msg[n] = '\0';
			return;
		}
	}
	r->err = report__make_all(*ro, j->in, &r->data, &r->len,
	                          j->want_summary ? &r->summary : NULL, r->msg, sizeof r->msg);
	r->seconds = mono() - t0;
}

static void *worker(void *arg)
{
	struct report_pool *p = arg;
	/* below everything else: a worker runs only on CPU time nobody else
	 * wants (SCHED_IDLE), so reports wait and checks do not; where that
	 * is refused, the lowest nice */
	struct sched_param sp = { .sched_priority = 0 };
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	struct store *ro = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queue && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop)
			break;
		struct job *j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = NULL;
		p->waiting--;
		pthread_mutex_unlock(&p->lock);
		run_job(p, &ro, j);
		pthread_mutex_lock(&p->lock);
		j->next = NULL;
		if (p->done_tail)
			p->done_tail->next = j;
		else
			p->done = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->lock);
		ev_async_send(p->loop, &p->async);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	if (ro)
		store_close(ro);
	return NULL;
}

static void finish(struct report_pool *p, struct job *j)
{
	p->pending--;
	if (!p->pending)
		ev_unref(p->loop); /* idle: keep no loop alive (see submit) */
	j->fn(j->ud, &j->res);
	/* what the callback did not take */
	free(j->res.data);
	free(j->res.summary);
	report_input_free(j->in);
	free(j);
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct report_pool *p = w->data;
	pthread_mutex_lock(&p->lock);
	struct job *j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while (j) {
		struct job *next = j->next;
		finish(p, j);
		j = next;
	}
}

struct report_pool *report_pool_new(struct ev_loop *loop, const char *state_dir, int threads,
                                    size_t max_queue, char *err, size_t errlen)
{
	if (threads < 1 || threads > MAX_THREADS) {
		snprintf(err, errlen, "report workers: %d threads (1..%d)", threads, MAX_THREADS);
		return NULL;
	}
	struct report_pool *p = xcalloc(1, sizeof *p);
	p->loop = loop;
	p->state_dir = xstrdup(state_dir);
	p->max_queue = max_queue ? max_queue : 10000;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	ev_async_init(&p->async, on_async);
	p->async.data = p;
	ev_async_start(loop, &p->async);
	ev_unref(loop);
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			snprintf(err, errlen, "report workers: cannot start a thread");
			report_pool_free(p);
			return NULL;
		}
		p->n_threads++;
	}
	return p;
}

int report_pool_submit(struct report_pool *p, const struct report_input *in, int want_summary,
                       report_done_fn fn, void *ud)
{
	if (!p)
		return REPORT_E_CLOSED;
	struct job *j = xcalloc(1, sizeof *j);
	pthread_mutex_lock(&p->lock);
	if (p->stop || p->waiting >= p->max_queue) {
		int rc = p->stop ? REPORT_E_CLOSED : REPORT_E_BUSY;
		pthread_mutex_unlock(&p->lock);
		free(j);
		return rc;
	}
	j->in = report_input_dup(in);
	j->want_summary = want_summary;
	j->fn = fn;
	j->ud = ud;
	if (p->queue_tail)
		p->queue_tail->next = j;
	else
		p->queue = j;
	p->queue_tail = j;
	p->waiting++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* while a job is out, the loop stays alive to deliver it */
	if (!p->pending++)
		ev_ref(p->loop);
	return REPORT_OK;
}

size_t report_pool_pending(const struct report_pool *p)
{
	return p ? p->pending : 0;
}

void report_pool_free(struct report_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	struct job *q = p->queue;
	p->queue = p->queue_tail = NULL;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	/* what finished, then what never started */
	on_async(p->loop, &p->async, 0);
	while (q) {
		struct job *next = q->next;
		q->res.err = REPORT_E_CLOSED;
		snprintf(q->res.msg, sizeof q->res.msg, "%s", report_strerror(REPORT_E_CLOSED));
		finish(p, q);
		q = next;
	}
	ev_ref(p->loop);
	ev_async_stop(p->loop, &p->async);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->state_dir);
	free(p);
}
