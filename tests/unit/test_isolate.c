/*
 * Unit tests: isolate = true (src/plugin/proxy.c, src/plugin/isolate.c).
 *
 * The server runs on a real libev loop; isolated instances run in host
 * processes spawned from /proc/self/exe, so this binary's main() serves
 * `--plugin-host FD PATH` like mamorid does.  The loop is pumped with
 * EVRUN_ONCE and a guard timer (no sleep).  Plugins come from the build
 * directory this binary lives in, linked into a temporary plugin_dir.
 */
#include "app/app.h"
#include "config/config.h"
#include "plugin/isolate.h"
#include "plugin/loader.h"
#include "plugin/proxy.h"
#include "plugin/wire.h"
#include "server/server.h"
#include "util/log.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fx {
	struct ev_loop *loop;
	struct server *s;
	char tmp[64];
	char plugdir[128];
	char logs[32768]; /* captured log lines (errors, and notices where the conf asks) */
	size_t logs_len;
	int seen_host_down; /* a view showed "plugin host" */
	int seen_timeout;
};

static char builddir[PATH_MAX];

static void on_log(int level, const char *line, void *ud)
{
	struct fx *f = ud;
	size_t n = strlen(line);
	if (f->logs_len + n + 2 < sizeof f->logs) {
		memcpy(f->logs + f->logs_len, line, n);
		f->logs_len += n;
		f->logs[f->logs_len++] = '\n';
		f->logs[f->logs_len] = '\0';
	}
}

static void link_plugin(struct fx *f, const char *rel, const char *as)
{
	char src[PATH_MAX + 64], dst[256];
	snprintf(src, sizeof src, "%s/%s", builddir, rel);
	snprintf(dst, sizeof dst, "%s/%s", f->plugdir, as);
	ck_assert_msg(access(src, R_OK) == 0, "missing %s (build it first)", src);
	ck_assert_int_eq(symlink(src, dst), 0);
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof *f);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	snprintf(builddir, sizeof builddir, "%s", dirname(dirname(exe)));
	log_set_level(LOG_LVL_ERR);
	log_set_hook(on_log, f);
	snprintf(f->tmp, sizeof f->tmp, "/tmp/mamori-iso.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	snprintf(f->plugdir, sizeof f->plugdir, "%s/plugins", f->tmp);
	ck_assert_int_eq(mkdir(f->plugdir, 0700), 0);
	link_plugin(f, "plugins/dummy.so", "dummy.so");
	link_plugin(f, "plugins/exec.so", "exec.so");
	link_plugin(f, "tests/plugins/crashy.so", "crashy.so");
	link_plugin(f, "tests/plugins/passive_test.so", "passive_test.so");
	link_plugin(f, "tests/plugins/flood.so", "flood.so");
	link_plugin(f, "tests/plugins/memhog.so", "memhog.so");
	f->loop = ev_default_loop(0);
	ev_now_update(f->loop);
}

static struct server *fx_server(struct fx *f, const char *conf)
{
	struct server_opts o = {
		.config_text = conf, .plugin_dir = f->plugdir, .no_store = 1, .no_spread = 1
	};
	return server_new(f->loop, &o);
}

static void fx_start(struct fx *f, const char *conf)
{
	f->s = fx_server(f, conf);
	ck_assert_msg(f->s != NULL, "server_new refused:\n%s\n%s", conf, f->logs);
	ck_assert_int_eq(server_start(f->s), 0);
}

