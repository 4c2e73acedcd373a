/*
 * core_bench: in-process benchmarks of the core through the public server
 * API (server_new from config text, server_start, the libev loop, stats).
 *
 *   build/bench/core_bench pipeline N SECONDS store|nostore
 *       N dummy checks, interval 1ms, all due at once: the scheduler is
 *       always behind, so completions/s is the pipeline's throughput
 *       (wheel -> plugin -> state engine -> dirty list -> store).
 *   build/bench/core_bench series N SECONDS on|off [dummy|text|items]
 *       the store pipeline again, every check printing perfdata as
 *       check_ping does (two values with thresholds and units): with the
 *       perfdata history on, or off (history.enabled = false) as the
 *       reference of the same run; also prints the history's own figures
 *       (samples, raw rows) so an "on" run proves it recorded, and the
 *       loop thread's own CPU per check.  dummy: the same perfdata text
 *       at every run (the history repeats the values it parsed); text and
 *       items: the test plugin perfgen (build/tests/plugins, or
 *       BENCH_TESTPLUGIN_DIR), whose values change at every run, handed as
 *       text (parsed by the history) or as parsed items (as exec does).
 *   build/bench/core_bench series_rate N SECONDS on|off
 *       N perfgen checks (text, changing) every 1 s, first runs spread: a
 *       steady N results/s.  The process's CPU and the bytes it wrote
 *       (WAL and checkpoints: /proc/self/io wchar) per second, history on
 *       or off - what the history costs at a NOC's rate, not at the
 *       pipeline's limit.
 *   build/bench/core_bench lag N SECONDS
 *       N dummy checks, interval 1s, first runs spread: N checks/s at a
 *       steady rate; scheduling lag after a warm-up: the server's own
 *       histogram (log2 buckets) and the exact p99 of 100 sampled checks.
 *   build/bench/core_bench load N
 *       server_new time for N checks, then server_reload_text with one
 *       check changed and with nothing changed.
 *   build/bench/core_bench rss N
 *       RSS of an empty server, then of N configured checks after load,
 *       and after each has run once: KiB per check.
 *
 * Environment: BENCH_CONFIG_EXTRA, config text added to the generated
 * header (e.g. an http group: tests/bench/section-http.sh runs the
 * pipeline with its API listening); BENCH_GO_FILE, pipeline only: after
 * the warm-up, keep running until that file exists (at most 60 s) before
 * the window starts, so that a load generator started next to it is in
 * full swing when counting begins; BENCH_READY_FILE, pipeline only:
 * created after the warm-up (every check has run once), so a load
 * generator starts on the steady state - the engine yields to I/O while
 * it starts checks (a time budget), and event streams connected during
 * the first pass would otherwise get 100,000 first results.
 *
 * Each prints one "key value ..." line for tests/bench/run.sh.  Runs from
 * the source tree root (plugins in build/plugins, data in share/mamori;
 * override with BENCH_PLUGIN_DIR / BENCH_DATA_DIR).  Exits 1 when the core
 * refuses the config or nothing ran: a number is printed only if the work
 * it counts really happened.
 */
#include "bench.h"
#include "series/series.h"
#include "server/server.h"
#include "util/log.h"

#include <ev.h>
#include <malloc.h>
#include <stdint.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

