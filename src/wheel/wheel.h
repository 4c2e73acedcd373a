/*
 * wheel: hierarchical timing wheel (7 levels x 64 slots, 1 tick = 1 ms).
 *
 * Owns "which node is due next" for the scheduler.  Add, delete and fire
 * are O(1); each node is cascaded at most once per level over its life,
 * so the cost per check does not depend on how many checks exist
 * (1,000,000 scheduled checks cost what 1,000 do, per check).  Nodes are
 * embedded in the caller's structs (libev style: the caller owns them).
 * Occupancy bitmaps find the next event without scanning slots, so the
 * loop sleeps until something is due.
 */
#ifndef MAMORI_WHEEL_H
#define MAMORI_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#define WHEEL_BITS   6
#define WHEEL_SLOTS  (1u << WHEEL_BITS)
#define WHEEL_LEVELS 7

struct wheel_node {
	struct wheel_node *next;
	struct wheel_node **pprev; /* NULL when not in the wheel */
	uint64_t due;
};

struct wheel {
	uint64_t now; /* next tick to be processed; everything earlier has fired */
	uint64_t occ[WHEEL_LEVELS];
	struct wheel_node *slot[WHEEL_LEVELS][WHEEL_SLOTS];
	/* The nodes of tick now-1 not fired yet: a bounded advance stopped
	 * inside that tick (they fire first at the next advance).  Nodes
	 * point into it (pprev), so a wheel is never moved. */
	struct wheel_node *cur;
	uint64_t count;
};

typedef void (*wheel_fire_fn)(struct wheel_node *n, void *ud);

void wheel_init(struct wheel *w, uint64_t now);
/* Schedule n at tick `due` (a due in the past fires at the next advance).
 * n must not be in the wheel. */
void wheel_add(struct wheel *w, struct wheel_node *n, uint64_t due);
void wheel_del(struct wheel *w, struct wheel_node *n);
static inline int wheel_pending(const struct wheel_node *n)
{
	return n->pprev != 0;
}
/* Tick at which the next node fires or must be cascaded; UINT64_MAX when
 * empty.  May be earlier than the next real expiry (a cascade point). */
uint64_t wheel_next(const struct wheel *w);
/* Process every tick up to and including `to`, calling fire for each due
 * node (already removed from the wheel; fire may re-add it, which lands
 * at the next tick at the earliest). */
void wheel_advance(struct wheel *w, uint64_t to, wheel_fire_fn fire, void *ud);
/* The same, but return once `max` nodes have fired (a caller that must
 * yield, e.g. to poll I/O): the rest of the tick being processed stays
 * held and fires first at the next advance, in order, and wheel_next
 * says it is due (now - 1).  Returns how many fired: below `max` when
 * everything up to `to` has. */
size_t wheel_advance_max(struct wheel *w, uint64_t to, wheel_fire_fn fire, void *ud, size_t max);

#endif
