/*
 * report_text: the words of the report, one table per language in
 * share/mamori/report/ - <lang>.txt (headings, sentences, units) and
 * recommend.<lang>.txt (one recommendation per finding) - so that a
 * translator or a help desk edits text without touching code.
 *
 * Format: one `key = text` per line; blank lines and lines starting
 * with '#' are ignored; "\n" in a text is a line break.  A text names
 * values as {name}; rtext_fill replaces the names it is given and leaves
 * any other brace as it is, so a wrong edit shows in the report and never
 * reaches a format string.  A key missing from the file is "" (the
 * tests check that both languages have every key the code asks for).
 * Also: the rbuf helpers the renderers share.
 *
 * Must never: use a text as a printf format.
 */
#include "report/report_int.h"
#include "util/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rbuf ---- */

void rbuf_add(struct rbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void rbuf_puts(struct rbuf *b, const char *s)
{
	rbuf_add(b, s, strlen(s));
}

void rbuf_printf(struct rbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		rbuf_add(b, tmp, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rbuf_add(b, big, (size_t)n);
	free(big);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
	if (!n || s[0] >= 0xF5)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (n == 3 && s[0] == 0xE0 && s[1] < 0xA0)
		return 0;
	if (n == 3 && s[0] == 0xED && s[1] >= 0xA0)
		return 0;
	if (n == 4 && s[0] == 0xF0 && s[1] < 0x90)
		return 0;
	if (n == 4 && s[0] == 0xF4 && s[1] >= 0x90)
		return 0;
	return n;
}

void rbuf_html(struct rbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		switch (*p) {
		case '<':
			rbuf_puts(b, "&lt;");
			p++;
			continue;
		case '>':
			rbuf_puts(b, "&gt;");
			p++;
			continue;
		case '&':
			rbuf_puts(b, "&amp;");
			p++;
			continue;
		case '"':
			rbuf_puts(b, "&quot;");
			p++;
			continue;
		case '\'':
			rbuf_puts(b, "&#39;");
			p++;
			continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7F) {
			rbuf_puts(b, *p == '\n' || *p == '\t' ? " " : "\xEF\xBF\xBD");
			p++;
			continue;
		}
		size_t n = utf8_len(p);
		if (!n) {
			rbuf_puts(b, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		rbuf_add(b, (const char *)p, n);
		p += n;
	}
}

void rbuf_utf8(struct rbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		if ((*p < 0x20 && *p != '\n') || *p == 0x7F) {
			rbuf_puts(b, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		size_t n = utf8_len(p);
		if (!n) {
			rbuf_puts(b, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		rbuf_add(b, (const char *)p, n);
		p += n;
	}
	if (!b->p)
		rbuf_add(b, "", 0);
}

void rbuf_free(struct rbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- texts ---- */

struct rtext_kv {
	char *k, *v;
};
struct rtexts {
	struct rtext_kv *kv;
	size_t n, cap;
};

static int load_file(struct rtexts *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int ln = 0;
	while (fgets(line, sizeof line, f)) {
		ln++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		char *eq = strstr(p, " = ");
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = text'", path, ln);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		const char *v = eq + 3;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 128;
			t->kv = xrealloc(t->kv, t->cap * sizeof *t->kv);
		}
		/* "\n" in the file is a line break */
		char *val = xmalloc(strlen(v) + 1), *o = val;
		for (const char *s = v; *s; s++) {
			if (s[0] == '\\' && s[1] == 'n') {
				*o++ = '\n';
				s++;
			} else {
				*o++ = *s;
			}
		}
		*o = '\0';
		t->kv[t->n].k = xstrdup(p);
		t->kv[t->n++].v = val;
	}
	fclose(f);
	return 0;
}

struct rtexts *rtexts_load(const char *datadir, const char *lang, char *err, size_t errlen)
{
	if (!lang || (strcmp(lang, "ja") && strcmp(lang, "en"))) {
		snprintf(err, errlen, "unknown language '%s' (ja or en)", lang ? lang : "");
		return NULL;
	}
	struct rtexts *t = xcalloc(1, sizeof *t);
	char path[1024];
	snprintf(path, sizeof path, "%s/report/%s.txt", datadir, lang);
	if (load_file(t, path, err, errlen) != 0)
		goto fail;
	snprintf(path, sizeof path, "%s/report/recommend.%s.txt", datadir, lang);
	if (load_file(t, path, err, errlen) != 0)
		goto fail;
	return t;
fail:
	rtexts_free(t);
	return NULL;
}

void rtexts_free(struct rtexts *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->kv[i].k);
		free(t->kv[i].v);
	}
	free(t->kv);
	free(t);
}

const char *rtext(const struct rtexts *t, const char *key)
{
	/* the last definition wins (recommend.*.txt may override) */
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->kv[i].k, key) == 0)
			return t->kv[i].v;
	return "";
}

void rtext_fill(struct rbuf *b, const struct rtexts *t, const char *key, const char *const *vars)
{
	const char *s = rtext(t, key);
	while (*s) {
		if (*s == '{') {
			const char *e = strchr(s, '}');
			int done = 0;
			for (size_t i = 0; e && vars && vars[i]; i += 2) {
				size_t n = strlen(vars[i]);
				if ((size_t)(e - s - 1) == n && memcmp(s + 1, vars[i], n) == 0) {
					rbuf_puts(b, vars[i + 1] ? vars[i + 1] : "");
					s = e + 1;
					done = 1;
					break;
				}
			}
			if (done)
				continue;
		}
		rbuf_add(b, s, 1);
		s++;
	}
}
