/*
 * test_sla_summary: the SLA summary per center and customer (app_sla over
 * store_read_sla) against alerts, deadlines and events written through
 * the store's batches, read back on the reader thread.
 *
 * A hand-made set checks every figure against values worked out by hand:
 * the median with odd and even counts, acknowledgements and breaches
 * exactly on the month's bounds, deadlines exactly on now and now + 1 h,
 * paused, acknowledged and breached clocks, re-announced breaches, a
 * breach of an earlier tier, a damaged payload, alerts without a center or
 * a clock, copies to another center, scope and filters.  Breach events
 * rendered by the alert module itself (cmd_format_alert, on virtual time:
 * an escalating breach, a last-tier breach, a re-announcement) are told
 * apart as the daemon writes them.  A generated set
 * (2,500 alerts, a fixed seed) is checked against a model the test
 * computes itself, in C, for several scopes.  Refusals (scope, filters,
 * no store, malformed store queries) never call back; an empty store
 * gives no rows; the month is the UTC calendar month of the clock (its
 * first instant, the turn of the year); a schema-4 file (no indexes of
 * step 5) reads the same; store_close delivers a pending summary once.
 */
#include "alert/alert.h"
#include "app/app.h"
#include "cal/cal.h"
#include "proto/cmd.h"
#include "route/route.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <libconfig.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* UTC month starts (seconds since the epoch) */
#define DEC25 1764547200.0
#define JAN26 1767225600.0
#define FEB26 1769904000.0
#define MAR26 1772323200.0
#define APR26 1775001600.0
#define NOW   (MAR26 + 14.5 * 86400) /* 2026-03-15 12:00:00Z */

static char dir[256];
static struct ev_loop *loop;
static double clock_now;

static double vclock(void *ud)
{
	return clock_now;
}

static void setup(void)
{
	log_set_level(LOG_LVL_ERR);
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "sla"), 0);
	loop = ev_loop_new(0);
	clock_now = NOW;
}

