/*
 * statelog: the state history's writer (statelog.h).
 *
 * What is a row: the engine emits EVENT_STATE for every result that
 * changed something.  A row is written when the hard state changed
 * (STATE_EV_HARD_CHANGE: a confirmed problem, a recovery, a problem that
 * became another, a check gone silent), and for a check's first result,
 * which the state engine does not call a hard change when it is OK (the
 * only OK result that sets last_hard_change to the result's time without
 * a hard change).  A row says the state from its time until the check's
 * next row: soft states never make one, so availability is counted on
 * confirmed states, as the alerts are.
 *
 * This run of the daemon has a monitor_run row: written at the start,
 * rewritten every minute ("still running at") and at a clean stop, so
 * that the time no daemon ran - stopped, crashed (its last minute), the
 * machine down - is told apart from a check keeping its last state.
 */
#include "statelog/statelog.h"
#include "events/events.h"
#include "journal/journal.h"
#include "state/state.h"
#include "store/store.h"
#include "util/mem.h"

#include <ev.h>
#include <stdlib.h>

#define PRUNE_EVERY 60.0 /* s between retention steps and between "still running" marks */
#define PRUNE_ROWS  2000 /* rows deleted per step at most */

struct statelog {
	struct ev_loop *loop;
	struct events *events;
	struct journal *journal;
	struct events_sub *sub;
	double retention; /* seconds; 0: keep */
	ev_timer prune;
	uint64_t rows;
	char *node;
	double started; /* this run's monitor_run row */
	int stopped;
};

/* This run's row: seen now (stopped: a clean stop). */
static void mark_run(struct statelog *l, int stopped)
{
	struct store_batch *b = journal_batch(l->journal);
	if (!b)
		return;
	struct store_monitor_run_row r = {
		.node = l->node, .started = l->started, .seen = ev_now(l->loop), .stopped = stopped
	};
	store_batch_monitor_run(b, &r);
}

static void on_state(void *ud, const struct event *e)
{
	struct statelog *l = ud;
	const struct event_state *es = e->detail;
	if (!es || !es->ev || !es->st)
		return;
	unsigned f = es->ev->flags;
	int first = (f & STATE_EV_CHANGE) && !(f & STATE_EV_HARD_CHANGE) && es->st->hard &&
	            es->st->state == 0 && es->st->last_hard_change == e->time &&
	            es->st->last_check == e->time;
	if (!(f & STATE_EV_HARD_CHANGE) && !first)
		return;
	struct store_batch *b = journal_batch(l->journal);
	if (!b)
		return;
	struct store_state_change_row r = {
		.customer = es->customer,
		.asset = es->asset,
		.check = es->check,
		.t = e->time,
		.state = es->st->hard_state,
		.stale = es->st->stale,
		.output = es->output,
	};
	store_batch_state_change(b, &r);
	l->rows++;
}

static void on_prune(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct statelog *l = w->data;
	if (!l->stopped)
		mark_run(l, 0);
	if (l->retention <= 0)
		return;
	struct store_batch *b = journal_batch(l->journal);
	if (b)
		store_batch_state_change_prune(b, ev_now(loop) - l->retention, PRUNE_ROWS);
}

struct statelog *statelog_new(struct ev_loop *loop, struct events *events, struct journal *journal,
                              const char *node, double retention_days)
{
	struct statelog *l = xcalloc(1, sizeof *l);
	l->loop = loop;
	l->node = xstrdup(node ? node : "");
	l->started = ev_now(loop);
	l->events = events;
	l->journal = journal;
	l->retention = retention_days * 86400.0;
	l->sub = events_subscribe(events, EVENT_MASK(EVENT_STATE), on_state, l);
	ev_timer_init(&l->prune, on_prune, PRUNE_EVERY, PRUNE_EVERY);
	l->prune.data = l;
	ev_timer_start(loop, &l->prune);
	ev_unref(loop); /* retention alone keeps no loop alive */
	mark_run(l, 0);
	return l;
}

void statelog_stop(struct statelog *l)
{
	if (l && !l->stopped) {
		l->stopped = 1;
		mark_run(l, 1);
	}
}

void statelog_set_retention(struct statelog *l, double retention_days)
{
	if (l)
		l->retention = retention_days * 86400.0;
}

void statelog_free(struct statelog *l)
{
	if (!l)
		return;
	ev_ref(l->loop);
	ev_timer_stop(l->loop, &l->prune);
	events_unsubscribe(l->events, l->sub);
	free(l->node);
	free(l);
}

uint64_t statelog_rows(const struct statelog *l)
{
	return l ? l->rows : 0;
}