struct bench_ctx {
	struct ev_loop *loop;
	struct server_opts opts;
	char state_dir[256];
};

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static void on_break(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop for `seconds` of wall time. */
static void run_for(struct ev_loop *loop, double seconds)
{
	ev_timer t;
	ev_now_update(loop);
	ev_timer_init(&t, on_break, seconds, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void ctx_init(struct bench_ctx *c, int store)
{
	memset(c, 0, sizeof *c);
	c->loop = ev_default_loop(EVFLAG_AUTO);
	c->opts.plugin_dir = env_or("BENCH_PLUGIN_DIR", "build/plugins");
	c->opts.data_dir = env_or("BENCH_DATA_DIR", "share/mamori");
	c->opts.no_store = !store;
	if (store) {
		snprintf(c->state_dir, sizeof c->state_dir, "%s/mamori-bench.XXXXXX",
		         env_or("TMPDIR", "/tmp"));
		if (!mkdtemp(c->state_dir)) {
			perror("core_bench: mkdtemp");
			exit(1);
		}
		c->opts.state_dir = c->state_dir;
	}
}

static void ctx_cleanup(struct bench_ctx *c)
{
	if (!c->state_dir[0])
		return;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->state_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "core_bench: could not remove %s\n", c->state_dir);
}

static const char header_fmt[] =
    "daemon = { log_level = \"warning\"; };\n"
    "defaults = { interval = \"%s\"; retry_interval = \"%s\"; max_attempts = 3; timeout = \"10s\"; };\n";

static void dummy_check(struct bench_buf *b, size_t i, void *ud)
{
	const size_t *changed = ud;
	bench_printf(b, "plugin = \"dummy\";%s", changed && *changed == i ? " state = 1;" : "");
}

static char *gen_dummy(size_t n, const char *interval, size_t changed)
{
	struct bench_buf b = { 0 };
	char header[4096];
	int hn = snprintf(header, sizeof header, header_fmt, interval, interval);
	snprintf(header + hn, sizeof header - (size_t)hn, "%s", env_or("BENCH_CONFIG_EXTRA", ""));
	bench_gen_config(&b, header, n, dummy_check, changed == SIZE_MAX ? NULL : &changed);
	return b.p;
}

static struct server *make_server(struct bench_ctx *c, const char *text, int no_spread)
{
	c->opts.config_text = text;
	c->opts.no_spread = no_spread;
	struct server *s = server_new(c->loop, &c->opts);
	if (!s) {
		fprintf(stderr, "core_bench: the core refused the generated config\n");
		exit(1);
	}
	return s;
}

static int bench_pipeline(size_t n, double seconds, int store)
{
	struct bench_ctx c;
	ctx_init(&c, store);
	char *text = gen_dummy(n, "1ms", SIZE_MAX);
	struct server *s = make_server(&c, text, 1);
	free(text);
	if (server_start(s) != 0)
		return 1;
	run_for(c.loop, seconds < 2 ? seconds / 2 : 1); /* warm up: caches, store pages */
	const char *ready = getenv("BENCH_READY_FILE");
	if (ready && *ready) {
		FILE *rf = fopen(ready, "w");
		if (rf)
			fclose(rf);
	}
	const char *go = getenv("BENCH_GO_FILE");
	for (int i = 0; go && *go && access(go, F_OK) != 0; i++) {
		if (i == 1200) {
			fprintf(stderr, "core_bench: %s did not appear within 60 s\n", go);
			return 1;
		}
		run_for(c.loop, 0.05);
	}
	struct engine_stats a, z;
	server_get_stats(s, &a);
	double c0 = bench_cpu(), w0 = bench_mono();
	run_for(c.loop, seconds);
	double cpu = bench_cpu() - c0, wall = bench_mono() - w0;
	server_get_stats(s, &z);
	uint64_t done = z.runs_completed - a.runs_completed, rows = z.rows_flushed - a.rows_flushed;
	printf(
	    "pipeline_%s %.0f/s completed %llu cpu %.2f wall %.2f wall_rate %.0f/s rows_recorded %.0f/s checks %zu\n",
	    store ? "store" : "nostore", (double)done / cpu, (unsigned long long)done, cpu, wall,
	    (double)done / wall, (double)rows / wall, n);
	/* The store group-commits the latest state of each dirty check; in a
	 * short window a single large batch may still be in flight, so the
	 * proof that states were recorded is the total after the final flush. */
	server_stop(s);
	server_get_stats(s, &z);
	server_free(s);
	ctx_cleanup(&c);
	return done && (!store || z.rows_flushed) ? 0 : 1;
}

/* CPU time of the calling thread (the loop's, in these benchmarks). */
static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define PING_PERF "rta=0.052000ms;100.000000;500.000000;0.000000 pl=0%;20;60;0"

static void perf_check(struct bench_buf *b, size_t i, void *ud)
{
	const char *mode = ud;
	if (strcmp(mode, "dummy") == 0)
		bench_printf(b, "plugin = \"dummy\"; perf = \"%s\";", PING_PERF);
	else
		bench_printf(b, "plugin = \"perfgen\"; mode = \"%s\";", mode);
}

/* Bytes this process handed to write()/pwrite() so far (the WAL's and
 * the checkpoints' writes), from /proc/self/io; -1 if unknown. */
static long long io_wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "wchar:", 6) == 0)
			v = atoll(line + 6);
	if (f)
		fclose(f);
	return v;
}

