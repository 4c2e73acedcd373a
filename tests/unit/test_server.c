/*
 * Unit tests: the server (scheduler, runs, state, reload, persistence) on a
 * real libev loop with dummy and passive test checks.
 *
 * Intervals are a few milliseconds and the loop is pumped with
 * ev_run(EVRUN_ONCE) plus a guard timer, so nothing sleeps; assertions on
 * timing allow generous slack for slow (sanitizer) builds.  Plugins are
 * taken from the build directory this binary lives in (so a B=... build
 * tests its own plugins), linked into a private temporary plugin_dir.
 */
#include "app/app.h"
#include "server/server.h"
#include "state/state.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 4096

struct evrec {
	char asset[32], check[32];
	unsigned flags;
	int state, hard, suppressed;
	double t;
};

struct fx {
	struct ev_loop *loop;
	struct server *s;
	char tmp[64]; /* temp dir: plugins/ and state/ */
	char plugdir[128];
	char statedir[128];
	struct evrec ev[MAXEV];
	int n_ev;
};

static char builddir[PATH_MAX];

static void find_builddir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	/* <B>/tests/test_server -> <B> */
	snprintf(builddir, sizeof builddir, "%s", dirname(dirname(exe)));
}

static void link_plugin(struct fx *f, const char *rel, const char *as)
{
	char src[PATH_MAX + 64], dst[256];
	snprintf(src, sizeof src, "%s/%s", builddir, rel);
	snprintf(dst, sizeof dst, "%s/%s", f->plugdir, as);
	ck_assert_msg(access(src, R_OK) == 0, "missing %s (build it first)", src);
	ck_assert_int_eq(symlink(src, dst), 0);
}

static void on_hook(void *ud, const char *cu, const char *as, const char *ck,
                    const struct state_event *ev, int suppressed)
{
	struct fx *f = ud;
	if (f->n_ev >= MAXEV)
		return;
	struct evrec *r = &f->ev[f->n_ev++];
	snprintf(r->asset, sizeof r->asset, "%s", as);
	snprintf(r->check, sizeof r->check, "%s", ck);
	r->flags = ev->flags;
	r->state = ev->new_state;
	r->hard = ev->hard;
	r->suppressed = suppressed;
	r->t = ev_now(f->loop);
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof *f);
	log_set_level(LOG_LVL_ERR);
	find_builddir();
	snprintf(f->tmp, sizeof f->tmp, "/tmp/mamori-ts.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	snprintf(f->plugdir, sizeof f->plugdir, "%s/plugins", f->tmp);
	snprintf(f->statedir, sizeof f->statedir, "%s/state", f->tmp);
	ck_assert_int_eq(mkdir(f->plugdir, 0700), 0);
	link_plugin(f, "plugins/dummy.so", "dummy.so");
	link_plugin(f, "tests/plugins/passive_test.so", "passive_test.so");
	f->loop = ev_default_loop(0);
	ev_now_update(f->loop);
}

static struct server *fx_server(struct fx *f, const char *conf, int store, int spread)
{
	struct server_opts o = { .config_text = conf,
		                 .plugin_dir = f->plugdir,
		                 .state_dir = f->statedir,
		                 .no_store = !store,
		                 .no_spread = !spread };
	return server_new(f->loop, &o);
}

static void fx_start(struct fx *f, const char *conf, int store, int spread)
{
	f->s = fx_server(f, conf, store, spread);
	ck_assert_msg(f->s != NULL, "server_new refused the config:\n%s", conf);
	server_set_state_hook(f->s, on_hook, f);
	ck_assert_int_eq(server_start(f->s), 0);
}