static void fx_done(struct fx *f)
{
	if (f->s)
		server_free(f->s);
	f->s = NULL;
	log_set_hook(NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static int pump(struct fx *f, double secs, int (*cond)(struct fx *f))
{
	ev_timer guard;
	ev_timer_init(&guard, guard_cb, 0.005, 0.005);
	ev_timer_start(f->loop, &guard);
	ev_now_update(f->loop);
	double end = ev_now(f->loop) + secs;
	int met = 0;
	while (ev_now(f->loop) < end) {
		ev_run(f->loop, EVRUN_ONCE);
		if (cond && cond(f)) {
			met = 1;
			break;
		}
	}
	ev_timer_stop(f->loop, &guard);
	return met;
}

static struct server_check_view view(struct fx *f, const char *ck)
{
	struct server_check_view v;
	ck_assert_msg(server_check_view(f->s, "c1", "h", ck, &v) == 0, "no check %s", ck);
	return v;
}

static struct engine_stats stats(struct fx *f)
{
	struct engine_stats st;
	server_get_stats(f->s, &st);
	return st;
}

#define CONF(plugins, checks)                                                                      \
	"daemon = { log_level = \"err\"; };\nplugins = ( " plugins " );\n"                         \
	"customers = ( { id = \"c1\"; assets = ( { name = \"h\"; checks = ( " checks               \
	" ); } ); } );\n"

/* ---- wire: the parser never trusts its input ---- */

START_TEST(wire_roundtrip_and_garbage)
{
	struct wbuf b = { 0 };
	size_t m = wire_begin(&b, WIRE_RESULT);
	wbuf_u32(&b, 7);
	wbuf_i32(&b, -3);
	wbuf_f64(&b, 2.5);
	wbuf_str(&b, "hello");
	wbuf_str(&b, NULL);
	wire_end(&b, m);
	struct rbuf r;
	int type = 0;
	ck_assert_int_eq(wire_frame(b.p, b.len - 1, &r, &type), 0); /* incomplete */
	ck_assert_int_eq(wire_frame(b.p, b.len, &r, &type), (long)b.len);
	ck_assert_int_eq(type, WIRE_RESULT);
	ck_assert_uint_eq(rbuf_u32(&r), 7);
	ck_assert_int_eq(rbuf_i32(&r), -3);
	ck_assert(rbuf_f64(&r) == 2.5);
	ck_assert_str_eq(rbuf_str(&r), "hello");
	ck_assert_ptr_null(rbuf_str(&r));
	ck_assert_int_eq(r.bad, 0);
	rbuf_u32(&r); /* past the end */
	ck_assert_int_eq(r.bad, 1);
	/* A string whose length runs past the frame, or lacks its NUL. */
	char bad[] = { 9, 0, 0, 0, 'a', 'b', 'c' };
	struct rbuf rb = { .p = bad, .len = sizeof bad };
	ck_assert_ptr_null(rbuf_str(&rb));
	ck_assert_int_eq(rb.bad, 1);
	char nonul[] = { 3, 0, 0, 0, 'a', 'b', 'c' };
	struct rbuf rn = { .p = nonul, .len = sizeof nonul };
	ck_assert_ptr_null(rbuf_str(&rn));
	ck_assert_int_eq(rn.bad, 1);
	/* Oversized or empty frame headers are refused. */
	uint32_t huge = WIRE_MAX + 1, zero = 0;
	ck_assert_int_eq(wire_frame((const char *)&huge, sizeof huge, &r, &type), -1);
	ck_assert_int_eq(wire_frame((const char *)&zero, sizeof zero, &r, &type), -1);
	/* Random garbage: any answer but a crash or an overread (ASan). */
	srand(42);
	for (int i = 0; i < 20000; i++) {
		char g[64];
		size_t n = (size_t)(rand() % (int)sizeof g);
		for (size_t k = 0; k < n; k++)
			g[k] = (char)(rand() % 4 == 0 ? rand() % 8 : rand());
		char *heap = malloc(n ? n : 1);
		memcpy(heap, g, n);
		long fl = wire_frame(heap, n, &r, &type);
		ck_assert(fl <= (long)n);
		for (int k = 0; fl > 0 && k < 8 && !r.bad; k++)
			(k % 2 ? (void)rbuf_str(&r) : (void)rbuf_u32(&r));
		free(heap);
	}
	wbuf_free(&b);
}
END_TEST

/* The core's reader (wire_reader, what proxy.c reads a host with): the
 * same messages whatever chunks the stream comes in, a bad frame breaks it
 * for good, handed-out bytes are dropped once more are needed. */
START_TEST(wire_reader_any_chunks)
{
	struct wbuf b = { 0 };
	size_t m = wire_begin(&b, WIRE_RESULT);
	wbuf_u32(&b, 9);
	wbuf_i32(&b, 0);
	wbuf_i32(&b, 2);
	wbuf_u32(&b, 0);
	wbuf_str(&b, "CRITICAL: disk");
	wbuf_str(&b, NULL);
	wbuf_str(&b, "d=1");
	wire_end(&b, m);
	m = wire_begin(&b, WIRE_PONG);
	wbuf_u32(&b, 4);
	wire_end(&b, m);
	m = wire_begin(&b, WIRE_FATAL);
	wbuf_i32(&b, 6);
	wbuf_u32(&b, 1000);
	wbuf_u32(&b, 2000);
	wire_end(&b, m);
	for (size_t chunk = 1; chunk <= b.len; chunk++) {
		struct wire_reader rd = { 0 };
		struct wire_host_msg msg;
		int got = 0;
		for (size_t off = 0; off < b.len; off += chunk) {
			size_t n = b.len - off < chunk ? b.len - off : chunk;
			wire_reader_put(&rd, b.p + off, n);
			int rc;
			while ((rc = wire_reader_next(&rd, &msg)) == 1) {
				if (got == 0) {
					ck_assert_int_eq(msg.type, WIRE_RESULT);
					ck_assert_uint_eq(msg.id, 9);
					ck_assert_int_eq(msg.state, 2);
					ck_assert_str_eq(msg.output, "CRITICAL: disk");
					ck_assert_ptr_null(msg.long_output);
					ck_assert_str_eq(msg.perf_text, "d=1");
				} else if (got == 1) {
					ck_assert_int_eq(msg.type, WIRE_PONG);
					ck_assert_uint_eq(msg.id, 4);
				} else {
					ck_assert_int_eq(msg.type, WIRE_FATAL);
					ck_assert_int_eq(msg.level, 6);
					ck_assert_uint_eq(msg.used_kib, 1000);
					ck_assert_uint_eq(msg.limit_kib, 2000);
				}
				got++;
			}
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(rd.off, 0); /* handed-out bytes dropped */
		}
		ck_assert_int_eq(got, 3);
		ck_assert_uint_eq(wire_reader_pending(&rd), 0);
		/* a frame of a type the core sends: broken, and stays so */
		uint32_t len = 5;
		unsigned char t = WIRE_PING;
		wire_reader_put(&rd, &len, 4);
		wire_reader_put(&rd, &t, 1);
		wire_reader_put(&rd, "\0\0\0\0", 4);
		ck_assert_int_eq(wire_reader_next(&rd, &msg), -1);
		wire_reader_put(&rd, b.p, b.len);
		ck_assert_int_eq(wire_reader_next(&rd, &msg), -1);
		wire_reader_reset(&rd);
		wire_reader_put(&rd, b.p, b.len);
		ck_assert_int_eq(wire_reader_next(&rd, &msg), 1);
		wire_reader_free(&rd);
	}
	wbuf_free(&b);
}
END_TEST

/* A plugin's metrics on the wire (ABI 1.2): what the host encodes the
 * core decodes, and truncated or lying bodies are refused, never read
 * past. */
START_TEST(wire_metrics_roundtrip_and_garbage)
{
	const char *lab[] = { "reason", "json", "kind", "x\"y" };
	struct mamori_metric in[2] = {
		{ .struct_size = sizeof in[0],
		  .type = MAMORI_METRIC_COUNTER,
		  .name = "reports_rejected_total",
		  .help = "Refused.",
		  .labels = lab,
		  .n_labels = 2,
		  .value = 42 },
		{ .struct_size = sizeof in[1],
		  .type = MAMORI_METRIC_GAUGE,
		  .name = "queue",
		  .value = -1.5 },
	};
	struct wbuf b = { 0 };
	size_t m = wire_begin(&b, WIRE_METRICS);
	wbuf_u32(&b, 2);
	wire_put_metric(&b, &in[0]);
	wire_put_metric(&b, &in[1]);
	wire_end(&b, m);
	struct rbuf r;
	int type = 0;
	ck_assert_int_eq(wire_frame(b.p, b.len, &r, &type), (long)b.len);
	ck_assert_int_eq(type, WIRE_METRICS);
	struct wire_host_msg hm;
	ck_assert_int_eq(wire_host_decode(type, &r, &hm), 0);
	ck_assert_uint_eq(hm.count, 2);
	struct rbuf walk = { .p = hm.data, .len = hm.data_len };
	struct mamori_metric x;
	const char *xl[2 * MAMORI_METRIC_MAX_LABELS];
	ck_assert_int_eq(wire_get_metric(&walk, &x, xl), 0);
	ck_assert_int_eq(x.type, MAMORI_METRIC_COUNTER);
	ck_assert_str_eq(x.name, "reports_rejected_total");
	ck_assert_str_eq(x.help, "Refused.");
	ck_assert_uint_eq(x.n_labels, 2);
	ck_assert_str_eq(x.labels[3], "x\"y");
	ck_assert(x.value == 42);
	ck_assert_int_eq(wire_get_metric(&walk, &x, xl), 0);
	ck_assert_ptr_null(x.help);
	ck_assert(x.value == -1.5);
	ck_assert_uint_eq(walk.off, walk.len);
	/* every truncation of the body is refused */
	struct rbuf whole;
	wire_frame(b.p, b.len, &whole, &type);
	for (size_t cut = 0; cut < whole.len; cut++) {
		char *heap = malloc(cut ? cut : 1);
		memcpy(heap, whole.p, cut);
		struct rbuf t = { .p = heap, .len = cut };
		ck_assert_msg(wire_host_decode(WIRE_METRICS, &t, &hm) == -1, "cut at %zu accepted",
		              cut);
		free(heap);
	}
	/* a count larger than the series sent, or over the limit; too many labels */
	char body[64];
	uint32_t big = 3;
	memcpy(body, &big, 4);
	struct rbuf t = { .p = body, .len = 4 };
	ck_assert_int_eq(wire_host_decode(WIRE_METRICS, &t, &hm), -1);
	big = MAMORI_METRIC_MAX_SERIES + 1;
	memcpy(body, &big, 4);
	t = (struct rbuf){ .p = body, .len = 4 };
	ck_assert_int_eq(wire_host_decode(WIRE_METRICS, &t, &hm), -1);
	struct wbuf w = { 0 };
	wbuf_u32(&w, 1);
	wbuf_i32(&w, 1);
	wbuf_str(&w, "a_total");
	wbuf_str(&w, NULL);
	wbuf_u32(&w, MAMORI_METRIC_MAX_LABELS + 1);
	t = (struct rbuf){ .p = w.p, .len = w.len };
	ck_assert_int_eq(wire_host_decode(WIRE_METRICS, &t, &hm), -1);
	wbuf_free(&w);
	/* random bodies: refused or accepted, never an overread (ASan) */
	srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 80);
		char *heap = malloc(n ? n : 1);
		for (size_t k = 0; k < n; k++)
			heap[k] = (char)(rand() % 3 == 0 ? rand() % 4 : rand());
		t = (struct rbuf){ .p = heap, .len = n };
		if (wire_host_decode(WIRE_METRICS, &t, &hm) == 0) {
			struct rbuf again = { .p = hm.data, .len = hm.data_len };
			for (uint32_t k = 0; k < hm.count; k++)
				ck_assert_int_eq(wire_get_metric(&again, &x, xl), 0);
		}
		free(heap);
	}
	wbuf_free(&b);
}
END_TEST

