/*
 * report_bench: the monthly report's cost.
 *
 *   report_bench one [PCS]
 *     One customer's month with PCS PCs (default 50): Defender state
 *     changes, a UTM with outages, a mail path probed every 5 minutes,
 *     a dozen alerts with events and a visit, perfdata buckets (the mail's
 *     5-minute latencies, the UTM's hourly cpu/sessions/blocked counter,
 *     every PC's hourly signature age).  The time of report_make for HTML
 *     and for PDF (7 runs each: min and median), and the size of each.
 *
 *   report_bench all [CUSTOMERS [PCS]]
 *     A demo-sized store: CUSTOMERS customers (default 5,000) with PCS
 *     PCs each (default 10) and the same month of data each.  Then a whole
 *     mamorid (server_new) on that store, its customers configured with
 *     `report` groups and dummy checks (every customer's PCs, UTM and mail
 *     path: 14 checks each, every 60 s, spread), and the schedule making
 *     the previous month's PDF for every customer through the report
 *     workers (reports.workers, default 2 here: BENCH_REPORT_WORKERS), as
 *     on a first business day.  Measured: the total time, reports per
 *     second, and the scheduling lag of the checks (the engine's own
 *     histogram, as /metrics has it) and of a 10 ms probe timer on the
 *     loop, for 10 s before the reports (the baseline) and during them.
 *
 *   report_bench fill DIR [CUSTOMERS [PCS]]
 *     Only fill DIR (tests/integration/report.sh uses it).
 *
 * Output: "key=value" lines.  REPORT_BENCH_DIR=path keeps (and reuses)
 * the filled store there.
 */
#include "app/app.h"
#include "bench.h"
#include "cal/cal.h"
#include "report/report.h"
#include "server/server.h"
#include "store/store.h"
#include "util/log.h"

#include <ev.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* The month before the one of `now`, in UTC: [from, to). */
static void last_month(double now, int *y, int *m, double *from, double *to)
{
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	int cy = tm.tm_year + 1900, cm = tm.tm_mon + 1;
	*y = cm == 1 ? cy - 1 : cy;
	*m = cm == 1 ? 12 : cm - 1;
	struct tm a = { .tm_year = *y - 1900, .tm_mon = *m - 1, .tm_mday = 1 };
	struct tm b = { .tm_year = cy - 1900, .tm_mon = cm - 1, .tm_mday = 1 };
	*from = (double)timegm(&a);
	*to = (double)timegm(&b);
}

static void chg(struct store_batch *b, const char *cu, const char *as, const char *ck, double t,
                int state, int stale, const char *out)
{
	struct store_state_change_row r = { .customer = cu,
		                            .asset = as,
		                            .check = ck,
		                            .t = t,
		                            .state = state,
		                            .stale = stale,
		                            .output = out };
	store_batch_state_change(b, &r);
}

static int64_t next_series = 1;

