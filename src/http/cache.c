/*
 * cache: answers that are built from the whole model (the overview, the
 * pages of open alerts) kept while nothing they show has changed.
 *
 * An entry is keyed by the route, the query string and the caller's scope
 * (role, centers, customer: two callers with the same scope see the same
 * answer), and holds the MHD response itself - MHD counts its references,
 * so one response is queued to many connections without a copy - with
 * the app's version at build time (app_version: changes through the hub,
 * reloads).  A lookup with another version is a miss; the entry is then
 * rebuilt by the handler.  At most CACHE_ENTRIES entries and CACHE_BYTES
 * of bodies; the least recently used goes first.
 *
 * Only answers that change through hub events belong here: a check's
 * last_check moves with every result without one, so check lists are
 * never cached.  Must never: serve an answer built for another scope.
 */
#include "http/http_int.h"
#include "app/app.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_ENTRIES 64
#define CACHE_BYTES   (64u * 1024 * 1024)

struct cache_entry {
	char *key;
	struct app_version ver;
	struct MHD_Response *resp;
	unsigned status;
	char etag[40];
	size_t bytes;
	uint64_t used; /* LRU clock */
};

struct http_cache {
	struct cache_entry e[CACHE_ENTRIES];
	size_t n, bytes;
	uint64_t clock;
	unsigned long long hits, misses;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
	struct buf *b = cls;
	buf_put(b, "&%s=%s", key, value ? value : "");
	return MHD_YES;
}

/* route + query + scope */
static char *make_key(struct req *r)
{
	struct buf b = { 0 };
	buf_put(&b, "%s?", r->route->name);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &b);
	buf_put(&b, "|%d|%s|", (int)r->who.role, r->who.customer ? r->who.customer : "");
	for (size_t i = 0; i < r->who.n_centers; i++)
		buf_put(&b, "%s,", r->who.centers[i]);
	return b.p;
}

static void drop(struct http_cache *c, size_t i)
{
	struct cache_entry *x = &c->e[i];
	c->bytes -= x->bytes;
	free(x->key);
	MHD_destroy_response(x->resp);
	c->e[i] = c->e[--c->n];
}

/* 1: answered from the cache (200 with the cached body, or 304). */
int cache_answer(struct req *r)
{
	struct http_cache *c = r->h->cache;
	if (!c)
		return 0;
	char *key = make_key(r);
	struct app_version v;
	app_version(req_app(r), &v);
	for (size_t i = 0; i < c->n; i++) {
		struct cache_entry *x = &c->e[i];
		if (strcmp(x->key, key) != 0)
			continue;
		free(key);
		if (x->ver.changes != v.changes || x->ver.generation != v.generation) {
			drop(c, i);
			c->misses++;
			return 0;
		}
		x->used = ++c->clock;
		c->hits++;
		const char *inm = req_header(r, "If-None-Match");
		if (x->etag[0] && inm && (strstr(inm, x->etag) || strcmp(inm, "*") == 0)) {
			reply_empty(r, 304);
			req_add_header(r, "ETag", x->etag);
			return 1;
		}
		reply_shared(r, x->status, x->resp);
		return 1;
	}
	free(key);
	c->misses++;
	return 0;
}

/* Keep what the handler just answered (r->resp, not yet queued). */
void cache_keep(struct req *r, const char *etag, size_t bytes)
{
	struct http_cache *c = r->h->cache;
	if (!c || !r->resp || r->status != 200 || bytes > CACHE_BYTES / 4)
		return;
	while (c->n && (c->n == CACHE_ENTRIES || c->bytes + bytes > CACHE_BYTES)) {
		size_t old = 0;
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[old].used)
				old = i;
		drop(c, old);
	}
	struct cache_entry *x = &c->e[c->n++];
	memset(x, 0, sizeof *x);
	x->key = make_key(r);
	app_version(req_app(r), &x->ver);
	x->status = 200;
	snprintf(x->etag, sizeof x->etag, "%s", etag ? etag : "");
	x->bytes = bytes;
	x->used = ++c->clock;
	c->bytes += bytes;
	/* the cache's own reference; the request's is dropped after queueing */
	x->resp = r->resp;
	r->resp_shared = 1;
}

struct http_cache *cache_new(void)
{
	return xcalloc(1, sizeof(struct http_cache));
}

void cache_free(struct http_cache *c)
{
	if (!c)
		return;
	while (c->n)
		drop(c, c->n - 1);
	free(c);
}

void cache_stats(const struct http_cache *c, unsigned long long *hits, unsigned long long *misses)
{
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}
