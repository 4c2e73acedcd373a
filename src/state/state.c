/*
 * state: soft/hard states, flap detection, freshness, suppression.
 * Pure functions on (state, input, policy, now).  See state.h.
 *
 * Semantics follow Nagios Core (what operators expect):
 *  - the first failure counts as attempt 1; the problem becomes hard when
 *    attempt reaches max_attempts (max_attempts = 1: hard at once);
 *  - a change between problem states while hard (WARNING -> CRITICAL) is
 *    a hard change; a soft problem that recovers is a soft recovery (the
 *    hard state stays OK and nobody is told);
 *  - flapping: percent state change over the last 21 results, newer
 *    transitions weighted more (0.80 .. 1.20, mean 1.0 so a check that
 *    changes every time reads 100%), start above flap_high, stop
 *    below flap_low (hysteresis).
 */
#include "state/state.h"
#include "cal/cal.h"

#include <string.h>

#define FLAP_TRANSITIONS (STATE_FLAP_WINDOW - 1)
#define FLAP_MASK        ((1u << FLAP_TRANSITIONS) - 1)

void state_init(struct check_state *st)
{
	memset(st, 0, sizeof *st);
	st->state = 0;
	st->hard_state = 0;
	st->attempt = 1;
	st->hard = 1;
}

float state_flap_percent(uint32_t hist, unsigned n)
{
	(void)n; /* Nagios divides by the full window even while it fills. */
	double changes = 0;
	for (unsigned i = 0; i < FLAP_TRANSITIONS; i++)
		if (hist & (1u << i)) /* bit 0 is the newest transition */
			changes += 0.80 + 0.40 * (double)(FLAP_TRANSITIONS - 1 - i) /
			                      (FLAP_TRANSITIONS - 1);
	return (float)(changes * 100.0 / FLAP_TRANSITIONS);
}

static void flap_update(struct check_state *st, const struct state_policy *pol, int changed,
                        struct state_event *ev)
{
	if (st->has_result) {
		st->hist = ((st->hist << 1) | (changed ? 1u : 0u)) & FLAP_MASK;
		if (st->n_hist < STATE_FLAP_WINDOW)
			st->n_hist++;
	} else {
		st->n_hist = 1;
	}
	st->flap_pct = state_flap_percent(st->hist, st->n_hist);
	ev->flap_pct = st->flap_pct;
	if (!pol->flap_enabled) {
		if (st->flapping) {
			st->flapping = 0;
			ev->flags |= STATE_EV_FLAP_STOP;
		}
		return;
	}
	if (!st->flapping && st->flap_pct > pol->flap_high) {
		st->flapping = 1;
		ev->flags |= STATE_EV_FLAP_START;
	} else if (st->flapping && st->flap_pct < pol->flap_low) {
		st->flapping = 0;
		ev->flags |= STATE_EV_FLAP_STOP;
	}
}

struct state_event state_apply(struct check_state *st, const struct state_policy *pol, int result,
                               double now)
{
	struct state_event ev = { 0 };
	unsigned max_att = pol->max_attempts ? pol->max_attempts : 1;
	if (result < 0 || result > 3)
		result = 3;
	ev.old_state = st->state;
	ev.old_hard_state = st->hard_state;
	int changed = !st->has_result || result != st->state;
	flap_update(st, pol, st->has_result && result != st->state, &ev);

	if (result == 0) {
		if (st->has_result && st->state != 0 && st->hard) {
			ev.flags |= STATE_EV_HARD_CHANGE | STATE_EV_RECOVERY;
			st->last_hard_change = now;
		} else if (!st->has_result) {
			st->last_hard_change = now;
		}
		st->attempt = 1;
		st->hard = 1;
		st->hard_state = 0;
	} else if (!st->has_result || st->state == 0 || !st->hard) {
		/* New problem, or a soft problem continuing: count attempts. */
		if (!st->has_result || st->state == 0)
			st->attempt = 1;
		else if (st->attempt < max_att)
			st->attempt++;
		if (st->attempt >= max_att) {
			st->hard = 1;
			if (st->hard_state != result || !st->has_result) {
				ev.flags |= STATE_EV_HARD_CHANGE;
				st->last_hard_change = now;
			}
			st->hard_state = (uint8_t)result;
			ev.flags |= STATE_EV_HARD_PROBLEM;
		} else {
			st->hard = 0;
			ev.flags |= STATE_EV_SOFT;
		}
	} else {
		/* Hard problem continuing, possibly with another problem state. */
		if (result != st->hard_state) {
			ev.flags |= STATE_EV_HARD_CHANGE;
			st->last_hard_change = now;
			st->hard_state = (uint8_t)result;
		}
		ev.flags |= STATE_EV_HARD_PROBLEM;
	}
	if (changed) {
		ev.flags |= STATE_EV_CHANGE;
		st->last_change = now;
	}
	st->state = (uint8_t)result;
	st->has_result = 1;
	st->stale = 0;
	st->last_check = now;
	ev.new_state = st->state;
	ev.hard = st->hard;
	ev.attempt = st->attempt;
	return ev;
}

struct state_event state_apply_stale(struct check_state *st, int stale_state, double now)
{
	/* Silence is judged hard at once: it has lasted stale_after already. */
	struct state_policy pol = { .max_attempts = 1, .flap_enabled = 0 };
	uint8_t was_flapping = st->flapping;
	struct state_event ev = state_apply(st, &pol, stale_state, now);
	/* Freshness must not stop flap tracking of the real results. */
	ev.flags &= ~(unsigned)STATE_EV_FLAP_STOP;
	st->flapping = was_flapping;
	st->stale = 1;
	return ev;
}

int state_wants_retry(const struct check_state *st, const struct state_policy *pol)
{
	return st->has_result && st->state != 0 && !st->hard && pol->max_attempts > 1;
}

enum state_suppress state_suppressed(const struct check_state *st, const struct state_context *ctx)
{
	if (ctx->in_downtime)
		return STATE_SUPPRESS_DOWNTIME;
	if (ctx->parent_down)
		return STATE_SUPPRESS_UNREACHABLE;
	if (ctx->acknowledged && st->state != 0)
		return STATE_SUPPRESS_ACK;
	if (st->flapping)
		return STATE_SUPPRESS_FLAPPING;
	return STATE_SUPPRESS_NONE;
}

const char *state_name(int state)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	return state >= 0 && state <= 3 ? names[state] : "UNKNOWN";
}

int downtime_active(const struct downtime *d, double t)
{
	if (d->recurring)
		return cal_is_open(d->recurring, (time_t)t);
	return t >= d->start && t < d->end;
}
