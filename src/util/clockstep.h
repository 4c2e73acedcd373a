/*
 * clockstep: notices when the wall clock steps (NTP, `date -s`, a VM
 * resumed) by watching the distance between libev's wall-clock time
 * (ev_now) and the monotonic clock once per loop iteration.
 *
 * The daemon's schedules are wall-clock numbers (ev_now) for good
 * reasons (a check's last run, an alert's deadline are shown and stored
 * as wall times), but the time between two runs or until a deadline is
 * elapsed time: a user of this module moves its wall-clock schedule by
 * the step, so nothing fires early after a step forward nor late after
 * a step back.  Slow drift (NTP slewing) is below the threshold and
 * followed silently.
 *
 * Must never: block; call back for a change below CLOCKSTEP_MIN.
 * Depends on libev only.
 */
#ifndef MAMORI_CLOCKSTEP_H
#define MAMORI_CLOCKSTEP_H

#include <ev.h>

/* Smaller changes of (wall - monotonic) are drift, not a step. */
#define CLOCKSTEP_MIN 0.5

typedef void (*clockstep_fn)(void *ud, double step);

struct clockstep {
	ev_check w; /* at the highest priority: before any other watcher's callback */
	double off; /* ev_now - monotonic at the last iteration */
	int set;
	clockstep_fn fn;
	void *ud;
};

/* Call fn(ud, step) in the first iteration that sees a step (seconds, >0:
 * the wall clock went forward), before the iteration's other callbacks. */
void clockstep_start(struct ev_loop *loop, struct clockstep *cs, clockstep_fn fn, void *ud);
void clockstep_stop(struct ev_loop *loop, struct clockstep *cs);
/* The monotonic clock, in seconds. */
double clockstep_mono(void);

#endif
