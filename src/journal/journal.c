/*
 * journal: the pending batch, its sources, group commit and completion
 * (see journal.h).  Loop thread only.
 */
#include "journal/journal.h"
#include "store/store.h"
#include "util/mem.h"

#include <ev.h>
#include <stdlib.h>

#define MAX_HOOKS 8
#define NEXT_CUT  UINT64_MAX

struct source {
	journal_fill_fn fill;
	int (*pending)(void *ud);
	void *ud;
};

struct ticket {
	struct ticket *next;
	uint64_t number; /* the batch it waits for; NEXT_CUT: the next one cut */
	journal_ticket_fn fn;
	void *ud;
};

struct journal {
	struct ev_loop *loop;
	struct store *store;
	struct store_batch *batch;
	struct source src[MAX_HOOKS];
	size_t n_src;
	struct {
		journal_cut_fn fn;
		void *ud;
	} cut[MAX_HOOKS];
	size_t n_cut;
	struct {
		journal_done_fn fn;
		void *ud;
	} done[MAX_HOOKS];
	size_t n_done;
	struct ticket *tickets, *tickets_tail;
	uint64_t last_cut; /* number of the last batch handed over */
	uint64_t rows;
	int urgent;
	int started;
	ev_timer flush_timer;
	ev_prepare prepare;
};

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents);
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents);

struct journal *journal_new(struct ev_loop *loop, struct store *store, double flush_interval)
{
	struct journal *j = xcalloc(1, sizeof *j);
	j->loop = loop;
	j->store = store;
	ev_timer_init(&j->flush_timer, on_flush, flush_interval, flush_interval);
	j->flush_timer.data = j;
	ev_prepare_init(&j->prepare, on_prepare);
	j->prepare.data = j;
	return j;
}

void journal_set_interval(struct journal *j, double flush_interval)
{
	ev_timer_set(&j->flush_timer, flush_interval, flush_interval);
	if (ev_is_active(&j->flush_timer)) {
		ev_timer_stop(j->loop, &j->flush_timer);
		ev_timer_start(j->loop, &j->flush_timer);
	}
}

void journal_start(struct journal *j)
{
	if (j->started)
		return;
	j->started = 1;
	if (j->store)
		ev_timer_start(j->loop, &j->flush_timer);
	ev_prepare_start(j->loop, &j->prepare);
	ev_unref(j->loop);
}

void journal_stop(struct journal *j)
{
	if (!j->started)
		return;
	j->started = 0;
	ev_timer_stop(j->loop, &j->flush_timer);
	ev_ref(j->loop);
	ev_prepare_stop(j->loop, &j->prepare);
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	journal_stop(j);
	store_batch_free(j->batch);
	while (j->tickets) {
		struct ticket *t = j->tickets;
		j->tickets = t->next;
		free(t);
	}
	free(j);
}

struct store_batch *journal_batch(struct journal *j)
{
	if (!j->store)
		return NULL;
	if (!j->batch)
		j->batch = store_batch_new();
	return j->batch;
}

int journal_durable(const struct journal *j)
{
	return j->store != NULL;
}

void journal_add_source(struct journal *j, journal_fill_fn fill, int (*pending)(void *ud), void *ud)
{
	if (j->n_src < MAX_HOOKS)
		j->src[j->n_src++] = (struct source){ fill, pending, ud };
}

void journal_on_cut(struct journal *j, journal_cut_fn fn, void *ud)
{
	if (j->n_cut < MAX_HOOKS) {
		j->cut[j->n_cut].fn = fn;
		j->cut[j->n_cut++].ud = ud;
	}
}

void journal_on_done(struct journal *j, journal_done_fn fn, void *ud)
{
	if (j->n_done < MAX_HOOKS) {
		j->done[j->n_done].fn = fn;
		j->done[j->n_done++].ud = ud;
	}
}

void journal_urgent(struct journal *j)
{
	j->urgent = 1;
}

static int anything_pending(const struct journal *j)
{
	if (j->batch && store_batch_rows(j->batch) > 0)
		return 1;
	for (size_t i = 0; i < j->n_src; i++)
		if (j->src[i].pending(j->src[i].ud))
			return 1;
	return 0;
}

void journal_ticket(struct journal *j, journal_ticket_fn fn, void *ud)
{
	struct ticket *t = xcalloc(1, sizeof *t);
	t->fn = fn;
	t->ud = ud;
	/* Nothing pending: everything appended so far is in the batches cut
	 * already. */
	t->number = j->store && anything_pending(j) ? NEXT_CUT : j->last_cut;
	if (j->tickets_tail)
		j->tickets_tail->next = t;
	else
		j->tickets = t;
	j->tickets_tail = t;
	j->urgent = 1; /* someone waits: do not wait for the flush timer */
}

/* Fire the tickets whose batch is written (in order: numbers only grow
 * along the list). */
static void fire_tickets(struct journal *j)
{
	uint64_t done = j->store ? store_committed(j->store) : j->last_cut;
	while (j->tickets && j->tickets->number != NEXT_CUT && j->tickets->number <= done) {
		struct ticket *t = j->tickets;
		j->tickets = t->next;
		if (!j->tickets)
			j->tickets_tail = NULL;
		t->fn(t->ud);
		free(t);
	}
}

static void number_tickets(struct journal *j, uint64_t n)
{
	for (struct ticket *t = j->tickets; t; t = t->next)
		if (t->number == NEXT_CUT)
			t->number = n;
}

static void cut(struct journal *j)
{
	if (!j->store) {
		fire_tickets(j);
		return;
	}
	if (!anything_pending(j)) {
		/* what the tickets waited for left with earlier batches */
		number_tickets(j, j->last_cut);
		fire_tickets(j);
		return;
	}
	struct store_batch *b = j->batch ? j->batch : store_batch_new();
	j->batch = NULL;
	for (size_t i = 0; i < j->n_src; i++)
		j->src[i].fill(j->src[i].ud, b);
	j->rows += store_batch_rows(b);
	uint64_t n = store_commit(j->store, b);
	j->last_cut = n;
	number_tickets(j, n);
	for (size_t i = 0; i < j->n_cut; i++)
		j->cut[i].fn(j->cut[i].ud, n);
}

void journal_flush(struct journal *j, int wait)
{
	cut(j);
	/* Only the write is waited for: the listeners hear of it through the
	 * store's `done` as usual (at shutdown, not at all - what the outbox
	 * would publish now goes out at the next start instead). */
	if (wait && j->store)
		store_sync(j->store);
}

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct journal *j = w->data;
	/* Group commit: one batch in flight at a time; while the writer is
	 * busy, changes keep coalescing. */
	if (!store_busy(j->store))
		cut(j);
}

/* Once per loop iteration, before it sleeps. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct journal *j = w->data;
	if (j->urgent && (!j->store || !store_busy(j->store))) {
		j->urgent = 0;
		cut(j);
	}
	if (!j->store)
		fire_tickets(j);
}

void journal_on_commit(void *ud)
{
	struct journal *j = ud;
	if (!j->store)
		return;
	uint64_t done = store_committed(j->store);
	for (size_t i = 0; i < j->n_done; i++)
		j->done[i].fn(j->done[i].ud, done);
	fire_tickets(j);
}

uint64_t journal_committed(const struct journal *j)
{
	return j->store ? store_committed(j->store) : j->last_cut;
}

uint64_t journal_rows(const struct journal *j)
{
	return j->rows;
}