/* ---- dummy and exec isolated ---- */

static int both_done(struct fx *f)
{
	return view(f, "d").last_check > 0 && view(f, "e").last_check > 0;
}

START_TEST(dummy_and_exec_isolated)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f,
	         CONF("{ name = \"dummy\"; isolate = true; }, { name = \"exec\"; isolate = true; }",
	              "{ plugin = \"dummy\"; name = \"d\"; state = 2; output = \"iso crit\";"
	              " perf = \"'t'=5ms;10;20\"; interval = \"1h\"; },"
	              " { plugin = \"exec\"; name = \"e\"; interval = \"1h\"; command ="
	              " \"/usr/lib/nagios/plugins/check_dummy 1 warned\"; }"));
	ck_assert_msg(pump(&f, 10.0, both_done), "no results: %s", f.logs);
	struct server_check_view v = view(&f, "d");
	ck_assert_int_eq(v.state, 2);
	ck_assert_str_eq(v.output, "iso crit");
	ck_assert_msg(strstr(v.perfdata, "'t'=5ms;10;20") != NULL, "perf '%s'", v.perfdata);
	if (access("/usr/lib/nagios/plugins/check_dummy", X_OK) == 0) {
		v = view(&f, "e");
		ck_assert_int_eq(v.state, 1);
		ck_assert_msg(strstr(v.output, "warned") != NULL, "output '%s'", v.output);
	}
	ck_assert_uint_eq(stats(&f).runs_completed, 2);
	fx_done(&f);
}
END_TEST

/* The value of one series of the plugins' own metrics, -1 if absent. */
static double series_value(struct fx *f, const char *family, const char *labels)
{
	struct app_metrics m;
	app_metrics(server_app(f->s), &m);
	double v = -1;
	for (size_t i = 0; i < m.n_series; i++)
		if (strcmp(m.series[i].family, family) == 0 &&
		    strcmp(m.series[i].labels, labels) == 0)
			v = m.series[i].value;
	app_metrics_clear(&m);
	return v;
}

static int two_critical(struct fx *f)
{
	return series_value(f, "mamori_dummy_runs_total",
	                    "instance=\"dummy\",state=\"critical\"") == 2;
}

/* A plugin's metrics (ABI 1.2) from an isolated instance: its host sends
 * them with every pong and the core shows the last ones. */
START_TEST(metrics_of_isolated_instance)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF("{ name = \"dummy\"; isolate = true; }",
	                  "{ plugin = \"dummy\"; name = \"d\"; state = 2; interval = \"1h\"; },"
	                  " { plugin = \"dummy\"; name = \"d2\"; state = 2; interval = \"1h\"; },"
	                  " { plugin = \"dummy\"; name = \"d3\"; interval = \"1h\"; }"));
	ck_assert_msg(pump(&f, 10.0, two_critical), "no metrics from the host: %s", f.logs);
	ck_assert(series_value(&f, "mamori_dummy_runs_total", "instance=\"dummy\",state=\"ok\"") ==
	          1);
	ck_assert(series_value(&f, "mamori_dummy_runs_total",
	                       "instance=\"dummy\",state=\"warning\"") == 0);
	ck_assert(series_value(&f, "mamori_dummy_runs_delayed", "instance=\"dummy\"") == 0);
	fx_done(&f);
}
END_TEST

static int timed_out(struct fx *f)
{
	return stats(f).runs_timed_out > 0;
}

START_TEST(timeout_cancels_isolated_run)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF("{ name = \"dummy\"; isolate = true; }",
	                  "{ plugin = \"dummy\"; name = \"d\"; delay = \"1s\"; timeout = \"100ms\";"
	                  " interval = \"1h\"; }"));
	ck_assert(pump(&f, 5.0, timed_out));
	struct server_check_view v = view(&f, "d");
	ck_assert_int_eq(v.state, 3);
	ck_assert_msg(strstr(v.output, "timed out") != NULL, "output '%s'", v.output);
	/* The child cancelled it: no completion arrives later. */
	pump(&f, 1.5, NULL);
	ck_assert_uint_eq(stats(&f).late_completions, 0);
	ck_assert_uint_eq(stats(&f).runs_completed, 0);
	fx_done(&f);
}
END_TEST

/* ---- crash and hang ---- */

static int recovered(struct fx *f)
{
	struct server_check_view v = view(f, "x");
	if (strstr(v.output, "plugin host"))
		f->seen_host_down = 1;
	if (strstr(v.output, "timed out"))
		f->seen_timeout = 1;
	return strcmp(v.output, "recovered") == 0;
}

static void crash_case(const char *mode, double timeout_s, double limit)
{
	struct fx f;
	fx_init(&f);
	char conf[2048];
	snprintf(conf, sizeof conf,
	         CONF("{ name = \"crashy\"; isolate = true; }",
	              "{ plugin = \"crashy\"; name = \"x\"; mode = \"%s\"; marker = \"%s/m\";"
	              " interval = \"100ms\"; retry_interval = \"100ms\"; timeout = \"%gs\"; },"
	              " { plugin = \"dummy\"; name = \"d\"; interval = \"50ms\"; }"),
	         mode, f.tmp, timeout_s);
	fx_start(&f, conf);
	ck_assert_msg(pump(&f, limit, recovered), "not recovered: '%s'\n%s", view(&f, "x").output,
	              f.logs);
	ck_assert_msg(f.seen_host_down || f.seen_timeout, "never UNKNOWN: %s", f.logs);
	/* The in-process check kept its schedule meanwhile. */
	struct server_check_view d = view(&f, "d");
	ck_assert_int_eq(d.state, 0);
	ck_assert_msg(ev_now(f.loop) - d.last_check < 1.0, "dummy stalled: last %.3f now %.3f",
	              d.last_check, ev_now(f.loop));
	ck_assert_msg(strstr(f.logs, "plugin host of 'crashy'") != NULL, "no log: %s", f.logs);
	fx_done(&f);
}

START_TEST(segv_costs_only_its_checks)
{
	crash_case("segv_once", 2.0, 10.0);
}
END_TEST

START_TEST(hang_times_out_and_restarts)
{
	crash_case("hang_once", 0.3, 20.0);
}
END_TEST

/* ---- memory_limit ---- */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int oom_recovered(struct fx *f)
{
	struct server_check_view v = view(f, "x");
	if (strstr(v.output, "ran out of memory (memory_limit 64 MiB"))
		f->seen_host_down = 1;
	return strcmp(v.output, "recovered") == 0;
}

/* A runaway in check_start: its host fails under the limit, the run is
 * UNKNOWN naming the limit, the in-process check keeps its schedule, the
 * restarted host completes the check.  The plugin's cap (256 MiB) makes a
 * host without a limit a CRITICAL "no limit stopped", never an OK. */
