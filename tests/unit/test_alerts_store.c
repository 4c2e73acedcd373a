/*
 * test_alerts_store: the store's alert tables (schema 2): the embedded
 * migration equals share/mamori/sql/0002_alerts.sql, alert/event/deadline/
 * dispatch/outbox/cmd_seen rows round-trip through a real SQLite file,
 * upserting an alert keeps its history, PUBACK deletes and retention
 * pruning work, batches are numbered in commit order, the alert count
 * that seeds the id counter is per node, and newer or corrupt databases
 * are refused and left untouched.
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "ast"), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

static struct store *open_store(void)
{
	char err[1024] = "";
	struct store *s = store_open(dir, err, sizeof err);
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = 0;
	fclose(f);
	return buf;
}

START_TEST(schema_file_identical)
{
	static const char *const files[] = { NULL,
		                             NULL,
		                             "0002_alerts.sql",
		                             "0003_outbox_ref.sql",
		                             "0004_node_downtime.sql",
		                             "0005_sla_indexes.sql",
		                             "0006_auth.sql",
		                             "0007_series.sql",
		                             "0008_alert_runbook.sql",
		                             "0009_state_history.sql",
		                             "0010_notify.sql",
		                             "0011_monitor_run.sql" };
	const char *path = getenv("MAMORI_SQL_DIR") ? getenv("MAMORI_SQL_DIR") : "share/mamori/sql";
	ck_assert_int_eq(store_schema_latest(), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(STORE_SCHEMA_VERSION, 11);
	for (int v = 2; v <= STORE_SCHEMA_VERSION; v++) {
		char file[512];
		snprintf(file, sizeof file, "%s/%s", path, files[v]);
		char *text = read_all(file);
		ck_assert_msg(text != NULL, "cannot read %s (run from the repository top)", file);
		ck_assert_ptr_nonnull(store_schema_step(v));
		ck_assert_msg(strcmp(text, store_schema_step(v)) == 0,
		              "src/store/schema.c step %d differs from %s", v, file);
		free(text);
	}
	ck_assert_ptr_null(store_schema_step(0));
	ck_assert_ptr_null(store_schema_step(STORE_SCHEMA_VERSION + 1));
}
END_TEST

static struct store_alert_row sample_alert(const char *id, const char *status, int64_t seq)
{
	struct store_alert_row r = { .id = id,
		                     .check_key = "c1/pc-1/defender",
		                     .customer = "c1",
		                     .asset = "pc-1",
		                     .check_name = "defender",
		                     .service = "defender",
		                     .center = "cc-east",
		                     .also = "[\"cc-copy\"]",
		                     .summary = "real-time protection off",
		                     .status = status,
		                     .state = 2,
		                     .count = 3,
		                     .seq = seq,
		                     .opened_at = 1000.5,
		                     .updated_at = 1010,
		                     .has_clock = 1,
		                     .tier_name = "back-office",
		                     .tier = 1,
		                     .paused = 2,
		                     .ack_due = 2000,
		                     .resolve_due = 0,
		                     .ack_left = -1,
		                     .resolve_left = 77.5,
		                     .breaches = 4 };
	return r;
}

struct got {
	int n;
	struct store_alert_row last;
	char id[64], also[64], tier_name[64], vendor[64], runbook[64];
};

static void on_alert(void *ud, const struct store_alert_row *r)
{
	struct got *g = ud;
	g->n++;
	g->last = *r;
	snprintf(g->id, sizeof g->id, "%s", r->id);
	snprintf(g->also, sizeof g->also, "%s", r->also ? r->also : "(null)");
	snprintf(g->tier_name, sizeof g->tier_name, "%s", r->tier_name ? r->tier_name : "(null)");
	snprintf(g->vendor, sizeof g->vendor, "%s", r->vendor ? r->vendor : "(null)");
	snprintf(g->runbook, sizeof g->runbook, "%s", r->runbook ? r->runbook : "(null)");
}

START_TEST(alert_round_trip)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	struct store_alert_row a = sample_alert("A-1", "open", 1);
	store_batch_alert(b, &a);
	/* the first write has no runbook; the later one has (a reload) */
	struct store_event_row e = { .alert_id = "A-1",
		                     .type = "opened",
		                     .actor = "mamori",
		                     .seq = 1,
		                     .time = 1000.5,
		                     .payload = "{\"id\":\"A-1\",\"seq\":1}" };
	store_batch_event(b, &e);
	struct store_dispatch_row d = { .alert_id = "A-1",
		                        .actor = "Sato",
		                        .vendor = "Vendor K.K.",
		                        .seq = 1,
		                        .time = 1001,
		                        .planned_at = 5000 };
	store_batch_dispatch(b, &d);
	ck_assert_uint_eq(store_commit(s, b), 1);
	ck_assert_uint_eq(store_committed(s), 1);
	/* a later event: the upsert must keep the first event (no cascade) */
	b = store_batch_new();
	a = sample_alert("A-1", "acknowledged", 2);
	a.acked_at = 1005;
	a.acked_by = "Sato";
	a.runbook = "https://wiki.example/defender";
	store_batch_alert(b, &a);
	e.seq = 2;
	e.type = "acknowledged";
	store_batch_event(b, &e);
	ck_assert_uint_eq(store_commit(s, b), 2);
	store_close(s);

	s = open_store();
	struct got g = { 0 };
	ck_assert_int_eq(store_load_alerts(s, 0, on_alert, &g), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.id, "A-1");
	ck_assert_str_eq(g.also, "[\"cc-copy\"]");
	ck_assert_str_eq(g.tier_name, "back-office");
	ck_assert_str_eq(g.vendor, "Vendor K.K.");
	ck_assert_str_eq(g.runbook, "https://wiki.example/defender");
	ck_assert_int_eq(g.last.seq, 2);
	ck_assert_int_eq(g.last.tier, 1);
	ck_assert_int_eq(g.last.paused, 2);
	ck_assert_int_eq(g.last.breaches, 4);
	ck_assert_int_eq(g.last.has_clock, 1);
	ck_assert(g.last.ack_due == 2000);
	ck_assert(g.last.resolve_due == 0);
	ck_assert(g.last.ack_left < 0);
	ck_assert(g.last.resolve_left == 77.5);
	ck_assert(g.last.acked_at == 1005);
	ck_assert(g.last.planned_at == 5000);
	ck_assert_int_eq(store_alert_total(s), 1);
	store_close(s);

	sqlite3 *db;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM alert_event", -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