/* One customer's month into the store (several batches). */
static void fill_customer(struct store *s, const char *cu, int pcs, double from, double to)
{
	struct store_batch *b = store_batch_new();
	char pc[32], key[128], id[64], payload[512];
	double before = from - 10 * 86400;
	for (int i = 1; i <= pcs; i++) {
		snprintf(pc, sizeof pc, "pc-%02d", i);
		chg(b, cu, pc, "defender", before, 0, 0, "Defender OK");
		/* some PCs: protection off for a few hours, silent at night */
		if (rnd(10) == 0) {
			double t = from + rnd((unsigned)(to - from - 86400));
			chg(b, cu, pc, "defender", t, 2, 0, "real-time protection off");
			chg(b, cu, pc, "defender", t + 3600 * (1 + rnd(30)), 0, 0, "Defender OK");
		}
		for (int d = 0; d < 4; d++) {
			double t = from + rnd((unsigned)(to - from - 86400));
			chg(b, cu, pc, "defender", t, 2, 1, "no report");
			chg(b, cu, pc, "defender", t + 600 * (1 + rnd(40)), 0, 0, "Defender OK");
		}
	}
	chg(b, cu, "utm-1", "utm", before, 0, 0, "UTM OK");
	double t = from + rnd((unsigned)(to - from - 86400));
	chg(b, cu, "utm-1", "utm", t, 2, 0, "UTM unreachable");
	chg(b, cu, "utm-1", "utm", t + 60 * (10 + rnd(120)), 0, 0, "UTM OK");
	chg(b, cu, "mail", "latency", before, 0, 0, "MAIL OK");
	/* a dozen alerts with their events, one visit */
	for (int k = 0; k < 12; k++) {
		snprintf(id, sizeof id, "A-%s-%02d", cu, k);
		snprintf(key, sizeof key, "%s/pc-%02d/defender", cu, 1 + k % pcs);
		double op = from + rnd((unsigned)(to - from - 86400));
		struct store_alert_row a = {
			.id = id,
			.check_key = key,
			.customer = cu,
			.asset = key + strlen(cu) + 1,
			.check_name = "defender",
			.service = k % 3 ? "defender" : "utm",
			.center = "cc-east",
			.summary = "real-time protection off",
			.status = "resolved",
			.state = 1 + k % 2,
			.count = 3,
			.seq = 4,
			.opened_at = op,
			.updated_at = op + 7200,
			.acked_at = op + 600,
			.resolved_at = op + 7200,
			.ack_left = -1,
			.resolve_left = -1,
		};
		char *slash = strchr(key + strlen(cu) + 1, '/');
		char asset[32];
		snprintf(asset, sizeof asset, "%.*s", (int)(slash - key - strlen(cu) - 1),
		         key + strlen(cu) + 1);
		a.asset = asset;
		store_batch_alert(b, &a);
		snprintf(payload, sizeof payload,
		         "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"event\":\"opened\","
		         "\"ack_due\":\"2026-05-01T09:15:00+09:00\",\"resolve_due\":"
		         "\"2026-05-01T13:00:00+09:00\",\"tier_name\":\"contact-center\"}",
		         id);
		const char *types[] = { "opened", "acknowledged", "sla_breach", "resolved" };
		for (int e = 0; e < 4; e++) {
			struct store_event_row ev = {
				.alert_id = id,
				.seq = e + 1,
				.type = types[e],
				.time = op + e * 1800,
				.actor = "mamori",
				.payload = e == 2 ? "{\"breach\":\"resolve\",\"reannounce\":false}"
				                  : payload
			};
			if (e == 2 && k % 4)
				continue;
			store_batch_event(b, &ev);
		}
		if (k == 0) {
			struct store_dispatch_row d = { .alert_id = id,
				                        .seq = 5,
				                        .time = op + 3600,
				                        .actor = "Sato",
				                        .vendor = "PC Service",
				                        .planned_at = op + 7200,
				                        .result = "fixed" };
			store_batch_dispatch(b, &d);
		}
	}
	/* perfdata */
	int64_t mail = next_series++;
	struct store_series_row sr = { .id = mail,
		                       .customer = cu,
		                       .asset = "mail",
		                       .check = "latency",
		                       .label = "latency",
		                       .unit = "s",
		                       .created = before,
		                       .last_seen = to };
	store_batch_series(b, &sr);
	for (double x = from; x < to; x += 300) {
		double v = 1.5 + rnd(100) / 40.0 + (rnd(500) == 0 ? 300 : 0);
		struct store_series_agg ag = {
			.t = (int64_t)x, .min = v, .max = v, .sum = v, .n = 1
		};
		store_batch_series_add(b, STORE_SERIES_5M, mail, &ag);
	}
	const char *labels[] = { "cpu", "sessions", "blocked" };
	for (int l = 0; l < 3; l++) {
		int64_t sid = next_series++;
		sr = (struct store_series_row){ .id = sid,
			                        .customer = cu,
			                        .asset = "utm-1",
			                        .check = "utm",
			                        .label = labels[l],
			                        .unit = l == 2 ? "c"
			                                : l    ? ""
			                                       : "%",
			                        .created = before,
			                        .last_seen = to };
		store_batch_series(b, &sr);
		int h = 0;
		for (double x = from; x < to; x += 3600, h++) {
			double v = l == 0   ? 10 + rnd(50)
			           : l == 1 ? 100 + rnd(400)
			                    : 1000.0 + 40 * h;
			struct store_series_agg ag = {
				.t = (int64_t)x, .min = v, .max = v, .sum = v * 12, .n = 12
			};
			store_batch_series_add(b, STORE_SERIES_1H, sid, &ag);
		}
	}
	for (int i = 1; i <= pcs; i++) {
		int64_t sid = next_series++;
		snprintf(pc, sizeof pc, "pc-%02d", i);
		sr = (struct store_series_row){ .id = sid,
			                        .customer = cu,
			                        .asset = pc,
			                        .check = "defender",
			                        .label = "signature_age_days",
			                        .unit = "",
			                        .created = before,
			                        .last_seen = to };
		store_batch_series(b, &sr);
		for (double x = from; x < to; x += 3600) {
			double v = rnd(40) == 0 ? 4 : 1;
			struct store_series_agg ag = {
				.t = (int64_t)x, .min = 0, .max = v, .sum = v, .n = 1
			};
			store_batch_series_add(b, STORE_SERIES_1H, sid, &ag);
		}
	}
	store_commit(s, b);
}

