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

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
};

static const char *const err_name[JSONW_E__COUNT] = {
	[JSONW_OK] = "ok",           [JSONW_E_EMPTY] = "empty",       [JSONW_E_SIZE] = "size",
	[JSONW_E_UTF8] = "utf8",     [JSONW_E_CONTROL] = "control",   [JSONW_E_DEPTH] = "depth",
	[JSONW_E_SYNTAX] = "syntax", [JSONW_E_TRAILING] = "trailing", [JSONW_E_DUPKEY] = "dupkey",
	[JSONW_E_NOMEM] = "nomem",
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

/* Cheap key hash: length and the first and last four bytes.  A byte-serial
 * hash (FNV) over all ~35 keys of a report cost more than half of cJSON's
 * parse; collisions only cost a strcmp. */
static uint32_t key_hash(const char *s)
{
	size_t n = strlen(s);
	uint32_t a = 0, b = 0;
	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
	} else {
		memcpy(&a, s, n);
	}
	uint32_t h = (uint32_t)n * 0x9E3779B1u ^ a * 0x85EBCA77u ^ b * 0xC2B2AE3Du;
	return h ^ (h >> 15);
}

struct key_slot {
	const char *key;
	uint32_t hash;
};

/* Duplicate keys among the members of one object: an open-addressing set
 * of at least twice the member count (on the stack up to 64 members; a
 * Defender report has ~35).  Pairwise comparison or sorting cost more
 * than cJSON's own parse on such objects. */
static enum jsonw_err object_dups(const cJSON *obj, size_t *probes)
{
	struct key_slot stackv[128];
	struct key_slot *tab = stackv;
	size_t n = 0, cap;
	enum jsonw_err e = JSONW_OK;

	for (const cJSON *c = obj->child; c; c = c->next)
		n++;
	if (n < 2)
		return JSONW_OK;
	cap = 16;
	while (cap < n + n / 2)
		cap *= 2;
	if (cap > 128 && !(tab = malloc(cap * sizeof(*tab))))
		return JSONW_E_NOMEM;
	memset(tab, 0, cap * sizeof(*tab));
	for (const cJSON *c = obj->child; c && e == JSONW_OK; c = c->next) {
		uint32_t h = key_hash(c->string);
		size_t j = h & (cap - 1);
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
static enum jsonw_err tree_dups(const cJSON *root, int max_depth, size_t *probes)
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
			e = object_dups(n, probes);
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

	if (!probes)
		probes = &dummy;
	*probes = 0;
	return root ? tree_dups(root, max_depth, probes) : JSONW_OK;
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