static int bench_series_run(size_t n, double seconds, int on, const char *mode,
                            const char *interval, int rate);

static int bench_series(size_t n, double seconds, int on, const char *mode)
{
	return bench_series_run(n, seconds, on, mode, "1ms", 0);
}

static int bench_series_run(size_t n, double seconds, int on, const char *mode,
                            const char *interval, int rate)
{
	struct bench_ctx c;
	ctx_init(&c, 1);
	char pdir[300] = "";
	if (strcmp(mode, "dummy") != 0) {
		/* a directory with perfgen alone (the test plugins' directory
		 * also holds the deliberately broken ones, which log) */
		char src[PATH_MAX], dst[400];
		snprintf(pdir, sizeof pdir, "%s/plugins", c.state_dir);
		snprintf(dst, sizeof dst, "%s/perfgen.so", pdir);
		if (!realpath(env_or("BENCH_TESTPLUGIN_DIR", "build/tests/plugins"), src) ||
		    mkdir(pdir, 0700) != 0 || symlink(strcat(src, "/perfgen.so"), dst) != 0) {
			perror("core_bench: perfgen plugin directory");
			return 1;
		}
		c.opts.plugin_dir = pdir;
	}
	char header[512];
	snprintf(header, sizeof header,
	         "daemon = { log_level = \"warning\"; };\n"
	         "history = { enabled = %s; };\n"
	         "defaults = { interval = \"%s\"; retry_interval = \"%s\"; max_attempts = 3;"
	         " timeout = \"10s\"; };\n",
	         on ? "true" : "false", interval, interval);
	struct bench_buf b = { 0 };
	bench_gen_config(&b, header, n, perf_check, (void *)mode);
	struct server *s = make_server(&c, b.p, !rate);
	bench_buf_free(&b);
	if (server_start(s) != 0)
		return 1;
	run_for(c.loop, rate ? 2.5 : seconds < 2 ? seconds / 2 : 1);
	struct engine_stats a, z;
	server_get_stats(s, &a);
	long long io0 = io_wchar();
	double c0 = bench_cpu(), w0 = bench_mono(), l0 = thread_cpu();
	run_for(c.loop, seconds);
	double cpu = bench_cpu() - c0, wall = bench_mono() - w0, loop = thread_cpu() - l0;
	long long io = io_wchar() - io0;
	server_get_stats(s, &z);
	uint64_t done = z.runs_completed - a.runs_completed;
	malloc_trim(0);
	long rss = bench_rss_kib();
	server_stop(s);
	struct series_stats hs = { 0 };
	server_series_stats(s, &hs);
	if (rate) {
		/* a steady rate: what the history costs in CPU and writes */
		printf("series_rate_%s cpu_pct %.2f loop_pct %.2f results_per_s %.0f"
		       " written_kib_per_s %.0f us_per_result %.2f rss_kib %ld samples %llu"
		       " series %llu checks %zu\n",
		       on ? "on" : "off", 100 * cpu / wall, 100 * loop / wall, (double)done / wall,
		       io / 1024.0 / wall, cpu * 1e6 / (double)(done ? done : 1), rss,
		       (unsigned long long)hs.samples, (unsigned long long)hs.series, n);
		server_free(s);
		ctx_cleanup(&c);
		return done && (!on || hs.series == 2 * n) ? 0 : 1;
	}
	printf("series_%s_%s %.0f/s completed %llu cpu %.2f loop_cpu %.2f loop_ns_per_check %.0f"
	       " wall %.2f samples %llu raw_rows %llu series %llu checks %zu\n",
	       mode, on ? "on" : "off", (double)done / cpu, (unsigned long long)done, cpu, loop,
	       loop * 1e9 / (double)(done ? done : 1), wall, (unsigned long long)hs.samples,
	       (unsigned long long)hs.raw_kept, (unsigned long long)hs.series, n);
	server_free(s);
	ctx_cleanup(&c);
	/* "on" must have recorded every label of every check */
	return done && (!on || (hs.samples && hs.series == 2 * n)) ? 0 : 1;
}

