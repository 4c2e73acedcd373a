/*
 * clockstep: wall-clock steps seen from the loop (see clockstep.h).
 *
 * libev stamps ev_now right after it returns from the poll, before it
 * invokes anything; a check watcher at EV_MAXPRI runs first among the
 * callbacks of the iteration, so reading the monotonic clock there
 * measures (wall - monotonic) within microseconds of that stamp.
 */
#include "util/clockstep.h"

#include <math.h>
#include <time.h>

double clockstep_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	struct clockstep *cs = w->data;
	double off = ev_now(loop) - clockstep_mono();
	if (!cs->set) {
		cs->set = 1;
		cs->off = off;
		return;
	}
	double step = off - cs->off;
	cs->off = off;
	if (fabs(step) >= CLOCKSTEP_MIN)
		cs->fn(cs->ud, step);
}

void clockstep_start(struct ev_loop *loop, struct clockstep *cs, clockstep_fn fn, void *ud)
{
	cs->fn = fn;
	cs->ud = ud;
	cs->set = 0;
	ev_check_init(&cs->w, on_check);
	ev_set_priority(&cs->w, EV_MAXPRI);
	cs->w.data = cs;
	ev_check_start(loop, &cs->w);
	/* a check watcher alone does not keep the loop alive */
	ev_unref(loop);
}

void clockstep_stop(struct ev_loop *loop, struct clockstep *cs)
{
	if (!ev_is_active(&cs->w))
		return;
	ev_ref(loop);
	ev_check_stop(loop, &cs->w);
}
