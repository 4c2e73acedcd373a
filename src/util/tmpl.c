/*
 * tmpl: see tmpl.h.  One pass over the template; a block ({{?x}} or
 * {{!x}}) renders its inside recursively (bounded depth) or skips to its
 * matching end.
 */
#include "util/tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT (1024 * 1024)

void tmpl_buf_free(struct tmpl_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

void tmpl_buf_add(struct tmpl_buf *b, const char *s, size_t n)
{
	size_t limit = b->limit ? b->limit : DEFAULT_LIMIT;
	if (b->failed || b->truncated)
		return; /* nothing after a cut: the text ends where it was cut */
	if (b->n + n > limit) {
		n = limit > b->n ? limit - b->n : 0;
		/* between characters, never inside one (s[n] is the first byte
		 * left out: a continuation byte means its character began
		 * before; found by fuzz_notify_render, a subject cut at 2048
		 * bytes inside a Japanese customer name) */
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		b->truncated = 1;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void tmpl_json(struct tmpl_buf *out, const char *s)
{
	if (!s) {
		tmpl_buf_add(out, "null", 4);
		return;
	}
	tmpl_buf_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[8];
		switch (*p) {
		case '"': tmpl_buf_add(out, "\\\"", 2); break;
		case '\\': tmpl_buf_add(out, "\\\\", 2); break;
		case '\n': tmpl_buf_add(out, "\\n", 2); break;
		case '\r': tmpl_buf_add(out, "\\r", 2); break;
		case '\t': tmpl_buf_add(out, "\\t", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(e, sizeof e, "\\u%04x", *p);
				tmpl_buf_add(out, e, 6);
			} else {
				tmpl_buf_add(out, (const char *)p, 1);
			}
		}
	}
	tmpl_buf_add(out, "\"", 1);
}

void tmpl_url(struct tmpl_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			tmpl_buf_add(out, (const char *)p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			tmpl_buf_add(out, e, 3);
		}
	}
}

static int is_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

/* The end of the block `name` that starts at p (after its opening tag):
 * the position of its "{{/name}}", counting nested blocks of the same
 * name; NULL when there is none. */
static const char *block_end(const char *p, const char *end, const char *name, size_t nlen)
{
	int depth = 0;
	while (p < end) {
		const char *o = memmem(p, (size_t)(end - p), "{{", 2);
		if (!o)
			return NULL;
		const char *n = o + 2;
		if (n < end && (*n == '?' || *n == '!' || *n == '/') &&
		    (size_t)(end - n - 1) >= nlen && memcmp(n + 1, name, nlen) == 0 &&
		    n + 1 + nlen + 1 < end && n[1 + nlen] == '}' && n[2 + nlen] == '}') {
			if (*n == '/') {
				if (depth == 0)
					return o;
				depth--;
			} else {
				depth++;
			}
		}
		p = o + 2;
	}
	return NULL;
}

static int fail(char *err, size_t errlen, const char *base, const char *at, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "template: %s at byte %zu", what, (size_t)(at - base));
	return -1;
}

static int render(const char *base, const char *p, const char *end, tmpl_lookup get, void *ud,
                  struct tmpl_buf *out, char *err, size_t errlen, int depth)
{
	if (depth > TMPL_MAX_DEPTH)
		return fail(err, errlen, base, p, "blocks nested too deep");
	while (p < end) {
		const char *o = memmem(p, (size_t)(end - p), "{{", 2);
		if (!o) {
			tmpl_buf_add(out, p, (size_t)(end - p));
			break;
		}
		tmpl_buf_add(out, p, (size_t)(o - p));
		const char *c = memmem(o + 2, (size_t)(end - o - 2), "}}", 2);
		if (!c)
			return fail(err, errlen, base, o, "\"{{\" without \"}}\"");
		const char *t = o + 2;
		char kind = 0;
		if (*t == '?' || *t == '!' || *t == '/')
			kind = *t++;
		const char *nm = t;
		while (t < c && is_name(*t))
			t++;
		size_t nlen = (size_t)(t - nm);
		const char *filter = NULL;
		size_t flen = 0;
		if (t < c && *t == '|' && !kind) {
			filter = t + 1;
			flen = (size_t)(c - filter);
			t = c;
		}
		if (!nlen || t != c)
			return fail(err, errlen, base, o, "bad tag");
		if (kind == '/')
			return fail(err, errlen, base, o, "block end without its start");
		if (kind) {
			const char *inner = c + 2;
			const char *be = block_end(inner, end, nm, nlen);
			if (!be)
				return fail(err, errlen, base, o, "block without its end");
			const char *v = get(ud, nm, nlen, NULL, 0);
			int on = v && *v;
			if ((kind == '?') == on &&
			    render(base, inner, be, get, ud, out, err, errlen, depth + 1) != 0)
				return -1;
			p = be + nlen + 5; /* "{{/" name "}}" */
			continue;
		}
		const char *v = get(ud, nm, nlen, filter, flen);
		if (filter && flen == 4 && memcmp(filter, "json", 4) == 0)
			tmpl_json(out, v);
		else if (filter && flen == 3 && memcmp(filter, "url", 3) == 0)
			tmpl_url(out, v);
		else if (v)
			tmpl_buf_add(out, v, strlen(v));
		p = c + 2;
	}
	return out->failed ? fail(err, errlen, base, p, "out of memory") : 0;
}

int tmpl_render(const char *text, size_t len, tmpl_lookup get, void *ud, struct tmpl_buf *out,
                char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	tmpl_buf_add(out, "", 0); /* a valid empty string even for an empty template */
	return render(text, text, text + len, get, ud, out, err, errlen, 0);
}

int tmpl_section(const char *file, const char *name, const char **out, size_t *outlen)
{
	size_t nlen = strlen(name);
	const char *p = file;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll == nlen + 2 && p[0] == '[' && p[ll - 1] == ']' &&
		    memcmp(p + 1, name, nlen) == 0) {
			const char *body = eol ? eol + 1 : p + ll;
			const char *q = body;
			/* to the next "[section]" line */
			while (*q) {
				const char *e2 = strchr(q, '\n');
				size_t l2 = e2 ? (size_t)(e2 - q) : strlen(q);
				if (l2 >= 3 && q[0] == '[' && q[l2 - 1] == ']') {
					int ok = 1;
					for (size_t i = 1; i + 1 < l2; i++)
						ok &= is_name(q[i]);
					if (ok)
						break;
				}
				q = e2 ? e2 + 1 : q + l2;
			}
			size_t n = (size_t)(q - body);
			if (n && body[n - 1] == '\n')
				n--;
			*out = body;
			*outlen = n;
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}
