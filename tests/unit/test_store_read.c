/*
 * test_store_read: reads while the loop runs (store_read_*, the reader
 * thread) against a temporary database filled through batches.
 *
 * Alert pages: every filter alone and combined (centers including copies
 * in `also`, customers, status, service, check, severity, running
 * deadlines), the deadline columns and newest dispatch in each row; keyset
 * pagination returns each row exactly once across pages even when many
 * alerts share an opened_at; malformed queries (limit 0 or over 1000, an
 * unknown status or severity, a missing list) are refused at the call and
 * their callback never runs.  History: events and dispatches in seq order,
 * an unknown id is "not found" (status 0), not an error; the bound.  Check
 * states: filters, problems only, order, never-checked rows.  Lifecycle:
 * refused before store_start and without a loop; store_close delivers
 * every accepted request exactly once.  Concurrency: reads issued while the
 * writer commits batches see whole batches only.  Read-only stores: a
 * missing, newer, older or non-mamori file; nothing is ever written.
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[256], path[512];
static struct ev_loop *loop;

static void setup(void)
{
	log_set_level(LOG_LVL_ERR);
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "srd"), 0);
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	loop = ev_loop_new(0);
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

static struct store *open_started(void)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	return s;
}

static void exec_db(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* ---- what a callback saw (rd is freed when it returns) ---- */

#define MAXR 64

struct got {
	int calls, status;
	char error[256];
	int more;
	size_t n;
	char ids[MAXR][64];
	double opened[MAXR];
	char line[MAXR][256]; /* row-specific summary */
	char alert[512];      /* history: the alert, "" if none */
	size_t n_events, n_dispatches;
};

static void on_alerts(void *ud, const struct store_read *rd)
{
	struct got *g = ud;
	g->calls++;
	g->status = store_read_status(rd);
	snprintf(g->error, sizeof g->error, "%s", store_read_error(rd));
	g->more = store_read_more(rd);
	g->n = store_read_alert_count(rd);
	for (size_t i = 0; i < g->n && i < MAXR; i++) {
		const struct store_alert_row *r = store_read_alert_at(rd, i);
		snprintf(g->ids[i], sizeof g->ids[i], "%s", r->id);
		g->opened[i] = r->opened_at;
		snprintf(g->line[i], sizeof g->line[i], "%s|%s|%s|%d|%s|%.0f|%.0f|%s", r->id,
		         r->status, r->center ? r->center : "-", r->has_clock,
		         r->tier_name ? r->tier_name : "-", r->ack_due, r->resolve_due,
		         r->vendor ? r->vendor : "-");
	}
	ck_assert_ptr_null(store_read_alert_at(rd, g->n));
}

/* Run the loop until every pending read is back (the store holds the
 * loop only while reads are pending). */
static void run(void)
{
	ev_run(loop, 0);
}

/* ids of a page as "A-08 A-07 ..." */
static const char *ids(const struct got *g)
{
	static char buf[1024];
	buf[0] = 0;
	for (size_t i = 0; i < g->n && i < MAXR; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, g->ids[i]);
	}
	return buf;
}

static const char *page(struct store *s, const struct store_alert_query *q, struct got *g)
{
	memset(g, 0, sizeof *g);
	ck_assert_int_eq(store_read_alerts(s, q, on_alerts, g), 0);
	run();
	ck_assert_int_eq(g->calls, 1);
	ck_assert_msg(g->status == 0, "status %d: %s", g->status, g->error);
	return ids(g);
}

/* ---- the alerts of the filter tests ---- */

struct spec {
	const char *id, *customer, *center, *also, *status, *service;
	int state;
	double opened;
	const char *check_key;
	int clock; /* 0 none, else a deadline row as below */
	int paused, acked, stopped, ack_breached;
	double ack_due, resolve_due;
};

