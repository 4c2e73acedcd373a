/*
 * test_notify_oncall: on-call schedules on a fake clock - weekly and
 * daily hand-offs in several zones and across DST (a hand-off inside the
 * spring-forward gap, one inside the repeated autumn hour), layers in
 * priority order, layers restricted to hours or to a calendar's closed
 * times, overrides, gaps and the fallback, when the answer changes next;
 * and the configuration of contacts, oncall and notify fed garbage (every
 * error with its line, nothing accepted half).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cal/cal.h"
#include "config/config.h"
#include "notify/notify.h"
#include "notify/notify_int.h"
#include "plugin/loader.h"
#include "util/log.h"

/* UTC instant of a civil time. */
static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi
	};
	return timegm(&tm);
}

/* ---- log capture ---- */

static char logbuf[65536];
static size_t loglen;

static void hook(int level, const char *line, void *ud)
{
	size_t n = strlen(line);
	if (loglen + n + 2 < sizeof logbuf) {
		memcpy(logbuf + loglen, line, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	log_set_hook(hook, NULL);
}

static void ignore(void *ud, const char *msg)
{
	hook(LOG_LVL_ERR, msg, ud);
}

/* ---- a configuration ---- */

struct fx {
	struct loader *ld;
	struct mconf *c;
	struct notify_conf *nc;
};

static const char base[] =
    "calendars = ( { name = \"jp-business\"; timezone = \"Asia/Tokyo\";\n"
    "                hours = [ \"mon-fri 09:00-17:30\" ]; } );\n"
    "centers = ( { name = \"cc\"; calendar = \"jp-business\";\n"
    "  tiers = ( { name = \"t1\"; ack_within = \"15m\"; resolve_within = \"4h\"; },\n"
    "            { name = \"t2\"; ack_within = \"30m\"; resolve_within = \"8h\"; } ); } );\n"
    "routes = ( { center = \"cc\"; } );\n"
    "contacts = ( { name = \"a\"; email = \"a@example.jp\"; },\n"
    "             { name = \"b\"; email = \"b@example.jp\"; phone = \"+819011112222\"; },\n"
    "             { name = \"c\"; email = \"c@example.jp\"; language = \"en\"; },\n"
    "             { name = \"boss\"; email = \"boss@example.jp\"; } );\n";

/* base + more; NULL nc when refused (fx.c may still be set). */
static struct fx load(const char *more, double now)
{
	struct fx f = { 0 };
	f.ld = loader_new();
	size_t n = strlen(base) + strlen(more) + 1;
	char *text = malloc(n);
	snprintf(text, n, "%s%s", base, more);
	f.c = config_load_string(text, f.ld, "share/mamori", ignore, NULL);
	free(text);
	if (f.c)
		f.nc = notify_conf_parse(f.c, f.ld, NULL, now);
	return f;
}

static void fx_free(struct fx *f)
{
	notify_conf_free(f->nc);
	mconf_free(f->c);
	loader_free(f->ld);
	log_set_hook(NULL, NULL);
}

static const char *who_at(const struct fx *f, size_t sched, time_t t)
{
	struct oncall_who w[4];
	size_t n = oncall_resolve(&f->nc->scheds[sched], t, w, 4);
	return n ? f->nc->contacts[w[0].contact].name : "-";
}

static int source_at(const struct fx *f, size_t sched, time_t t)
{
	struct oncall_who w[4];
	size_t n = oncall_resolve(&f->nc->scheds[sched], t, w, 4);
	return n ? w[0].source : 99;
}

/* ---- civil dates ---- */

START_TEST(civil_roundtrip)
{
	for (int64_t d = -800000; d < 800000; d += 997) {
		int y, m, dd;
		notify__civil(d, &y, &m, &dd);
		ck_assert_int_eq(notify__days(y, m, dd), d);
	}
	ck_assert_int_eq(notify__days(1970, 1, 1), 0);
	ck_assert_int_eq(notify__days(2024, 2, 29) + 1, notify__days(2024, 3, 1));
}
END_TEST

/* ---- rotations ---- */

START_TEST(weekly_tokyo)
{
	log_reset();
	struct fx f =
	    load("oncall = ( { center = \"cc\"; tier = \"t1\";\n"
	         "  layers = ( { members = [ \"a\", \"b\", \"c\" ]; rotation = \"weekly\";\n"
	         "               handoff = \"mon 09:00\"; start = \"2026-01-01\"; } ); } );\n",
	         utc(2026, 1, 1, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	/* start is a Thursday: handoff 0 is Monday 2026-01-05 09:00 JST =
	 * 00:00 UTC; the rotation extends backwards too (c before it) */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 5, 0, 0) - 1), "c");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 5, 0, 0)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 11, 23, 59)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 12, 0, 0)), "b");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 19, 0, 0)), "c");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 1, 26, 0, 0)), "a");
	/* a year later: 52 weeks on = 52 mod 3 = 1 */
	ck_assert_str_eq(who_at(&f, 0, utc(2027, 1, 4, 0, 0)), "b");
	ck_assert_int_eq(oncall_next_change(&f.nc->scheds[0], utc(2026, 1, 7, 12, 0)),
	                 utc(2026, 1, 12, 0, 0));
	fx_free(&f);
}
END_TEST

