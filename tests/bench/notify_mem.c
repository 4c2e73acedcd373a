/*
 * notify_mem: what pending notifications cost in memory.  A real core
 * (server, journal, store in a temporary directory, alerting, notify)
 * opens N alerts (default 100,000), each paging one contact over a test
 * e-mail channel (tests/plugins/fake_mail.so) that never answers, so
 * every notification stays pending; then the process's RSS is read.  Run
 * with "off" for the same alerts without notifications: the difference is
 * what notify holds.  Prints one line:
 *
 *   notify_mem: N=100000 notify=on pending=100000 rss_kib=... heap_kib=... secs=...
 *
 *   build/bench/notify_mem [N] [on|off]   (run from the source tree)
 *
 * Must never: leave its temporary directory behind.
 */
#include "alert/alert.h"
#include "app/app.h"
#include "server/server.h"
#include "util/log.h"
#include "tests/bench/bench.h"
#include "tests/plugins/fake_notifier.h"

#include <dlfcn.h>
#include <ev.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct app_scope admin = { .all = 1 };

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void pump(struct ev_loop *loop, double seconds)
{
	ev_now_update(loop);
	double end = ev_now(loop) + seconds;
	ev_timer t;
	ev_timer_init(&t, tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
}

static unsigned long long pending(struct server *s)
{
	struct app_metrics m;
	app_metrics(server_app(s), &m);
	unsigned long long p = m.notify.pending;
	app_metrics_clear(&m);
	return p;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	int on = !(argc > 2 && strcmp(argv[2], "off") == 0);
	log_set_level(LOG_LVL_ERR);
	char exe[PATH_MAX], build[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return 1;
	exe[len] = '\0';
	snprintf(build, sizeof build, "%s", dirname(dirname(exe)));
	char tmp[64] = "/tmp/mamori-nm.XXXXXX", plug[128], state[128], src[PATH_MAX + 64], dst[256];
	if (!mkdtemp(tmp))
		return 1;
	snprintf(plug, sizeof plug, "%s/plugins", tmp);
	snprintf(state, sizeof state, "%s/state", tmp);
	mkdir(plug, 0700);
	const char *so[][2] = { { "plugins/dummy.so", "dummy.so" },
		                { "tests/plugins/fake_mail.so", "fake_mail.so" } };
	for (int i = 0; i < 2; i++) {
		snprintf(src, sizeof src, "%s/%s", build, so[i][0]);
		snprintf(dst, sizeof dst, "%s/%s", plug, so[i][1]);
		if (symlink(src, dst) != 0)
			return 1;
	}
	char conf[4096];
	snprintf(
	    conf, sizeof conf,
	    "daemon = { flush_interval = \"20ms\"; log_level = \"err\"; };\n"
	    "calendars = ( { name = \"always\"; timezone = \"Asia/Tokyo\"; hours = \"24x7\"; } );\n"
	    "centers = ( { name = \"cc\"; calendar = \"always\"; tiers = (\n"
	    "  { name = \"t1\"; ack_within = \"1h\"; resolve_within = \"4h\"; } ); } );\n"
	    "routes = ( { center = \"cc\"; } );\n"
	    "%s"
	    "customers = ( { id = \"c1\"; name = \"株式会社サンプル製作所\"; assets = ( { name = "
	    "\"h\";\n"
	    "  type = \"host\"; checks = ( { plugin = \"dummy\"; interval = \"1h\"; } ); } ); "
	    "} );\n",
	    on ? "notify = { channels = ( { name = \"mail\"; plugin = \"fake_mail\"; } );\n"
	         "  link_base = \"https://m.example\"; repeat = \"0\"; };\n"
	         "contacts = ( { name = \"tanaka\"; email = \"tanaka@example.jp\";\n"
	         "  channels = ( { channel = \"mail\"; } ); } );\n"
	         "oncall = ( { center = \"cc\"; layers = ( { members = \"tanaka\"; } ); } );\n"
	       : "");
	struct ev_loop *loop = ev_default_loop(0);
	struct server_opts o = { .config_text = conf,
		                 .plugin_dir = plug,
		                 .state_dir = state,
		                 .data_dir = "share/mamori",
		                 .no_spread = 1 };
	struct server *s = server_new(loop, &o);
	if (!s) {
		fprintf(stderr, "notify_mem: the configuration was refused\n");
		return 1;
	}
	if (on) {
		snprintf(dst, sizeof dst, "%s/fake_mail.so", plug);
		void *h = dlopen(dst, RTLD_NOW | RTLD_NOLOAD);
		struct fake_ctl *c = h ? dlsym(h, "fake_notifier_ctl") : NULL;
		if (!c) {
			fprintf(stderr, "notify_mem: fake_mail.so not loaded\n");
			return 1;
		}
		c->mode = FAKE_HANG; /* nothing is ever delivered: everything stays pending */
		dlclose(h);
	}
	server_start(s);
	pump(loop, 0.2);
	long rss0 = bench_rss_kib();
	size_t heap0 = mallinfo2().uordblks;
	double t0 = bench_mono();
	for (long i = 0; i < n; i++) {
		char check[32];
		snprintf(check, sizeof check, "chk%07ld", i);
		struct app_result r;
		int rc = app_alert_open(server_app(s), &admin, "c1", "h", check, "utm", 2,
		                        "UTM 応答なし: ping 100% loss, SNMP timeout, HTTPS "
		                        "management unreachable",
		                        "bench", "bench", "bench", NULL, &r, NULL, NULL);
		if (rc != APP_OK) {
			fprintf(stderr, "notify_mem: open %ld: %s\n", i, r.msg);
			return 1;
		}
		if (i % 500 == 499)
			ev_run(loop, EVRUN_NOWAIT);
	}
	/* until every notification is committed and waiting */
	for (int k = 0; k < 600 && on && pending(s) + 1 < (unsigned long long)n; k++)
		pump(loop, 0.1);
	pump(loop, 1.0);
	long rss = bench_rss_kib();
	size_t heap = mallinfo2().uordblks; /* the main arena's bytes in use (not the writer's) */
	printf("notify_mem: N=%ld notify=%s pending=%llu rss_kib=%ld rss_start_kib=%ld "
	       "heap_kib=%zu secs=%.1f\n",
	       n, on ? "on" : "off", on ? pending(s) : 0ULL, rss, rss0, (heap - heap0) / 1024,
	       bench_mono() - t0);
	server_stop(s);
	server_free(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