static void fx_done(struct fx *f)
{
	if (f->s)
		server_free(f->s);
	f->s = NULL;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop for `secs` of loop time; stop early when cond is true. */
static int pump(struct fx *f, double secs, int (*cond)(struct fx *f))
{
	ev_timer guard;
	ev_timer_init(&guard, guard_cb, 0.002, 0.002);
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

static struct server_check_view view(struct fx *f, const char *as, const char *ck)
{
	struct server_check_view v;
	ck_assert_msg(server_check_view(f->s, "c1", as, ck, &v) == 0, "no check c1/%s/%s", as, ck);
	return v;
}

static struct engine_stats stats(struct fx *f)
{
	struct engine_stats st;
	server_get_stats(f->s, &st);
	return st;
}

#define CONF1(asset_body)                                                                          \
	"daemon = { log_level = \"err\"; };\n"                                                     \
	"customers = ( { id = \"c1\"; assets = ( " asset_body " ); } );\n"

/* ---- scheduling ---- */

START_TEST(interval_timing)
{
	struct fx f;
	fx_init(&f);
	fx_start(
	    &f,
	    CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; interval = \"50ms\"; } ); }"),
	    0, 0);
	pump(&f, 1.0, NULL);
	struct engine_stats st = stats(&f);
	/* ~21 runs in 1 s (t=0, 50ms, ...); allow slack, but not 2x. */
	ck_assert_msg(st.runs_completed >= 14 && st.runs_completed <= 22, "%llu runs in 1s at 50ms",
	              (unsigned long long)st.runs_completed);
	struct server_check_view v = view(&f, "a", "dummy");
	ck_assert_int_eq(v.state, 0);
	ck_assert(v.next_due > v.last_check + 0.04 && v.next_due < v.last_check + 0.06);
	fx_done(&f);
}
END_TEST

static int hard_seen(struct fx *f)
{
	for (int i = 0; i < f->n_ev; i++)
		if (f->ev[i].flags & STATE_EV_HARD_CHANGE)
			return 1;
	return 0;
}

START_TEST(retry_interval_while_soft)
{
	struct fx f;
	fx_init(&f);
	fx_start(
	    &f,
	    CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 2; interval = \"10s\";"
	          " retry_interval = \"30ms\"; max_attempts = 3; } ); }"),
	    0, 0);
	ck_assert(pump(&f, 2.0, hard_seen));
	/* Attempts 1 and 2 soft, the third hard, 30 ms apart (not 10 s). */
	ck_assert_int_eq(f.n_ev, 3);
	ck_assert(f.ev[0].flags & STATE_EV_SOFT);
	ck_assert(f.ev[1].flags & STATE_EV_SOFT);
	ck_assert(f.ev[2].flags & STATE_EV_HARD_CHANGE);
	for (int i = 1; i < 3; i++) {
		double d = f.ev[i].t - f.ev[i - 1].t;
		ck_assert_msg(d >= 0.025 && d < 0.5, "retry gap %.3fs", d);
	}
	struct server_check_view v = view(&f, "a", "dummy");
	ck_assert_int_eq(v.hard, 1);
	ck_assert_int_eq(v.attempt, 3);
	/* Hard now: the next run is at the normal interval. */
	ck_assert(v.next_due > v.last_check + 9.9);
	ck_assert_uint_eq(stats(&f).runs_completed, 3);
	fx_done(&f);
}
END_TEST

START_TEST(max_attempts_one_is_hard_at_once)
{
	struct fx f;
	fx_init(&f);
	fx_start(
	    &f,
	    CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 1; interval = \"10s\";"
	          " retry_interval = \"10ms\"; max_attempts = 1; } ); }"),
	    0, 0);
	ck_assert(pump(&f, 1.0, hard_seen));
	ck_assert_int_eq(f.n_ev, 1);
	pump(&f, 0.1, NULL);
	ck_assert_uint_eq(stats(&f).runs_completed, 1);
	fx_done(&f);
}
END_TEST

static int all_ran_once(struct fx *f)
{
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%d", i);
		if (view(f, "a", name).last_check == 0)
			return 0;
	}
	return 1;
}

START_TEST(first_runs_spread)
{
	struct fx f;
	char conf[16384];
	size_t off = 0;
	fx_init(&f);
	off +=
	    (size_t)snprintf(conf + off, sizeof conf - off,
	                     "customers = ( { id = \"c1\"; assets = ( { name = \"a\"; checks = (");
	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(
		    conf + off, sizeof conf - off,
		    "%s{ plugin = \"dummy\"; name = \"k%d\"; interval = \"400ms\"; }", i ? "," : "",
		    i);
	snprintf(conf + off, sizeof conf - off, "); } ); } );\n");
	fx_start(&f, conf, 0, 1);
	double now = server_now(f.s), lo = 1e18, hi = 0;
	int buckets[4] = { 0 };
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%d", i);
		struct server_check_view v = view(&f, "a", name);
		ck_assert(v.next_due >= now - 0.002 && v.next_due <= now + 0.401);
		lo = v.next_due < lo ? v.next_due : lo;
		hi = v.next_due > hi ? v.next_due : hi;
		int b = (int)((v.next_due - now) / 0.1);
		buckets[b < 0 ? 0 : b > 3 ? 3 : b]++;
	}
	/* Spread over the interval: every quarter gets some, none gets half. */
	for (int b = 0; b < 4; b++)
		ck_assert_msg(buckets[b] >= 5 && buckets[b] <= 50, "quarter %d holds %d of 100", b,
		              buckets[b]);
	ck_assert(hi - lo > 0.3);
	/* Within about one interval every check ran (once or twice). */
	ck_assert(pump(&f, 2.0, all_ran_once));
	ck_assert_double_lt(server_now(f.s) - now, 0.4 + 0.3);
	ck_assert_uint_le(stats(&f).runs_completed, 200);
	fx_done(&f);
}
END_TEST

static int max_running_seen;

static int count_running(struct fx *f)
{
	int running = 0;
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%d", i);
		running += view(f, "a", name).running;
	}
	if (running > max_running_seen)
		max_running_seen = running;
	return stats(f).runs_completed >= 6;
}

START_TEST(concurrency_limit)
{
	struct fx f;
	char conf[4096];
	size_t off = 0;
	fx_init(&f);
	off +=
	    (size_t)snprintf(conf + off, sizeof conf - off,
	                     "plugins = ( { name = \"dummy\"; max_concurrent = 2; } );\n"
	                     "customers = ( { id = \"c1\"; assets = ( { name = \"a\"; checks = (");
	for (int i = 0; i < 6; i++)
		off += (size_t)snprintf(conf + off, sizeof conf - off,
		                        "%s{ plugin = \"dummy\"; name = \"k%d\"; delay = \"40ms\"; "
		                        "interval = \"1h\"; }",
		                        i ? "," : "", i);
	snprintf(conf + off, sizeof conf - off, "); } ); } );\n");
	fx_start(&f, conf, 0, 0);
	max_running_seen = 0;
	double t0 = server_now(f.s);
	ck_assert(pump(&f, 3.0, count_running));
	double took = server_now(f.s) - t0;
	ck_assert_int_eq(max_running_seen, 2);
	/* 6 runs of 40 ms, 2 at a time: at least 3 rounds. */
	ck_assert_msg(took >= 0.115, "6 x 40ms at 2 concurrent took %.3fs", took);
	ck_assert_uint_eq(stats(&f).runs_completed, 6);
	ck_assert_uint_eq(stats(&f).waiting, 0);
	fx_done(&f);
}
END_TEST

