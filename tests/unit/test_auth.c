/*
 * Unit tests: src/auth on a real loop, journal and store - logins (good,
 * bad password, unknown user: the same answer after the same KDF work),
 * rate limiting per user and per address in bounded tables, session idle
 * and absolute expiry on an injected clock, CSRF tokens, API tokens
 * (create, lookup, revoke, scope never wider than the creator's),
 * persistence across a reopen of the store, the KDF off the loop thread
 * (a loop timer keeps firing during a login with the default cost),
 * user management rules, the audit log, garbage inputs, the config group,
 * and the store table on its own.
 */
#include "auth/auth.h"
#include "journal/journal.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <libconfig.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PW      "correct horse battery"
#define PW2     "another long passphrase"
#define T0      1700000000.0
#define WAIT_MS 20000

struct fx {
	struct ev_loop *loop;
	struct store *st;
	struct journal *j;
	struct auth *a;
	struct auth_conf c;
	char dir[256];
	double now;
	int persist;
};

static double fake_now(void *ud)
{
	return ((struct fx *)ud)->now;
}

static void fx_open(struct fx *f)
{
	char err[512] = "";
	if (f->persist) {
		f->st = store_open(f->dir, err, sizeof err);
		ck_assert_msg(f->st != NULL, "store_open: %s", err);
		f->j = journal_new(f->loop, f->st, 10.0);
	}
	f->a = auth_new(f->loop, f->j, f->st, &f->c, err, sizeof err);
	ck_assert_msg(f->a != NULL, "auth_new: %s", err);
	if (f->persist) {
		ck_assert_int_eq(store_start(f->st, f->loop, journal_on_commit, f->j), 0);
		journal_start(f->j);
	}
}

static void fx_close(struct fx *f)
{
	if (f->persist) {
		journal_flush(f->j, 1);
		store_close(f->st);
		journal_free(f->j);
	}
	auth_free(f->a);
	f->a = NULL;
	f->st = NULL;
	f->j = NULL;
}

static void fx_init_with(struct fx *f, int persist, void (*tune)(struct auth_conf *c))
{
	memset(f, 0, sizeof *f);
	log_set_level(LOG_LVL_ERR - 1);
	f->loop = ev_default_loop(0);
	f->persist = persist;
	f->now = T0;
	ck_assert_int_eq(tmpdir_make(f->dir, sizeof f->dir, "auth"), 0);
	auth_conf_default(&f->c);
	f->c.kdf_t = 1;
	f->c.kdf_m_kib = 8; /* tests: libargon2's minimum */
	f->c.now = fake_now;
	f->c.now_ud = f;
	if (tune)
		tune(&f->c);
	fx_open(f);
}

static void fx_init(struct fx *f)
{
	fx_init_with(f, 1, NULL);
}

static void fx_done(struct fx *f)
{
	fx_close(f);
	tmpdir_remove(f->dir);
}

/* ---- callbacks ---- */

struct res {
	int called;
	int err;
	char token[128], csrf[128], id[64];
	double expires, retry;
};

static void on_login(void *ud, int err, const struct auth_login_result *r)
{
	struct res *x = ud;
	x->called++;
	x->err = err;
	ck_assert_ptr_nonnull(r);
	if (!err) {
		snprintf(x->token, sizeof x->token, "%s", r->session_token);
		snprintf(x->csrf, sizeof x->csrf, "%s", r->csrf);
		x->expires = r->expires;
	} else {
		ck_assert_ptr_null(r->session_token);
	}
	x->retry = r->retry_after;
}

static void on_done(void *ud, int err)
{
	struct res *x = ud;
	x->called++;
	x->err = err;
}

static void on_token(void *ud, int err, const char *token, const char *id)
{
	struct res *x = ud;
	x->called++;
	x->err = err;
	if (!err) {
		snprintf(x->token, sizeof x->token, "%s", token);
		snprintf(x->id, sizeof x->id, "%s", id);
	}
}

static void turn_until(struct fx *f, const int *counter, int want)
{
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < WAIT_MS && *counter < want; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		if (*counter < want)
			nanosleep(&ms, NULL);
	}
	ck_assert_int_ge(*counter, want);
}

static void wait_res(struct fx *f, struct res *x)
{
	turn_until(f, &x->called, 1);
	ck_assert_int_eq(x->called, 1); /* exactly once */
}

static int login(struct fx *f, const char *user, const char *pw, const char *from, struct res *x)
{
	memset(x, 0, sizeof *x);
	ck_assert_int_eq(auth_login(f->a, user, pw, from, on_login, x), 0);
	ck_assert_int_eq(x->called, 0); /* never inside the call */
	wait_res(f, x);
	return x->err;
}

static int bootstrap(struct fx *f, const char *name, const char *pw)
{
	struct res x = { 0 };
	char err[256] = "";
	int rc = auth_bootstrap(f->a, name, pw, "unix", on_done, &x, err, sizeof err);
	if (rc)
		return rc;
	ck_assert_int_eq(x.called, 0);
	wait_res(f, &x);
	return x.err;
}

static int add_user(struct fx *f, const struct auth_principal *actor, const char *name,
                    enum auth_role role, const char *const *centers, size_t n, const char *customer,
                    const char *pw)
{
	struct auth_scope sc = {
		.role = role, .centers = centers, .n_centers = n, .customer = customer
	};
	struct res x = { 0 };
	char err[256] = "";
	int rc =
	    auth_user_add(f->a, actor, name, &sc, pw, "192.0.2.9", on_done, &x, err, sizeof err);
	if (rc)
		return rc;
	wait_res(f, &x);
	return x.err;
}

/* Log in and take the session's principal. */
static void as_user(struct fx *f, const char *name, const char *pw, struct auth_principal *p,
                    struct res *x)
{
	ck_assert_int_eq(login(f, name, pw, "192.0.2.10", x), 0);
	ck_assert_int_eq(auth_session(f->a, x->token, p), 0);
}

static int token_create(struct fx *f, const struct auth_principal *actor,
                        const struct auth_scope *sc, double expires, struct res *x)
{
	memset(x, 0, sizeof *x);
	char err[256] = "";
	int rc = auth_token_create(f->a, actor, sc, "ci", expires, "192.0.2.11", on_token, x, err,
	                           sizeof err);
	if (rc)
		return rc;
	wait_res(f, x);
	return x->err;
}

/* ---- the database, read behind the store's back ---- */

static sqlite3 *db_open(struct fx *f)
{
	journal_flush(f->j, 1);
	char path[512];
	snprintf(path, sizeof path, "%s/%s", f->dir, STORE_FILE);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return db;
}

