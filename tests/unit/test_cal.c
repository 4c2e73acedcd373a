/*
 * test_cal.c: unit tests of src/cal (business calendars, time zones,
 * Japan's holidays).  Run from the repository top (or set MAMORI_SRCDIR):
 * the tests read share/mamori/holidays/jp.csv and the system zoneinfo.
 *
 * Two extra modes, not tests:
 *   test_cal --gen-jp FROM TO   print Japan's holiday table (the generator
 *                               of share/mamori/holidays/jp.csv)
 *   test_cal --bench            cal_add_business calls per second
 * Expected values are written out by hand from the calendar (and, for the
 * holidays, from the Cabinet Office's published lists), never computed by
 * the code under test.
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal.h"
#include "cal/cal_int.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *srcdir(void)
{
	const char *s = getenv("MAMORI_SRCDIR");

	return s && *s ? s : ".";
}

static struct cal *mk(const char *tz, const char *h1, const char *h2)
{
	const char *hours[2] = { h1, h2 };
	char err[CAL_ERRLEN];
	struct cal *c = cal_new("t", tz, hours, h2 ? 2 : 1, err, sizeof(err));

	ck_assert_msg(c != NULL, "cal_new: %s", err);
	return c;
}

static void load_jp(struct cal *c)
{
	char path[512], err[CAL_ERRLEN], dd[400];

	snprintf(dd, sizeof(dd), "%s/share/mamori", srcdir());
	ck_assert_int_eq(cal_holidays_path("jp", dd, path, sizeof(path)), 0);
	ck_assert_msg(cal_holidays_load(c, path, err, sizeof(err)) == 0, "%s", err);
}

/* local time string -> instant */
static time_t at(const struct cal *c, const char *s)
{
	time_t t = 0;

	ck_assert_msg(cal_parse_local(c, s, &t) == 0, "bad time %s", s);
	return t;
}

#define ASSERT_TIME(c, t, want)                                                                    \
	do {                                                                                       \
		char buf_[64];                                                                     \
		ck_assert_int_eq(cal_format_rfc3339((c), (t), buf_, sizeof(buf_)), 0);             \
		ck_assert_str_eq(buf_, (want));                                                    \
	} while (0)

/* ---- the deadline example of doc/calendars.md (Friday 17:25 + 15 min) ---- */

START_TEST(test_contract)
{
	struct cal *c = mk("Asia/Tokyo", "mon-fri 09:00-17:30", NULL);

	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-11-27 17:25"), 15 * 60),
	            "2026-11-30T09:10:00+09:00");
	ck_assert_int_eq(cal_add_holiday(c, 2026, 11, 30), 0);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-11-27 17:25"), 15 * 60),
	            "2026-12-01T09:10:00+09:00");
	/* with the shipped table: Monday 2026-07-20 is Marine Day */
	load_jp(c);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-07-17 17:25"), 15 * 60),
	            "2026-07-21T09:10:00+09:00");
	/* exactly the remaining open time ends at closing time */
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-11-27 17:25"), 5 * 60),
	            "2026-11-27T17:30:00+09:00");
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-11-28 12:00"), 0),
	            "2026-12-01T09:00:00+09:00");
	ck_assert_int_eq(cal_add_business(c, at(c, "2026-11-28 12:00"), -1), -1);
	/* absurd inputs are refused, not overflowed */
	ck_assert_int_eq(cal_add_business(c, (time_t)INT64_MAX, 60), -1);
	ck_assert_int_eq(cal_add_business(c, (time_t)INT64_MIN, 60), -1);
	ck_assert_int_eq(cal_add_business(c, at(c, "2026-11-28 12:00"), INT64_MAX), -1);
	ck_assert_int_eq(cal_next_open(c, (time_t)INT64_MAX), -1);
	ck_assert_int_eq(cal_next_change(c, (time_t)INT64_MIN), -1);
	ck_assert(!cal_is_open(c, (time_t)INT64_MAX));
	ck_assert(!cal_is_holiday(c, (time_t)INT64_MIN));
	ck_assert_int_eq(cal_business_between(c, (time_t)INT64_MIN, (time_t)INT64_MAX), 0);
	{
		char b[64];

		ck_assert_int_eq(cal_format_rfc3339(c, (time_t)INT64_MAX, b, sizeof(b)), -1);
		ck_assert_int_eq(cal_format_rfc3339(c, 0, b, 10), -1);
	}
	cal_utc_offset(c, (time_t)INT64_MIN);
	ck_assert_str_eq(cal_name(c), "t");
	cal_free(c);
}
END_TEST

START_TEST(test_lunch_break)
{
	struct cal *c = mk("Asia/Tokyo", "mon-fri 09:00-12:00, 13:00-17:30", NULL);

	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-06-01 11:50"), 30 * 60),
	            "2026-06-01T13:20:00+09:00");
	ck_assert(!cal_is_open(c, at(c, "2026-06-01 12:30")));
	ck_assert(cal_is_open(c, at(c, "2026-06-01 12:00") - 1));
	ck_assert(!cal_is_open(c, at(c, "2026-06-01 12:00")));
	ck_assert(cal_is_open(c, at(c, "2026-06-01 13:00")));
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-01 08:00"), at(c, "2026-06-01 18:00")),
	    7 * 3600 + 1800);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-01 00:00"), at(c, "2026-06-08 00:00")),
	    5 * (7 * 3600 + 1800));
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-06-01 10:00")), "2026-06-01T12:00:00+09:00");
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-06-01 12:00")), "2026-06-01T13:00:00+09:00");
	ASSERT_TIME(c, cal_next_open(c, at(c, "2026-06-05 17:30")), "2026-06-08T09:00:00+09:00");
	cal_free(c);
}
END_TEST

