/*
 * test_series: the perfdata history (src/series with the store's series
 * tables, and app_series).
 *
 * The module against a real store with a virtual clock: rollup arithmetic
 * across 5-minute and hourly boundaries (with and without a batch between
 * two samples), raw thinning, unit normalisation and a unit change,
 * refused values (U, huge, bad labels), the label cap and its one log
 * line, garbage perfdata (random bytes, under ASan in CI), replay of a
 * repeated result, retention (raw, 5m, 1h, then the series row) and its
 * bound per step, restart persistence (ids kept, buckets merged, at most
 * the uncommitted batch lost), the read (grouping, bounds, refusals) and
 * the plan (tier and step by range).  Then app_series on a whole server
 * with dummy checks that print perfdata: tiers, labels, scope (out of
 * scope is "not found"), errors, and the history across a restart.
 */
#include "app/app.h"
#include "journal/journal.h"
#include "series/series.h"
#include "server/server.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <mamori/plugin.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], path[512];
static struct ev_loop *loop;
static double fake_now;

static double fake_clock(void *ud)
{
	return fake_now;
}

static void setup(void)
{
	log_set_level(LOG_LVL_ERR);
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "ser"), 0);
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	loop = ev_loop_new(0);
	fake_now = 1800000000; /* an hour boundary: 1800000000 % 3600 == 0 */
}

static void teardown(void)
{
	ev_loop_destroy(loop);
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

/* ---- a series module on a store (no daemon) ---- */

struct h {
	struct store *st;
	struct journal *j;
	struct series *s;
	void *chk;
};

static void h_open(struct h *h, const struct series_conf *c)
{
	char err[1024] = "";
	memset(h, 0, sizeof *h);
	h->st = store_open(dir, err, sizeof err);
	ck_assert_msg(h->st != NULL, "store_open: %s", err);
	ck_assert_int_eq(store_start(h->st, NULL, NULL, NULL), 0);
	h->j = journal_new(loop, h->st, 0.1);
	struct series_deps d = { .loop = loop, .journal = h->j, .clock = fake_clock };
	h->s = series_new(&d, c);
	ck_assert_int_eq(series_load(h->s, h->st), 0);
	h->chk = series_check(h->s, "c1/a1/k1", "c1", "a1", "k1");
}

static void h_flush(struct h *h)
{
	journal_flush(h->j, 1);
}

/* crash: 1 drops what was not cut (as kill -9 would) */
static void h_close(struct h *h, int crash)
{
	if (!crash) {
		series_flush_all(h->s); /* as a stop does */
		h_flush(h);
	}
	journal_free(h->j);
	store_close(h->st);
	series_free(h->s);
}

static void rec(struct h *h, const char *text, double t)
{
	fake_now = t;
	series_record(h->s, h->chk, NULL, 0, text, 0, t);
}

static struct series_conf conf0(void)
{
	struct series_conf c;
	series_conf_default(&c);
	c.raw_min_interval = 0;
	c.flush = 0; /* every batch: the arithmetic tests flush when they mean to */
	return c;
}

/* Rows of a query as "a|b|c;a|b|c;" (the file, read by its own
 * connection). */
static int row_cb(void *ud, int n, char **v, char **names)
{
	char *out = ud;
	for (int i = 0; i < n; i++) {
		strcat(out, v[i] ? v[i] : "NULL");
		strcat(out, i + 1 < n ? "|" : ";");
	}
	return 0;
}

static const char *rows(const char *sql)
{
	static char out[16384];
	sqlite3 *db;
	char *msg = NULL;
	out[0] = '\0';
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, row_cb, out, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
	return out;
}

static long scalar(const char *sql)
{
	return atol(rows(sql));
}

/* ---- rollups ---- */

START_TEST(rollup_boundaries)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	double H = fake_now;     /* an hour starts */
	rec(&h, "v=1", H - 310); /* 5m bucket H-600 */
	rec(&h, "v=5", H - 290); /* H-300 */
	h_flush(&h);
	rec(&h, "v=3", H - 10);  /* H-300 again: added to what is on disk */
	rec(&h, "v=7", H + 10);  /* a new hour, no batch in between */
	rec(&h, "v=-2", H + 20); /* H */
	h_flush(&h);
	rec(&h, "v=4", H + 299.999); /* still H */
	rec(&h, "v=10", H + 300);    /* H+300 */
	rec(&h, "v=2.5", H + 3600);  /* the next hour */
	h_close(&h, 0);
	char want[512];
	snprintf(want, sizeof want,
	         "%.0f|1.0|1.0|1.0|1;%.0f|3.0|5.0|8.0|2;%.0f|-2.0|7.0|9.0|3;"
	         "%.0f|10.0|10.0|10.0|1;%.0f|2.5|2.5|2.5|1;",
	         H - 600, H - 300, H, H + 300, H + 3600);
	ck_assert_str_eq(rows("SELECT t, vmin, vmax, vsum, n FROM series_5m ORDER BY t"), want);
	snprintf(want, sizeof want, "%.0f|1.0|5.0|9.0|3;%.0f|-2.0|10.0|19.0|4;%.0f|2.5|2.5|2.5|1;",
	         H - 3600, H, H + 3600);
	ck_assert_str_eq(rows("SELECT t, vmin, vmax, vsum, n FROM series_1h ORDER BY t"), want);
	/* every sample raw (raw_min_interval 0), in ms */
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 8);
	snprintf(want, sizeof want, "%.0f|4.0;", (H + 299.999) * 1000);
	ck_assert_str_eq(rows("SELECT t, v FROM series_raw WHERE v = 4"), want);
	ck_assert_str_eq(rows("SELECT id, customer, asset, check_name, label, unit FROM series"),
	                 "1|c1|a1|k1|v|;");
}
END_TEST