START_TEST(resolved_window)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	struct store_alert_row a = sample_alert("A-old", "resolved", 3);
	a.resolved_at = 100;
	a.check_key = "c1/pc-2/defender";
	store_batch_alert(b, &a);
	a = sample_alert("A-new", "resolved", 2);
	a.resolved_at = 900;
	a.has_clock = 0;
	store_batch_alert(b, &a);
	a = sample_alert("A-open", "open", 1);
	a.check_key = "c1/pc-3/defender";
	store_batch_alert(b, &a);
	store_commit(s, b);
	struct got g = { 0 };
	ck_assert_int_eq(store_load_alerts(s, 500, on_alert, &g), 0);
	ck_assert_int_eq(g.n, 2); /* the open one and the one resolved after 500 */
	ck_assert_str_eq(g.id, "A-new");
	ck_assert_int_eq(g.last.has_clock, 0);
	store_close(s);
}
END_TEST

struct obox {
	int n;
	int64_t ids[8];
	size_t lens[8];
	char topic[128];
	unsigned char first[16];
};

static void on_outbox(void *ud, const struct store_outbox_row *r)
{
	struct obox *o = ud;
	if (o->n < 8) {
		o->ids[o->n] = r->id;
		o->lens[o->n] = r->len;
	}
	if (o->n == 0) {
		snprintf(o->topic, sizeof o->topic, "%s", r->topic);
		memcpy(o->first, r->payload, r->len < 16 ? r->len : 16);
	}
	o->n++;
}

START_TEST(outbox_lifecycle)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_outbox_last_id(s), 0);
	struct store_batch *b = store_batch_new();
	/* garbage payload: binary with NUL bytes survives as is */
	static const unsigned char bin[] = { 0, 1, 2, 0xff, 0xfe, '"', 0, 'x' };
	struct store_outbox_row r = { .id = 1,
		                      .topic = "mamori/v1/alerts/cc-east/c1",
		                      .payload = bin,
		                      .len = sizeof bin,
		                      .qos = 1,
		                      .created = 10 };
	store_batch_outbox(b, &r);
	r.id = 2;
	r.payload = "{}";
	r.len = 2;
	store_batch_outbox(b, &r);
	r.id = 3;
	store_batch_outbox(b, &r);
	store_commit(s, b);
	b = store_batch_new();
	store_batch_outbox_done(b, 2);
	store_batch_outbox_done(b, 42); /* unknown id: harmless */
	store_commit(s, b);
	store_close(s);

	s = open_store();
	struct obox o = { 0 };
	ck_assert_int_eq(store_load_outbox(s, on_outbox, &o), 0);
	ck_assert_int_eq(o.n, 2);
	ck_assert_int_eq(o.ids[0], 1);
	ck_assert_int_eq(o.ids[1], 3);
	ck_assert_uint_eq(o.lens[0], sizeof bin);
	ck_assert_int_eq(memcmp(o.first, bin, sizeof bin), 0);
	ck_assert_str_eq(o.topic, "mamori/v1/alerts/cc-east/c1");
	/* schema 3: the highest id present; an empty outbox starts over */
	ck_assert_int_eq(store_outbox_last_id(s), 3);
	b = store_batch_new();
	store_batch_outbox_done(b, 3);
	store_commit(s, b);
	ck_assert_int_eq(store_outbox_last_id(s), 1);
	b = store_batch_new();
	store_batch_outbox_done(b, 1);
	store_commit(s, b);
	ck_assert_int_eq(store_outbox_last_id(s), 0);
	o.n = 0;
	store_load_outbox(s, on_outbox, &o);
	ck_assert_int_eq(o.n, 0);
	store_close(s);
}
END_TEST

