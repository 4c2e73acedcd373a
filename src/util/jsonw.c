/*
 * jsonw: strict JSON wrapper around cJSON.  See jsonw.h for the contract.
 *
 * The pre-scan is a single forward pass with O(1) memory: it tracks only
 * "inside a string", "after a backslash" and the current depth, so hostile
 * input (100,000 levels of nesting, 300 kB strings) costs one linear read
 * and never recursion.  cJSON only sees input the pre-scan accepted, which
 * bounds its own recursion by max_depth.
 */
#include "util/jsonw.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char *const err_text[JSONW_E__COUNT] = {
	[JSONW_OK] = "ok",
	[JSONW_E_EMPTY] = "empty input",
	[JSONW_E_SIZE] = "too large",
	[JSONW_E_UTF8] = "invalid UTF-8",
	[JSONW_E_CONTROL] = "control character or NUL in string",
	[JSONW_E_DEPTH] = "nested too deeply",
	[JSONW_E_SYNTAX] = "not valid JSON",
	[JSONW_E_TRAILING] = "data after the JSON value",
	[JSONW_E_DUPKEY] = "duplicate key",
	[JSONW_E_NOMEM] = "out of memory",
	[JSONW_E_MEMBERS] = "too many members in an object",
};

static const char *const err_name[JSONW_E__COUNT] = {
	[JSONW_OK] = "ok",           [JSONW_E_EMPTY] = "empty",       [JSONW_E_SIZE] = "size",
	[JSONW_E_UTF8] = "utf8",     [JSONW_E_CONTROL] = "control",   [JSONW_E_DEPTH] = "depth",
	[JSONW_E_SYNTAX] = "syntax", [JSONW_E_TRAILING] = "trailing", [JSONW_E_DUPKEY] = "dupkey",
	[JSONW_E_NOMEM] = "nomem",   [JSONW_E_MEMBERS] = "members",
};

const char *jsonw_strerror(enum jsonw_err e)
{
	if ((unsigned)e >= JSONW_E__COUNT)
		return "unknown error";
	return err_text[e];
}

const char *jsonw_errname(enum jsonw_err e)
{
	if ((unsigned)e >= JSONW_E__COUNT)
		return "unknown";
	return err_name[e];
}

/* Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80),
 * or 0 if invalid.  Ranges from RFC 3629 section 4: this refuses overlong
 * forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF) and
 * code points above U+10FFFF (F4 90.., F5..FF). */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (left < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Inside a string at a backslash (p[i] == '\\'): validate the escape.
 * Returns the number of bytes it spans, or 0 for \u0000 (refused: C
 * strings cannot hold it, and "a\u0000b" would collide with "a" as a key).
 * Other malformed escapes are left to cJSON (reported as syntax). */
static size_t escape_len(const unsigned char *p, size_t left)
{
	if (left < 2)
		return 1;
	if (p[1] != 'u')
		return 2;
	if (left < 6)
		return 2;
	for (int k = 2; k < 6; k++)
		if (!is_hex(p[k]))
			return 2;
	if (p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
		return 0;
	return 6;
}

/* Byte classes for the pre-scan's fast paths: bytes that need no
 * attention inside a string (S_PLAIN) or outside one (O_PLAIN). */
enum { S_PLAIN = 1, O_PLAIN = 2 };

static unsigned char byte_class(unsigned char c)
{
	unsigned char k = 0;
	if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
		k |= S_PLAIN;
	if (c != 0 && c < 0x80 && c != '"' && c != '[' && c != '{' && c != ']' && c != '}')
		k |= O_PLAIN;
	return k;
}

struct class_table {
	unsigned char k[256];
};

static struct class_table class_table_make(void)
{
	struct class_table t;
	for (int c = 0; c < 256; c++)
		t.k[c] = byte_class((unsigned char)c);
	return t;
}

/* Skip UTF-8 at p[*i] (lead >= 0x80); 0 if invalid. */
static int skip_utf8(const unsigned char *p, size_t len, size_t *i)
{
	size_t n = utf8_seq(p + *i, len - *i);
	*i += n;
	return n != 0;
}

enum jsonw_err jsonw_prescan(const char *buf, size_t len, const struct jsonw_limits *lim,
                             size_t *offset)
{
	/* Built per call on the stack: 256 bytes, cheaper than a branchy loop
	 * and keeps the module free of (even constant-initialised) statics
	 * that would need a generator. */
	const struct class_table t = class_table_make();
	const unsigned char *p = (const unsigned char *)buf;
	size_t max_size = lim && lim->max_size ? lim->max_size : JSONW_DEFAULT_MAX_SIZE;
	int max_depth = lim && lim->max_depth ? lim->max_depth : JSONW_DEFAULT_MAX_DEPTH;
	int depth = 0;
	size_t i = 0;
	enum jsonw_err e = JSONW_OK;

	if (len > max_size) {
		i = max_size;
		e = JSONW_E_SIZE;
		goto out;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	if (i == len) {
		e = JSONW_E_EMPTY;
		goto out;
	}
	while (i < len) {
		unsigned char c = p[i];
		if (t.k[c] & O_PLAIN) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			if (!skip_utf8(p, len, &i)) {
				e = JSONW_E_UTF8;
				goto out;
			}
			continue;
		}
		if (c == 0) {
			e = JSONW_E_CONTROL;
			goto out;
		}
		if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				e = JSONW_E_DEPTH;
				goto out;
			}
			i++;
			continue;
		}
		if (c == ']' || c == '}') {
			depth--;
			i++;
			continue;
		}
		/* c == '"': scan the string */
		for (i++; i < len;) {
			c = p[i];
			if (t.k[c] & S_PLAIN) {
				i++;
				continue;
			}
			if (c == '"')
				break;
			if (c >= 0x80) {
				if (!skip_utf8(p, len, &i)) {
					e = JSONW_E_UTF8;
					goto out;
				}
				continue;
			}
			if (c < 0x20) {
				e = JSONW_E_CONTROL;
				goto out;
			}
			/* backslash */
			size_t n = escape_len(p + i, len - i);
			if (!n) {
				e = JSONW_E_CONTROL;
				goto out;
			}
			i += n;
		}
		i++;
	}
out:
	if (offset)
		*offset = i > len ? len : i;
	return e;
}

/* ---- key hashing: SipHash with a per-process random key ---------------
 *
 * The duplicate-key check hashes every key of every object an agent sends,
 * so the hash must not let a sender choose collisions.  It once covered
 * only the length and the first and last four bytes: one 64 KiB report of
 * ~4,300 keys alike in those bytes made ~9.5 million probes and held the
 * event loop for ~27 ms.  SipHash (Aumasson and Bernstein, "SipHash: a
 * fast short-input PRF", 2012) over the whole key, under a key the sender
 * cannot know, leaves no such choice.  The 1-3 variant (one compression
 * round per word, three finalization rounds) is the one hash tables
 * commonly use; it costs ~5 ns more per short key than the old hash did
 * (the whole check of healthy.json: ~0.4 -> ~0.6 us, next to ~3 us for
 * cJSON's parse).  Written here from the paper's description, not taken
 * from another project. */

static uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

/* Little-endian 64-bit word at p, whatever the host's byte order. */
static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static void sip_rounds(struct sip_state *s, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		s->v0 += s->v1;
		s->v1 = rotl64(s->v1, 13);
		s->v1 ^= s->v0;
		s->v0 = rotl64(s->v0, 32);
		s->v2 += s->v3;
		s->v3 = rotl64(s->v3, 16);
		s->v3 ^= s->v2;
		s->v0 += s->v3;
		s->v3 = rotl64(s->v3, 21);
		s->v3 ^= s->v0;
		s->v2 += s->v1;
		s->v1 = rotl64(s->v1, 17);
		s->v1 ^= s->v2;
		s->v2 = rotl64(s->v2, 32);
	}
}