START_TEST(raw_thinning)
{
	struct series_conf c = conf0();
	c.raw_min_interval = 10;
	struct h h;
	h_open(&h, &c);
	double t = fake_now + 7;
	const double at[] = { 0, 5, 10, 12, 25, 34.9, 35 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		char v[32];
		snprintf(v, sizeof v, "x=%zu", i);
		rec(&h, v, t + at[i]);
	}
	h_close(&h, 0);
	/* kept: 0, 10, 25, 35 (12 is 2 s after 10, 34.9 is 9.9 s after 25) */
	ck_assert_str_eq(rows("SELECT v FROM series_raw ORDER BY t"), "0.0;2.0;4.0;6.0;");
	/* the rollups count every sample: 0..6 */
	ck_assert_str_eq(rows("SELECT vmin, vmax, vsum, n FROM series_5m"), "0.0|6.0|21.0|7;");
	struct series_stats st;
	(void)st;
}
END_TEST

START_TEST(units)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	rec(&h, "rt=12ms size=2KB big=1.5GB pct=50% hits=3c t=1.5s us=250us dbm=-40dBm plain=7",
	    fake_now + 1);
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT label, unit, v FROM series JOIN series_raw ON series = id"
	                      " ORDER BY id"),
	                 "rt|s|0.012;size|B|2048.0;big|B|1610612736.0;pct|%|50.0;hits|c|3.0;"
	                 "t|s|1.5;us|s|0.00025;dbm|dBm|-40.0;plain||7.0;");
	/* a unit that changes: the series says the latest */
	rec(&h, "pct=5", fake_now + 1);
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT unit FROM series WHERE label = 'pct'"), ";");
}
END_TEST

START_TEST(refused_values)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	char longl[200];
	memset(longl, 'L', sizeof longl);
	snprintf(longl + 129, sizeof longl - 129, "=1"); /* a 129-byte label */
	rec(&h, "u=U huge=1e301 ok=1 'sp ace'=2 neg=-1e300", fake_now + 1);
	rec(&h, longl, fake_now + 2);
	rec(&h, "'tab\tlabel'=1 '\xff\xfe'=1 ", fake_now + 3);
	struct mamori_perfdata it[2] = { { .label = "ctl\x1b[2J", .uom = "", .value = 1 },
		                         { .label = "badunit", .uom = "\x01x", .value = 2 } };
	series_record(h.s, h.chk, it, 2, NULL, 0, fake_now + 4);
	struct series_stats st;
	series_get_stats(h.s, &st);
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT label FROM series ORDER BY id"), "ok;sp ace;neg;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 3);
	ck_assert_uint_eq(st.unknown, 1);
	ck_assert_uint_ge(st.bad_items, 2); /* huge, the bad unit */
	ck_assert_uint_ge(st.refused, 4);   /* long, tab, invalid UTF-8, escape */
}
END_TEST

static int cap_lines;
static char cap_line[512];
static void cap_hook(int level, const char *line, void *ud)
{
	if (strstr(line, "perfdata labels")) {
		cap_lines++;
		snprintf(cap_line, sizeof cap_line, "%s", line);
	}
}

START_TEST(label_cap)
{
	struct series_conf c = conf0();
	c.max_labels = 3;
	struct h h;
	h_open(&h, &c);
	log_set_level(LOG_LVL_WARNING);
	log_set_hook(cap_hook, NULL);
	cap_lines = 0;
	for (int i = 0; i < 5; i++)
		rec(&h, "a=1 b=2 c=3 d=4 e=5", fake_now + i);
	log_set_hook(NULL, NULL);
	log_set_level(LOG_LVL_ERR);
	struct series_stats st;
	series_get_stats(h.s, &st);
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT label FROM series ORDER BY id"), "a;b;c;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 15);
	ck_assert_int_eq(cap_lines, 1); /* one line per check, not per result */
	ck_assert_ptr_nonnull(strstr(cap_line, "c1/a1/k1"));
	ck_assert_ptr_nonnull(strstr(cap_line, "'d'"));
	ck_assert_uint_eq(st.refused, 10);
}
END_TEST

