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

/* --- processed ids --- */

struct seen_entry {
	char *key; /* center "\n" id (neither may contain a newline) */
	enum cmd_err result;
};

struct cmd_seen {
	struct hmap map;
	struct seen_entry *ring;
	size_t cap, head, n;
};

struct cmd_seen *cmd_seen_new(size_t capacity)
{
	struct cmd_seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = capacity ? capacity : 1;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	if (!s->ring) {
		free(s);
		return NULL;
	}
	hmap_init(&s->map);
	return s;
}

void cmd_seen_free(struct cmd_seen *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->ring[i].key);
	hmap_free(&s->map);
	free(s->ring);
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
	char *key = strdup(k);
	if (!key)
		return -1;
	e = &s->ring[s->head];
	if (e->key) { /* full: forget the oldest */
		hmap_del(&s->map, e->key, strlen(e->key));
		free(e->key);
		s->n--;
	}
	e->key = key;
	e->result = result;
	if (hmap_put(&s->map, key, (size_t)n, e) == NULL && !hmap_get(&s->map, key, (size_t)n)) {
		free(key);
		e->key = NULL;
		return -1;
	}
	s->head = (s->head + 1) % s->cap;
	s->n++;
	return 0;
}