static const struct spec specs[] = {
	{ "A-01", "c1", "cc-east", NULL, "open", "defender", 2, 100, "c1/pc1/defender", 1, 0, 0, 0,
	  0, 500, 0 },
	{ "A-02", "c1", "cc-east", NULL, "acknowledged", "defender", 1, 200, "c1/pc2/defender", 1,
	  0, 1, 0, 0, 300, 600 },
	{ "A-03", "c1", "cc-west", "[\"cc-east\"]", "resolved", "utm", 2, 300, "c1/utm/utm", 1, 0,
	  0, 1, 0, 0, 0 },
	{ "A-04", "c2", "cc-west", NULL, "open", "utm", 3, 400, "c2/utm/utm", 1, 2, 0, 0, 0, 450,
	  0 },
	{ "A-05", "c2", "cc-west", "[\"cc-north\"]", "open", "mail", 2, 500, "c2/mx/mail", 1, 0, 0,
	  0, 1, 100, 900 },
	{ "A-06", "c3", NULL, NULL, "open", "other", 1, 600, "c3/x/y", 0, 0, 0, 0, 0, 0, 0 },
	{ "A-07", "c1", "cc-east", NULL, "resolved", "defender", 2, 700, "c1/pc1/defender", 0, 0, 0,
	  0, 0, 0, 0 },
	{ "A-08", "c2", "cc-west", "not json", "open", "utm", 2, 800, "c2/utm2/utm", 0, 0, 0, 0, 0,
	  0, 0 },
};

static void put_spec(struct store_batch *b, const struct spec *sp)
{
	struct store_alert_row a = {
		.id = sp->id,
		.check_key = sp->check_key,
		.customer = sp->customer,
		.asset = "x",
		.check_name = "y",
		.service = sp->service,
		.center = sp->center,
		.also = sp->also,
		.summary = "something",
		.status = sp->status,
		.state = sp->state,
		.count = 1,
		.seq = 1,
		.opened_at = sp->opened,
		.updated_at = sp->opened,
		.resolved_at = strcmp(sp->status, "resolved") == 0 ? sp->opened + 10 : 0,
		.has_clock = sp->clock,
		.tier_name = sp->clock ? "front" : NULL,
		.paused = sp->paused,
		.acked = sp->acked,
		.stopped = sp->stopped,
		.ack_breached = sp->ack_breached,
		.ack_due = sp->ack_due,
		.resolve_due = sp->resolve_due,
		.ack_left = -1,
		.resolve_left = -1,
	};
	store_batch_alert(b, &a);
}

static struct store *filled(void)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	/* insertion order is not the page order */
	for (int i = (int)(sizeof specs / sizeof specs[0]) - 1; i >= 0; i -= 2)
		put_spec(b, &specs[i]);
	for (int i = (int)(sizeof specs / sizeof specs[0]) - 2; i >= 0; i -= 2)
		put_spec(b, &specs[i]);
	struct store_dispatch_row d = {
		.alert_id = "A-01", .actor = "Sato", .vendor = "old vendor", .seq = 1, .time = 110
	};
	store_batch_dispatch(b, &d);
	d.vendor = "Vendor K.K.";
	d.seq = 2;
	store_batch_dispatch(b, &d);
	store_commit(s, b);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	return s;
}

static struct store_alert_query q_all(void)
{
	struct store_alert_query q = { .severity = -1, .limit = 100 };
	return q;
}

START_TEST(alert_filters)
{
	struct store *s = filled();
	struct got g;
	struct store_alert_query q = q_all();
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-07 A-06 A-05 A-04 A-03 A-02 A-01");
	ck_assert_int_eq(g.more, 0);
	/* the row carries its deadline and its newest dispatch */
	ck_assert_str_eq(g.line[7], "A-01|open|cc-east|1|front|500|0|Vendor K.K.");
	ck_assert_str_eq(g.line[2], "A-06|open|-|0|-|0|0|-");
	ck_assert(g.opened[0] == 800);

	static const char *const east[] = { "cc-east" };
	q.centers = east;
	q.n_centers = 1;
	ck_assert_str_eq(page(s, &q, &g), "A-07 A-03 A-02 A-01"); /* a copy */
	static const char *const two[] = { "cc-north", "cc-east" };
	q.centers = two;
	q.n_centers = 2;
	ck_assert_str_eq(page(s, &q, &g), "A-07 A-05 A-03 A-02 A-01");
	static const char *const west[] = { "cc-west" };
	q.centers = west;
	q.n_centers = 1;
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-05 A-04 A-03"); /* damaged `also`: no error */

	q = q_all();
	static const char *const c2[] = { "c2" };
	q.customers = c2;
	q.n_customers = 1;
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-05 A-04");
	static const char *const c13[] = { "c1", "c3", "c-none" };
	q.customers = c13;
	q.n_customers = 3;
	ck_assert_str_eq(page(s, &q, &g), "A-07 A-06 A-03 A-02 A-01");

	q = q_all();
	q.status = "open";
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-06 A-05 A-04 A-01");
	q.status = "unresolved";
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-06 A-05 A-04 A-02 A-01");
	q.status = "resolved";
	ck_assert_str_eq(page(s, &q, &g), "A-07 A-03");
	q.status = "acknowledged";
	ck_assert_str_eq(page(s, &q, &g), "A-02");

	q = q_all();
	q.service = "utm";
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-04 A-03");
	q = q_all();
	q.check_key = "c1/pc1/defender";
	ck_assert_str_eq(page(s, &q, &g), "A-07 A-01");
	q = q_all();
	q.severity = 3;
	ck_assert_str_eq(page(s, &q, &g), "A-04");
	q.severity = 1;
	ck_assert_str_eq(page(s, &q, &g), "A-06 A-02");
	q.severity = 0; /* a zeroed field: any */
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-07 A-06 A-05 A-04 A-03 A-02 A-01");

	/* running deadlines: A-01's ack at 500; A-02 acknowledged, resolve at
	 * 600; A-04 paused; A-05's ack breached, resolve at 900; A-03 stopped */
	q = q_all();
	q.due_before = 550;
	ck_assert_str_eq(page(s, &q, &g), "A-01");
	q.due_before = 1000;
	ck_assert_str_eq(page(s, &q, &g), "A-05 A-02 A-01");
	q.due_before = 50;
	ck_assert_str_eq(page(s, &q, &g), "");

	/* combined */
	q = q_all();
	q.centers = west;
	q.n_centers = 1;
	q.status = "open";
	q.severity = 2;
	ck_assert_str_eq(page(s, &q, &g), "A-08 A-05");
	q.customers = c2;
	q.n_customers = 1;
	q.service = "mail";
	ck_assert_str_eq(page(s, &q, &g), "A-05");
	store_close(s);
}
END_TEST

