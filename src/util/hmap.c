/* hmap: open-addressing string hash map.  See hmap.h. */
#include "util/hmap.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((const char *)(uintptr_t)1)

uint64_t hmap_hash(const void *key, size_t len)
{
	/* FNV-1a, then a final mix so low bits are well spread. */
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof *m);
}

void hmap_free(struct hmap *m)
{
	free(m->e);
	memset(m, 0, sizeof *m);
}

static struct hmap_entry *find(const struct hmap *m, const char *key, size_t len, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct hmap_entry *e = &m->e[i];
		if (!e->key)
			return NULL;
		if (e->key != TOMBSTONE && e->hash == h && e->keylen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
}

static void rehash(struct hmap *m, size_t ncap)
{
	struct hmap_entry *old = m->e;
	size_t ocap = m->cap;
	m->e = xcalloc(ncap, sizeof *m->e);
	m->cap = ncap;
	m->tomb = 0;
	size_t mask = ncap - 1;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].key || old[i].key == TOMBSTONE)
			continue;
		size_t j = old[i].hash & mask;
		while (m->e[j].key)
			j = (j + 1) & mask;
		m->e[j] = old[i];
	}
	free(old);
}

static void grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	if (m->cap && m->tomb > m->count)
		ncap = m->cap; /* mostly tombstones: rehash at the same size */
	rehash(m, ncap);
}

void hmap_reserve(struct hmap *m, size_t n)
{
	/* The same load limit as hmap_put: at most 3/4 full. */
	size_t ncap = m->cap ? m->cap : 16;
	while ((n + 1) * 4 > ncap * 3)
		ncap *= 2;
	if (ncap > m->cap)
		rehash(m, ncap);
}

void *hmap_put(struct hmap *m, const char *key, size_t len, void *value)
{
	return hmap_put_h(m, key, len, hmap_hash(key, len), value);
}

void *hmap_put_h(struct hmap *m, const char *key, size_t len, uint64_t h, void *value)
{
	struct hmap_entry *e = find(m, key, len, h);
	if (e) {
		void *prev = e->value;
		e->value = value;
		e->key = key;
		return prev;
	}
	if ((m->count + m->tomb + 1) * 4 > m->cap * 3)
		grow(m);
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->e[i].key && m->e[i].key != TOMBSTONE)
		i = (i + 1) & mask;
	if (m->e[i].key == TOMBSTONE)
		m->tomb--;
	m->e[i] = (struct hmap_entry){ key, len, h, value };
	m->count++;
	return NULL;
}

void *hmap_get(const struct hmap *m, const char *key, size_t len)
{
	return hmap_get_h(m, key, len, hmap_hash(key, len));
}

void *hmap_get_h(const struct hmap *m, const char *key, size_t len, uint64_t h)
{
	struct hmap_entry *e = find(m, key, len, h);
	return e ? e->value : NULL;
}

void *hmap_del(struct hmap *m, const char *key, size_t len)
{
	struct hmap_entry *e = find(m, key, len, hmap_hash(key, len));
	if (!e)
		return NULL;
	void *v = e->value;
	e->key = TOMBSTONE;
	e->value = NULL;
	m->count--;
	m->tomb++;
	return v;
}

int hmap_next(const struct hmap *m, size_t *iter, const struct hmap_entry **out)
{
	for (size_t i = *iter; i < m->cap; i++) {
		if (m->e[i].key && m->e[i].key != TOMBSTONE) {
			*out = &m->e[i];
			*iter = i + 1;
			return 1;
		}
	}
	return 0;
}
