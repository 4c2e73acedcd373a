/*
 * Unit tests: the SQLite store (src/store): schema creation and
 * migration, refusal of a database written by a newer mamori and of a
 * corrupt file (both left byte-for-byte untouched), of a state dir others
 * may write to, the tightening of a database others may read, state batches
 * written by the writer thread and read back, and a batch that meets a
 * full disk kept and written again.
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tdir {
	char dir[64];
	char db[128];
};

static void tdir_init(struct tdir *t)
{
	log_set_level(LOG_LVL_ERR);
	ck_assert_int_eq(tmpdir_make(t->dir, sizeof t->dir, "store"), 0);
	snprintf(t->db, sizeof t->db, "%s/%s", t->dir, STORE_FILE);
}

static void tdir_done(struct tdir *t)
{
	ck_assert_int_eq(tmpdir_remove(t->dir), 0);
}

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void exec_db(const char *path, const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* Whole file contents (for "left untouched"). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
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

static void assert_untouched(const char *path, const char *before, size_t blen)
{
	size_t alen;
	char *after = slurp(path, &alen);
	ck_assert_uint_eq(alen, blen);
	ck_assert_msg(memcmp(before, after, blen) == 0, "%s was modified", path);
	free(after);
	char side[256];
	snprintf(side, sizeof side, "%s-wal", path);
	struct stat sb;
	ck_assert_msg(stat(side, &sb) != 0 || sb.st_size == 0, "%s left behind", side);
}

START_TEST(creates_schema)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	store_close(s);
	ck_assert_int_eq(user_version(t.db), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(store_schema_latest(), STORE_SCHEMA_VERSION);
	/* Opening again is a no-op. */
	s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	store_close(s);
	ck_assert_int_eq(user_version(t.db), STORE_SCHEMA_VERSION);
	tdir_done(&t);
}
END_TEST

START_TEST(refuses_newer_schema)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	exec_db(t.db, "CREATE TABLE x (a); INSERT INTO x VALUES (1); PRAGMA user_version = 99;");
	size_t blen;
	char *before = slurp(t.db, &blen);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "schema version 99") && strstr(err, "newer mamori") &&
	                  strstr(err, t.db),
	              "message: %s", err);
	assert_untouched(t.db, before, blen);
	ck_assert_int_eq(user_version(t.db), 99);
	free(before);
	tdir_done(&t);
}
END_TEST

START_TEST(refuses_garbage_file)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	char junk[8192];
	srand(3);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)rand();
	FILE *f = fopen(t.db, "wb");
	fwrite(junk, 1, sizeof junk, f);
	fclose(f);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, t.db) && strstr(err, "left untouched"), "message: %s", err);
	size_t blen;
	char *after = slurp(t.db, &blen);
	ck_assert_uint_eq(blen, sizeof junk);
	ck_assert(memcmp(after, junk, sizeof junk) == 0);
	free(after);
	tdir_done(&t);
}
END_TEST

START_TEST(refuses_corrupt_database)
{
	/* A real database whose pages were overwritten: valid header,
	 * broken b-tree. */
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	exec_db(t.db,
	        "PRAGMA page_size=1024; CREATE TABLE x (a, b); "
	        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) "
	        "INSERT INTO x SELECT i, hex(randomblob(40)) FROM n; CREATE INDEX xi ON x(b);");
	int fd = open(t.db, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	char junk[1024];
	memset(junk, 0x5a, sizeof junk);
	for (off_t page = 3; page < 40; page += 3)
		ck_assert_int_eq(pwrite(fd, junk, sizeof junk, page * 1024), (ssize_t)sizeof junk);
	close(fd);
	size_t blen;
	char *before = slurp(t.db, &blen);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, t.db) && (strstr(err, "corrupt") || strstr(err, "not a usable")),
	              "message: %s", err);
	assert_untouched(t.db, before, blen);
	free(before);
	tdir_done(&t);
}
END_TEST