static int timed_out(struct fx *f)
{
	return stats(f).runs_timed_out > 0;
}

START_TEST(timeout_gives_unknown)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f,
	         CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; delay = \"2s\"; timeout = "
	               "\"50ms\";"
	               " interval = \"1h\"; } ); }"),
	         0, 0);
	double t0 = server_now(f.s);
	ck_assert(pump(&f, 1.0, timed_out));
	double took = server_now(f.s) - t0;
	ck_assert_msg(took >= 0.045 && took < 0.5, "timed out after %.3fs", took);
	struct server_check_view v = view(&f, "a", "dummy");
	ck_assert_int_eq(v.state, 3);
	ck_assert_int_eq(v.running, 0);
	ck_assert_msg(strstr(v.output, "timed out after") != NULL, "output '%s'", v.output);
	/* The cancelled run never completes later. */
	pump(&f, 2.2, NULL);
	ck_assert_uint_eq(stats(&f).late_completions, 0);
	ck_assert_uint_eq(stats(&f).runs_completed, 0);
	fx_done(&f);
}
END_TEST

START_TEST(check_period_closed)
{
	struct fx f;
	static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	/* Open only the day after tomorrow (UTC): closed now for sure. */
	char conf[1024];
	snprintf(
	    conf, sizeof conf,
	    "calendars = ( { name = \"later\"; timezone = \"UTC\"; hours = [ \"%s 00:00-24:00\" ]; "
	    "} );\n" CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; interval = \"20ms\"; "
	                   "check_period = \"later\"; },"
	                   " { plugin = \"dummy\"; name = \"always\"; interval = \"20ms\"; "
	                   "check_period = \"always\"; } ); }"),
	    days[(tm.tm_wday + 2) % 7]);
	fx_init(&f);
	fx_start(&f, conf, 0, 0);
	pump(&f, 0.3, NULL);
	struct server_check_view v = view(&f, "a", "dummy");
	ck_assert_double_eq(v.last_check, 0);
	ck_assert_msg(v.next_due > server_now(f.s) + 3600, "closed check due in %.0fs",
	              v.next_due - server_now(f.s));
	ck_assert_double_lt(v.next_due, server_now(f.s) + 3 * 86400);
	v = view(&f, "a", "always");
	ck_assert(v.last_check > 0);
	fx_done(&f);
}
END_TEST

/* ---- passive results and freshness ---- */

static int stale_now(struct fx *f)
{
	return view(f, "a", "passive_test").stale;
}

START_TEST(freshness_stale)
{
	struct fx f;
	fx_init(&f);
	fx_start(
	    &f,
	    CONF1("{ name = \"a\"; checks = ( { plugin = \"passive_test\"; stale_after = \"60ms\";"
	          " stale_state = 2; } ); }"),
	    0, 0);
	ck_assert_int_eq(server_submit(f.s, "c1", "a", "passive_test", 0, "fine"), 0);
	struct server_check_view v = view(&f, "a", "passive_test");
	ck_assert_int_eq(v.state, 0);
	ck_assert_str_eq(v.output, "fine");
	/* Results keep it fresh. */
	for (int i = 0; i < 5; i++) {
		pump(&f, 0.03, NULL);
		server_submit(f.s, "c1", "a", "passive_test", 0, "fine");
	}
	ck_assert_int_eq(view(&f, "a", "passive_test").stale, 0);
	double t0 = server_now(f.s);
	ck_assert(pump(&f, 1.0, stale_now));
	ck_assert_double_ge(server_now(f.s) - t0, 0.055);
	v = view(&f, "a", "passive_test");
	ck_assert_int_eq(v.state, 2);
	ck_assert_int_eq(v.hard, 1);
	ck_assert_msg(strstr(v.output, "agent silent since") &&
	                  strstr(v.output, "no report within"),
	              "output '%s'", v.output);
	ck_assert_uint_ge(stats(&f).stale_events, 1);
	ck_assert(f.n_ev >= 1 && (f.ev[f.n_ev - 1].flags & STATE_EV_HARD_CHANGE));
	/* A result clears it. */
	server_submit(f.s, "c1", "a", "passive_test", 0, "back");
	v = view(&f, "a", "passive_test");
	ck_assert_int_eq(v.stale, 0);
	ck_assert_int_eq(v.state, 0);
	ck_assert_uint_eq(stats(&f).runs_started, 0); /* passive: never started */
	ck_assert_int_eq(server_submit(f.s, "c1", "a", "nosuch", 0, "x"), -1);
	fx_done(&f);
}
END_TEST

