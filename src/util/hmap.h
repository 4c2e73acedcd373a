/*
 * hmap: string-keyed hash map (open addressing, linear probing, power-of-
 * two capacity).  Keys are borrowed: the caller keeps them alive as long as
 * the entry exists (usually the key lives in the value).  Used for check
 * and asset lookup by name (reload matching, passive results).
 */
#ifndef MAMORI_HMAP_H
#define MAMORI_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_entry {
	const char *key;
	size_t keylen;
	uint64_t hash;
	void *value;
};

struct hmap {
	struct hmap_entry *e;
	size_t cap; /* power of two or 0 */
	size_t count;
	size_t tomb;
};

uint64_t hmap_hash(const void *key, size_t len);
void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);
/* Make room for n entries in all without growing (bulk loads). */
void hmap_reserve(struct hmap *m, size_t n);
/* Returns the previous value for key, or NULL. */
void *hmap_put(struct hmap *m, const char *key, size_t keylen, void *value);
void *hmap_get(const struct hmap *m, const char *key, size_t keylen);
/* The same with hash = hmap_hash(key, keylen) computed by the caller
 * (one hash for a lookup in one map and an insert into another). */
void *hmap_put_h(struct hmap *m, const char *key, size_t keylen, uint64_t hash, void *value);
void *hmap_get_h(const struct hmap *m, const char *key, size_t keylen, uint64_t hash);
void *hmap_del(struct hmap *m, const char *key, size_t keylen);
/* Iterate: for (size_t i = 0; hmap_next(m, &i, &e); ) ... */
int hmap_next(const struct hmap *m, size_t *iter, const struct hmap_entry **out);

#endif