START_TEST(memory_runaway_costs_only_its_checks)
{
#ifdef UNDER_ASAN
	return; /* no limit under ASan (src/plugin/isolate.c) */
#endif
	struct fx f;
	fx_init(&f);
	char conf[2048];
	snprintf(conf, sizeof conf,
	         CONF("{ name = \"memhog\"; isolate = true; memory_limit = \"64M\"; }",
	              "{ plugin = \"memhog\"; name = \"x\"; mode = \"grow_once\"; cap = 256;"
	              " marker = \"%s/m\"; interval = \"100ms\"; retry_interval = \"100ms\"; },"
	              " { plugin = \"dummy\"; name = \"d\"; interval = \"50ms\"; }"),
	         f.tmp);
	fx_start(&f, conf);
	ck_assert_msg(pump(&f, 15.0, oom_recovered), "not recovered: '%s'\n%s",
	              view(&f, "x").output, f.logs);
	ck_assert_msg(f.seen_host_down, "never UNKNOWN with the memory limit: %s", f.logs);
	ck_assert_msg(strstr(f.logs, "plugin host of 'memhog' ran out of memory (memory_limit 64 "
	                             "MiB") != NULL,
	              "not logged: %s", f.logs);
	struct server_check_view d = view(&f, "d");
	ck_assert_int_eq(d.state, 0);
	ck_assert_msg(ev_now(f.loop) - d.last_check < 1.0, "dummy stalled");
	fx_done(&f);
}
END_TEST

START_TEST(memory_limit_values)
{
	uint64_t v = 1;
	ck_assert_int_eq(config_parse_memory_limit("none", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(config_parse_memory_limit("512M", &v), 0);
	ck_assert_uint_eq(v, 512ull << 20);
	ck_assert_int_eq(config_parse_memory_limit("2GiB", &v), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(config_parse_memory_limit("64KB", &v), 0);
	ck_assert_uint_eq(v, 64ull << 10);
	ck_assert_int_eq(config_parse_memory_limit("1T", &v), 0);
	ck_assert_uint_eq(v, 1ull << 40);
	ck_assert_int_eq(config_parse_memory_limit("123", &v), 0);
	ck_assert_uint_eq(v, 123);
	const char *bad[] = { "",
		              "M",
		              "-1",
		              "1.5G",
		              "12 M",
		              "12m",
		              "1Gb",
		              "1GiBs",
		              "none ",
		              " 1G",
		              "0x10",
		              "16384P",
		              "99999999999999999999",
		              "17179869184G" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(config_parse_memory_limit(bad[i], &v) == -1, "accepted '%s'", bad[i]);
	/* config errors with the line; a small limit is refused */
	struct fx f;
	fx_init(&f);
	const char *cases[] = { "\"lots\"", "\"16M\"", "-5", "1.5" };
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char conf[1024];
		snprintf(conf, sizeof conf,
		         CONF("{ name = \"memhog\"; isolate = true;\n memory_limit = %s; }",
		              "{ plugin = \"memhog\"; name = \"x\"; mode = \"ok\"; }"),
		         cases[i]);
		f.logs_len = 0;
		f.logs[0] = '\0';
		struct server *srv = fx_server(&f, conf);
		ck_assert_msg(srv == NULL, "accepted memory_limit = %s", cases[i]);
		ck_assert_msg(strstr(f.logs, ":3: plugin 'memhog': memory_limit") != NULL,
		              "no line for %s: %s", cases[i], f.logs);
	}
	fx_done(&f);
}
END_TEST

START_TEST(fatal_why_names_the_limit)
{
	char b[128];
	proxy_fatal_why(6, 520000, 524288, b, sizeof b);
	ck_assert_str_eq(b, "ran out of memory (memory_limit 512 MiB, 507 MiB in use, signal 6)");
	/* a big block asked for at once: within 64 MiB of the limit */
	proxy_fatal_why(6, 524288 - 60000, 524288, b, sizeof b);
	ck_assert_ptr_nonnull(strstr(b, "ran out of memory"));
	proxy_fatal_why(11, 20480, 524288, b, sizeof b);
	ck_assert_str_eq(b, "crashed (signal 11)");
	/* small limits: a quarter of the limit is "near" */
	proxy_fatal_why(6, 50000, 65536, b, sizeof b);
	ck_assert_ptr_nonnull(strstr(b, "ran out of memory (memory_limit 64 MiB"));
	proxy_fatal_why(6, 30000, 65536, b, sizeof b);
	ck_assert_ptr_nonnull(strstr(b, "crashed (signal 6"));
	proxy_fatal_why(6, 1000, 0, b, sizeof b);
	ck_assert_ptr_nonnull(strstr(b, "crashed"));
}
END_TEST

START_TEST(always_crashing_stays_unknown)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f,
	         CONF("{ name = \"crashy\"; isolate = true; }",
	              "{ plugin = \"crashy\"; name = \"x\"; mode = \"segv\"; interval = \"100ms\";"
	              " retry_interval = \"100ms\"; },"
	              " { plugin = \"dummy\"; name = \"d\"; interval = \"50ms\"; }"));
	pump(&f, 2.5, NULL);
	struct server_check_view v = view(&f, "x");
	ck_assert_int_eq(v.state, 3);
	ck_assert_msg(strstr(v.output, "plugin host") != NULL, "output '%s'", v.output);
	ck_assert_int_eq(view(&f, "d").state, 0);
	fx_done(&f);
}
END_TEST

/* ---- descriptors ---- */

struct fdset {
	int n;
	int fd[256];
	char target[256][128];
};

/* pid's open descriptors >= minfd and what they point at. */
static void fds_of(const char *pid, int minfd, struct fdset *out)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	out->n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && out->n < 256) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd < minfd || (!strcmp(pid, "self") && fd == dirfd(d)))
			continue;
		char path[128];
		snprintf(path, sizeof path, "%s/%d", dir, fd);
		ssize_t n = readlink(path, out->target[out->n], sizeof out->target[0] - 1);
		out->target[out->n][n > 0 ? n : 0] = '\0';
		out->fd[out->n++] = fd;
	}
	closedir(d);
}

static int got_pid(struct fx *f)
{
	return strncmp(view(f, "x").output, "pid ", 4) == 0;
}

START_TEST(host_inherits_no_descriptors)
{
	struct fx f;
	fx_init(&f);
	/* What the core holds without close-on-exec: libmosquitto's socket
	 * and socket pair, say, and something far up. */
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	int pp[2];
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(pipe(pp), 0);
	int high = fcntl(pp[1], F_DUPFD, 900);
	ck_assert_int_ge(high, 900);
	struct fdset mine, host;
	fds_of("self", 3, &mine);
	fx_start(&f,
	         CONF("{ name = \"crashy\"; isolate = true; }",
	              "{ plugin = \"crashy\"; name = \"x\"; mode = \"pid\"; interval = \"1h\"; }"));
	ck_assert_msg(pump(&f, 10.0, got_pid), "no pid: %s", f.logs);
	fds_of(view(&f, "x").output + 4, 3, &host);
	/* Its socket is fd 3; whatever else it has it opened itself (its
	 * loop's descriptors): none of ours. */
	ck_assert_int_ge(host.n, 1);
	int has3 = 0;
	for (int i = 0; i < host.n; i++) {
		if (host.fd[i] == 3) {
			has3 = strncmp(host.target[i], "socket:", 7) == 0;
			continue;
		}
		ck_assert_msg(host.fd[i] < 900, "host has fd %d (%s)", host.fd[i], host.target[i]);
		for (int k = 0; k < mine.n; k++)
			ck_assert_msg(strncmp(mine.target[k], "anon_inode:", 11) == 0 ||
			                  strcmp(mine.target[k], host.target[i]) != 0,
			              "host fd %d is our fd %d (%s)", host.fd[i], mine.fd[k],
			              mine.target[k]);
	}
	ck_assert_msg(has3, "host's fd 3 is not its socket");
	close(sock);
	close(pp[0]);
	close(pp[1]);
	close(high);
	fx_done(&f);
}
END_TEST