START_TEST(refuses_bad_state_dir)
{
	struct tdir t;
	char err[1024] = "", path[160];
	tdir_init(&t);
	snprintf(path, sizeof path, "%s/file", t.dir);
	FILE *f = fopen(path, "w");
	fclose(f);
	ck_assert_ptr_null(store_open(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
	snprintf(path, sizeof path, "%s/no/such/parent", t.dir);
	ck_assert_ptr_null(store_open(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot create state_dir"));
	tdir_done(&t);
}
END_TEST

/* Whoever may write to the state dir can plant a database or a -wal:
 * a dir its group or others may write to is refused, untouched. */
START_TEST(refuses_writable_state_dir)
{
	static const unsigned bad[] = { 0777, 0770, 0757, 01777 };
	struct tdir t;
	char err[1024] = "", path[160], db[200], want[400];
	struct stat st;
	tdir_init(&t);
	snprintf(path, sizeof path, "%s/state", t.dir);
	snprintf(db, sizeof db, "%s/%s", path, STORE_FILE);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(chmod(path, bad[i]), 0);
		ck_assert_ptr_null(store_open(path, err, sizeof err));
		snprintf(want, sizeof want, "bad permissions %04o on state_dir %s", bad[i], path);
		ck_assert_msg(strstr(err, want), "message: %s", err);
		snprintf(want, sizeof want, "chmod 750 %s", path);
		ck_assert_msg(strstr(err, want), "message: %s", err);
		ck_assert_int_ne(stat(db, &st), 0);
	}
	ck_assert_int_eq(chmod(path, 0755), 0);
	struct store *s = store_open(path, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	store_close(s);
	/* one it creates is 0750 (less what the umask takes) */
	snprintf(path, sizeof path, "%s/new", t.dir);
	s = store_open(path, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	store_close(s);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0027, 0);
	tdir_done(&t);
}
END_TEST

/* A database an older mamori left readable by others (it set no umask) is
 * tightened at open, and its -wal and -shm follow it. */
START_TEST(tightens_open_database)
{
	struct tdir t;
	char err[1024] = "", side[200];
	struct stat st;
	tdir_init(&t);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	store_close(s);
	ck_assert_int_eq(chmod(t.db, 0666), 0);
	s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(stat(t.db, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	for (int i = 0; i < 2; i++) {
		snprintf(side, sizeof side, "%s%s", t.db, i ? "-shm" : "-wal");
		ck_assert_msg(stat(side, &st) == 0, "%s missing", side);
		ck_assert_msg((st.st_mode & 0027) == 0, "%s is %04o", side, st.st_mode & 0777);
	}
	store_close(s);
	tdir_done(&t);
}
END_TEST

struct loaded {
	int n;
	int found_k7;
	int found_forgotten;
	char out7[64];
	int state7, attempt7, ack7;
	double last7;
	uint32_t hist7;
};

static void on_row(void *ud, const struct store_state_row *r)
{
	struct loaded *l = ud;
	l->n++;
	if (strcmp(r->name, "k7") == 0) {
		l->found_k7 = 1;
		snprintf(l->out7, sizeof l->out7, "%s", r->output);
		l->state7 = r->state;
		l->attempt7 = r->attempt;
		l->ack7 = r->ack;
		l->last7 = r->last_check;
		l->hist7 = r->hist;
	}
	if (strcmp(r->name, "k3") == 0)
		l->found_forgotten = 1;
}

START_TEST(migrates_old_schema)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	/* A database at schema 1, as the first release wrote it. */
	char sql[65536];
	snprintf(sql, sizeof sql, "BEGIN; %s; PRAGMA user_version = 1; COMMIT;",
	         store_schema_step(1));
	exec_db(t.db, sql);
	exec_db(t.db, "INSERT INTO check_state (customer, asset, name, plugin, state, hard, "
	              "attempt, hard_state,"
	              " flapping, stale, hist, n_hist, flap_pct, output, last_check)"
	              " VALUES ('c1','a','k7','dummy',2,1,1,2,0,0,5,3,0,'old row',1000)");
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	struct loaded l = { 0 };
	ck_assert_int_eq(store_load_states(s, on_row, &l), 0);
	store_close(s);
	ck_assert_int_eq(user_version(t.db), STORE_SCHEMA_VERSION);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.out7, "old row");
	tdir_done(&t);
}
END_TEST

static void fill(struct store_state_row *r, int i, const char *name, const char *out)
{
	memset(r, 0, sizeof *r);
	r->customer = "c1";
	r->asset = i % 2 ? "odd" : "even";
	r->name = name;
	r->plugin = "dummy";
	r->state = i % 4;
	r->hard = 1;
	r->attempt = 1 + i % 3;
	r->hard_state = i % 4;
	r->hist = 0xabcd0000u + (uint32_t)i;
	r->n_hist = 21;
	r->last_check = 1700000000.5 + i;
	r->output = out;
	r->perfdata = "'x'=1;2;3";
	r->long_output = "";
	r->ack = i == 7;
}

START_TEST(batches_applied)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	struct ev_loop *loop = ev_loop_new(0);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	/* Batch 1: 500 rows (two assets). */
	struct store_batch *b = store_batch_new();
	for (int i = 0; i < 500; i++) {
		char name[16], out[32];
		struct store_state_row r;
		snprintf(name, sizeof name, "k%d", i);
		snprintf(out, sizeof out, "output %d", i); /* copied by the batch */
		fill(&r, i, name, out);
		store_batch_state(b, &r);
	}
	ck_assert_uint_eq(store_batch_rows(b), 500);
	uint64_t n1 = store_commit(s, b);
	/* Batch 2: k7 changes, k3 is forgotten (its check was removed). */
	b = store_batch_new();
	struct store_state_row r;
	fill(&r, 7, "k7", "newer output");
	r.state = 2;
	store_batch_state(b, &r);
	store_batch_forget(b, "c1", "odd", "k3");
	uint64_t n2 = store_commit(s, b);
	ck_assert_uint_gt(n2, n1);
	store_sync(s);
	ck_assert_uint_ge(store_committed(s), n2);
	ck_assert_int_eq(store_busy(s), 0);
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_ge(st.batches, 2);
	ck_assert_uint_eq(st.errors, 0);
	store_close(s);
	ev_loop_destroy(loop);

	s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	struct loaded l = { 0 };
	ck_assert_int_eq(store_load_states(s, on_row, &l), 0);
	store_close(s);
	ck_assert_int_eq(l.n, 499);
	ck_assert(l.found_k7);
	ck_assert(!l.found_forgotten);
	ck_assert_str_eq(l.out7, "newer output");
	ck_assert_int_eq(l.state7, 2);
	ck_assert_int_eq(l.attempt7, 2);
	ck_assert_int_eq(l.ack7, 1);
	ck_assert_uint_eq(l.hist7, 0xabcd0007u);
	ck_assert_double_eq_tol(l.last7, 1700000007.5, 1e-6);
	tdir_done(&t);
}
END_TEST

/* Disk full: the process's file-size limit (RLIMIT_FSIZE, as `ulimit -f`
 * or a full disk would) makes SQLite fail with SQLITE_FULL while writing a
 * batch.  The batch is rolled back and kept; store_committed does not move
 * (so nothing it holds would be published); once the limit is lifted the
 * same batch is written whole. */
static uint64_t wait_committed(struct store *s, uint64_t n, double secs)
{
	struct timespec d = { 0, 10 * 1000 * 1000 };
	for (double t = 0; t < secs && store_committed(s) < n; t += 0.01)
		nanosleep(&d, NULL);
	return store_committed(s);
}

START_TEST(full_disk_batch_kept)
{
	struct tdir t;
	char err[1024] = "", big[1024];
	struct rlimit old, lim;
	tdir_init(&t);
	signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal, as mamorid does */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	struct store_batch *b = store_batch_new();
	struct store_state_row r;
	fill(&r, 1, "before", "written before the disk filled up");
	store_batch_state(b, &r);
	uint64_t n1 = store_commit(s, b);
	store_sync(s);
	ck_assert_uint_eq(store_committed(s), n1);
	/* no file may grow any more */
	struct stat st_db, st_wal;
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", t.db);
	ck_assert_int_eq(stat(t.db, &st_db), 0);
	if (stat(wal, &st_wal) != 0)
		st_wal.st_size = 0;
	lim = old;
	lim.rlim_cur = (rlim_t)(st_db.st_size > st_wal.st_size ? st_db.st_size : st_wal.st_size);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	b = store_batch_new();
	for (int i = 0; i < 3000; i++) { /* ~3 MB: more than any room left */
		char name[16];
		snprintf(name, sizeof name, "k%d", i);
		fill(&r, i, name, big);
		store_batch_state(b, &r);
	}
	uint64_t n2 = store_commit(s, b);
	store_sync(s); /* returns once the writer is retrying */
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_ge(st.retries, 1);
	ck_assert_uint_eq(store_committed(s), n1);
	ck_assert_int_eq(store_busy(s), 1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_uint_eq(wait_committed(s, n2, 20.0), n2);
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.errors, 0);
	store_close(s);
	s = store_open(t.dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	struct loaded l = { 0 };
	ck_assert_int_eq(store_load_states(s, on_row, &l), 0);
	store_close(s);
	ck_assert_int_eq(l.n, 3001);
	tdir_done(&t);
}
END_TEST

START_TEST(empty_and_large_values)
{
	struct tdir t;
	char err[1024] = "";
	tdir_init(&t);
	struct ev_loop *loop = ev_loop_new(0);
	struct store *s = store_open(t.dir, err, sizeof err);
	ck_assert_int_eq(store_start(s, loop, NULL, NULL), 0);
	/* An empty batch, and one with a 1 MB output and odd characters. */
	store_commit(s, store_batch_new());
	char *big = malloc(1 << 20);
	memset(big, 'y', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	struct store_batch *b = store_batch_new();
	struct store_state_row r;
	fill(&r, 7, "k7", big);
	r.customer = "c'; DROP TABLE check_state; --";
	store_batch_state(b, &r);
	free(big);
	store_commit(s, b);
	store_sync(s);
	store_close(s);
	ev_loop_destroy(loop);
	s = store_open(t.dir, err, sizeof err);
	ck_assert_ptr_nonnull(s);
	struct loaded l = { 0 };
	store_load_states(s, on_row, &l);
	store_close(s);
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(strlen(l.out7), 63);
	tdir_done(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, creates_schema);
	tcase_add_test(tc, refuses_newer_schema);
	tcase_add_test(tc, refuses_garbage_file);
	tcase_add_test(tc, refuses_corrupt_database);
	tcase_add_test(tc, refuses_bad_state_dir);
	tcase_add_test(tc, refuses_writable_state_dir);
	tcase_add_test(tc, tightens_open_database);
	tcase_add_test(tc, migrates_old_schema);
	tcase_add_test(tc, batches_applied);
	tcase_add_test(tc, empty_and_large_values);
	tcase_add_test(tc, full_disk_batch_kept);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