START_TEST(test_overnight)
{
	struct cal *c = mk("Asia/Tokyo", "fri 22:00-02:00", NULL);

	ck_assert(!cal_is_open(c, at(c, "2026-06-05 21:59")));
	ck_assert(cal_is_open(c, at(c, "2026-06-05 22:00")));
	ck_assert(cal_is_open(c, at(c, "2026-06-06 01:59")));
	ck_assert(!cal_is_open(c, at(c, "2026-06-06 02:00")));
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-06-05 23:00"), 3 * 3600),
	            "2026-06-06T02:00:00+09:00");
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-06-05 23:00"), 3 * 3600 + 60),
	            "2026-06-12T22:01:00+09:00");
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-06-06 01:00")), "2026-06-06T02:00:00+09:00");
	/* a range belongs to its start day: a Saturday holiday does not cut it,
	 * a Friday holiday closes it */
	cal_add_holiday(c, 2026, 6, 6);
	ck_assert(cal_is_open(c, at(c, "2026-06-06 01:00")));
	cal_add_holiday(c, 2026, 6, 12);
	ck_assert(!cal_is_open(c, at(c, "2026-06-13 01:00")));
	cal_free(c);

	/* end before start is overnight: 23 hours */
	c = mk("UTC", "mon 10:00-09:00", NULL);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-01 00:00"), at(c, "2026-06-08 00:00")),
	    23 * 3600);
	ck_assert(cal_is_open(c, at(c, "2026-06-02 08:59")));
	cal_free(c);

	/* an overnight range overlapping the next day's range counts once */
	c = mk("UTC", "mon-sun 20:00-08:00", "mon-sun 06:00-10:00");
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-02 00:00"), at(c, "2026-06-03 00:00")),
	    14 * 3600);
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-06-02 07:00")), "2026-06-02T10:00:00+00:00");
	cal_free(c);
}
END_TEST

START_TEST(test_24x7_utc)
{
	const char *spec[2] = { "mon-sun 00:00-24:00", "24x7" };
	int i;

	for (i = 0; i < 2; i++) {
		struct cal *c = mk("UTC", spec[i], NULL);
		time_t t = at(c, "2026-12-31 22:15");

		ck_assert_int_eq(cal_add_business(c, t, 4 * 3600), t + 4 * 3600);
		ck_assert_int_eq(cal_add_business(c, t, 400LL * 86400), t + 400LL * 86400);
		ck_assert_int_eq(cal_business_between(c, t, t + 10 * 86400), 10 * 86400);
		ck_assert(cal_is_open(c, t));
		ck_assert(cal_is_open(c, at(c, "2027-01-01 00:00")));
		ck_assert_int_eq(cal_next_open(c, t), t);
		ck_assert_int_eq(cal_next_change(c, t), (time_t)-1);
		ck_assert_int_eq(cal_utc_offset(c, t), 0);
		/* not the fast path any more: walks the days */
		ck_assert_int_eq(cal_add_holiday(c, 2030, 1, 1), 0);
		ck_assert_int_eq(cal_next_change(c, t), (time_t)-1);
		ck_assert_int_eq(
		    cal_add_closure(c, at(c, "2027-03-01 00:00"), at(c, "2027-03-02 00:00")), 0);
		ASSERT_TIME(c, cal_next_change(c, t), "2027-03-01T00:00:00+00:00");
		ASSERT_TIME(c, cal_next_change(c, at(c, "2027-03-01 00:00")),
		            "2027-03-02T00:00:00+00:00");
		ck_assert_int_eq(cal_business_between(c, t, t + 365 * 86400), 364 * 86400);
		cal_free(c);
	}
}
END_TEST

START_TEST(test_berlin_spring)
{
	/* 2026-03-29: 02:00 CET -> 03:00 CEST; 02:00-03:00 does not exist */
	struct cal *c = mk("Europe/Berlin", "24x7", NULL);

	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-03-28 00:00"), at(c, "2026-03-30 00:00")),
	    47 * 3600);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-03-29 01:30"), 3600),
	            "2026-03-29T03:30:00+02:00");
	/* a local time in the gap moves forward to the end of the gap */
	ASSERT_TIME(c, at(c, "2026-03-29 02:30"), "2026-03-29T03:00:00+02:00");
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2026-03-29 01:59")), 3600);
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2026-03-29 03:00")), 7200);
	cal_free(c);

	c = mk("Europe/Berlin", "sun 02:30-04:00", NULL);
	ASSERT_TIME(c, cal_next_open(c, at(c, "2026-03-29 00:00")), "2026-03-29T03:00:00+02:00");
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-03-29 00:00"), at(c, "2026-03-30 00:00")), 3600);
	cal_free(c);

	c = mk("Europe/Berlin", "mon-fri 09:00-17:00", NULL);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-03-27 16:30"), 3600),
	            "2026-03-30T09:30:00+02:00");
	ck_assert_int_eq(cal_add_business(c, at(c, "2026-03-27 16:30"), 3600) -
	                     at(c, "2026-03-27 16:30"),
	                 3 * 86400 - 7 * 3600 - 3600);
	cal_free(c);
}
END_TEST