START_TEST(query_refused)
{
	struct store *s = filled();
	struct got g = { 0 };
	char err[256];
	struct store_alert_query q = q_all();
	q.limit = 0;
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_EINVAL);
	ck_assert_int_eq(store_alert_query_check(&q, err, sizeof err), STORE_EINVAL);
	ck_assert_msg(strstr(err, "limit must be 1..1000, not 0"), "message: %s", err);
	q.limit = 1001;
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_EINVAL);
	ck_assert_int_eq(store_alert_query_check(&q, err, sizeof err), STORE_EINVAL);
	ck_assert_msg(strstr(err, "not 1001"), "message: %s", err);
	q.limit = 1000;
	ck_assert_int_eq(store_alert_query_check(&q, err, sizeof err), 0);
	q.status = "closed";
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_EINVAL);
	store_alert_query_check(&q, err, sizeof err);
	ck_assert_msg(strstr(err, "'closed'"), "message: %s", err);
	q = q_all();
	q.severity = 4;
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_EINVAL);
	q = q_all();
	q.n_centers = 1; /* and no array */
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_EINVAL);
	q = q_all();
	ck_assert_int_eq(store_read_alerts(s, NULL, on_alerts, &g), STORE_EINVAL);
	ck_assert_int_eq(store_read_alerts(s, &q, NULL, &g), STORE_EINVAL);
	ck_assert_int_eq(store_read_alert_history(s, NULL, on_alerts, &g), STORE_EINVAL);
	run();
	ck_assert_int_eq(g.calls, 0); /* a refused request never calls back */
	ck_assert_str_eq(store_strerror(STORE_EINVAL), "malformed request");
	/* the bounds themselves are accepted */
	q.limit = 1;
	ck_assert_str_eq(page(s, &q, &g), "A-08");
	ck_assert_int_eq(g.more, 1);
	q.limit = 1000;
	page(s, &q, &g);
	ck_assert_uint_eq(g.n, 8);
	ck_assert_int_eq(g.more, 0);
	store_close(s);
}
END_TEST

/* ---- pagination ---- */