/* SipHash-c-d of m[0..n) under the key (k0, k1). */
static inline uint64_t siphash(uint64_t k0, uint64_t k1, const unsigned char *m, size_t n, int c,
                               int d)
{
	/* the paper's initialisation constants: "somepseudorandomlygeneratedbytes" */
	struct sip_state s = {
		k0 ^ 0x736f6d6570736575ull,
		k1 ^ 0x646f72616e646f6dull,
		k0 ^ 0x6c7967656e657261ull,
		k1 ^ 0x7465646279746573ull,
	};
	const unsigned char *end = m + (n & ~(size_t)7);
	uint64_t w;

	for (; m < end; m += 8) {
		w = load_le64(m);
		s.v3 ^= w;
		sip_rounds(&s, c);
		s.v0 ^= w;
	}
	/* last word: the 0..7 remaining bytes, and n mod 256 in the top byte */
	w = (uint64_t)n << 56;
	for (size_t i = 0; i < (n & 7); i++)
		w |= (uint64_t)m[i] << (8 * i);
	s.v3 ^= w;
	sip_rounds(&s, c);
	s.v0 ^= w;
	s.v2 ^= 0xff;
	sip_rounds(&s, d);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t jsonw_siphash(const unsigned char key[16], const void *msg, size_t len, int c, int d)
{
	return siphash(load_le64(key), load_le64(key + 8), msg, len, c, d);
}

/* The key: the one piece of state jsonw keeps between calls.  It is
 * written once per process (per plugin, which has its own copy of this
 * file) before the first check reads it, and never changes, so it is not
 * shared mutable state in the sense the style guide forbids; passing it
 * in from a context would change every caller for no gain, and reading
 * fresh randomness per message would cost a system call each. */
static struct {
	uint64_t k0, k1;
} hash_key;
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
	unsigned char b[16];
	size_t got = 0;
	int saved_errno = errno;

	/* GRND_NONBLOCK: the first check runs on the event loop, which must
	 * not wait for the kernel's pool at early boot. */
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, GRND_NONBLOCK);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EINTR)
			break;
	}
	if (got == sizeof(b)) {
		hash_key.k0 = load_le64(b);
		hash_key.k1 = load_le64(b + 8);
	} else {
		/* No kernel randomness (pool not ready, or no getrandom): what
		 * differs between processes and runs.  Guessable in principle
		 * (start time, pid, address layout); were it guessed, the member
		 * limit still bounds a 64 KiB message to ~2 million probes
		 * (~7 ms) instead of ~9.5 million. */
		struct timespec rt, mono;
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		hash_key.k0 = ((uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec) ^
		              (uint64_t)getpid() << 40;
		hash_key.k1 = ((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec) ^
		              (uint64_t)(uintptr_t)&b ^ (uint64_t)(uintptr_t)&hash_key << 17;
	}
	errno = saved_errno;
}

uint64_t jsonw_keyed_hash(const void *msg, size_t len)
{
	pthread_once(&hash_key_once, hash_key_init);
	return siphash(hash_key.k0, hash_key.k1, msg, len, 2, 4);
}

static uint64_t key_hash(const char *s)
{
	return siphash(hash_key.k0, hash_key.k1, (const unsigned char *)s, strlen(s), 1, 3);
}

struct key_slot {
	const char *key;
	uint64_t hash;
};

/* Duplicate keys among the members of one object: an open-addressing set
 * of at least 1.5 times the member count, so at most 2/3 full (on the
 * stack up to 85 members; a Defender report has ~35).  Pairwise comparison
 * or sorting cost more than cJSON's own parse on such objects.  More than
 * max_members members are refused before any key is hashed: with a random
 * key the work is ~1.5-2 probes per key, but the limit keeps the worst
 * case bounded even if the key were known. */
static enum jsonw_err object_dups(const cJSON *obj, size_t max_members, size_t *probes)
{
	struct key_slot stackv[128];
	struct key_slot *tab = stackv;
	size_t n = 0, cap;
	enum jsonw_err e = JSONW_OK;

	for (const cJSON *c = obj->child; c; c = c->next)
		if (++n > max_members)
			return JSONW_E_MEMBERS;
	if (n < 2)
		return JSONW_OK;
	pthread_once(&hash_key_once, hash_key_init);
	cap = 16;
	while (cap < n + n / 2)
		cap *= 2;
	if (cap > 128 && !(tab = malloc(cap * sizeof(*tab))))
		return JSONW_E_NOMEM;
	memset(tab, 0, cap * sizeof(*tab));
	for (const cJSON *c = obj->child; c && e == JSONW_OK; c = c->next) {
		uint64_t h = key_hash(c->string);
		size_t j = (size_t)h & (cap - 1);
		for (;;) {
			(*probes)++;
			if (!tab[j].key)
				break;
			if (tab[j].hash == h && !strcmp(tab[j].key, c->string)) {
				e = JSONW_E_DUPKEY;
				break;
			}
			j = (j + 1) & (cap - 1);
		}
		tab[j].key = c->string;
		tab[j].hash = h;
	}
	if (tab != stackv)
		free(tab);
	return e;
}

/* Visit every container of the tree with an explicit stack instead of
 * recursion (depth is bounded by the pre-scan anyway; this keeps the
 * function safe whatever the limit).  The stack holds containers still to
 * visit, so a wide array can need more than max_depth slots: it grows. */
static enum jsonw_err tree_dups(const cJSON *root, int max_depth, size_t max_members,
                                size_t *probes)
{
	const cJSON *stackv[JSONW_DEFAULT_MAX_DEPTH + 2];
	const cJSON **st = stackv;
	size_t sp = 0, cap = sizeof(stackv) / sizeof(stackv[0]);
	enum jsonw_err e = JSONW_OK;

	if ((size_t)max_depth + 2 > cap) {
		cap = (size_t)max_depth + 2;
		if (!(st = malloc(cap * sizeof(*st))))
			return JSONW_E_NOMEM;
	}
	st[sp++] = root;
	while (sp && e == JSONW_OK) {
		const cJSON *n = st[--sp];
		if (cJSON_IsObject(n))
			e = object_dups(n, max_members, probes);
		for (const cJSON *c = n->child; c && e == JSONW_OK; c = c->next) {
			if (!c->child)
				continue;
			if (sp == cap) {
				const cJSON **ns = malloc(cap * 2 * sizeof(*ns));
				if (!ns) {
					e = JSONW_E_NOMEM;
					break;
				}
				memcpy(ns, st, sp * sizeof(*ns));
				if (st != stackv)
					free(st);
				st = ns;
				cap *= 2;
			}
			st[sp++] = c;
		}
	}
	if (st != stackv)
		free(st);
	return e;
}

enum jsonw_err jsonw_check_keys(const cJSON *root, const struct jsonw_limits *lim, size_t *probes)
{
	size_t dummy = 0;
	int max_depth = lim && lim->max_depth ? lim->max_depth : JSONW_DEFAULT_MAX_DEPTH;
	size_t max_members = lim && lim->max_members ? lim->max_members : JSONW_DEFAULT_MAX_MEMBERS;

	if (!probes)
		probes = &dummy;
	*probes = 0;
	return root ? tree_dups(root, max_depth, max_members, probes) : JSONW_OK;
}

static int only_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return 0;
	return 1;
}

cJSON *jsonw_parse(const char *buf, size_t len, const struct jsonw_limits *lim,
                   struct jsonw_error *err)
{
	struct jsonw_error dummy;
	const char *end = NULL;
	cJSON *root = NULL;

	if (!err)
		err = &dummy;
	err->offset = 0;
	if (!buf)
		len = 0;
	err->code = jsonw_prescan(buf, len, lim, &err->offset);
	if (err->code != JSONW_OK)
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		err->code = JSONW_E_SYNTAX;
		/* cJSON reports the failure position through cJSON_GetErrorPtr,
		 * a global; we do not read it (not thread-safe). */
		return NULL;
	}
	if (end && !only_space(end, buf + len)) {
		err->code = JSONW_E_TRAILING;
		err->offset = (size_t)(end - buf);
		goto fail;
	}
	err->code = jsonw_check_keys(root, lim, NULL);
	if (err->code != JSONW_OK)
		goto fail;
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

int jsonw_get_bool(const cJSON *obj, const char *key, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return -1;
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 1;
}

int jsonw_get_string(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return -1;
	*out = v->valuestring;
	return 1;
}

int jsonw_get_uint(const cJSON *obj, const char *key, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d > max || floor(d) != d)
		return -1;
	*out = d;
	return 1;
}