START_TEST(test_berlin_autumn)
{
	/* 2026-10-25: 03:00 CEST -> 02:00 CET; 02:00-03:00 happens twice */
	struct cal *c = mk("Europe/Berlin", "24x7", NULL);
	time_t first = at(c, "2026-10-25 02:30");

	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-10-24 00:00"), at(c, "2026-10-26 00:00")),
	    49 * 3600);
	/* the first occurrence counts */
	ASSERT_TIME(c, first, "2026-10-25T02:30:00+02:00");
	ASSERT_TIME(c, first + 3600, "2026-10-25T02:30:00+01:00");
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-10-25 01:45"), 3600),
	            "2026-10-25T02:45:00+02:00");
	ASSERT_TIME(c, cal_add_business(c, first + 3600, 3600), "2026-10-25T03:30:00+01:00");
	cal_free(c);

	c = mk("Europe/Berlin", "sun 01:00-03:00", NULL);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-10-25 00:00"), at(c, "2026-10-26 00:00")),
	    3 * 3600);
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-10-25 01:00")), "2026-10-25T03:00:00+01:00");
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-10-25 01:30"), 3600),
	            "2026-10-25T02:30:00+02:00");
	cal_free(c);

	c = mk("Europe/Berlin", "mon-fri 09:00-17:00", NULL);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-10-23 16:30"), 3600),
	            "2026-10-26T09:30:00+01:00");
	cal_free(c);
}
END_TEST

START_TEST(test_new_york)
{
	struct cal *c = mk("America/New_York", "mon-fri 09:00-17:00", NULL);

	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-03-06 16:30"), 3600),
	            "2026-03-09T09:30:00-04:00");
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-10-30 16:30"), 3600),
	            "2026-11-02T09:30:00-05:00");
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2026-07-01 12:00")), -4 * 3600);
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2026-01-01 12:00")), -5 * 3600);
	/* far beyond the table: the POSIX footer rule decides */
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2199-07-01 12:00")), -4 * 3600);
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2350-07-01 12:00")), -4 * 3600);
	ck_assert_int_eq(cal_utc_offset(c, at(c, "2350-12-01 12:00")), -5 * 3600);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-03-02 00:00"), at(c, "2026-03-16 00:00")),
	    10 * 8 * 3600);
	cal_free(c);
}
END_TEST

START_TEST(test_year_boundary)
{
	struct cal *c = mk("Asia/Tokyo", "mon-fri 09:00-17:30", NULL);
	time_t t;

	load_jp(c);
	/* Thu 2026-12-31, Fri 2027-01-01 New Year's Day, weekend */
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-12-31 17:00"), 3600),
	            "2027-01-04T09:30:00+09:00");
	/* the help desk's year-end closure, Dec 29 to Jan 3 */
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-12-29 00:00"), at(c, "2027-01-04 00:00")),
	                 0);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-12-28 17:00"), 3600),
	            "2027-01-04T09:30:00+09:00");
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-12-28 00:00"), at(c, "2027-01-05 00:00")),
	    2 * 8 * 3600 + 3600);
	t = at(c, "2026-12-31 23:59");
	ck_assert(!cal_is_open(c, t));
	ASSERT_TIME(c, cal_next_change(c, t), "2027-01-04T09:00:00+09:00");
	cal_free(c);
}
END_TEST

START_TEST(test_golden_week)
{
	/* 2026: Apr 29 Wed Showa Day; May 3 Sun, 4, 5, 6 (substitute) */
	struct cal *c = mk("Asia/Tokyo", "mon-fri 09:00-17:30", NULL);

	load_jp(c);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-05-01 17:00"), 3600),
	            "2026-05-07T09:30:00+09:00");
	/* a one-day (8.5 h) deadline across the holidays */
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-05-01 10:00"), 8 * 3600 + 1800),
	            "2026-05-07T10:00:00+09:00");
	ck_assert(cal_is_holiday(c, at(c, "2026-05-06 12:00")));
	ck_assert(!cal_is_holiday(c, at(c, "2026-05-07 12:00")));
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-04-27 00:00"), at(c, "2026-05-11 00:00")),
	    6 * 30600);
	cal_free(c);
}
END_TEST

START_TEST(test_closures)
{
	struct cal *c = mk("UTC", "mon-fri 09:00-17:00", NULL);

	/* a closure in the middle of a day splits it */
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-06-01 12:00"), at(c, "2026-06-01 14:00")),
	                 0);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-01 00:00"), at(c, "2026-06-02 00:00")),
	    6 * 3600);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-06-01 11:00"), 2 * 3600),
	            "2026-06-01T15:00:00+00:00");
	ck_assert(!cal_is_open(c, at(c, "2026-06-01 13:00")));
	ASSERT_TIME(c, cal_next_change(c, at(c, "2026-06-01 13:00")), "2026-06-01T14:00:00+00:00");
	/* overlapping and touching closures merge */
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-06-01 13:00"), at(c, "2026-06-01 15:00")),
	                 0);
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-06-01 15:00"), at(c, "2026-06-01 16:00")),
	                 0);
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-06-01 08:00"), at(c, "2026-06-01 10:00")),
	                 0);
	ck_assert_int_eq(
	    cal_business_between(c, at(c, "2026-06-01 00:00"), at(c, "2026-06-02 00:00")),
	    3 * 3600);
	/* a closure covering a whole day and beyond */
	ck_assert_int_eq(cal_add_closure(c, at(c, "2026-06-02 16:00"), at(c, "2026-06-04 10:00")),
	                 0);
	ASSERT_TIME(c, cal_add_business(c, at(c, "2026-06-02 15:00"), 2 * 3600),
	            "2026-06-04T11:00:00+00:00");
	ck_assert_int_eq(cal_add_closure(c, 100, 100), -1);
	cal_free(c);
}
END_TEST