START_TEST(freshness_without_any_result)
{
	struct fx f;
	fx_init(&f);
	fx_start(
	    &f,
	    CONF1("{ name = \"a\"; checks = ( { plugin = \"passive_test\"; stale_after = \"40ms\";"
	          " stale_state = 3; } ); }"),
	    0, 0);
	ck_assert(pump(&f, 1.0, stale_now));
	struct server_check_view v = view(&f, "a", "passive_test");
	ck_assert_int_eq(v.state, 3);
	ck_assert_msg(strstr(v.output, "agent silent since start") != NULL, "output '%s'",
	              v.output);
	fx_done(&f);
}
END_TEST

/* ---- dependencies, downtime, acks ---- */

static const struct evrec *last_ev(const struct fx *f, const char *as, const char *ck)
{
	for (int i = f->n_ev - 1; i >= 0; i--)
		if (strcmp(f->ev[i].asset, as) == 0 && strcmp(f->ev[i].check, ck) == 0)
			return &f->ev[i];
	return NULL;
}

static int child_hard(struct fx *f)
{
	const struct evrec *a = last_ev(f, "pc", "dummy"), *b = last_ev(f, "pc2", "dummy");
	return a && a->hard && b && b->hard;
}

START_TEST(dependency_unreachable)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f,
	         CONF1("{ name = \"gw\"; checks = ( { plugin = \"dummy\"; state = 2; max_attempts "
	               "= 1; interval = \"1h\"; } ); },"
	               "{ name = \"pc\"; parent = \"gw\"; checks = ( { plugin = \"dummy\"; state = "
	               "2; max_attempts = 1;"
	               "  delay = \"30ms\"; interval = \"1h\"; } ); },"
	               "{ name = \"ok\"; checks = ( { plugin = \"dummy\"; state = 0; interval = "
	               "\"1h\"; } ); },"
	               "{ name = \"pc2\"; parent = \"ok\"; checks = ( { plugin = \"dummy\"; state "
	               "= 2; max_attempts = 1;"
	               "  delay = \"30ms\"; interval = \"1h\"; } ); }"),
	         0, 0);
	ck_assert(pump(&f, 2.0, child_hard));
	const struct evrec *gw = last_ev(&f, "gw", "dummy");
	ck_assert_ptr_nonnull(gw);
	ck_assert(gw->flags & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(gw->suppressed, STATE_SUPPRESS_NONE);
	const struct evrec *pc = last_ev(&f, "pc", "dummy");
	ck_assert(pc->flags & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(pc->suppressed, STATE_SUPPRESS_UNREACHABLE);
	/* A child of an OK parent is not suppressed. */
	ck_assert_int_eq(last_ev(&f, "pc2", "dummy")->suppressed, STATE_SUPPRESS_NONE);
	fx_done(&f);
}
END_TEST

#define PASSIVE1 CONF1("{ name = \"a\"; checks = ( { plugin = \"passive_test\"; } ); }")

static int submit(struct fx *f, int state)
{
	int n = f->n_ev;
	ck_assert_int_eq(server_submit(f->s, "c1", "a", "passive_test", state, "x"), 0);
	ck_assert_int_gt(f->n_ev, n); /* every problem result reaches the hook */
	return f->ev[f->n_ev - 1].suppressed;
}

START_TEST(downtime_suppresses_until_end)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, PASSIVE1, 0, 0);
	double now = server_now(f.s);
	ck_assert_int_eq(server_add_downtime(f.s, "nosuch", NULL, NULL, now, now + 1, "t", "x"),
	                 -1);
	ck_assert_int_eq(server_add_downtime(f.s, "c1", "a", NULL, now + 1, now, "t", "x"), -1);
	ck_assert_int_eq(
	    server_add_downtime(f.s, "c1", "a", NULL, now - 1, now + 0.1, "t", "maintenance"), 0);
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_DOWNTIME);
	ck_assert(f.ev[f.n_ev - 1].flags & STATE_EV_HARD_CHANGE);
	pump(&f, 0.12, NULL);
	ck_assert_int_eq(submit(&f, 1), STATE_SUPPRESS_NONE);
	/* A downtime of an asset or check that does not exist is refused
	 * (it would never apply), and changes nothing. */
	now = server_now(f.s);
	ck_assert_int_eq(server_add_downtime(f.s, "c1", "other", NULL, now - 1, now + 10, "t", "x"),
	                 -1);
	ck_assert_int_eq(server_add_downtime(f.s, "c1", "a", "otherc", now - 1, now + 10, "t", "x"),
	                 -1);
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_NONE);
	/* Whole customer. */
	ck_assert_int_eq(server_add_downtime(f.s, "c1", NULL, NULL, now - 1, now + 10, "t", "x"),
	                 0);
	ck_assert_int_eq(submit(&f, 1), STATE_SUPPRESS_DOWNTIME);
	fx_done(&f);
}
END_TEST

START_TEST(ack_sticky_until_ok)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, PASSIVE1, 0, 0);
	ck_assert_int_eq(submit(&f, 0), STATE_SUPPRESS_NONE);
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "ok is not ackable"), -1);
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_NONE);
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "looking"), 0);
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_ACK);
	ck_assert_int_eq(submit(&f, 1), STATE_SUPPRESS_ACK); /* another problem: still acked */
	submit(&f, 0);                                       /* OK clears the ack */
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_NONE);
	/* unack */
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "x"), 0);
	ck_assert_int_eq(server_unack(f.s, "c1", "a", "passive_test"), 0);
	ck_assert_int_eq(submit(&f, 2), STATE_SUPPRESS_NONE);
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "nosuch", "op", "x"), -1);
	fx_done(&f);
}
END_TEST

