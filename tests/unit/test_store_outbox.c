/*
 * test_store_outbox: the outbox of schema 3 - migration of a schema-2
 * database with outbox rows (payloads kept, ids kept), rows that refer to
 * their alert event instead of holding the payload (resolved at load, in
 * id order, interleaved with rows that keep a payload), a reference whose
 * event is missing (logged and deleted, never passed on), garbage rows
 * written behind the store's back, and ids after a restart.  Reads in
 * pieces (store_outbox_read_*: what the daemon's bounded outbox reloads
 * with): id order, limit, upper bound, references resolved, missing events
 * skipped but counted, `next`, at startup and in the writer thread inside a
 * batch (sees the batch's earlier rows, not its later ones).  Schema 4:
 * migration of a schema-3 outbox (rows become node ''), ids numbered per
 * node, every read, write and delete scoped to the store's node, and the
 * rows of no node taken over by the first node without rows of its own.
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"

#include <check.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], path[512];

static void setup(void)
{
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "sob"), 0);
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
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

static void exec_db(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

static int exec_rc(const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static long long scalar(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#define MAXROWS 16

struct loaded {
	int n;
	int64_t ids[MAXROWS];
	char topics[MAXROWS][64];
	char payloads[MAXROWS][64];
	size_t lens[MAXROWS];
};

static void on_row(void *ud, const struct store_outbox_row *r)
{
	struct loaded *l = ud;
	ck_assert_ptr_nonnull(r->topic);
	ck_assert_ptr_nonnull(r->payload);
	if (l->n < MAXROWS) {
		l->ids[l->n] = r->id;
		l->lens[l->n] = r->len;
		snprintf(l->topics[l->n], sizeof l->topics[0], "%s", r->topic);
		size_t k = r->len < sizeof l->payloads[0] - 1 ? r->len : sizeof l->payloads[0] - 1;
		memcpy(l->payloads[l->n], r->payload, k);
		l->payloads[l->n][k] = 0;
	}
	l->n++;
}

static void load(struct store *s, struct loaded *l)
{
	memset(l, 0, sizeof *l);
	ck_assert_int_eq(store_load_outbox(s, on_row, l), 0);
}

START_TEST(migrates_v2_outbox)
{
	/* a database as schema 2 wrote it: AUTOINCREMENT ids, payload copies */
	char *sql = NULL;
	size_t n = strlen(store_schema_step(1)) + strlen(store_schema_step(2)) + 1024;
	sql = malloc(n);
	snprintf(sql, n, "BEGIN; %s %s PRAGMA user_version = 2; COMMIT;", store_schema_step(1),
	         store_schema_step(2));
	exec_db(sql);
	free(sql);
	exec_db(
	    "INSERT INTO alert (id, check_key, customer, asset, check_name, state, status, seq,"
	    " opened_at, updated_at) VALUES ('A-1', 'c/a/x', 'c', 'a', 'x', 2, 'open', 1, 1, 1);"
	    "INSERT INTO alert_event (alert_id, seq, type, time, actor, payload)"
	    " VALUES ('A-1', 1, 'opened', 1, 'mamori', '{\"seq\":1}');"
	    "INSERT INTO outbox (topic, payload, created) VALUES ('t/1', 'p-one', 1);"
	    "INSERT INTO outbox (topic, payload, created) VALUES ('t/2', 'p-two', 2);"
	    "INSERT INTO outbox (topic, payload, created) VALUES ('t/3', 'p-three', 3);"
	    "INSERT INTO outbox (topic, payload, qos, retain, created)"
	    " VALUES ('t/4', x'00ff00', 0, 1, 4);"
	    "DELETE FROM outbox WHERE id IN (1, 3);");
	struct store *s = open_store();
	ck_assert_int_eq(scalar("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(l.ids[0], 2);
	ck_assert_str_eq(l.topics[0], "t/2");
	ck_assert_str_eq(l.payloads[0], "p-two");
	ck_assert_int_eq(l.ids[1], 4);
	ck_assert_uint_eq(l.lens[1], 3);
	ck_assert_int_eq(memcmp(l.payloads[1], "\0\xff\0", 3), 0);
	ck_assert_int_eq(store_outbox_last_id(s), 4);
	/* the new columns work: a reference to the migrated event */
	struct store_batch *b = store_batch_new();
	struct store_outbox_row r = {
		.id = 5, .topic = "t/5", .alert_id = "A-1", .seq = 1, .qos = 1, .created = 5
	};
	store_batch_outbox(b, &r);
	store_commit(s, b);
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.errors, 0);
	load(s, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.payloads[2], "{\"seq\":1}");
	store_close(s);
	/* qos/retain survived the copy; the events are untouched */
	ck_assert_int_eq(scalar("SELECT qos * 10 + retain FROM outbox WHERE id = 4"), 1);
	ck_assert_int_eq(scalar("SELECT count(*) FROM alert_event"), 1);
	ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'outbox_v3'"), 0);
}
END_TEST

