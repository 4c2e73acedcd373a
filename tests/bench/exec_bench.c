/*
 * exec_bench: `exec` checks running Debian's check_dummy through the whole
 * core (wheel -> exec plugin -> proc spawner -> state engine -> store), with
 * a small set of hot checks due as fast as possible inside a daemon of N
 * configured checks.  The point: the spawn rate must not depend on the
 * daemon's size (posix_spawn's vfork semantics copy no page tables).
 *
 *   build/bench/exec_bench N HOT PARALLEL SECONDS
 *
 * HOT exec checks have interval 1ms; the other N - HOT are exec checks too
 * (so the daemon holds N prepared commands) with interval 1d and a
 * check_period that opens only ~12 hours from now: they are scheduled in
 * the wheel but never spawn during the run.  The exec instance has
 * max_concurrent = PARALLEL (children in flight).  After a 2 s warm-up,
 * counts completions for SECONDS of wall time.  Prints
 *   "exec RATE/s completed C seconds S self_cpu_us_per_check U rss_kib R checks N"
 * Exits 1 if a hot check did not end OK or nothing completed.
 */
#include "bench.h"
#include "server/server.h"
#include "util/log.h"

#include <ev.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

struct gen {
	size_t hot;
	const char *cmd;
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

static void run_for(struct ev_loop *loop, double seconds)
{
	ev_timer t;
	ev_now_update(loop);
	ev_timer_init(&t, on_break, seconds, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void exec_check(struct bench_buf *b, size_t i, void *ud)
{
	const struct gen *g = ud;
	if (i < g->hot)
		bench_printf(
		    b,
		    "plugin = \"exec\"; command = \"%s\"; interval = \"1ms\"; retry_interval = \"1ms\";",
		    g->cmd);
	else
		bench_printf(b,
		             "plugin = \"exec\"; command = \"%s x%zu\"; check_period = \"idle\";",
		             g->cmd, i);
}

/* A calendar open for two minutes about 12 hours from now (UTC). */
static void idle_hours(char *buf, size_t size)
{
	time_t t = time(NULL) + 12 * 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	if (tm.tm_hour == 23 && tm.tm_min >= 58)
		tm.tm_min = 50;
	snprintf(buf, size, "mon-sun %02d:%02d-%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_hour,
	         tm.tm_min + 2);
	if (tm.tm_min + 2 >= 60)
		snprintf(buf, size, "mon-sun %02d:%02d-%02d:%02d", tm.tm_hour, tm.tm_min,
		         tm.tm_hour + 1, tm.tm_min + 2 - 60);
}

static char *gen_config(size_t n, size_t hot, int parallel)
{
	char hours[64], header[1024];
	idle_hours(hours, sizeof hours);
	snprintf(
	    header, sizeof header,
	    "daemon = { log_level = \"warning\"; };\n"
	    "defaults = { interval = \"1d\"; retry_interval = \"1d\"; max_attempts = 3; timeout = \"10s\"; };\n"
	    "plugins = ( { name = \"exec\"; max_concurrent = %d; } );\n"
	    "calendars = ( { name = \"idle\"; timezone = \"UTC\"; hours = [ \"%s\" ]; } );\n",
	    parallel, hours);
	struct gen g = { hot, env_or("BENCH_CHECK_DUMMY",
		                     "/usr/lib/nagios/plugins/check_dummy 0 bench") };
	struct bench_buf b = { 0 };
	bench_gen_config(&b, header, n, exec_check, &g);
	return b.p;
}

/* Every hot check that has run must have ended OK (a spawn failure or a
 * bad parse would be UNKNOWN); returns how many ran, -1 on a bad one. */
static long hot_ok(const struct server *s, size_t hot)
{
	long ran = 0;
	for (size_t i = 0; i < hot; i++) {
		char cu[24], as[24], ck[24];
		struct server_check_view v;
		snprintf(cu, sizeof cu, "c%06zu", i / 1000);
		snprintf(as, sizeof as, "a%02zu", (i / 10) % 100);
		snprintf(ck, sizeof ck, "k%zu", i % 10);
		if (server_check_view(s, cu, as, ck, &v) != 0)
			return -1;
		if (v.last_check <= 0)
			continue;
		if (v.state != 0 || strncmp(v.output, "OK", 2) != 0) {
			fprintf(stderr, "exec_bench: %s/%s/%s: state %d: %s\n", cu, as, ck, v.state,
			        v.output);
			return -1;
		}
		ran++;
	}
	return ran;
}

int main(int argc, char **argv)
{
	/* stderr, not syslog: run.sh keeps it for a failure report */
	log_open("bench", 1, LOG_LVL_WARNING);
	if (argc < 5) {
		fprintf(stderr, "usage: exec_bench N HOT PARALLEL SECONDS\n");
		return 2;
	}
	size_t n = (size_t)strtoull(argv[1], NULL, 10), hot = (size_t)strtoull(argv[2], NULL, 10);
	int parallel = atoi(argv[3]);
	double seconds = atof(argv[4]);
	if (!n || !hot || hot > n || parallel < 1 || seconds <= 0) {
		fprintf(stderr, "exec_bench: need 0 < HOT <= N, PARALLEL >= 1, SECONDS > 0\n");
		return 2;
	}
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	char dir[256];
	snprintf(dir, sizeof dir, "%s/mamori-bench.XXXXXX", env_or("TMPDIR", "/tmp"));
	if (!mkdtemp(dir))
		return 1;
	struct server_opts o = {
		.plugin_dir = env_or("BENCH_PLUGIN_DIR", "build/plugins"),
		.data_dir = env_or("BENCH_DATA_DIR", "share/mamori"),
		.state_dir = dir,
	};
	char *text = gen_config(n, hot, parallel);
	o.config_text = text;
	struct server *s = server_new(loop, &o);
	free(text);
	if (!s || server_start(s) != 0) {
		fprintf(stderr, "exec_bench: the core refused the generated config\n");
		rmdir(dir);
		return 1;
	}
	run_for(loop, 2);
	struct engine_stats a, z;
	server_get_stats(s, &a);
	double c0 = bench_cpu(), w0 = bench_mono();
	run_for(loop, seconds);
	double cpu = bench_cpu() - c0, wall = bench_mono() - w0;
	server_get_stats(s, &z);
	uint64_t done = z.runs_completed - a.runs_completed;
	int ok = done && hot_ok(s, hot) > 0 && z.runs_timed_out == a.runs_timed_out;
	printf(
	    "exec %.0f/s completed %llu seconds %.2f self_cpu_us_per_check %.0f rss_kib %ld checks %zu hot %zu parallel %d\n",
	    (double)done / wall, (unsigned long long)done, wall,
	    done ? cpu * 1e6 / (double)done : 0, bench_rss_kib(), n, hot, parallel);
	fflush(stdout);
	server_stop(s);
	server_free(s);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "exec_bench: could not remove %s\n", dir);
	return ok ? 0 : 1;
}