START_TEST(test_bad_hours)
{
	static const char *const bad[] = {
		"mon-fri 9-5",
		"xyz 09:00-10:00",
		"mon 25:00-26:00",
		"mon 09:00-09:00",
		"mon 24:00-01:00",
		"mon 09:60-10:00",
		"mon",
		"mon 09:00",
		"mon 09:00-10:00,",
		"mon 09:00-10:00 x",
		"mon-xyz 09:00-10:00",
		"",
		"   ",
		"mon,,tue 09:00-10:00",
		"mon 09:00-24:30",
		"monday09:00-10:00",
		"mon 9:0-10:00",
		"mon -09:00-10:00",
	};
	char err[CAL_ERRLEN];
	const char *h[1];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h[0] = bad[i];
		err[0] = 0;
		ck_assert_msg(cal_new("x", "UTC", h, 1, err, sizeof(err)) == NULL,
		              "accepted \"%s\"", bad[i]);
		ck_assert_msg(strstr(err, bad[i]) != NULL, "error does not name \"%s\": %s", bad[i],
		              err);
	}
	/* more than CAL_MAX_RANGES ranges on one day */
	h[0] = "mon 00:00-00:01,01:00-01:01,02:00-02:01,03:00-03:01,04:00-04:01,05:00-05:01,"
	       "06:00-06:01,07:00-07:01,08:00-08:01,09:00-09:01,10:00-10:01,11:00-11:01,"
	       "12:00-12:01,13:00-13:01,14:00-14:01,15:00-15:01,16:00-16:01";
	ck_assert_ptr_null(cal_new("x", "UTC", h, 1, err, sizeof(err)));
	/* accepted odd-looking ones */
	{
		struct cal *c = mk("UTC", "MON,Wed,fri-sun 9:00-10:00", NULL);

		ck_assert_int_eq(
		    cal_business_between(c, at(c, "2026-06-01 00:00"), at(c, "2026-06-08 00:00")),
		    5 * 3600);
		cal_free(c);
	}
}
END_TEST

START_TEST(test_bad_zone)
{
	static const char *const bad[] = {
		"Mars/Olympus", "../../etc/passwd", "", "/etc/passwd", "Asia",
		"Asia//Tokyo",  "Asia/Tokyo\n"
	};
	char err[CAL_ERRLEN];
	const char *h[1] = { "24x7" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_ptr_null(cal_new("x", bad[i], h, 1, err, sizeof(err)));
		ck_assert_msg(err[0], "no message for \"%s\"", bad[i]);
	}
	ck_assert_ptr_nonnull(
	    strstr((cal_new("x", "Mars/Olympus", h, 1, err, sizeof(err)), err), "Mars/Olympus"));
}
END_TEST