static void add_event(struct store_batch *b, const char *id, int64_t seq, const char *payload)
{
	struct store_event_row e = {
		.alert_id = id, .type = "opened", .seq = seq, .time = 1, .payload = payload
	};
	store_batch_event(b, &e);
}

static void add_ref(struct store_batch *b, int64_t id, const char *topic, const char *alert,
                    int64_t seq)
{
	/* a payload pointer is passed too: the store must not copy it */
	struct store_outbox_row r = { .id = id,
		                      .topic = topic,
		                      .payload = "NOT-STORED",
		                      .len = 10,
		                      .alert_id = alert,
		                      .seq = seq,
		                      .qos = 1,
		                      .created = 1 };
	store_batch_outbox(b, &r);
}

static void add_plain(struct store_batch *b, int64_t id, const char *topic, const char *payload)
{
	struct store_outbox_row r = {
		.id = id, .topic = topic, .payload = payload, .len = strlen(payload), .qos = 1
	};
	store_batch_outbox(b, &r);
}

START_TEST(references_load_in_order)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	add_event(b, "A-1", 1, "{\"a\":1,\"seq\":1}");
	add_ref(b, 1, "cc-east", "A-1", 1);
	add_ref(b, 2, "cc-copy", "A-1", 1); /* an `also` center: same event */
	add_plain(b, 3, "result", "{\"ok\":true}");
	add_event(b, "A-2", 1, "{\"a\":2,\"seq\":1}");
	add_ref(b, 4, "cc-east", "A-2", 1);
	store_commit(s, b);
	b = store_batch_new();
	add_event(b, "A-1", 2, "{\"a\":1,\"seq\":2}");
	add_ref(b, 5, "cc-east", "A-1", 2);
	store_commit(s, b);
	/* one copy of each payload: references hold none */
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE payload IS NULL"), 4);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE payload = 'NOT-STORED'"), 0);
	store_close(s);

	s = open_store();
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 5);
	static const char *const want[] = { "{\"a\":1,\"seq\":1}", "{\"a\":1,\"seq\":1}",
		                            "{\"ok\":true}", "{\"a\":2,\"seq\":1}",
		                            "{\"a\":1,\"seq\":2}" };
	static const char *const topics[] = { "cc-east", "cc-copy", "result", "cc-east",
		                              "cc-east" };
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(l.ids[i], i + 1);
		ck_assert_str_eq(l.payloads[i], want[i]);
		ck_assert_str_eq(l.topics[i], topics[i]);
		ck_assert_uint_eq(l.lens[i], strlen(want[i]));
	}
	store_close(s);
}
END_TEST

START_TEST(missing_event_dropped)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	add_event(b, "A-1", 1, "{\"seq\":1}");
	add_ref(b, 1, "t", "A-1", 1);
	add_ref(b, 2, "t", "A-9", 1); /* no such alert */
	add_ref(b, 3, "t", "A-1", 7); /* no such seq */
	add_plain(b, 4, "t", "plain");
	store_commit(s, b);
	store_close(s);
	/* garbage behind the store's back: odd types, a binary alert id */
	exec_db("INSERT INTO outbox (id, topic, payload, created) VALUES (6, 't', 42, 0);"
	        "INSERT INTO outbox (id, topic, alert_id, seq, created)"
	        " VALUES (7, 't', x'00ff', 'x', 'y');"
	        "INSERT INTO outbox (id, topic, alert_id, seq, created)"
	        " VALUES (8, 't', 'A-1', '1', 0);");
	/* the CHECK refuses a row with neither a payload nor a reference */
	ck_assert_int_ne(exec_rc("INSERT INTO outbox (id, topic, created) VALUES (9, 't', 0)"),
	                 SQLITE_OK);
	ck_assert_int_ne(exec_rc("INSERT INTO outbox (id, topic, alert_id, created)"
	                         " VALUES (9, 't', 'A-1', 0)"),
	                 SQLITE_OK);

	s = open_store();
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(l.ids[0], 1);
	ck_assert_str_eq(l.payloads[0], "{\"seq\":1}");
	ck_assert_int_eq(l.ids[1], 4);
	ck_assert_str_eq(l.payloads[1], "plain");
	ck_assert_int_eq(l.ids[2], 6);
	ck_assert_str_eq(l.payloads[2], "42");
	ck_assert_int_eq(l.ids[3], 8); /* '1' became 1: INTEGER affinity */
	ck_assert_str_eq(l.payloads[3], "{\"seq\":1}");
	store_close(s);
	/* the dangling rows are gone for good; the others stay until PUBACK */
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 4);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id IN (2, 3, 7)"), 0);
}
END_TEST

