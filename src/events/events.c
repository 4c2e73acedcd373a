/*
 * events: the event hub (see events.h).  Subscribers are a singly linked
 * list walked in subscription order; an unsubscribe during a delivery
 * only marks the entry dead and the outermost delivery unlinks it, so a
 * walk never touches freed memory.  The ring is a circular array of the
 * last `cap` events that carried JSON, in seq order; a slot owns one
 * allocation holding its strings.  `evicted` is the newest seq pushed out
 * of it: a replay from `after` is complete only if evicted <= after.
 */
#include "events/events.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct events_sub {
	struct events_sub *next;
	uint32_t mask;
	events_fn fn;
	void *ud;
	uint64_t from; /* sees events with seq >= from */
	int dead;
};

struct slot {
	uint64_t seq; /* 0: empty */
	enum event_type type;
	double time;
	char *mem; /* customer\0center\0subject\0json\0 */
	const char *customer, *center, *subject, *json;
};

struct events {
	struct events_sub *subs;
	int depth; /* deliveries in progress (nested emits) */
	int reap;  /* a subscriber died during a delivery */
	uint64_t seq;
	uint64_t epoch;
	struct slot *ring;
	size_t cap, head, n; /* oldest at head, n slots used */
	uint64_t evicted;
	uint64_t changes; /* events with a rendering emitted */
};

struct events *events_new(size_t ring_size)
{
	struct events *h = xcalloc(1, sizeof *h);
	h->cap = ring_size ? ring_size : EVENTS_RING_DEF;
	h->ring = xcalloc(h->cap, sizeof *h->ring);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	h->epoch = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	return h;
}

void events_free(struct events *h)
{
	if (!h)
		return;
	while (h->subs) {
		struct events_sub *n = h->subs->next;
		free(h->subs);
		h->subs = n;
	}
	for (size_t i = 0; i < h->cap; i++)
		free(h->ring[i].mem);
	free(h->ring);
	free(h);
}

static size_t len0(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *put(char **p, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	memcpy(*p, s, n);
	const char *at = *p;
	*p += n;
	return at;
}

static void keep(struct events *h, const struct event *ev)
{
	struct slot *sl;
	if (h->n == h->cap) {
		sl = &h->ring[h->head];
		h->evicted = sl->seq;
		h->head = (h->head + 1) % h->cap;
	} else {
		sl = &h->ring[(h->head + h->n++) % h->cap];
	}
	free(sl->mem);
	sl->mem =
	    xmalloc(len0(ev->customer) + len0(ev->center) + len0(ev->subject) + len0(ev->json) + 1);
	char *p = sl->mem;
	sl->customer = put(&p, ev->customer);
	sl->center = put(&p, ev->center);
	sl->subject = put(&p, ev->subject);
	sl->json = put(&p, ev->json);
	sl->seq = ev->seq;
	sl->type = ev->type;
	sl->time = ev->time;
}

static void reap(struct events *h)
{
	struct events_sub **pp = &h->subs;
	while (*pp) {
		struct events_sub *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
	h->reap = 0;
}

uint64_t events_emit(struct events *h, struct event *ev)
{
	ev->seq = ++h->seq;
	if (ev->json) {
		h->changes++;
		keep(h, ev);
	}
	uint32_t bit = EVENT_MASK(ev->type);
	h->depth++;
	for (struct events_sub *s = h->subs; s; s = s->next)
		if (!s->dead && (s->mask & bit) && ev->seq >= s->from)
			s->fn(s->ud, ev);
	if (--h->depth == 0 && h->reap)
		reap(h);
	return ev->seq;
}

struct events_sub *events_subscribe(struct events *h, uint32_t mask, events_fn fn, void *ud)
{
	struct events_sub *s = xcalloc(1, sizeof *s);
	s->mask = mask;
	s->fn = fn;
	s->ud = ud;
	s->from = h->seq + 1;
	struct events_sub **pp = &h->subs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
	return s;
}

void events_unsubscribe(struct events *h, struct events_sub *s)
{
	if (!s)
		return;
	s->dead = 1;
	if (h->depth)
		h->reap = 1;
	else
		reap(h);
}

uint64_t events_last_seq(const struct events *h)
{
	return h->seq;
}

uint64_t events_epoch(const struct events *h)
{
	return h->epoch;
}

uint64_t events_changes(const struct events *h)
{
	return h->changes;
}

uint64_t events_first_kept(const struct events *h)
{
	return h->n ? h->ring[h->head].seq : 0;
}

int events_replay(const struct events *h, uint64_t after, uint32_t mask, events_fn fn, void *ud)
{
	/* An event without JSON was never replayable, so only an evicted
	 * kept event is a loss. */
	if (h->evicted > after)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		const struct slot *sl = &h->ring[(h->head + i) % h->cap];
		if (sl->seq <= after || !(mask & EVENT_MASK(sl->type)))
			continue;
		struct event e = { .seq = sl->seq,
			           .type = sl->type,
			           .time = sl->time,
			           .customer = sl->customer,
			           .center = sl->center,
			           .subject = sl->subject,
			           .json = sl->json };
		fn(ud, &e);
	}
	return 0;
}