START_TEST(daily_other_zone)
{
	/* the center runs on Tokyo time; this schedule hands off at 08:00
	 * London time, which is 08:00 UTC in winter, 07:00 UTC in summer */
	log_reset();
	struct fx f =
	    load("oncall = ( { center = \"cc\"; timezone = \"Europe/London\";\n"
	         "  layers = ( { members = [ \"a\", \"b\" ]; rotation = \"daily\";\n"
	         "               handoff = \"08:00\"; start = \"2026-03-27\"; } ); } );\n",
	         utc(2026, 3, 1, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 27, 8, 0)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 28, 7, 59)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 28, 8, 0)), "b");
	/* 2026-03-29: BST from 01:00 UTC; 08:00 local is 07:00 UTC */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 29, 6, 59)), "b");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 29, 7, 0)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 30, 7, 0)), "b");
	ck_assert_int_eq(oncall_next_change(&f.nc->scheds[0], utc(2026, 3, 28, 12, 0)),
	                 utc(2026, 3, 29, 7, 0));
	fx_free(&f);
}
END_TEST

START_TEST(dst_gap_and_overlap)
{
	/* New York: 2026-03-08 02:00 EST -> 03:00 EDT (02:30 never happens);
	 * 2026-11-01 02:00 EDT -> 01:00 EST (01:30 happens twice) */
	log_reset();
	struct fx f =
	    load("oncall = ( { center = \"cc\"; tier = \"t1\"; timezone = \"America/New_York\";\n"
	         "  layers = ( { members = [ \"a\", \"b\" ]; rotation = \"weekly\";\n"
	         "               handoff = \"sun 02:30\"; start = \"2026-03-01\"; } ); },\n"
	         "  { center = \"cc\"; tier = \"t2\"; timezone = \"America/New_York\";\n"
	         "  layers = ( { members = [ \"a\", \"b\" ]; rotation = \"daily\";\n"
	         "               handoff = \"01:30\"; start = \"2026-10-30\"; } ); } );\n",
	         utc(2026, 3, 1, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	/* handoff 0: Sun 03-01 02:30 EST = 07:30 UTC -> a */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 1, 7, 30)), "a");
	/* handoff 1 would be 02:30 on 03-08, inside the gap: it happens when
	 * the gap ends, 03:00 EDT = 07:00 UTC */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 8, 6, 59)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 8, 7, 0)), "b");
	/* handoff 2: 03-15 02:30 EDT = 06:30 UTC */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 15, 6, 29)), "b");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 3, 15, 6, 30)), "a");
	/* daily 01:30: 10-30 01:30 EDT (05:30 UTC) a, 10-31 b, 11-01 a at
	 * the FIRST 01:30 (EDT, 05:30 UTC); the clock then goes back to
	 * 01:00 EST (06:00 UTC) and passes 01:30 again at 06:30 UTC: the
	 * answer must not flip back and forth */
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 10, 31, 5, 30)), "b");
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 1, 5, 29)), "b");
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 1, 5, 30)), "a");
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 1, 6, 15)), "a");
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 1, 6, 45)), "a");
	/* 11-02 01:30 EST = 06:30 UTC */
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 2, 6, 29)), "a");
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 11, 2, 6, 30)), "b");
	fx_free(&f);
}
END_TEST