/* Exact lag of a sample of checks, seen from outside through
 * server_check_view after every loop iteration: when a sampled check's
 * last_check moves, lag = last_check - the next_due it had before (both
 * are ev_now / wheel times, as the server's own histogram uses).  The
 * server's histogram has log2 buckets; this gives the p99 itself. */
#define LAG_SAMPLE 100
struct lag_sampler {
	ev_check w;
	struct server *s;
	double last[LAG_SAMPLE], due[LAG_SAMPLE];
	double *lags;
	size_t n, cap;
};

static void sample_key(size_t idx, size_t n, char *cu, char *as, char *ck)
{
	size_t i = idx * (n / LAG_SAMPLE);
	snprintf(cu, 24, "c%06zu", i / 1000);
	snprintf(as, 24, "a%02zu", (i / 10) % 100);
	snprintf(ck, 24, "k%zu", i % 10);
}

static void on_sample(struct ev_loop *loop, ev_check *w, int revents)
{
	struct lag_sampler *ls = (struct lag_sampler *)w;
	struct engine_stats st;
	server_get_stats(ls->s, &st);
	for (size_t k = 0; k < LAG_SAMPLE; k++) {
		char cu[24], as[24], ck[24];
		struct server_check_view v;
		sample_key(k, (size_t)st.checks, cu, as, ck);
		if (server_check_view(ls->s, cu, as, ck, &v) != 0)
			continue;
		if (v.last_check != ls->last[k] && ls->due[k] > 0) {
			if (ls->n == ls->cap) {
				ls->cap = ls->cap ? ls->cap * 2 : 4096;
				ls->lags = realloc(ls->lags, ls->cap * sizeof *ls->lags);
				if (!ls->lags)
					abort();
			}
			ls->lags[ls->n++] = v.last_check - ls->due[k];
		}
		ls->last[k] = v.last_check;
		ls->due[k] = v.next_due;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double sampled_p99(struct lag_sampler *ls)
{
	if (!ls->n)
		return -1;
	qsort(ls->lags, ls->n, sizeof *ls->lags, cmp_double);
	return ls->lags[(ls->n * 99) / 100 < ls->n ? (ls->n * 99) / 100 : ls->n - 1];
}

static int bench_lag(size_t n, double seconds)
{
	struct bench_ctx c;
	ctx_init(&c, 1);
	char *text = gen_dummy(n, "1s", SIZE_MAX);
	struct server *s = make_server(&c, text, 0);
	free(text);
	if (server_start(s) != 0)
		return 1;
	run_for(c.loop, 1.5); /* every check has had its first (spread) run */
	server_lag_reset(s);
	struct lag_sampler ls = { .s = s };
	if (n >= LAG_SAMPLE) {
		ev_check_init(&ls.w, on_sample);
		ev_check_start(c.loop, &ls.w);
	}
	struct engine_stats a, z;
	server_get_stats(s, &a);
	double c0 = bench_cpu(), w0 = bench_mono();
	run_for(c.loop, seconds);
	double cpu = bench_cpu() - c0, wall = bench_mono() - w0;
	server_get_stats(s, &z);
	double p50, p99, max;
	server_lag_percentiles(s, &p50, &p99, &max);
	uint64_t done = z.runs_completed - a.runs_completed;
	if (n >= LAG_SAMPLE)
		ev_check_stop(c.loop, &ls.w);
	size_t samples = ls.n;
	double exact = sampled_p99(&ls);
	free(ls.lags);
	printf(
	    "lag p99_ms %.3f samples %zu hist_p99_ms_le %.3f hist_p50_ms_le %.3f max_ms %.3f rate %.0f/s cpu_pct %.1f checks %zu\n",
	    exact * 1e3, samples, p99 * 1e3, p50 * 1e3, max * 1e3, (double)done / wall,
	    100 * cpu / wall, n);
	server_stop(s);
	server_free(s);
	ctx_cleanup(&c);
	return done ? 0 : 1;
}

static int bench_load(size_t n)
{
	struct bench_ctx c;
	ctx_init(&c, 1);
	char *text = gen_dummy(n, "5m", SIZE_MAX);
	char *text2 = gen_dummy(n, "5m", n / 2);
	double t0 = bench_mono();
	struct server *s = make_server(&c, text, 0);
	double load = bench_mono() - t0;
	if (server_start(s) != 0)
		return 1;
	run_for(c.loop, 0.2);
	t0 = bench_mono();
	int rc1 = server_reload_text(s, text2);
	double reload = bench_mono() - t0;
	run_for(c.loop, 0.2);
	t0 = bench_mono();
	int rc2 = server_reload_text(s, text2);
	double same = bench_mono() - t0;
	struct engine_stats st;
	server_get_stats(s, &st);
	printf(
	    "load load_ms %.0f reload_ms %.0f reload_same_ms %.0f checks %llu config_bytes %zu\n",
	    load * 1e3, reload * 1e3, same * 1e3, (unsigned long long)st.checks, strlen(text));
	free(text);
	free(text2);
	server_stop(s);
	server_free(s);
	ctx_cleanup(&c);
	return rc1 || rc2 || st.checks != n;
}

static int bench_rss(size_t n)
{
	struct bench_ctx c;
	ctx_init(&c, 0);
	char *text = gen_dummy(0, "1d", SIZE_MAX);
	struct server *empty = make_server(&c, text, 1);
	free(text);
	malloc_trim(0);
	long rss0 = bench_rss_kib();
	text = gen_dummy(n, "1d", SIZE_MAX);
	struct server *s = make_server(&c, text, 1);
	free(text);
	malloc_trim(0);
	long rss1 = bench_rss_kib();
	if (server_start(s) != 0)
		return 1;
	struct engine_stats st = { 0 };
	for (int i = 0; i < 600 && st.runs_completed < n; i++) {
		run_for(c.loop, 0.05);
		server_get_stats(s, &st);
	}
	long rss2 = bench_rss_kib();
	printf(
	    "rss per_check_bytes %.0f after_run_bytes %.0f empty_kib %ld loaded_kib %ld ran_kib %ld checks %zu ran %llu\n",
	    (double)(rss1 - rss0) * 1024 / (double)n, (double)(rss2 - rss0) * 1024 / (double)n,
	    rss0, rss1, rss2, n, (unsigned long long)st.runs_completed);
	server_stop(s);
	server_free(s);
	server_free(empty);
	ctx_cleanup(&c);
	return st.runs_completed >= n ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: core_bench pipeline N SECONDS store|nostore |"
	                " series N SECONDS on|off [dummy|text|items] |"
	                " lag N SECONDS | load N | rss N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	/* stderr, not syslog: run.sh keeps it for a failure report */
	log_open("bench", 1, LOG_LVL_WARNING);
	if (argc < 3)
		usage();
	size_t n = (size_t)strtoull(argv[2], NULL, 10);
	double seconds = argc > 3 ? atof(argv[3]) : 3;
	if (n < 1 || seconds <= 0)
		usage();
	if (strcmp(argv[1], "pipeline") == 0 && argc > 4)
		return bench_pipeline(n, seconds, strcmp(argv[4], "store") == 0);
	if (strcmp(argv[1], "series_rate") == 0 && argc > 4)
		return bench_series_run(n, seconds, strcmp(argv[4], "on") == 0, "text", "1s", 1);
	if (strcmp(argv[1], "series") == 0 && argc > 4)
		return bench_series(n, seconds, strcmp(argv[4], "on") == 0,
		                    argc > 5 ? argv[5] : "dummy");
	if (strcmp(argv[1], "lag") == 0)
		return bench_lag(n, seconds);
	if (strcmp(argv[1], "load") == 0)
		return bench_load(n);
	if (strcmp(argv[1], "rss") == 0)
		return bench_rss(n);
	usage();
	return 2;
}