static void cust_id(char *buf, size_t len, int i)
{
	snprintf(buf, len, "c%05d", i);
}

/* Fill dir with n customers (skipped when it has a database already). */
static int fill(const char *dir, int n, int pcs, double from, double to)
{
	char path[600];
	snprintf(path, sizeof path, "%s/mamori.db", dir);
	struct stat st;
	if (stat(path, &st) == 0) {
		printf("store=%s reused=1\n", dir);
		return 0;
	}
	char err[512];
	mkdir(dir, 0750);
	struct store *s = store_open(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	store_start(s, NULL, NULL, NULL);
	double t0 = bench_mono();
	for (int i = 0; i < n; i++) {
		char cu[32];
		cust_id(cu, sizeof cu, i);
		fill_customer(s, cu, pcs, from, to);
		if (i % 20 == 19)
			store_sync(s); /* bounded memory */
	}
	store_sync(s);
	store_close(s);
	stat(path, &st);
	printf("store=%s customers=%d pcs=%d fill_seconds=%.1f db_mb=%.0f\n", dir, n, pcs,
	       bench_mono() - t0, st.st_size / 1048576.0);
	return 0;
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int one(int pcs)
{
	char dir[] = "/tmp/mamori-rbench.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	double now = (double)time(NULL), from, to;
	int y, m;
	last_month(now, &y, &m, &from, &to);
	if (fill(dir, 1, pcs, from, to) != 0)
		return 1;
	char err[512];
	struct store *ro = store_open_readonly(dir, err, sizeof err);
	if (!ro) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	const char *h[] = { "mon-fri 09:00-18:00" };
	struct cal *c = cal_new("biz", "UTC", h, 1, err, sizeof err);
	for (int f = 0; f < 2; f++) {
		struct report_input *in = calloc(1, sizeof *in);
		in->customer = strdup("c00000");
		in->name = strdup("Bench Co");
		snprintf(in->lang, sizeof in->lang, "ja");
		in->format = f ? REPORT_PDF : REPORT_HTML;
		in->year = y;
		in->month = m;
		in->now = now;
		in->datadir =
		    strdup(getenv("MAMORI_DATADIR") ? getenv("MAMORI_DATADIR") : "share/mamori");
		report_input_calendar(in, c, "biz", 1);
		char pc[32];
		for (int i = 1; i <= pcs; i++) {
			snprintf(pc, sizeof pc, "pc-%02d", i);
			report_input_add_check(in, pc, "pc", "defender", "defender", "defender");
		}
		report_input_add_check(in, "utm-1", "utm", "utm", "utm", "utm");
		report_input_add_check(in, "mail", "mail", "latency", "mail_latency", "mail");
		double t[7];
		size_t len = 0;
		for (int r = 0; r < 7; r++) {
			char *out = NULL;
			double t0 = bench_mono();
			int rc = report_make(ro, in, &out, &len, err, sizeof err);
			t[r] = bench_mono() - t0;
			free(out);
			if (rc != REPORT_OK) {
				fprintf(stderr, "report_make: %s\n", err);
				return 1;
			}
		}
		double mn = t[0];
		for (int r = 1; r < 7; r++)
			mn = t[r] < mn ? t[r] : mn;
		printf("one_%s pcs=%d min_ms=%.1f median_ms=%.1f bytes=%zu\n", f ? "pdf" : "html",
		       pcs, mn * 1000, median(t, 7) * 1000, len);
		report_input_free(in);
	}
	cal_free(c);
	store_close(ro);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}

/* ---- all customers through a whole daemon ---- */

struct probe {
	ev_timer t;
	double expect, max, sum;
	unsigned long n, over5, over20;
};

static void on_probe(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = w->data;
	double now = ev_time();
	double late = now - p->expect;
	if (late < 0)
		late = 0;
	if (late > p->max)
		p->max = late;
	p->sum += late;
	p->n++;
	p->over5 += late > 0.005;
	p->over20 += late > 0.020;
	p->expect = now + 0.010;
	ev_timer_set(w, 0.010, 0);
	ev_timer_start(loop, w);
}

static void idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

static void spin(struct ev_loop *loop, double secs)
{
	ev_timer g;
	ev_timer_init(&g, idle_cb, 0.005, 0.005);
	ev_timer_start(loop, &g);
	double end = ev_time() + secs;
	while (ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &g);
}

/* p-th percentile (upper bound, µs) of a histogram of lags below 2^b µs. */
static double hist_pct(const uint32_t *h, double p)
{
	uint64_t total = 0, acc = 0;
	for (int b = 0; b < 64; b++)
		total += h[b];
	if (!total)
		return 0;
	for (int b = 0; b < 64; b++) {
		acc += h[b];
		if (acc >= p * total)
			return ldexp(1, b);
	}
	return ldexp(1, 63);
}

static void phase(const char *name, const uint32_t *before, const uint32_t *after,
                  const struct probe *p)
{
	uint32_t d[64];
	uint64_t n = 0;
	for (int b = 0; b < 64; b++) {
		d[b] = after[b] - before[b];
		n += d[b];
	}
	printf("%s check_runs=%llu check_lag_p50_us<=%.0f check_lag_p99_us<=%.0f "
	       "probe_max_ms=%.1f probe_mean_ms=%.2f probe_over_5ms=%lu probe_over_20ms=%lu\n",
	       name, (unsigned long long)n, hist_pct(d, 0.5), hist_pct(d, 0.99), p->max * 1000,
	       p->n ? p->sum / p->n * 1000 : 0, p->over5, p->over20);
}

static int all(int n, int pcs)
{
	const char *keep = getenv("REPORT_BENCH_DIR");
	char dir[600];
	if (keep && *keep)
		snprintf(dir, sizeof dir, "%s", keep);
	else {
		snprintf(dir, sizeof dir, "/tmp/mamori-rball.XXXXXX");
		if (!mkdtemp(dir))
			return 1;
	}
	double now = (double)time(NULL), from, to;
	int y, m;
	last_month(now, &y, &m, &from, &to);
	if (fill(dir, n, pcs, from, to) != 0)
		return 1;
	int workers = (int)bench_env_double("BENCH_REPORT_WORKERS", 2);
	struct bench_buf cfg = { 0 };
	bench_printf(
	    &cfg,
	    "daemon = { log_level = \"warning\"; node = \"bench\"; state_dir = \"%s\"; };\n"
	    "reports = { workers = %d; schedule = false; };\n"
	    "history = { enabled = true; };\n"
	    "customers = (\n",
	    dir, workers);
	for (int i = 0; i < n; i++) {
		char cu[32];
		cust_id(cu, sizeof cu, i);
		bench_printf(&cfg,
		             "%s{ id = \"%s\"; name = \"Customer %d\"; report = { email = "
		             "[ \"owner@%s.example\" ]; lang = \"%s\"; };\n assets = (",
		             i ? "," : "", cu, i, cu, i % 2 ? "en" : "ja");
		for (int k = 1; k <= pcs; k++)
			bench_printf(&cfg,
			             "{ name = \"pc-%02d\"; type = \"pc\"; checks = ( { plugin = "
			             "\"dummy\"; name = \"defender\"; service = \"defender\"; "
			             "interval = \"60s\"; } ); },",
			             k);
		bench_printf(&cfg,
		             "{ name = \"utm-1\"; type = \"utm\"; checks = ( { plugin = "
		             "\"dummy\"; name = \"utm\"; service = \"utm\"; interval = \"60s\"; } "
		             "); },"
		             "{ name = \"mail\"; checks = ( { plugin = \"dummy\"; name = "
		             "\"latency\"; service = \"mail\"; interval = \"60s\"; } ); } ) }\n");
	}
	bench_printf(&cfg, ");\n");
	const char *plugdir =
	    getenv("MAMORI_PLUGIN_DIR") ? getenv("MAMORI_PLUGIN_DIR") : "build/plugins";
	struct ev_loop *loop = ev_default_loop(0);
	struct server_opts o = { .config_text = cfg.p,
		                 .plugin_dir = plugdir,
		                 .data_dir = getenv("MAMORI_DATADIR") ? getenv("MAMORI_DATADIR")
		                                                      : "share/mamori" };
	log_set_level(LOG_LVL_WARNING);
	struct server *s = server_new(loop, &o);
	if (!s || server_start(s) != 0) {
		fprintf(stderr, "report_bench: the server did not start\n");
		return 1;
	}
	struct app *a = server_app(s);
	struct probe p = { 0 };
	ev_timer_init(&p.t, on_probe, 0.010, 0);
	p.t.data = &p;
	p.expect = ev_time() + 0.010;
	ev_timer_start(loop, &p.t);
	/* warm up: the first runs of every check (spread over the interval) */
	spin(loop, bench_env_double("BENCH_REPORT_WARMUP", 60));
	struct app_metrics m0, m1, m2;
	app_metrics(a, &m0);
	p.max = p.sum = 0;
	p.n = p.over5 = p.over20 = 0;
	double base = bench_env_double("BENCH_REPORT_BASELINE", 10);
	spin(loop, base);
	app_metrics(a, &m1);
	phase("baseline", m0.lag_buckets, m1.lag_buckets, &p);
	p.max = p.sum = 0;
	p.n = p.over5 = p.over20 = 0;
	double t0 = bench_mono(), c0 = bench_cpu();
	unsigned long long made = 0, und;
	unsigned infl;
	/* one walk, as the minute's timer would: each report that comes back
	 * starts the next */
	app_report_schedule_now(a);
	while (made < (unsigned long long)n) {
		spin(loop, 0.05);
		app_report_schedule_stats(a, &made, &und, &infl);
		if (bench_mono() - t0 > 3600) {
			fprintf(stderr, "report_bench: an hour and only %llu reports\n", made);
			break;
		}
	}
	double secs = bench_mono() - t0, cpu = bench_cpu() - c0;
	app_metrics(a, &m2);
	printf("all customers=%d pcs=%d workers=%d reports=%llu total_s=%.1f per_s=%.1f "
	       "cpu_s=%.1f rss_mb=%.0f\n",
	       n, pcs, workers, made, secs, made / secs, cpu, bench_rss_kib() / 1024.0);
	phase("during_reports", m1.lag_buckets, m2.lag_buckets, &p);
	printf("engine_lag_max_ms=%.1f (whole run)\n", m2.lag_max * 1000);
	app_metrics_clear(&m0);
	app_metrics_clear(&m1);
	app_metrics_clear(&m2);
	ev_timer_stop(loop, &p.t);
	server_stop(s);
	server_free(s);
	bench_buf_free(&cfg);
	if (!(keep && *keep)) {
		char cmd[700];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return made == (unsigned long long)n ? 0 : 1;
}

int main(int argc, char **argv)
{
	log_set_level(LOG_LVL_ERR);
	if (argc >= 2 && strcmp(argv[1], "one") == 0)
		return one(argc > 2 ? atoi(argv[2]) : 50);
	if (argc >= 3 && strcmp(argv[1], "fill") == 0) {
		/* a store for tests: last month's data of N customers */
		double now = (double)time(NULL), from, to;
		int y, m;
		last_month(now, &y, &m, &from, &to);
		return fill(argv[2], argc > 3 ? atoi(argv[3]) : 3, argc > 4 ? atoi(argv[4]) : 5,
		            from, to) == 0
		           ? 0
		           : 1;
	}
	if (argc >= 2 && strcmp(argv[1], "all") == 0)
		return all(argc > 2 ? atoi(argv[2]) : 5000, argc > 3 ? atoi(argv[3]) : 10);
	fprintf(stderr,
	        "usage: report_bench one [PCS] | all [CUSTOMERS [PCS]] | fill DIR [N [PCS]]\n");
	return 2;
}