START_TEST(pages_see_each_row_once)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	/* 25 alerts, opened_at in groups of 7 equal values, inserted in a
	 * scrambled order; odd ones belong to c-odd */
	for (int k = 0; k < 25; k++) {
		int i = (k * 11) % 25;
		char id[16], key[32];
		snprintf(id, sizeof id, "A-%02d", i);
		snprintf(key, sizeof key, "c/a/%d", i);
		struct store_alert_row a = { .id = id,
			                     .check_key = key,
			                     .customer = i % 2 ? "c-odd" : "c-even",
			                     .status = "open",
			                     .state = 2,
			                     .seq = 1,
			                     .opened_at = 1000 + i / 7,
			                     .updated_at = 1 };
		store_batch_alert(b, &a);
	}
	store_commit(s, b);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	static const char *const odd[] = { "c-odd" };
	for (int pass = 0; pass < 3; pass++) {
		unsigned limit = pass == 0 ? 4 : pass == 1 ? 3 : 6;
		int want = pass == 1 ? 12 : 25; /* pass 1: c-odd only, 12 rows */
		int seen[25] = { 0 }, total = 0, pages = 0;
		double last_opened = 1e300;
		char last_id[16] = "";
		struct store_alert_query q = q_all();
		q.limit = limit;
		if (pass == 1) {
			q.customers = odd;
			q.n_customers = 1;
		}
		struct got g;
		for (;;) {
			page(s, &q, &g);
			pages++;
			ck_assert_int_le(g.n, limit);
			for (size_t i = 0; i < g.n; i++) {
				int n = atoi(g.ids[i] + 2);
				ck_assert_int_eq(seen[n]++, 0); /* never twice */
				/* strictly after the previous row: (opened, id) DESC */
				ck_assert(
				    g.opened[i] < last_opened ||
				    (g.opened[i] == last_opened && strcmp(g.ids[i], last_id) < 0));
				last_opened = g.opened[i];
				snprintf(last_id, sizeof last_id, "%s", g.ids[i]);
				total++;
			}
			if (!g.more)
				break;
			ck_assert_uint_eq(g.n, limit); /* a short page is the last */
			q.after_opened = last_opened;
			q.after_id = last_id;
			ck_assert_int_lt(pages, 30);
		}
		ck_assert_int_eq(total, want);
		/* exact multiples end without an empty page: 12 rows in 3s */
		if (pass == 1)
			ck_assert_int_eq(pages, 4);
	}
	/* a cursor past the end: an empty page, no more */
	struct store_alert_query q = q_all();
	q.after_opened = 1000;
	q.after_id = "A-00";
	struct got g;
	ck_assert_str_eq(page(s, &q, &g), "");
	ck_assert_int_eq(g.more, 0);
	store_close(s);
}
END_TEST

/* ---- history ---- */

struct hist {
	int calls, status, found, more;
	char error[256];
	size_t n_events, n_dispatches;
	char events[8][128], dispatches[4][128], alert[256];
};

static void on_history(void *ud, const struct store_read *rd)
{
	struct hist *h = ud;
	h->calls++;
	h->status = store_read_status(rd);
	h->more = store_read_more(rd);
	snprintf(h->error, sizeof h->error, "%s", store_read_error(rd));
	const struct store_alert_row *a = store_read_history_alert(rd);
	h->found = a != NULL;
	if (a)
		snprintf(h->alert, sizeof h->alert, "%s|%s|%s|%.0f", a->id, a->status,
		         a->tier_name ? a->tier_name : "-", a->ack_due);
	h->n_events = store_read_event_count(rd);
	h->n_dispatches = store_read_dispatch_count(rd);
	for (size_t i = 0; i < h->n_events && i < 8; i++) {
		const struct store_event_row *e = store_read_event_at(rd, i);
		snprintf(h->events[i], sizeof h->events[i], "%lld|%s|%s|%s|%s", (long long)e->seq,
		         e->type, e->actor, e->note ? e->note : "-", e->payload);
	}
	for (size_t i = 0; i < h->n_dispatches && i < 4; i++) {
		const struct store_dispatch_row *d = store_read_dispatch_at(rd, i);
		snprintf(h->dispatches[i], sizeof h->dispatches[i], "%lld|%s|%.0f",
		         (long long)d->seq, d->vendor ? d->vendor : "-", d->planned_at);
	}
	ck_assert_ptr_null(store_read_event_at(rd, h->n_events));
	ck_assert_ptr_null(store_read_dispatch_at(rd, h->n_dispatches));
}

static void history(struct store *s, const char *id, struct hist *h)
{
	memset(h, 0, sizeof *h);
	ck_assert_int_eq(store_read_alert_history(s, id, on_history, h), 0);
	run();
	ck_assert_int_eq(h->calls, 1);
}