/* One meaning of "acknowledge": the alert's.  The check mirrors it
 * (published, persisted) until the problem is over or it is withdrawn. */
START_TEST(ack_mirrors_the_alert)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, PASSIVE1, 0, 0);
	submit(&f, 2);
	ck_assert_int_eq(view(&f, "a", "passive_test").acknowledged, 0);
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "mine"), 0);
	ck_assert_int_eq(view(&f, "a", "passive_test").acknowledged, 1);
	ck_assert_int_eq(server_unack(f.s, "c1", "a", "passive_test"), 0);
	ck_assert_int_eq(view(&f, "a", "passive_test").acknowledged, 0);
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "mine"), 0);
	/* acking twice is refused by the alert's rules (already acknowledged) */
	ck_assert_int_eq(server_ack(f.s, "c1", "a", "passive_test", "op", "again"), -1);
	submit(&f, 0); /* recovered: the alert resolves, the check is no longer acked */
	ck_assert_int_eq(view(&f, "a", "passive_test").acknowledged, 0);
	ck_assert_int_eq(server_unack(f.s, "c1", "a", "passive_test"), -1);
	fx_done(&f);
}
END_TEST

START_TEST(flapping_suppresses)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, PASSIVE1, 0, 0);
	int flapping = 0;
	for (int i = 0; i < 30 && !flapping; i++)
		flapping = submit(&f, i % 2 ? 0 : 2) == STATE_SUPPRESS_FLAPPING;
	ck_assert(flapping);
	ck_assert_int_eq(view(&f, "a", "passive_test").flapping, 1);
	fx_done(&f);
}
END_TEST

/* ---- reload ---- */

#define RELOAD_A                                                                                   \
	"{ plugin = \"dummy\"; name = \"keep\"; state = 2; interval = \"1h\"; retry_interval = "   \
	"\"1h\"; }"
#define RELOAD_C "{ plugin = \"dummy\"; name = \"gone\"; interval = \"1h\"; }"
#define RELOAD_B "{ plugin = \"dummy\"; name = \"new\"; state = 1; interval = \"20ms\"; }"

static int keep_ran(struct fx *f)
{
	return view(f, "a", "keep").last_check > 0;
}

START_TEST(reload_keeps_state_and_schedule)
{
	struct fx f;
	fx_init(&f);
	fx_start(&f, CONF1("{ name = \"a\"; checks = ( " RELOAD_A ", " RELOAD_C " ); }"), 0, 0);
	ck_assert(pump(&f, 1.0, keep_ran));
	struct server_check_view before = view(&f, "a", "keep");
	ck_assert_int_eq(before.state, 2);
	ck_assert_int_eq(before.attempt, 1);
	ck_assert_int_eq(server_reload_text(f.s, CONF1("{ name = \"a\"; checks = ( " RELOAD_A
	                                               ", " RELOAD_B " ); }")),
	                 0);
	struct server_check_view after = view(&f, "a", "keep");
	ck_assert_int_eq(after.state, 2);
	ck_assert_int_eq(after.attempt, 1);
	ck_assert_double_eq(after.last_check, before.last_check);
	ck_assert_double_eq_tol(after.next_due, before.next_due, 0.002);
	ck_assert_str_eq(after.output, before.output);
	struct server_check_view v;
	ck_assert_int_eq(server_check_view(f.s, "c1", "a", "gone", &v), -1);
	ck_assert_int_eq(server_check_view(f.s, "c1", "a", "new", &v), 0);
	/* The new check runs (its first run spread within 20 ms). */
	pump(&f, 0.2, NULL);
	ck_assert_int_eq(view(&f, "a", "new").state, 1);
	/* A changed check keeps its state too. */
	ck_assert_int_eq(
	    server_reload_text(
	        f.s, CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; name = \"keep\";"
	                   " state = 0; interval = \"1h\"; retry_interval = \"1h\"; } ); }")),
	    0);
	after = view(&f, "a", "keep");
	ck_assert_int_eq(after.state, 2);
	ck_assert_double_eq(after.last_check, before.last_check);
	fx_done(&f);
}
END_TEST

