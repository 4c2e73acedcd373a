/*
 * oncall: who is on call for a schedule at a time, when that changes
 * next, and where a schedule has nobody (gaps).  Pure: a schedule and a
 * time in, contact indexes out; the zone arithmetic is the cal module's
 * (DST-correct, no TZ variable).
 *
 * A layer hands off at a local wall-clock time (daily, or weekly on a
 * weekday) in the schedule's zone.  Handoff k happens at the local time
 * anchor_day + k * period, hand_min; the member on call at t is handoff
 * k's (k the last handoff at or before t), members[k mod n].  k is first
 * estimated from t's local time, then corrected against the real
 * instants, so a handoff inside a DST gap happens when the gap ends (as
 * the cal module places such a time) and one inside a repeated hour
 * happens once, at its first occurrence - the index never goes back.
 *
 * Resolution at t: the overrides covering t (all of them); else the first
 * layer, in the order written, that is active at t (its hours, or a named
 * calendar open or closed) and has members; else the fallback.
 *
 * Must never: allocate, log, read a clock.
 */
#include "notify/notify_int.h"
#include "cal/cal.h"

#include <stddef.h>
#include <stdint.h>

#define DAY 86400

/* ---- civil dates (proleptic Gregorian) ---- */

int64_t notify__days(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void notify__civil(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- layers ---- */

time_t oncall_handoff(const struct nsched *s, const struct nlayer *l, int64_t k)
{
	int y, m, d;
	notify__civil(l->anchor_day + k * l->period_days, &y, &m, &d);
	return cal_local_time(s->zone, y, m, d, l->hand_min / 60, l->hand_min % 60, 0);
}

/* The index of the last handoff at or before t. */
static int64_t handoff_index(const struct nsched *s, const struct nlayer *l, time_t t)
{
	int64_t local = (int64_t)t + cal_utc_offset(s->zone, t);
	int64_t first = l->anchor_day * DAY + (int64_t)l->hand_min * 60;
	int64_t k = floordiv(local - first, (int64_t)l->period_days * DAY);
	/* a zone change moves a handoff by at most a few hours: a step or
	 * two corrects the estimate */
	for (int i = 0; i < 4; i++) {
		time_t next = oncall_handoff(s, l, k + 1);
		if (next != (time_t)-1 && next <= t)
			k++;
		else
			break;
	}
	for (int i = 0; i < 4; i++) {
		time_t h = oncall_handoff(s, l, k);
		if (h != (time_t)-1 && h > t)
			k--;
		else
			break;
	}
	return k;
}

long oncall_member(const struct nsched *s, const struct nlayer *l, time_t t)
{
	if (!l->n_members)
		return -1;
	int64_t k = handoff_index(s, l, t);
	int64_t n = (int64_t)l->n_members;
	return (long)(((k % n) + n) % n);
}

static int layer_active(const struct nlayer *l, time_t t)
{
	switch (l->kind) {
	case NL_ALWAYS: return 1;
	case NL_HOURS: return cal_is_open(l->hours, t);
	case NL_CAL_OPEN: return cal_is_open(l->cal, t);
	case NL_CAL_CLOSED: return !cal_is_open(l->cal, t);
	}
	return 0;
}

/* The calendar whose open/closed edges move the layer's activity. */
static const struct cal *layer_cal(const struct nlayer *l)
{
	return l->kind == NL_HOURS ? l->hours : l->kind == NL_ALWAYS ? NULL : l->cal;
}

/* ---- resolution ---- */

size_t oncall_resolve(const struct nsched *s, time_t t, struct oncall_who *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_ov; i++) {
		const struct noverride *o = &s->ov[i];
		if (t < o->from || t >= o->until)
			continue;
		int dup = 0;
		for (size_t j = 0; j < n; j++)
			dup |= out[j].contact == o->contact;
		if (!dup && n < max)
			out[n++] = (struct oncall_who){ o->contact, ONC_OVERRIDE };
	}
	if (n)
		return n;
	for (size_t i = 0; i < s->n_layers; i++) {
		const struct nlayer *l = &s->layers[i];
		if (!l->n_members || !layer_active(l, t))
			continue;
		long m = oncall_member(s, l, t);
		if (m >= 0 && max) {
			out[0] = (struct oncall_who){ l->members[m], (int)i };
			return 1;
		}
	}
	if (s->fallback >= 0 && max) {
		out[0] = (struct oncall_who){ (size_t)s->fallback, ONC_FALLBACK };
		return 1;
	}
	return 0;
}

static time_t earliest(time_t a, time_t b)
{
	if (a == (time_t)-1)
		return b;
	if (b == (time_t)-1)
		return a;
	return a < b ? a : b;
}

/* The next edge > t of the activity of layers and of overrides;
 * handoffs too when `handoffs`. */
static time_t next_edge(const struct nsched *s, time_t t, int handoffs)
{
	time_t best = (time_t)-1;
	for (size_t i = 0; i < s->n_ov; i++) {
		if (s->ov[i].from > t)
			best = earliest(best, s->ov[i].from);
		if (s->ov[i].until > t)
			best = earliest(best, s->ov[i].until);
	}
	for (size_t i = 0; i < s->n_layers; i++) {
		const struct nlayer *l = &s->layers[i];
		const struct cal *c = layer_cal(l);
		if (c)
			best = earliest(best, cal_next_change(c, t));
		if (handoffs && l->n_members > 1) {
			time_t h = oncall_handoff(s, l, handoff_index(s, l, t) + 1);
			if (h != (time_t)-1 && h > t)
				best = earliest(best, h);
		}
	}
	return best;
}

time_t oncall_next_change(const struct nsched *s, time_t t)
{
	return next_edge(s, t, 1);
}

/* 1 if someone other than the fallback is on call at t. */
static int covered(const struct nsched *s, time_t t)
{
	for (size_t i = 0; i < s->n_ov; i++)
		if (t >= s->ov[i].from && t < s->ov[i].until)
			return 1;
	for (size_t i = 0; i < s->n_layers; i++)
		if (s->layers[i].n_members && layer_active(&s->layers[i], t))
			return 1;
	return 0;
}

size_t oncall_gaps(const struct nsched *s, time_t from, time_t to, struct oncall_gap *out,
                   size_t max)
{
	size_t n = 0;
	time_t t = from, gap = (time_t)-1;
	while (t < to) {
		int c = covered(s, t);
		if (!c && gap == (time_t)-1)
			gap = t;
		if (c && gap != (time_t)-1) {
			if (n < max)
				out[n] = (struct oncall_gap){ gap, t };
			n++;
			gap = (time_t)-1;
		}
		/* handoffs never open a gap: only activity edges matter */
		time_t next = next_edge(s, t, 0);
		if (next == (time_t)-1 || next <= t)
			break;
		t = next;
	}
	if (gap != (time_t)-1) {
		if (n < max)
			out[n] = (struct oncall_gap){ gap, to };
		n++;
	}
	return n;
}
