/*
 * test_store_ckpt: WAL checkpoints off the writer thread (store_ckpt.c).
 * Under a long stream of batches handed to the writer back to back (a
 * PASSIVE checkpoint alone never catches up then) the WAL file stays
 * bounded; the same without a writer thread (inline checkpoints); a
 * reader that holds an old snapshot postpones the RESTART without
 * stalling the writer for long; store_close leaves no WAL behind and
 * every row is in the database.
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAL_MAX  (1024 * 1024)
#define CK_PAGES 64
#define EVENTS   100 /* per batch, ~1.1 kB payload each */
#define PAYLOAD  1100

static char dir[256], path[512], wal[520];

static void setup(void)
{
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "sck"), 0);
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	snprintf(wal, sizeof wal, "%s-wal", path);
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
	store_set_checkpoint(s, CK_PAGES, WAL_MAX);
	return s;
}

static long long wal_size(void)
{
	struct stat sb;
	return stat(wal, &sb) == 0 ? (long long)sb.st_size : -1;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store_batch *make_batch(int nb)
{
	static char payload[PAYLOAD];
	memset(payload, 'x', sizeof payload - 1);
	struct store_batch *b = store_batch_new();
	for (int i = 0; i < EVENTS; i++) {
		char id[32];
		snprintf(id, sizeof id, "A-%06d", nb);
		struct store_event_row e = { .alert_id = id,
			                     .type = "updated",
			                     .seq = i + 1,
			                     .time = 1,
			                     .payload = payload };
		store_batch_event(b, &e);
	}
	return b;
}

static long long count_events(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM alert_event", -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Hand `n` batches to the writer back to back; the biggest WAL seen. */
static long long stream(struct store *s, int first, int n)
{
	long long max = 0;
	for (int i = 0; i < n; i++) {
		store_commit(s, make_batch(first + i));
		long long w = wal_size();
		max = w > max ? w : max;
	}
	while (store_busy(s)) {
		long long w = wal_size();
		max = w > max ? w : max;
	}
	store_sync(s);
	return max;
}

START_TEST(wal_bounded_with_writer_thread)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	/* The peak is the bound plus what the writer writes during one
	 * checkpoint (machine-dependent), so compare a short stream with a
	 * stream four times as long: an unbounded WAL grows with it. */
	long long short_max = stream(s, 0, 80);
	long long long_max = stream(s, 80, 320);
	struct store_stats st;
	struct store_checkpoint_stats ck;
	store_get_stats(s, &st);
	store_get_checkpoint_stats(s, &ck);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_eq(st.batches, 400);
	ck_assert_uint_gt(ck.checkpoints, 0);
	ck_assert_msg(long_max < 2 * short_max + 2LL * WAL_MAX,
	              "WAL grows with the stream: %lld bytes after 80 batches, %lld after 400"
	              " (%llu restarts)",
	              short_max, long_max, (unsigned long long)ck.checkpoint_restarts);
	ck_assert_uint_gt(ck.checkpoint_restarts, 0);
	store_close(s);
	ck_assert_msg(wal_size() <= 0, "WAL left after close: %lld bytes", wal_size());
	ck_assert_int_eq(count_events(), 400LL * EVENTS);
}
END_TEST

START_TEST(wal_bounded_inline)
{
	struct store *s = open_store(); /* no store_start: checkpoints inline */
	long long max = 0;
	for (int i = 0; i < 150; i++) {
		store_commit(s, make_batch(i));
		long long w = wal_size();
		max = w > max ? w : max;
	}
	struct store_checkpoint_stats st;
	store_get_checkpoint_stats(s, &st);
	ck_assert_uint_gt(st.checkpoints, 0);
	ck_assert_uint_eq(st.checkpoint_restarts, 0);
	ck_assert_msg(max < 3LL * WAL_MAX, "WAL reached %lld bytes", max);
	store_close(s);
	ck_assert_int_le(wal_size(), 0);
	ck_assert_int_eq(count_events(), 150LL * EVENTS);
}
END_TEST

START_TEST(reader_postpones_restart)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	stream(s, 0, 5);
	/* an outside reader (sqlite3, mamorictl) pins the current snapshot */
	sqlite3 *rd;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(path, &rd), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(rd, "SELECT count(*) FROM alert_event", -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 5 * EVENTS);
	sqlite3_finalize(st);
	double t0 = mono();
	stream(s, 5, 60); /* ~7 MB past the bound: RESTART wanted, cannot finish */
	double pinned = mono() - t0;
	ck_assert_int_eq(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(rd);
	struct store_stats ws;
	struct store_checkpoint_stats x;
	store_get_stats(s, &ws);
	store_get_checkpoint_stats(s, &x);
	ck_assert_uint_eq(ws.errors, 0);
	/* the writer waited at most a few postponed attempts, not per batch */
	ck_assert_msg(pinned < 10.0, "60 batches took %.1f s with a reader", pinned);
	/* once the reader is gone, RESTARTs succeed again */
	/* (after the back-off of RESTART_BACKOFF, 1 s) */
	uint64_t restarts = x.checkpoint_restarts;
	int n = 65;
	double t1 = mono();
	while (x.checkpoint_restarts == restarts && mono() - t1 < 20) {
		stream(s, n, 20);
		n += 20;
		store_get_checkpoint_stats(s, &x);
	}
	ck_assert_uint_gt(x.checkpoint_restarts, restarts);
	store_close(s);
	ck_assert_int_le(wal_size(), 0);
	ck_assert_int_eq(count_events(), (long long)n * EVENTS);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store_ckpt");
	TCase *tc = tcase_create("ckpt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, wal_bounded_with_writer_thread);
	tcase_add_test(tc, wal_bounded_inline);
	tcase_add_test(tc, reader_postpones_restart);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
