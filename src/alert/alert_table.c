/*
 * alert_table.c: the in-memory set of alerts, indexed by check key (at most
 * one per check) and by alert id; ids; pruning; restore and rebind.
 *
 * Two chained hash tables (FNV-1a, power-of-two buckets, doubled at load
 * 1) whose links live in struct alert, so an alert costs no extra
 * allocation.  The store holds the full history; memory holds open alerts
 * and recently resolved ones (for reopen and late commands).
 */
#include "alert/alert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 1024

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int buckets_init(struct alert_bucket_set *bs, size_t n)
{
	bs->b = calloc(n, sizeof(*bs->b));
	bs->mask = n - 1;
	return bs->b ? 0 : -1;
}

struct alert_table *alert_table_new(const struct alert_policy *pol,
                                    const struct route_table *routes, alert_emit_fn emit, void *arg)
{
	struct alert_table *t = calloc(1, sizeof(*t));
	if (!t || !emit)
		goto fail;
	t->node = strdup(pol && pol->node ? pol->node : "mamori");
	t->reopen_within = pol && pol->reopen_within > 0 ? pol->reopen_within : 600;
	t->keep_resolved = pol && pol->keep_resolved > 0 ? pol->keep_resolved : 86400;
	if (t->keep_resolved < t->reopen_within)
		t->keep_resolved = t->reopen_within;
	t->updates_on_change = pol ? pol->updates_on_change : 0;
	t->routes = routes;
	t->emit = emit;
	t->emit_arg = arg;
	t->sla = sla_new();
	if (!t->node || !t->sla || buckets_init(&t->by_key, INITIAL_BUCKETS) < 0 ||
	    buckets_init(&t->by_id, INITIAL_BUCKETS) < 0)
		goto fail;
	return t;
fail:
	alert_table_free(t);
	return NULL;
}

void alert_table_free(struct alert_table *t)
{
	if (!t)
		return;
	sla_free(t->sla); /* first: it touches the clocks inside the alerts */
	if (t->by_id.b) {
		for (size_t i = 0; i <= t->by_id.mask; i++) {
			struct alert *a = t->by_id.b[i];
			while (a) {
				struct alert *next = a->next_id;
				alert__free(a);
				a = next;
			}
		}
	}
	free(t->by_id.b);
	free(t->by_key.b);
	free(t->node);
	free(t);
}

void alert_table_set_routes(struct alert_table *t, const struct route_table *routes)
{
	t->routes = routes;
}

void alert_table_set_counter(struct alert_table *t, uint64_t counter)
{
	t->counter = counter;
}

struct sla *alert_table_sla(struct alert_table *t)
{
	return t->sla;
}

size_t alert_count(const struct alert_table *t)
{
	return t->n;
}

int alert__set_str(char **dst, const char *src)
{
	char *c = NULL;
	if (src && !(c = strdup(src)))
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* ULID-like: 10 Crockford base32 digits of milliseconds + 4 of counter, so
 * ids sort by creation time and stay unique across restarts. */
static void make_id(struct alert_table *t, double now, char *buf, size_t size)
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	char s[15];
	uint64_t ms = now > 0 ? (uint64_t)llround(now * 1000.0) : 0;
	uint64_t ctr = t->counter++;
	for (int i = 9; i >= 0; i--, ms >>= 5)
		s[i] = b32[ms & 31];
	for (int i = 13; i >= 10; i--, ctr >>= 5)
		s[i] = b32[ctr & 31];
	s[14] = 0;
	snprintf(buf, size, "A-%s-%s", t->node, s);
}

struct alert *alert__new(struct alert_table *t, const char *key, double now)
{
	char id[160];
	struct alert *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	make_id(t, now, id, sizeof(id));
	sla_clock_init(&a->sla);
	if (alert__set_str(&a->id, id) < 0 || alert__set_str(&a->key, key) < 0) {
		alert__free(a);
		return NULL;
	}
	return a;
}

void alert__free(struct alert *a)
{
	if (!a)
		return;
	free(a->id);
	free(a->key);
	free(a->customer);
	free(a->asset);
	free(a->check);
	free(a->service);
	free(a->summary);
	free(a->runbook);
	free(a->center);
	for (size_t i = 0; i < a->n_also; i++)
		free(a->also[i]);
	free(a->acked_by);
	free(a->dispatch.vendor);
	free(a->dispatch.result);
	free(a);
}

static int grow(struct alert_table *t)
{
	struct alert_bucket_set nk, ni;
	size_t n = (t->by_id.mask + 1) * 2;
	if (buckets_init(&nk, n) < 0)
		return -1;
	if (buckets_init(&ni, n) < 0) {
		free(nk.b);
		return -1;
	}
	for (size_t i = 0; i <= t->by_id.mask; i++) {
		for (struct alert *a = t->by_id.b[i], *next; a; a = next) {
			next = a->next_id;
			size_t h = fnv1a(a->id) & ni.mask;
			a->next_id = ni.b[h];
			ni.b[h] = a;
		}
		for (struct alert *a = t->by_key.b[i], *next; a; a = next) {
			next = a->next_key;
			size_t h = fnv1a(a->key) & nk.mask;
			a->next_key = nk.b[h];
			nk.b[h] = a;
		}
	}
	free(t->by_id.b);
	free(t->by_key.b);
	t->by_id = ni;
	t->by_key = nk;
	t->prune_cursor = 0;
	return 0;
}