START_TEST(garbage)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	static const char *const nasty[] = {
		"",
		"=",
		"==1",
		"a=",
		"a=;;;;;;;",
		"'unterminated=1 b=2",
		"a=1.2.3",
		"a=0x10",
		"a=1,5",
		"a=nan",
		"a=inf",
		"a=1e400",
		"a=1;2;3;4;5;6",
		"'a''b'=3",
		"a=1 a=2",
		"x=1\nlong|y=2",
		"   ",
		"a=-0",
		"a=1e-400 b=2",
	};
	for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++)
		rec(&h, nasty[i], fake_now + 1 + (double)i);
	unsigned seed = 12345;
	char buf[600];
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)(rand_r(&seed) % (sizeof buf - 1));
		for (size_t i = 0; i < n; i++) {
			/* mostly the characters perfdata is made of */
			static const char alpha[] = "ab=;'.:~@-+0123456789eEU %msBKc\t\xc3\xa9\xff";
			int r = rand_r(&seed);
			buf[i] = r % 4 ? alpha[(unsigned)r / 4 % (sizeof alpha - 1)]
			               : (char)(r % 255 + 1);
		}
		buf[n] = '\0';
		rec(&h, buf, fake_now + 0.001);
	}
	struct series_stats st;
	series_get_stats(h.s, &st);
	h_close(&h, 0);
	ck_assert_uint_gt(st.bad_items, 1000);
	/* whatever came through is a label we keep and a finite value */
	ck_assert_int_eq(scalar("SELECT count(*) FROM series WHERE length(label) > 128"
	                        " OR label GLOB '*[' || char(1) || '-' || char(31) || ']*'"),
	                 0);
	ck_assert_int_le(scalar("SELECT count(*) FROM series"), 64);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_5m WHERE n < 1 OR vmin > vmax"), 0);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series WHERE label = 'a''b'"), 1);
}
END_TEST

START_TEST(replay)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	rec(&h, "a=1 b=U c=2", fake_now + 1);
	fake_now += 2;
	series_record(h.s, h.chk, NULL, 0, "ignored: the caller says it repeats", 1, fake_now);
	struct series_stats st;
	series_get_stats(h.s, &st);
	ck_assert_uint_eq(st.replayed, 1);
	/* a new conf (a reload) makes the next record parse again */
	series_set_conf(h.s, &c);
	fake_now += 1;
	series_record(h.s, h.chk, NULL, 0, "a=5", 1, fake_now);
	series_get_stats(h.s, &st);
	ck_assert_uint_eq(st.replayed, 1);
	/* a record with one label twice is never replayed */
	rec(&h, "a=1 a=3", fake_now + 1);
	series_record(h.s, h.chk, NULL, 0, "a=1 a=3", 1, fake_now + 2);
	h_close(&h, 0);
	ck_assert_str_eq(
	    rows("SELECT s.label, vsum, n FROM series_5m JOIN series s ON s.id = series"
	         " ORDER BY s.id"),
	    "a|15.0|7;c|4.0|2;");
}
END_TEST

/* ---- retention ---- */

START_TEST(retention)
{
	struct series_conf c = conf0();
	c.raw_keep = 3600;
	c.keep_5m = 86400;
	c.keep_1h = 7 * 86400;
	struct h h;
	h_open(&h, &c);
	double t0 = fake_now;
	rec(&h, "old=1", t0);
	void *other = series_check(h.s, "c1/a1/k2", "c1", "a1", "k2");
	h_flush(&h);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 1);
	/* 2 h later: the raw sample is gone, the rollups stay */
	fake_now = t0 + 7200;
	series_record(h.s, other, NULL, 0, "new=1", 0, fake_now);
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT s.label FROM series_raw JOIN series s ON s.id = series"),
	                 "new;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_5m"), 2);
	/* 2 days: the 5-minute rollups of `old` are gone */
	fake_now = t0 + 2 * 86400;
	series_record(h.s, other, NULL, 0, "new=1", 0, fake_now);
	h_flush(&h);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_5m WHERE series = 1"), 0);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_1h WHERE series = 1"), 1);
	/* 8 days: everything of `old`, and its series row (not seen since) */
	fake_now = t0 + 8 * 86400;
	series_record(h.s, other, NULL, 0, "new=1", 0, fake_now);
	h_flush(&h);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_1h WHERE series = 1"), 0);
	ck_assert_str_eq(rows("SELECT label FROM series"), "new;");
	/* `old` comes back: the same id, its row written again */
	rec(&h, "old=2", fake_now + 1);
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT id, label FROM series ORDER BY id"), "1|old;2|new;");
}
END_TEST