START_TEST(bad_reload_keeps_running_config)
{
	struct fx f;
	fx_init(&f);
	const char *conf = CONF1("{ name = \"a\"; checks = ( " RELOAD_A ", " RELOAD_C " ); }");
	fx_start(&f, conf, 0, 0);
	ck_assert(pump(&f, 1.0, keep_ran));
	struct server_check_view before = view(&f, "a", "keep");
	/* Unknown key, syntax error, a plugin rejecting its check. */
	ck_assert_int_eq(
	    server_reload_text(f.s,
	                       CONF1("{ name = \"a\"; colour = 1; checks = ( " RELOAD_B " ); }")),
	    -1);
	ck_assert_int_eq(server_reload_text(f.s, "customers = ( { id = "), -1);
	ck_assert_int_eq(
	    server_reload_text(
	        f.s, CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 9; } ); }")),
	    -1);
	struct server_check_view v;
	ck_assert_int_eq(server_check_view(f.s, "c1", "a", "gone", &v), 0);
	ck_assert_int_eq(server_check_view(f.s, "c1", "a", "new", &v), -1);
	struct server_check_view after = view(&f, "a", "keep");
	ck_assert_double_eq(after.last_check, before.last_check);
	ck_assert_double_eq_tol(after.next_due, before.next_due, 0.002);
	/* Still scheduling afterwards. */
	ck_assert_int_eq(server_reload_text(f.s, CONF1("{ name = \"a\"; checks = ( " RELOAD_A
	                                               ", " RELOAD_B " ); }")),
	                 0);
	pump(&f, 0.2, NULL);
	ck_assert_int_eq(view(&f, "a", "new").state, 1);
	fx_done(&f);
}
END_TEST

START_TEST(reload_during_runs)
{
	/* Runs in flight and checks waiting behind a limit survive a reload
	 * that keeps them; the removed plugin block's waiting checks vanish. */
	struct fx f;
	fx_init(&f);
	const char *conf = "plugins = ( { name = \"dummy\"; max_concurrent = 1; } );\n" CONF1(
	    "{ name = \"a\"; checks = ( { plugin = \"dummy\"; name = \"k0\"; delay = \"30ms\"; "
	    "interval = \"50ms\"; },"
	    " { plugin = \"dummy\"; name = \"k1\"; delay = \"30ms\"; interval = \"50ms\"; },"
	    " { plugin = \"dummy\"; name = \"k2\"; delay = \"30ms\"; interval = \"50ms\"; } ); }");
	fx_start(&f, conf, 0, 0);
	for (int i = 0; i < 10; i++) {
		pump(&f, 0.013 * (i % 3 + 1), NULL);
		ck_assert_int_eq(
		    server_reload_text(
		        f.s, i % 2
		                 ? conf
		                 : CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; name = "
		                         "\"k0\"; delay = \"30ms\"; interval = \"50ms\"; } ); }")),
		    0);
	}
	pump(&f, 0.3, NULL);
	ck_assert_uint_eq(stats(&f).late_completions, 0);
	ck_assert_uint_ge(stats(&f).runs_completed, 3);
	fx_done(&f);
}
END_TEST

/* ---- persistence and refusals ---- */

START_TEST(state_kept_across_restart)
{
	struct fx f;
	fx_init(&f);
	const char *conf = CONF1(
	    "{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 2; output = \"disk on fire\";"
	    " max_attempts = 1; interval = \"1h\"; } ); },"
	    "{ name = \"b\"; checks = ( { plugin = \"passive_test\"; } ); }");
	fx_start(&f, conf, 1, 0);
	ck_assert(pump(&f, 1.0, hard_seen));
	server_submit(f.s, "c1", "b", "passive_test", 2, "agent says no");
	ck_assert_int_eq(server_ack(f.s, "c1", "b", "passive_test", "op", "on it"), 0);
	struct server_check_view before = view(&f, "a", "dummy");
	server_stop(f.s);
	server_free(f.s);
	f.s = fx_server(&f, conf, 1, 0);
	ck_assert_ptr_nonnull(f.s);
	server_set_state_hook(f.s, on_hook, &f);
	struct server_check_view v = view(&f, "a", "dummy");
	ck_assert_int_eq(v.state, 2);
	ck_assert_int_eq(v.hard, 1);
	ck_assert_int_eq(v.hard_state, 2);
	ck_assert_str_eq(v.output, "disk on fire");
	ck_assert_double_eq_tol(v.last_check, before.last_check, 0.001);
	v = view(&f, "b", "passive_test");
	ck_assert_int_eq(v.state, 2);
	ck_assert_str_eq(v.output, "agent says no");
	/* The ack survived: the next problem result is still suppressed, and
	 * the restored hard state is no new hard change. */
	ck_assert_int_eq(server_start(f.s), 0);
	f.n_ev = 0;
	ck_assert_int_eq(server_submit(f.s, "c1", "b", "passive_test", 2, "still no"), 0);
	ck_assert_int_eq(f.n_ev, 1);
	ck_assert_int_eq(f.ev[0].suppressed, STATE_SUPPRESS_ACK);
	ck_assert(!(f.ev[0].flags & STATE_EV_HARD_CHANGE));
	fx_done(&f);
}
END_TEST

/* ---- checks per state: kept by the engine, never walked ---- */

struct counts {
	unsigned long long st[4], pending, total;
};

/* What /status and /metrics show (the engine's counts). */
static struct counts kept_counts(struct fx *f)
{
	struct app_metrics m;
	app_metrics(server_app(f->s), &m);
	struct counts c = { .pending = m.pending, .total = m.checks };
	for (int i = 0; i < 4; i++)
		c.st[i] = m.by_state[i];
	app_metrics_clear(&m);
	return c;
}

/* The oracle: the same counts from every named check's own state. */
static struct counts walked_counts(struct fx *f, const char *const *names)
{
	struct counts c = { 0 };
	for (size_t i = 0; names[i]; i += 2) {
		struct server_check_view v;
		if (server_check_view(f->s, "c1", names[i], names[i + 1], &v) != 0)
			continue;
		c.total++;
		if (v.last_check > 0)
			c.st[v.state & 3]++;
		else
			c.pending++;
	}
	return c;
}