static long long db_int(struct fx *f, const char *sql)
{
	sqlite3 *db = db_open(f);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Every value of the query's first column, joined with '|'. */
static void db_text(struct fx *f, const char *sql, char *out, size_t n)
{
	sqlite3 *db = db_open(f);
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	size_t o = 0;
	while (sqlite3_step(st) == SQLITE_ROW && o < n) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		o += (size_t)snprintf(out + o, n - o, "%s%s", o ? "|" : "", t ? t : "NULL");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ---- logging in ---- */

static struct {
	int lines;
	int leaked;
	const char *secrets[4];
} logcap;

static void on_log(int level, const char *line, void *ud)
{
	logcap.lines++;
	for (int i = 0; i < 4; i++)
		if (logcap.secrets[i] && strstr(line, logcap.secrets[i]))
			logcap.leaked++;
}

START_TEST(login_good_bad_unknown)
{
	struct fx f;
	fx_init(&f);
	log_set_level(LOG_LVL_INFO); /* the audit lines are logged at info */
	logcap.lines = logcap.leaked = 0;
	logcap.secrets[0] = PW;
	logcap.secrets[1] = "wrong password!";
	log_set_hook(on_log, NULL);
	ck_assert_int_eq(auth_user_count(f.a), 0);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	ck_assert_int_eq(auth_user_count(f.a), 1);

	struct res x;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	ck_assert_int_eq(strlen(x.token), AUTH_SESSION_LEN);
	ck_assert_int_eq(strlen(x.csrf), AUTH_SESSION_LEN);
	ck_assert_str_ne(x.token, x.csrf);
	ck_assert(x.expires == T0 + f.c.absolute_timeout);
	struct auth_principal p;
	ck_assert_int_eq(auth_session(f.a, x.token, &p), 0);
	ck_assert_str_eq(p.user, "root");
	ck_assert_int_eq(p.role, AUTH_ADMIN);
	ck_assert_int_eq(p.via_token, 0);
	ck_assert_str_eq(p.csrf, x.csrf);
	ck_assert_int_eq(strlen(p.session_or_token_id), 64);
	/* the CSRF token: exactly the session's, constant-time compared */
	ck_assert_int_eq(auth_csrf_ok(&p, x.csrf), 1);
	ck_assert_int_eq(auth_csrf_ok(&p, NULL), 0);
	ck_assert_int_eq(auth_csrf_ok(&p, ""), 0);
	char other[128];
	snprintf(other, sizeof other, "%s", x.csrf);
	other[5] = other[5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(auth_csrf_ok(&p, other), 0);
	other[AUTH_SESSION_LEN - 1] = '\0';
	ck_assert_int_eq(auth_csrf_ok(&p, other), 0);
	auth_principal_clear(&p);
	/* a second login: another session, another CSRF token */
	struct res y;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &y), 0);
	ck_assert_str_ne(y.token, x.token);
	ck_assert_str_ne(y.csrf, x.csrf);

	/* wrong password and unknown user: one answer, both after the KDF */
	struct auth_stats s0, s1;
	auth_get_stats(f.a, &s0);
	ck_assert_int_eq(login(&f, "root", "wrong password!", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "nobody", "wrong password!", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "Root", PW, "192.0.2.1", &x), AUTH_E_BADCRED); /* exact names */
	auth_get_stats(f.a, &s1);
	ck_assert_uint_eq(s1.kdf_runs - s0.kdf_runs, 3);
	ck_assert_uint_eq(s1.login_failures - s0.login_failures, 3);
	ck_assert_uint_eq(s1.logins, 2);

	/* audit: who, what, from; never a password, in the table or the log */
	char t[1024];
	db_text(&f,
	        "SELECT who || ' ' || what || ' ' || from_addr || ' ' || ifnull(detail, '')"
	        " FROM auth_audit ORDER BY rowid",
	        t, sizeof t);
	ck_assert_str_eq(t, "(local) bootstrap unix user=root role=admin|"
	                    "root login 192.0.2.1 |root login 192.0.2.1 |"
	                    "root login_failed 192.0.2.1 bad password|"
	                    "- login_failed 192.0.2.1 unknown user|"
	                    "- login_failed 192.0.2.1 unknown user");
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_audit WHERE detail LIKE '%horse%'"
	                            " OR detail LIKE '%wrong%'"),
	                 0);
	char phc[512];
	db_text(&f, "SELECT password FROM auth_user", phc, sizeof phc);
	ck_assert_msg(strncmp(phc, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0, "%s", phc);
	ck_assert_ptr_null(strstr(phc, "horse"));
	log_set_hook(NULL, NULL);
	ck_assert_int_gt(logcap.lines, 5);
	ck_assert_int_eq(logcap.leaked, 0);
	fx_done(&f);
}
END_TEST

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && v[k] < v[k - 1]; k--) {
			double t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return v[n / 2];
}

static void tune_timing(struct auth_conf *c)
{
	c->kdf_m_kib = 4096; /* a few ms: measurable, still quick */
	c->max_failures = 100;
	c->max_failures_addr = 100;
}

START_TEST(unknown_user_costs_the_same)
{
	struct fx f;
	fx_init_with(&f, 1, tune_timing);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	double known[7], unknown[7];
	struct res x;
	for (int i = 0; i < 7; i++) {
		struct auth_stats s0, s1, s2;
		auth_get_stats(f.a, &s0);
		ck_assert_int_eq(login(&f, "root", "not the password", "192.0.2.1", &x),
		                 AUTH_E_BADCRED);
		auth_get_stats(f.a, &s1);
		ck_assert_int_eq(login(&f, "ghost", "not the password", "192.0.2.1", &x),
		                 AUTH_E_BADCRED);
		auth_get_stats(f.a, &s2);
		known[i] = s1.kdf_seconds - s0.kdf_seconds;
		unknown[i] = s2.kdf_seconds - s1.kdf_seconds;
	}
	double k = median(known, 7), u = median(unknown, 7);
	ck_assert_msg(k > 0 && u > 0, "no KDF work measured: %g %g", k, u);
	ck_assert_msg(u / k > 0.5 && u / k < 2.0, "known %.2f ms, unknown %.2f ms", k * 1e3,
	              u * 1e3);
	fx_done(&f);
}
END_TEST

/* ---- rate limiting ---- */

static void tune_limits(struct auth_conf *c)
{
	c->max_failures = 3;
	c->max_failures_addr = 1000;
	c->failure_window = 300;
}

START_TEST(limit_per_user)
{
	struct fx f;
	fx_init_with(&f, 1, tune_limits);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res x;
	/* three failures from three addresses, then even the right password waits */
	ck_assert_int_eq(login(&f, "root", "bad password 1", "192.0.2.1", &x), AUTH_E_BADCRED);
	f.now += 10;
	ck_assert_int_eq(login(&f, "root", "bad password 2", "192.0.2.2", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", "bad password 3", "198.51.100.7", &x), AUTH_E_BADCRED);
	struct auth_stats s0, s1;
	auth_get_stats(f.a, &s0);
	ck_assert_int_eq(login(&f, "root", PW, "203.0.113.5", &x), AUTH_E_LIMITED);
	ck_assert(x.retry >= 289 && x.retry <= 291); /* the window opened 10 s ago */
	auth_get_stats(f.a, &s1);
	ck_assert_uint_eq(s1.kdf_runs, s0.kdf_runs); /* refused without the KDF */
	ck_assert_uint_eq(s1.limited, s0.limited + 1);
	/* another user is not affected */
	ck_assert_int_eq(
	    add_user(&f, NULL, "op", AUTH_OPERATOR, (const char *[]){ "c1" }, 1, NULL, PW), 0);
	ck_assert_int_eq(login(&f, "op", PW, "192.0.2.1", &x), 0);
	/* the window closes */
	f.now += 291;
	ck_assert_int_eq(login(&f, "root", PW, "203.0.113.5", &x), 0);
	/* a success clears the user's count */
	ck_assert_int_eq(login(&f, "root", "bad password 4", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", "bad password 5", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	ck_assert_int_eq(login(&f, "root", "bad password 6", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", "bad password 7", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	char t[256];
	db_text(&f, "SELECT detail FROM auth_audit WHERE what = 'login_limited'", t, sizeof t);
	ck_assert_str_eq(t, "retry after 290 s");
	fx_done(&f);
}
END_TEST

START_TEST(limit_counts_parallel_guesses)
{
	struct fx f;
	fx_init_with(&f, 1, tune_limits);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct auth_stats s0, s1;
	auth_get_stats(f.a, &s0);
	/* ten guesses at once, none answered yet: only three reach the KDF */
	struct res x[10];
	memset(x, 0, sizeof x);
	for (int i = 0; i < 10; i++) {
		char from[32];
		snprintf(from, sizeof from, "192.0.2.%d", i + 1);
		ck_assert_int_eq(
		    auth_login(f.a, "root", "guess guess guess", from, on_login, &x[i]), 0);
	}
	int bad = 0, limited = 0;
	for (int i = 0; i < 10; i++) {
		wait_res(&f, &x[i]);
		bad += x[i].err == AUTH_E_BADCRED;
		limited += x[i].err == AUTH_E_LIMITED;
	}
	ck_assert_int_eq(bad, 3);
	ck_assert_int_eq(limited, 7);
	auth_get_stats(f.a, &s1);
	ck_assert_uint_eq(s1.kdf_runs - s0.kdf_runs, 3);
	fx_done(&f);
}
END_TEST

static void tune_addr(struct auth_conf *c)
{
	c->max_failures = 1000;
	c->max_failures_addr = 3;
}

START_TEST(limit_per_address)
{
	struct fx f;
	fx_init_with(&f, 1, tune_addr);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res x;
	/* names that do not exist count against the address */
	ck_assert_int_eq(login(&f, "a1", "whatever whatever", "192.0.2.1", &x), AUTH_E_BADCRED);
	/* a success takes its own attempt back */
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	ck_assert_int_eq(login(&f, "a2", "whatever whatever", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "a3", "whatever whatever", "::ffff:192.0.2.1", &x),
	                 AUTH_E_BADCRED); /* the same address, IPv4-mapped */
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), AUTH_E_LIMITED);
	ck_assert(x.retry >= 1 && x.retry <= f.c.failure_window);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.2", &x), 0);
	/* IPv6 counts per /64 */
	ck_assert_int_eq(login(&f, "b1", "whatever whatever", "2001:db8:1:2::1", &x),
	                 AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "b2", "whatever whatever", "2001:db8:1:2::2", &x),
	                 AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "b3", "whatever whatever", "2001:db8:1:2:ffff:1:2:3", &x),
	                 AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", PW, "2001:db8:1:2::99", &x), AUTH_E_LIMITED);
	ck_assert_int_eq(login(&f, "root", PW, "2001:db8:1:3::1", &x), 0);
	/* unknown names never enter the per-user table */
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.limit_users, 0);
	ck_assert_uint_eq(s.limit_addrs, 2);
	/* the window passes: the sweep forgets the entries */
	f.now += f.c.failure_window;
	auth_sweep(f.a);
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.limit_addrs, 0);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	fx_done(&f);
}
END_TEST

