/*
 * sla.c: SLA clocks and the deadline index (see sla.h).
 *
 * Times are doubles (seconds since the epoch, like the state engine).  The
 * calendar works in whole seconds, so business-time arithmetic is done on
 * floor(now) and the fraction is carried over: a 2 s deadline set at
 * 100.4 is due at 102.4, not 102.
 *
 * The heap holds clock pointers; each clock knows its heap position, so an
 * update is a sift and a removal is a swap with the last element.  A clock
 * is in the heap iff it is running (not paused, not stopped) and has a
 * future event (ack, resolve or re-announce).
 */
#include "sla/sla.h"

#include <math.h>
#include <stdlib.h>

#include "cal/cal.h"

struct sla {
	struct sla_clock **heap;
	size_t n, cap;
};

struct sla *sla_new(void)
{
	return calloc(1, sizeof(struct sla));
}

void sla_free(struct sla *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		s->heap[i]->pos = SLA_NOT_QUEUED;
	free(s->heap);
	free(s);
}

size_t sla_pending(const struct sla *s)
{
	return s->n;
}

double sla_next_due(const struct sla *s)
{
	return s->n ? s->heap[0]->key : -1.0;
}

const char *sla_deadline_name(enum sla_deadline d)
{
	return d == SLA_ACK ? "ack" : "resolve";
}

void sla_clock_init(struct sla_clock *c)
{
	*c = (struct sla_clock){ .ack_left = -1, .resolve_left = -1, .pos = SLA_NOT_QUEUED };
}

/* --- heap --- */

static void heap_set(struct sla *s, size_t i, struct sla_clock *c)
{
	s->heap[i] = c;
	c->pos = i;
}

static void heap_up(struct sla *s, size_t i)
{
	struct sla_clock *c = s->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p]->key <= c->key)
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, c);
}

static void heap_down(struct sla *s, size_t i)
{
	struct sla_clock *c = s->heap[i];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		double mk = c->key;
		if (l < s->n && s->heap[l]->key < mk)
			m = l, mk = s->heap[l]->key;
		if (l + 1 < s->n && s->heap[l + 1]->key < mk)
			m = l + 1;
		if (m == i)
			break;
		heap_set(s, i, s->heap[m]);
		i = m;
	}
	heap_set(s, i, c);
}

static void heap_remove(struct sla *s, struct sla_clock *c)
{
	size_t i = c->pos;
	if (i == SLA_NOT_QUEUED || i >= s->n || s->heap[i] != c)
		return;
	c->pos = SLA_NOT_QUEUED;
	s->n--;
	if (i == s->n)
		return;
	struct sla_clock *m = s->heap[s->n];
	heap_set(s, i, m);
	heap_up(s, i);
	heap_down(s, m->pos);
}

/* Insert or re-key.  On allocation failure the clock stays out of the
 * index (its deadlines are still shown; they just do not fire). */
static void heap_put(struct sla *s, struct sla_clock *c, double key)
{
	c->key = key;
	if (c->pos != SLA_NOT_QUEUED && c->pos < s->n && s->heap[c->pos] == c) {
		heap_up(s, c->pos);
		heap_down(s, c->pos);
		return;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct sla_clock **nh = realloc(s->heap, ncap * sizeof(*nh));
		if (!nh)
			return;
		s->heap = nh;
		s->cap = ncap;
	}
	heap_set(s, s->n++, c);
	heap_up(s, c->pos);
}

/* --- clock arithmetic --- */

/* now + secs of business time; 0 (= none) if secs <= 0 or never open. */
static double due_after(const struct sla_terms *t, double now, double secs)
{
	if (secs <= 0)
		return 0;
	double base = floor(now);
	long long whole = (long long)ceil(secs);
	time_t r = cal_add_business(t->cal, (time_t)base, whole);
	if (r == (time_t)-1)
		return 0;
	return (double)r + (now - base) - ((double)whole - secs);
}

static double left_until(const struct sla_terms *t, double now, double due)
{
	if (due <= 0)
		return -1;
	if (due <= now)
		return 0;
	return (double)cal_business_between(t->cal, (time_t)floor(now), (time_t)ceil(due));
}

