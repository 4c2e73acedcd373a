/*
 * cal_int.h: internals shared between the files of the cal module
 * (civil-date arithmetic and the time-zone reader).  Not for other modules:
 * they use cal.h only.
 *
 * Times are int64 seconds.  "Local seconds" are the wall-clock time of a
 * zone written as if it were UTC (local = utc + offset), so a local date is
 * floor(local / 86400) days since 1970-01-01 in every zone.
 */
#ifndef MAMORI_CAL_INT_H
#define MAMORI_CAL_INT_H

#ifndef MAMORI_CAL_INTERNAL
#error "cal_int.h is internal to src/cal; include cal/cal.h instead"
#endif

#include <stddef.h>
#include <stdint.h>

/* ---- civil dates (proleptic Gregorian, any year that fits an int) ---- */
int64_t cal__days_from_civil(int64_t y, int m, int d);
void cal__civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Sunday ... 6 = Saturday */
int cal__weekday(int64_t days);
int cal__days_in_month(int64_t y, int m);
/* floor division, for negative times */
int64_t cal__floordiv(int64_t a, int64_t b);

/* ---- time zones (tz.c) ---- */
struct cal_tz;

/* Load zone `name` from `dir` (NULL: /usr/share/zoneinfo).  "UTC" works
 * without any file.  NULL with a message in err on failure. */
struct cal_tz *cal__tz_load(const char *dir, const char *name, char *err, size_t errlen);
/* Parse a TZif image already in memory (tests feed garbage through this). */
struct cal_tz *cal__tz_parse(const unsigned char *buf, size_t len, char *err, size_t errlen);
/* A zone from a POSIX TZ string alone, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
struct cal_tz *cal__tz_posix(const char *spec, char *err, size_t errlen);
void cal__tz_free(struct cal_tz *z);
/* Offset from UTC (seconds east) in effect at UTC time t. */
long cal__tz_offset(const struct cal_tz *z, int64_t t);
/* UTC instant of local wall time `local`.  A local time that does not
 * exist (spring-forward gap) maps to the first instant after the gap (the
 * transition); a local time that exists twice (autumn overlap) maps to its
 * first occurrence.  Monotonic: local1 <= local2 gives utc1 <= utc2. */
int64_t cal__tz_to_utc(const struct cal_tz *z, int64_t local);

/* ---- the calendar's raw interval iterator (cal.c), used by cal_ops.c ---- */
struct cal;
struct cal__iter {
	const struct cal *c;
	int64_t day;          /* next local day whose ranges are expanded */
	int64_t last_day;     /* stop after this day (search horizon) */
	int ri;               /* next range index within `day` */
	int day_loaded;       /* ranges of `day` are valid (not a holiday) */
	int64_t cursor;       /* nothing before this is emitted again */
	int64_t cur_a, cur_b; /* piece being cut by closures */
	int have_cur;
	size_t ci; /* first closure that may still matter */
};
void cal__iter_init(struct cal__iter *it, const struct cal *c, int64_t t);
/* Next open piece [*a, *b) with *a >= t, sorted, non-overlapping (pieces
 * may touch).  0 when found, -1 past the search horizon. */
int cal__iter_next(struct cal__iter *it, int64_t *a, int64_t *b);

/* 1 if every weekday has a range covering 00:00-24:00 and there are no
 * holidays or closures (the fast path of a 24x7 calendar). */
int cal__always_open(const struct cal *c);
/* The zone offset at t of a calendar (cal.c owns struct cal). */
long cal__cal_offset(const struct cal *c, int64_t t);

/* Instants the module works with: about years -29000..33000.  Public
 * functions refuse others, so no arithmetic below can overflow. */
#define CAL__T_LIMIT 1000000000000LL
#define CAL__T_OK(t) ((int64_t)(t) > -CAL__T_LIMIT && (int64_t)(t) < CAL__T_LIMIT)

#define CAL__HORIZON_DAYS 800 /* "never opens within ~2 years" */

#endif