/* ---- a host that floods the core ---- */

/* kB from /proc/self/status ("VmHWM:", "VmRSS:"). */
static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0)
			kb = atol(line + strlen(key));
	if (f)
		fclose(f);
	return kb;
}

/* The longest the loop may stall in the reload tests: a synchronous wait
 * for a host would be seconds; what remains is forking a host again and
 * a busy machine.  An ASan process forks slowly (its shadow memory). */
#if defined(__SANITIZE_ADDRESS__)
#define STALL_MAX 1.0
#else
#define STALL_MAX 0.25
#endif

/* What the core may grow by while a host floods it: far below the 256 MiB
 * sent.  AddressSanitizer keeps freed blocks in its quarantine (256 MiB by
 * default) and pads every allocation, so the frames the core read and
 * dropped still count in its peak there. */
#if defined(__SANITIZE_ADDRESS__)
#define FLOOD_GROWTH_KB (128 * 1024)
#else
#define FLOOD_GROWTH_KB (64 * 1024)
#endif

/* Start the core with an isolated flood instance that floods during its
 * init, which the core waits for: refused at once, with why, and the
 * core's peak memory grew by far less than the 256 MiB the host sent. */
static void flood_init_case(const char *kind, const char *why)
{
	struct fx f;
	fx_init(&f);
	char conf[512];
	snprintf(conf, sizeof conf,
	         CONF("{ name = \"flood\"; isolate = true; flood = \"%s\"; }", ""), kind);
	/* the peak so far is forgotten: VmHWM restarts from VmRSS */
	FILE *cr = fopen("/proc/self/clear_refs", "w");
	ck_assert_ptr_nonnull(cr);
	fputs("5", cr);
	fclose(cr);
	long before = status_kb("VmRSS:");
	ev_now_update(f.loop);
	double t0 = ev_time();
	struct server *s = fx_server(&f, conf);
	double took = ev_time() - t0;
	long grew = status_kb("VmHWM:") - before;
	if (s)
		server_free(s);
	ck_assert_msg(s == NULL, "a flooding host was accepted");
	ck_assert_msg(strstr(f.logs, why) != NULL, "logs: %s", f.logs);
	ck_assert_msg(grew < FLOOD_GROWTH_KB, "the core grew by %ld kB", grew);
	ck_assert_msg(took < 5.0, "took %.1fs", took);
	fx_done(&f);
}

START_TEST(log_flood_while_waiting_is_bounded)
{
	flood_init_case("log", "flooded the core with log messages");
}
END_TEST

/* Replies to nothing: the core keeps nothing of them - the first one
 * marks the host broken. */
START_TEST(reply_flood_while_waiting_is_bounded)
{
	flood_init_case("replies", "answered a request it was not sent");
}
END_TEST

static int flood_unknown(struct fx *f)
{
	struct server_check_view v = view(f, "x");
	return v.state == 3 && strstr(v.output, "flooded the core with log messages") != NULL;
}

/* The restarted host floods (nobody waits: the loop reads it): it is
 * treated as broken, its checks go UNKNOWN saying why, other checks
 * carry on. */
START_TEST(flooding_host_goes_unknown)
{
	struct fx f;
	fx_init(&f);
	char conf[1024];
	snprintf(conf, sizeof conf,
	         CONF("{ name = \"flood\"; isolate = true; flood = \"log\"; frames = 64;"
	              " marker = \"%s/m\"; }",
	              "{ plugin = \"flood\"; name = \"x\"; interval = \"100ms\";"
	              " retry_interval = \"100ms\"; },"
	              " { plugin = \"dummy\"; name = \"d\"; interval = \"50ms\"; }"),
	         f.tmp);
	fx_start(&f, conf);
	ck_assert_msg(pump(&f, 10.0, flood_unknown), "output '%s'\n%s", view(&f, "x").output,
	              f.logs);
	ck_assert_msg(strstr(f.logs, "plugin host of 'flood' flooded the core with log messages") !=
	                  NULL,
	              "logs: %s", f.logs);
	struct server_check_view d = view(&f, "d");
	ck_assert_int_eq(d.state, 0);
	ck_assert_msg(ev_now(f.loop) - d.last_check < 1.0, "dummy stalled");
	fx_done(&f);
}
END_TEST

/* ---- a slow host ---- */

/* Three prepares of 4 s each at startup: all answers of one build share
 * one 10 s deadline, so the third one fails - not 30 s of waiting (10 s
 * per check) - and the start is refused. */
START_TEST(slow_prepares_share_one_timeout)
{
	struct fx f;
	fx_init(&f);
	double t0 = ev_time();
	struct server *s = fx_server(
	    &f,
	    CONF(
	        "{ name = \"crashy\"; isolate = true; }",
	        "{ plugin = \"crashy\"; name = \"a\"; mode = \"slow_prepare\"; delay = \"4s\"; },"
	        "{ plugin = \"crashy\"; name = \"b\"; mode = \"slow_prepare\"; delay = \"4s\"; },"
	        "{ plugin = \"crashy\"; name = \"c\"; mode = \"slow_prepare\"; delay = \"4s\"; }"));
	double took = ev_time() - t0;
	if (s)
		server_free(s);
	ck_assert_msg(s == NULL, "accepted after %.1fs", took);
	ck_assert_msg(took < 11.0, "took %.1fs", took);
	ck_assert_msg(strstr(f.logs, "did not answer in time") != NULL, "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

/* ---- config ---- */

START_TEST(prepare_error_is_config_error)
{
	struct fx f;
	fx_init(&f);
	struct server *s =
	    fx_server(&f, CONF("{ name = \"crashy\"; isolate = true; }",
	                       "{ plugin = \"crashy\"; name = \"x\";\n mode = \"bogus\"; }"));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(f.logs, ":4: key 'mode': unknown mode 'bogus'") != NULL, "logs: %s",
	              f.logs);
	fx_done(&f);
}
END_TEST

/* ---- the default: shipped plugins in-process, others isolated ---- */

#define CONF_NOTICE(plugins, checks)                                                               \
	"daemon = { log_level = \"notice\"; };\nplugins = ( " plugins " );\n"                      \
	"customers = ( { id = \"c1\"; assets = ( { name = \"h\"; checks = ( " checks               \
	" ); } ); } );\n"

#define PID_CHECK   "{ plugin = \"crashy\"; name = \"x\"; mode = \"pid\"; interval = \"1h\"; }"
#define DUMMY_CHECK "{ plugin = \"dummy\"; name = \"d\"; state = 0; interval = \"1h\"; }"

static int x_done(struct fx *f)
{
	return view(f, "x").last_check > 0;
}

static int d_done(struct fx *f)
{
	return view(f, "d").last_check > 0;
}

/* The pid crashy's "pid" mode reported, -1 if none. */
static long reported_pid(struct fx *f)
{
	struct server_check_view v = view(f, "x");
	long pid = -1;
	if (sscanf(v.output, "pid %ld", &pid) != 1)
		return -1;
	return pid;
}

/* 1 when this process has a child (a plugin host) alive. */
static int have_children(void)
{
	int st;
	pid_t r = waitpid(-1, &st, WNOHANG);
	ck_assert_msg(r >= 0 || errno == ECHILD, "waitpid: %s", strerror(errno));
	ck_assert_msg(r <= 0, "a child exited unexpectedly");
	return r == 0;
}

START_TEST(shipped_list_stamped)
{
	ck_assert_int_eq(loader_is_shipped("dummy", "/x/plugins/dummy.so"), 1);
	ck_assert_int_eq(loader_is_shipped("exec", "exec.so"), 1);
	ck_assert_int_eq(loader_is_shipped("crashy", "/x/crashy.so"), 0);
	ck_assert_int_eq(loader_is_shipped("passive_test", "/x/passive_test.so"), 0);
	/* the name alone is not enough: the build names the file after it */
	ck_assert_int_eq(loader_is_shipped("dummy", "/x/vendor_dummy.so"), 0);
	ck_assert_int_eq(loader_is_shipped("dumm", "/x/dumm.so"), 0);
	ck_assert_int_eq(loader_is_shipped("", "/x/.so"), 0);
	ck_assert_int_eq(loader_is_shipped(NULL, "/x/dummy.so"), 0);
}
END_TEST

START_TEST(foreign_plugin_isolated_by_default)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF("{ name = \"crashy\"; }", PID_CHECK));
	ck_assert_msg(pump(&f, 10.0, x_done), "no result: %s", f.logs);
	long pid = reported_pid(&f);
	ck_assert_msg(pid > 0, "output '%s'", view(&f, "x").output);
	ck_assert_int_ne(pid, (long)getpid());
	ck_assert_int_eq(have_children(), 1);
	fx_done(&f);
}
END_TEST

