/*
 * cmd.c: parse and validate mamori.cmd/1, apply it to an alert, remember
 * processed command ids (see cmd.h).
 *
 * Parsing goes through jsonw (size, UTF-8, depth, duplicate keys), then
 * every field is checked for type and length.  Unknown fields are ignored
 * so that newer contact-center software can send more; a missing or wrong
 * required field is an error that names the field.
 */
#include "proto/cmd.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/jsonw.h"

#define CMD_MAX_PAYLOAD (16u * 1024u)
#define CMD_MAX_DEPTH   4
#define MAX_ALERT_ID    160
#define MAX_BY          128
#define MAX_TEXT        4096

static const char *const err_names[CMD_E__COUNT] = {
	"ok",      "malformed",      "schema",        "missing",
	"invalid", "unknown_action", "unknown_alert", "wrong_center",
	"state",   "last_tier",      "nomem",
};

const char *cmd_errname(enum cmd_err e)
{
	return (unsigned)e < CMD_E__COUNT ? err_names[e] : "unknown";
}

static enum cmd_err fail(enum cmd_err e, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum cmd_err fail(enum cmd_err e, char *msg, size_t msglen, const char *fmt, ...)
{
	if (msg && msglen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return e;
}

static const struct {
	const char *name;
	enum alert_action_type type;
} actions[] = {
	{ "ack", ALERT_ACT_ACK },           { "unack", ALERT_ACT_UNACK },
	{ "resolve", ALERT_ACT_RESOLVE },   { "escalate", ALERT_ACT_ESCALATE },
	{ "dispatch", ALERT_ACT_DISPATCH }, { "wait", ALERT_ACT_WAIT },
	{ "comment", ALERT_ACT_COMMENT },
};

/* No control characters in identifiers (they end up in logs and topics). */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Optional/required string member with a length limit; *out is a copy. */
static enum cmd_err get_text(const cJSON *o, const char *key, int required, size_t max, int ident,
                             char **out, char *msg, size_t msglen)
{
	const char *s;
	int r = jsonw_get_string(o, key, &s);
	*out = NULL;
	if (r == 0)
		return required ? fail(CMD_E_MISSING, msg, msglen, "missing field '%s'", key)
		                : CMD_OK;
	if (r < 0)
		return fail(CMD_E_INVALID, msg, msglen, "field '%s' must be a string", key);
	if ((required && !*s) || strlen(s) > max || (ident && !printable(s)))
		return fail(CMD_E_INVALID, msg, msglen, "field '%s' must be 1..%zu characters%s",
		            key, max, ident ? " without control characters" : "");
	if (!(*out = strdup(s)))
		return fail(CMD_E_NOMEM, msg, msglen, "out of memory");
	return CMD_OK;
}

static enum cmd_err parse_head(const cJSON *o, struct cmd *c, char *msg, size_t msglen)
{
	const char *s;
	int r = jsonw_get_string(o, "id", &s);
	if (r == 1 && *s && strlen(s) <= CMD_ID_MAX && printable(s))
		strcpy(c->id, s);
	else if (r == 0)
		return fail(CMD_E_MISSING, msg, msglen, "missing field 'id'");
	else
		return fail(CMD_E_INVALID, msg, msglen,
		            "field 'id' must be a string of 1..%d printable characters",
		            CMD_ID_MAX);
	r = jsonw_get_string(o, "schema", &s);
	if (r != 1 || strcmp(s, CMD_SCHEMA) != 0)
		return fail(CMD_E_SCHEMA, msg, msglen, "field 'schema' must be \"%s\"", CMD_SCHEMA);
	r = jsonw_get_string(o, "action", &s);
	if (r == 0)
		return fail(CMD_E_MISSING, msg, msglen, "missing field 'action'");
	if (r < 0)
		return fail(CMD_E_INVALID, msg, msglen, "field 'action' must be a string");
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(actions[i].name, s) == 0) {
			c->action = actions[i].type;
			return CMD_OK;
		}
	}
	return fail(CMD_E_UNKNOWN_ACTION, msg, msglen,
	            "unknown action (ack, unack, resolve, escalate, dispatch, wait, comment)");
}

static enum cmd_err parse_dispatch(const cJSON *o, struct cmd *c, char *msg, size_t msglen)
{
	enum cmd_err e;
	const char *s;
	if ((e = get_text(o, "vendor", 0, MAX_BY * 2, 1, &c->vendor, msg, msglen)) ||
	    (e = get_text(o, "result", 0, MAX_TEXT, 0, &c->result, msg, msglen)))
		return e;
	int r = jsonw_get_string(o, "planned_at", &s);
	if (r < 0 || (r == 1 && cmd_parse_rfc3339(s, &c->planned_at) < 0))
		return fail(
		    CMD_E_INVALID, msg, msglen,
		    "field 'planned_at' must be an RFC 3339 time (2026-11-27T09:10:00+09:00)");
	if (!c->vendor && !c->result && r == 0)
		return fail(CMD_E_MISSING, msg, msglen,
		            "dispatch needs at least one of 'vendor', 'planned_at', 'result'");
	return CMD_OK;
}