START_TEST(prune_is_bounded)
{
	char err[512];
	struct store *st = store_open(dir, err, sizeof err);
	ck_assert_ptr_nonnull(st);
	struct store_batch *b = store_batch_new();
	for (int i = 1; i <= 3; i++) {
		struct store_series_row r = { .id = i,
			                      .customer = "c",
			                      .asset = "a",
			                      .check = "k",
			                      .label = i == 1   ? "x"
			                               : i == 2 ? "y"
			                                        : "z",
			                      .unit = "",
			                      .created = 1,
			                      .last_seen = i == 3 ? 1 : 2e9 };
		store_batch_series(b, &r);
	}
	for (int i = 0; i < 25000; i++)
		store_batch_series_raw(b, 1, 1000 + i, i);
	for (int i = 0; i < 50; i++)
		store_batch_series_raw(b, 2, 1000 + i, i);
	store_commit(st, b);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 25050);
	struct store_series_prune p = { .raw_before_ms = 1000000,
		                        .m5_before = 0,
		                        .h1_before = 0,
		                        .series_before = 100,
		                        .max_rows = 10000,
		                        .max_series = 1000 };
	long left[] = { 15000, 5000, 0 };
	for (int step = 0; step < 3; step++) {
		b = store_batch_new();
		store_batch_series_prune(b, &p);
		store_commit(st, b);
		ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw WHERE series = 1"),
		                 left[step]);
	}
	/* the third step reached series 2 and 3: y's rows, z's row (not seen) */
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 0);
	ck_assert_str_eq(rows("SELECT label FROM series ORDER BY id"), "x;y;");
	ck_assert_uint_eq(store_series_pruned(st), 25050 + 1);
	/* a step visits at most max_series series */
	p.max_series = 1;
	b = store_batch_new();
	for (int i = 10; i < 20; i++) {
		struct store_series_row r = { .id = i,
			                      .customer = "c",
			                      .asset = "a",
			                      .check = "k",
			                      .label = "l",
			                      .unit = "",
			                      .created = 1,
			                      .last_seen = 1 };
		char l[16];
		snprintf(l, sizeof l, "l%d", i);
		r.label = l;
		store_batch_series(b, &r);
	}
	store_commit(st, b);
	b = store_batch_new();
	store_batch_series_prune(b, &p);
	store_batch_series_prune(b, &p);
	store_commit(st, b);
	ck_assert_int_eq(scalar("SELECT count(*) FROM series WHERE id >= 10"), 8);
	store_close(st);
}
END_TEST

/* ---- restart ---- */

START_TEST(restart)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	double t = fake_now + 60;
	rec(&h, "a=1 b=10", t);
	h_flush(&h);
	rec(&h, "a=2 b=20", t + 1); /* never cut: lost with the crash */
	h_close(&h, 1);
	h_open(&h, &c);
	rec(&h, "b=30 a=3 n=1", t + 2); /* the same series, the same bucket; one new */
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT s.id, s.label, vmin, vmax, vsum, n FROM series_5m"
	                      " JOIN series s ON s.id = series ORDER BY s.id"),
	                 "1|a|1.0|3.0|4.0|2;2|b|10.0|30.0|40.0|2;3|n|1.0|1.0|1.0|1;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 5);
	/* a clean stop loses nothing: the last batch is cut at close */
	h_open(&h, &c);
	rec(&h, "a=4", t + 3);
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT n FROM series_1h WHERE series = 1"), "3;");
}
END_TEST