static const struct sla_tier *cur_tier(const struct sla_clock *c)
{
	return &c->terms->tiers[c->tier];
}

static int at_last_tier(const struct sla_clock *c)
{
	return c->tier + 1 >= c->terms->n_tiers;
}

static int outstanding_breach(const struct sla_clock *c)
{
	return (c->ack_breached && !c->acked) || c->resolve_breached;
}

/* Nearest event of a running clock, or 0 if none. */
static double next_event(const struct sla_clock *c)
{
	double k = 0;
	if (!c->acked && !c->ack_breached && c->ack_due > 0)
		k = c->ack_due;
	if (!c->resolve_breached && c->resolve_due > 0 && (k == 0 || c->resolve_due < k))
		k = c->resolve_due;
	if (outstanding_breach(c) && c->reannounce_at > 0 && (k == 0 || c->reannounce_at < k))
		k = c->reannounce_at;
	return k;
}

static void requeue(struct sla *s, struct sla_clock *c)
{
	double k = (c->terms && !c->stopped && !c->paused) ? next_event(c) : 0;
	if (k > 0)
		heap_put(s, c, k);
	else
		heap_remove(s, c);
}

static void set_tier_deadlines(struct sla_clock *c, double now)
{
	const struct sla_tier *t = cur_tier(c);
	c->acked = 0;
	c->ack_breached = 0;
	c->resolve_breached = 0;
	c->reannounce_at = 0;
	c->ack_due = due_after(c->terms, now, t->ack_within);
	c->resolve_due = due_after(c->terms, now, t->resolve_within);
}

void sla_start(struct sla *s, struct sla_clock *c, const struct sla_terms *terms, unsigned tier,
               double now)
{
	c->terms = terms;
	c->stopped = 0;
	c->paused = 0;
	c->ack_left = c->resolve_left = -1;
	if (!terms || terms->n_tiers == 0) {
		c->terms = NULL;
		c->ack_due = c->resolve_due = 0;
		heap_remove(s, c);
		return;
	}
	c->tier = tier < terms->n_tiers ? tier : (unsigned)terms->n_tiers - 1;
	set_tier_deadlines(c, now);
	requeue(s, c);
}

void sla_ack(struct sla *s, struct sla_clock *c, double now)
{
	c->acked = 1;
	requeue(s, c);
}

void sla_unack(struct sla *s, struct sla_clock *c, double now)
{
	if (!c->terms || c->stopped)
		return;
	c->acked = 0;
	c->ack_breached = 0;
	if (c->paused)
		c->ack_left = cur_tier(c)->ack_within > 0 ? cur_tier(c)->ack_within : -1;
	else
		c->ack_due = due_after(c->terms, now, cur_tier(c)->ack_within);
	requeue(s, c);
}

int sla_escalate(struct sla *s, struct sla_clock *c, double now)
{
	if (!c->terms || c->stopped || at_last_tier(c))
		return -1;
	c->tier++;
	if (c->paused) {
		const struct sla_tier *t = cur_tier(c);
		c->acked = c->ack_breached = c->resolve_breached = 0;
		c->reannounce_at = 0;
		c->ack_left = t->ack_within > 0 ? t->ack_within : -1;
		c->resolve_left = t->resolve_within > 0 ? t->resolve_within : -1;
	} else {
		set_tier_deadlines(c, now);
	}
	requeue(s, c);
	return 0;
}

void sla_pause(struct sla *s, struct sla_clock *c, unsigned reason, double now)
{
	if (!c->terms || c->stopped)
		return;
	if (!c->paused) {
		c->ack_left = left_until(c->terms, now, c->ack_due);
		c->resolve_left = left_until(c->terms, now, c->resolve_due);
	}
	c->paused |= reason;
	requeue(s, c);
}