static void teardown(void)
{
	ev_loop_destroy(loop);
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

static struct store *open_store(void)
{
	char err[1024] = "";
	struct store *s = store_open(dir, err, sizeof err);
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

static struct app *new_app(struct store *s)
{
	struct app_deps d = { .loop = loop, .store = s, .clock = vclock };
	struct app *a = app_new(&d);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* ---- an alert as the test writes it (and models it) ---- */

enum ev_kind { EV_BREACH, EV_REANNOUNCE, EV_DAMAGED, EV_OTHER };

struct al {
	char id[32], customer[16];
	const char *center, *also; /* also: the JSON text as stored */
	const char *also_members[2];
	const char *status;
	double opened, acked; /* 0: never acknowledged */
	int clock, paused, acked_flag, stopped, ack_breached, resolve_breached;
	double ack_due, resolve_due; /* 0: none */
	int n_ev;
	struct {
		double time;
		enum ev_kind kind;
	} ev[4];
};

static void put(struct store_batch *b, const struct al *x)
{
	struct store_alert_row r = {
		.id = x->id,
		.check_key = "c/a/k",
		.customer = x->customer,
		.asset = "a",
		.check_name = "k",
		.service = "other",
		.center = x->center,
		.also = x->also,
		.status = x->status,
		.state = 2,
		.count = 1,
		.seq = x->n_ev + 1,
		.opened_at = x->opened,
		.updated_at = x->opened,
		.acked_at = x->acked,
		.acked_by = x->acked > 0 ? "someone" : NULL,
		.resolved_at = strcmp(x->status, "resolved") == 0 ? x->opened + 1 : 0,
		.has_clock = x->clock,
		.tier_name = x->clock ? "t1" : NULL,
		.paused = x->paused,
		.acked = x->acked_flag,
		.stopped = x->stopped,
		.ack_breached = x->ack_breached,
		.resolve_breached = x->resolve_breached,
		.ack_due = x->ack_due,
		.resolve_due = x->resolve_due,
		.ack_left = -1,
		.resolve_left = -1,
	};
	store_batch_alert(b, &r);
	for (int i = 0; i < x->n_ev; i++) {
		char payload[160];
		const char *type = x->ev[i].kind == EV_OTHER ? "escalated" : "sla_breach";
		if (x->ev[i].kind == EV_DAMAGED)
			snprintf(payload, sizeof payload, "{\"seq\":%d,\"reannounce\":tru", i + 1);
		else
			snprintf(payload, sizeof payload,
			         "{\"schema\":\"mamori.alert/1\",\"seq\":%d,\"event\":\"%s\","
			         "\"breach\":\"ack\",\"reannounce\":%s}",
			         i + 1, type, x->ev[i].kind == EV_REANNOUNCE ? "true" : "false");
		struct store_event_row e = { .alert_id = x->id,
			                     .seq = i + 1,
			                     .type = type,
			                     .time = x->ev[i].time,
			                     .actor = "mamori",
			                     .payload = payload };
		store_batch_event(b, &e);
	}
}

static void put_all(struct store *s, const struct al *v, size_t n)
{
	struct store_batch *b = store_batch_new();
	for (size_t i = 0; i < n; i++)
		put(b, &v[i]);
	store_commit(s, b); /* before store_start: written at once */
}

/* ---- calling the service layer ---- */

struct res {
	int calls, err;
	char msg[256];
	struct app_sla *s;
};

static void on_sla(void *ud, int err, const char *msg, struct app_sla *s)
{
	struct res *r = ud;
	r->calls++;
	r->err = err;
	snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
	r->s = s;
	if (err == APP_OK)
		ck_assert_ptr_nonnull(s);
	else
		ck_assert_ptr_null(s);
}

static struct app_sla *summary(struct app *a, const struct app_scope *sc, const char *center,
                               const char *customer)
{
	struct res r = { 0 };
	char msg[256] = "";
	int rc = app_sla(a, sc, center, customer, on_sla, &r, msg, sizeof msg);
	ck_assert_msg(rc == APP_OK, "app_sla: %d %s", rc, msg);
	ck_assert_int_eq(r.calls, 0); /* never inside the call */
	ev_run(loop, 0);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_msg(r.err == APP_OK, "app_sla callback: %d %s", r.err, r.msg);
	return r.s;
}

static int refused(struct app *a, const struct app_scope *sc, const char *center,
                   const char *customer, char *msg, size_t msglen)
{
	struct res r = { 0 };
	int rc = app_sla(a, sc, center, customer, on_sla, &r, msg, msglen);
	ck_assert_int_ne(rc, APP_OK);
	ev_run(loop, 0);
	ck_assert_int_eq(r.calls, 0); /* a refused request never calls back */
	return rc;
}

static int same_center(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const struct app_sla_row *find(const struct app_sla *s, const char *center,
                                      const char *customer)
{
	for (size_t i = 0; i < s->n; i++)
		if (same_center(s->rows[i].center, center) &&
		    strcmp(s->rows[i].customer, customer) == 0)
			return &s->rows[i];
	return NULL;
}

/* "center/customer" of every row, in order */
static const char *keys(const struct app_sla *s)
{
	static char buf[2048];
	buf[0] = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof buf - n, "%s%s/%s", i ? " " : "",
		         s->rows[i].center ? s->rows[i].center : "-", s->rows[i].customer);
	}
	return buf;
}

static void row_is(const struct app_sla *s, const char *center, const char *customer,
                   unsigned long long open, unsigned long long due, unsigned long long breached,
                   unsigned long long acked, double median)
{
	const struct app_sla_row *r = find(s, center, customer);
	ck_assert_msg(r != NULL, "no row %s/%s in %s", center ? center : "-", customer, keys(s));
	ck_assert_msg(r->open == open && r->due_1h == due && r->breached_month == breached &&
	                  r->acked_month == acked && fabs(r->median_ack - median) < 1e-9,
	              "%s/%s: open %llu due %llu breached %llu acked %llu median %g; want"
	              " %llu %llu %llu %llu %g",
	              center ? center : "-", customer, r->open, r->due_1h, r->breached_month,
	              r->acked_month, r->median_ack, open, due, breached, acked, median);
}

/* ---- the hand-made set ---- */

#define AL(i, cu, ce, st, op, ak)                                                                  \
	.id = i, .customer = cu, .center = ce, .status = st, .opened = op, .acked = ak
#define EV(t, k)                                                                                   \
	{                                                                                          \
		t, k                                                                               \
	}

static const struct al hand[] = {
	/* cc-east/c1: acknowledged this month after 100, 300, 200, 400 s
	 * (400: exactly at the month's start) - median (200 + 300) / 2 */
	{ AL("H1", "c1", "cc-east", "acknowledged", MAR26 + 1000, MAR26 + 1100), .clock = 1,
	  .acked_flag = 1, .ack_due = NOW + 600 /* spent: acknowledged */,
	  .resolve_due = NOW + 3600 /* exactly the upper bound: due */ },
	{ AL("H2", "c1", "cc-east", "resolved", MAR26 - 50, MAR26 + 250), .clock = 1, .stopped = 1,
	  .resolve_due = NOW + 10, .n_ev = 2,
	  .ev = { EV(MAR26 - 1, EV_BREACH), EV(MAR26 + 60, EV_OTHER) } },
	{ AL("H3", "c1", "cc-east", "resolved", MAR26 + 5000, MAR26 + 5200), .n_ev = 1,
	  .ev = { EV(MAR26 + 7, EV_DAMAGED) } /* counts: not known to be a repeat */ },
	{ AL("H4", "c1", "cc-east", "resolved", APR26 - 100, APR26) /* next month's */ },
	{ AL("H5", "c1", "cc-east", "resolved", MAR26 - 100, MAR26 - 1) /* last month's */ },
	{ AL("H6", "c1", "cc-east", "resolved", MAR26 - 400, MAR26) },
	/* cc-west/c2: six unresolved, acknowledged after 50, 70, 1000 s */
	{ AL("W1", "c2", "cc-west", "open", NOW - 100, 0), .clock = 1,
	  .ack_due = NOW /* exactly now: due */ },
	{ AL("W2", "c2", "cc-west", "open", NOW - 100, 0), .clock = 1,
	  .ack_due = NOW - 1 /* overdue, not yet fired: not due */, .resolve_due = NOW + 3601,
	  .n_ev = 1, .ev = { EV(MAR26 + 10, EV_BREACH) } },
	{ AL("W3", "c2", "cc-west", "open", NOW - 100, 0), .clock = 1, .paused = 1,
	  .ack_due = NOW + 10, /* paused: no deadline runs */
	  .n_ev = 2, .ev = { EV(MAR26 + 20, EV_BREACH), EV(MAR26 + 30, EV_BREACH) } },
	{ AL("W4", "c2", "cc-west", "open", FEB26, 0), .clock = 1, .ack_breached = 1,
	  .ack_due = NOW + 10 /* spent: breached */, .resolve_due = NOW + 20 /* due */, .n_ev = 2,
	  .ev = { EV(FEB26 + 5, EV_BREACH), EV(MAR26 + 100, EV_REANNOUNCE) } },
	{ AL("W5", "c2", "cc-west", "acknowledged", MAR26 + 1000, MAR26 + 1050), .clock = 1,
	  .acked_flag = 1, .ack_due = NOW + 10 },
	{ AL("W6", "c2", "cc-west", "resolved", MAR26 + 2000, MAR26 + 2070), .clock = 1,
	  .stopped = 1, .ack_due = NOW + 5, .n_ev = 1, .ev = { EV(APR26 - 0.5, EV_BREACH) } },
	{ AL("W7", "c2", "cc-west", "resolved", MAR26 + 3000, MAR26 + 4000), .n_ev = 1,
	  .ev = { EV(APR26, EV_BREACH) } },
	{ AL("W8", "c2", "cc-west", "open", NOW - 5, 0) /* no clock */ },
	/* no route matched */
	{ AL("N1", "c3", NULL, "open", NOW - 5, 0) },
	/* cc-west's, copied to cc-east */
	{ AL("X1", "c1", "cc-west", "open", NOW - 5, 0), .also = "[\"cc-east\"]" },
	/* reopened after an acknowledgement: acked_at stays, status open */
	{ AL("S1", "c4", "cc-east", "open", MAR26 + 10, MAR26 + 20) },
	/* nothing to count this month: no row */
	{ AL("Z1", "c5", "cc-east", "resolved", FEB26, FEB26 + 60), .n_ev = 1,
	  .ev = { EV(FEB26 + 30, EV_BREACH) } },
};

static const struct app_scope admin = { .all = 1 };
static const char *const east_c[] = { "cc-east" };
static const struct app_scope east = { .centers = east_c, .n_centers = 1 };
static const char *const west_c[] = { "cc-west" };
static const char *const c2_only[] = { "c2" };
static const struct app_scope viewer_c2 = {
	.centers = west_c, .n_centers = 1, .customers = c2_only, .n_customers = 1
};

static struct store *hand_store(void)
{
	struct store *s = open_store();
	put_all(s, hand, sizeof hand / sizeof hand[0]);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	return s;
}

START_TEST(hand_figures)
{
	struct store *st = hand_store();
	struct app *a = new_app(st);
	struct app_sla *s = summary(a, &admin, NULL, NULL);
	ck_assert(s->month_start == MAR26 && s->month_end == APR26);
	ck_assert_str_eq(keys(s), "-/c3 cc-east/c1 cc-east/c4 cc-west/c1 cc-west/c2");
	row_is(s, NULL, "c3", 1, 0, 0, 0, -1);
	row_is(s, "cc-east", "c1", 1, 1, 1, 4, 250);
	row_is(s, "cc-east", "c4", 1, 0, 0, 1, 10);
	row_is(s, "cc-west", "c1", 1, 0, 0, 0, -1);
	row_is(s, "cc-west", "c2", 6, 2, 3, 3, 70);
	app_sla_free(s);

	/* a center sees its own alerts and the copies it got */
	s = summary(a, &east, NULL, NULL);
	ck_assert_str_eq(keys(s), "cc-east/c1 cc-east/c4 cc-west/c1");
	row_is(s, "cc-west", "c1", 1, 0, 0, 0, -1);
	app_sla_free(s);
	s = summary(a, &viewer_c2, NULL, NULL);
	ck_assert_str_eq(keys(s), "cc-west/c2");
	row_is(s, "cc-west", "c2", 6, 2, 3, 3, 70);
	app_sla_free(s);
	/* filters */
	s = summary(a, &admin, NULL, "c1");
	ck_assert_str_eq(keys(s), "cc-east/c1 cc-west/c1");
	app_sla_free(s);
	s = summary(a, &admin, "cc-west", NULL);
	ck_assert_str_eq(keys(s), "cc-west/c1 cc-west/c2");
	app_sla_free(s);
	s = summary(a, &east, "cc-east", "c4");
	ck_assert_str_eq(keys(s), "cc-east/c4");
	app_sla_free(s);
	s = summary(a, &east, NULL, "c2"); /* in scope, nothing of it */
	ck_assert_uint_eq(s->n, 0);
	app_sla_free(s);

	/* a month later: only what is still unresolved (and due) remains */
	clock_now = APR26 + 3600;
	s = summary(a, &viewer_c2, NULL, NULL);
	ck_assert(s->month_start == APR26);
	row_is(s, "cc-west", "c2", 6, 0, 1 /* W7, at the month's first instant */, 0, -1);
	app_sla_free(s);
	app_free(a);
	store_close(st);
}
END_TEST

START_TEST(refusals_and_empty)
{
	char msg[256];
	struct app_deps nd = { .loop = loop, .clock = vclock };
	struct app *none = app_new(&nd);
	ck_assert_int_eq(refused(none, &admin, NULL, NULL, msg, sizeof msg), APP_E_UNAVAILABLE);
	ck_assert_msg(strstr(msg, "nothing is stored"), "message: %s", msg);
	app_free(none);

	struct store *st = open_store();
	struct app *a = new_app(st);
	/* not started: the reader does not run */
	ck_assert_int_eq(refused(a, &admin, NULL, NULL, msg, sizeof msg), APP_E_UNAVAILABLE);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	static const struct app_scope nobody = { 0 };
	ck_assert_int_eq(refused(a, &nobody, NULL, NULL, msg, sizeof msg), APP_E_FORBIDDEN);
	ck_assert_msg(strstr(msg, "no contact center"), "message: %s", msg);
	ck_assert_int_eq(refused(a, &east, "cc-west", NULL, msg, sizeof msg), APP_E_FORBIDDEN);
	ck_assert_msg(strstr(msg, "'cc-west' is outside"), "message: %s", msg);
	ck_assert_int_eq(refused(a, &viewer_c2, NULL, "c1", msg, sizeof msg), APP_E_FORBIDDEN);
	ck_assert_msg(strstr(msg, "'c1' is outside"), "message: %s", msg);
	ck_assert_int_eq(refused(a, NULL, NULL, NULL, msg, sizeof msg), APP_E_INVALID);
	clock_now = NAN;
	ck_assert_int_eq(refused(a, &admin, NULL, NULL, msg, sizeof msg), APP_E_INVALID);
	clock_now = -5;
	ck_assert_int_eq(refused(a, &admin, NULL, NULL, msg, sizeof msg), APP_E_INVALID);

	/* an empty store: no rows, the month still said */
	clock_now = NOW;
	struct app_sla *s = summary(a, &admin, NULL, NULL);
	ck_assert_uint_eq(s->n, 0);
	ck_assert(s->month_start == MAR26 && s->month_end == APR26);
	app_sla_free(s);
	/* the month of the clock, UTC: its first instant, the last one
	 * before the next, the turn of the year */
	clock_now = MAR26;
	s = summary(a, &east, NULL, NULL);
	ck_assert(s->month_start == MAR26 && s->month_end == APR26);
	app_sla_free(s);
	clock_now = MAR26 - 0.001;
	s = summary(a, &east, NULL, NULL);
	ck_assert(s->month_start == FEB26 && s->month_end == MAR26);
	app_sla_free(s);
	clock_now = DEC25 + 20 * 86400;
	s = summary(a, &east, NULL, NULL);
	ck_assert(s->month_start == DEC25 && s->month_end == JAN26);
	app_sla_free(s);
	app_free(a);
	store_close(st);
}
END_TEST

/* ---- the store's query ---- */

static void on_read(void *ud, const struct store_read *rd)
{
	int *calls = ud;
	(*calls)++;
}

START_TEST(store_query_refused)
{
	struct store *st = open_store();
	int calls = 0;
	struct store_sla_query q = {
		.now = NOW, .due_within = 3600, .month_start = MAR26, .month_end = APR26
	};
	/* the reader does not run yet */
	ck_assert_int_eq(store_read_sla(st, &q, on_read, &calls), STORE_ESTOPPED);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	char err[256];
	ck_assert_int_eq(store_sla_query_check(&q, err, sizeof err), 0);
	struct store_sla_query b = q;
	b.month_end = b.month_start;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	store_sla_query_check(&b, err, sizeof err);
	ck_assert_msg(strstr(err, "start before end"), "message: %s", err);
	b = q;
	b.month_start = NAN;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	b = q;
	b.now = INFINITY;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	b = q;
	b.due_within = 0;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	store_sla_query_check(&b, err, sizeof err);
	ck_assert_msg(strstr(err, "due_within"), "message: %s", err);
	b = q;
	b.n_centers = 1; /* and no array */
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	static const char *const with_null[] = { "c1", NULL };
	b = q;
	b.customers = with_null;
	b.n_customers = 2;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	b = q;
	b.n_customers = 1001;
	b.customers = with_null;
	ck_assert_int_eq(store_read_sla(st, &b, on_read, &calls), STORE_EINVAL);
	ck_assert_int_eq(store_read_sla(st, NULL, on_read, &calls), STORE_EINVAL);
	ck_assert_int_eq(store_read_sla(st, &q, NULL, &calls), STORE_EINVAL);
	ev_run(loop, 0);
	ck_assert_int_eq(calls, 0);
	/* accepted, then the store closes before the loop runs: called once */
	ck_assert_int_eq(store_read_sla(st, &q, on_read, &calls), 0);
	store_close(st);
	ck_assert_int_eq(calls, 1);
}
END_TEST

static void on_close_sla(void *ud, int err, const char *msg, struct app_sla *s)
{
	int *calls = ud;
	(*calls)++;
	ck_assert(err == APP_OK || err == APP_E_UNAVAILABLE);
	app_sla_free(s);
}

START_TEST(close_delivers_once)
{
	struct store *st = hand_store();
	struct app *a = new_app(st);
	int calls = 0;
	char msg[256];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(
		    app_sla(a, &admin, NULL, NULL, on_close_sla, &calls, msg, sizeof msg), APP_OK);
	store_close(st); /* no loop run: the close delivers */
	ck_assert_int_eq(calls, 4);
	ev_run(loop, 0);
	ck_assert_int_eq(calls, 4);
	app_free(a);
}
END_TEST

/* A file as schema 4 left it (no indexes of step 5), opened read-only as
 * mamorictl would: the same figures. */
START_TEST(schema4_file_reads_the_same)
{
	struct store *st = open_store();
	put_all(st, hand, sizeof hand / sizeof hand[0]);
	store_close(st);
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	                              "DROP INDEX alert_acked_at; DROP INDEX alert_event_breach;"
	                              " PRAGMA user_version = 4",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	char err[512] = "";
	st = store_open_readonly(dir, err, sizeof err);
	ck_assert_msg(st != NULL, "%s", err);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	struct app *a = new_app(st);
	struct app_sla *s = summary(a, &admin, NULL, NULL);
	ck_assert_str_eq(keys(s), "-/c3 cc-east/c1 cc-east/c4 cc-west/c1 cc-west/c2");
	row_is(s, "cc-east", "c1", 1, 1, 1, 4, 250);
	row_is(s, "cc-west", "c2", 6, 2, 3, 3, 70);
	app_sla_free(s);
	app_free(a);
	store_close(st);
}
END_TEST

/* ---- breach events as the daemon renders them ---- */

struct rendered {
	int n;
	double time[4];
	char *payload[4];
};

static void on_emit(void *arg, const struct alert *a, const struct alert_event *e)
{
	struct rendered *r = arg;
	if (e->type != ALERT_EV_SLA_BREACH)
		return;
	ck_assert_int_lt(r->n, 4);
	r->time[r->n] = e->time;
	r->payload[r->n] = cmd_format_alert(a, e, "n1");
	ck_assert_ptr_nonnull(r->payload[r->n]);
	r->n++;
}

/* The alert module on virtual time, with two tiers and re-announcement:
 * a breach at tier 1 (escalates), one at the last tier, a re-announcement
 * - each event's mamori.alert/1 as the daemon stores it. */
static void render_breaches(struct rendered *r)
{
	char err[256];
	const char *h[] = { "mon-sun 00:00-24:00" };
	struct cal *cal = cal_new("always", "UTC", h, 1, err, sizeof err);
	ck_assert_ptr_nonnull(cal);
	struct sla_tier tiers[2] = { { "t1", 120, 86400 }, { "t2", 600, 86400 } };
	struct sla_center center = { "cc-east", { cal, tiers, 2, 900 } };
	struct sla_centers cs = { &center, 1 };
	config_t cfg;
	config_init(&cfg);
	ck_assert(config_read_string(&cfg, "routes = ( { center = \"cc-east\"; } );"));
	struct route_table *rt = route_parse(config_lookup(&cfg, "routes"), &cs, err, sizeof err);
	ck_assert_msg(rt != NULL, "%s", err);
	struct alert_policy ap = { .node = "n1" };
	struct alert_table *t = alert_table_new(&ap, rt, on_emit, r);
	struct alert_input in = { .key = "c1/inquiry/1",
		                  .customer = "c1",
		                  .asset = "inquiry",
		                  .check = "1",
		                  .service = "other" };
	double t0 = MAR26 + 1000;
	ck_assert_int_eq(alert_open_manual(t, &in, 2, "Sato", NULL, t0), 0);
	alert_fire_due(t, t0 + 121);       /* tier 1's ack deadline: breach, escalation */
	alert_fire_due(t, t0 + 121 + 601); /* the last tier's: breach */
	alert_fire_due(t, t0 + 2000);      /* still outstanding: re-announced */
	ck_assert_int_eq(r->n, 3);
	alert_table_free(t);
	route_free(rt);
	config_destroy(&cfg);
	cal_free(cal);
}

START_TEST(rendered_breach_payloads)
{
	struct rendered r = { 0 };
	render_breaches(&r);
	ck_assert_ptr_nonnull(strstr(r.payload[0], "\"reannounce\":false"));
	ck_assert_ptr_nonnull(strstr(r.payload[2], "\"reannounce\":true"));
	struct store *st = open_store();
	struct store_batch *b = store_batch_new();
	/* R1: the three as they happened, this month: counted once.  R2: its
	 * breaches last month, re-announced this month: not counted.  R3: the
	 * escalating breach of tier 1 alone, this month: counted. */
	const char *ids[] = { "R1", "R2", "R3" };
	const double shift[] = { 0, -30 * 86400, 0 };
	for (int k = 0; k < 3; k++) {
		struct store_alert_row a = { .id = ids[k],
			                     .check_key = "c1/inquiry/1",
			                     .customer = "c1",
			                     .center = "cc-east",
			                     .status = "open",
			                     .state = 2,
			                     .seq = 3,
			                     .opened_at = MAR26 + 1000,
			                     .updated_at = MAR26 + 1000 };
		store_batch_alert(b, &a);
		for (int i = 0; i < (k == 2 ? 1 : 3); i++) {
			struct store_event_row e = { .alert_id = ids[k],
				                     .seq = i + 1,
				                     .type = "sla_breach",
				                     .time = r.time[i] + (i < 2 ? shift[k] : 0),
				                     .actor = "mamori",
				                     .payload = r.payload[i] };
			store_batch_event(b, &e);
		}
	}
	store_commit(st, b);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	struct app *a = new_app(st);
	struct app_sla *s = summary(a, &admin, NULL, NULL);
	row_is(s, "cc-east", "c1", 3, 0, 2, 0, -1);
	app_sla_free(s);
	s = summary(a, &admin, NULL, "c1"); /* driven by the customer: the same */
	row_is(s, "cc-east", "c1", 3, 0, 2, 0, -1);
	app_sla_free(s);
	app_free(a);
	store_close(st);
	for (int i = 0; i < r.n; i++)
		free(r.payload[i]);
}
END_TEST

/* ---- a generated set against a model ---- */

#define GEN 2500

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const centers_all[] = { "cc-east", "cc-west", "cc-north", NULL };
static const struct {
	const char *json;
	const char *members[2];
} alsos[] = {
	{ NULL, { NULL, NULL } },
	{ NULL, { NULL, NULL } },
	{ "[\"cc-north\"]", { "cc-north", NULL } },
	{ "[\"cc-east\",\"cc-west\"]", { "cc-east", "cc-west" } },
	{ "not json", { NULL, NULL } },
};

/* a time near `base`: now and then exactly on it */
static double near(double base, double spread)
{
	if (rnd(8) == 0)
		return base;
	return base - spread + rnd((unsigned)(2 * spread));
}

static void generate(struct al *v, size_t n)
{
	static const char *const statuses[] = { "open", "acknowledged", "resolved", "resolved" };
	for (size_t i = 0; i < n; i++) {
		struct al *x = &v[i];
		memset(x, 0, sizeof *x);
		snprintf(x->id, sizeof x->id, "G-%05zu", i);
		snprintf(x->customer, sizeof x->customer, "c%u", 1 + rnd(6));
		x->center = centers_all[rnd(4)];
		unsigned k = rnd(5);
		x->also = alsos[k].json;
		x->also_members[0] = alsos[k].members[0];
		x->also_members[1] = alsos[k].members[1];
		x->status = statuses[rnd(4)];
		x->opened = FEB26 - 10 * 86400 + rnd((unsigned)(NOW - FEB26 + 10 * 86400));
		int acked = strcmp(x->status, "acknowledged") == 0 || rnd(3) == 0;
		if (acked) /* integer and half seconds, ties too */
			x->acked = x->opened + rnd(20) * 0.5 + rnd(4) * rnd(40000);
		if (rnd(10) == 0 && acked)
			x->acked = near(MAR26, 2); /* on the month's start */
		x->clock = rnd(5) != 0;
		if (x->clock) {
			x->paused = rnd(6) == 0 ? 1 + rnd(3) : 0;
			x->acked_flag = strcmp(x->status, "acknowledged") == 0 ? 1 : rnd(8) == 0;
			x->stopped =
			    strcmp(x->status, "resolved") == 0 ? rnd(6) != 0 : rnd(10) == 0;
			x->ack_breached = rnd(6) == 0;
			x->resolve_breached = rnd(6) == 0;
			unsigned w = rnd(10);
			x->ack_due = w == 0 ? 0 : w == 1 ? NOW : near(NOW + 1800, 3602);
			x->resolve_due = rnd(6) == 0 ? 0 : near(NOW + 3600, 4000);
		}
		x->n_ev = (int)rnd(5);
		for (int e = 0; e < x->n_ev; e++) {
			unsigned kind = rnd(10);
			x->ev[e].kind = kind < 5   ? EV_BREACH
			                : kind < 7 ? EV_REANNOUNCE
			                : kind < 9 ? EV_OTHER
			                           : EV_DAMAGED;
			unsigned where = rnd(4);
			x->ev[e].time = where == 0 ? near(MAR26, 3)
			                : where == 1
			                    ? near(APR26, 3)
			                    : FEB26 + rnd((unsigned)(APR26 + 86400 - FEB26));
		}
	}
}

struct mgroup {
	const char *center, *customer;
	unsigned long long open, due, breached, acked;
	double *durs;
	size_t nd;
};

static int in_list(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return 1;
	return 0;
}

static int model_in_scope(const struct al *x, const char *const *cen, size_t nc,
                          const char *const *cus, size_t ncu)
{
	if (ncu && !in_list(x->customer, cus, ncu))
		return 0;
	if (!nc)
		return 1;
	return in_list(x->center, cen, nc) || in_list(x->also_members[0], cen, nc) ||
	       in_list(x->also_members[1], cen, nc);
}

static int in_due(double t, double now)
{
	return t > 0 && t >= now && t <= now + 3600;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_group(const void *a, const void *b)
{
	const struct mgroup *x = a, *y = b;
	if (!x->center != !y->center)
		return x->center ? 1 : -1; /* NULL first */
	int c = x->center ? strcmp(x->center, y->center) : 0;
	return c ? c : strcmp(x->customer, y->customer);
}

static struct mgroup *group_of(struct mgroup *g, size_t *ng, const struct al *x)
{
	for (size_t i = 0; i < *ng; i++)
		if (same_center(g[i].center, x->center) && strcmp(g[i].customer, x->customer) == 0)
			return &g[i];
	struct mgroup *n = &g[(*ng)++];
	memset(n, 0, sizeof *n);
	n->center = x->center;
	n->customer = x->customer;
	n->durs = calloc(GEN, sizeof *n->durs);
	return n;
}

/* The summary as the test understands it, row by row, against s. */
static void check_against_model(const struct al *v, size_t n, const struct app_sla *s,
                                const char *const *cen, size_t nc, const char *const *cus,
                                size_t ncu, double now, double ms, double me, size_t *rows_out)
{
	struct mgroup *g = calloc(64, sizeof *g);
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		const struct al *x = &v[i];
		if (!model_in_scope(x, cen, nc, cus, ncu))
			continue;
		int open = strcmp(x->status, "resolved") != 0;
		int due = open && x->clock && !x->stopped && !x->paused &&
		          ((!x->acked_flag && !x->ack_breached && in_due(x->ack_due, now)) ||
		           (!x->resolve_breached && in_due(x->resolve_due, now)));
		int breached = 0;
		for (int e = 0; e < x->n_ev; e++)
			if ((x->ev[e].kind == EV_BREACH || x->ev[e].kind == EV_DAMAGED) &&
			    x->ev[e].time >= ms && x->ev[e].time < me)
				breached = 1;
		int acked = x->acked > 0 && x->acked >= ms && x->acked < me;
		if (!open && !breached && !acked)
			continue;
		struct mgroup *m = group_of(g, &ng, x);
		ck_assert_uint_lt(ng, 64);
		m->open += open;
		m->due += due;
		m->breached += breached;
		if (acked) {
			m->acked++;
			m->durs[m->nd++] = x->acked - x->opened;
		}
	}
	qsort(g, ng, sizeof *g, cmp_group);
	ck_assert_msg(s->n == ng, "%zu rows, the model has %zu: %s", s->n, ng, keys(s));
	for (size_t i = 0; i < ng; i++) {
		const struct app_sla_row *r = &s->rows[i];
		ck_assert_msg(same_center(r->center, g[i].center) &&
		                  strcmp(r->customer, g[i].customer) == 0,
		              "row %zu is %s/%s", i, r->center ? r->center : "-", r->customer);
		double med = -1;
		if (g[i].nd) {
			qsort(g[i].durs, g[i].nd, sizeof(double), cmp_double);
			size_t h = g[i].nd / 2;
			med = g[i].nd % 2 ? g[i].durs[h] : (g[i].durs[h - 1] + g[i].durs[h]) / 2;
		}
		row_is(s, g[i].center, g[i].customer, g[i].open, g[i].due, g[i].breached,
		       g[i].acked, med);
		free(g[i].durs);
	}
	free(g);
	*rows_out = ng;
}

START_TEST(generated_set_matches_a_model)
{
	struct al *v = calloc(GEN, sizeof *v);
	generate(v, GEN);
	struct store *st = open_store();
	put_all(st, v, GEN);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	struct app *a = new_app(st);
	static const char *const cc_east[] = { "cc-east" };
	static const char *const c3[] = { "c3" };
	static const char *const north_west[] = { "cc-north", "cc-west" };
	static const char *const c1_c4[] = { "c1", "c4" };
	static const char *const west_only[] = { "cc-west" };
	static const char *const c4[] = { "c4" };
	const struct app_scope nw = {
		.centers = north_west, .n_centers = 2, .customers = c1_c4, .n_customers = 2
	};
	/* more customers than drive the read by the customer index: by time */
	static const char *const three[] = { "cc-east", "cc-west", "cc-north" };
	static const char *const north[] = { "cc-north" };
	static const char *const nine[] = { "c1", "c2", "c3", "c5", "c6", "x1", "x2", "x3", "x4" };
	const struct app_scope wide = {
		.centers = three, .n_centers = 3, .customers = nine, .n_customers = 9
	};
	struct {
		const struct app_scope *sc;
		const char *center, *customer;
		const char *const *cen, *const *cus;
		size_t nc, ncu;
	} cases[] = {
		{ &admin, NULL, NULL, NULL, NULL, 0, 0 },
		{ &admin, "cc-east", NULL, cc_east, NULL, 1, 0 },
		{ &admin, NULL, "c3", NULL, c3, 0, 1 },
		{ &east, NULL, NULL, cc_east, NULL, 1, 0 },
		{ &nw, NULL, NULL, north_west, c1_c4, 2, 2 },
		{ &nw, "cc-west", "c4", west_only, c4, 1, 1 },
		{ &wide, NULL, NULL, three, nine, 3, 9 },
		{ &wide, "cc-north", NULL, north, nine, 1, 9 },
	};
	double times[] = { NOW, MAR26, APR26 - 1800 };
	unsigned long long tot_due = 0, tot_breached = 0, tot_acked = 0;
	int even = 0, odd = 0, null_center = 0;
	for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
		clock_now = times[t];
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			struct app_sla *s =
			    summary(a, cases[c].sc, cases[c].center, cases[c].customer);
			ck_assert(s->month_start == MAR26 && s->month_end == APR26);
			size_t rows;
			check_against_model(v, GEN, s, cases[c].cen, cases[c].nc, cases[c].cus,
			                    cases[c].ncu, clock_now, MAR26, APR26, &rows);
			ck_assert_uint_gt(rows, 0);
			for (size_t i = 0; i < s->n; i++) {
				tot_due += s->rows[i].due_1h;
				tot_breached += s->rows[i].breached_month;
				tot_acked += s->rows[i].acked_month;
				even += s->rows[i].acked_month && s->rows[i].acked_month % 2 == 0;
				odd += s->rows[i].acked_month % 2;
				null_center += !s->rows[i].center;
			}
			app_sla_free(s);
		}
	}
	/* the set exercises every figure (else the comparison proves little) */
	ck_assert_uint_gt(tot_due, 50);
	ck_assert_uint_gt(tot_breached, 50);
	ck_assert_uint_gt(tot_acked, 50);
	ck_assert_int_gt(even, 5);
	ck_assert_int_gt(odd, 5);
	ck_assert_int_gt(null_center, 0);
	app_free(a);
	store_close(st);
	free(v);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("sla_summary");
	TCase *tc = tcase_create("sla");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hand_figures);
	tcase_add_test(tc, refusals_and_empty);
	tcase_add_test(tc, store_query_refused);
	tcase_add_test(tc, close_delivers_once);
	tcase_add_test(tc, schema4_file_reads_the_same);
	tcase_add_test(tc, rendered_breach_payloads);
	tcase_add_test(tc, generated_set_matches_a_model);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