START_TEST(alert_history)
{
	struct store *s = filled();
	/* events out of order, another alert's in between */
	struct store_batch *b = store_batch_new();
	static const int seqs[] = { 3, 1, 2 };
	static const char *const types[] = { "acknowledged", "opened", "updated" };
	for (int i = 0; i < 3; i++) {
		char payload[32];
		snprintf(payload, sizeof payload, "{\"seq\":%d}", seqs[i]);
		struct store_event_row e = { .alert_id = "A-01",
			                     .type = types[i],
			                     .seq = seqs[i],
			                     .time = 100 + seqs[i],
			                     .actor = seqs[i] == 3 ? "Sato" : NULL,
			                     .note = seqs[i] == 3 ? "on it" : NULL,
			                     .payload = payload };
		store_batch_event(b, &e);
		e.alert_id = "A-02";
		store_batch_event(b, &e);
	}
	store_commit(s, b);
	store_sync(s); /* handed to the writer thread: wait for it */
	struct hist h;
	history(s, "A-01", &h);
	ck_assert_int_eq(h.status, 0);
	ck_assert_int_eq(h.found, 1);
	ck_assert_str_eq(h.alert, "A-01|open|front|500");
	ck_assert_uint_eq(h.n_events, 3);
	ck_assert_str_eq(h.events[0], "1|opened|mamori|-|{\"seq\":1}");
	ck_assert_str_eq(h.events[1], "2|updated|mamori|-|{\"seq\":2}");
	ck_assert_str_eq(h.events[2], "3|acknowledged|Sato|on it|{\"seq\":3}");
	ck_assert_uint_eq(h.n_dispatches, 2);
	ck_assert_str_eq(h.dispatches[0], "1|old vendor|0");
	ck_assert_str_eq(h.dispatches[1], "2|Vendor K.K.|0");
	ck_assert_int_eq(h.more, 0);
	/* an alert without history */
	history(s, "A-06", &h);
	ck_assert_int_eq(h.found, 1);
	ck_assert_uint_eq(h.n_events, 0);
	/* unknown: not found, not an error */
	history(s, "A-nope", &h);
	ck_assert_int_eq(h.status, 0);
	ck_assert_str_eq(h.error, "");
	ck_assert_int_eq(h.found, 0);
	ck_assert_uint_eq(h.n_events + h.n_dispatches, 0);
	history(s, "", &h);
	ck_assert_int_eq(h.found, 0);
	store_close(s);
}
END_TEST

START_TEST(history_bounded)
{
	struct store *s = filled();
	struct store_batch *b = store_batch_new();
	for (int i = 1; i <= STORE_READ_MAX_HISTORY + 1; i++) {
		struct store_event_row e = {
			.alert_id = "A-05", .type = "updated", .seq = i, .time = i, .payload = "{}"
		};
		store_batch_event(b, &e);
	}
	store_commit(s, b);
	store_sync(s); /* handed to the writer thread: wait for it */
	struct hist h;
	history(s, "A-05", &h);
	ck_assert_int_eq(h.status, 0);
	ck_assert_uint_eq(h.n_events, STORE_READ_MAX_HISTORY);
	ck_assert_int_eq(h.more, 1);
	ck_assert_str_eq(h.events[0], "1|updated|mamori|-|{}");
	store_close(s);
}
END_TEST

/* ---- check states ---- */

struct states {
	int calls, status;
	size_t n;
	char line[16][160];
};

static void on_states(void *ud, const struct store_read *rd)
{
	struct states *x = ud;
	x->calls++;
	x->status = store_read_status(rd);
	x->n = store_read_state_count(rd);
	for (size_t i = 0; i < x->n && i < 16; i++) {
		const struct store_state_row *r = store_read_state_at(rd, i);
		snprintf(x->line[i], sizeof x->line[i], "%s/%s/%s|%d|%d|%s|%.0f", r->customer,
		         r->asset, r->name, r->state, r->hard, r->output ? r->output : "-",
		         r->last_check);
	}
	ck_assert_ptr_null(store_read_state_at(rd, x->n));
}

static void read_states(struct store *s, const char *filter, int problems, struct states *x)
{
	memset(x, 0, sizeof *x);
	ck_assert_int_eq(store_read_states(s, filter, problems, on_states, x), 0);
	run();
	ck_assert_int_eq(x->calls, 1);
	ck_assert_int_eq(x->status, 0);
}

static void put_state(struct store_batch *b, const char *c, const char *a, const char *n, int state,
                      double last_check, const char *out)
{
	struct store_state_row r = { .customer = c,
		                     .asset = a,
		                     .name = n,
		                     .plugin = "dummy",
		                     .state = state,
		                     .hard = 1,
		                     .attempt = 1,
		                     .last_check = last_check,
		                     .output = out };
	store_batch_state(b, &r);
}