/* What is held waits up to conf.flush: raw samples and rollups alike. */
START_TEST(flush_interval)
{
	struct series_conf c = conf0();
	c.flush = 1;
	struct h h;
	h_open(&h, &c);
	double t = fake_now + 10;
	rec(&h, "a=1", t); /* the first write of a process goes at once */
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT n FROM series_5m"), "1;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 1);
	for (int i = 1; i <= 9; i++) {
		rec(&h, "a=1", t + i * 0.1);
		h_flush(&h);
	}
	/* held: neither tier has them, so the tiers agree */
	ck_assert_str_eq(rows("SELECT n FROM series_5m"), "1;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 1);
	rec(&h, "a=1", t + 1.0);
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT n FROM series_5m"), "11;");
	ck_assert_str_eq(rows("SELECT n FROM series_1h"), "11;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 11);
	/* a bucket that closes waits like the rest */
	rec(&h, "a=2", t + 1.5);
	double next = t - fmod(t, 300) + 300;
	rec(&h, "a=5", next);
	fake_now = t + 1.6;
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT n, vsum FROM series_5m ORDER BY t"), "11|11.0;");
	fake_now = t + 2.0;
	h_flush(&h);
	ck_assert_str_eq(rows("SELECT n, vsum FROM series_5m ORDER BY t"), "12|13.0;1|5.0;");
	/* a crash loses what was held (at most conf.flush), in every tier */
	rec(&h, "a=6", t + 2.5);
	h_flush(&h);
	h_close(&h, 1);
	ck_assert_str_eq(rows("SELECT sum(n) FROM series_5m"), "13;");
	ck_assert_str_eq(rows("SELECT sum(n) FROM series_1h"), "13;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 13);
	/* a stop loses nothing */
	h_open(&h, &c);
	rec(&h, "a=7", next + 1);
	h_flush(&h); /* written: the first of this process */
	rec(&h, "a=8", next + 1.1);
	h_flush(&h); /* held */
	ck_assert_str_eq(rows("SELECT sum(n) FROM series_5m"), "14;");
	h_close(&h, 0);
	ck_assert_str_eq(rows("SELECT sum(n) FROM series_5m"), "15;");
	ck_assert_str_eq(rows("SELECT sum(n) FROM series_1h"), "15;");
	ck_assert_int_eq(scalar("SELECT count(*) FROM series_raw"), 15);
}
END_TEST

/* ---- the read ---- */

struct got {
	int calls, status, more;
	size_t n;
	char text[4096];
};

static void on_read(void *ud, const struct store_read *rd)
{
	struct got *g = ud;
	g->calls++;
	g->status = store_read_status(rd);
	g->more = store_read_more(rd);
	g->n = store_read_series_count(rd);
	g->text[0] = '\0';
	for (size_t i = 0; i < g->n; i++) {
		const struct store_series_row *r = store_read_series_at(rd, i);
		size_t np;
		const struct store_series_point *p = store_read_series_points(rd, i, &np);
		size_t len = strlen(g->text);
		snprintf(g->text + len, sizeof g->text - len, "%s[%s]:", r->label, r->unit);
		for (size_t j = 0; j < np; j++) {
			len = strlen(g->text);
			snprintf(g->text + len, sizeof g->text - len, " %.3f/%g/%g/%g/%u", p[j].t,
			         p[j].min, p[j].max, p[j].sum, p[j].n);
		}
		len = strlen(g->text);
		snprintf(g->text + len, sizeof g->text - len, ";");
	}
	ck_assert_ptr_null(store_read_series_at(rd, g->n));
}

START_TEST(read_points)
{
	struct series_conf c = conf0();
	struct h h;
	h_open(&h, &c);
	double T = fake_now; /* an hour boundary */
	rec(&h, "a=1ms b=5", T + 1);
	rec(&h, "a=3ms", T + 1.5);
	rec(&h, "a=2ms", T + 3);
	rec(&h, "a=7ms b=6", T + 400);
	h_close(&h, 0);
	char err[512];
	struct store *st = store_open(dir, err, sizeof err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_start(st, loop, NULL, NULL), 0);
	struct got g = { 0 };
	struct store_series_query q = { .customer = "c1",
		                        .asset = "a1",
		                        .check = "k1",
		                        .tier = STORE_SERIES_RAW,
		                        .from = T,
		                        .to = T + 3600,
		                        .step = 2,
		                        .max_points = 100 };
	ck_assert_int_eq(store_read_series(st, &q, on_read, &g), 0);
	ev_run(loop, 0);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.status, 0);
	char want[512];
	snprintf(want, sizeof want,
	         "a[s]: %.3f/0.001/0.003/0.004/2 %.3f/0.002/0.002/0.002/1 %.3f/0.007/0.007/0.007/1;"
	         "b[]: %.3f/5/5/5/1 %.3f/6/6/6/1;",
	         T, T + 2, T + 400, T, T + 400);
	ck_assert_str_eq(g.text, want);
	/* one label, the 5-minute tier in 10-minute steps */
	q.label = "a";
	q.tier = STORE_SERIES_5M;
	q.step = 600;
	ck_assert_int_eq(store_read_series(st, &q, on_read, &g), 0);
	ev_run(loop, 0);
	snprintf(want, sizeof want, "a[s]: %.3f/0.001/0.007/0.013/4;", T);
	ck_assert_str_eq(g.text, want);
	/* the bound: a line that would pass it is left out whole */
	q.label = NULL;
	q.tier = STORE_SERIES_RAW;
	q.step = 1;
	q.max_points = 4;
	ck_assert_int_eq(store_read_series(st, &q, on_read, &g), 0);
	ev_run(loop, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.more, 1);
	ck_assert_ptr_nonnull(strstr(g.text, "a[s]:"));
	/* unknown check or label: no series, not an error */
	q.check = "nope";
	ck_assert_int_eq(store_read_series(st, &q, on_read, &g), 0);
	ev_run(loop, 0);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.n, 0);
	/* refused at the call */
	q.check = "k1";
	struct store_series_query bad = q;
	bad.from = bad.to;
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	bad = q;
	bad.step = 0;
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	bad = q;
	bad.tier = STORE_SERIES_5M;
	bad.step = 450; /* not a multiple of 300 */
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	bad = q;
	bad.max_points = 0;
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	bad = q;
	bad.asset = NULL;
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	bad = q;
	bad.to = NAN;
	ck_assert_int_eq(store_read_series(st, &bad, on_read, &g), STORE_EINVAL);
	store_close(st);
}
END_TEST

