/*
 * tmpl: a small text template - the messages of on-call notifications
 * (share/mamori/notify/<lang>.tmpl, rendered by the core) and the request
 * bodies of notifier plugins (an SMS gateway's form, a chat webhook's
 * JSON; plugins get the same code through plugins/lib/tmpl.c).
 *
 *   {{name}}            the value of name ("" when it has none)
 *   {{name|json}}       as a JSON string, quotes included ("null" when none)
 *   {{name|url}}        percent-encoded (application/x-www-form-urlencoded)
 *   {{name|FILTER}}     any other filter is handed to the lookup, which
 *                       decides (e.g. "cut": the field that may be shortened)
 *   {{?name}}...{{/name}}  the part only when name has a non-empty value
 *   {{!name}}...{{/name}}  the part only when it has none
 *
 * Sections: a template file holds named parts, each starting with a line
 * "[name]" and running to the next such line; lines starting with '#'
 * before the first section are comments.  tmpl_section finds one.
 *
 * Must never: allocate without bound (output is capped by the caller's
 * limit), read past the template, recurse more than TMPL_MAX_DEPTH.
 * Plain malloc, no other module: plugins link it too.
 */
#ifndef MAMORI_TMPL_H
#define MAMORI_TMPL_H

#include <stddef.h>

#define TMPL_MAX_DEPTH 8

struct tmpl_buf {
	char *p;              /* NUL-terminated */
	size_t n, cap, limit; /* limit 0: 1 MiB */
	int truncated; /* the output reached the limit: cut between characters, nothing after */
	int failed;    /* out of memory */
};
void tmpl_buf_free(struct tmpl_buf *b);
void tmpl_buf_add(struct tmpl_buf *b, const char *s, size_t n);

/* The value of a name (filter: what followed '|', or NULL; lengths are
 * of the unterminated parts).  NULL: no value. */
typedef const char *(*tmpl_lookup)(void *ud, const char *name, size_t nlen, const char *filter,
                                   size_t flen);

/* Render text[0..len) into out (appending).  0, or -1 when the template
 * is malformed ("{{" without "}}", a block without its end, too deep):
 * err says where. */
int tmpl_render(const char *text, size_t len, tmpl_lookup get, void *ud, struct tmpl_buf *out,
                char *err, size_t errlen);
/* Find section `name` in a template file: *out, *outlen its body (the
 * trailing newline of its last line dropped).  0, or -1 when absent. */
int tmpl_section(const char *file, const char *name, const char **out, size_t *outlen);

/* Escapers (append to out). */
void tmpl_json(struct tmpl_buf *out, const char *s);
void tmpl_url(struct tmpl_buf *out, const char *s);

#endif