static void same_counts(struct fx *f, const char *const *names, const char *when)
{
	struct counts k = kept_counts(f), w = walked_counts(f, names);
	ck_assert_msg(k.total == w.total && k.pending == w.pending && k.st[0] == w.st[0] &&
	                  k.st[1] == w.st[1] && k.st[2] == w.st[2] && k.st[3] == w.st[3],
	              "%s: kept %llu/%llu/%llu/%llu pending %llu total %llu, walked "
	              "%llu/%llu/%llu/%llu pending %llu total %llu",
	              when, k.st[0], k.st[1], k.st[2], k.st[3], k.pending, k.total, w.st[0],
	              w.st[1], w.st[2], w.st[3], w.pending, w.total);
}

static int stale_p3(struct fx *f)
{
	return view(f, "b", "p3").stale;
}

#define COUNTS_A                                                                                   \
	"{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 2; interval = \"1h\"; "          \
	"max_attempts = 1; } ); }"
#define COUNTS_B(extra)                                                                            \
	"{ name = \"b\"; checks = ( { plugin = \"passive_test\"; name = \"p1\"; },"                \
	" { plugin = \"passive_test\"; name = \"p2\"; }" extra " ); }"

START_TEST(state_counts_follow_results)
{
	static const char *const names[] = { "a",  "dummy", "b", "p1", "b", "p2",
		                             "b",  "p3",    "b", "p4", "c", "passive_test",
		                             NULL, NULL };
	const char *conf =
	    CONF1(COUNTS_A ", " COUNTS_B(", { plugin = \"passive_test\"; name = \"p3\"; "
	                                 "stale_after = \"40ms\"; stale_state = 3; }"));
	struct fx f;
	fx_init(&f);
	fx_start(&f, conf, 1, 0);
	struct counts k = kept_counts(&f);
	ck_assert_uint_eq(k.total, 4);
	same_counts(&f, names, "start");
	ck_assert(pump(&f, 1.0, hard_seen)); /* the dummy: CRITICAL */
	k = kept_counts(&f);
	ck_assert_uint_eq(k.st[2], 1);
	ck_assert_uint_eq(k.pending + k.st[3], 3); /* p3 may be stale already on a busy machine */
	same_counts(&f, names, "first run");
	/* passive results move checks between states, repeats move nothing */
	int seq[] = { 0, 1, 1, 2, 3, 0, 0, 2 };
	for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
		ck_assert_int_eq(server_submit(f.s, "c1", "b", i % 2 ? "p2" : "p1", seq[i], "x"),
		                 0);
		same_counts(&f, names, "submit");
	}
	/* an acknowledgement and a downtime change no count */
	struct counts before = kept_counts(&f);
	ck_assert_int_eq(server_ack(f.s, "c1", "b", "p2", "op", "mine"), 0);
	double now = server_now(f.s);
	ck_assert_int_eq(server_add_downtime(f.s, "c1", "b", NULL, now - 1, now + 60, "t", "x"), 0);
	k = kept_counts(&f);
	ck_assert_mem_eq(&k, &before, sizeof k);
	/* freshness: p3 goes UNKNOWN with no result ever */
	int was_stale = stale_p3(&f);
	ck_assert(pump(&f, 5.0, stale_p3));
	ck_assert_uint_eq(kept_counts(&f).st[3], before.st[3] + !was_stale);
	same_counts(&f, names, "stale");
	/* reload: p2 and p3 go, p4 and a new asset come (pending), the rest
	 * keep their states */
	ck_assert_int_eq(
	    server_reload_text(f.s, CONF1(COUNTS_A ", { name = \"b\"; checks = ( { plugin = "
	                                           "\"passive_test\"; name = \"p1\"; },"
	                                           " { plugin = \"passive_test\"; name = \"p4\"; "
	                                           "} ); }, { name = \"c\"; checks = ( { plugin = "
	                                           "\"passive_test\"; } ); }")),
	    0);
	k = kept_counts(&f);
	ck_assert_uint_eq(k.total, 4);
	ck_assert_uint_eq(k.pending, 2);
	same_counts(&f, names, "reload");
	ck_assert_int_eq(server_submit(f.s, "c1", "c", "passive_test", 1, "x"), 0);
	same_counts(&f, names, "after reload");
	/* a refused reload changes nothing */
	before = kept_counts(&f);
	ck_assert_int_eq(server_reload_text(f.s, "customers = ( { id = "), -1);
	k = kept_counts(&f);
	ck_assert_mem_eq(&k, &before, sizeof k);
	/* a restart counts the states restored from the store */
	server_stop(f.s);
	server_free(f.s);
	f.s = fx_server(&f,
	                CONF1(COUNTS_A ", { name = \"b\"; checks = ( { plugin = "
	                               "\"passive_test\"; name = \"p1\"; },"
	                               " { plugin = \"passive_test\"; name = \"p4\"; "
	                               "} ); }, { name = \"c\"; checks = ( { plugin = "
	                               "\"passive_test\"; } ); }"),
	                1, 0);
	ck_assert_ptr_nonnull(f.s);
	ck_assert_int_eq(server_start(f.s), 0); /* counted when the model is committed */
	k = kept_counts(&f);
	ck_assert_mem_eq(&k, &before, sizeof k);
	same_counts(&f, names, "restart");
	fx_done(&f);
}
END_TEST

