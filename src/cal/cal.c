/*
 * cal.c: building a calendar (weekly hours, holidays, closures) and the
 * iterator over its open intervals that every query walks.
 *
 * Design: the calendar stores weekly ranges as local seconds of the day
 * they start on, holidays as sorted local day numbers and closures as
 * sorted, merged absolute intervals.  Queries never step through minutes:
 * cal__iter_next expands one local day at a time into at most
 * CAL_MAX_RANGES UTC intervals (one zone conversion per edge) and skips
 * closed days with one binary search, so a deadline across a 5-day holiday
 * costs a handful of day expansions.
 *
 * Semantics (documented in doc/calendars.md):
 *  - a range belongs to the day it starts on: "fri 22:00-02:00" is open
 *    Friday 22:00 to Saturday 02:00, and is closed entirely when Friday is
 *    a holiday (Saturday being a holiday does not cut it);
 *  - "mon 10:00-09:00" (end before start) is an overnight range of 23 h;
 *    equal start and end is an error (write 00:00-24:00 for all day);
 *  - local times in a DST gap move forward to the end of the gap, times
 *    in an overlap count at their first occurrence (cal__tz_to_utc).
 * Must never: log, read the clock, or touch global state.
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal.h"
#include "cal/cal_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cal_range {
	int32_t s, e; /* seconds after local midnight; e may exceed 86400 */
};

struct cal_span {
	int64_t a, b;
};

struct cal {
	char *name;
	struct cal_tz *tz;
	struct cal_range wk[7][CAL_MAX_RANGES]; /* [0] = Sunday */
	int nwk[7];
	int64_t *hol; /* local day numbers, sorted, unique */
	size_t nhol, caphol;
	struct cal_span *clo; /* sorted, merged */
	size_t nclo, capclo;
};

static void cal_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cal_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- hours strings ---- */

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static int parse_day(const char **pp)
{
	int i;

	for (i = 0; i < 7; i++)
		if (!strncasecmp(*pp, day_names[i], 3)) {
			*pp += 3;
			return i;
		}
	return -1;
}