/* A plugin that is not configured at all gets a default instance: isolated too. */
START_TEST(foreign_default_instance_isolated)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, "daemon = { log_level = \"err\"; };\n"
	             "customers = ( { id = \"c1\"; assets = ( { name = \"h\"; checks = ( " PID_CHECK
	             " ); } ); } );\n");
	ck_assert_msg(pump(&f, 10.0, x_done), "no result: %s", f.logs);
	long pid = reported_pid(&f);
	ck_assert_msg(pid > 0, "output '%s'", view(&f, "x").output);
	ck_assert_int_ne(pid, (long)getpid());
	fx_done(&f);
}
END_TEST

START_TEST(foreign_plugin_in_process_when_asked)
{
	struct fx f;
	fx_init(&f);
	log_set_level(LOG_LVL_NOTICE); /* config logs while parsing */
	fx_start(&f, CONF_NOTICE("{ name = \"crashy\"; isolate = false; }", PID_CHECK));
	ck_assert_msg(pump(&f, 10.0, x_done), "no result: %s", f.logs);
	ck_assert_int_eq(reported_pid(&f), (long)getpid());
	ck_assert_int_eq(have_children(), 0);
	ck_assert_msg(strstr(f.logs, "plugin 'crashy'") &&
	                  strstr(f.logs, "is not shipped with mamori and runs in-process"),
	              "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

START_TEST(shipped_plugin_in_process_by_default)
{
	struct fx f;
	fx_init(&f);
	log_set_level(LOG_LVL_NOTICE); /* config logs while parsing */
	fx_start(&f, CONF_NOTICE("{ name = \"dummy\"; }", DUMMY_CHECK));
	ck_assert_msg(pump(&f, 10.0, d_done), "no result: %s", f.logs);
	ck_assert_int_eq(view(&f, "d").state, 0);
	ck_assert_int_eq(have_children(), 0);
	ck_assert_msg(strstr(f.logs, "not shipped") == NULL, "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

START_TEST(shipped_plugin_isolated_when_asked)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF("{ name = \"dummy\"; isolate = true; }", DUMMY_CHECK));
	ck_assert_msg(pump(&f, 10.0, d_done), "no result: %s", f.logs);
	ck_assert_int_eq(have_children(), 1);
	fx_done(&f);
}
END_TEST

/* A passive plugin cannot run in a host: not shipped, it still loads,
 * in-process, with a warning. */
START_TEST(foreign_passive_in_process_with_warning)
{
	struct fx f;
	fx_init(&f);
	log_set_level(LOG_LVL_NOTICE); /* config logs while parsing */
	fx_start(&f, CONF_NOTICE("{ name = \"passive_test\"; }", ""));
	ck_assert_msg(strstr(f.logs, "plugin 'passive_test'") &&
	                  strstr(f.logs, "cannot be isolated and runs in-process"),
	              "logs: %s", f.logs);
	ck_assert_int_eq(have_children(), 0);
	fx_done(&f);
}
END_TEST

START_TEST(passive_cannot_be_isolated)
{
	struct fx f;
	fx_init(&f);
	struct server *s = fx_server(&f, CONF("{ name = \"passive_test\"; isolate = true; }", ""));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(f.logs, "not possible for a passive plugin") != NULL, "logs: %s",
	              f.logs);
	fx_done(&f);
}
END_TEST

/* ---- reload: the loop never waits for a host ---- */

/* The loop's worst stall: a 5 ms timer notes the longest gap (real time)
 * between two of its runs; the pump itself never sleeps longer. */
struct stall {
	ev_timer t; /* first: the callback gets it */
	double last, worst;
};

static void stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct stall *st = (struct stall *)w;
	double now = ev_time();
	if (now - st->last > st->worst)
		st->worst = now - st->last;
	st->last = now;
}

static void stall_start(struct fx *f, struct stall *st)
{
	memset(st, 0, sizeof *st);
	ev_timer_init(&st->t, stall_cb, 0.005, 0.005);
	st->last = ev_time();
	ev_timer_start(f->loop, &st->t);
}

static double stall_stop(struct fx *f, struct stall *st)
{
	stall_cb(f->loop, &st->t, 0);
	ev_timer_stop(f->loop, &st->t);
	return st->worst;
}

static int reload_done(struct fx *f)
{
	return !server_reload_pending(f->s);
}

static int x_ran(struct fx *f)
{
	return view(f, "x").last_check > 0;
}

static int has_check(struct fx *f, const char *name)
{
	struct server_check_view v;
	return server_check_view(f->s, "c1", "h", name, &v) == 0;
}

static unsigned reloads(struct fx *f, unsigned *refused)
{
	unsigned ok, bad;
	server_reload_counts(f->s, &ok, &bad);
	if (refused)
		*refused = bad;
	return ok;
}

/* notices too: the reload's own log lines */
#define CONF_N(plugins, checks)                                                                    \
	"daemon = { log_level = \"notice\"; };\nplugins = ( " plugins " );\n"                      \
	"customers = ( { id = \"c1\"; assets = ( { name = \"h\"; checks = ( " checks               \
	" ); } ); } );\n"
#define ISO_CRASHY "{ name = \"crashy\"; isolate = true; }"
#define BASE_CHECKS                                                                                \
	"{ plugin = \"crashy\"; name = \"x\"; mode = \"pid\"; interval = \"100ms\";"               \
	" retry_interval = \"100ms\"; timeout = \"20s\"; },"                                       \
	" { plugin = \"dummy\"; name = \"d\"; interval = \"50ms\"; }"

static int slow_ran(struct fx *f)
{
	return has_check(f, "slow") && strcmp(view(f, "slow").output, "crashy ok") == 0;
}

