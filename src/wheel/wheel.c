/*
 * wheel: hierarchical timing wheel.  See wheel.h.
 *
 * Placement: a node goes to the level of the highest 6-bit group in which
 * its due tick differs from `now`, in the slot given by that group of due.
 * When `now` reaches the start of that slot's span, the slot is cascaded:
 * its nodes are re-placed and land on lower levels.  Higher levels are
 * cascaded first so a node can fall several levels within one tick.
 */
#include "wheel/wheel.h"

#include <string.h>

void wheel_init(struct wheel *w, uint64_t now)
{
	memset(w, 0, sizeof *w);
	w->now = now;
}

static void place(struct wheel *w, struct wheel_node *n)
{
	uint64_t due = n->due < w->now ? w->now : n->due;
	uint64_t diff = due ^ w->now;
	unsigned level = 0;
	while (level < WHEEL_LEVELS - 1 && (diff >> (WHEEL_BITS * (level + 1))) != 0)
		level++;
	unsigned idx = (unsigned)(due >> (WHEEL_BITS * level)) & (WHEEL_SLOTS - 1);
	struct wheel_node **head = &w->slot[level][idx];
	n->next = *head;
	if (n->next)
		n->next->pprev = &n->next;
	*head = n;
	n->pprev = head;
	w->occ[level] |= 1ULL << idx;
}

void wheel_add(struct wheel *w, struct wheel_node *n, uint64_t due)
{
	uint64_t max = w->now + ((1ULL << (WHEEL_BITS * (WHEEL_LEVELS - 1))) - 1);
	n->due = due > max ? max : due;
	place(w, n);
	w->count++;
}

/* Clear the occupancy bit if the slot holding head became empty. */
static void fix_occ(struct wheel *w, struct wheel_node **head)
{
	if (*head)
		return;
	struct wheel_node **base = &w->slot[0][0];
	size_t off = (size_t)(head - base);
	w->occ[off / WHEEL_SLOTS] &= ~(1ULL << (off % WHEEL_SLOTS));
}

void wheel_del(struct wheel *w, struct wheel_node *n)
{
	if (!n->pprev)
		return;
	struct wheel_node **pp = n->pprev;
	*pp = n->next;
	if (n->next)
		n->next->pprev = pp;
	n->next = NULL;
	n->pprev = NULL;
	w->count--;
	/* pp points into a slot head only when n was first in its list. */
	struct wheel_node **base = &w->slot[0][0];
	if (pp >= base && pp < base + WHEEL_LEVELS * WHEEL_SLOTS)
		fix_occ(w, pp);
}

uint64_t wheel_next(const struct wheel *w)
{
	if (!w->count)
		return UINT64_MAX;
	if (w->cur)
		return w->now - 1; /* a bounded advance left part of that tick */
	uint64_t best = UINT64_MAX;
	for (unsigned l = 0; l < WHEEL_LEVELS; l++) {
		if (!w->occ[l])
			continue;
		unsigned shift = WHEEL_BITS * l;
		unsigned cur = (unsigned)(w->now >> shift) & (WHEEL_SLOTS - 1);
		/* Level 0 may hold the current tick.  A higher level's current
		 * slot is still occupied only when `now` sits exactly on its
		 * boundary and the cascade is yet to run. */
		int at_boundary = (w->now & ((1ULL << shift) - 1)) == 0;
		unsigned from = (l == 0 || at_boundary) ? cur : cur + 1;
		uint64_t mask = from >= 64 ? 0 : w->occ[l] & (~0ULL << from);
		if (!mask)
			continue; /* cannot happen for a consistent wheel */
		unsigned idx = (unsigned)__builtin_ctzll(mask);
		uint64_t block = (w->now >> (shift + WHEEL_BITS)) << (shift + WHEEL_BITS);
		uint64_t tick = block | ((uint64_t)idx << shift);
		if (tick < best)
			best = tick;
		/* Level 0 events are the earliest, except when `now` sits on a
		 * slot boundary (after a jump): a higher level's current slot
		 * then still awaits its cascade, due at `now` itself. */
		if (best == w->now || (l == 0 && (w->now & (WHEEL_SLOTS - 1)) != 0))
			break;
	}
	return best;
}

static void cascade(struct wheel *w, unsigned level)
{
	unsigned idx = (unsigned)(w->now >> (WHEEL_BITS * level)) & (WHEEL_SLOTS - 1);
	struct wheel_node *n = w->slot[level][idx];
	w->slot[level][idx] = NULL;
	w->occ[level] &= ~(1ULL << idx);
	while (n) {
		struct wheel_node *next = n->next;
		place(w, n);
		n = next;
	}
}

size_t wheel_advance_max(struct wheel *w, uint64_t to, wheel_fire_fn fire, void *ud, size_t max)
{
	size_t fired = 0;
	for (;;) {
		/* Fire the held tick's nodes.  Callbacks may re-add (lands at
		 * now at the earliest) or delete other nodes of this list
		 * (they unlink through pprev, which may point at w->cur). */
		while (w->cur) {
			if (fired >= max)
				return fired;
			struct wheel_node *n = w->cur;
			w->cur = n->next;
			if (w->cur)
				w->cur->pprev = &w->cur;
			n->next = NULL;
			n->pprev = NULL;
			w->count--;
			fire(n, ud);
			fired++;
		}
		if (w->now > to)
			return fired;
		uint64_t next = wheel_next(w);
		if (next > to) {
			/* Nothing happens before `to`: jump (no slot is skipped
			 * that holds a node, so placement stays consistent). */
			w->now = to + 1;
			return fired;
		}
		w->now = next;
		for (unsigned l = WHEEL_LEVELS - 1; l > 0; l--)
			if ((w->now & ((1ULL << (WHEEL_BITS * l)) - 1)) == 0)
				cascade(w, l);
		/* Detach the slot into w->cur; now moves past the tick. */
		unsigned idx = (unsigned)w->now & (WHEEL_SLOTS - 1);
		w->cur = w->slot[0][idx];
		w->slot[0][idx] = NULL;
		w->occ[0] &= ~(1ULL << idx);
		if (w->cur)
			w->cur->pprev = &w->cur;
		w->now++;
	}
}

void wheel_advance(struct wheel *w, uint64_t to, wheel_fire_fn fire, void *ud)
{
	wheel_advance_max(w, to, fire, ud, SIZE_MAX);
}