void sla_resume(struct sla *s, struct sla_clock *c, unsigned reason, double now)
{
	if (!c->terms || c->stopped || !(c->paused & reason))
		return;
	c->paused &= ~reason;
	if (c->paused)
		return;
	/* An already-passed deadline (left 0) is due at once. */
	if (c->ack_left >= 0)
		c->ack_due = c->ack_left > 0 ? due_after(c->terms, now, c->ack_left) : now;
	if (c->resolve_left >= 0)
		c->resolve_due =
		    c->resolve_left > 0 ? due_after(c->terms, now, c->resolve_left) : now;
	if (c->reannounce_at > 0 && c->reannounce_at < now)
		c->reannounce_at = now;
	c->ack_left = c->resolve_left = -1;
	requeue(s, c);
}

void sla_stop(struct sla *s, struct sla_clock *c)
{
	c->stopped = 1;
	heap_remove(s, c);
}

void sla_rebind(struct sla *s, struct sla_clock *c, const struct sla_terms *terms)
{
	if (!terms || terms->n_tiers == 0) {
		c->terms = NULL;
		heap_remove(s, c);
		return;
	}
	c->terms = terms;
	if (c->tier >= terms->n_tiers)
		c->tier = (unsigned)terms->n_tiers - 1;
	requeue(s, c);
}

size_t sla_shift(struct sla *s, double step)
{
	/* all keys move alike: the heap order stays */
	for (size_t i = 0; i < s->n; i++) {
		struct sla_clock *c = s->heap[i];
		if (c->ack_due > 0)
			c->ack_due += step;
		if (c->resolve_due > 0)
			c->resolve_due += step;
		if (c->reannounce_at > 0)
			c->reannounce_at += step;
		c->key += step;
	}
	return s->n;
}

void sla_restore(struct sla *s, struct sla_clock *c)
{
	c->pos = SLA_NOT_QUEUED;
	if (c->terms && c->tier >= c->terms->n_tiers)
		c->tier = (unsigned)c->terms->n_tiers - 1;
	requeue(s, c);
}

/* Handle one breach of `which`: announce, then escalate or mark. */
static size_t breach(struct sla_clock *c, enum sla_deadline which, double now, sla_fire_fn fn,
                     void *arg)
{
	size_t n = 1;
	c->breaches++;
	fn(arg, c, SLA_FIRE_BREACH, which, now);
	if (!at_last_tier(c)) {
		c->tier++;
		set_tier_deadlines(c, now);
		fn(arg, c, SLA_FIRE_ESCALATED, which, now);
		return n + 1;
	}
	if (which == SLA_ACK)
		c->ack_breached = 1;
	else
		c->resolve_breached = 1;
	if (c->reannounce_at <= now)
		c->reannounce_at = due_after(c->terms, now, c->terms->reannounce);
	return n;
}

static size_t fire_one(struct sla_clock *c, double now, sla_fire_fn fn, void *arg)
{
	if (!c->acked && !c->ack_breached && c->ack_due > 0 && c->ack_due <= now)
		return breach(c, SLA_ACK, now, fn, arg);
	if (!c->resolve_breached && c->resolve_due > 0 && c->resolve_due <= now)
		return breach(c, SLA_RESOLVE, now, fn, arg);
	if (outstanding_breach(c) && c->reannounce_at > 0 && c->reannounce_at <= now) {
		enum sla_deadline w = (c->ack_breached && !c->acked) ? SLA_ACK : SLA_RESOLVE;
		c->breaches++;
		fn(arg, c, SLA_FIRE_REANNOUNCE, w, now);
		c->reannounce_at = due_after(c->terms, now, c->terms->reannounce);
		/* A zero interval or a calendar that never opens: announce no more. */
		if (c->reannounce_at <= now)
			c->reannounce_at = 0;
		return 1;
	}
	return 0;
}

size_t sla_fire_due(struct sla *s, double now, sla_fire_fn fn, void *arg)
{
	size_t events = 0;
	while (s->n && s->heap[0]->key <= now) {
		struct sla_clock *c = s->heap[0];
		size_t got = fire_one(c, now, fn, arg);
		if (got == 0) {
			/* Key out of date (cannot happen if callers use the API);
			 * recompute so the loop always progresses. */
			double k = next_event(c);
			if (k > now || k == 0) {
				requeue(s, c);
				continue;
			}
			heap_remove(s, c);
			continue;
		}
		events += got;
		requeue(s, c);
	}
	return events;
}