/* ---- the wheel callback yields to I/O ---- */

struct iter_watch {
	struct fx *f;
	unsigned long long last, max_per_iter, iters;
};

static void on_iter(struct ev_loop *loop, ev_check *w, int revents)
{
	struct iter_watch *iw = w->data;
	unsigned long long now = stats(iw->f).runs_started;
	if (now - iw->last > iw->max_per_iter)
		iw->max_per_iter = now - iw->last;
	iw->last = now;
	iw->iters++;
}

static int all_started(struct fx *f)
{
	return stats(f).runs_started >= 30000;
}

START_TEST(wheel_yields_when_saturated)
{
	/* 30,000 checks due at the same moment: the engine starts them in
	 * slices with I/O polled between (its time budget), not all in one
	 * callback, and still starts every one of them once. */
	enum { N = 30000 };
	size_t cap = 64 * N + 512, len = 0;
	char *conf = malloc(cap);
	ck_assert_ptr_nonnull(conf);
	len +=
	    (size_t)snprintf(conf + len, cap - len,
	                     "daemon = { log_level = \"err\"; };\n"
	                     "customers = ( { id = \"c1\"; assets = ( { name = \"a\"; checks = ( ");
	for (int i = 0; i < N; i++)
		len +=
		    (size_t)snprintf(conf + len, cap - len,
		                     "%s{ plugin = \"dummy\"; name = \"d%d\"; interval = \"1h\"; }",
		                     i ? ", " : "", i);
	snprintf(conf + len, cap - len, " ); } ); } );\n");
	struct fx f;
	fx_init(&f);
	fx_start(&f, conf, 0, 0);
	free(conf);
	struct iter_watch iw = { .f = &f };
	ev_check chk;
	ev_check_init(&chk, on_iter);
	chk.data = &iw;
	ev_check_start(f.loop, &chk);
	ck_assert(pump(&f, 30.0, all_started));
	ev_check_stop(f.loop, &chk);
	on_iter(f.loop, &chk, 0); /* the last iteration's starts */
	ck_assert_uint_eq(stats(&f).runs_started, N);
	ck_assert_msg(iw.max_per_iter < N / 2, "%llu checks started in one loop iteration",
	              iw.max_per_iter);
	ck_assert_uint_ge(iw.iters, 2);
	fx_done(&f);
}
END_TEST

START_TEST(plugin_rejects_check)
{
	struct fx f;
	fx_init(&f);
	ck_assert_ptr_null(fx_server(
	    &f, CONF1("{ name = \"a\"; checks = ( { plugin = \"dummy\"; state = 7; } ); }"), 0, 0));
	ck_assert_ptr_null(
	    fx_server(&f, CONF1("{ name = \"a\"; checks = ( { plugin = \"nosuch\"; } ); }"), 0, 0));
	fx_done(&f);
}
END_TEST

static int any_ran(struct fx *f)
{
	return view(f, "a", "bad_abi").last_check > 0;
}

START_TEST(refused_plugin_goes_unknown)
{
	struct fx f;
	fx_init(&f);
	link_plugin(&f, "tests/plugins/bad_abi.so", "bad_abi.so");
	fx_start(&f,
	         CONF1("{ name = \"a\"; checks = ( { plugin = \"bad_abi\"; interval = \"1h\"; },"
	               " { plugin = \"dummy\"; interval = \"1h\"; } ); }"),
	         0, 0);
	ck_assert(pump(&f, 1.0, any_ran));
	struct server_check_view v = view(&f, "a", "bad_abi");
	ck_assert_int_eq(v.state, 3);
	ck_assert_msg(strstr(v.output, "bad_abi.so") != NULL, "output '%s'", v.output);
	ck_assert_int_eq(view(&f, "a", "dummy").state, 0);
	fx_done(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("sched");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, interval_timing);
	tcase_add_test(tc, retry_interval_while_soft);
	tcase_add_test(tc, max_attempts_one_is_hard_at_once);
	tcase_add_test(tc, first_runs_spread);
	tcase_add_test(tc, concurrency_limit);
	tcase_add_test(tc, timeout_gives_unknown);
	tcase_add_test(tc, check_period_closed);
	tcase_add_test(tc, wheel_yields_when_saturated);
	suite_add_tcase(s, tc);
	tc = tcase_create("state");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, freshness_stale);
	tcase_add_test(tc, freshness_without_any_result);
	tcase_add_test(tc, dependency_unreachable);
	tcase_add_test(tc, downtime_suppresses_until_end);
	tcase_add_test(tc, ack_sticky_until_ok);
	tcase_add_test(tc, ack_mirrors_the_alert);
	tcase_add_test(tc, flapping_suppresses);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reload_keeps_state_and_schedule);
	tcase_add_test(tc, bad_reload_keeps_running_config);
	tcase_add_test(tc, reload_during_runs);
	tcase_add_test(tc, state_kept_across_restart);
	tcase_add_test(tc, state_counts_follow_results);
	tcase_add_test(tc, plugin_rejects_check);
	tcase_add_test(tc, refused_plugin_goes_unknown);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