enum cmd_err cmd_parse(const char *buf, size_t len, struct cmd *c, char *msg, size_t msglen)
{
	struct jsonw_limits lim = { .max_size = CMD_MAX_PAYLOAD, .max_depth = CMD_MAX_DEPTH };
	struct jsonw_error jerr;
	enum cmd_err e;
	memset(c, 0, sizeof(*c));
	cJSON *o = buf ? jsonw_parse(buf, len, &lim, &jerr) : NULL;
	if (!o)
		return fail(CMD_E_MALFORMED, msg, msglen, "malformed JSON: %s at byte %zu",
		            buf ? jsonw_strerror(jerr.code) : "no payload", buf ? jerr.offset : 0);
	if (!cJSON_IsObject(o)) {
		e = fail(CMD_E_MALFORMED, msg, msglen, "malformed: payload must be a JSON object");
		goto out;
	}
	if ((e = parse_head(o, c, msg, msglen)) ||
	    (e = get_text(o, "alert", 1, MAX_ALERT_ID, 1, &c->alert, msg, msglen)) ||
	    (e = get_text(o, "by", 1, MAX_BY, 1, &c->by, msg, msglen)))
		goto out;
	/* A manual resolve must say why (it is the record of the fix). */
	int need_note = c->action == ALERT_ACT_RESOLVE || c->action == ALERT_ACT_COMMENT;
	if ((e = get_text(o, "note", need_note, MAX_TEXT, 0, &c->note, msg, msglen)))
		goto out;
	if (c->action == ALERT_ACT_DISPATCH)
		e = parse_dispatch(o, c, msg, msglen);
out:
	cJSON_Delete(o);
	if (e != CMD_OK) {
		char id[CMD_ID_MAX + 1];
		memcpy(id, c->id, sizeof(id));
		cmd_clear(c);
		memcpy(c->id, id, sizeof(id));
	}
	return e;
}

void cmd_clear(struct cmd *c)
{
	free(c->alert);
	free(c->by);
	free(c->note);
	free(c->vendor);
	free(c->result);
	memset(c, 0, sizeof(*c));
}

/* --- processed ids ---
 *
 * Each processed (origin, id) is kept as a 64-bit fingerprint: SipHash-2-4
 * of "origin\nid" under the process's random key, its low 4 bits replaced
 * by the first answer's code.  60 bits make a false "already seen" among
 * a million ids about one in a million million per command, and nobody
 * outside can aim at one (the key is random per process; the ids are
 * hashed again from the store at start).
 *
 * `tab` is an open-addressing set of those words (linear probing; 0 is
 * an empty slot, 1 a deleted one), at most 3/4 full counting deletions.
 * Each origin (a center, or "http:<user>") has a ring of its own
 * fingerprints and times in the order they came: a center that sends
 * many commands forgets only its own oldest, never another's, and ids
 * older than `keep` seconds leave from the ring's head as the origin adds
 * new ones.  About 30 bytes per id. */

#define FP_CODE  0xfull
#define FP_EMPTY 0
#define FP_TOMB  1
_Static_assert(CMD_E__COUNT <= 16, "a code must fit in a fingerprint's low 4 bits");

struct seen_ring {
	uint64_t *fp; /* fingerprints without the code, oldest at `tail` */
	uint32_t *t;  /* seconds since 1970 */
	size_t size, tail, n;
	char *center; /* the key in `rings` (a copy: the caller's string goes) */
};

struct cmd_seen {
	uint64_t *tab;
	size_t tab_size, used, tombs; /* tab_size: a power of two */
	struct hmap rings;            /* origin -> struct seen_ring */
	size_t cap, n;
	double keep;
};

struct cmd_seen *cmd_seen_new(size_t capacity, double keep)
{
	struct cmd_seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = capacity ? capacity : 1;
	s->keep = keep;
	hmap_init(&s->rings);
	return s;
}

void cmd_seen_free(struct cmd_seen *s)
{
	if (!s)
		return;
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&s->rings, &it, &he)) {
		struct seen_ring *r = he->value;
		free(r->fp);
		free(r->t);
		free(r->center);
		free(r);
	}
	hmap_free(&s->rings);
	free(s->tab);
	free(s);
}

size_t cmd_seen_count(const struct cmd_seen *s)
{
	return s->n;
}

size_t cmd_seen_bytes(const struct cmd_seen *s)
{
	size_t b = sizeof(*s) + s->tab_size * sizeof(*s->tab);
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&s->rings, &it, &he)) {
		const struct seen_ring *r = he->value;
		b +=
		    sizeof(*r) + r->size * (sizeof(*r->fp) + sizeof(*r->t)) + strlen(r->center) + 1;
	}
	return b;
}

static uint64_t fingerprint(const char *center, const char *id)
{
	char k[512];
	int n = snprintf(k, sizeof(k), "%s\n%s", center ? center : "", id ? id : "");
	if (n < 0 || (size_t)n >= sizeof(k))
		n = (int)sizeof(k) - 1; /* ids are at most CMD_ID_MAX: cannot happen */
	uint64_t h = jsonw_keyed_hash(k, (size_t)n) & ~FP_CODE;
	return h ? h : FP_CODE + 1;
}