START_TEST(check_states)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	put_state(b, "c1", "a", "k1", 0, 10, "fine");
	put_state(b, "c1", "a", "k2", 2, 10, "broken");
	put_state(b, "c1", "b", "k3", 1, 0, NULL); /* never checked */
	put_state(b, "c2", "a", "k4", 3, 10, "who knows");
	put_state(b, "c1", "a", "k0", 0, 10, "fine too");
	store_commit(s, b);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	struct states x;
	read_states(s, NULL, 0, &x);
	ck_assert_uint_eq(x.n, 5);
	ck_assert_str_eq(x.line[0], "c2/a/k4|3|1|who knows|10");
	ck_assert_str_eq(x.line[1], "c1/a/k2|2|1|broken|10");
	ck_assert_str_eq(x.line[2], "c1/b/k3|1|1|-|0");
	ck_assert_str_eq(x.line[3], "c1/a/k0|0|1|fine too|10");
	ck_assert_str_eq(x.line[4], "c1/a/k1|0|1|fine|10");
	read_states(s, "c1", 0, &x);
	ck_assert_uint_eq(x.n, 4);
	read_states(s, "c1/b", 0, &x);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_str_eq(x.line[0], "c1/b/k3|1|1|-|0");
	read_states(s, NULL, 1, &x);
	ck_assert_uint_eq(x.n, 3);
	read_states(s, "c1/a", 1, &x);
	ck_assert_uint_eq(x.n, 1);
	read_states(s, "nope", 0, &x);
	ck_assert_uint_eq(x.n, 0);
	read_states(s, "c1/", 0, &x);
	ck_assert_uint_eq(x.n, 0);
	read_states(s, "", 0, &x);
	ck_assert_uint_eq(x.n, 0);
	store_close(s);
}
END_TEST

/* ---- lifecycle ---- */

START_TEST(refused_when_not_running)
{
	struct store *s = open_store();
	struct got g = { 0 };
	struct store_alert_query q = q_all();
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_ESTOPPED);
	ck_assert_int_eq(store_read_states(s, NULL, 0, on_alerts, &g), STORE_ESTOPPED);
	ck_assert_int_eq(store_read_alert_history(s, "A-1", on_alerts, &g), STORE_ESTOPPED);
	store_close(s);
	/* started without a loop: no reads */
	s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_ESTOPPED);
	store_close(s);
	ck_assert_int_eq(g.calls, 0);
}
END_TEST

static void on_close_read(void *ud, const struct store_read *rd)
{
	int *slot = ud;
	slot[0]++;
	slot[8] = store_read_status(rd);
}

START_TEST(close_delivers_every_read_once)
{
	struct store *s = filled();
	int slots[8][9];
	memset(slots, 0, sizeof slots);
	struct store_alert_query q = q_all();
	for (int i = 0; i < 8; i++) {
		int rc = i % 2 ? store_read_alerts(s, &q, on_close_read, slots[i])
		               : store_read_states(s, NULL, 0, on_close_read, slots[i]);
		ck_assert_int_eq(rc, 0);
	}
	/* no loop run: store_close itself delivers */
	store_close(s);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(slots[i][0], 1);
		ck_assert(slots[i][8] == 0 || slots[i][8] == STORE_ECLOSED);
	}
	/* the loop holds no reference any more: it returns at once */
	ev_run(loop, 0);
}
END_TEST

/* ---- reads while the writer commits ---- */

#define CHECKS  300
#define ALERTS  5 /* per batch */
#define BATCHES 60

struct race {
	struct store *s;
	ev_idle pump;
	int batches, reads, bad;
	int gen_seen_max;
	char gens[BATCHES + 1]; /* generations the state reads saw */
	char why[256];
};

static void commit_one(struct race *r)
{
	struct store_batch *b = store_batch_new();
	int gen = ++r->batches;
	char out[32];
	snprintf(out, sizeof out, "gen %d", gen);
	for (int i = 0; i < CHECKS; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%03d", i);
		put_state(b, "c1", "a", name, 1 + gen % 3, gen, out);
	}
	for (int i = 0; i < ALERTS; i++) {
		char id[32];
		snprintf(id, sizeof id, "A-%03d-%d", gen, i);
		struct store_alert_row a = { .id = id,
			                     .check_key = "c/a/k",
			                     .customer = "c1",
			                     .status = "open",
			                     .state = 2,
			                     .seq = 1,
			                     .opened_at = gen,
			                     .updated_at = gen };
		store_batch_alert(b, &a);
	}
	store_commit(r->s, b);
}