/* ---- layers, overrides, fallback, gaps ---- */

static const char layered[] =
    "oncall = ( { center = \"cc\"; tier = \"t1\";\n"
    "  layers = ( { name = \"evening\"; members = [ \"c\" ]; hours = [ \"mon-fri 18:00-22:00\" ]; },\n"
    "             { name = \"nights\"; members = [ \"a\", \"b\" ]; rotation = \"daily\";\n"
    "               handoff = \"09:00\"; start = \"2026-12-01\"; outside = \"jp-business\"; } );\n"
    "  overrides = ( { contact = \"boss\"; from = \"2026-12-24 18:00\"; until = \"2026-12-25 09:00\"; },\n"
    "                { contact = \"c\"; from = \"2026-12-24 20:00\"; until = \"2026-12-24 21:00\"; } );\n"
    "  fallback = \"boss\"; },\n"
    "  { center = \"cc\"; tier = \"t2\"; layers = ( { members = [ \"a\" ];\n"
    "      hours = [ \"mon-fri 09:00-17:00\" ]; } ); } );\n";

START_TEST(layers_overrides_fallback)
{
	log_reset();
	/* JST = UTC+9: 2026-12-07 is a Monday */
	struct fx f = load(layered, utc(2026, 12, 7, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	/* business hours: no layer is active -> the fallback */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 7, 3, 0)), "boss");
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 7, 3, 0)), ONC_FALLBACK);
	/* 17:30-18:00 JST: only nights (a, daily from 12-01 09:00: 12-07 is
	 * handoff 6 -> a) */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 7, 8, 45)), "a");
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 7, 8, 45)), 1);
	/* 18:00-22:00: the first layer wins */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 7, 9, 0)), "c");
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 7, 9, 0)), 0);
	/* 22:00: nights again */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 7, 13, 0)), "a");
	/* next morning 08:59 JST still a; 09:00 the calendar opens */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 7, 23, 59)), "a");
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 8, 0, 0)), "boss");
	/* Tuesday evening 17:45: b's turn */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 8, 8, 45)), "b");
	/* the weekend: nights all day */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 12, 3, 0)), "b");
	/* Christmas Eve: boss overrides from 18:00, c too from 20:00 to 21:00 */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 24, 9, 0)), "boss");
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 24, 9, 0)), ONC_OVERRIDE);
	struct oncall_who w[4];
	ck_assert_int_eq(oncall_resolve(&f.nc->scheds[0], utc(2026, 12, 24, 11, 30), w, 4), 2);
	/* until is exclusive: 09:00 JST on the 25th is the calendar's again */
	ck_assert_str_eq(who_at(&f, 0, utc(2026, 12, 24, 23, 59)), "boss");
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 24, 23, 59)), ONC_OVERRIDE);
	ck_assert_int_eq(source_at(&f, 0, utc(2026, 12, 25, 0, 0)), ONC_FALLBACK);
	/* tier 2: business hours only, no fallback: nobody at night */
	ck_assert_int_eq(oncall_resolve(&f.nc->scheds[1], utc(2026, 12, 7, 12, 0), w, 4), 0);
	ck_assert_str_eq(who_at(&f, 1, utc(2026, 12, 7, 1, 0)), "a");
	fx_free(&f);
}
END_TEST

