/*
 * test_sla: SLA clocks in business time, escalation chain, pause/resume,
 * the deadline heap at 100,000 clocks, and `centers`/`sla` config parsing.
 * Virtual time only: every function gets `now` from the test.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cal/cal.h"
#include "sla/sla.h"

/* Epoch seconds of a local wall time at a fixed UTC offset (hours). */
static double at(int y, int mo, int d, int h, int mi, int off_h)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi
	};
	return (double)timegm(&tm) - off_h * 3600;
}

static struct cal *mkcal(const char *tz, const char *hours)
{
	char err[CAL_ERRLEN];
	const char *h[] = { hours };
	struct cal *c = cal_new("t", tz, h, 1, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static struct sla_tier tiers3[] = {
	{ "contact-center", 15 * 60, 4 * 3600 },
	{ "back-office", 30 * 60, 8 * 3600 },
	{ "onsite-vendor", 2 * 3600, 86400 },
};

struct rec {
	int n;
	enum sla_fire what[32];
	enum sla_deadline which[32];
	unsigned tier[32];
	double now[32];
};

static void rec_fn(void *arg, struct sla_clock *c, enum sla_fire what, enum sla_deadline which,
                   double now)
{
	struct rec *r = arg;
	ck_assert_int_lt(r->n, 32);
	r->what[r->n] = what;
	r->which[r->n] = which;
	r->tier[r->n] = c->tier;
	r->now[r->n] = now;
	r->n++;
}

START_TEST(friday_to_monday)
{
	struct cal *c = mkcal("Asia/Tokyo", "mon-fri 09:00-17:30");
	struct sla_terms terms = { c, tiers3, 3, 3600 };
	struct sla *s = sla_new();
	struct sla_clock k;
	sla_clock_init(&k);
	double fri = at(2026, 11, 27, 17, 25, 9);
	sla_start(s, &k, &terms, 0, fri);
	ck_assert_double_eq(k.ack_due, at(2026, 11, 30, 9, 10, 9));
	ck_assert_double_eq(sla_next_due(s), k.ack_due);
	char buf[64];
	cal_format_rfc3339(c, (time_t)k.ack_due, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-30T09:10:00+09:00");
	/* resolve 4h: 5 min on Friday, then 3h55m on Monday -> 12:55 */
	ck_assert_double_eq(k.resolve_due, at(2026, 11, 30, 12, 55, 9));
	/* Monday a holiday: Tuesday */
	cal_add_holiday(c, 2026, 11, 30);
	sla_start(s, &k, &terms, 0, fri);
	ck_assert_double_eq(k.ack_due, at(2026, 12, 1, 9, 10, 9));
	ck_assert_uint_eq(sla_pending(s), 1);
	sla_stop(s, &k);
	ck_assert_uint_eq(sla_pending(s), 0);
	ck_assert_double_eq(sla_next_due(s), -1);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(berlin_dst)
{
	/* The week of the spring change (Sun 2026-03-29): Friday is +01:00,
	 * Monday +02:00. Business time ignores the lost hour. */
	struct cal *c = mkcal("Europe/Berlin", "mon-fri 09:00-17:00");
	struct sla_tier t[] = { { "t1", 15 * 60, 0 } };
	struct sla_terms terms = { c, t, 1, 3600 };
	struct sla *s = sla_new();
	struct sla_clock k;
	sla_clock_init(&k);
	sla_start(s, &k, &terms, 0, at(2026, 3, 27, 16, 55, 1));
	ck_assert_double_eq(k.ack_due, at(2026, 3, 30, 9, 10, 2));
	ck_assert_double_eq(k.resolve_due, 0);
	char buf[64];
	cal_format_rfc3339(c, (time_t)k.ack_due, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-03-30T09:10:00+02:00");
	/* autumn (Sun 2026-10-25): back to +01:00 */
	sla_start(s, &k, &terms, 0, at(2026, 10, 23, 16, 55, 2));
	ck_assert_double_eq(k.ack_due, at(2026, 10, 26, 9, 10, 1));
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(breach_escalates_24x7)
{
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 2, 3600 }, { "t2", 60, 7200 } };
	struct sla_terms terms = { c, t, 2, 3600 };
	struct sla *s = sla_new();
	struct sla_clock k;
	struct rec r = { 0 };
	sla_clock_init(&k);
	double t0 = 1790000000.25;
	sla_start(s, &k, &terms, 0, t0);
	ck_assert_double_eq_tol(sla_next_due(s), t0 + 2, 1e-6);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 1.9, rec_fn, &r), 0);
	ck_assert_int_eq(r.n, 0);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 2, rec_fn, &r), 2);
	ck_assert_int_eq(r.what[0], SLA_FIRE_BREACH);
	ck_assert_int_eq(r.which[0], SLA_ACK);
	ck_assert_uint_eq(r.tier[0], 0); /* the breach is reported at the old tier */
	ck_assert_int_eq(r.what[1], SLA_FIRE_ESCALATED);
	ck_assert_uint_eq(r.tier[1], 1);
	ck_assert_uint_eq(k.tier, 1);
	ck_assert_double_eq_tol(k.ack_due, t0 + 62, 1e-6);
	ck_assert_double_eq_tol(k.resolve_due, t0 + 2 + 7200, 1e-6);
	ck_assert_double_eq_tol(sla_next_due(s), t0 + 62, 1e-6);
	/* ack stops the ack clock: next is the resolve deadline */
	sla_ack(s, &k, t0 + 10);
	ck_assert_double_eq_tol(sla_next_due(s), t0 + 7202, 1e-6);
	sla_stop(s, &k);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 1e6, rec_fn, &r), 0);
	sla_free(s);
	cal_free(c);
}
END_TEST

