/*
 * series_size: the disk use of the perfdata history, measured on a real
 * database file written through the store's own batch operations.
 *
 *   build/bench/series_size N [INTERVAL [random|integral]]
 *       N series, each sampled every INTERVAL seconds (default 60), with
 *       the default retention full: 48 h of raw samples, 35 days of
 *       5-minute buckets, 395 days of hourly buckets.  Rows are written in
 *       time order across all series, in batches, as the daemon writes
 *       them (so the B-trees split the way they do in production); values
 *       are random non-integral doubles (the larger case), or with
 *       `integral` small whole numbers (a loss percentage, a count: SQLite
 *       stores those as 0..2-byte integers).  Then it prints
 *       the file's size after a checkpoint, each table's pages and rows
 *       (SQLite's dbstat), bytes per row and per series, and the same
 *       scaled to 100,000 series.
 *
 * One line for tests/bench/run.sh:
 *   series_size bytes_per_series B per_100k_gb G raw_row B m5_row B h1_row B series N
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RAW_KEEP (48 * 3600)
#define M5_KEEP  (35 * 86400)
#define H1_KEEP  (395 * 86400)
#define NOW      1800000000LL
#define BATCH    50000

static struct store *st;
static struct store_batch *b;

static void flush_if_full(void)
{
	if (store_batch_rows(b) >= BATCH) {
		store_commit(st, b);
		b = store_batch_new();
	}
}

static int integral;

static double val(unsigned *seed)
{
	if (integral)
		return rand_r(seed) % 3 ? 0 : rand_r(seed) % 100;
	return (double)rand_r(seed) / 1000.0 + 0.123456789;
}

struct tbl {
	const char *name;
	long long rows, bytes;
};

static void table_sizes(const char *path, struct tbl *t, size_t n)
{
	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "series_size: cannot open %s\n", path);
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		char q[256];
		sqlite3_stmt *s;
		/* the table and its indexes (series has its unique index) */
		snprintf(
		    q, sizeof q,
		    "SELECT (SELECT count(*) FROM %s), (SELECT coalesce(sum(pgsize), 0) FROM dbstat"
		    " WHERE name = '%s' OR name IN (SELECT name FROM sqlite_master WHERE"
		    " type = 'index' AND tbl_name = '%s'))",
		    t[i].name, t[i].name, t[i].name);
		if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_ROW) {
			fprintf(stderr, "series_size: %s (is dbstat compiled in?)\n",
			        sqlite3_errmsg(db));
			exit(1);
		}
		t[i].rows = sqlite3_column_int64(s, 0);
		t[i].bytes = sqlite3_column_int64(s, 1);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	log_open("bench", 1, LOG_LVL_WARNING);
	long n = argc > 1 ? atol(argv[1]) : 0;
	long interval = argc > 2 ? atol(argv[2]) : 60;
	integral = argc > 3 && strcmp(argv[3], "integral") == 0;
	if (n < 1 || interval < 1 || interval > 300 ||
	    (argc > 3 && !integral && strcmp(argv[3], "random") != 0)) {
		fprintf(stderr, "usage: series_size N [INTERVAL (1..300 s) [random|integral]]\n");
		return 2;
	}
	char dir[256], path[512], err[512];
	if (tmpdir_make(dir, sizeof dir, "sersize") != 0)
		return 1;
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	st = store_open(dir, err, sizeof err);
	if (!st) {
		fprintf(stderr, "series_size: %s\n", err);
		return 1;
	}
	b = store_batch_new();
	for (long i = 1; i <= n; i++) {
		char cu[32], as[32], label[32];
		snprintf(cu, sizeof cu, "c%06ld", i / 1000);
		snprintf(as, sizeof as, "a%02ld", (i / 10) % 100);
		snprintf(label, sizeof label, "rta%ld", i % 10);
		char ck[32];
		snprintf(ck, sizeof ck, "k%ld", i % 10);
		struct store_series_row r = { .id = i,
			                      .customer = cu,
			                      .asset = as,
			                      .check = ck,
			                      .label = label,
			                      .unit = "s",
			                      .created = NOW - H1_KEEP,
			                      .last_seen = NOW };
		store_batch_series(b, &r);
	}
	unsigned seed = 1;
	/* hourly buckets over 395 days, then 5-minute ones over 35 days, then
	 * raw samples over 48 h: each in time order across all series, as the
	 * daemon adds them (in the daemon the three interleave in time; each
	 * table's tree sees the same order either way) */
	for (long long t = NOW - H1_KEEP; t < NOW; t += 3600)
		for (long i = 1; i <= n; i++) {
			struct store_series_agg a = { .t = t,
				                      .min = val(&seed),
				                      .max = val(&seed),
				                      .sum = val(&seed) * 60.0,
				                      .n = (uint32_t)(3600 / interval) };
			store_batch_series_add(b, STORE_SERIES_1H, i, &a);
			flush_if_full();
		}
	for (long long t = NOW - M5_KEEP; t < NOW; t += 300)
		for (long i = 1; i <= n; i++) {
			struct store_series_agg a = { .t = t,
				                      .min = val(&seed),
				                      .max = val(&seed),
				                      .sum = val(&seed) * 5,
				                      .n = (uint32_t)(300 / interval) };
			store_batch_series_add(b, STORE_SERIES_5M, i, &a);
			flush_if_full();
		}
	for (long long t = NOW - RAW_KEEP; t < NOW; t += interval)
		for (long i = 1; i <= n; i++) {
			/* a sample lands a few ms after the second, as check results do */
			store_batch_series_raw(b, i, t * 1000 + rand_r(&seed) % 1000, val(&seed));
			flush_if_full();
		}
	store_commit(st, b);
	store_close(st); /* checkpoints: the whole file is in the database */
	struct stat sb;
	if (stat(path, &sb) != 0) {
		perror(path);
		return 1;
	}
	struct tbl t[] = { { .name = "series" },
		           { .name = "series_raw" },
		           { .name = "series_5m" },
		           { .name = "series_1h" } };
	table_sizes(path, t, 4);
	double per = (double)sb.st_size / (double)n;
	printf("# file %lld bytes for %ld series sampled every %lds, %s values\n",
	       (long long)sb.st_size, n, interval, integral ? "integral" : "random");
	for (size_t i = 0; i < 4; i++)
		printf("# %-10s %10lld rows %12lld bytes %6.1f bytes/row %9.0f bytes/series\n",
		       t[i].name, t[i].rows, t[i].bytes,
		       t[i].rows ? (double)t[i].bytes / (double)t[i].rows : 0,
		       (double)t[i].bytes / (double)n);
	printf("series_size bytes_per_series %.0f per_100k_gb %.1f raw_row %.1f m5_row %.1f"
	       " h1_row %.1f series %ld interval %ld values %s\n",
	       per, per * 100000 / 1e9, (double)t[1].bytes / (double)t[1].rows,
	       (double)t[2].bytes / (double)t[2].rows, (double)t[3].bytes / (double)t[3].rows, n,
	       interval, integral ? "integral" : "random");
	tmpdir_remove(dir);
	return 0;
}