static void on_pump(struct ev_loop *l, ev_idle *w, int revents)
{
	struct race *r = w->data;
	if (r->batches >= BATCHES) {
		ev_idle_stop(l, w);
		return;
	}
	if (!store_busy(r->s))
		commit_one(r);
}

static void issue(struct race *r);

static void on_race_states(void *ud, const struct store_read *rd)
{
	struct race *r = ud;
	r->reads++;
	size_t n = store_read_state_count(rd);
	if (store_read_status(rd) != 0 || (n != 0 && n != CHECKS)) {
		r->bad++;
		snprintf(r->why, sizeof r->why, "states: status %d, %zu rows",
		         store_read_status(rd), n);
	}
	/* one batch wrote every row: all rows carry the same generation */
	for (size_t i = 1; i < n; i++)
		if (strcmp(store_read_state_at(rd, i)->output,
		           store_read_state_at(rd, 0)->output) != 0) {
			r->bad++;
			snprintf(r->why, sizeof r->why, "half a batch: '%s' next to '%s'",
			         store_read_state_at(rd, i)->output,
			         store_read_state_at(rd, 0)->output);
			break;
		}
	int gen = n ? (int)store_read_state_at(rd, 0)->last_check : 0;
	if (gen > r->gen_seen_max)
		r->gen_seen_max = gen;
	if (gen >= 0 && gen <= BATCHES)
		r->gens[gen] = 1;
	issue(r);
}

static void on_race_alerts(void *ud, const struct store_read *rd)
{
	struct race *r = ud;
	r->reads++;
	size_t n = store_read_alert_count(rd);
	if (store_read_status(rd) != 0 || n % ALERTS != 0) {
		r->bad++;
		snprintf(r->why, sizeof r->why, "alerts: status %d, %zu rows (not whole batches)",
		         store_read_status(rd), n);
	}
	issue(r);
}

static void issue(struct race *r)
{
	if (r->batches >= BATCHES && !store_busy(r->s) && r->reads > 20)
		return; /* the writer is done and has been raced enough */
	struct store_alert_query q = { .severity = -1, .limit = 1000 };
	int rc = r->reads % 2 ? store_read_states(r->s, NULL, 0, on_race_states, r)
	                      : store_read_alerts(r->s, &q, on_race_alerts, r);
	ck_assert_int_eq(rc, 0);
}

START_TEST(reads_see_whole_batches)
{
	struct race r = { 0 };
	r.s = open_started();
	ev_idle_init(&r.pump, on_pump);
	r.pump.data = &r;
	ev_idle_start(loop, &r.pump);
	issue(&r);
	issue(&r); /* two requests in flight at a time */
	run();
	ck_assert_msg(r.bad == 0, "%d bad reads: %s", r.bad, r.why);
	ck_assert_int_eq(r.batches, BATCHES);
	ck_assert_int_gt(r.reads, 20);
	/* the reads really ran between commits: they saw several batches */
	int distinct = 0;
	for (int i = 1; i <= BATCHES; i++)
		distinct += r.gens[i];
	ck_assert_int_ge(distinct, 3);
	struct store_stats st;
	store_get_stats(r.s, &st);
	ck_assert_uint_eq(st.errors, 0);
	store_close(r.s);
}
END_TEST

/* ---- read-only stores ---- */

static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct store *open_ro(void)
{
	char err[1024] = "";
	struct store *s = store_open_readonly(dir, err, sizeof err);
	ck_assert_msg(s != NULL, "store_open_readonly: %s", err);
	return s;
}

static void ro_refused(const char *needle)
{
	char err[1024] = "";
	ck_assert_ptr_null(store_open_readonly(dir, err, sizeof err));
	ck_assert_msg(strstr(err, needle) && strstr(err, path), "message: %s", err);
}

START_TEST(readonly_refusals)
{
	ro_refused("no database");
	char err[1024] = "";
	ck_assert_ptr_null(store_open_readonly("/nonexistent/mamori", err, sizeof err));
	ck_assert_msg(strstr(err, "no database"), "message: %s", err);
	struct stat sb;
	ck_assert_int_ne(stat(path, &sb), 0); /* nothing was created */
	FILE *f = fopen(path, "wb");
	fclose(f);
	ro_refused("not a mamori database");
	exec_db("CREATE TABLE x (a); PRAGMA user_version = 99;");
	ro_refused("newer mamori");
	f = fopen(path, "wb");
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	ro_refused("not a usable");
}
END_TEST