/* A host takes 5 s to answer a prepare: the reload waits for it on the
 * loop - the running checks go on, the loop never stalls - and commits
 * once the answer is in. */
START_TEST(reload_waits_for_a_slow_host_on_the_loop)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF_N(ISO_CRASHY, BASE_CHECKS));
	ck_assert_msg(pump(&f, 10.0, x_ran), "no result: %s", f.logs);
	struct stall st;
	stall_start(&f, &st);
	double t0 = ev_time();
	int rc = server_reload_text(f.s, CONF_N(ISO_CRASHY, BASE_CHECKS
	                                        ", { plugin = \"crashy\"; name = \"slow\";"
	                                        " mode = \"slow_prepare\"; delay = \"5s\"; }"));
	double call = ev_time() - t0;
	ck_assert_int_eq(rc, 1);
	ck_assert(server_reload_pending(f.s));
	/* Half-way: the old model is still the one running, on schedule. */
	pump(&f, 2.5, NULL);
	ck_assert(server_reload_pending(f.s));
	ck_assert(!has_check(&f, "slow"));
	struct server_check_view d = view(&f, "d");
	ck_assert_msg(ev_now(f.loop) - d.last_check < 0.5, "d stalled: last %.3f now %.3f",
	              d.last_check, ev_now(f.loop));
	ck_assert_msg(pump(&f, 10.0, reload_done), "still pending: %s", f.logs);
	double waited = ev_time() - t0;
	double worst = stall_stop(&f, &st);
	unsigned refused, ok = reloads(&f, &refused);
	printf("reload with a 5 s isolated prepare: reload call %.1f ms, committed after %.2f s, "
	       "worst loop stall %.1f ms\n",
	       call * 1000, waited, worst * 1000);
	ck_assert_msg(ok == 1 && refused == 0, "committed %u refused %u: %s", ok, refused, f.logs);
	ck_assert_msg(waited > 4.5, "committed after %.2f s: did not wait for the answer", waited);
	ck_assert_msg(worst < STALL_MAX, "the loop stalled %.1f ms", worst * 1000);
	ck_assert_msg(strstr(f.logs, "reload: waiting for 1 answer of isolated plugins") != NULL,
	              "logs: %s", f.logs);
	ck_assert_msg(strstr(f.logs, "configuration reloaded") != NULL, "logs: %s", f.logs);
	ck_assert_msg(pump(&f, 10.0, slow_ran), "slow: '%s'\n%s",
	              has_check(&f, "slow") ? view(&f, "slow").output : "(none)", f.logs);
	ck_assert_int_eq(view(&f, "x").state, 0); /* its host was never declared hung */
	ck_assert_msg(strstr(f.logs, "hung") == NULL, "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

static int pid_of(struct fx *f)
{
	const char *o = view(f, "x").output;
	return strncmp(o, "pid ", 4) == 0 ? atoi(o + 4) : 0;
}

static int old_pid;

static int new_pid(struct fx *f)
{
	int p = pid_of(f);
	return p && p != old_pid;
}

/* An instance block changes: a new host starts (its init and prepare
 * answered on the loop) and the old one, slow to leave (its destroy takes
 * 3 s), is not waited for: it gets a second, then SIGKILL. */
START_TEST(replaced_host_is_not_waited_for)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF_N("{ name = \"crashy\"; isolate = true; destroy_delay = \"3s\"; }",
	                    BASE_CHECKS));
	ck_assert_msg(pump(&f, 10.0, got_pid), "no pid: %s", f.logs);
	old_pid = pid_of(&f);
	struct stall st;
	stall_start(&f, &st);
	int rc = server_reload_text(
	    f.s,
	    CONF_N("{ name = \"crashy\"; isolate = true; destroy_delay = \"2s\"; }", BASE_CHECKS));
	ck_assert_int_eq(rc, 1); /* the new host's init and x's prepare */
	ck_assert_msg(pump(&f, 10.0, reload_done), "still pending: %s", f.logs);
	ck_assert_uint_eq(reloads(&f, NULL), 1);
	ck_assert_msg(pump(&f, 5.0, new_pid), "x still from host %d: %s", old_pid, f.logs);
	pump(&f, 1.5, NULL); /* the old host's grace is over */
	double worst = stall_stop(&f, &st);
	printf("reload replacing a host slow to leave: worst loop stall %.1f ms\n", worst * 1000);
	ck_assert_msg(worst < STALL_MAX, "the loop stalled %.1f ms", worst * 1000);
	ck_assert_msg(kill(old_pid, 0) != 0 && errno == ESRCH, "old host %d still there", old_pid);
	fx_done(&f);
}
END_TEST

/* A reload whose new check's prepare fails in the host: refused with the
 * same lines as a synchronous refusal (a host that never answers: at the
 * deadline, 2 s here), the running model stays, a host that hung or
 * crashed is restarted (`restarted`), the loop never stalls. */
static void refused_case(const char *mode, const char *why, int restarted)
{
	struct fx f;
	fx_init(&f);
	proxy_set_answer_timeout(2.0);
	fx_start(&f, CONF_N(ISO_CRASHY, BASE_CHECKS));
	ck_assert_msg(pump(&f, 10.0, got_pid), "no pid: %s", f.logs);
	old_pid = pid_of(&f);
	struct stall st;
	stall_start(&f, &st);
	double t0 = ev_time();
	char conf[2048];
	snprintf(conf, sizeof conf,
	         CONF_N(ISO_CRASHY, BASE_CHECKS ", { plugin = \"crashy\"; name = \"bad\";\n"
	                                        " mode = \"%s\"; }"),
	         mode);
	ck_assert_int_eq(server_reload_text(f.s, conf), 1);
	ck_assert_msg(pump(&f, 10.0, reload_done), "still pending: %s", f.logs);
	double took = ev_time() - t0;
	unsigned refused, ok = reloads(&f, &refused);
	ck_assert_msg(ok == 0 && refused == 1, "committed %u refused %u: %s", ok, refused, f.logs);
	ck_assert(!has_check(&f, "bad"));
	ck_assert_msg(strstr(f.logs, "reload refused: plugins rejected the configuration; the "
	                             "running configuration stays") != NULL,
	              "logs: %s", f.logs);
	ck_assert_msg(strstr(f.logs, why) != NULL, "no '%s' in: %s", why, f.logs);
	/* The host is back (or never left), with the running model's check. */
	if (restarted)
		ck_assert_msg(pump(&f, 10.0, new_pid), "x not back: '%s'\n%s", view(&f, "x").output,
		              f.logs);
	else
		ck_assert_int_eq(pid_of(&f), old_pid);
	pump(&f, 0.3, NULL);
	ck_assert_int_eq(view(&f, "x").state, 0);
	ck_assert_msg(ev_now(f.loop) - view(&f, "x").last_check < 0.5, "x stalled");
	struct server_check_view d = view(&f, "d");
	ck_assert_msg(ev_now(f.loop) - d.last_check < 0.5, "d stalled");
	double worst = stall_stop(&f, &st);
	printf("reload refused (%s): after %.2f s, worst loop stall %.1f ms\n", mode, took,
	       worst * 1000);
	ck_assert_msg(worst < STALL_MAX, "the loop stalled %.1f ms", worst * 1000);
	proxy_set_answer_timeout(0);
	fx_done(&f);
}

