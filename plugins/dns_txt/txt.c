/*
 * dns_txt: TXT record sets and verdicts.
 *
 * A TXT record may be split into several character strings; they are
 * concatenated into one value (RFC 7208 3.3, also how DKIM keys longer than
 * 255 bytes are published).  A record may hold any byte, NUL included, so
 * values carry their length.  What one answer can make us keep is bounded
 * (DT_MAX_RECORDS, DT_MAX_TOTAL): an answer past the bound is an error, not
 * a silent truncation, so change detection never compares partial sets.
 */
#include <ares.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_txt.h"

static int txt_append(struct dt_txt *t, const unsigned char *p, size_t n)
{
	char *d = realloc(t->data, t->len + n + 1);

	if (!d)
		return MAMORI_E_NOMEM;
	memcpy(d + t->len, p, n);
	t->len += n;
	d[t->len] = '\0';
	t->data = d;
	return 0;
}

int dns_txt__set_from_ares(struct dt_txtset *set, const struct ares_txt_ext *list)
{
	size_t cap = 0, total = 0;
	int rc;

	set->v = NULL;
	set->n = 0;
	for (const struct ares_txt_ext *e = list; e; e = e->next) {
		total += e->length;
		if (total > DT_MAX_TOTAL) {
			rc = MAMORI_E_RANGE;
			goto fail;
		}
		/* A continuation string (record_start == 0) joins the previous
		 * record; the first string always starts one. */
		if (e->record_start || set->n == 0) {
			if (set->n == DT_MAX_RECORDS) {
				rc = MAMORI_E_RANGE;
				goto fail;
			}
			if (set->n == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				struct dt_txt *nv = realloc(set->v, ncap * sizeof(*nv));

				if (!nv) {
					rc = MAMORI_E_NOMEM;
					goto fail;
				}
				set->v = nv;
				cap = ncap;
			}
			set->v[set->n].data = NULL;
			set->v[set->n].len = 0;
			set->n++;
		}
		rc = txt_append(&set->v[set->n - 1], e->txt, e->length);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	dns_txt__set_clear(set);
	return rc;
}

int dns_txt__set_copy(struct dt_txtset *dst, const struct dt_txtset *src)
{
	dst->n = 0;
	dst->v = NULL;
	if (src->n == 0)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	if (!dst->v)
		return MAMORI_E_NOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i].data = malloc(src->v[i].len + 1);
		if (!dst->v[i].data) {
			dst->n = i;
			dns_txt__set_clear(dst);
			return MAMORI_E_NOMEM;
		}
		memcpy(dst->v[i].data, src->v[i].data, src->v[i].len + 1);
		dst->v[i].len = src->v[i].len;
	}
	dst->n = src->n;
	return 0;
}

void dns_txt__set_clear(struct dt_txtset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i].data);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static int txt_cmp(const struct dt_txt *a, const struct dt_txt *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->data, b->data, n);

	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static int txt_qcmp(const void *a, const void *b)
{
	return txt_cmp(a, b);
}

void dns_txt__set_sort(struct dt_txtset *set)
{
	if (set->n > 1)
		qsort(set->v, set->n, sizeof(*set->v), txt_qcmp);
}

void dns_txt__set_filter(struct dt_txtset *set, int (*keep)(const struct dt_txt *t))
{
	size_t j = 0;

	for (size_t i = 0; i < set->n; i++) {
		if (keep(&set->v[i]))
			set->v[j++] = set->v[i];
		else
			free(set->v[i].data);
	}
	set->n = j;
}

/* Append `prefix "escaped"` to buf at *pos, staying inside size. */
static void diff_add(char *buf, size_t size, size_t *pos, const char *prefix,
                     const struct dt_txt *t)
{
	char esc[160];
	int n;

	if (*pos >= size)
		return;
	dns_txt__escape(t->data, t->len, 60, esc, sizeof(esc));
	n = snprintf(buf + *pos, size - *pos, "%s%s \"%s\"", *pos ? ", " : "", prefix, esc);
	if (n > 0)
		*pos += (size_t)n;
}

int dns_txt__set_diff(const struct dt_txtset *old, const struct dt_txtset *cur, char *buf,
                      size_t size)
{
	size_t i = 0, j = 0, pos = 0;
	int differ = 0;

	if (size)
		buf[0] = '\0';
	while (i < old->n || j < cur->n) {
		int c;

		if (i == old->n)
			c = 1;
		else if (j == cur->n)
			c = -1;
		else
			c = txt_cmp(&old->v[i], &cur->v[j]);
		if (c == 0) {
			i++;
			j++;
			continue;
		}
		differ = 1;
		if (c < 0)
			diff_add(buf, size, &pos, "removed", &old->v[i++]);
		else
			diff_add(buf, size, &pos, "added", &cur->v[j++]);
	}
	return differ;
}

void dns_txt__escape(const char *s, size_t len, size_t max, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (size == 0)
		return;
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			if (o + 1 >= size)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (i < len && o + 3 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

const char *dns_txt__status_text(int st)
{
	switch (st) {
	case DT_ST_OK: return "OK";
	case DT_ST_NXDOMAIN: return "NXDOMAIN (no such name)";
	case DT_ST_NODATA: return "NODATA (name exists, no TXT record)";
	case DT_ST_SERVFAIL: return "SERVFAIL (server failure)";
	case DT_ST_TIMEOUT: return "timeout (no answer from the DNS server)";
	case DT_ST_REFUSED: return "REFUSED by the DNS server";
	case DT_ST_CONNREFUSED: return "connection refused (no DNS server listening)";
	case DT_ST_CANCELLED: return "cancelled";
	default: return "query failed (malformed or oversized answer)";
	}
}

/* Severity order for "worst": OK < WARNING < UNKNOWN < CRITICAL. */
static int rank(int st)
{
	switch (st) {
	case MAMORI_OK: return 0;
	case MAMORI_WARNING: return 1;
	case MAMORI_UNKNOWN: return 2;
	default: return 3;
	}
}

int dns_txt__worse(int a, int b)
{
	return rank(b) > rank(a) ? b : a;
}

void dns_txt__verdict_init(struct dt_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->state = MAMORI_OK;
}

static void lng_add(struct dt_verdict *v, const char *line)
{
	int n;

	if (v->lng_len >= sizeof(v->lng) - 1)
		return;
	n = snprintf(v->lng + v->lng_len, sizeof(v->lng) - v->lng_len, "%s%s",
	             v->lng_len ? "\n" : "", line);
	if (n > 0)
		v->lng_len += (size_t)n;
	if (v->lng_len >= sizeof(v->lng))
		v->lng_len = sizeof(v->lng) - 1;
}

void dns_txt__raise(struct dt_verdict *v, int state, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* The first problem of the worst state becomes the output line. */
	if (!v->has_msg || rank(state) > rank(v->state)) {
		snprintf(v->out, sizeof(v->out), "%s", line);
		v->has_msg = 1;
	}
	v->state = dns_txt__worse(v->state, state);
	lng_add(v, line);
}

void dns_txt__note(struct dt_verdict *v, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lng_add(v, line);
}

size_t dns_txt__answer_size(const char *name, const struct dt_txtset *set)
{
	size_t n = 12 + strlen(name) + 2 + 4; /* header, question */

	for (size_t i = 0; i < set->n; i++) {
		size_t len = set->v[i].len, strings = len ? (len + 254) / 255 : 1;

		/* name (a compression pointer), type, class, TTL, rdlength */
		n += 2 + 10 + len + strings;
	}
	return n;
}
