/*
 * jw: the answers' JSON writer and the growable buffer under it (see
 * http_int.h), and the HTML text escape of the few pages the API serves
 * (the one-click link's).  Must never: emit invalid UTF-8 or an
 * unescaped control character (nor, in HTML, a markup character),
 * whatever bytes a plugin or an agent sent.
 */
#include "http/http_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap - b->n < n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void buf_put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->n;
		va_start(ap, fmt);
		int n = vsnprintf(b->cap ? b->p + b->n : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 1024;
		while (cap - b->n < (size_t)n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int utf8_valid(const char *str)
{
	for (const unsigned char *s = (const unsigned char *)str; *s;) {
		size_t n = utf8_len(s);
		if (!n)
			return 0;
		s += n;
	}
	return 1;
}

void jw_escape(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *run = s;
	while (*s) {
		unsigned c = *s;
		size_t n = c >= 0x20 && c != '"' && c != '\\' && c < 0x7f ? 1 : 0;
		if (n) {
			s++;
			continue;
		}
		if (c >= 0x80) {
			n = utf8_len(s);
			/* U+2028/2029 are valid JSON but break JavaScript
			 * embedding; C1 controls drive terminals: escape both */
			if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 &&
			    (s[2] == 0xa8 || s[2] == 0xa9)) {
				buf_add(b, (const char *)run, (size_t)(s - run));
				buf_put(b, "\\u%04x", s[2] == 0xa8 ? 0x2028 : 0x2029);
				s += 3;
				run = s;
				continue;
			}
			if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
				buf_add(b, (const char *)run, (size_t)(s - run));
				buf_put(b, "\\u%04x", s[1]);
				s += 2;
				run = s;
				continue;
			}
			if (n) {
				s += n;
				continue;
			}
		}
		buf_add(b, (const char *)run, (size_t)(s - run));
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default:
			if (c < 0x80)
				buf_put(b, "\\u%04x", c); /* control, DEL */
			else
				buf_add(b, "\\ufffd", 6); /* a byte that is not UTF-8 */
		}
		s++;
		run = s;
	}
	buf_add(b, (const char *)run, (size_t)(s - run));
}

void jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->first = 1;
	w->after_key = 0;
}

/* Before a value or a key: the comma, unless first at this depth.  A
 * value right after its key needs none (the key placed it). */
static void sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->first & (1ULL << w->depth))
		w->first &= ~(1ULL << w->depth);
	else
		buf_add(w->b, ",", 1);
}

static void open(struct jw *w, const char *c)
{
	sep(w);
	buf_add(w->b, c, 1);
	if (w->depth < 63)
		w->depth++;
	w->first |= 1ULL << w->depth;
}

static void close_(struct jw *w, const char *c)
{
	buf_add(w->b, c, 1);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj(struct jw *w)
{
	open(w, "{");
}
void jw_arr(struct jw *w)
{
	open(w, "[");
}
void jw_end_obj(struct jw *w)
{
	close_(w, "}");
}
void jw_end_arr(struct jw *w)
{
	close_(w, "]");
}

void jw_key(struct jw *w, const char *k)
{
	sep(w);
	buf_add(w->b, "\"", 1);
	jw_escape(w->b, k);
	buf_add(w->b, "\":", 2);
	w->after_key = 1;
}

void jw_str(struct jw *w, const char *s)
{
	sep(w);
	if (!s) {
		buf_add(w->b, "null", 4);
		return;
	}
	buf_add(w->b, "\"", 1);
	jw_escape(w->b, s);
	buf_add(w->b, "\"", 1);
}

void jw_num(struct jw *w, double v)
{
	sep(w);
	if (!isfinite(v))
		buf_add(w->b, "null", 4);
	else
		buf_put(w->b, "%.17g", v);
}

void jw_int(struct jw *w, long long v)
{
	sep(w);
	buf_put(w->b, "%lld", v);
}

void jw_bool(struct jw *w, int v)
{
	sep(w);
	if (v)
		buf_add(w->b, "true", 4);
	else
		buf_add(w->b, "false", 5);
}

void jw_null(struct jw *w)
{
	sep(w);
	buf_add(w->b, "null", 4);
}

void jw_time(struct jw *w, double t)
{
	if (!(t > 0) || !isfinite(t)) {
		jw_null(w);
		return;
	}
	time_t sec = (time_t)t;
	struct tm tm;
	char s[40];
	gmtime_r(&sec, &tm);
	int ms = (int)((t - (double)sec) * 1000.0);
	if (ms < 0 || ms > 999)
		ms = 0;
	size_t n = strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s + n, sizeof s - n, ".%03dZ", ms);
	jw_str(w, s);
}

void jw_raw(struct jw *w, const char *json)
{
	sep(w);
	buf_add(w->b, json, strlen(json));
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}
void jw_kint(struct jw *w, const char *k, long long v)
{
	jw_key(w, k);
	jw_int(w, v);
}
void jw_knum(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_num(w, v);
}
void jw_kbool(struct jw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}
void jw_ktime(struct jw *w, const char *k, double t)
{
	jw_key(w, k);
	jw_time(w, t);
}

/* Text into HTML: & < > " ' as entities, control characters and bytes
 * that are not UTF-8 as U+FFFD. */
void html_escape(struct buf *b, const char *s)
{
	char one[2] = { 0, 0 };
	int valid = utf8_valid(s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&': buf_put(b, "&amp;"); break;
		case '<': buf_put(b, "&lt;"); break;
		case '>': buf_put(b, "&gt;"); break;
		case '"': buf_put(b, "&quot;"); break;
		case '\'': buf_put(b, "&#39;"); break;
		default:
			if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !valid)) {
				buf_put(b, "\xef\xbf\xbd");
			} else {
				one[0] = (char)*p;
				buf_add(b, one, 1);
			}
		}
	}
}