START_TEST(ids_after_restart)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	struct store_batch *b = store_batch_new();
	int64_t id = store_outbox_last_id(s);
	ck_assert_int_eq(id, 0);
	for (int i = 0; i < 5; i++) {
		char p[16];
		snprintf(p, sizeof p, "m%d", i);
		add_plain(b, ++id, "t", p);
	}
	store_commit(s, b);
	b = store_batch_new();
	for (int64_t i = 1; i <= 3; i++)
		store_batch_outbox_done(b, i); /* PUBACKs */
	store_commit(s, b);
	store_close(s);

	s = open_store();
	id = store_outbox_last_id(s);
	ck_assert_int_eq(id, 5);
	b = store_batch_new();
	add_plain(b, ++id, "t", "m-new");
	store_commit(s, b);
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(l.ids[0], 4);
	ck_assert_int_eq(l.ids[1], 5);
	ck_assert_int_eq(l.ids[2], 6);
	ck_assert_str_eq(l.payloads[2], "m-new");
	store_close(s);
}
END_TEST

/* ---- reads in pieces ---- */

static void collect(const struct store_outbox_read *rd, struct loaded *l)
{
	memset(l, 0, sizeof *l);
	ck_assert_int_eq(store_outbox_read_status(rd), 1);
	for (size_t i = 0; i < store_outbox_read_count(rd); i++) {
		const struct store_outbox_row *r = store_outbox_read_row(rd, i);
		ck_assert_ptr_nonnull(r);
		/* the payload is NUL-terminated for the daemon's convenience */
		ck_assert_int_eq(((const char *)r->payload)[r->len], '\0');
		on_row(l, r);
	}
	ck_assert_ptr_null(store_outbox_read_row(rd, store_outbox_read_count(rd)));
}

/* ids 1..10: references to A-1 seq 1..5 (odd ids; seq 3's event, id 5's,
 * is missing), plain payloads (even ids), then 11 above most reads' bound */
static void fill_ten(struct store *s)
{
	struct store_batch *b = store_batch_new();
	for (int seq = 1; seq <= 5; seq++) {
		char p[32];
		snprintf(p, sizeof p, "{\"seq\":%d}", seq);
		if (seq != 3)
			add_event(b, "A-1", seq, p);
		add_ref(b, 2 * seq - 1, "ref", "A-1", seq);
		snprintf(p, sizeof p, "plain-%d", 2 * seq);
		add_plain(b, 2 * seq, "plain", p);
	}
	add_plain(b, 11, "late", "eleven");
	store_commit(s, b);
}

START_TEST(read_in_pieces)
{
	struct store *s = open_store();
	fill_ten(s);
	struct loaded l;
	int64_t from = INT64_MIN;
	int64_t got[16];
	int n = 0, reads = 0;
	while (from <= 10) {
		struct store_outbox_read *rd = store_outbox_read_new(from, 10, 3);
		ck_assert_int_eq(store_outbox_read_status(rd), 0);
		ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
		collect(rd, &l);
		ck_assert_int_le(l.n, 3);
		for (int i = 0; i < l.n; i++) {
			ck_assert_int_lt(n, 16);
			got[n++] = l.ids[i];
			if (l.ids[i] % 2)
				ck_assert_str_eq(l.topics[i], "ref");
			else
				ck_assert_str_eq(l.topics[i], "plain");
		}
		int64_t next = store_outbox_read_next(rd);
		ck_assert_int_gt(next, from);
		from = next;
		store_outbox_read_free(rd);
		ck_assert_int_lt(++reads, 10);
	}
	/* 1 2 3 | 4 6 (5 lost, counted) | 7 8 9 | 10 */
	static const int64_t want[] = { 1, 2, 3, 4, 6, 7, 8, 9, 10 };
	ck_assert_int_eq(n, 9);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(got[i], want[i]);
	ck_assert_int_eq(from, 11); /* reached the upper bound: upto + 1 */
	ck_assert_int_eq(reads, 4); /* 3 rows looked at per read, the lost one counted */
	store_close(s);
	/* the lost reference is gone from the table, the rest stays */
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id = 5"), 0);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox"), 10);
}
END_TEST

