/*
 * jsonw: the strict JSON gate.  Every JSON input from outside (agent
 * reports, contact-center commands, API bodies) goes through jsonw_parse.
 *
 * cJSON is fast (~550,000 Defender reports/s) but lenient: it accepts
 * invalid UTF-8, raw control characters in strings, duplicate keys (the
 * first one silently wins in lookups) and recurses once per nesting level.
 * jsonw closes those holes in front of it:
 *   1. size limit (before anything is read);
 *   2. one non-recursive pre-scan of the bytes: strict UTF-8 (no overlong
 *      forms, no surrogates, nothing above U+10FFFF), no NUL bytes, no raw
 *      control characters or \u0000 inside strings, nesting depth limit -
 *      so 100,000 levels of '[' are refused without touching the stack;
 *   3. cJSON_ParseWithLengthOpts (syntax), trailing garbage refused;
 *   4. duplicate keys refused in every object of the tree, and objects
 *      of more than max_members members; keys are hashed with SipHash
 *      under a random per-process key, so a sender cannot pick keys that
 *      collide and turn the check quadratic.
 * The result is a cJSON tree the caller frees with cJSON_Delete, or NULL
 * and an error code + byte offset.  No logging, and no globals but the
 * hash key (random, set once per process): callers decide what to count
 * and log.
 *
 * Plugins get the same code through plugins/lib/jsonw.c (they link cJSON
 * themselves: PLUGIN_CFLAGS_x = $(CJSON_CFLAGS), PLUGIN_LIBS_x = $(CJSON_LIBS)).
 */
#ifndef MAMORI_JSONW_H
#define MAMORI_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#define JSONW_DEFAULT_MAX_SIZE    (64u * 1024u)
#define JSONW_DEFAULT_MAX_DEPTH   32
/* Members of one object.  Real payloads are far below it (a Defender
 * report's widest object has 35); it bounds the duplicate-key check. */
#define JSONW_DEFAULT_MAX_MEMBERS 1024u

enum jsonw_err {
	JSONW_OK = 0,
	JSONW_E_EMPTY,    /* no bytes, or only whitespace */
	JSONW_E_SIZE,     /* larger than max_size */
	JSONW_E_UTF8,     /* invalid UTF-8 */
	JSONW_E_CONTROL,  /* NUL byte, raw control character or \u0000 in a string */
	JSONW_E_DEPTH,    /* nested deeper than max_depth */
	JSONW_E_SYNTAX,   /* not JSON (cJSON refused it) */
	JSONW_E_TRAILING, /* bytes after the JSON value */
	JSONW_E_DUPKEY,   /* an object has the same key twice */
	JSONW_E_NOMEM,
	JSONW_E_MEMBERS, /* an object has more than max_members members */
	JSONW_E__COUNT
};

struct jsonw_limits {
	size_t max_size;    /* bytes; 0 = JSONW_DEFAULT_MAX_SIZE */
	int max_depth;      /* 0 = JSONW_DEFAULT_MAX_DEPTH */
	size_t max_members; /* per object; 0 = JSONW_DEFAULT_MAX_MEMBERS */
};

struct jsonw_error {
	enum jsonw_err code;
	size_t offset; /* byte offset of the problem (best effort) */
};

/* Parse `len` bytes of `buf` (need not be NUL-terminated).  lim may be
 * NULL (defaults).  Returns a tree to cJSON_Delete, or NULL with *err set
 * (err may be NULL). */
cJSON *jsonw_parse(const char *buf, size_t len, const struct jsonw_limits *lim,
                   struct jsonw_error *err);

/* Only the pre-scan (steps 1-2): JSONW_OK or the first error found. */
enum jsonw_err jsonw_prescan(const char *buf, size_t len, const struct jsonw_limits *lim,
                             size_t *offset);

/* Only step 4, on a tree cJSON built: JSONW_OK or the first error found.
 * *probes (may be NULL) is set to the number of hash-table slots the
 * duplicate-key check examined: a measure of its work that does not depend
 * on the machine's speed, for tests that bound the worst case. */
enum jsonw_err jsonw_check_keys(const cJSON *root, const struct jsonw_limits *lim, size_t *probes);

/* SipHash-c-d (c compression, d finalization rounds) of msg under a
 * 16-byte key, as in the paper (key and words little-endian).  Step 4 uses
 * SipHash-1-3; exposed so the tests can check it against published
 * vectors. */
uint64_t jsonw_siphash(const unsigned char key[16], const void *msg, size_t len, int c, int d);
/* SipHash-2-4 of msg under this process's random key (the one the
 * duplicate-key check uses): a fingerprint others cannot aim collisions
 * at.  Differs between processes: never store it. */
uint64_t jsonw_keyed_hash(const void *msg, size_t len);

/* Short text for an error code ("invalid UTF-8"); never NULL. */
const char *jsonw_strerror(enum jsonw_err e);
/* Stable identifier for counters and logs ("utf8", "depth", ...). */
const char *jsonw_errname(enum jsonw_err e);

/* Typed getters for an object member.  Return 1 when present with the
 * right type (value stored), 0 when absent, -1 when present with another
 * type (JSON null counts as another type).  jsonw_get_uint also returns -1
 * for a number that is not an integer in 0..max. */
int jsonw_get_bool(const cJSON *obj, const char *key, int *out);
int jsonw_get_string(const cJSON *obj, const char *key, const char **out);
int jsonw_get_uint(const cJSON *obj, const char *key, double max, double *out);

#endif
