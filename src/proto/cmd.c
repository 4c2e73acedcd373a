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
 * One ring per origin (a center, or "http:<user>"): a center that sends
 * many commands forgets only its own oldest ids, never another's.  A
 * ring's slots are allocated as it fills (doubling up to the capacity),
 * so an origin with few commands costs little. */

struct seen_entry {
	char *key; /* center "\n" id (neither may contain a newline) */
	enum cmd_err result;
};

struct seen_ring {
	struct seen_entry **slot; /* size `size`, up to the capacity */
	size_t size, head, n;
	char *center; /* the key in `rings` (a copy: the caller's string goes) */
};

struct cmd_seen {
	struct hmap map;   /* center "\n" id -> struct seen_entry */
	struct hmap rings; /* center -> struct seen_ring */
	size_t cap, n;
};

struct cmd_seen *cmd_seen_new(size_t capacity)
{
	struct cmd_seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = capacity ? capacity : 1;
	hmap_init(&s->map);
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
		for (size_t i = 0; i < r->size; i++)
			if (r->slot[i]) {
				free(r->slot[i]->key);
				free(r->slot[i]);
			}
		free(r->slot);
		free(r->center);
		free(r);
	}
	hmap_free(&s->rings);
	hmap_free(&s->map);
	free(s);
}

size_t cmd_seen_count(const struct cmd_seen *s)
{
	return s->n;
}

static int seen_key(char *buf, size_t size, const char *center, const char *id)
{
	int n = snprintf(buf, size, "%s\n%s", center ? center : "", id ? id : "");
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int cmd_seen_lookup(const struct cmd_seen *s, const char *center, const char *id,
                    enum cmd_err *result)
{
	char k[512];
	int n = seen_key(k, sizeof(k), center, id);
	if (n < 0)
		return 0;
	const struct seen_entry *e = hmap_get(&s->map, k, (size_t)n);
	if (!e)
		return 0;
	if (result)
		*result = e->result;
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

int cmd_seen_add(struct cmd_seen *s, const char *center, const char *id, enum cmd_err result)
{
	char k[512];
	int n = seen_key(k, sizeof(k), center, id);
	if (n < 0)
		return -1;
	struct seen_entry *e = hmap_get(&s->map, k, (size_t)n);
	if (e) {
		e->result = result;
		return 0;
	}
	struct seen_ring *r = ring_of(s, center);
	if (!r)
		return -1;
	if (r->n == r->size && r->size < s->cap) {
		/* not full yet: grow (the ring is still in order 0..n-1) */
		size_t size = r->size ? r->size * 2 : 16;
		if (size > s->cap)
			size = s->cap;
		struct seen_entry **slot = realloc(r->slot, size * sizeof(*slot));
		if (!slot)
			return -1;
		memset(slot + r->size, 0, (size - r->size) * sizeof(*slot));
		r->slot = slot;
		r->head = r->n;
		r->size = size;
	}
	e = calloc(1, sizeof(*e));
	char *key = strdup(k);
	if (!e || !key) {
		free(e);
		free(key);
		return -1;
	}
	e->key = key;
	e->result = result;
	if (hmap_put(&s->map, key, (size_t)n, e) == NULL && !hmap_get(&s->map, key, (size_t)n)) {
		free(key);
		free(e);
		return -1;
	}
	struct seen_entry *old = r->slot[r->head];
	if (old) { /* this origin's ring is full: forget its oldest */
		hmap_del(&s->map, old->key, strlen(old->key));
		free(old->key);
		free(old);
		r->n--;
		s->n--;
	}
	r->slot[r->head] = e;
	r->head = (r->head + 1) % r->size;
	r->n++;
	s->n++;
	return 0;
}