START_TEST(read_payloads_resolved)
{
	struct store *s = open_store();
	fill_ten(s);
	struct store_outbox_read *rd = store_outbox_read_new(1, 1000, 100);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	struct loaded l;
	collect(rd, &l);
	ck_assert_int_eq(l.n, 10); /* 11 rows, 3 is lost */
	ck_assert_str_eq(l.payloads[0], "{\"seq\":1}");
	ck_assert_str_eq(l.payloads[1], "plain-2");
	ck_assert_str_eq(l.payloads[2], "{\"seq\":2}");
	ck_assert_str_eq(l.payloads[3], "plain-4");
	ck_assert_int_eq(l.ids[4], 6); /* id 5: A-1 seq 3 is gone */
	ck_assert_str_eq(l.payloads[5], "{\"seq\":4}");
	ck_assert_str_eq(l.payloads[9], "eleven");
	ck_assert_uint_eq(l.lens[9], 6);
	ck_assert_int_eq(store_outbox_read_next(rd), 1001);
	/* the alert id of a reference comes along; a plain row has none */
	ck_assert_str_eq(store_outbox_read_row(rd, 0)->alert_id, "A-1");
	ck_assert_int_eq(store_outbox_read_row(rd, 0)->seq, 1);
	ck_assert_ptr_null(store_outbox_read_row(rd, 1)->alert_id);
	store_outbox_read_free(rd);
	/* degenerate reads: nothing, next stays */
	rd = store_outbox_read_new(7, 6, 10);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	ck_assert_int_eq(store_outbox_read_status(rd), 1);
	ck_assert_uint_eq(store_outbox_read_count(rd), 0);
	ck_assert_int_eq(store_outbox_read_next(rd), 7);
	store_outbox_read_free(rd);
	rd = store_outbox_read_new(1, 10, 0);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	ck_assert_uint_eq(store_outbox_read_count(rd), 0);
	ck_assert_int_eq(store_outbox_read_next(rd), 1);
	store_outbox_read_free(rd);
	/* an empty range at the very top: next must not overflow */
	rd = store_outbox_read_new(INT64_MAX - 1, INT64_MAX, 5);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	ck_assert_int_eq(store_outbox_read_next(rd), INT64_MAX);
	store_outbox_read_free(rd);
	store_outbox_read_free(NULL);
	store_close(s);
}
END_TEST

START_TEST(read_in_writer_batch)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	fill_ten(s);
	/* one batch: a read, two new rows, a read, a PUBACK delete, a read */
	struct store_outbox_read *before = store_outbox_read_new(9, 100, 10);
	struct store_outbox_read *after = store_outbox_read_new(9, 100, 10);
	struct store_outbox_read *bounded = store_outbox_read_new(9, 12, 2);
	struct store_batch *b = store_batch_new();
	store_batch_outbox_read(b, before);
	add_plain(b, 12, "t", "twelve");
	add_event(b, "A-2", 1, "{\"a\":2}");
	add_ref(b, 13, "ref", "A-2", 1);
	store_batch_outbox_read(b, after);
	store_batch_outbox_done(b, 9);
	store_batch_outbox_read(b, bounded);
	uint64_t number = store_commit(s, b);
	store_sync(s);
	ck_assert_uint_ge(store_committed(s), number);
	struct loaded l;
	collect(before, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(l.ids[0], 9);
	ck_assert_int_eq(l.ids[2], 11);
	collect(after, &l);
	ck_assert_int_eq(l.n, 5);
	ck_assert_int_eq(l.ids[3], 12);
	ck_assert_int_eq(l.ids[4], 13);
	ck_assert_str_eq(l.payloads[4], "{\"a\":2}");
	ck_assert_int_eq(store_outbox_read_next(after), 101);
	collect(bounded, &l); /* 9 is deleted: 10, 11, then the limit */
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(l.ids[0], 10);
	ck_assert_int_eq(l.ids[1], 11);
	ck_assert_int_eq(store_outbox_read_next(bounded), 12);
	store_outbox_read_free(before);
	store_outbox_read_free(after);
	store_outbox_read_free(bounded);
	/* a batch freed unwritten leaves its read unread */
	struct store_outbox_read *never = store_outbox_read_new(1, 100, 10);
	b = store_batch_new();
	store_batch_outbox_read(b, never);
	store_batch_free(b);
	ck_assert_int_eq(store_outbox_read_status(never), 0);
	ck_assert_uint_eq(store_outbox_read_count(never), 0);
	store_outbox_read_free(never);
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.errors, 0);
	store_close(s);
}
END_TEST