START_TEST(gaps)
{
	log_reset();
	struct fx f = load(layered, utc(2026, 12, 7, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	struct oncall_gap g[16];
	/* tier 1: nobody but the fallback during business hours (the
	 * nights layer is `outside` the calendar): Mon 09:00-17:30 JST */
	size_t n =
	    oncall_gaps(&f.nc->scheds[0], utc(2026, 12, 7, 0, 0), utc(2026, 12, 8, 0, 0), g, 16);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(g[0].from, utc(2026, 12, 7, 0, 0));
	ck_assert_int_eq(g[0].to, utc(2026, 12, 7, 8, 30));
	/* Christmas Day is a Friday: the override ends 09:00, the gap runs
	 * from its end to 17:30 */
	n = oncall_gaps(&f.nc->scheds[0], utc(2026, 12, 24, 0, 0), utc(2026, 12, 26, 0, 0), g, 16);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(g[0].from, utc(2026, 12, 24, 0, 0));
	ck_assert_int_eq(g[0].to, utc(2026, 12, 24, 8, 30));
	ck_assert_int_eq(g[1].from, utc(2026, 12, 25, 0, 0));
	ck_assert_int_eq(g[1].to, utc(2026, 12, 25, 8, 30));
	/* tier 2: 17:00 to 09:00 every day, weekends whole */
	n = oncall_gaps(&f.nc->scheds[1], utc(2026, 12, 7, 0, 0), utc(2026, 12, 14, 0, 0), g, 16);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(g[0].from, utc(2026, 12, 7, 8, 0));
	ck_assert_int_eq(g[0].to, utc(2026, 12, 8, 0, 0));
	ck_assert_int_eq(g[4].from, utc(2026, 12, 11, 8, 0));
	ck_assert_int_eq(g[4].to, utc(2026, 12, 14, 0, 0));
	/* the load reported them with local times, and the uncovered fallback */
	ck_assert_ptr_nonnull(strstr(logbuf,
	                             "oncall cc/t2: nobody on call 2026-12-07T17:00:00+09:00 "
	                             "to 2026-12-08T09:00:00+09:00"));
	ck_assert_ptr_nonnull(strstr(logbuf, "nobody is paged then (no fallback)"));
	ck_assert_ptr_nonnull(strstr(logbuf, "the fallback 'boss' is paged then"));
	fx_free(&f);
}
END_TEST

START_TEST(empty_schedule)
{
	log_reset();
	struct fx f = load("oncall = ( { center = \"cc\"; tier = \"t1\"; },\n"
	                   "  { center = \"cc\"; tier = \"t2\"; fallback = \"boss\"; } );\n",
	                   utc(2026, 12, 7, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	struct oncall_gap g[4];
	ck_assert_int_eq(oncall_gaps(&f.nc->scheds[0], 1000, 2000, g, 4), 1);
	ck_assert_int_eq(g[0].from, 1000);
	ck_assert_int_eq(g[0].to, 2000);
	struct oncall_who w[2];
	ck_assert_int_eq(oncall_resolve(&f.nc->scheds[0], 1500, w, 2), 0);
	ck_assert_str_eq(who_at(&f, 1, 1500), "boss");
	ck_assert_int_eq(oncall_next_change(&f.nc->scheds[0], 1500), (time_t)-1);
	ck_assert_ptr_nonnull(strstr(logbuf, ":11: oncall cc/t1: nobody on call"));
	fx_free(&f);
}
END_TEST

START_TEST(uncovered_tier)
{
	log_reset();
	struct fx f = load(
	    "oncall = ( { center = \"cc\"; tier = \"t1\"; layers = ( { members = \"a\"; } ); } );\n",
	    utc(2026, 12, 7, 0, 0));
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	ck_assert_ptr_nonnull(strstr(logbuf, "center 'cc' tier 't2' has no on-call schedule"));
	ck_assert_ptr_null(strstr(logbuf, "tier 't1' has no"));
	fx_free(&f);
	/* a schedule without a tier covers every tier */
	log_reset();
	f = load("oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; } ); } );\n", 0);
	ck_assert_msg(f.nc != NULL, "%s", logbuf);
	ck_assert_ptr_null(strstr(logbuf, "has no on-call schedule"));
	fx_free(&f);
}
END_TEST

/* ---- garbage ---- */

struct bad {
	const char *text;
	const char *expect; /* a part of the error */
};

static const struct bad bads[] = {
	{ "oncall = ( { center = \"nope\"; } );\n", ":11: oncall: no center named 'nope'" },
	{ "oncall = ( { center = \"cc\"; tier = \"t9\"; } );\n", "center 'cc' has no tier 't9'" },
	{ "oncall = ( { center = \"cc\"; colour = 1; } );\n", "unknown key 'colour'" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = [ \"zed\" ]; } ); } );\n",
	  "no contact named 'zed'" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; handoff = \"25:00\"; } ); } );\n",
	  "handoff must be" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; handoff = \"xyz 09:00\"; } ); } );\n",
	  "handoff must be" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; rotation = \"daily\"; handoff = \"mon 09:00\"; } ); } );\n",
	  "a daily rotation hands off at" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; rotation = \"hourly\"; } ); } );\n",
	  "rotation must be" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; start = \"2026-02-30\"; } ); } );\n",
	  "start must be a date" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; outside = \"nocal\"; } ); } );\n",
	  "undefined calendar 'nocal'" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; hours = [ \"mon 25:00-26:00\" ]; } ); } );\n",
	  "hours:" },
	{ "oncall = ( { center = \"cc\"; layers = ( { members = \"a\"; hours = \"mon-fri 09:00-17:00\"; outside = \"jp-business\"; } ); } );\n",
	  "give one of hours, calendar, outside" },
	{ "oncall = ( { center = \"cc\"; overrides = ( { contact = \"a\"; from = \"2026-12-25 09:00\"; until = \"2026-12-24 09:00\"; } ); } );\n",
	  "until (2026-12-24 09:00) must be after from" },
	{ "oncall = ( { center = \"cc\"; overrides = ( { contact = \"a\"; from = \"tomorrow\"; until = \"2026-12-24 09:00\"; } ); } );\n",
	  "from must be a local time" },
	{ "oncall = ( { center = \"cc\"; fallback = \"ghost\"; } );\n",
	  "no contact named 'ghost'" },
	{ "oncall = ( { center = \"cc\"; timezone = \"Mars/Olympus\"; } );\n",
	  "timezone 'Mars/Olympus'" },
	{ "oncall = ( { center = \"cc\"; tier = \"t1\"; }, { center = \"cc\"; tier = \"t1\"; } );\n",
	  "a second schedule for cc/t1" },
	{ "oncall = { center = \"cc\"; };\n", "oncall must be a list" },
	{ "oncall = ( 42 );\n", "oncall schedule must be a group" },
	{ "contacts2 = 1;\n", "unknown key 'contacts2'" },
	{ "notify = { repeat = \"soon\"; };\n", "bad duration" },
	{ "notify = { events = [ \"opened\", \"exploded\" ]; };\n", "unknown event 'exploded'" },
	{ "notify = { sms_per_hour = 0; };\n", "sms_per_hour must be 1..3600" },
	{ "notify = { link_base = \"ftp://x\"; };\n", "link_base must be an http" },
	{ "notify = { reply_to = \"mamori@example.jp\"; };\n",
	  "reply_to must be an address with {token}" },
	{ "notify = { language = \"fr\"; };\n", "language must be" },
	{ "notify = { channels = ( { name = \"mail\"; plugin = \"nosuch\"; } ); };\n",
	  "no plugin named 'nosuch'" },
	{ "notify = { rules = ( { center = \"nope\"; } ); };\n", "no center named 'nope'" },
	{ "notify = { rules = ( { service = \"coffee\"; } ); };\n", "unknown service 'coffee'" },
	{ "notify = { retry_min = \"5m\"; retry_max = \"1m\"; };\n",
	  "retry_max at least retry_min" },
	{ "notify = { secret_file = \"/nonexistent/key\"; };\n", "cannot read file" },
};

START_TEST(garbage)
{
	const struct bad *b = &bads[_i];
	log_reset();
	struct fx f = load(b->text, utc(2026, 12, 7, 0, 0));
	ck_assert_msg(f.nc == NULL, "accepted: %s", b->text);
	ck_assert_msg(strstr(logbuf, b->expect) != NULL, "for %s\nwanted '%s' in:\n%s", b->text,
	              b->expect, logbuf);
	fx_free(&f);
}
END_TEST

static const struct bad bad_contacts[] = {
	{ "{ name = \"x\"; phone = \"090-1234-5678\"; }", "must be E.164" },
	{ "{ name = \"x\"; email = \"not an address\"; }", "is not an e-mail address" },
	{ "{ name = \"x\"; language = \"de\"; }", "language must be" },
	{ "{ name = \"x\"; timezone = \"Nowhere/Land\"; }", "timezone 'Nowhere/Land'" },
	{ "{ name = \"x\"; quiet_hours = [ \"sometimes\" ]; }", "quiet_hours:" },
	{ "{ name = \"x\"; quiet_pass = [ \"urgent\" ]; }", "'urgent' is not a severity" },
	{ "{ name = \"a\"; }", "contact 'a' is defined twice" },
	{ "{ name = \"x y\"; }", "contact name 'x y' must be" },
	{ "{ email = \"x@example.jp\"; }", "required key 'name' is missing" },
	{ "{ name = \"x\"; channels = ( { channel = \"pager\"; } ); }", "no channel 'pager'" },
	{ "{ name = \"x\"; channels = ( { severity = \"critical\"; } ); }",
	  "required key 'channel' is missing" },
	{ "{ name = \"x\"; pager = 1; }", "unknown key 'pager'" },
};

START_TEST(garbage_contacts)
{
	const struct bad *b = &bad_contacts[_i];
	char text[1024];
	/* appended to the base's list through a second contacts? no: the
	 * base defines contacts, so build the list here */
	snprintf(text, sizeof text,
	         "calendars = ( { name = \"cal\"; timezone = \"UTC\"; hours = \"24x7\"; } );\n"
	         "centers = ( { name = \"cc\"; calendar = \"cal\"; tiers = ( { name = \"t1\";"
	         " ack_within = \"15m\"; resolve_within = \"4h\"; } ); } );\n"
	         "routes = ( { center = \"cc\"; } );\n"
	         "contacts = ( { name = \"a\"; email = \"a@example.jp\"; },\n  %s );\n",
	         b->text);
	log_reset();
	struct loader *ld = loader_new();
	struct mconf *c = config_load_string(text, ld, "share/mamori", ignore, NULL);
	ck_assert_msg(c != NULL, "%s", logbuf);
	struct notify_conf *nc = notify_conf_parse(c, ld, NULL, 0);
	ck_assert_msg(nc == NULL, "accepted: %s", b->text);
	ck_assert_msg(strstr(logbuf, b->expect) != NULL, "for %s\nwanted '%s' in:\n%s", b->text,
	              b->expect, logbuf);
	/* the line of the contact (line 5) */
	ck_assert_msg(strstr(logbuf, ":5: ") != NULL, "no line 5 in:\n%s", logbuf);
	mconf_free(c);
	loader_free(ld);
	log_set_hook(NULL, NULL);
}
END_TEST

START_TEST(nothing_configured)
{
	log_reset();
	struct loader *ld = loader_new();
	struct mconf *c = config_load_string("", ld, "share/mamori", ignore, NULL);
	ck_assert_ptr_nonnull(c);
	struct notify_conf *nc = notify_conf_parse(c, ld, NULL, 0);
	ck_assert_ptr_nonnull(nc);
	ck_assert_int_eq(notify_conf_active(nc), 0);
	ck_assert_int_eq(nc->n_contacts, 0);
	notify_conf_free(nc);
	mconf_free(c);
	loader_free(ld);
	log_set_hook(NULL, NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("notify_oncall");
	TCase *t = tcase_create("core");
	tcase_add_test(t, civil_roundtrip);
	tcase_add_test(t, weekly_tokyo);
	tcase_add_test(t, daily_other_zone);
	tcase_add_test(t, dst_gap_and_overlap);
	tcase_add_test(t, layers_overrides_fallback);
	tcase_add_test(t, gaps);
	tcase_add_test(t, empty_schedule);
	tcase_add_test(t, uncovered_tier);
	tcase_add_loop_test(t, garbage, 0, (int)(sizeof bads / sizeof bads[0]));
	tcase_add_loop_test(t, garbage_contacts, 0,
	                    (int)(sizeof bad_contacts / sizeof bad_contacts[0]));
	tcase_add_test(t, nothing_configured);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