START_TEST(test_parse_local)
{
	struct cal *c = mk("Asia/Tokyo", "24x7", NULL);
	static const char *const bad[] = { "2026-02-30",        "2026-13-01",
		                           "2026-1-01",         "26-01-01",
		                           "2026-01-01 9:00",   "2026-01-01 24:01",
		                           "2026-01-01x",       "2026-01-01 10:00:60",
		                           "2026-01-01 10:00:", "",
		                           "2026-01- 1",        "1800-01-01" };
	time_t t;
	size_t i;

	ASSERT_TIME(c, at(c, "2026-01-01"), "2026-01-01T00:00:00+09:00");
	ASSERT_TIME(c, at(c, "2026-01-01T10:20:30"), "2026-01-01T10:20:30+09:00");
	ASSERT_TIME(c, at(c, "2026-01-01 24:00"), "2026-01-02T00:00:00+09:00");
	ck_assert_int_eq(at(c, "1970-01-01 09:00"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cal_parse_local(c, bad[i], &t) == -1, "accepted %s", bad[i]);
	cal_free(c);
}
END_TEST

/* ---- time zones against glibc (allowed in a test process, never in the
 * daemon), the footer rule, and garbage TZif input ---- */

static long glibc_offset(const char *zone, time_t t)
{
	struct tm tm;
	char tzv[128];

	snprintf(tzv, sizeof(tzv), ":%s", zone);
	setenv("TZ", tzv, 1);
	tzset();
	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_tz_vs_glibc)
{
	static const char *const zones[] = { "Asia/Tokyo",       "Europe/Berlin",
		                             "America/New_York", "Australia/Sydney",
		                             "Asia/Kolkata",     "America/Sao_Paulo",
		                             "Europe/London",    "Pacific/Chatham" };
	const char *h[1] = { "24x7" };
	char err[CAL_ERRLEN];
	uint64_t s = 88172645463325252ULL;
	size_t z;
	int i;

	for (z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct cal *c = cal_new("x", zones[z], h, 1, err, sizeof(err));

		ck_assert_msg(c != NULL, "%s: %s", zones[z], err);
		for (i = 0; i < 3000; i++) {
			/* 1900 .. 2100 */
			time_t t = (time_t)(rng_next(&s) % (200ULL * 365 * 86400)) - 2208988800LL;

			ck_assert_msg(cal_utc_offset(c, t) == glibc_offset(zones[z], t),
			              "%s at %lld: %ld vs %ld", zones[z], (long long)t,
			              cal_utc_offset(c, t), glibc_offset(zones[z], t));
		}
		cal_free(c);
	}
}
END_TEST

START_TEST(test_tz_posix_rule)
{
	char err[CAL_ERRLEN];
	struct cal_tz *r = cal__tz_posix("CET-1CEST,M3.5.0,M10.5.0/3", err, sizeof(err));
	struct cal_tz *s = cal__tz_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", err, sizeof(err));
	struct cal *c = mk("Europe/Berlin", "24x7", NULL);
	static const char *const bad[] = { "",
		                           "C",
		                           "CET",
		                           "CET-1CEST,M3.5.0",
		                           "CET-1CEST,M13.5.0,M10.5.0",
		                           "CET-1CEST,M3.6.0,M10.5.0",
		                           "CET-1CEST,J0,J10",
		                           "CET-1CEST,M3.5.0,M10.5.0/3x",
		                           "CET-25",
		                           "<+10-10",
		                           "CET-1:60" };
	int64_t t;
	size_t i;

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(s);
	for (t = 1893456000; t < 4102444800LL; t += 86400 / 4 + 1)
		ck_assert_int_eq(cal__tz_offset(r, t), cal_utc_offset(c, (time_t)t));
	/* southern hemisphere: DST over the new year */
	ck_assert_int_eq(cal__tz_offset(s, 1767268800), 11 * 3600); /* 2026-01-01 12:00Z */
	ck_assert_int_eq(cal__tz_offset(s, 1782907200), 37800);     /* 2026-07-01 12:00Z */
	/* beyond the expanded years: the rule is evaluated directly */
	ck_assert_int_eq(cal__tz_offset(r, 11676009600LL + 180 * 86400), 7200); /* 2340-06-29 */
	ck_assert_int_eq(cal__tz_offset(r, 11676009600LL), 3600);               /* 2340-01-01 */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cal_tz *x = cal__tz_posix(bad[i], err, sizeof(err));

		ck_assert_msg(x == NULL, "accepted \"%s\"", bad[i]);
	}
	cal__tz_free(r);
	cal__tz_free(s);
	cal_free(c);
}
END_TEST

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 20);

	ck_assert_ptr_nonnull(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* A hand-made version 1 file: -1 h until 2000-01-01, +2 h after. */
START_TEST(test_tzif_v1)
{
	unsigned char b[44 + 4 + 1 + 12 + 8];
	unsigned char *p = b + 44;
	char err[CAL_ERRLEN];
	struct cal_tz *z;

	memset(b, 0, sizeof(b));
	memcpy(b, "TZif", 4);
	b[35] = 1;                                          /* timecnt */
	b[39] = 2;                                          /* typecnt */
	b[43] = 8;                                          /* charcnt */
	p[0] = 0x38, p[1] = 0x6d, p[2] = 0x43, p[3] = 0x80; /* 946684800 */
	p[4] = 1;
	p += 5;
	p[0] = 0xff, p[1] = 0xff, p[2] = 0xf1, p[3] = 0xf0;           /* -3600 */
	p[6 + 2] = 0x1c, p[6 + 3] = 0x20, p[6 + 4] = 1, p[6 + 5] = 4; /* 7200, dst */
	memcpy(p + 12, "AAA\0BBB", 8);
	z = cal__tz_parse(b, sizeof(b), err, sizeof(err));
	ck_assert_msg(z != NULL, "%s", err);
	ck_assert_int_eq(cal__tz_offset(z, 946684799), -3600);
	ck_assert_int_eq(cal__tz_offset(z, 946684800), 7200);
	ck_assert_int_eq(cal__tz_offset(z, 4102444800LL), 7200);
	/* local 2000-01-01 00:30 (-1 h) is in the gap that opens at 23:00 local */
	ck_assert_int_eq(cal__tz_to_utc(z, 946684800 - 3600 + 1800), 946684800);
	cal__tz_free(z);
	b[44 + 4] = 2; /* type index out of range */
	ck_assert_ptr_null(cal__tz_parse(b, sizeof(b), err, sizeof(err)));
}
END_TEST

START_TEST(test_tzif_garbage)
{
	size_t len, n, i;
	unsigned char *real = slurp("/usr/share/zoneinfo/Europe/Berlin", &len);
	unsigned char *buf = malloc(len);
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	char err[CAL_ERRLEN];
	struct cal_tz *z;
	int accepted = 0;

	/* every truncation */
	for (n = 0; n < len; n++) {
		z = cal__tz_parse(real, n, err, sizeof(err));
		accepted += z != NULL;
		if (z)
			cal__tz_offset(z, 1700000000);
		cal__tz_free(z);
	}
	ck_assert_int_eq(accepted, 0); /* the footer's newline is the last byte */
	/* random bytes, then bit flips of the real file */
	for (i = 0; i < 2000; i++) {
		for (n = 0; n < len; n++)
			buf[n] = (unsigned char)rng_next(&s);
		if (i & 1)
			memcpy(buf, "TZif2", 5);
		cal__tz_free(cal__tz_parse(buf, len, err, sizeof(err)));
	}
	for (i = 0; i < 5000; i++) {
		memcpy(buf, real, len);
		for (n = 0; n < 3; n++)
			buf[rng_next(&s) % len] ^= (unsigned char)(1u << (rng_next(&s) % 8));
		z = cal__tz_parse(buf, len, err, sizeof(err));
		if (z) {
			cal__tz_offset(z, (int64_t)(rng_next(&s) % 8000000000ULL));
			cal__tz_to_utc(z, (int64_t)(rng_next(&s) % 8000000000ULL));
		}
		cal__tz_free(z);
	}
	free(buf);
	free(real);
}
END_TEST

/* ---- Japan's holidays ---- */

/* The Cabinet Office's lists (内閣府「国民の祝日について」). */
static const char *const jp_2024[] = { "2024-01-01,New Year's Day (元日)",
	                               "2024-01-08,Coming of Age Day (成人の日)",
	                               "2024-02-11,National Foundation Day (建国記念の日)",
	                               "2024-02-12,Substitute Holiday (振替休日)",
	                               "2024-02-23,Emperor's Birthday (天皇誕生日)",
	                               "2024-03-20,Vernal Equinox Day (春分の日)",
	                               "2024-04-29,Showa Day (昭和の日)",
	                               "2024-05-03,Constitution Memorial Day (憲法記念日)",
	                               "2024-05-04,Greenery Day (みどりの日)",
	                               "2024-05-05,Children's Day (こどもの日)",
	                               "2024-05-06,Substitute Holiday (振替休日)",
	                               "2024-07-15,Marine Day (海の日)",
	                               "2024-08-11,Mountain Day (山の日)",
	                               "2024-08-12,Substitute Holiday (振替休日)",
	                               "2024-09-16,Respect for the Aged Day (敬老の日)",
	                               "2024-09-22,Autumnal Equinox Day (秋分の日)",
	                               "2024-09-23,Substitute Holiday (振替休日)",
	                               "2024-10-14,Sports Day (スポーツの日)",
	                               "2024-11-03,Culture Day (文化の日)",
	                               "2024-11-04,Substitute Holiday (振替休日)",
	                               "2024-11-23,Labor Thanksgiving Day (勤労感謝の日)",
	                               NULL };
static const char *const jp_2025[] = { "2025-01-01,New Year's Day (元日)",
	                               "2025-01-13,Coming of Age Day (成人の日)",
	                               "2025-02-11,National Foundation Day (建国記念の日)",
	                               "2025-02-23,Emperor's Birthday (天皇誕生日)",
	                               "2025-02-24,Substitute Holiday (振替休日)",
	                               "2025-03-20,Vernal Equinox Day (春分の日)",
	                               "2025-04-29,Showa Day (昭和の日)",
	                               "2025-05-03,Constitution Memorial Day (憲法記念日)",
	                               "2025-05-04,Greenery Day (みどりの日)",
	                               "2025-05-05,Children's Day (こどもの日)",
	                               "2025-05-06,Substitute Holiday (振替休日)",
	                               "2025-07-21,Marine Day (海の日)",
	                               "2025-08-11,Mountain Day (山の日)",
	                               "2025-09-15,Respect for the Aged Day (敬老の日)",
	                               "2025-09-23,Autumnal Equinox Day (秋分の日)",
	                               "2025-10-13,Sports Day (スポーツの日)",
	                               "2025-11-03,Culture Day (文化の日)",
	                               "2025-11-23,Labor Thanksgiving Day (勤労感謝の日)",
	                               "2025-11-24,Substitute Holiday (振替休日)",
	                               NULL };
static const char *const jp_2026[] = { "2026-01-01,New Year's Day (元日)",
	                               "2026-01-12,Coming of Age Day (成人の日)",
	                               "2026-02-11,National Foundation Day (建国記念の日)",
	                               "2026-02-23,Emperor's Birthday (天皇誕生日)",
	                               "2026-03-20,Vernal Equinox Day (春分の日)",
	                               "2026-04-29,Showa Day (昭和の日)",
	                               "2026-05-03,Constitution Memorial Day (憲法記念日)",
	                               "2026-05-04,Greenery Day (みどりの日)",
	                               "2026-05-05,Children's Day (こどもの日)",
	                               "2026-05-06,Substitute Holiday (振替休日)",
	                               "2026-07-20,Marine Day (海の日)",
	                               "2026-08-11,Mountain Day (山の日)",
	                               "2026-09-21,Respect for the Aged Day (敬老の日)",
	                               "2026-09-22,Citizens' Holiday (国民の休日)",
	                               "2026-09-23,Autumnal Equinox Day (秋分の日)",
	                               "2026-10-12,Sports Day (スポーツの日)",
	                               "2026-11-03,Culture Day (文化の日)",
	                               "2026-11-23,Labor Thanksgiving Day (勤労感謝の日)",
	                               NULL };
/* Olympic years: only the moved days and their consequences are listed
 * in full, the rest is checked by the complete-list years above. */
static const char *const jp_2020[] = { "2020-01-01,New Year's Day (元日)",
	                               "2020-01-13,Coming of Age Day (成人の日)",
	                               "2020-02-11,National Foundation Day (建国記念の日)",
	                               "2020-02-23,Emperor's Birthday (天皇誕生日)",
	                               "2020-02-24,Substitute Holiday (振替休日)",
	                               "2020-03-20,Vernal Equinox Day (春分の日)",
	                               "2020-04-29,Showa Day (昭和の日)",
	                               "2020-05-03,Constitution Memorial Day (憲法記念日)",
	                               "2020-05-04,Greenery Day (みどりの日)",
	                               "2020-05-05,Children's Day (こどもの日)",
	                               "2020-05-06,Substitute Holiday (振替休日)",
	                               "2020-07-23,Marine Day (海の日)",
	                               "2020-07-24,Sports Day (スポーツの日)",
	                               "2020-08-10,Mountain Day (山の日)",
	                               "2020-09-21,Respect for the Aged Day (敬老の日)",
	                               "2020-09-22,Autumnal Equinox Day (秋分の日)",
	                               "2020-11-03,Culture Day (文化の日)",
	                               "2020-11-23,Labor Thanksgiving Day (勤労感謝の日)",
	                               NULL };
static const char *const jp_2021[] = { "2021-01-01,New Year's Day (元日)",
	                               "2021-01-11,Coming of Age Day (成人の日)",
	                               "2021-02-11,National Foundation Day (建国記念の日)",
	                               "2021-02-23,Emperor's Birthday (天皇誕生日)",
	                               "2021-03-20,Vernal Equinox Day (春分の日)",
	                               "2021-04-29,Showa Day (昭和の日)",
	                               "2021-05-03,Constitution Memorial Day (憲法記念日)",
	                               "2021-05-04,Greenery Day (みどりの日)",
	                               "2021-05-05,Children's Day (こどもの日)",
	                               "2021-07-22,Marine Day (海の日)",
	                               "2021-07-23,Sports Day (スポーツの日)",
	                               "2021-08-08,Mountain Day (山の日)",
	                               "2021-08-09,Substitute Holiday (振替休日)",
	                               "2021-09-20,Respect for the Aged Day (敬老の日)",
	                               "2021-09-23,Autumnal Equinox Day (秋分の日)",
	                               "2021-11-03,Culture Day (文化の日)",
	                               "2021-11-23,Labor Thanksgiving Day (勤労感謝の日)",
	                               NULL };

static void assert_jp_year(int year, const char *const *want)
{
	struct cal_holiday h[40];
	char line[128];
	int n = cal_jp_holidays(year, h, 40), i;

	for (i = 0; want[i]; i++) {
		ck_assert_msg(i < n, "%d: missing %s", year, want[i]);
		snprintf(line, sizeof(line), "%04d-%02d-%02d,%s", year, h[i].month, h[i].day,
		         h[i].name);
		ck_assert_str_eq(line, want[i]);
	}
	ck_assert_int_eq(n, i);
}

START_TEST(test_jp_rules)
{
	struct cal_holiday h[40];

	assert_jp_year(2024, jp_2024);
	assert_jp_year(2025, jp_2025);
	assert_jp_year(2026, jp_2026);
	assert_jp_year(2020, jp_2020);
	assert_jp_year(2021, jp_2021);
	ck_assert_int_eq(cal_jp_holidays(2019, h, 40), -1);
	ck_assert_int_eq(cal_jp_holidays(2100, h, 40), -1);
	ck_assert_int_eq(cal_jp_holidays(2026, h, 5), -1);
}
END_TEST

/* The shipped table must be exactly the generator's output. */
static int gen_jp(FILE *out, int from, int to)
{
	struct cal_holiday h[40];
	int y, n, i;

	fprintf(out,
	        "# Japan's national holidays %d-%d (国民の祝日), generated by\n"
	        "# build/tests/test_cal --gen-jp %d %d from src/cal/jp.c; see README.md.\n",
	        from, to, from, to);
	for (y = from; y <= to; y++) {
		if ((n = cal_jp_holidays(y, h, 40)) < 0)
			return -1;
		for (i = 0; i < n; i++)
			fprintf(out, "%04d-%02d-%02d,%s\n", y, h[i].month, h[i].day, h[i].name);
	}
	return 0;
}

START_TEST(test_jp_csv_matches_rules)
{
	char path[512], *want = NULL, got[1 << 16];
	size_t wlen = 0, glen;
	FILE *mem = open_memstream(&want, &wlen), *f;

	ck_assert_int_eq(gen_jp(mem, 2020, 2035), 0);
	fclose(mem);
	snprintf(path, sizeof(path), "%s/share/mamori/holidays/jp.csv", srcdir());
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	glen = fread(got, 1, sizeof(got), f);
	fclose(f);
	ck_assert_msg(glen == wlen && !memcmp(got, want, wlen),
	              "%s differs from the generator: regenerate it (README.md)", path);
	free(want);
}
END_TEST

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

START_TEST(test_holiday_csv_garbage)
{
	static const char *const bad[] = {
		"2026-02-30,Nope\n",
		"2026-13-01,Nope\n",
		"2026-1-01,Nope\n",
		"2026-01-01\n",
		"2026-01-01,\n",
		"2026/01/01,Slash\n",
		"# ok\n\nxyz\n",
		"2026-01-01;Semicolon\n",
		"2026-01-01,tab\there\n",
		"\x01\x02\x03\xff\n",
		",\n",
		"2026-01-01 ,x\n",
	};
	char path[] = "/tmp/test_cal_XXXXXX", err[CAL_ERRLEN], buf[512];
	struct cal *c = mk("Asia/Tokyo", "24x7", NULL);
	size_t i;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(write_file(path, bad[i]), 0);
		err[0] = 0;
		ck_assert_msg(cal_holidays_load(c, path, err, sizeof(err)) == -1, "accepted %s",
		              bad[i]);
		ck_assert_msg(strstr(err, path) && strstr(err, ":"), "no file:line in %s", err);
	}
	ck_assert_int_eq(write_file(path, "2026-01-01,ok\n\n"), 0);
	ck_assert_int_eq(cal_holidays_load(c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(write_file(path, "2026-01-01,ok\n2026-01-02,x\nbad\n"), 0);
	ck_assert_int_eq(cal_holidays_load(c, path, err, sizeof(err)), -1);
	snprintf(buf, sizeof(buf), "%s:3:", path);
	ck_assert_ptr_nonnull(strstr(err, buf));
	/* a user table with BOM and CRLF, comments */
	ck_assert_int_eq(write_file(path, "\xEF\xBB\xBF# company days\r\n2026-08-13,お盆\r\n"), 0);
	ck_assert_int_eq(cal_holidays_load(c, path, err, sizeof(err)), 0);
	ck_assert(cal_is_holiday(c, at(c, "2026-08-13 12:00")));
	unlink(path);
	ck_assert_int_eq(cal_holidays_load(c, path, err, sizeof(err)), -1);
	/* path resolution */
	ck_assert_int_eq(cal_holidays_path("jp", "/d", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/d/holidays/jp.csv");
	ck_assert_int_eq(cal_holidays_path("/etc/x.csv", "/d", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/etc/x.csv");
	ck_assert_int_eq(cal_holidays_path("JP", "/d", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cal_holidays_path("..", "/d", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cal_holidays_path("", "/d", buf, sizeof(buf)), -1);
	ck_assert_int_eq(cal_add_holiday(c, 2026, 2, 29), -1);
	cal_free(c);
}
END_TEST

/* ---- benchmark mode ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_zone(const char *zone)
{
	const char *hours[1] = { "mon-fri 09:00-17:30" };
	char err[CAL_ERRLEN] = "", path[512], dd[400];
	struct cal *c = cal_new("b", zone, hours, 1, err, sizeof(err));
	time_t base, gw, sink = 0;
	double t0, dt;
	long i, n = 1000000;

	snprintf(dd, sizeof(dd), "%s/share/mamori", srcdir());
	if (!c || cal_holidays_path("jp", dd, path, sizeof(path)) ||
	    cal_holidays_load(c, path, err, sizeof(err)) ||
	    cal_parse_local(c, "2026-01-01", &base) ||
	    cal_parse_local(c, "2026-05-01 10:00", &gw)) {
		fprintf(stderr, "bench setup: %s\n", err);
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i++)
		sink ^= cal_add_business(c, base + (time_t)((i * 7919) % (365 * 86400)), 4 * 3600);
	dt = now_s() - t0;
	printf("%s Mon-Fri 09:00-17:30 + jp holidays:\n", zone);
	printf("  cal_add_business 4h: %.0f calls/s\n", n / dt);
	t0 = now_s();
	for (i = 0; i < n / 10; i++)
		sink ^= cal_add_business(c, gw + i % 1000, 8 * 3600 + 1800);
	dt = now_s() - t0;
	printf("  cal_add_business 1 business day across Golden Week: %.2f us/call\n",
	       dt * 1e6 / (n / 10));
	t0 = now_s();
	for (i = 0; i < n / 10; i++)
		sink ^= (time_t)cal_business_between(c, base, base + 365 * 86400 + i);
	dt = now_s() - t0;
	printf("  cal_business_between over one year: %.2f us/call (%lld)\n", dt * 1e6 / (n / 10),
	       (long long)(sink & 1));
	cal_free(c);
	return 0;
}

static int bench(void)
{
	return bench_zone("Asia/Tokyo") || bench_zone("Europe/Berlin");
}

static Suite *cal_suite(void)
{
	const struct {
		const char *name;
		const TTest *fn;
	} tests[] = {
		{ "contract", test_contract },
		{ "lunch", test_lunch_break },
		{ "overnight", test_overnight },
		{ "24x7", test_24x7_utc },
		{ "berlin_spring", test_berlin_spring },
		{ "berlin_autumn", test_berlin_autumn },
		{ "new_york", test_new_york },
		{ "year_boundary", test_year_boundary },
		{ "golden_week", test_golden_week },
		{ "closures", test_closures },
		{ "bad_hours", test_bad_hours },
		{ "bad_zone", test_bad_zone },
		{ "parse_local", test_parse_local },
		{ "tz_vs_glibc", test_tz_vs_glibc },
		{ "tz_posix_rule", test_tz_posix_rule },
		{ "tzif_v1", test_tzif_v1 },
		{ "tzif_garbage", test_tzif_garbage },
		{ "jp_rules", test_jp_rules },
		{ "jp_csv", test_jp_csv_matches_rules },
		{ "holiday_csv", test_holiday_csv_garbage },
	};
	Suite *s = suite_create("cal");
	size_t i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, tests[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc == 4 && !strcmp(argv[1], "--gen-jp"))
		return gen_jp(stdout, atoi(argv[2]), atoi(argv[3])) ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "--bench"))
		return bench();
	sr = srunner_create(cal_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