START_TEST(reload_refused_when_host_never_answers)
{
	/* at the check's group: its first line */
	refused_case("hang_prepare",
	             "(config):3: the plugin host did not answer in time "
	             "(crashed, hung or too slow) while preparing this check",
	             1);
}
END_TEST

START_TEST(reload_refused_when_host_crashes_in_prepare)
{
	refused_case("segv_prepare", "while preparing this check", 1);
}
END_TEST

/* A prepare error from the host refuses the reload at the key's line. */
START_TEST(reload_refused_with_host_error_at_its_line)
{
	refused_case("bogus", "(config):4: key 'mode': unknown mode 'bogus'", 0);
}
END_TEST

static int two_done(struct fx *f)
{
	return reloads(f, NULL) == 2 && !server_reload_pending(f->s);
}

/* Reloads asked for while one is pending coalesce into one more, which
 * reads the latest configuration once the pending one is done. */
START_TEST(reloads_while_pending_coalesce)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF_N(ISO_CRASHY, BASE_CHECKS));
	ck_assert_msg(pump(&f, 10.0, x_ran), "no result: %s", f.logs);
#define SLOW1 ", { plugin = \"crashy\"; name = \"slow\"; mode = \"slow_prepare\"; delay = \"1s\"; }"
	ck_assert_int_eq(server_reload_text(f.s, CONF_N(ISO_CRASHY, BASE_CHECKS SLOW1)), 1);
	ck_assert_int_eq(
	    server_reload_text(f.s, CONF_N(ISO_CRASHY, BASE_CHECKS SLOW1
	                                   ", { plugin = \"dummy\"; name = \"second\"; }")),
	    1);
	ck_assert_int_eq(
	    server_reload_text(f.s, CONF_N(ISO_CRASHY, BASE_CHECKS SLOW1
	                                   ", { plugin = \"dummy\"; name = \"third\"; }")),
	    1);
	ck_assert_msg(pump(&f, 10.0, two_done), "reloads %u: %s", reloads(&f, NULL), f.logs);
	pump(&f, 0.5, NULL);
	ck_assert_uint_eq(reloads(&f, NULL), 2); /* not three */
	ck_assert(has_check(&f, "slow"));
	ck_assert(has_check(&f, "third"));
	ck_assert(!has_check(&f, "second"));
	ck_assert_msg(strstr(f.logs, "it follows when that one is done") != NULL, "logs: %s",
	              f.logs);
	ck_assert_msg(strstr(f.logs, "reloading again") != NULL, "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

static int x_recovered(struct fx *f)
{
	return strcmp(view(f, "x").output, "recovered") == 0;
}

/* A host restarted after a crash prepares its checks again, one of them
 * in 8 s: busy with prepare requests, it is not declared hung after the
 * watchdog's usual 5 s (it would then be killed at every restart). */
START_TEST(restart_with_a_slow_prepare_is_not_hung)
{
	struct fx f;
	fx_init(&f);
	char conf[2048];
	snprintf(
	    conf, sizeof conf,
	    CONF(ISO_CRASHY,
	         "{ plugin = \"crashy\"; name = \"x\"; mode = \"segv_once\"; marker = \"%s/m\";"
	         " interval = \"200ms\"; retry_interval = \"200ms\"; timeout = \"20s\"; },"
	         " { plugin = \"crashy\"; name = \"slow\"; mode = \"slow_prepare\";"
	         " delay = \"8s\"; interval = \"1h\"; }"),
	    f.tmp);
	fx_start(&f, conf); /* the startup waits for the 8 s itself */
	ck_assert_msg(pump(&f, 25.0, x_recovered), "x: '%s'\n%s", view(&f, "x").output, f.logs);
	ck_assert_msg(strstr(f.logs, "hung") == NULL, "logs: %s", f.logs);
	fx_done(&f);
}
END_TEST

/* Stopping while a reload waits: it is abandoned, nothing waits long. */
START_TEST(stop_abandons_a_pending_reload)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF_N(ISO_CRASHY, BASE_CHECKS));
	ck_assert_msg(pump(&f, 10.0, x_ran), "no result: %s", f.logs);
	ck_assert_int_eq(
	    server_reload_text(f.s,
	                       CONF_N("{ name = \"crashy\"; isolate = true;"
	                              " destroy_delay = \"1ms\"; }",
	                              BASE_CHECKS ", { plugin = \"crashy\"; name = \"slow\";"
	                                          " mode = \"slow_prepare\"; delay = \"5s\"; }")),
	    1);
	pump(&f, 0.2, NULL);
	double t0 = ev_time();
	server_stop(f.s);
	server_free(f.s);
	f.s = NULL;
	double took = ev_time() - t0;
	ck_assert_msg(strstr(f.logs, "reload abandoned") != NULL, "logs: %s", f.logs);
	/* the new host is in its 5 s prepare: a second of grace, then SIGKILL */
	ck_assert_msg(took < 3.0, "stopping took %.1f s", took);
	fx_done(&f);
}
END_TEST

int main(int argc, char **argv)
{
	/* Isolated instances spawn this binary as their host. */
	int hrc;
	if (plughost_argv(argc, argv, &hrc))
		return hrc;
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("isolate");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, wire_roundtrip_and_garbage);
	tcase_add_test(tc, wire_metrics_roundtrip_and_garbage);
	tcase_add_test(tc, fatal_why_names_the_limit);
	tcase_add_test(tc, wire_reader_any_chunks);
	suite_add_tcase(s, tc);
	tc = tcase_create("proxy");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dummy_and_exec_isolated);
	tcase_add_test(tc, metrics_of_isolated_instance);
	tcase_add_test(tc, timeout_cancels_isolated_run);
	tcase_add_test(tc, segv_costs_only_its_checks);
	tcase_add_test(tc, hang_times_out_and_restarts);
	tcase_add_test(tc, always_crashing_stays_unknown);
	tcase_add_test(tc, memory_runaway_costs_only_its_checks);
	tcase_add_test(tc, memory_limit_values);
	tcase_add_test(tc, prepare_error_is_config_error);
	tcase_add_test(tc, passive_cannot_be_isolated);
	tcase_add_test(tc, shipped_list_stamped);
	tcase_add_test(tc, foreign_plugin_isolated_by_default);
	tcase_add_test(tc, foreign_default_instance_isolated);
	tcase_add_test(tc, foreign_plugin_in_process_when_asked);
	tcase_add_test(tc, shipped_plugin_in_process_by_default);
	tcase_add_test(tc, shipped_plugin_isolated_when_asked);
	tcase_add_test(tc, foreign_passive_in_process_with_warning);
	tcase_add_test(tc, host_inherits_no_descriptors);
	tcase_add_test(tc, log_flood_while_waiting_is_bounded);
	tcase_add_test(tc, reply_flood_while_waiting_is_bounded);
	tcase_add_test(tc, flooding_host_goes_unknown);
	tcase_add_test(tc, slow_prepares_share_one_timeout);
	suite_add_tcase(s, tc);
	tc = tcase_create("reload");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reload_waits_for_a_slow_host_on_the_loop);
	tcase_add_test(tc, replaced_host_is_not_waited_for);
	tcase_add_test(tc, reload_refused_when_host_never_answers);
	tcase_add_test(tc, reload_refused_when_host_crashes_in_prepare);
	tcase_add_test(tc, reload_refused_with_host_error_at_its_line);
	tcase_add_test(tc, reloads_while_pending_coalesce);
	tcase_add_test(tc, stop_abandons_a_pending_reload);
	tcase_add_test(tc, restart_with_a_slow_prepare_is_not_hung);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