/* The slot holding fp, or (insert) the first free one on its path; NULL
 * when absent (lookup). */
static uint64_t *tab_find(const struct cmd_seen *s, uint64_t fp, int insert)
{
	if (!s->tab_size)
		return NULL;
	size_t mask = s->tab_size - 1, i = (size_t)(fp >> 4) & mask;
	uint64_t *free_slot = NULL;
	for (size_t probes = 0; probes < s->tab_size; probes++, i = (i + 1) & mask) {
		uint64_t v = s->tab[i];
		if (v == FP_EMPTY)
			return insert ? (free_slot ? free_slot : &s->tab[i]) : NULL;
		if (v == FP_TOMB) {
			if (!free_slot)
				free_slot = &s->tab[i];
		} else if ((v & ~FP_CODE) == fp) {
			return &s->tab[i];
		}
	}
	return insert ? free_slot : NULL;
}

static int tab_grow(struct cmd_seen *s)
{
	if ((s->used + s->tombs + 1) * 4 <= s->tab_size * 3)
		return 0;
	size_t size = 64;
	while (size < (s->used + 1) * 2) /* live entries at most half after */
		size *= 2;
	uint64_t *tab = calloc(size, sizeof(*tab));
	if (!tab)
		return -1;
	uint64_t *old = s->tab;
	size_t old_size = s->tab_size;
	s->tab = tab;
	s->tab_size = size;
	s->tombs = 0;
	for (size_t i = 0; i < old_size; i++)
		if (old[i] > FP_TOMB)
			*tab_find(s, old[i] & ~FP_CODE, 1) = old[i];
	free(old);
	return 0;
}

int cmd_seen_lookup(const struct cmd_seen *s, const char *center, const char *id,
                    enum cmd_err *result)
{
	const uint64_t *v = tab_find(s, fingerprint(center, id), 0);
	if (!v)
		return 0;
	if (result)
		*result = (enum cmd_err)(*v & FP_CODE);
	return 1;
}

static struct seen_ring *ring_of(struct cmd_seen *s, const char *center)
{
	const char *c = center ? center : "";
	struct seen_ring *r = hmap_get(&s->rings, c, strlen(c));
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	char *key = strdup(c);
	if (!r || !key) {
		free(r);
		free(key);
		return NULL;
	}
	r->center = key;
	if (hmap_put(&s->rings, key, strlen(key), r) == NULL &&
	    !hmap_get(&s->rings, key, strlen(key))) {
		free(key);
		free(r);
		return NULL;
	}
	return r;
}

/* Forget the ring's oldest id. */
static void ring_pop(struct cmd_seen *s, struct seen_ring *r)
{
	uint64_t *v = tab_find(s, r->fp[r->tail], 0);
	if (v) {
		*v = FP_TOMB;
		s->used--;
		s->tombs++;
	}
	r->tail = (r->tail + 1) % r->size;
	r->n--;
	s->n--;
}

int cmd_seen_add(struct cmd_seen *s, const char *center, const char *id, enum cmd_err result,
                 double now)
{
	uint64_t fp = fingerprint(center, id);
	uint64_t *v = tab_find(s, fp, 0);
	if (v) {
		*v = fp | ((uint64_t)result & FP_CODE);
		return 0;
	}
	struct seen_ring *r = ring_of(s, center);
	if (!r)
		return -1;
	uint32_t t = now <= 0 ? 0 : now >= 4294967295.0 ? UINT32_MAX : (uint32_t)now;
	while (r->n && s->keep > 0 && r->t[r->tail] < now - s->keep)
		ring_pop(s, r);
	if (r->n == s->cap)
		ring_pop(s, r); /* this origin's ring is full: forget its oldest */
	if (r->n == r->size) {
		/* grow (doubling up to the capacity), unrolling the ring so that
		 * it is in order 0..n-1 again */
		size_t size = r->size ? r->size * 2 : 16;
		if (size > s->cap)
			size = s->cap;
		uint64_t *nfp = malloc(size * sizeof(*nfp));
		uint32_t *nt = malloc(size * sizeof(*nt));
		if (!nfp || !nt) {
			free(nfp);
			free(nt);
			return -1;
		}
		for (size_t i = 0; i < r->n; i++) {
			nfp[i] = r->fp[(r->tail + i) % r->size];
			nt[i] = r->t[(r->tail + i) % r->size];
		}
		free(r->fp);
		free(r->t);
		r->fp = nfp;
		r->t = nt;
		r->size = size;
		r->tail = 0;
	}
	if (tab_grow(s) < 0)
		return -1;
	v = tab_find(s, fp, 1);
	if (*v == FP_TOMB)
		s->tombs--;
	*v = fp | ((uint64_t)result & FP_CODE);
	s->used++;
	size_t head = (r->tail + r->n) % r->size;
	r->fp[head] = fp;
	r->t[head] = t;
	r->n++;
	s->n++;
	return 0;
}