/* A wall-clock step moves running deadlines with it; a paused clock keeps
 * what it has left. */
START_TEST(clock_step_shifts)
{
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 10, 100 } };
	struct sla_terms terms = { c, t, 1, 3600 };
	struct sla *s = sla_new();
	struct sla_clock k, p;
	struct rec r = { 0 };
	sla_clock_init(&k);
	sla_clock_init(&p);
	double t0 = 1790000000.0;
	sla_start(s, &k, &terms, 0, t0);
	sla_start(s, &p, &terms, 0, t0);
	sla_pause(s, &p, 1, t0 + 4);
	ck_assert_uint_eq(sla_shift(s, 3600), 1);
	ck_assert_double_eq_tol(k.ack_due, t0 + 3610, 1e-6);
	ck_assert_double_eq_tol(k.resolve_due, t0 + 3700, 1e-6);
	ck_assert_double_eq_tol(sla_next_due(s), t0 + 3610, 1e-6);
	/* nothing fires at the step itself */
	ck_assert_uint_eq(sla_fire_due(s, t0 + 3601, rec_fn, &r), 0);
	ck_assert_uint_eq(sla_shift(s, -7200), 1);
	ck_assert_double_eq_tol(sla_next_due(s), t0 - 3590, 1e-6);
	ck_assert_uint_eq(sla_fire_due(s, t0 - 3591, rec_fn, &r), 0);
	ck_assert_uint_eq(sla_fire_due(s, t0 - 3590, rec_fn, &r), 1);
	ck_assert_int_eq(r.which[0], SLA_ACK);
	/* the paused clock: its business seconds left, untouched */
	ck_assert_double_eq_tol(p.ack_left, 6, 1e-6);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(chain_and_reannounce)
{
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 10, 0 }, { "t2", 20, 0 }, { "t3", 30, 0 } };
	struct sla_terms terms = { c, t, 3, 60 };
	struct sla *s = sla_new();
	struct sla_clock k;
	struct rec r = { 0 };
	sla_clock_init(&k);
	double t0 = 1790000000;
	sla_start(s, &k, &terms, 0, t0);
	sla_fire_due(s, t0 + 10, rec_fn, &r);
	sla_fire_due(s, t0 + 30, rec_fn, &r);
	ck_assert_int_eq(r.n, 4);
	ck_assert_uint_eq(k.tier, 2);
	ck_assert_double_eq(sla_next_due(s), t0 + 60);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 60, rec_fn, &r), 1); /* last tier: no escalation */
	ck_assert_int_eq(r.what[4], SLA_FIRE_BREACH);
	ck_assert_uint_eq(k.tier, 2);
	ck_assert(k.ack_breached);
	ck_assert_double_eq(sla_next_due(s), t0 + 120);
	/* nothing in between */
	ck_assert_uint_eq(sla_fire_due(s, t0 + 119, rec_fn, &r), 0);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 120, rec_fn, &r), 1);
	ck_assert_int_eq(r.what[5], SLA_FIRE_REANNOUNCE);
	ck_assert_int_eq(r.which[5], SLA_ACK);
	/* late by a long time (daemon was down): fires once, not per interval */
	ck_assert_uint_eq(sla_fire_due(s, t0 + 10000, rec_fn, &r), 1);
	ck_assert_double_eq(sla_next_due(s), t0 + 10060);
	ck_assert_uint_eq(k.breaches, 5); /* 3 breaches + 2 re-announcements */
	/* ack ends the re-announcement (no resolve deadline here) */
	sla_ack(s, &k, t0 + 10001);
	ck_assert_uint_eq(sla_pending(s), 0);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(resolve_breach_escalates)
{
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 10, 100 }, { "t2", 0, 100 } };
	struct sla_terms terms = { c, t, 2, 50 };
	struct sla *s = sla_new();
	struct sla_clock k;
	struct rec r = { 0 };
	sla_clock_init(&k);
	double t0 = 1790000000;
	sla_start(s, &k, &terms, 0, t0);
	sla_ack(s, &k, t0 + 5);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 100, rec_fn, &r), 2);
	ck_assert_int_eq(r.which[0], SLA_RESOLVE);
	ck_assert_uint_eq(k.tier, 1);
	ck_assert(!k.acked);
	ck_assert_double_eq(k.resolve_due, t0 + 200);
	ck_assert_uint_eq(sla_fire_due(s, t0 + 200, rec_fn, &r), 1);
	ck_assert(k.resolve_breached);
	ck_assert_double_eq(sla_next_due(s), t0 + 250);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(wait_pauses_business_time)
{
	struct cal *c = mkcal("Asia/Tokyo", "mon-fri 09:00-17:30");
	struct sla_terms terms = { c, tiers3, 3, 3600 };
	struct sla *s = sla_new();
	struct sla_clock k;
	sla_clock_init(&k);
	/* opened Fri 17:20 -> ack due Mon 09:05 */
	sla_start(s, &k, &terms, 0, at(2026, 11, 27, 17, 20, 9));
	ck_assert_double_eq(k.ack_due, at(2026, 11, 30, 9, 5, 9));
	/* wait at 17:25: 10 business minutes remain */
	sla_pause(s, &k, SLA_PAUSE_WAIT, at(2026, 11, 27, 17, 25, 9));
	ck_assert_double_eq(k.ack_left, 600);
	ck_assert_uint_eq(sla_pending(s), 0);
	/* downtime on top; ending it alone does not resume */
	sla_pause(s, &k, SLA_PAUSE_DOWNTIME, at(2026, 11, 30, 8, 0, 9));
	sla_resume(s, &k, SLA_PAUSE_WAIT, at(2026, 11, 30, 9, 30, 9));
	ck_assert_uint_eq(sla_pending(s), 0);
	sla_resume(s, &k, SLA_PAUSE_DOWNTIME, at(2026, 11, 30, 10, 0, 9));
	ck_assert_double_eq(k.ack_due, at(2026, 11, 30, 10, 10, 9));
	ck_assert_double_eq(sla_next_due(s), k.ack_due);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(pause_after_deadline_fires_on_resume)
{
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 10, 0 } };
	struct sla_terms terms = { c, t, 1, 0 };
	struct sla *s = sla_new();
	struct sla_clock k;
	struct rec r = { 0 };
	sla_clock_init(&k);
	sla_start(s, &k, &terms, 0, 1000);
	sla_pause(s, &k, SLA_PAUSE_WAIT, 1020); /* overdue but not yet fired */
	ck_assert_double_eq(k.ack_left, 0);
	sla_resume(s, &k, SLA_PAUSE_WAIT, 5000);
	ck_assert_double_eq(sla_next_due(s), 5000);
	ck_assert_uint_eq(sla_fire_due(s, 5000, rec_fn, &r), 1);
	/* reannounce 0: recorded once, never again */
	ck_assert_uint_eq(sla_pending(s), 0);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(heap_100k)
{
	enum { N = 100000 };
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	struct sla_tier t[] = { { "t1", 1, 0 } };
	struct sla_terms terms = { c, t, 1, 0 };
	struct sla *s = sla_new();
	struct sla_clock *k = calloc(N, sizeof(*k));
	unsigned seed = 12345;
	double t0 = 1790000000, lo = 1e300;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		t[0].ack_within = 1 + (seed >> 8) % 1000000;
		sla_clock_init(&k[i]);
		sla_start(s, &k[i], &terms, 0, t0);
		lo = fmin(lo, k[i].ack_due);
	}
	ck_assert_uint_eq(sla_pending(s), N);
	ck_assert_double_eq(sla_next_due(s), lo);
	/* remove every third: the minimum stays right */
	for (int i = 0; i < N; i += 3)
		sla_stop(s, &k[i]);
	lo = 1e300;
	for (int i = 0; i < N; i++)
		if (i % 3)
			lo = fmin(lo, k[i].ack_due);
	ck_assert_double_eq(sla_next_due(s), lo);
	/* nothing due: no work */
	struct rec r = { 0 };
	ck_assert_uint_eq(sla_fire_due(s, lo - 0.5, rec_fn, &r), 0);
	/* fire everything in due order */
	double last = 0;
	size_t fired = 0;
	while (sla_pending(s)) {
		double d = sla_next_due(s);
		ck_assert(d >= last);
		last = d;
		r.n = 0;
		fired += sla_fire_due(s, d, rec_fn, &r);
	}
	ck_assert_uint_eq(fired, N - (N + 2) / 3);
	free(k);
	sla_free(s);
	cal_free(c);
}
END_TEST

