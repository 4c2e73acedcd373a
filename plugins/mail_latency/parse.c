/*
 * mail_latency parsers: probe tags, IMAP SEARCH/FETCH responses, dates,
 * and `postqueue -j` listings.  Pure functions: no I/O, no logging, no
 * host calls, so tests/unit/test_mail_latency.c includes this file and
 * feeds it garbage directly.  Input is never trusted to be NUL-terminated.
 */
#include "ml.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

const char *const ml_queue_names[5] = { "maildrop", "incoming", "active", "deferred", "hold" };

int ml_tag_format(const struct ml_tag *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s-%llu-%llu", t->id, t->seq, t->sent_ms);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Digits at p (at most 20), into *out; returns how many were read. */
static size_t parse_digits(const char *p, const char *end, unsigned long long *out)
{
	size_t n = 0;
	unsigned long long v = 0;
	while (p + n < end && n < 20 && isdigit((unsigned char)p[n])) {
		unsigned d = (unsigned)(p[n] - '0');
		if (v > (~0ULL - d) / 10)
			return 0; /* overflow */
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

int ml_tag_find(const char *text, size_t len, const char *id, struct ml_tag *out)
{
	size_t idlen = strlen(id);
	const char *end = text + len;
	const char *p = text;
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), id, idlen);
		if (!hit)
			return 0;
		const char *q = hit + idlen;
		unsigned long long seq, ms;
		size_t n;
		p = hit + 1;
		if (hit > text && isalnum((unsigned char)hit[-1]))
			continue; /* the tail of a longer, different id */
		if (q >= end || *q++ != '-')
			continue;
		if (!(n = parse_digits(q, end, &seq)))
			continue;
		q += n;
		if (q >= end || *q++ != '-')
			continue;
		if (!(n = parse_digits(q, end, &ms)))
			continue;
		memcpy(out->id, id, idlen < ML_ID_LEN ? idlen + 1 : ML_ID_LEN + 1);
		out->id[ML_ID_LEN] = '\0';
		out->seq = seq;
		out->sent_ms = ms;
		return 1;
	}
	return 0;
}

void ml_check_id(const char *customer, const char *asset, const char *check,
                 char out[ML_ID_LEN + 1])
{
	/* FNV-1a 64 over the three names with separators; 52 bits kept. */
	uint64_t h = 14695981039346656037ULL;
	const char *parts[3] = { customer ? customer : "", asset ? asset : "", check ? check : "" };
	for (int i = 0; i < 3; i++) {
		for (const unsigned char *s = (const unsigned char *)parts[i]; *s; s++)
			h = (h ^ *s) * 1099511628211ULL;
		h = (h ^ 0x1f) * 1099511628211ULL;
	}
	snprintf(out, ML_ID_LEN + 1, "m%013llx", (unsigned long long)(h & 0xfffffffffffffULL));
}

/* Next line [*ls, *le) of text (without CR LF); returns 0 at the end. */
static int next_line(const char **cur, const char *end, const char **ls, const char **le)
{
	if (*cur >= end)
		return 0;
	const char *nl = memchr(*cur, '\n', (size_t)(end - *cur));
	*ls = *cur;
	*le = nl ? nl : end;
	*cur = nl ? nl + 1 : end;
	if (*le > *ls && (*le)[-1] == '\r')
		(*le)--;
	return 1;
}

static int starts_ci(const char *s, const char *e, const char *prefix)
{
	size_t n = strlen(prefix);
	return (size_t)(e - s) >= n && strncasecmp(s, prefix, n) == 0;
}

int ml_imap_search_parse(const char *text, size_t len, uint32_t *uids, int max)
{
	const char *cur = text, *end = text + len, *ls, *le;
	int n = 0;
	while (next_line(&cur, end, &ls, &le)) {
		if (!starts_ci(ls, le, "* SEARCH"))
			continue; /* other untagged data (EXISTS, FLAGS...) */
		const char *p = ls + 8;
		while (p < le) {
			unsigned long long v;
			size_t d;
			if (*p == ' ') {
				p++;
				continue;
			}
			if (*p == '(')
				break; /* ESEARCH-style modifiers: not requested, stop */
			if (!(d = parse_digits(p, le, &v)) || v == 0 || v > UINT32_MAX)
				return -1;
			p += d;
			if (p < le && *p != ' ')
				return -1;
			if (n < max)
				uids[n++] = (uint32_t)v;
		}
	}
	return n;
}