static void tune_bounded(struct auth_conf *c)
{
	c->limit_entries = 16;
	c->max_failures = 2;
	c->max_failures_addr = 1;
}

START_TEST(limit_tables_bounded)
{
	struct fx f;
	fx_init_with(&f, 1, tune_bounded);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res x;
	/* an attacker spraying 300 addresses and 300 names */
	for (int i = 0; i < 300; i++) {
		char from[64], name[32];
		snprintf(from, sizeof from, "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
		snprintf(name, sizeof name, "user%d", i);
		ck_assert_int_eq(login(&f, name, "spray spray spray", from, &x), AUTH_E_BADCRED);
		struct auth_stats s;
		auth_get_stats(f.a, &s);
		ck_assert_uint_le(s.limit_addrs, 16);
		ck_assert_uint_eq(s.limit_users, 0);
	}
	/* the newest addresses are still limited, the oldest were evicted */
	ck_assert_int_eq(login(&f, "root", PW, "10.0.1.43", &x), AUTH_E_LIMITED); /* i = 299 */
	ck_assert_int_eq(login(&f, "root", PW, "10.0.0.0", &x), 0);
	/* the per-user table holds real users only: spraying names cannot
	 * evict root's count */
	ck_assert_int_eq(login(&f, "root", "wrong wrong wrong", "172.16.0.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "root", "wrong wrong wrong", "172.16.0.2", &x), AUTH_E_BADCRED);
	for (int i = 0; i < 50; i++) {
		char from[64], name[32];
		snprintf(from, sizeof from, "172.17.%d.%d", i / 256, i % 256);
		snprintf(name, sizeof name, "other%d", i);
		ck_assert_int_eq(login(&f, name, "spray spray spray", from, &x), AUTH_E_BADCRED);
	}
	ck_assert_int_eq(login(&f, "root", PW, "172.16.0.3", &x), AUTH_E_LIMITED);
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.limit_users, 1);
	ck_assert_uint_le(s.limit_addrs, 16);
	fx_done(&f);
}
END_TEST

/* ---- sessions ---- */

static void tune_expiry(struct auth_conf *c)
{
	c->idle_timeout = 3600;
	c->absolute_timeout = 4 * 3600;
}

START_TEST(session_idle_and_absolute_expiry)
{
	struct fx f;
	fx_init_with(&f, 1, tune_expiry);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res x, y;
	struct auth_principal p;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &y), 0);
	/* used every 59 minutes: lives until the absolute limit */
	for (int i = 1; i <= 4; i++) {
		f.now += 3540;
		ck_assert_int_eq(auth_session(f.a, x.token, &p), 0);
		auth_principal_clear(&p);
	}
	f.now = T0 + 4 * 3600 - 1;
	ck_assert_int_eq(auth_session(f.a, x.token, &p), 0);
	auth_principal_clear(&p);
	f.now = T0 + 4 * 3600;
	ck_assert_int_eq(auth_session(f.a, x.token, &p), AUTH_E_BADCRED);
	ck_assert_str_eq(p.user, "");
	/* never used after the login: idle after an hour */
	ck_assert_int_eq(auth_session(f.a, y.token, &p), AUTH_E_BADCRED);
	struct res z;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &z), 0);
	f.now += 3599;
	ck_assert_int_eq(auth_session(f.a, z.token, &p), 0);
	auth_principal_clear(&p);
	f.now += 3600;
	ck_assert_int_eq(auth_session(f.a, z.token, &p), AUTH_E_BADCRED);
	/* expired sessions are gone from memory and from the store */
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.sessions, 0);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_session"), 0);
	/* the sweep drops sessions nobody asks about */
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &z), 0);
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.sessions, 1);
	f.now += 3600;
	auth_sweep(f.a);
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.sessions, 0);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_session"), 0);
	fx_done(&f);
}
END_TEST

static void tune_sessions(struct auth_conf *c)
{
	c->max_sessions = 2;
}

START_TEST(session_limit_and_logout)
{
	struct fx f;
	fx_init_with(&f, 1, tune_sessions);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res a, b, c;
	struct auth_principal p;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &a), 0);
	f.now += 1;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &b), 0);
	f.now += 1;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &c), 0);
	/* the oldest went */
	ck_assert_int_eq(auth_session(f.a, a.token, &p), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, b.token, &p), 0);
	auth_principal_clear(&p);
	/* logout: gone at once; done once the delete is on disk */
	struct res d = { 0 };
	ck_assert_int_eq(auth_logout(f.a, b.token, "192.0.2.1", on_done, &d), 0);
	ck_assert_int_eq(d.called, 0);
	ck_assert_int_eq(auth_session(f.a, b.token, &p), AUTH_E_BADCRED);
	wait_res(&f, &d);
	ck_assert_int_eq(d.err, 0);
	ck_assert_int_eq(auth_logout(f.a, b.token, "192.0.2.1", on_done, &d), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_logout(f.a, c.token, "192.0.2.1", NULL, NULL), 0);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_session"), 0);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_audit WHERE what = 'logout'"), 2);
	fx_done(&f);
}
END_TEST

/* ---- tokens ---- */