START_TEST(readonly_never_writes)
{
	/* a schema-3 file (an older mamori's): readable, left as it is */
	char sql[65536];
	snprintf(sql, sizeof sql, "BEGIN; %s %s %s PRAGMA user_version = 3; COMMIT;",
	         store_schema_step(1), store_schema_step(2), store_schema_step(3));
	exec_db(sql);
	exec_db(
	    "INSERT INTO check_state (customer, asset, name, plugin, state, hard, attempt,"
	    " hard_state, flapping, stale, hist, n_hist, flap_pct, output, last_check)"
	    " VALUES ('c1', 'a', 'k', 'dummy', 2, 1, 1, 2, 0, 0, 0, 0, 0, 'old', 5);"
	    "INSERT INTO alert (id, check_key, customer, asset, check_name, state, status, seq,"
	    " opened_at, updated_at) VALUES ('A-1', 'c1/a/k', 'c1', 'a', 'k', 2, 'open', 1, 7, 7);"
	    "INSERT INTO outbox (id, topic, alert_id, seq, created) VALUES (1, 't', 'A-gone', 1, 0)");
	size_t blen;
	char *before = slurp(path, &blen);
	struct store *s = open_ro();
	store_set_node(s, "n1"); /* no take-over of outbox rows: read-only */
	struct store_batch *b = store_batch_new();
	put_state(b, "c1", "a", "new", 0, 1, "x");
	ck_assert_uint_eq(store_commit(s, b), 0); /* dropped */
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	struct states x;
	read_states(s, NULL, 0, &x);
	ck_assert_uint_eq(x.n, 1);
	ck_assert_str_eq(x.line[0], "c1/a/k|2|1|old|5");
	struct got g;
	struct store_alert_query q = q_all();
	ck_assert_str_eq(page(s, &q, &g), "A-1");
	struct hist h;
	history(s, "A-1", &h);
	ck_assert_int_eq(h.found, 1);
	store_close(s);
	size_t alen;
	char *after = slurp(path, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_msg(memcmp(before, after, blen) == 0, "the read-only store changed the file");
	free(before);
	free(after);
	char side[600];
	snprintf(side, sizeof side, "%s-wal", path);
	struct stat sb;
	ck_assert_msg(stat(side, &sb) != 0 || sb.st_size == 0, "a WAL appeared");

	/* schema 1: no alert tables - the alert reads are refused */
	ck_assert_int_eq(tmpdir_remove(dir), 0);
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "srd"), 0);
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	snprintf(sql, sizeof sql, "BEGIN; %s PRAGMA user_version = 1; COMMIT;",
	         store_schema_step(1));
	exec_db(sql);
	s = open_ro();
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	ck_assert_int_eq(store_read_alerts(s, &q, on_alerts, &g), STORE_ESCHEMA);
	ck_assert_int_eq(store_read_alert_history(s, "A-1", on_alerts, &g), STORE_ESCHEMA);
	read_states(s, NULL, 0, &x);
	ck_assert_uint_eq(x.n, 0);
	store_close(s);
}
END_TEST

START_TEST(readonly_next_to_the_daemon)
{
	/* mamorictl while mamorid runs: a read-only store sees what the
	 * writer committed, the writer keeps committing */
	struct store *w = open_started();
	struct store_batch *b = store_batch_new();
	put_state(b, "c1", "a", "k", 2, 1, "first");
	store_commit(w, b);
	store_sync(w);
	struct store *s = open_ro();
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	struct states x;
	read_states(s, NULL, 0, &x);
	ck_assert_str_eq(x.line[0], "c1/a/k|2|1|first|1");
	b = store_batch_new();
	put_state(b, "c1", "a", "k", 1, 2, "second");
	store_commit(w, b);
	store_sync(w);
	read_states(s, NULL, 0, &x);
	ck_assert_str_eq(x.line[0], "c1/a/k|1|1|second|2");
	store_close(s);
	store_close(w);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store_read");
	TCase *tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, alert_filters);
	tcase_add_test(tc, query_refused);
	tcase_add_test(tc, pages_see_each_row_once);
	tcase_add_test(tc, alert_history);
	tcase_add_test(tc, history_bounded);
	tcase_add_test(tc, check_states);
	tcase_add_test(tc, refused_when_not_running);
	tcase_add_test(tc, close_delivers_every_read_once);
	tcase_add_test(tc, reads_see_whole_batches);
	tcase_add_test(tc, readonly_refusals);
	tcase_add_test(tc, readonly_never_writes);
	tcase_add_test(tc, readonly_next_to_the_daemon);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
