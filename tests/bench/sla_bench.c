/*
 * sla_bench: the SLA summary (app_sla over store_read_sla) on a store of
 * N alerts - the time from the call to the callback on the loop thread.
 *
 *   sla_bench [N [MONTHS]]
 *     N alerts (default 100,000) opened over the last MONTHS calendar
 *     months (default 1: every alert in this month, the most work for the
 *     month's figures; 13: a year of history as retention keeps it).
 *     2,000 customers routed to 4 centers, 5 % copied to another center;
 *     of the last 7 days' alerts 10 % open and 5 % acknowledged, the
 *     rest and every older one resolved; 75 % acknowledged at some time; 15 % with an SLA breach, a
 * third of those re-announced; an `opened` event (about 300 bytes of payload) for every alert, as
 * the daemon writes.  Then the summary for the whole store (admin), one center's scope and one
 * customer, each 7 times (min and median), and the same again with the schema-5 indexes dropped, to
 * show what they are for.
 *
 * Output: "key=value" lines.  SLA_BENCH_KEEP=1 leaves the database (its
 * directory is printed) for a look with sqlite3.
 */
#include "app/app.h"
#include "bench.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/log.h"

#include <ev.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define CUSTOMERS 2000
#define REPEAT    7

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static double now_t;
static double vclock(void *ud)
{
	return now_t;
}

static const char *const centers[] = { "cc-east", "cc-west", "cc-north", "cc-south" };

static void fill(struct store *s, long n, int months, double month_start)
{
	char payload[400];
	memset(payload, 'x', sizeof payload);
	double from = month_start, span;
	/* the start of the month `months - 1` before this one */
	struct tm tm;
	time_t ms = (time_t)month_start;
	gmtime_r(&ms, &tm);
	tm.tm_mon -= months - 1;
	from = (double)timegm(&tm);
	span = now_t - from;
	struct store_batch *b = store_batch_new();
	for (long i = 0; i < n; i++) {
		char id[32], cust[16], key[48], also[32];
		snprintf(id, sizeof id, "A-b-%08ld", i);
		unsigned c = rnd(CUSTOMERS);
		snprintf(cust, sizeof cust, "c%04u", c);
		snprintf(key, sizeof key, "%s/pc%u/defender", cust, rnd(50));
		const char *center = centers[c % 4];
		int copy = rnd(20) == 0;
		snprintf(also, sizeof also, "[\"%s\"]", centers[(c + 1) % 4]);
		double opened = from + rnd((unsigned)span);
		/* alerts of the last 7 days: 10 % open, 5 % acknowledged; older
		 * ones are resolved (problems do not stay open for months) */
		unsigned st = now_t - opened < 7 * 86400 ? rnd(100) : 100;
		const char *status = st < 10 ? "open" : st < 15 ? "acknowledged" : "resolved";
		int acked = st >= 10 && st < 15 ? 1 : st >= 10 && rnd(4) != 0;
		double acked_at = acked ? opened + 30 + rnd(3600) : 0;
		if (acked_at > now_t)
			acked_at = now_t;
		int unresolved = st < 15;
		struct store_alert_row r = {
			.id = id,
			.check_key = key,
			.customer = cust,
			.asset = "pc",
			.check_name = "defender",
			.service = "defender",
			.center = center,
			.also = copy ? also : NULL,
			.summary = "real-time protection is off",
			.status = status,
			.state = 2,
			.count = 1,
			.seq = 1,
			.opened_at = opened,
			.updated_at = opened,
			.acked_at = acked_at,
			.acked_by = acked ? "operator" : NULL,
			.resolved_at = unresolved ? 0 : opened + 4000,
			.has_clock = 1,
			.tier_name = "t1",
			.acked = acked,
			.stopped = !unresolved,
			.ack_due = opened + 900,
			.resolve_due = unresolved ? now_t - 1800 + rnd(7200) : opened + 14400,
			.ack_left = -1,
			.resolve_left = -1,
		};
		store_batch_alert(b, &r);
		snprintf(
		    payload, sizeof payload,
		    "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"seq\":1,\"event\":\"opened\","
		    "\"customer\":\"%s\",\"center\":\"%s\",\"pad\":\"%0200d\"}",
		    id, cust, center, 0);
		struct store_event_row e = { .alert_id = id,
			                     .seq = 1,
			                     .type = "opened",
			                     .time = opened,
			                     .actor = "mamori",
			                     .payload = payload };
		store_batch_event(b, &e);
		if (rnd(100) < 15) {
			for (int k = 0; k < 1 + (rnd(3) == 0); k++) {
				snprintf(
				    payload, sizeof payload,
				    "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"seq\":%d,"
				    "\"event\":\"sla_breach\",\"breach\":\"ack\",\"reannounce\":%s}",
				    id, 2 + k, k ? "true" : "false");
				e.seq = 2 + k;
				e.type = "sla_breach";
				e.time = opened + 900 + k * 3600;
				store_batch_event(b, &e);
			}
		}
		if ((i + 1) % 5000 == 0 || i + 1 == n) {
			store_commit(s, b); /* before store_start: written at once */
			if (i + 1 < n)
				b = store_batch_new();
		}
	}
}