/* Insert into both indexes; the caller removed any alert of the same key. */
int alert__insert(struct alert_table *t, struct alert *a)
{
	if (alert_find(t, a->id))
		return ALERT_E_INVAL;
	if (t->n + 1 > t->by_id.mask + 1)
		grow(t); /* failure only costs longer chains */
	size_t h = fnv1a(a->id) & t->by_id.mask;
	a->next_id = t->by_id.b[h];
	t->by_id.b[h] = a;
	h = fnv1a(a->key) & t->by_key.mask;
	a->next_key = t->by_key.b[h];
	t->by_key.b[h] = a;
	t->n++;
	return 0;
}

static void unlink_chain(struct alert **pp, struct alert *a, int by_id)
{
	for (; *pp; pp = by_id ? &(*pp)->next_id : &(*pp)->next_key) {
		if (*pp == a) {
			*pp = by_id ? a->next_id : a->next_key;
			return;
		}
	}
}

/* Unlink from both indexes and the deadline index (does not free). */
void alert__remove(struct alert_table *t, struct alert *a)
{
	unlink_chain(&t->by_id.b[fnv1a(a->id) & t->by_id.mask], a, 1);
	unlink_chain(&t->by_key.b[fnv1a(a->key) & t->by_key.mask], a, 0);
	sla_stop(t->sla, &a->sla);
	t->n--;
}

struct alert *alert_find(const struct alert_table *t, const char *id)
{
	if (!id)
		return NULL;
	for (struct alert *a = t->by_id.b[fnv1a(id) & t->by_id.mask]; a; a = a->next_id)
		if (strcmp(a->id, id) == 0)
			return a;
	return NULL;
}

struct alert *alert_find_check(const struct alert_table *t, const char *key)
{
	if (!key)
		return NULL;
	for (struct alert *a = t->by_key.b[fnv1a(key) & t->by_key.mask]; a; a = a->next_key)
		if (strcmp(a->key, key) == 0)
			return a;
	return NULL;
}

size_t alert_prune(struct alert_table *t, double now, size_t budget)
{
	size_t freed = 0;
	for (size_t v = 0; v < budget && v <= t->by_id.mask; v++) {
		size_t i = t->prune_cursor;
		t->prune_cursor = (t->prune_cursor + 1) & t->by_id.mask;
		for (struct alert *a = t->by_id.b[i], *next; a; a = next) {
			next = a->next_id;
			if (a->status == ALERT_RESOLVED &&
			    a->resolved_at + t->keep_resolved < now) {
				alert__remove(t, a);
				alert__free(a);
				freed++;
			}
		}
	}
	return freed;
}

void alert_table_rebind(struct alert_table *t, alert_terms_fn fn, void *arg)
{
	/* Resolved alerts take the new terms too (their clock stays stopped):
	 * a reopen restarts the clock from them. */
	for (size_t i = 0; i <= t->by_id.mask; i++)
		for (struct alert *a = t->by_id.b[i]; a; a = a->next_id)
			sla_rebind(t->sla, &a->sla, fn(arg, a));
}

static int copy_strings(struct alert *a, const struct alert *src)
{
	int r =
	    alert__set_str(&a->customer, src->customer) | alert__set_str(&a->asset, src->asset) |
	    alert__set_str(&a->check, src->check) | alert__set_str(&a->service, src->service) |
	    alert__set_str(&a->summary, src->summary) | alert__set_str(&a->center, src->center) |
	    alert__set_str(&a->runbook, src->runbook) |
	    alert__set_str(&a->acked_by, src->acked_by) |
	    alert__set_str(&a->dispatch.vendor, src->dispatch.vendor) |
	    alert__set_str(&a->dispatch.result, src->dispatch.result) |
	    alert__set_str(&a->id, src->id);
	for (size_t i = 0; i < src->n_also && i < ROUTE_MAX_ALSO; i++) {
		r |= alert__set_str(&a->also[i], src->also[i]);
		a->n_also = i + 1;
	}
	return r;
}

struct alert *alert_restore(struct alert_table *t, const struct alert *src,
                            const struct sla_terms *terms)
{
	if (!src->id || !src->key || alert_find(t, src->id))
		return NULL;
	struct alert *a = alert__new(t, src->key, 0);
	if (!a || copy_strings(a, src) != 0)
		goto fail;
	a->seq = src->seq;
	a->state = src->state;
	a->flapping = src->flapping;
	a->stale = src->stale;
	a->manual = src->manual;
	a->contract = src->contract;
	a->status = src->status;
	a->count = src->count;
	a->opened_at = src->opened_at;
	a->resolved_at = src->resolved_at;
	a->acked_at = src->acked_at;
	a->updated_at = src->updated_at;
	a->dispatch.planned_at = src->dispatch.planned_at;
	a->sla = src->sla;
	a->sla.terms = terms; /* resolved: kept for a reopen, clock stopped below */
	struct alert *old = alert_find_check(t, a->key);
	if (old) { /* keep the newer incident of a check */
		if (old->opened_at > a->opened_at)
			goto fail;
		alert__remove(t, old);
		alert__free(old);
	}
	if (alert__insert(t, a) < 0)
		goto fail;
	if (a->status == ALERT_RESOLVED)
		a->sla.stopped = 1, a->sla.pos = SLA_NOT_QUEUED;
	else
		sla_restore(t->sla, &a->sla);
	return a;
fail:
	alert__free(a);
	return NULL;
}

void alert_table_each(const struct alert_table *t, alert_each_fn fn, void *arg)
{
	for (size_t i = 0; i <= t->by_id.mask; i++)
		for (struct alert *a = t->by_id.b[i]; a; a = a->next_id)
			fn(arg, a);
}