START_TEST(plan)
{
	struct series_conf c;
	series_conf_default(&c);
	double now = 1800000000;
	struct series_plan p;
	char err[256];
	/* errors */
	ck_assert_int_eq(series_plan(&c, now, now, now - 1, 60, 10000, &p, err, sizeof err), -1);
	ck_assert_str_eq(err, "from must be before to");
	ck_assert_int_eq(series_plan(&c, now, now - 60, now, 0, 10000, &p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "step"));
	ck_assert_int_eq(series_plan(&c, now, now - 60, now, -5, 10000, &p, err, sizeof err), -1);
	ck_assert_int_eq(series_plan(&c, now, now - 60, now, 0.5, 10000, &p, err, sizeof err), -1);
	ck_assert_int_eq(series_plan(&c, now, now - 60, now, NAN, 10000, &p, err, sizeof err), -1);
	ck_assert_int_eq(
	    series_plan(&c, now, now - 397 * 86400.0, now, 3600, 10000, &p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "older than the history keeps (395 days"));
	ck_assert_int_eq(series_plan(&c, now, -1, now, 3600, 10000, &p, err, sizeof err), -1);
	ck_assert_int_eq(
	    series_plan(&c, now, now - 47 * 3600.0, now, 1, 10000, &p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too many points"));
	ck_assert_ptr_nonnull(strstr(err, "step of at least 17s"));
	/* the same on the rollups: the suggestion is a multiple of the tier */
	ck_assert_int_eq(
	    series_plan(&c, now, now - 300 * 86400.0, now, 3600, 1000, &p, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "step of at least 28800s"));
	/* the tier */
	struct {
		double back, step;
		int tier;
		double step_out;
	} cases[] = {
		{ 3600, 1, SERIES_RAW, 1 },           /* last hour, per second: raw */
		{ 47 * 3600.0, 60, SERIES_RAW, 60 },  /* within 48 h, below 5 min: raw */
		{ 47 * 3600.0, 300, SERIES_5M, 300 }, /* a 5-minute step: the rollup */
		{ 3600, 450, SERIES_5M, 600 },        /* rounded up to the tier */
		{ 49 * 3600.0, 60, SERIES_5M, 300 },  /* past 48 h: the raw tier is gone */
		{ 10 * 86400.0, 3600, SERIES_1H, 3600 },
		{ 34 * 86400.0, 1800, SERIES_5M, 1800 },
		{ 36 * 86400.0, 300, SERIES_1H, 3600 }, /* past 35 d: hourly, step raised */
		{ 395 * 86400.0, 86400, SERIES_1H, 86400 },
		{ 395.5 * 86400.0, 86400, SERIES_1H, 86400 }, /* the day of slack */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = series_plan(&c, now, now - cases[i].back, now, cases[i].step, 10000, &p,
		                     err, sizeof err);
		ck_assert_msg(rc == 0, "case %zu: %s", i, err);
		ck_assert_msg(p.tier == cases[i].tier, "case %zu: tier %d", i, p.tier);
		ck_assert_msg(p.step == cases[i].step_out, "case %zu: step %g", i, p.step);
		ck_assert_msg(fmod(p.from, p.step) == 0 && p.from <= now - cases[i].back &&
		                  p.from > now - cases[i].back - p.step,
		              "case %zu: from %f", i, p.from);
		ck_assert_msg(p.buckets <= 10000, "case %zu", i);
	}
	ck_assert_str_eq(series_tier_name(SERIES_5M), "5m");
	/* conf checks */
	ck_assert_int_eq(series_conf_check(&c, err, sizeof err), 0);
	c.keep_5m = c.raw_keep - 1;
	ck_assert_int_eq(series_conf_check(&c, err, sizeof err), -1);
	series_conf_default(&c);
	c.max_labels = 0;
	ck_assert_int_eq(series_conf_check(&c, err, sizeof err), -1);
}
END_TEST

/* ---- app_series on a whole server ---- */

static char builddir[PATH_MAX];

#define SCONF                                                                                      \
	"daemon = { log_level = \"err\"; node = \"n1\"; flush_interval = \"50ms\"; };\n"           \
	"history = { raw_min_interval = \"0s\"; };\n"                                              \
	"customers = ( { id = \"c1\"; assets = ( { name = \"a\"; checks = ("                       \
	" { plugin = \"dummy\"; name = \"d\"; interval = \"100ms\";"                               \
	"   perf = \"rt=5ms;100;500;0 up=1\"; },"                                                  \
	" { plugin = \"dummy\"; name = \"quiet\"; interval = \"100ms\"; } ); } ); },"              \
	" { id = \"c2\"; assets = ( { name = \"b\"; checks = ("                                    \
	" { plugin = \"dummy\"; name = \"d\"; interval = \"100ms\"; perf = \"x=2\"; } ); } ); } );\n"

struct sfx {
	struct ev_loop *loop;
	struct server *s;
	char tmp[64], plugdir[128], statedir[128];
};

static void sfx_start(struct sfx *f)
{
	struct server_opts o = { .config_text = SCONF,
		                 .plugin_dir = f->plugdir,
		                 .state_dir = f->statedir,
		                 .no_spread = 1 };
	f->s = server_new(f->loop, &o);
	ck_assert_ptr_nonnull(f->s);
	ck_assert_int_eq(server_start(f->s), 0);
}

static void guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

static void turn(struct sfx *f, double secs, const int *until)
{
	ev_timer g;
	ev_timer_init(&g, guard_cb, 0.002, 0.002);
	ev_timer_start(f->loop, &g);
	ev_now_update(f->loop);
	double end = ev_now(f->loop) + secs;
	while (ev_now(f->loop) < end && !(until && *until))
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &g);
}

struct ans {
	int calls, err;
	char msg[256];
	struct app_series *s;
};

static void on_series(void *ud, int err, const char *msg, struct app_series *s)
{
	struct ans *a = ud;
	a->calls++;
	a->err = err;
	snprintf(a->msg, sizeof a->msg, "%s", msg);
	a->s = s;
}

/* app_series, then the loop until the answer; returns the synchronous
 * code (the answer in *a when it is APP_OK). */
static int ask(struct sfx *f, const struct app_scope *sc, const char *cu, const char *as,
               const char *ck, const char *label, double back, double step, struct ans *a)
{
	char msg[256] = "";
	memset(a, 0, sizeof *a);
	double now = ev_now(f->loop);
	int rc = app_series(server_app(f->s), sc, cu, as, ck, label, now - back, now + 1, step,
	                    on_series, a, msg, sizeof msg);
	if (rc != APP_OK) {
		snprintf(a->msg, sizeof a->msg, "%s", msg);
		return rc;
	}
	turn(f, 5, &a->calls);
	ck_assert_int_eq(a->calls, 1);
	return rc;
}

/* Samples in every point of the first line. */
static uint32_t counted(const struct app_series *s)
{
	uint32_t n = 0;
	for (size_t i = 0; s->n && i < s->lines[0].n; i++)
		n += s->lines[0].points[i].count;
	return n;
}

START_TEST(app_reads)
{
	struct sfx f = { 0 };
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	snprintf(builddir, sizeof builddir, "%s", dirname(dirname(exe)));
	snprintf(f.tmp, sizeof f.tmp, "/tmp/mamori-tser.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f.tmp));
	snprintf(f.plugdir, sizeof f.plugdir, "%s/plugins", f.tmp);
	snprintf(f.statedir, sizeof f.statedir, "%s/state", f.tmp);
	ck_assert_int_eq(mkdir(f.plugdir, 0700), 0);
	char src[PATH_MAX + 64], dst[256];
	snprintf(src, sizeof src, "%s/plugins/dummy.so", builddir);
	snprintf(dst, sizeof dst, "%s/dummy.so", f.plugdir);
	ck_assert_int_eq(symlink(src, dst), 0);
	f.loop = ev_default_loop(0);
	ev_now_update(f.loop);
	sfx_start(&f);
	turn(&f, 1.0, NULL);
	server_flush(f.s, 1);

	static const struct app_scope admin = { .all = 1 };
	static const char *c2_only[] = { "c2" };
	static const struct app_scope viewer_c2 = { .customers = c2_only, .n_customers = 1 };
	struct ans a;
	/* every label, the last 10 minutes per second: raw */
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", NULL, 600, 1, &a), APP_OK);
	ck_assert_msg(a.err == APP_OK, "%s", a.msg);
	ck_assert_str_eq(a.s->resolution, "raw");
	ck_assert_int_eq(a.s->n, 2);
	ck_assert_str_eq(a.s->lines[0].label, "rt");
	ck_assert_str_eq(a.s->lines[0].unit, "s");
	ck_assert_str_eq(a.s->lines[1].label, "up");
	ck_assert_uint_ge(a.s->lines[0].n, 1);
	uint32_t total = 0;
	for (size_t i = 0; i < a.s->lines[0].n; i++) {
		const struct app_series_point *p = &a.s->lines[0].points[i];
		ck_assert(fabs(p->avg - 0.005) < 1e-12 && p->min == 0.005 && p->max == 0.005);
		ck_assert(fmod(p->t, 1) == 0);
		total += p->count;
	}
	ck_assert_uint_ge(total, 5); /* ten runs a second for a second */
	ck_assert_int_eq(a.s->truncated, 0);
	app_series_free(a.s);
	/* one label, a 10-minute step: the 5-minute rollups */
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", "up", 3600, 600, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_OK);
	ck_assert_str_eq(a.s->resolution, "5m");
	ck_assert(a.s->step == 600);
	ck_assert_int_eq(a.s->n, 1);
	ck_assert_uint_ge(a.s->lines[0].n, 1);
	ck_assert(a.s->lines[0].points[0].avg == 1);
	app_series_free(a.s);
	/* a check without perfdata: no lines; an unknown one or label: not found */
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "quiet", NULL, 600, 60, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_OK);
	ck_assert_int_eq(a.s->n, 0);
	app_series_free(a.s);
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "nope", NULL, 600, 60, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_E_NOTFOUND);
	ck_assert_str_eq(a.msg, "no such check");
	ck_assert_ptr_null(a.s);
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", "nolabel", 600, 60, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_E_NOTFOUND);
	/* scope: another customer's check is "not found", as one that does not exist */
	ck_assert_int_eq(ask(&f, &viewer_c2, "c1", "a", "d", NULL, 600, 60, &a), APP_E_NOTFOUND);
	ck_assert_str_eq(a.msg, "no such check");
	ck_assert_int_eq(ask(&f, &viewer_c2, "c2", "b", "d", NULL, 600, 60, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_OK);
	ck_assert_int_eq(a.s->n, 1);
	ck_assert_str_eq(a.s->lines[0].label, "x");
	app_series_free(a.s);
	/* refusals (the callback never runs) */
	memset(&a, 0, sizeof a);
	char msg[256];
	double now = ev_now(f.loop);
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", "a", "d", NULL, now, now - 10,
	                            60, on_series, &a, msg, sizeof msg),
	                 APP_E_INVALID);
	ck_assert_str_eq(msg, "from must be before to");
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", "a", "d", NULL, now - 10, now, 0,
	                            on_series, &a, msg, sizeof msg),
	                 APP_E_INVALID);
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", "a", "d", NULL,
	                            now - 400 * 86400.0, now, 86400, on_series, &a, msg,
	                            sizeof msg),
	                 APP_E_INVALID);
	ck_assert_ptr_nonnull(strstr(msg, "older than the history keeps"));
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", "a", "d", NULL, now - 86400, now,
	                            1, on_series, &a, msg, sizeof msg),
	                 APP_E_INVALID);
	ck_assert_ptr_nonnull(strstr(msg, "use a step of at least"));
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", NULL, "d", NULL, now - 60, now,
	                            1, on_series, &a, msg, sizeof msg),
	                 APP_E_INVALID);
	ck_assert_int_eq(app_series(server_app(f.s), &admin, "c1", "a", "d", "", now - 60, now, 1,
	                            on_series, &a, msg, sizeof msg),
	                 APP_E_INVALID);
	ck_assert_int_eq(a.calls, 0);

	/* a restart: the history is still there, and continues */
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", "rt", 600, 3600, &a), APP_OK);
	uint32_t before = counted(a.s);
	app_series_free(a.s);
	server_stop(f.s);
	server_free(f.s);
	sfx_start(&f);
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", "rt", 600, 3600, &a), APP_OK);
	ck_assert_int_eq(a.err, APP_OK);
	ck_assert_str_eq(a.s->resolution, "1h");
	ck_assert_uint_ge(counted(a.s), before);
	app_series_free(a.s);
	turn(&f, 0.5, NULL);
	server_flush(f.s, 1);
	ck_assert_int_eq(ask(&f, &admin, "c1", "a", "d", "rt", 600, 3600, &a), APP_OK);
	ck_assert_uint_gt(counted(a.s), before);
	app_series_free(a.s);
	server_free(f.s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f.tmp);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("series");
	TCase *tc = tcase_create("series");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rollup_boundaries);
	tcase_add_test(tc, raw_thinning);
	tcase_add_test(tc, units);
	tcase_add_test(tc, refused_values);
	tcase_add_test(tc, label_cap);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, replay);
	tcase_add_test(tc, retention);
	tcase_add_test(tc, prune_is_bounded);
	tcase_add_test(tc, restart);
	tcase_add_test(tc, flush_interval);
	tcase_add_test(tc, read_points);
	tcase_add_test(tc, plan);
	tcase_add_test(tc, app_reads);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
