/*
 * auth_limit: one rate-limit table (failed logins per user name, or per
 * client address) with a fixed window per key: the window opens at the
 * key's first failure and lasts `window` seconds; `max_failures` failures
 * in it refuse further attempts until it closes.
 *
 * Bounded: at most `max_entries` keys; a new key beyond that evicts the
 * least recently used one (a doubly linked list in use order), so a
 * stream of new keys costs O(1) per attempt and never grows the table.
 * Keys are stored as a keyed SHA-256 digest (a random per-table key):
 * whoever picks the keys (addresses, names) cannot pick hash-map
 * collisions, and the table holds no name or address in the clear.
 *
 * Must never: allocate per attempt beyond one entry per new key, sleep,
 * or log (the caller audits).
 */
#include "auth/auth_int.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST 16

struct entry {
	unsigned char key[DIGEST];
	struct entry *prev, *next; /* use order: head the oldest */
	double first;              /* the window's start */
	unsigned failures;
};

struct auth__limit {
	struct hmap map; /* digest -> entry */
	struct entry *head, *tail;
	unsigned char secret[32];
	unsigned max_entries, max_failures;
	double window;
};

struct auth__limit *auth__limit_new(unsigned max_entries, unsigned max_failures, double window)
{
	struct auth__limit *l = xcalloc(1, sizeof *l);
	hmap_init(&l->map);
	l->max_entries = max_entries ? max_entries : 1;
	l->max_failures = max_failures ? max_failures : 1;
	l->window = window;
	/* without randomness the key is zero: still correct, only
	 * collisions become choosable */
	if (auth__random(l->secret, sizeof l->secret) != 0)
		memset(l->secret, 0, sizeof l->secret);
	return l;
}

static void unlink_entry(struct auth__limit *l, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void append(struct auth__limit *l, struct entry *e)
{
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static void drop(struct auth__limit *l, struct entry *e)
{
	unlink_entry(l, e);
	hmap_del(&l->map, (const char *)e->key, DIGEST);
	free(e);
}

void auth__limit_free(struct auth__limit *l)
{
	if (!l)
		return;
	while (l->head)
		drop(l, l->head);
	hmap_free(&l->map);
	OPENSSL_cleanse(l->secret, sizeof l->secret);
	free(l);
}

static void digest(const struct auth__limit *l, const char *key, unsigned char out[DIGEST])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort(); /* out of memory: as xmalloc does */
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, l->secret, sizeof l->secret);
	EVP_DigestUpdate(ctx, key, strlen(key));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	memcpy(out, md, DIGEST);
}

/* The key's entry, or NULL; an entry whose window closed is dropped. */
static struct entry *find(struct auth__limit *l, const char *key, double now)
{
	unsigned char d[DIGEST];
	digest(l, key, d);
	struct entry *e = hmap_get(&l->map, (const char *)d, DIGEST);
	if (e && now - e->first >= l->window) {
		drop(l, e);
		return NULL;
	}
	return e;
}

double auth__limit_check(struct auth__limit *l, const char *key, double now)
{
	struct entry *e = find(l, key, now);
	if (!e || e->failures < l->max_failures)
		return 0;
	double left = e->first + l->window - now;
	return left < 1 ? 1 : (double)(long long)(left + 0.999);
}

void auth__limit_fail(struct auth__limit *l, const char *key, double now)
{
	struct entry *e = find(l, key, now);
	if (!e) {
		if (l->map.count >= l->max_entries)
			drop(l, l->head);
		e = xcalloc(1, sizeof *e);
		digest(l, key, e->key);
		e->first = now;
		hmap_put(&l->map, (const char *)e->key, DIGEST, e);
	} else {
		unlink_entry(l, e);
	}
	append(l, e);
	if (e->failures != UINT_MAX)
		e->failures++;
}

void auth__limit_reset(struct auth__limit *l, const char *key)
{
	unsigned char d[DIGEST];
	digest(l, key, d);
	struct entry *e = hmap_get(&l->map, (const char *)d, DIGEST);
	if (e)
		drop(l, e);
}

void auth__limit_undo(struct auth__limit *l, const char *key)
{
	unsigned char d[DIGEST];
	digest(l, key, d);
	struct entry *e = hmap_get(&l->map, (const char *)d, DIGEST);
	if (!e)
		return;
	if (e->failures <= 1)
		drop(l, e);
	else
		e->failures--;
}

void auth__limit_sweep(struct auth__limit *l, double now)
{
	/* use order is not window order (an old key used again moves to the
	 * end), so look at every entry: at most max_entries, every 30 s */
	for (struct entry *e = l->head, *next; e; e = next) {
		next = e->next;
		if (now - e->first >= l->window)
			drop(l, e);
	}
}

size_t auth__limit_count(const struct auth__limit *l)
{
	return l->map.count;
}