int ml_imap_date_parse(const char *s, size_t len, double *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char buf[40], mon[4], zone[6];
	int day, year, hh, mm, ss;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, " %2d-%3[A-Za-z]-%4d %2d:%2d:%2d %5[-+0-9]", &day, mon, &year, &hh, &mm,
	           &ss, zone) != 7)
		return -1;
	const char *m = strstr(months, mon);
	if (!m || (m - months) % 3 || strlen(mon) != 3 || strlen(zone) != 5 ||
	    (zone[0] != '+' && zone[0] != '-'))
		return -1;
	if (day < 1 || day > 31 || year < 1970 || year > 9999 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	for (int i = 1; i < 5; i++)
		if (!isdigit((unsigned char)zone[i]))
			return -1;
	struct tm tm = { .tm_mday = day,
		         .tm_mon = (int)((m - months) / 3),
		         .tm_year = year - 1900,
		         .tm_hour = hh,
		         .tm_min = mm,
		         .tm_sec = ss };
	time_t t = timegm(&tm);
	int off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 +
	          ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60;
	*out = (double)t - (zone[0] == '+' ? off : -off);
	return 0;
}

/* Value after the item name `key` (e.g. "UID ") inside a FETCH line. */
static const char *fetch_item(const char *ls, const char *le, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = ls; p + k <= le; p++)
		if ((p[-1] == '(' || p[-1] == ' ') && strncasecmp(p, key, k) == 0)
			return p + k;
	return NULL;
}

int ml_imap_fetch_parse(const char *text, size_t len, const char *id, struct ml_fetched *out,
                        int max)
{
	const char *cur = text, *end = text + len, *ls, *le;
	int n = 0;
	while (next_line(&cur, end, &ls, &le) && n < max) {
		if (!starts_ci(ls, le, "* "))
			continue;
		const char *f = ls + 2;
		while (f < le && isdigit((unsigned char)*f))
			f++;
		if (f == ls + 2 || !starts_ci(f, le, " FETCH ("))
			continue;
		f += 8;
		struct ml_fetched m = { 0 };
		unsigned long long v;
		const char *u = fetch_item(f, le, "UID ");
		if (!u || !parse_digits(u, le, &v) || v == 0 || v > UINT32_MAX)
			return -1;
		m.uid = (uint32_t)v;
		const char *d = fetch_item(f, le, "INTERNALDATE \"");
		if (d) {
			const char *q = memchr(d, '"', (size_t)(le - d));
			if (!q || ml_imap_date_parse(d, (size_t)(q - d), &m.internal_date) < 0)
				return -1;
		}
		m.has_tag = ml_tag_find(f, (size_t)(le - f), id, &m.tag);
		out[n++] = m;
	}
	return n;
}

int ml_uid_set(const uint32_t *uids, int n, char *buf, size_t size)
{
	size_t off = 0;
	if (size == 0)
		return -1;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + off, size - off, "%s%u", i ? "," : "", (unsigned)uids[i]);
		if (w < 0 || (size_t)w >= size - off)
			return -1;
		off += (size_t)w;
	}
	return (int)off;
}

/* Account one parsed postqueue object; 0 or -1 when it is not one. */
static int queue_item(const cJSON *o, struct ml_queue_stats *st)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "queue_name");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "arrival_time");
	/* an arrival time is a finite epoch time: a huge exponent parses as inf */
	if (!cJSON_IsObject(o) || !cJSON_IsString(q) || !cJSON_IsNumber(a) ||
	    !isfinite(a->valuedouble) || a->valuedouble < 0)
		return -1;
	int i;
	for (i = 0; i < 5 && strcmp(q->valuestring, ml_queue_names[i]); i++)
		;
	if (i < 5)
		st->per_queue[i]++;
	else
		st->other_queue++;
	st->count++;
	if (st->oldest_arrival == 0 || a->valuedouble < st->oldest_arrival)
		st->oldest_arrival = a->valuedouble;
	return 0;
}

long ml_queue_parse(const char *text, size_t len, struct ml_queue_stats *out)
{
	const char *cur = text, *end = text + len, *ls, *le;
	long line = 0;
	memset(out, 0, sizeof(*out));
	while (next_line(&cur, end, &ls, &le)) {
		line++;
		while (ls < le && isspace((unsigned char)*ls))
			ls++;
		if (ls == le)
			continue;
		cJSON *o = cJSON_ParseWithLength(ls, (size_t)(le - ls));
		int bad = !o || queue_item(o, out) < 0;
		cJSON_Delete(o);
		if (bad)
			return line;
	}
	return 0;
}