START_TEST(read_garbage_rows)
{
	struct store *s = open_store();
	store_close(s);
	/* rows written behind the store's back: odd types everywhere */
	exec_db("INSERT INTO outbox (id, topic, payload, created) VALUES (1, 't', 42, 0);"
	        "INSERT INTO outbox (id, topic, payload, created) VALUES (2, 7, x'00', 'x');"
	        "INSERT INTO outbox (id, topic, alert_id, seq, created)"
	        " VALUES (3, 't', x'00ff', 'x', 'y');"
	        "INSERT INTO outbox (id, topic, payload, created) VALUES (-5, 't', 'neg', 0);"
	        "INSERT INTO outbox (id, topic, payload, created) VALUES (4, 't', '', 0);");
	s = open_store();
	struct store_outbox_read *rd = store_outbox_read_new(INT64_MIN, 4, 100);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	struct loaded l;
	collect(rd, &l);
	ck_assert_int_eq(l.n, 4);
	ck_assert_int_eq(l.ids[0], -5);
	ck_assert_str_eq(l.payloads[1], "42");
	ck_assert_str_eq(l.topics[2], "7");
	ck_assert_uint_eq(l.lens[2], 1);
	ck_assert_int_eq(l.ids[3], 4);
	ck_assert_uint_eq(l.lens[3], 0);
	store_outbox_read_free(rd);
	store_close(s);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id = 3"), 0);
}
END_TEST

/* ---- schema 4: outbox rows per node ---- */

/* A database as schema 3 wrote it (steps 1-3), with rows of both kinds. */
static void make_v3(void)
{
	size_t n = strlen(store_schema_step(1)) + strlen(store_schema_step(2)) +
	           strlen(store_schema_step(3)) + 1024;
	char *sql = malloc(n);
	snprintf(sql, n, "BEGIN; %s %s %s PRAGMA user_version = 3; COMMIT;", store_schema_step(1),
	         store_schema_step(2), store_schema_step(3));
	exec_db(sql);
	free(sql);
	exec_db(
	    "INSERT INTO alert (id, check_key, customer, asset, check_name, state, status, seq,"
	    " opened_at, updated_at) VALUES ('A-1', 'c/a/x', 'c', 'a', 'x', 2, 'open', 1, 1, 1);"
	    "INSERT INTO alert_event (alert_id, seq, type, time, actor, payload)"
	    " VALUES ('A-1', 1, 'opened', 1, 'mamori', '{\"seq\":1}');"
	    "INSERT INTO outbox (id, topic, payload, created) VALUES (3, 't/3', 'p-three', 3);"
	    "INSERT INTO outbox (id, topic, alert_id, seq, qos, retain, created)"
	    " VALUES (7, 't/7', 'A-1', 1, 0, 1, 7);");
}