START_TEST(tokens_scope_and_revoke)
{
	struct fx f;
	fx_init(&f);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	const char *c12[] = { "cc-east", "cc-west" };
	ck_assert_int_eq(add_user(&f, NULL, "op", AUTH_OPERATOR, c12, 2, NULL, PW), 0);
	ck_assert_int_eq(add_user(&f, NULL, "cust", AUTH_VIEWER, NULL, 0, "acme", PW), 0);
	struct auth_principal op, cu, bp;
	struct res lx, t_all, t_east, t_view, tx;
	as_user(&f, "op", PW, &op, &lx);
	/* the creator's own scope */
	ck_assert_int_eq(token_create(&f, &op, NULL, 0, &t_all), 0);
	ck_assert_int_eq(strlen(t_all.token), AUTH_TOKEN_LEN);
	ck_assert(strncmp(t_all.token, "mmr_", 4) == 0);
	ck_assert(strncmp(t_all.token + 4, t_all.id, AUTH_TOKEN_ID_LEN) == 0);
	ck_assert_int_eq(auth_bearer(f.a, t_all.token, &bp), 0);
	ck_assert_str_eq(bp.user, "op");
	ck_assert_int_eq(bp.role, AUTH_OPERATOR);
	ck_assert_int_eq(bp.n_centers, 2);
	ck_assert_int_eq(bp.via_token, 1);
	ck_assert_str_eq(bp.session_or_token_id, t_all.id);
	ck_assert_int_eq(auth_csrf_ok(&bp, NULL), 1); /* no CSRF for tokens */
	auth_principal_clear(&bp);
	/* narrower: fewer centers, or a viewer of a customer */
	struct auth_scope east = { .role = AUTH_OPERATOR, .centers = c12, .n_centers = 1 };
	ck_assert_int_eq(token_create(&f, &op, &east, 0, &t_east), 0);
	ck_assert_int_eq(auth_bearer(f.a, t_east.token, &bp), 0);
	ck_assert_int_eq(bp.n_centers, 1);
	ck_assert_str_eq(bp.centers[0], "cc-east");
	/* a token cannot mint a wider token */
	ck_assert_int_eq(token_create(&f, &bp, NULL, 0, &tx), 0);
	struct auth_scope both = { .role = AUTH_OPERATOR, .centers = c12, .n_centers = 2 };
	ck_assert_int_eq(token_create(&f, &bp, &both, 0, &tx), AUTH_E_FORBIDDEN);
	auth_principal_clear(&bp);
	struct auth_scope view = { .role = AUTH_VIEWER, .customer = "acme" };
	ck_assert_int_eq(token_create(&f, &op, &view, 0, &t_view), 0);
	/* wider: refused */
	const char *other[] = { "cc-north" };
	struct auth_scope north = { .role = AUTH_OPERATOR, .centers = other, .n_centers = 1 };
	struct auth_scope admin = { .role = AUTH_ADMIN };
	ck_assert_int_eq(token_create(&f, &op, &north, 0, &tx), AUTH_E_FORBIDDEN);
	ck_assert_int_eq(token_create(&f, &op, &admin, 0, &tx), AUTH_E_FORBIDDEN);
	/* a viewer: its own customer only */
	as_user(&f, "cust", PW, &cu, &lx);
	ck_assert_int_eq(token_create(&f, &cu, &view, 0, &tx), 0);
	struct auth_scope view2 = { .role = AUTH_VIEWER, .customer = "globex" };
	ck_assert_int_eq(token_create(&f, &cu, &view2, 0, &tx), AUTH_E_FORBIDDEN);
	ck_assert_int_eq(token_create(&f, &cu, &east, 0, &tx), AUTH_E_FORBIDDEN);
	/* the local administrator has no user to own a token */
	ck_assert_int_eq(token_create(&f, NULL, NULL, 0, &tx), AUTH_E_FORBIDDEN);

	/* lists: one's own; someone else's only for an admin */
	struct auth_token_list tl;
	ck_assert_int_eq(auth_tokens(f.a, &op, NULL, &tl), 0);
	ck_assert_uint_eq(tl.n, 4);
	int seen = 0;
	for (size_t i = 0; i < tl.n; i++) {
		ck_assert_str_eq(tl.v[i].user, "op");
		if (strcmp(tl.v[i].id, t_all.id) != 0)
			continue;
		seen++;
		ck_assert_str_eq(tl.v[i].label, "ci");
		ck_assert(tl.v[i].last_used == T0 && tl.v[i].created == T0);
		ck_assert_int_eq(tl.v[i].n_centers, 2);
		ck_assert(tl.v[i].revoked == 0 && tl.v[i].expires == 0);
	}
	ck_assert_int_eq(seen, 1);
	auth_token_list_free(&tl);
	ck_assert_int_eq(auth_tokens(f.a, &cu, "op", &tl), AUTH_E_FORBIDDEN);
	ck_assert_int_eq(auth_tokens(f.a, &cu, NULL, &tl), 0);
	ck_assert_uint_eq(tl.n, 1);
	auth_token_list_free(&tl);
	ck_assert_int_eq(auth_tokens(f.a, NULL, NULL, &tl), 0);
	ck_assert_uint_eq(tl.n, 5);
	auth_token_list_free(&tl);

	/* revoke: someone else's does not exist for a non-admin */
	char err[256];
	struct res d = { 0 };
	ck_assert_int_eq(auth_token_revoke(f.a, &cu, t_east.id, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_NOTFOUND);
	ck_assert_int_eq(auth_token_revoke(f.a, &op, t_east.id, "x", on_done, &d, err, sizeof err),
	                 0);
	ck_assert_int_eq(auth_bearer(f.a, t_east.token, &bp), AUTH_E_BADCRED); /* at once */
	wait_res(&f, &d);
	ck_assert_int_eq(d.err, 0);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_token WHERE revoked IS NOT NULL"),
	                 1);
	ck_assert_int_eq(auth_token_revoke(f.a, &op, t_east.id, "x", NULL, NULL, err, sizeof err),
	                 0);
	ck_assert_int_eq(
	    auth_token_revoke(f.a, &op, "0123456789abcdef", "x", NULL, NULL, err, sizeof err),
	    AUTH_E_NOTFOUND);

	/* the owner narrowed: tokens wider than the owner now is stop */
	ck_assert_int_eq(
	    auth_user_set(f.a, NULL, "op", &north, -1, "unix", NULL, NULL, err, sizeof err), 0);
	ck_assert_int_eq(auth_bearer(f.a, t_all.token, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_bearer(f.a, t_view.token, &bp), 0); /* a viewer: still narrower */
	auth_principal_clear(&bp);
	/* the owner disabled: none works */
	ck_assert_int_eq(
	    auth_user_set(f.a, NULL, "op", NULL, 1, "unix", NULL, NULL, err, sizeof err), 0);
	ck_assert_int_eq(auth_bearer(f.a, t_view.token, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, lx.token, &bp), 0); /* cust's session */
	auth_principal_clear(&bp);
	auth_principal_clear(&op);
	auth_principal_clear(&cu);
	fx_done(&f);
}
END_TEST

START_TEST(token_garbage_and_expiry)
{
	struct fx f;
	fx_init(&f);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct auth_principal p, bp;
	struct res lx, t;
	as_user(&f, "root", PW, &p, &lx);
	ck_assert_int_eq(token_create(&f, &p, NULL, T0 + 100, &t), 0);
	ck_assert_int_eq(auth_bearer(f.a, t.token, &bp), 0);
	auth_principal_clear(&bp);
	char bad[256];
	/* every single changed character is refused */
	for (size_t i = 0; i < strlen(t.token); i++) {
		snprintf(bad, sizeof bad, "%s", t.token);
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		ck_assert_int_eq(auth_bearer(f.a, bad, &bp), AUTH_E_BADCRED);
		ck_assert_str_eq(bp.user, "");
	}
	snprintf(bad, sizeof bad, "%s", t.token);
	bad[strlen(bad) - 1] = '\0';
	ck_assert_int_eq(auth_bearer(f.a, bad, &bp), AUTH_E_BADCRED);
	snprintf(bad, sizeof bad, "%sA", t.token);
	ck_assert_int_eq(auth_bearer(f.a, bad, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_bearer(f.a, NULL, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_bearer(f.a, "", &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_bearer(f.a, "mmr_", &bp), AUTH_E_BADCRED);
	snprintf(bad, sizeof bad, "%s", t.token);
	for (char *c = bad + 4; c < bad + 4 + AUTH_TOKEN_ID_LEN; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A'); /* hex, but upper case */
	if (strcmp(bad, t.token) != 0)
		ck_assert_int_eq(auth_bearer(f.a, bad, &bp), AUTH_E_BADCRED);
	char *huge = malloc(1 << 20);
	memset(huge, 'm', (1 << 20) - 1);
	huge[(1 << 20) - 1] = '\0';
	ck_assert_int_eq(auth_bearer(f.a, huge, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, huge, &bp), AUTH_E_BADCRED);
	free(huge);
	ck_assert_int_eq(auth_session(f.a, "", &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, NULL, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, t.token, &bp),
	                 AUTH_E_BADCRED); /* a token is no cookie */
	ck_assert_int_eq(auth_bearer(f.a, lx.token, &bp), AUTH_E_BADCRED); /* nor the reverse */
	/* expiry */
	char err[256] = "";
	struct res tx = { 0 };
	ck_assert_int_eq(
	    auth_token_create(f.a, &p, NULL, NULL, T0 - 1, "x", on_token, &tx, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_int_eq(
	    auth_token_create(f.a, &p, NULL, "two\nlines", 0, "x", on_token, &tx, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_int_eq(
	    auth_token_create(f.a, &p, NULL, "\xff\xfe", 0, "x", on_token, &tx, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_int_eq(tx.called, 0);
	f.now = T0 + 99;
	ck_assert_int_eq(auth_bearer(f.a, t.token, &bp), 0);
	auth_principal_clear(&bp);
	f.now = T0 + 100;
	ck_assert_int_eq(auth_bearer(f.a, t.token, &bp), AUTH_E_BADCRED);
	auth_principal_clear(&p);
	fx_done(&f);
}
END_TEST

/* ---- persistence ---- */

START_TEST(survives_a_reopen)
{
	struct fx f;
	fx_init(&f);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	const char *c1[] = { "cc-east" };
	ck_assert_int_eq(add_user(&f, NULL, "op", AUTH_OPERATOR, c1, 1, NULL, PW), 0);
	ck_assert_int_eq(add_user(&f, NULL, "gone", AUTH_VIEWER, NULL, 0, "acme", PW), 0);
	struct auth_principal p, g, bp;
	struct res s_op, s_gone, t_live, t_rev, t_gone, s_old;
	as_user(&f, "op", PW, &p, &s_op);
	ck_assert_int_eq(login(&f, "op", PW, "192.0.2.1", &s_old), 0);
	as_user(&f, "gone", PW, &g, &s_gone);
	ck_assert_int_eq(token_create(&f, &p, NULL, 0, &t_live), 0);
	ck_assert_int_eq(token_create(&f, &p, NULL, 0, &t_rev), 0);
	ck_assert_int_eq(token_create(&f, &g, NULL, 0, &t_gone), 0);
	char err[256];
	ck_assert_int_eq(auth_token_revoke(f.a, &p, t_rev.id, "x", NULL, NULL, err, sizeof err), 0);
	ck_assert_int_eq(auth_user_del(f.a, NULL, "gone", "unix", NULL, NULL, err, sizeof err), 0);
	/* used later: last_seen and last_used move in memory, and the sweep
	 * writes them (not every request does) */
	f.now += 600;
	ck_assert_int_eq(auth_session(f.a, s_op.token, &bp), 0);
	auth_principal_clear(&bp);
	ck_assert_int_eq(auth_bearer(f.a, t_live.token, &bp), 0);
	auth_principal_clear(&bp);
	ck_assert_int_eq(
	    db_int(&f, "SELECT count(*) FROM auth_session WHERE last_seen > 1700000000"), 0);
	auth_sweep(f.a);
	ck_assert_int_eq(
	    db_int(&f, "SELECT count(*) FROM auth_session WHERE last_seen = 1700000600"), 1);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_token WHERE last_used = 1700000600"),
	                 1);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_token WHERE user_name = 'gone'"), 0);
	auth_principal_clear(&p);
	auth_principal_clear(&g);

	/* restart, seven hours later: s_old idled out (8 h since its login
	 * at T0 - it was never used again), s_op was used at T0 + 600 */
	fx_close(&f);
	f.now = T0 + 8 * 3600 + 1;
	fx_open(&f);
	ck_assert_int_eq(auth_user_count(f.a), 2);
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.sessions, 1);
	ck_assert_uint_eq(s.tokens, 2);
	ck_assert_int_eq(db_int(&f, "SELECT count(*) FROM auth_session"), 1);
	ck_assert_int_eq(auth_session(f.a, s_old.token, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, s_op.token, &bp), 0);
	ck_assert_str_eq(bp.user, "op");
	ck_assert_str_eq(bp.csrf, s_op.csrf);
	ck_assert_int_eq(bp.n_centers, 1);
	ck_assert_str_eq(bp.centers[0], "cc-east");
	auth_principal_clear(&bp);
	ck_assert_int_eq(auth_bearer(f.a, t_live.token, &bp), 0);
	auth_principal_clear(&bp);
	ck_assert_int_eq(auth_bearer(f.a, t_rev.token, &bp), AUTH_E_BADCRED); /* stays revoked */
	ck_assert_int_eq(auth_bearer(f.a, t_gone.token, &bp), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_session(f.a, s_gone.token, &bp), AUTH_E_BADCRED);
	struct res x;
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	ck_assert_int_eq(login(&f, "gone", PW, "192.0.2.1", &x), AUTH_E_BADCRED);
	struct auth_user_list ul;
	ck_assert_int_eq(auth_users(f.a, NULL, &ul), 0);
	ck_assert_uint_eq(ul.n, 2);
	ck_assert_str_eq(ul.v[0].name, "op");
	ck_assert_int_eq(ul.v[0].role, AUTH_OPERATOR);
	ck_assert_str_eq(ul.v[0].centers[0], "cc-east");
	ck_assert(ul.v[0].created == T0);
	ck_assert_uint_eq(ul.v[0].sessions, 1);
	ck_assert_str_eq(ul.v[1].name, "root");
	auth_user_list_free(&ul);
	fx_done(&f);
}
END_TEST

static void tune_stronger(struct auth_conf *c)
{
	c->kdf_m_kib = 16;
}

START_TEST(rehash_with_new_parameters)
{
	struct fx f;
	fx_init(&f);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	fx_close(&f);
	tune_stronger(&f.c);
	fx_open(&f);
	char phc[512];
	db_text(&f, "SELECT password FROM auth_user", phc, sizeof phc);
	ck_assert(strncmp(phc, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
	struct res x;
	ck_assert_int_eq(login(&f, "root", "wrong wrong wrong", "192.0.2.1", &x), AUTH_E_BADCRED);
	db_text(&f, "SELECT password FROM auth_user", phc, sizeof phc);
	ck_assert(strncmp(phc, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	db_text(&f, "SELECT password FROM auth_user", phc, sizeof phc);
	ck_assert_msg(strncmp(phc, "$argon2id$v=19$m=16,t=1,p=1$", 28) == 0, "%s", phc);
	ck_assert_int_eq(login(&f, "root", PW, "192.0.2.1", &x), 0);
	fx_done(&f);
}
END_TEST

/* ---- the KDF is not on the loop ---- */

struct beat {
	int fires;
	double last, max_gap;
	int done;
	struct res x;
};

static void on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct beat *b = w->data;
	double t = ev_time();
	if (b->fires && t - b->last > b->max_gap)
		b->max_gap = t - b->last;
	b->last = t;
	b->fires++;
}

static void on_login_break(void *ud, int err, const struct auth_login_result *r)
{
	struct beat *b = ud;
	b->x.err = err;
	b->done = 1;
	ev_break(ev_default_loop(0), EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void tune_default_cost(struct auth_conf *c)
{
	/* the production cost: t=3, 64 MiB */
	c->kdf_t = 3;
	c->kdf_m_kib = 65536;
}

START_TEST(kdf_not_on_the_loop)
{
	struct fx f;
	fx_init_with(&f, 1, tune_default_cost);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct beat b = { 0 };
	ev_timer beat, deadline;
	ev_timer_init(&beat, on_beat, 0.002, 0.002);
	beat.data = &b;
	ev_timer_init(&deadline, on_deadline, 30, 0);
	ev_timer_start(f.loop, &beat);
	ev_timer_start(f.loop, &deadline);
	struct auth_stats s0, s1;
	auth_get_stats(f.a, &s0);
	ev_now_update(f.loop);
	b.last = ev_time();
	b.fires = 1;
	ck_assert_int_eq(auth_login(f.a, "root", PW, "192.0.2.1", on_login_break, &b), 0);
	ev_run(f.loop, 0);
	ev_timer_stop(f.loop, &beat);
	ev_timer_stop(f.loop, &deadline);
	ck_assert_int_eq(b.done, 1);
	ck_assert_int_eq(b.x.err, 0);
	auth_get_stats(f.a, &s1);
	double kdf = s1.kdf_seconds - s0.kdf_seconds;
	/* the hash took tens of ms; the loop never stalled for half of it */
	ck_assert_msg(kdf > 0.02, "the KDF took only %.1f ms", kdf * 1e3);
	ck_assert_msg(b.max_gap < kdf / 2, "loop stalled %.1f ms during a %.1f ms KDF",
	              b.max_gap * 1e3, kdf * 1e3);
	ck_assert_int_ge(b.fires, 5);
	fx_done(&f);
}
END_TEST

/* ---- users ---- */

START_TEST(user_management_rules)
{
	struct fx f;
	fx_init(&f);
	char err[256] = "";
	struct res x = { 0 }, y = { 0 };
	/* two bootstraps at once: the first reserves the name, the second
	 * sees a user */
	ck_assert_int_eq(auth_bootstrap(f.a, "root", PW, "unix", on_done, &x, err, sizeof err), 0);
	ck_assert_int_eq(auth_user_count(f.a), 0); /* still hashing */
	ck_assert_int_eq(auth_bootstrap(f.a, "root2", PW, "unix", on_done, &y, err, sizeof err),
	                 AUTH_E_CONFLICT);
	wait_res(&f, &x);
	ck_assert_int_eq(x.err, 0);
	ck_assert_int_eq(auth_user_count(f.a), 1);
	ck_assert_int_eq(bootstrap(&f, "root3", PW), AUTH_E_CONFLICT);

	const char *c1[] = { "cc-east" };
	ck_assert_int_eq(add_user(&f, NULL, "op", AUTH_OPERATOR, c1, 1, NULL, PW), 0);
	ck_assert_int_eq(add_user(&f, NULL, "op", AUTH_OPERATOR, c1, 1, NULL, PW), AUTH_E_CONFLICT);
	/* the same name twice while the first still hashes */
	struct auth_scope vs = { .role = AUTH_VIEWER, .customer = "acme" };
	memset(&x, 0, sizeof x);
	memset(&y, 0, sizeof y);
	ck_assert_int_eq(auth_user_add(f.a, NULL, "v1", &vs, PW, "x", on_done, &x, err, sizeof err),
	                 0);
	ck_assert_int_eq(auth_user_add(f.a, NULL, "v1", &vs, PW, "x", on_done, &y, err, sizeof err),
	                 AUTH_E_CONFLICT);
	wait_res(&f, &x);
	ck_assert_int_eq(y.called, 0);

	struct auth_principal op, root;
	struct res lo, lr;
	as_user(&f, "op", PW, &op, &lo);
	as_user(&f, "root", PW, &root, &lr);
	/* only an admin manages users */
	ck_assert_int_eq(add_user(&f, &op, "x1", AUTH_VIEWER, NULL, 0, "acme", PW),
	                 AUTH_E_FORBIDDEN);
	ck_assert_int_eq(auth_user_del(f.a, &op, "v1", "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_FORBIDDEN);
	ck_assert_int_eq(auth_user_set(f.a, &op, "op", NULL, 0, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_FORBIDDEN);
	ck_assert_int_eq(add_user(&f, &root, "x1", AUTH_VIEWER, NULL, 0, "acme", PW), 0);
	struct auth_user_list ul;
	ck_assert_int_eq(auth_users(f.a, &op, &ul), 0);
	ck_assert_uint_eq(ul.n, 1);
	ck_assert_str_eq(ul.v[0].name, "op");
	auth_user_list_free(&ul);
	ck_assert_int_eq(auth_users(f.a, &root, &ul), 0);
	ck_assert_uint_eq(ul.n, 4);
	auth_user_list_free(&ul);

	/* the last enabled admin stays */
	struct auth_scope admin = { .role = AUTH_ADMIN };
	ck_assert_int_eq(auth_user_del(f.a, &root, "root", "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_CONFLICT);
	ck_assert_ptr_nonnull(strstr(err, "last enabled admin"));
	ck_assert_int_eq(
	    auth_user_set(f.a, &root, "root", NULL, 1, "x", NULL, NULL, err, sizeof err),
	    AUTH_E_CONFLICT);
	ck_assert_int_eq(
	    auth_user_set(f.a, &root, "root", &vs, -1, "x", NULL, NULL, err, sizeof err),
	    AUTH_E_CONFLICT);
	ck_assert_int_eq(
	    auth_user_set(f.a, &root, "op", &admin, -1, "x", NULL, NULL, err, sizeof err), 0);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(
	    auth_user_set(f.a, &root, "root", NULL, 1, "x", on_done, &x, err, sizeof err), 0);
	wait_res(&f, &x);
	ck_assert_int_eq(auth_session(f.a, lr.token, &root), AUTH_E_BADCRED); /* disabled */
	struct res z;
	ck_assert_int_eq(login(&f, "root", PW, "x", &z), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_user_del(f.a, NULL, "root", "x", NULL, NULL, err, sizeof err), 0);
	ck_assert_int_eq(auth_user_del(f.a, NULL, "root", "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_NOTFOUND);
	auth_principal_clear(&op);
	fx_done(&f);
}
END_TEST

START_TEST(passwd_rules)
{
	struct fx f;
	fx_init_with(&f, 1, tune_limits);
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	const char *c1[] = { "cc-east" };
	ck_assert_int_eq(add_user(&f, NULL, "op", AUTH_OPERATOR, c1, 1, NULL, PW), 0);
	ck_assert_int_eq(add_user(&f, NULL, "op2", AUTH_OPERATOR, c1, 1, NULL, PW), 0);
	struct auth_principal op, root;
	struct res s1, s2, lr, x;
	as_user(&f, "op", PW, &op, &s1);
	ck_assert_int_eq(login(&f, "op", PW, "192.0.2.3", &s2), 0);
	as_user(&f, "root", PW, &root, &lr);
	char err[256] = "";
	/* someone else's: admin only */
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "op2", NULL, PW2, "x", on_done, &x, err, sizeof err),
	    AUTH_E_FORBIDDEN);
	/* one's own: the old password is needed, and checked */
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "op", NULL, PW2, "x", on_done, &x, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "op", PW, "short", "x", on_done, &x, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_str_eq(err, "new_password: shorter than 12 characters");
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(auth_user_passwd(f.a, &op, "op", "not my password", PW2, "x", on_done, &x,
	                                  err, sizeof err),
	                 0);
	wait_res(&f, &x);
	ck_assert_int_eq(x.err, AUTH_E_BADCRED);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "op", PW, PW2, "x", on_done, &x, err, sizeof err), 0);
	wait_res(&f, &x);
	ck_assert_int_eq(x.err, 0);
	/* the session that changed it stays, the others end */
	struct auth_principal q;
	ck_assert_int_eq(auth_session(f.a, s1.token, &q), 0);
	auth_principal_clear(&q);
	ck_assert_int_eq(auth_session(f.a, s2.token, &q), AUTH_E_BADCRED);
	struct res l;
	ck_assert_int_eq(login(&f, "op", PW, "x", &l), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "op", PW2, "x", &l), 0);
	/* an admin sets another's without the old one */
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &root, "op2", NULL, PW2, "x", on_done, &x, err, sizeof err), 0);
	wait_res(&f, &x);
	ck_assert_int_eq(login(&f, "op2", PW2, "x", &l), 0);
	/* the local administrator too (recovery) */
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, NULL, "root", NULL, PW2, "unix", on_done, &x, err, sizeof err),
	    0);
	wait_res(&f, &x);
	ck_assert_int_eq(login(&f, "root", PW2, "x", &l), 0);
	/* wrong old passwords count like failed logins */
	for (int i = 0; i < 3; i++) {
		memset(&x, 0, sizeof x);
		ck_assert_int_eq(auth_user_passwd(f.a, &op, "op", "guess guess guess", PW, "x",
		                                  on_done, &x, err, sizeof err),
		                 0);
		wait_res(&f, &x);
		ck_assert_int_eq(x.err, AUTH_E_BADCRED);
	}
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "op", PW2, PW, "x", on_done, &x, err, sizeof err),
	    AUTH_E_LIMITED);
	ck_assert_int_eq(login(&f, "op", PW2, "x", &l), AUTH_E_LIMITED);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &op, "nobody", NULL, PW, "x", on_done, &x, err, sizeof err),
	    AUTH_E_FORBIDDEN);
	ck_assert_int_eq(
	    auth_user_passwd(f.a, &root, "nobody", NULL, PW, "x", on_done, &x, err, sizeof err),
	    AUTH_E_NOTFOUND);
	auth_principal_clear(&op);
	auth_principal_clear(&root);
	fx_done(&f);
}
END_TEST

/* ---- garbage ---- */

START_TEST(garbage_inputs)
{
	struct fx f;
	fx_init(&f);
	char err[256];
	/* names */
	static const char *const bad_names[] = {
		"",          " root",    "root ",    "-root",  ".root", "ro/ot", "ro ot", "r\no",
		"r\x1b[2Jo", "\xff\xfe", "\xc3\x28", "ルート", "a:b",   "a\"b",  "a'b",   "a%00b",
	};
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
		err[0] = '\0';
		ck_assert_int_eq(
		    auth_bootstrap(f.a, bad_names[i], PW, "x", NULL, NULL, err, sizeof err),
		    AUTH_E_INVALID);
		ck_assert_ptr_nonnull(strstr(err, "name:"));
	}
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_eq(auth_bootstrap(f.a, longname, PW, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	longname[AUTH_NAME_MAX] = '\0';
	ck_assert_int_eq(auth_bootstrap(f.a, NULL, PW, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	/* passwords */
	ck_assert_int_eq(auth_bootstrap(f.a, "root", NULL, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	ck_assert_int_eq(
	    auth_bootstrap(f.a, "root", "elevenchars", "x", NULL, NULL, err, sizeof err),
	    AUTH_E_INVALID);
	ck_assert_int_eq(auth_bootstrap(f.a, "root",
	                                "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "x",
	                                NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	ck_assert_str_eq(err, "password: not valid UTF-8");
	/* twelve characters of Japanese (36 bytes) are enough; eleven are not */
	ck_assert_int_eq(
	    auth_bootstrap(f.a, "root", "パスワードパスワードパ", "x", NULL, NULL, err, sizeof err),
	    AUTH_E_INVALID);
	char *big = malloc(AUTH_PASSWORD_MAX + 2);
	memset(big, 'p', AUTH_PASSWORD_MAX + 1);
	big[AUTH_PASSWORD_MAX + 1] = '\0';
	ck_assert_int_eq(auth_bootstrap(f.a, "root", big, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	ck_assert_int_eq(auth_user_count(f.a), 0);
	ck_assert_int_eq(bootstrap(&f, longname, "パスワードパスワードパスワ"), 0);
	/* the longest password is fine */
	big[AUTH_PASSWORD_MAX] = '\0';
	ck_assert_int_eq(add_user(&f, NULL, "big", AUTH_ADMIN, NULL, 0, NULL, big), 0);
	struct res x;
	ck_assert_int_eq(login(&f, "big", big, "x", &x), 0);
	big[AUTH_PASSWORD_MAX] = 'p';
	/* logins with garbage: one answer, through the callback */
	ck_assert_int_eq(login(&f, "big", big, "192.0.2.1", &x), AUTH_E_BADCRED); /* too long */
	ck_assert_int_eq(login(&f, NULL, PW, "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "", PW, "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "big", NULL, "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "big", "", "192.0.2.1", &x), AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, "\xff\xfe\x1b[2J", "\xff\xfe", "\x1b]0;x\x07", &x),
	                 AUTH_E_BADCRED);
	ck_assert_int_eq(login(&f, longname, "x", NULL, &x), AUTH_E_BADCRED);
	ck_assert_int_eq(auth_login(f.a, "big", PW, "x", NULL, NULL), AUTH_E_INVALID);
	free(big);
	char huge[5000];
	memset(huge, 'z', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	ck_assert_int_eq(login(&f, huge, huge, huge, &x), AUTH_E_BADCRED);
	/* scopes */
	const char *dup[] = { "c1", "c1" };
	const char *slash[] = { "c/1" };
	const char *empty[] = { "" };
	const char *ctl[] = { "c\x01" };
	const char *c1ctl[] = { "c\xc2\x85" };
	const char *bad8[] = { "\xe3\x81" };
	const char *c1[] = { "c1" };
	const char *many[AUTH_CENTERS_MAX + 1];
	for (int i = 0; i <= AUTH_CENTERS_MAX; i++)
		many[i] = "c";
	struct auth_scope bad_scopes[] = {
		{ .role = AUTH_OPERATOR },
		{ .role = AUTH_OPERATOR, .centers = dup, .n_centers = 2 },
		{ .role = AUTH_OPERATOR, .centers = slash, .n_centers = 1 },
		{ .role = AUTH_OPERATOR, .centers = empty, .n_centers = 1 },
		{ .role = AUTH_OPERATOR, .centers = ctl, .n_centers = 1 },
		{ .role = AUTH_OPERATOR, .centers = c1ctl, .n_centers = 1 },
		{ .role = AUTH_OPERATOR, .centers = bad8, .n_centers = 1 },
		{ .role = AUTH_OPERATOR, .centers = many, .n_centers = AUTH_CENTERS_MAX + 1 },
		{ .role = AUTH_OPERATOR, .centers = c1, .n_centers = 1, .customer = "acme" },
		{ .role = AUTH_VIEWER },
		{ .role = AUTH_VIEWER, .customer = "" },
		{ .role = AUTH_VIEWER, .customer = "a b" },
		{ .role = AUTH_VIEWER, .customer = "acme", .centers = c1, .n_centers = 1 },
		{ .role = AUTH_ADMIN, .customer = "acme" },
		{ .role = (enum auth_role)7 },
	};
	for (size_t i = 0; i < sizeof bad_scopes / sizeof *bad_scopes; i++) {
		err[0] = '\0';
		ck_assert_int_eq(auth_user_add(f.a, NULL, "u1", &bad_scopes[i], PW, "x", NULL, NULL,
		                               err, sizeof err),
		                 AUTH_E_INVALID);
		ck_assert_msg(err[0], "no message for bad scope %zu", i);
	}
	ck_assert_int_eq(auth_user_add(f.a, NULL, "u1", NULL, PW, "x", NULL, NULL, err, sizeof err),
	                 AUTH_E_INVALID);
	/* Japanese customer names are names like any other */
	ck_assert_int_eq(add_user(&f, NULL, "u1", AUTH_VIEWER, NULL, 0, "株式会社アクメ", PW), 0);
	/* the audit log escapes what it is given */
	auth_audit(f.a, "u1\n", "ack\x1b[2J", "\xff", "note \"quoted\"\r\nnext line");
	auth_audit(f.a, NULL, NULL, NULL, NULL);
	char t[512];
	db_text(&f,
	        "SELECT who || ' ' || what || ' ' || ifnull(from_addr, '-') || ' ' ||"
	        " ifnull(detail, '-') FROM auth_audit WHERE rowid > (SELECT max(rowid) - 2"
	        " FROM auth_audit)",
	        t, sizeof t);
	ck_assert_str_eq(t, "u1\\n ack\\x1b[2J \\xff note \"quoted\"\\r\\nnext line|- - - -");
	fx_done(&f);
}
END_TEST

/* ---- requests in flight ---- */

START_TEST(cancel_and_no_store)
{
	struct fx f;
	fx_init_with(&f, 0, NULL); /* nothing persisted: callbacks still come, later */
	ck_assert_int_eq(bootstrap(&f, "root", PW), 0);
	struct res x = { 0 }, y = { 0 };
	ck_assert_int_eq(auth_login(f.a, "root", PW, "x", on_login, &x), 0);
	ck_assert_int_eq(auth_login(f.a, "root", PW, "x", on_login, &y), 0);
	auth_cancel(f.a, &x);
	wait_res(&f, &y);
	for (int i = 0; i < 50; i++)
		ev_run(f.loop, EVRUN_NOWAIT);
	ck_assert_int_eq(x.called, 0);
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.sessions, 2); /* the cancelled login still completed */
	ck_assert_uint_eq(s.kdf_queued, 0);
	struct auth_principal p;
	ck_assert_int_eq(login(&f, "root", PW, "x", &x), 0);
	ck_assert_int_eq(auth_session(f.a, x.token, &p), 0);
	struct res t;
	ck_assert_int_eq(token_create(&f, &p, NULL, 0, &t), 0);
	auth_principal_clear(&p);
	ck_assert_int_eq(auth_bearer(f.a, t.token, &p), 0);
	auth_principal_clear(&p);
	/* a request pending at auth_free is dropped without its callback */
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(auth_login(f.a, "root", PW, "x", on_login, &x), 0);
	fx_done(&f);
	ck_assert_int_eq(x.called, 0);
}
END_TEST

static void tune_busy(struct auth_conf *c)
{
	c->kdf_m_kib = 8192; /* a few ms each: the queue fills faster than it drains */
}

START_TEST(kdf_queue_bounded)
{
	struct fx f;
	fx_init_with(&f, 1, tune_busy);
	enum { N = 150 };
	static struct res x[N];
	memset(x, 0, sizeof x);
	for (int i = 0; i < N; i++) {
		char from[32];
		snprintf(from, sizeof from, "10.1.%d.%d", i / 256, i % 256);
		ck_assert_int_eq(
		    auth_login(f.a, "ghost", "whatever whatever", from, on_login, &x[i]), 0);
		struct auth_stats s;
		auth_get_stats(f.a, &s);
		ck_assert_uint_le(s.kdf_queued, AUTH_KDF_QUEUE);
	}
	int busy = 0, bad = 0;
	for (int i = 0; i < N; i++) {
		wait_res(&f, &x[i]);
		busy += x[i].err == AUTH_E_BUSY;
		bad += x[i].err == AUTH_E_BADCRED;
	}
	ck_assert_int_eq(busy + bad, N);
	ck_assert_int_ge(busy, N - AUTH_KDF_QUEUE - 40);
	ck_assert_int_ge(bad, AUTH_KDF_QUEUE);
	/* busy is not a failure: those addresses are not counted */
	struct auth_stats s;
	auth_get_stats(f.a, &s);
	ck_assert_uint_eq(s.limit_addrs, (size_t)bad);
	fx_done(&f);
}
END_TEST

/* ---- configuration ---- */

static int conf_parse(const char *text, struct auth_conf *c, char *err, size_t errlen)
{
	config_t cfg;
	config_init(&cfg);
	ck_assert_msg(config_read_string(&cfg, text) == CONFIG_TRUE, "%s", config_error_text(&cfg));
	int rc = auth_conf_parse(config_lookup(&cfg, "auth"), c, err, errlen);
	config_destroy(&cfg);
	return rc;
}

START_TEST(conf_group)
{
	struct auth_conf c;
	char err[512] = "";
	ck_assert_int_eq(auth_conf_parse(NULL, &c, err, sizeof err), 0);
	ck_assert(c.idle_timeout == 8 * 3600 && c.absolute_timeout == 7 * 86400);
	ck_assert_uint_eq(c.kdf_t, 3);
	ck_assert_uint_eq(c.kdf_m_kib, 65536);
	ck_assert_uint_eq(c.kdf_p, 1);
	ck_assert_uint_eq(c.min_password, 12);
	ck_assert_uint_eq(c.max_failures, 5);
	ck_assert(c.failure_window == 300);
	ck_assert_int_eq(conf_parse("auth = { idle_timeout = \"30m\"; absolute_timeout = \"2d\";"
	                            " failure_window = 60; max_failures = 3;"
	                            " max_failures_per_address = 50; min_password_length = 16;"
	                            " kdf_time_cost = 2; kdf_memory = 8; kdf_parallelism = 1;"
	                            " max_sessions = 4; limit_entries = 100;"
	                            " audit_retention = \"0\"; };",
	                            &c, err, sizeof err),
	                 0);
	ck_assert(c.idle_timeout == 1800 && c.absolute_timeout == 2 * 86400);
	ck_assert(c.failure_window == 60 && c.audit_retention == 0);
	ck_assert_uint_eq(c.max_failures, 3);
	ck_assert_uint_eq(c.max_failures_addr, 50);
	ck_assert_uint_eq(c.min_password, 16);
	ck_assert_uint_eq(c.kdf_t, 2);
	ck_assert_uint_eq(c.kdf_m_kib, 8);
	ck_assert_uint_eq(c.max_sessions, 4);
	ck_assert_uint_eq(c.limit_entries, 100);
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "auth = { bogus = 1; };", "config:1: auth.bogus: unknown key" },
		{ "auth = 5;", "config:1: auth: expected a group" },
		{ "auth = {\n idle_timeout = \"8x\"; };",
		  "config:2: auth.idle_timeout: must be a duration" },
		{ "auth = { idle_timeout = -5; };", "auth.idle_timeout: must be a duration" },
		{ "auth = { idle_timeout = \"\"; };", "auth.idle_timeout: must be a duration" },
		{ "auth = { idle_timeout = 1.5; };", "auth.idle_timeout: must be a duration" },
		{ "auth = { min_password_length = 4; };",
		  "auth.min_password_length: must be an integer 8..1024" },
		{ "auth = { min_password_length = \"12\"; };", "must be an integer" },
		{ "auth = { kdf_memory = 7; };", "auth.kdf_memory: must be an integer 8..4194304" },
		{ "auth = { kdf_time_cost = 0; };",
		  "auth.kdf_time_cost: must be an integer 1..16" },
		{ "auth = { max_failures = 0; };", "auth.max_failures: must be an integer" },
		{ "auth = { limit_entries = 99999999999; };",
		  "auth.limit_entries: must be an integer" },
		{ "auth = { idle_timeout = \"2d\"; absolute_timeout = \"1d\"; };",
		  "config:1: auth: idle_timeout is longer than absolute_timeout" },
		{ "auth = { kdf_memory = 16; kdf_parallelism = 4; };", "8 KiB per lane" },
		{ "auth = { audit_retention = \"nan\"; };", "must be a duration" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		ck_assert_int_eq(conf_parse(bad[i].text, &c, err, sizeof err), -1);
		ck_assert_msg(strstr(err, bad[i].want), "%s: got '%s'", bad[i].text, err);
	}
}
END_TEST

/* ---- the store table ---- */

static int n_users, n_tokens, n_sessions;

static void count_user(void *ud, const struct store_auth_user_row *r)
{
	n_users++;
}

static void count_token(void *ud, const struct store_auth_token_row *r)
{
	n_tokens++;
	ck_assert_str_eq(r->user, "u1");
	ck_assert(r->expires == 0 && r->revoked == 0); /* NULL reads as 0 */
}

static void count_session(void *ud, const struct store_auth_session_row *r)
{
	n_sessions++;
	ck_assert_str_eq(r->csrf, "c");
}

START_TEST(store_table)
{
	char dir[256], err[512] = "";
	log_set_level(LOG_LVL_ERR - 1); /* the refused rows are expected */
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "sauth"), 0);
	struct store *s = store_open(dir, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	struct store_batch *b = store_batch_new();
	struct store_auth_user_row u = { .name = "u1",
		                         .role = "operator",
		                         .centers = "[\"c1\"]",
		                         .password = "$argon2id$x",
		                         .created = 1 };
	store_batch_auth_user(b, &u);
	u.name = "u2";
	u.centers = NULL; /* an operator without centers: refused alone */
	store_batch_auth_user(b, &u);
	u = (struct store_auth_user_row){
		.name = "u3", .role = "root", .password = "$argon2id$x", .created = 1
	};
	store_batch_auth_user(b, &u);
	u = (struct store_auth_user_row){
		.name = "u4", .role = "viewer", .customer = "acme", .password = "$argon2id$x"
	};
	store_batch_auth_user(b, &u);
	struct store_auth_token_row t = {
		.id = "t1", .secret = "00", .user = "u1", .role = "admin", .created = 2
	};
	store_batch_auth_token(b, &t);
	t.id = "t2";
	t.user = "u4";
	store_batch_auth_token(b, &t);
	struct store_auth_session_row se = {
		.id = "s1", .user = "u4", .csrf = "c", .created = 1, .last_seen = 2, .expires = 3
	};
	store_batch_auth_session(b, &se);
	se.id = "s2";
	se.user = "u1";
	store_batch_auth_session(b, &se);
	store_batch_auth_session_delete(b, "s2");
	struct store_auth_audit_row a = { .time = 10, .who = "u1", .what = "login" };
	store_batch_auth_audit(b, &a);
	a.time = 20;
	store_batch_auth_audit(b, &a);
	store_batch_auth_audit_prune(b, 15, 100);
	store_batch_auth_user_delete(b, "u4"); /* with its token and session */
	store_commit(s, b);
	n_users = n_tokens = n_sessions = 0;
	ck_assert_int_eq(store_load_auth_users(s, count_user, NULL), 0);
	ck_assert_int_eq(store_load_auth_tokens(s, count_token, NULL), 0);
	ck_assert_int_eq(store_load_auth_sessions(s, count_session, NULL), 0);
	ck_assert_int_eq(n_users, 1);
	ck_assert_int_eq(n_tokens, 1);
	ck_assert_int_eq(n_sessions, 0);
	store_close(s);
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "SELECT count(*), min(time) FROM auth_audit", -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 1);
	ck_assert_int_eq(sqlite3_column_int(st, 1), 20);
	sqlite3_finalize(st);
	sqlite3_close(db);
	tmpdir_remove(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, login_good_bad_unknown);
	tcase_add_test(tc, unknown_user_costs_the_same);
	tcase_add_test(tc, limit_per_user);
	tcase_add_test(tc, limit_counts_parallel_guesses);
	tcase_add_test(tc, limit_per_address);
	tcase_add_test(tc, limit_tables_bounded);
	tcase_add_test(tc, session_idle_and_absolute_expiry);
	tcase_add_test(tc, session_limit_and_logout);
	tcase_add_test(tc, tokens_scope_and_revoke);
	tcase_add_test(tc, token_garbage_and_expiry);
	tcase_add_test(tc, survives_a_reopen);
	tcase_add_test(tc, rehash_with_new_parameters);
	tcase_add_test(tc, kdf_not_on_the_loop);
	tcase_add_test(tc, user_management_rules);
	tcase_add_test(tc, passwd_rules);
	tcase_add_test(tc, garbage_inputs);
	tcase_add_test(tc, cancel_and_no_store);
	tcase_add_test(tc, kdf_queue_bounded);
	tcase_add_test(tc, conf_group);
	tcase_add_test(tc, store_table);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
