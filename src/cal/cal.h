/*
 * cal: business calendars and business-time arithmetic.
 *
 * A calendar is weekly opening hours (several ranges per weekday, ranges
 * may run past midnight, "00:00-24:00" for all day), an IANA time zone
 * (DST-correct: local wall-clock hours), and holiday tables (dates on which
 * the calendar is closed all day) plus one-off closures (absolute
 * intervals).  Used by the scheduler (check_period) and the SLA clock
 * (deadlines in business time).
 *
 * Pure: no logging, no global state, no I/O except cal_holidays_load.
 * Time zones are computed without touching the process's TZ variable (no
 * setenv/tzset/localtime): the zone is read from the system zoneinfo
 * (TZif files under /usr/share/zoneinfo, package tzdata) into the calendar.
 * All times are time_t seconds (UTC epoch).
 */
#ifndef MAMORI_CAL_H
#define MAMORI_CAL_H

#include <stddef.h>
#include <time.h>

struct cal;

/* Error text buffer size for the functions below. */
#define CAL_ERRLEN 256

/* Create a calendar.  hours: strings like "mon-fri 09:00-12:00,13:00-17:30",
 * "sat 10:00-14:00", "mon-sun 00:00-24:00", "fri 22:00-02:00" (overnight:
 * the part after midnight belongs to the next day).  tz: IANA name such as
 * "Asia/Tokyo" ("UTC" always works).  On error returns NULL and writes a
 * message into err (which names the bad string). */
struct cal *cal_new(const char *name, const char *tz, const char *const *hours, size_t n_hours,
                    char *err, size_t errlen);
void cal_free(struct cal *c);
const char *cal_name(const struct cal *c);

/* Load a holiday table CSV: lines "YYYY-MM-DD,name"; '#' comments and
 * blank lines ignored.  Adds every date as a closed day (local dates in the
 * calendar's zone).  Returns 0 or -1 with a message naming file and line. */
int cal_holidays_load(struct cal *c, const char *path, char *err, size_t errlen);
/* Add one closed local date. */
int cal_add_holiday(struct cal *c, int year, int month, int day);
/* One-off closure [from, to) in absolute time. */
int cal_add_closure(struct cal *c, time_t from, time_t to);

/* 1 if open at t. */
int cal_is_open(const struct cal *c, time_t t);
/* The next time >= t at which the calendar is open (t itself if open);
 * (time_t)-1 if it never opens within ~2 years. */
time_t cal_next_open(const struct cal *c, time_t t);
/* The next time > t at which open/closed changes; (time_t)-1 if never. */
time_t cal_next_change(const struct cal *c, time_t t);
/* Add `seconds` of business (open) time to `start`: the instant at which
 * that much open time has elapsed.  Example: Mon-Fri 09:00-17:30, start
 * Friday 17:25, 15 minutes -> Monday 09:10 (Tuesday if Monday is closed).
 * seconds == 0 returns cal_next_open(start).  (time_t)-1 on overflow. */
time_t cal_add_business(const struct cal *c, time_t start, long long seconds);
/* Open seconds in [from, to). */
long long cal_business_between(const struct cal *c, time_t from, time_t to);

/* Offset from UTC in seconds at t in the calendar's zone (for RFC 3339
 * output such as "+09:00"). */
long cal_utc_offset(const struct cal *c, time_t t);
/* Format t as RFC 3339 in the calendar's zone: "2026-11-27T09:10:00+09:00". */
int cal_format_rfc3339(const struct cal *c, time_t t, char *buf, size_t size);

/* ---- additions (helper "cal"); existing signatures above are unchanged ---- */

/* Semantics of the functions above, decided by the cal module (see
 * doc/calendars.md):
 *  - a range belongs to the day it starts on: a holiday on Friday closes
 *    "fri 22:00-02:00" entirely, a holiday on Saturday does not cut it;
 *  - "mon 10:00-09:00" (end before start) is overnight (23 h); equal start
 *    and end is an error; "24x7" alone means "mon-sun 00:00-24:00";
 *  - wall-clock times in a DST gap move forward to the end of the gap, in
 *    an overlap the first occurrence counts;
 *  - instants outside about years -29000..33000 are refused (-1, 0 or
 *    "closed"), seconds > 100 years in cal_add_business give -1;
 *  - cal_next_change returns -1 also for a calendar open throughout the
 *    next ~2 years (24x7). */

/* Maximum ranges per weekday (after expanding day lists). */
#define CAL_MAX_RANGES 16

/* Holiday table path for a config value: a value containing '/' is a path
 * used as is; otherwise "jp" means DATADIR/holidays/jp.csv (datadir NULL:
 * the installed MAMORI_DATADIR; tests pass "share/mamori").  Only
 * [a-z0-9_-] names are accepted.  0 or -1. */
int cal_holidays_path(const char *spec, const char *datadir, char *buf, size_t size);

/* Local wall time in the calendar's zone -> instant.  A time in a DST gap
 * moves forward to the end of the gap; one in an overlap is its first
 * occurrence.  Fields are checked (month 1-12, ...); (time_t)-1 if bad. */
time_t cal_local_time(const struct cal *c, int year, int month, int day, int hour, int min,
                      int sec);
/* Parse "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DDTHH:MM[:SS]" as
 * local time in the calendar's zone (config closures).  0 or -1. */
int cal_parse_local(const struct cal *c, const char *s, time_t *out);
/* 1 if the local date containing t is a holiday of the calendar. */
int cal_is_holiday(const struct cal *c, time_t t);

/* Japan's national holidays of one year (Act on National Holidays as in
 * force from 2020, with the 2020/2021 Olympic moves), in date order.
 * Returns the count, or -1 for years outside 2020..2099 or when more than
 * max holidays would be written. */
struct cal_holiday {
	int month, day;
	const char *name; /* "Coming of Age Day (成人の日)" */
};
int cal_jp_holidays(int year, struct cal_holiday *out, size_t max);

#endif