START_TEST(migrates_v3_outbox)
{
	make_v3();
	struct store *s = open_store();
	ck_assert_int_eq(scalar("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	/* the rows belong to node '', ids, payloads and references kept */
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = ''"), 2);
	ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'outbox_v4'"), 0);
	ck_assert_int_eq(scalar("SELECT count(*) FROM sqlite_master WHERE name = 'downtime'"), 1);
	ck_assert_int_eq(scalar("SELECT qos * 10 + retain FROM outbox WHERE id = 7"), 1);
	ck_assert_int_eq(store_outbox_last_id(s), 7);
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(l.ids[0], 3);
	ck_assert_str_eq(l.payloads[0], "p-three");
	ck_assert_int_eq(l.ids[1], 7);
	ck_assert_str_eq(l.payloads[1], "{\"seq\":1}");
	store_close(s);
	/* the key is (node, id) and ids stay integers */
	ck_assert_int_ne(exec_rc("INSERT INTO outbox (node, id, topic, payload, created)"
	                         " VALUES ('', 3, 't', 'dup', 0)"),
	                 SQLITE_OK);
	ck_assert_int_ne(exec_rc("INSERT INTO outbox (node, id, topic, payload, created)"
	                         " VALUES ('x', 'abc', 't', 'p', 0)"),
	                 SQLITE_OK);
	exec_db(
	    "INSERT INTO outbox (node, id, topic, payload, created) VALUES ('x', 3, 't', 'p', 0);"
	    "DELETE FROM outbox WHERE node = 'x'");
}
END_TEST

static struct store *open_node(const char *node)
{
	struct store *s = open_store();
	store_set_node(s, node);
	return s;
}

START_TEST(nodes_number_their_own_rows)
{
	/* rows of no node (an upgraded schema 3 file): the first node with no
	 * rows of its own takes them over, at store_set_node */
	make_v3();
	struct store *s = open_node("n1");
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = 'n1'"), 2);
	ck_assert_int_eq(store_outbox_last_id(s), 7);
	struct store_batch *b = store_batch_new();
	add_plain(b, 8, "t/8", "n1-eight");
	store_commit(s, b);
	store_close(s);

	/* a second node sharing the file sees none of n1's rows, numbers its
	 * own from 1, and its PUBACK of id 3 leaves n1's row 3 alone */
	s = open_node("n2");
	ck_assert_int_eq(store_outbox_last_id(s), 0);
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	b = store_batch_new();
	for (int64_t id = 1; id <= 3; id++)
		add_plain(b, id, "t", "n2");
	store_commit(s, b);
	b = store_batch_new();
	store_batch_outbox_done(b, 3);
	store_commit(s, b);
	store_sync(s);
	store_close(s);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = 'n2'"), 2);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = 'n1' AND id = 3"), 1);

	s = open_node("n1");
	ck_assert_int_eq(store_outbox_last_id(s), 8);
	load(s, &l);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(l.ids[0], 3);
	ck_assert_int_eq(l.ids[2], 8);
	ck_assert_str_eq(l.payloads[2], "n1-eight");
	/* reads in pieces and their lost-reference deletes are scoped too */
	exec_db("INSERT INTO outbox (node, id, topic, alert_id, seq, created)"
	        " VALUES ('n2', 9, 't', 'A-gone', 1, 0), ('n1', 9, 't', 'A-gone', 1, 0)");
	struct store_outbox_read *rd = store_outbox_read_new(1, 100, 100);
	ck_assert_int_eq(store_outbox_read_now(s, rd), 0);
	ck_assert_uint_eq(store_outbox_read_count(rd), 3);
	store_outbox_read_free(rd);
	store_close(s);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE id = 9"), 1);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = 'n2' AND id = 9"), 1);

	/* node "" (the default) is a node like any other: it sees nothing now */
	s = open_store();
	ck_assert_int_eq(store_outbox_last_id(s), 0);
	load(s, &l);
	ck_assert_int_eq(l.n, 0);
	store_close(s);
}
END_TEST

START_TEST(node_keeps_rows_of_no_node_when_it_has_its_own)
{
	struct store *s = open_node("n1");
	struct store_batch *b = store_batch_new();
	add_plain(b, 1, "t", "mine");
	store_commit(s, b);
	store_close(s);
	exec_db("INSERT INTO outbox (id, topic, payload, created) VALUES (1, 't', 'nobody', 0)");
	s = open_node("n1");
	struct loaded l;
	load(s, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.payloads[0], "mine");
	store_close(s);
	ck_assert_int_eq(scalar("SELECT count(*) FROM outbox WHERE node = ''"), 1);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store_outbox");
	TCase *tc = tcase_create("outbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, migrates_v2_outbox);
	tcase_add_test(tc, references_load_in_order);
	tcase_add_test(tc, missing_event_dropped);
	tcase_add_test(tc, ids_after_restart);
	tcase_add_test(tc, read_in_pieces);
	tcase_add_test(tc, read_payloads_resolved);
	tcase_add_test(tc, read_in_writer_batch);
	tcase_add_test(tc, read_garbage_rows);
	tcase_add_test(tc, migrates_v3_outbox);
	tcase_add_test(tc, nodes_number_their_own_rows);
	tcase_add_test(tc, node_keeps_rows_of_no_node_when_it_has_its_own);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
