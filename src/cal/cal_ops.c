/*
 * cal_ops.c: the questions the scheduler and the SLA clock ask a calendar
 * (open now? next opening? next change? deadline after N business
 * seconds? business seconds between two instants?) and time formatting.
 *
 * Every query walks cal__iter_next, i.e. whole open intervals, so its cost
 * grows with the number of intervals crossed, never with the length of the
 * time span in seconds.  Pure functions of (calendar, arguments).
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal.h"
#include "cal/cal_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Deadlines longer than this many business seconds are refused: they are
 * config mistakes, and walking them would take long (100 years). */
#define CAL_MAX_BUSINESS (100LL * 366 * 86400)

int cal_is_open(const struct cal *c, time_t t)
{
	struct cal__iter it;
	int64_t a, b;

	if (!CAL__T_OK(t))
		return 0;
	cal__iter_init(&it, c, t);
	return !cal__iter_next(&it, &a, &b) && a == (int64_t)t;
}

time_t cal_next_open(const struct cal *c, time_t t)
{
	struct cal__iter it;
	int64_t a, b;

	if (!CAL__T_OK(t))
		return (time_t)-1;
	cal__iter_init(&it, c, t);
	if (cal__iter_next(&it, &a, &b))
		return (time_t)-1;
	return (time_t)a;
}

time_t cal_next_change(const struct cal *c, time_t t)
{
	struct cal__iter it;
	int64_t a, b, a2, b2;

	if (!CAL__T_OK(t) || cal__always_open(c))
		return (time_t)-1;
	cal__iter_init(&it, c, t);
	if (cal__iter_next(&it, &a, &b))
		return (time_t)-1; /* closed for the whole horizon */
	if (a > (int64_t)t)
		return (time_t)a;
	/* open now: follow touching pieces (midnights of a 24x7 calendar) */
	for (;;) {
		if (b - (int64_t)t > (int64_t)CAL__HORIZON_DAYS * 86400)
			return (time_t)-1; /* open for the whole horizon */
		if (cal__iter_next(&it, &a2, &b2) || a2 != b)
			return (time_t)b;
		b = b2;
	}
}

time_t cal_add_business(const struct cal *c, time_t start, long long seconds)
{
	struct cal__iter it;
	int64_t a, b;

	if (seconds < 0 || seconds > CAL_MAX_BUSINESS || !CAL__T_OK(start))
		return (time_t)-1;
	cal__iter_init(&it, c, start);
	while (!cal__iter_next(&it, &a, &b)) {
		if (seconds <= b - a)
			return (time_t)(a + seconds);
		seconds -= b - a;
	}
	return (time_t)-1;
}

long long cal_business_between(const struct cal *c, time_t from, time_t to)
{
	struct cal__iter it;
	int64_t a, b;
	long long sum = 0;

	if (to <= from || !CAL__T_OK(from))
		return 0;
	if (!CAL__T_OK(to))
		to = (time_t)(CAL__T_LIMIT - 1);
	cal__iter_init(&it, c, from);
	while (!cal__iter_next(&it, &a, &b) && a < (int64_t)to)
		sum += (b < (int64_t)to ? b : (int64_t)to) - a;
	return sum;
}

long cal_utc_offset(const struct cal *c, time_t t)
{
	return cal__cal_offset(c, (int64_t)t);
}

int cal_format_rfc3339(const struct cal *c, time_t t, char *buf, size_t size)
{
	long off, aoff;
	int64_t local, days, sod, y;
	int m, d, n;

	if (!CAL__T_OK(t))
		return -1;
	off = cal_utc_offset(c, t), aoff = off < 0 ? -off : off;
	local = (int64_t)t + off, days = cal__floordiv(local, 86400), sod = local - days * 86400;
	cal__civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", (long long)y, m, d,
	             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+',
	             aoff / 3600, aoff / 60 % 60);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