struct seen {
	int n;
	char last[64];
};

static void on_seen(void *ud, const char *center, const char *id, const char *result, double time)
{
	struct seen *x = ud;
	x->n++;
	snprintf(x->last, sizeof x->last, "%s|%s|%s|%g", center, id, result, time);
}

START_TEST(cmd_seen_and_prune)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	char id[32];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "cmd-%d", i);
		store_batch_cmd_seen(b, "cc-east", id, i == 9 ? "wrong_center" : "ok", 100 + i);
	}
	store_batch_cmd_seen(b, "cc-east", "cmd-9", "wrong_center", 109); /* same id: one row */
	struct store_alert_row a = sample_alert("A-gone", "resolved", 1);
	a.resolved_at = 50;
	store_batch_alert(b, &a);
	struct store_event_row e = {
		.alert_id = "A-gone", .type = "resolved", .seq = 1, .time = 50, .payload = "{}"
	};
	store_batch_event(b, &e);
	a = sample_alert("A-kept", "resolved", 1);
	a.resolved_at = 5000;
	store_batch_alert(b, &a);
	store_commit(s, b);

	struct seen x = { 0 };
	ck_assert_int_eq(store_load_cmd_seen(s, 3, on_seen, &x), 0);
	ck_assert_int_eq(x.n, 3);
	ck_assert_str_eq(x.last, "cc-east|cmd-9|wrong_center|109"); /* newest last */
	/* the limit is per center: an older center's ids come back too */
	b = store_batch_new();
	store_batch_cmd_seen(b, "cc-west", "w-1", "ok", 101.5);
	store_commit(s, b);
	x.n = 0;
	ck_assert_int_eq(store_load_cmd_seen(s, 3, on_seen, &x), 0);
	ck_assert_int_eq(x.n, 4);
	ck_assert_str_eq(x.last, "cc-east|cmd-9|wrong_center|109");

	b = store_batch_new();
	store_batch_prune(b, 1000, 105, 100);
	store_commit(s, b);
	struct got g = { 0 };
	store_load_alerts(s, 0, on_alert, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.id, "A-kept");
	x.n = 0;
	store_load_cmd_seen(s, 100, on_seen, &x);
	ck_assert_int_eq(x.n, 5); /* 105..109 (cc-west's 101.5 pruned too) */
	store_close(s);

	/* the pruned alert's events went with it (ON DELETE CASCADE) */
	sqlite3 *db;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT count(*) FROM alert_event WHERE alert_id = 'A-gone'", -1,
	                   &st, NULL);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

START_TEST(alert_total_per_node)
{
	/* ids are "A-<node>-<14 base32>"; node "n1-b" must not count as n1 */
	static const char *const ids[] = { "A-n1-0123456789ABCD",
		                           "A-n1-0123456789ABCE",
		                           "A-n1-b-0123456789ABCD",
		                           "A-n2-0123456789ABCD",
		                           "A-1",
		                           "A-n1-short" };
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct store_alert_row a = sample_alert(ids[i], "open", 1);
		store_batch_alert(b, &a);
	}
	store_commit(s, b);
	ck_assert_int_eq(store_alert_total(s), 6); /* node "": every alert */
	store_close(s);
	static const struct {
		const char *node;
		int n;
	} want[] = { { "n1", 2 }, { "n1-b", 1 }, { "n2", 1 }, { "n3", 0 }, { "", 6 } };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		s = open_store();
		store_set_node(s, want[i].node);
		ck_assert_msg(store_alert_total(s) == want[i].n, "node %s: %lld", want[i].node,
		              (long long)store_alert_total(s));
		store_close(s);
	}
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct store *s = open_store();
	store_close(s);
	char path[512], err[1024] = "";
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_ptr_null(store_open(dir, err, sizeof err));
	ck_assert_msg(strstr(err, "newer") != NULL, "message: %s", err);
}
END_TEST

START_TEST(garbage_file_refused_untouched)
{
	char path[512], err[1024] = "";
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 4096; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	ck_assert_ptr_null(store_open(dir, err, sizeof err));
	ck_assert_msg(strstr(err, "untouched") != NULL, "message: %s", err);
	char *after = read_all(path);
	ck_assert_ptr_nonnull(after);
	for (int i = 0; i < 256; i++)
		ck_assert_int_eq((unsigned char)after[i], (i * 7919) & 0xff);
	free(after);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("alerts_store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, schema_file_identical);
	tcase_add_test(tc, alert_round_trip);
	tcase_add_test(tc, resolved_window);
	tcase_add_test(tc, outbox_lifecycle);
	tcase_add_test(tc, cmd_seen_and_prune);
	tcase_add_test(tc, alert_total_per_node);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, garbage_file_refused_untouched);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