struct res {
	int calls, err;
	size_t rows;
	unsigned long long open, acked;
};

static void on_sla(void *ud, int err, const char *msg, struct app_sla *s)
{
	struct res *r = ud;
	r->calls++;
	r->err = err;
	if (err) {
		fprintf(stderr, "sla: %s\n", msg);
		return;
	}
	r->rows = s->n;
	r->open = r->acked = 0;
	for (size_t i = 0; i < s->n; i++) {
		r->open += s->rows[i].open;
		r->acked += s->rows[i].acked_month;
	}
	app_sla_free(s);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int measure(struct ev_loop *loop, struct app *a, const char *name,
                   const struct app_scope *sc, const char *customer, const char *tag)
{
	double t[REPEAT];
	struct res r = { 0 };
	for (int i = 0; i < REPEAT; i++) {
		char msg[256];
		r.calls = 0;
		double t0 = bench_mono();
		if (app_sla(a, sc, NULL, customer, on_sla, &r, msg, sizeof msg) != APP_OK) {
			fprintf(stderr, "app_sla: %s\n", msg);
			return 1;
		}
		ev_run(loop, 0);
		t[i] = bench_mono() - t0;
		if (r.calls != 1 || r.err)
			return 1;
	}
	qsort(t, REPEAT, sizeof t[0], cmpd);
	printf("%s_%s_ms_min=%.1f\n%s_%s_ms_median=%.1f\n%s_%s_rows=%zu (open %llu, acked this "
	       "month %llu)\n",
	       tag, name, t[0] * 1e3, tag, name, t[REPEAT / 2] * 1e3, tag, name, r.rows, r.open,
	       r.acked);
	return 0;
}

static int run_all(struct ev_loop *loop, struct store *s, const char *tag)
{
	struct app_deps d = { .loop = loop, .store = s, .clock = vclock };
	struct app *a = app_new(&d);
	static const char *const east[] = { "cc-east" };
	const struct app_scope admin = { .all = 1 }, center = { .centers = east, .n_centers = 1 };
	int rc = measure(loop, a, "all", &admin, NULL, tag) ||
	         measure(loop, a, "center", &center, NULL, tag) ||
	         measure(loop, a, "customer", &admin, "c0004", tag);
	app_free(a);
	return rc;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int months = argc > 2 ? atoi(argv[2]) : 1;
	if (n < 1 || months < 1 || months > 24) {
		fprintf(stderr, "usage: sla_bench [N [MONTHS]]\n");
		return 2;
	}
	log_set_level(LOG_LVL_ERR);
	/* the middle of the 28th day of this month: the month is nearly whole */
	time_t wall = time(NULL);
	struct tm tm;
	gmtime_r(&wall, &tm);
	struct tm first = { .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = 1 };
	double month_start = (double)timegm(&first);
	now_t = month_start + 27.5 * 86400;

	char dir[] = "/tmp/mamori-sla-bench.XXXXXX", err[512] = "", cmd[600];
	if (!mkdtemp(dir))
		return 1;
	struct store *s = store_open(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "store: %s\n", err);
		return 1;
	}
	double t0 = bench_mono();
	fill(s, n, months, month_start);
	printf("alerts=%ld months=%d fill_s=%.1f\n", n, months, bench_mono() - t0);
	struct ev_loop *loop = ev_loop_new(0);
	int rc = store_start(s, loop, NULL, NULL);
	if (rc == 0)
		rc = run_all(loop, s, "indexed");
	store_close(s);

	/* the same without the indexes of schema 5 (what an older file does) */
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
	sqlite3 *db;
	if (rc == 0 && sqlite3_open(path, &db) == SQLITE_OK) {
		rc = sqlite3_exec(db, "DROP INDEX alert_acked_at; DROP INDEX alert_event_breach;",
		                  NULL, NULL, NULL) != SQLITE_OK;
		sqlite3_close(db);
		s = rc ? NULL : store_open_readonly(dir, err, sizeof err);
		if (s && store_start(s, loop, NULL, NULL) == 0)
			rc = run_all(loop, s, "no_step5_indexes");
		else
			rc = 1;
		if (s)
			store_close(s);
	}
	ev_loop_destroy(loop);
	if (getenv("SLA_BENCH_KEEP")) {
		printf("kept=%s\n", dir);
		return rc;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