START_TEST(durations)
{
	double d;
	ck_assert_int_eq(sla_parse_duration("15m", &d), 0);
	ck_assert_double_eq(d, 900);
	ck_assert_int_eq(sla_parse_duration("500ms", &d), 0);
	ck_assert_double_eq_tol(d, 0.5, 1e-9);
	ck_assert_int_eq(sla_parse_duration("1h30m", &d), 0);
	ck_assert_double_eq(d, 5400);
	ck_assert_int_eq(sla_parse_duration("1d", &d), 0);
	ck_assert_double_eq(d, 86400);
	const char *bad[] = { "",     "m",    "15",
		              "15x",  "-5m",  " 5m",
		              "5m ",  "1.5h", "99999999999999s",
		              "\xff", "5mm",  "401d" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(sla_parse_duration(bad[i], &d) < 0, "accepted '%s'", bad[i]);
	ck_assert_int_eq(sla_parse_duration(NULL, &d), -1);
}
END_TEST

static const struct cal *lookup(void *arg, const char *name)
{
	return strcmp(name, "always") == 0 ? arg : NULL;
}

static int parse_centers(const char *text, struct sla_centers *cs, char *err, size_t errlen)
{
	config_t cfg;
	config_init(&cfg);
	int r = -1;
	if (!config_read_string(&cfg, text)) {
		snprintf(err, errlen, "syntax: %s", config_error_text(&cfg));
		goto out;
	}
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	r = sla_centers_parse(config_lookup(&cfg, "centers"), lookup, c, cs, err, errlen);
	if (r == 0) {
		ck_assert_ptr_eq(cs->v[0].terms.cal, c);
		sla_centers_free(cs);
	}
	cal_free(c);
out:
	config_destroy(&cfg);
	return r;
}

START_TEST(centers_config)
{
	struct sla_centers cs;
	char err[SLA_ERRLEN];
	ck_assert_int_eq(parse_centers("centers = ( { name = \"cc-east\"; calendar = \"always\";\n"
	                               " tiers = ( { name = \"cc\"; ack_within = \"15m\"; "
	                               "resolve_within = \"4h\"; } ); reannounce = \"30m\"; } );",
	                               &cs, err, sizeof(err)),
	                 0);
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "centers = ( { name = \"a\"; calendar = \"always\";\n tiers = ( { name = \"x\"; "
		  "ack_within = \"15q\"; } ); } );",
		  ":2: tier: 'ack_within' is not a duration" },
		{ "centers = ( { name = \"a\"; calendar = \"nope\"; tiers = ( { name = \"x\"; } ); } );",
		  "undefined calendar 'nope'" },
		{ "centers = ( { name = \"a\"; calendar = \"always\"; tiers = ( { name = \"x\"; } );\n"
		  " colour = \"red\"; } );",
		  ":2: center: unknown key 'colour'" },
		{ "centers = ( { name = \"a\"; calendar = \"always\"; tiers = (); } );",
		  "'tiers' must be a non-empty list" },
		{ "centers = ( { name = \"a\"; calendar = \"always\"; tiers = ( { name = 5; } ); } );",
		  "'name' must be a non-empty string" },
		{ "centers = ( { name = \"a\"; calendar = \"always\"; tiers = ( { name = \"x\"; } ); },\n"
		  " { name = \"a\"; calendar = \"always\"; tiers = ( { name = \"y\"; } ); } );",
		  "center 'a' defined twice" },
		{ "centers = ( { calendar = \"always\"; tiers = ( { name = \"x\"; } ); } );",
		  "missing 'name'" },
		{ "centers = ( 5 );", "must be a group" },
		{ "centers = { a = 1; };", "must be a list" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_int_eq(parse_centers(bad[i].text, &cs, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: got '%s'", i, err);
	}
}
END_TEST

START_TEST(terms_config)
{
	config_t cfg;
	char err[SLA_ERRLEN];
	struct cal *c = mkcal("UTC", "mon-sun 00:00-24:00");
	config_init(&cfg);
	ck_assert(config_read_string(&cfg, "sla = { calendar = \"always\"; tiers = ( { name = "
	                                   "\"premium\"; ack_within = \"5m\"; } ); };\n"
	                                   "bad = { calendar = \"always\"; tiers = ( { name = "
	                                   "\"p\"; } ); extra = 1; };"));
	struct sla_terms *t =
	    sla_terms_parse(config_lookup(&cfg, "sla"), lookup, c, err, sizeof(err));
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n_tiers, 1);
	ck_assert_str_eq(t->tiers[0].name, "premium");
	ck_assert_double_eq(t->tiers[0].ack_within, 300);
	ck_assert_double_eq(t->tiers[0].resolve_within, 0);
	ck_assert_double_eq(t->reannounce, 3600);
	sla_terms_free(t);
	ck_assert_ptr_null(
	    sla_terms_parse(config_lookup(&cfg, "bad"), lookup, c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unknown key 'extra'"));
	config_destroy(&cfg);
	cal_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sla");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, friday_to_monday);
	tcase_add_test(tc, berlin_dst);
	tcase_add_test(tc, breach_escalates_24x7);
	tcase_add_test(tc, clock_step_shifts);
	tcase_add_test(tc, chain_and_reannounce);
	tcase_add_test(tc, resolve_breach_escalates);
	tcase_add_test(tc, wait_pauses_business_time);
	tcase_add_test(tc, pause_after_deadline_fires_on_resume);
	tcase_add_test(tc, heap_100k);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, centers_config);
	tcase_add_test(tc, terms_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