/* "mon-fri", "sat", "mon,wed,fri-sun" -> bit mask of weekdays. */
static int parse_days(const char *p, const char *end, unsigned *mask)
{
	int a, b;

	*mask = 0;
	for (;;) {
		if ((a = parse_day(&p)) < 0)
			return -1;
		b = a;
		if (p < end && *p == '-') {
			p++;
			if ((b = parse_day(&p)) < 0)
				return -1;
		}
		for (;; a = (a + 1) % 7) { /* "fri-mon" wraps over the weekend */
			*mask |= 1u << a;
			if (a == b)
				break;
		}
		if (p == end)
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* "H:MM" or "HH:MM", hour 0..24 (24 only as 24:00). */
static int parse_clock(const char **pp, int32_t *out)
{
	const char *p = *pp;
	int h = 0, m, nd = 0;

	while (isdigit((unsigned char)*p) && nd < 2)
		h = h * 10 + (*p++ - '0'), nd++;
	if (!nd || *p++ != ':' || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	m = (p[0] - '0') * 10 + (p[1] - '0');
	if (h > 24 || m > 59 || (h == 24 && m))
		return -1;
	*pp = p + 2;
	*out = h * 3600 + m * 60;
	return 0;
}

static int add_range(struct cal *c, unsigned mask, int32_t s, int32_t e)
{
	int d;

	for (d = 0; d < 7; d++) {
		if (!(mask & (1u << d)))
			continue;
		if (c->nwk[d] == CAL_MAX_RANGES)
			return -1;
		c->wk[d][c->nwk[d]].s = s;
		c->wk[d][c->nwk[d]++].e = e;
	}
	return 0;
}

static int parse_hours(struct cal *c, const char *str, char *err, size_t errlen)
{
	const char *p = str, *end;
	unsigned mask;
	int32_t s, e;

	while (isspace((unsigned char)*p))
		p++;
	if (!strcasecmp(p, "24x7"))
		return add_range(c, 0x7f, 0, 86400);
	for (end = p; *end && !isspace((unsigned char)*end); end++)
		;
	if (end == p || parse_days(p, end, &mask)) {
		cal_err(err, errlen, "hours \"%s\": bad day list (use mon..sun, \"mon-fri\")", str);
		return -1;
	}
	for (p = end;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (parse_clock(&p, &s) || *p++ != '-' || parse_clock(&p, &e) || s == 86400) {
			cal_err(err, errlen, "hours \"%s\": bad time range (use HH:MM-HH:MM)", str);
			return -1;
		}
		if (s == e) {
			cal_err(err, errlen, "hours \"%s\": empty range (all day is 00:00-24:00)",
			        str);
			return -1;
		}
		if (e < s)
			e += 86400; /* overnight: ends on the next day */
		if (add_range(c, mask, s, e)) {
			cal_err(err, errlen, "hours \"%s\": more than %d ranges on one day", str,
			        CAL_MAX_RANGES);
			return -1;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		if (*p++ != ',') {
			cal_err(err, errlen, "hours \"%s\": junk after a range", str);
			return -1;
		}
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct cal_range *x = a, *y = b;

	return x->s != y->s ? (x->s < y->s ? -1 : 1) : (x->e > y->e) - (x->e < y->e);
}

struct cal *cal_new(const char *name, const char *tz, const char *const *hours, size_t n_hours,
                    char *err, size_t errlen)
{
	struct cal *c = calloc(1, sizeof(*c));
	size_t i;
	int d;

	if (!c || !(c->name = strdup(name ? name : ""))) {
		cal_err(err, errlen, "out of memory");
		goto fail;
	}
	if (!(c->tz = cal__tz_load(NULL, tz ? tz : "", err, errlen)))
		goto fail;
	for (i = 0; i < n_hours; i++)
		if (!hours[i] || parse_hours(c, hours[i], err, errlen))
			goto fail;
	for (d = 0; d < 7; d++)
		qsort(c->wk[d], (size_t)c->nwk[d], sizeof(c->wk[d][0]), range_cmp);
	return c;
fail:
	cal_free(c);
	return NULL;
}

void cal_free(struct cal *c)
{
	if (!c)
		return;
	cal__tz_free(c->tz);
	free(c->hol);
	free(c->clo);
	free(c->name);
	free(c);
}

const char *cal_name(const struct cal *c)
{
	return c->name;
}

/* ---- holidays and closures ---- */

static size_t hol_lower(const struct cal *c, int64_t day)
{
	size_t lo = 0, hi = c->nhol;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->hol[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int day_is_holiday(const struct cal *c, int64_t day)
{
	size_t i = hol_lower(c, day);

	return i < c->nhol && c->hol[i] == day;
}

int cal_add_holiday(struct cal *c, int year, int month, int day)
{
	int64_t d;
	size_t i;

	if (year < 1900 || year > 9999 || day < 1 || day > cal__days_in_month(year, month))
		return -1;
	d = cal__days_from_civil(year, month, day);
	i = hol_lower(c, d);
	if (i < c->nhol && c->hol[i] == d)
		return 0;
	if (c->nhol == c->caphol) {
		size_t cap = c->caphol ? c->caphol * 2 : 64;
		int64_t *n = realloc(c->hol, cap * sizeof(*n));

		if (!n)
			return -1;
		c->hol = n, c->caphol = cap;
	}
	memmove(c->hol + i + 1, c->hol + i, (c->nhol - i) * sizeof(*c->hol));
	c->hol[i] = d;
	c->nhol++;
	return 0;
}

int cal_is_holiday(const struct cal *c, time_t t)
{
	int64_t local;

	if (!CAL__T_OK(t))
		return 0;
	local = (int64_t)t + cal__tz_offset(c->tz, t);
	return day_is_holiday(c, cal__floordiv(local, 86400));
}

int cal_add_closure(struct cal *c, time_t from, time_t to)
{
	size_t i = 0, j, k;
	int64_t a = from, b = to;

	if (to <= from)
		return -1;
	if (c->nclo == c->capclo) {
		size_t cap = c->capclo ? c->capclo * 2 : 16;
		struct cal_span *n = realloc(c->clo, cap * sizeof(*n));

		if (!n)
			return -1;
		c->clo = n, c->capclo = cap;
	}
	while (i < c->nclo && c->clo[i].b < a)
		i++;
	/* closures i..j-1 touch or overlap [a, b): merge them into one */
	for (j = i; j < c->nclo && c->clo[j].a <= b; j++) {
		a = c->clo[j].a < a ? c->clo[j].a : a;
		b = c->clo[j].b > b ? c->clo[j].b : b;
	}
	if (j == i) {
		memmove(c->clo + i + 1, c->clo + i, (c->nclo - i) * sizeof(*c->clo));
		c->nclo++;
	} else {
		for (k = 0; j + k < c->nclo; k++)
			c->clo[i + 1 + k] = c->clo[j + k];
		c->nclo -= j - i - 1;
	}
	c->clo[i].a = a, c->clo[i].b = b;
	return 0;
}

/* ---- the iterator ---- */

void cal__iter_init(struct cal__iter *it, const struct cal *c, int64_t t)
{
	int64_t local = t + cal__tz_offset(c->tz, t);
	size_t lo = 0, hi = c->nclo;

	memset(it, 0, sizeof(*it));
	it->c = c;
	/* start a day early: yesterday's overnight ranges may still be open */
	it->day = cal__floordiv(local, 86400) - 1;
	it->last_day = it->day + CAL__HORIZON_DAYS;
	it->cursor = t;
	while (lo < hi) { /* first closure ending after t */
		size_t mid = lo + (hi - lo) / 2;

		if (c->clo[mid].b <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	it->ci = lo;
}

/* Weekly ranges minus holidays, clipped to the cursor. */
static int iter_raw(struct cal__iter *it, int64_t *a, int64_t *b)
{
	const struct cal *c = it->c;
	const struct cal_range *r;
	int wd;

	for (;;) {
		if (it->day > it->last_day)
			return -1;
		wd = cal__weekday(it->day);
		if (!it->day_loaded) {
			if (!c->nwk[wd] || day_is_holiday(c, it->day)) {
				it->day++;
				continue;
			}
			it->day_loaded = 1, it->ri = 0;
		}
		if (it->ri >= c->nwk[wd]) {
			it->day++, it->day_loaded = 0;
			continue;
		}
		r = &c->wk[wd][it->ri++];
		*a = cal__tz_to_utc(c->tz, it->day * 86400 + r->s);
		*b = cal__tz_to_utc(c->tz, it->day * 86400 + r->e);
		if (*a < it->cursor)
			*a = it->cursor;
		if (*a >= *b)
			continue;
		it->cursor = *b;
		/* the horizon counts from the last open time found, so long
		 * deadlines work and only a calendar that never opens stops */
		it->last_day = it->day + CAL__HORIZON_DAYS;
		return 0;
	}
}

int cal__iter_next(struct cal__iter *it, int64_t *a, int64_t *b)
{
	const struct cal_span *cl = it->c->clo;
	size_t n = it->c->nclo;
	int64_t end;

	for (;;) {
		if (!it->have_cur) {
			if (iter_raw(it, &it->cur_a, &it->cur_b))
				return -1;
			it->have_cur = 1;
		}
		while (it->ci < n && cl[it->ci].b <= it->cur_a)
			it->ci++;
		if (it->ci < n && cl[it->ci].a <= it->cur_a) {
			it->cur_a = cl[it->ci].b; /* starts inside a closure */
			if (it->cur_a >= it->cur_b)
				it->have_cur = 0;
			continue;
		}
		end = it->ci < n && cl[it->ci].a < it->cur_b ? cl[it->ci].a : it->cur_b;
		*a = it->cur_a, *b = end;
		if (end == it->cur_b)
			it->have_cur = 0;
		else
			it->cur_a = end;
		return 0;
	}
}

/* ---- local times ---- */

int cal__always_open(const struct cal *c)
{
	int d;

	if (c->nhol || c->nclo)
		return 0;
	for (d = 0; d < 7; d++) /* ranges are sorted: the first starts earliest */
		if (!c->nwk[d] || c->wk[d][0].s != 0 || c->wk[d][0].e < 86400)
			return 0;
	return 1;
}

long cal__cal_offset(const struct cal *c, int64_t t)
{
	return cal__tz_offset(c->tz, t);
}

time_t cal_local_time(const struct cal *c, int year, int month, int day, int hour, int min, int sec)
{
	int64_t local;

	if (year < 1900 || year > 9999 || day < 1 || day > cal__days_in_month(year, month) ||
	    hour < 0 || hour > 24 || min < 0 || min > 59 || sec < 0 || sec > 59 ||
	    (hour == 24 && (min || sec)))
		return (time_t)-1;
	local = cal__days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
	return (time_t)cal__tz_to_utc(c->tz, local);
}

/* n digits at s -> value, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;

	while (n--) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

int cal_parse_local(const struct cal *c, const char *s, time_t *out)
{
	size_t len = strlen(s);
	int h = 0, mi = 0, sec = 0;
	time_t t;

	if (len != 10 && len != 16 && len != 19)
		return -1;
	if (s[4] != '-' || s[7] != '-')
		return -1;
	if (len > 10 && ((s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
	                 (h = digits(s + 11, 2)) < 0 || (mi = digits(s + 14, 2)) < 0))
		return -1;
	if (len == 19 && (s[16] != ':' || (sec = digits(s + 17, 2)) < 0))
		return -1;
	t = cal_local_time(c, digits(s, 4), digits(s + 5, 2), digits(s + 8, 2), h, mi, sec);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}
