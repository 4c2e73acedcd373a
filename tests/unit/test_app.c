/*
 * Unit tests: the service layer (src/app) on a whole server without a
 * broker - copied and paged queries, scope, alert actions with their
 * idempotency and completion after the write, the acknowledgement mirror,
 * downtimes with ids that survive a restart, manual inquiries, and
 * subscriptions with replay, scope filter and gap.
 */
#include "alert/alert.h"
#include "app/app.h"
#include "events/events.h"
#include "server/server.h"
#include "store/store.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	struct ev_loop *loop;
	struct server *s;
	struct app *app;
	char tmp[64], plugdir[128], statedir[128];
	int done_calls;
	struct app_result done_r;
};

static char builddir[PATH_MAX];

#define CONF                                                                                       \
	"daemon = { log_level = \"err\"; node = \"n1\"; };\n"                                      \
	"calendars = ( { name = \"always\"; timezone = \"Asia/Tokyo\";"                            \
	" hours = [ \"mon-sun 00:00-24:00\" ]; } );\n"                                             \
	"centers = ( { name = \"cc-east\"; calendar = \"always\"; tiers = ("                       \
	" { name = \"t1\"; ack_within = \"15m\"; resolve_within = \"4h\"; },"                      \
	" { name = \"t2\"; ack_within = \"30m\"; resolve_within = \"8h\"; } ); },"                 \
	" { name = \"cc-west\"; calendar = \"always\"; tiers = ("                                  \
	" { name = \"w1\"; ack_within = \"15m\"; resolve_within = \"4h\"; } ); } );\n"             \
	"routes = ( { customer = \"c2\"; center = \"cc-west\"; }, { center = \"cc-east\"; } );\n"  \
	"downtimes = ( { customer = \"c2\"; asset = \"b\"; start = \"2030-01-01 00:00\";"          \
	" end = \"2030-01-02 00:00\"; comment = \"planned\"; } );\n"                               \
	"customers = ( { id = \"c1\"; name = \"One\"; assets = ("                                  \
	" { name = \"a\"; checks = ( { plugin = \"passive_test\"; } ); },"                         \
	" { name = \"b\"; checks = ( { plugin = \"passive_test\"; } ); },"                         \
	" { name = \"c\"; checks = ( { plugin = \"passive_test\"; } ); } ); },"                    \
	" { id = \"c2\"; name = \"Two\"; assets = ("                                               \
	" { name = \"b\"; checks = ( { plugin = \"passive_test\"; } ); } ); } );\n"

static const struct app_scope admin = { .all = 1 };
static const char *east_c[] = { "cc-east" };
static const struct app_scope east = { .centers = east_c, .n_centers = 1 };
static const char *c2_only[] = { "c2" };
static const char *west_c[] = { "cc-west" };
static const struct app_scope viewer_c2 = {
	.centers = west_c, .n_centers = 1, .customers = c2_only, .n_customers = 1
};

static void find_builddir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	snprintf(builddir, sizeof builddir, "%s", dirname(dirname(exe)));
}

static void start(struct fx *f)
{
	struct server_opts o = { .config_text = CONF,
		                 .plugin_dir = f->plugdir,
		                 .state_dir = f->statedir,
		                 .no_spread = 1 };
	f->s = server_new(f->loop, &o);
	ck_assert_ptr_nonnull(f->s);
	ck_assert_int_eq(server_start(f->s), 0);
	f->app = server_app(f->s);
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof *f);
	log_set_level(LOG_LVL_ERR);
	find_builddir();
	snprintf(f->tmp, sizeof f->tmp, "/tmp/mamori-tapp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	snprintf(f->plugdir, sizeof f->plugdir, "%s/plugins", f->tmp);
	snprintf(f->statedir, sizeof f->statedir, "%s/state", f->tmp);
	ck_assert_int_eq(mkdir(f->plugdir, 0700), 0);
	char src[PATH_MAX + 64], dst[256];
	snprintf(src, sizeof src, "%s/tests/plugins/passive_test.so", builddir);
	snprintf(dst, sizeof dst, "%s/passive_test.so", f->plugdir);
	ck_assert_int_eq(symlink(src, dst), 0);
	f->loop = ev_default_loop(0);
	ev_now_update(f->loop);
	start(f);
}

static void restart(struct fx *f)
{
	server_stop(f->s);
	server_free(f->s);
	start(f);
}

static void fx_done(struct fx *f)
{
	server_free(f->s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void turn(struct fx *f, double secs)
{
	ev_timer g;
	ev_timer_init(&g, guard_cb, 0.002, 0.002);
	ev_timer_start(f->loop, &g);
	ev_now_update(f->loop);
	double end = ev_now(f->loop) + secs;
	while (ev_now(f->loop) < end && f->done_calls == 0)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &g);
}

static void on_done(void *ud, const struct app_result *r)
{
	struct fx *f = ud;
	f->done_calls++;
	f->done_r = *r;
}

/* A hard problem on c/asset/passive_test: opens an alert. */
static const char *problem(struct fx *f, const char *cu, const char *as, char *id, size_t n)
{
	ck_assert_int_eq(app_submit(f->app, &admin, cu, as, "passive_test", 2, "disk on fire"),
	                 APP_OK);
	struct app_alerts *l = NULL;
	char msg[256];
	struct app_alert_filter flt = { .customer = cu, .status = "unresolved", .severity = -1 };
	ck_assert_int_eq(app_alerts(f->app, &admin, &flt, NULL, &l, msg, sizeof msg), APP_OK);
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->rows[i].asset, as) == 0)
			snprintf(id, n, "%s", l->rows[i].id);
	app_alerts_free(l);
	ck_assert_msg(id[0], "no alert for %s/%s", cu, as);
	return id;
}

START_TEST(queries_copy_page_and_scope)
{
	struct fx f;
	fx_init(&f);
	char msg[256];
	struct app_customers *cl = NULL;
	ck_assert_int_eq(app_customers(f.app, &admin, &cl), APP_OK);
	ck_assert_uint_eq(cl->n, 2);
	ck_assert_str_eq(cl->rows[0].id, "c1");
	ck_assert_uint_eq(cl->rows[0].n_checks, 3);
	app_customers_free(cl);
	ck_assert_int_eq(app_customers(f.app, &viewer_c2, &cl), APP_OK);
	ck_assert_uint_eq(cl->n, 1);
	ck_assert_str_eq(cl->rows[0].id, "c2");
	app_customers_free(cl);

	struct app_assets *al = NULL;
	ck_assert_int_eq(app_assets(f.app, &admin, "c1", &al), APP_OK);
	ck_assert_uint_eq(al->n, 3);
	ck_assert_str_eq(al->rows[2].name, "c");
	ck_assert_uint_eq(al->rows[2].n_checks, 1);
	app_assets_free(al);
	ck_assert_int_eq(app_assets(f.app, &viewer_c2, "c1", &al), APP_E_FORBIDDEN);
	ck_assert_int_eq(app_assets(f.app, &admin, "nosuch", &al), APP_E_NOTFOUND);

	/* keyset pages of 2: every check once, in key order */
	struct app_check_filter all = { .state = -1, .hard = -1, .acknowledged = -1 };
	struct app_page pg = { .limit = 2 };
	struct app_checks *p1 = NULL, *p2 = NULL;
	ck_assert_int_eq(app_checks(f.app, &admin, &all, &pg, &p1, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p1->n, 2);
	ck_assert_str_eq(p1->rows[0].key, "c1/a/passive_test");
	ck_assert_ptr_nonnull(p1->next);
	pg.after = p1->next;
	ck_assert_int_eq(app_checks(f.app, &admin, &all, &pg, &p2, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p2->n, 2);
	ck_assert_str_eq(p2->rows[0].key, "c1/c/passive_test");
	ck_assert_str_eq(p2->rows[1].key, "c2/b/passive_test");
	ck_assert_ptr_null(p2->next);
	/* copies: a reload frees the registry objects, the rows stay valid */
	ck_assert_int_eq(server_reload_text(f.s, CONF), 0);
	ck_assert_str_eq(p1->rows[1].output, "");
	ck_assert_str_eq(p1->rows[1].key, "c1/b/passive_test");
	app_checks_free(p1);
	app_checks_free(p2);

	/* filters, scope and bad input */
	ck_assert_int_eq(app_submit(f.app, &admin, "c1", "b", "passive_test", 1, "slow"), APP_OK);
	struct app_check_filter probs = {
		.state = -1, .hard = -1, .acknowledged = -1, .problems = 1
	};
	ck_assert_int_eq(app_checks(f.app, &admin, &probs, NULL, &p1, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p1->n, 1);
	ck_assert_str_eq(p1->rows[0].output, "slow");
	app_checks_free(p1);
	struct app_check_filter c1 = {
		.customer = "c1", .state = -1, .hard = -1, .acknowledged = -1
	};
	ck_assert_int_eq(app_checks(f.app, &viewer_c2, &c1, NULL, &p1, msg, sizeof msg),
	                 APP_E_FORBIDDEN);
	ck_assert_ptr_null(p1);
	ck_assert_int_eq(app_checks(f.app, &viewer_c2, &all, NULL, &p1, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p1->n, 1);
	app_checks_free(p1);
	pg = (struct app_page){ .limit = APP_PAGE_MAX + 1 };
	ck_assert_int_eq(app_checks(f.app, &admin, &all, &pg, &p1, msg, sizeof msg), APP_E_INVALID);
	struct app_check_filter bad = {
		.customer = "nosuch", .state = -1, .hard = -1, .acknowledged = -1
	};
	ck_assert_int_eq(app_checks(f.app, &admin, &bad, NULL, &p1, msg, sizeof msg),
	                 APP_E_NOTFOUND);
	struct app_check one;
	ck_assert_int_eq(app_check_get(f.app, &viewer_c2, "c1", "a", "passive_test", &one),
	                 APP_E_FORBIDDEN);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "b", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.state, 1);
	app_check_clear(&one);
	fx_done(&f);
}
END_TEST

START_TEST(actions_scope_idempotency_and_durability)
{
	struct fx f;
	fx_init(&f);
	char id[128] = "", west[128] = "";
	problem(&f, "c1", "a", id, sizeof id);
	problem(&f, "c2", "b", west, sizeof west);
	struct app_alert got;
	ck_assert_int_eq(app_alert_get(f.app, &east, west, &got), APP_E_FORBIDDEN);
	ck_assert_int_eq(app_alert_get(f.app, &east, id, &got), APP_OK);
	ck_assert_str_eq(got.center, "cc-east");
	ck_assert_str_eq(got.status, "open");
	ck_assert_double_gt(got.ack_due, got.opened_at);
	app_alert_clear(&got);

	struct alert_action ack = { .type = ALERT_ACT_ACK, .actor = "Sato", .note = "mine" };
	struct app_result r;
	/* another center's alert it cannot see: the answer of an unknown id,
	 * word for word; nothing changes */
	ck_assert_int_eq(app_alert_act(f.app, &east, west, &ack, "cc-east", "x1", &r, NULL, NULL),
	                 APP_E_NOTFOUND);
	char want[200];
	snprintf(want, sizeof want, "unknown alert '%s'", west);
	ck_assert_str_eq(r.msg, want);
	ck_assert_int_eq(r.fresh, 0);
	/* one it can see (an operator reads every alert): refused as another
	 * center's */
	struct app_scope east_reader = east;
	east_reader.read_by_customer = 1;
	ck_assert_int_eq(
	    app_alert_act(f.app, &east_reader, west, &ack, "cc-east", "x1b", &r, NULL, NULL),
	    APP_E_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(r.msg, "belongs to another center"));
	/* an unknown alert */
	ck_assert_int_eq(
	    app_alert_act(f.app, &east, "A-n1-nosuch", &ack, "cc-east", "x2", &r, NULL, NULL),
	    APP_E_NOTFOUND);
	/* an action without its actor */
	struct alert_action anon = { .type = ALERT_ACT_ACK };
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &anon, "cc-east", NULL, &r, NULL, NULL),
	                 APP_E_INVALID);

	/* the ack: done only after the journal wrote it */
	struct events *hub = server_events(f.s);
	uint64_t seq0 = events_last_seq(hub);
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &ack, "cc-east", "k1", &r, on_done, &f),
	                 APP_OK);
	ck_assert_int_eq(r.fresh, 1);
	ck_assert_int_eq(f.done_calls, 0); /* not before it is durable */
	turn(&f, 5.0);
	ck_assert_int_eq(f.done_calls, 1);
	ck_assert_int_eq(f.done_r.err, APP_OK);
	ck_assert_uint_gt(events_last_seq(hub), seq0);
	/* the check mirrors the alert's acknowledgement */
	struct app_check one;
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 1);
	app_check_clear(&one);
	/* the same id again: the first answer, nothing done */
	uint64_t seq1 = events_last_seq(hub);
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &ack, "cc-east", "k1", &r, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(r.repeated, 1);
	ck_assert_int_eq(r.fresh, 0);
	ck_assert_uint_eq(events_last_seq(hub), seq1);
	/* a new id for the same ack: the alert's rules refuse it */
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &ack, "cc-east", "k2", &r, NULL, NULL),
	                 APP_E_STATE);
	ck_assert_str_eq(r.msg, "cannot ack: alert is acknowledged");
	/* the ids survive a restart, and so do the alert's ack and the mirror */
	restart(&f);
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &ack, "cc-east", "k1", &r, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(r.repeated, 1);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 1);
	app_check_clear(&one);
	/* resolve (needs a note) clears the check's mark too */
	struct alert_action res = { .type = ALERT_ACT_RESOLVE, .actor = "Sato", .note = "fixed" };
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &res, "cc-east", "k3", &r, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 0);
	app_check_clear(&one);
	/* listing by status */
	struct app_alerts *l = NULL;
	char msg[256];
	struct app_alert_filter flt = { .status = "resolved", .severity = -1 };
	ck_assert_int_eq(app_alerts(f.app, &east, &flt, NULL, &l, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->rows[0].id, id);
	app_alerts_free(l);
	flt = (struct app_alert_filter){ .status = "bogus", .severity = -1 };
	ck_assert_int_eq(app_alerts(f.app, &east, &flt, NULL, &l, msg, sizeof msg), APP_E_INVALID);
	struct app_page bad = { .after = "no-bar", .limit = 10 };
	ck_assert_int_eq(app_alerts(f.app, &east, NULL, &bad, &l, msg, sizeof msg), APP_E_INVALID);
	fx_done(&f);
}
END_TEST

/* An accepted command id is never applied again: not after 150,000 newer
 * ids of the same center (the old memory kept 100,000), nor after a
 * restart that reads them all back from the store. */
START_TEST(command_ids_beyond_many)
{
	struct fx f;
	fx_init(&f);
	char id[64];
	problem(&f, "c1", "a", id, sizeof id);
	struct app_result r;
	struct alert_action ack = { .type = ALERT_ACT_ACK, .actor = "Sato" };
	ck_assert_int_eq(app_alert_act(f.app, &east, id, &ack, "cc-east", "k-old", &r, on_done, &f),
	                 APP_OK);
	turn(&f, 5.0);
	ck_assert_int_eq(f.done_calls, 1);
	server_stop(f.s);
	server_free(f.s);

	char err[256] = "";
	struct store *st = store_open(f.statedir, err, sizeof err);
	ck_assert_msg(st != NULL, "store_open: %s", err);
	struct store_batch *b = store_batch_new();
	double t0 = ev_now(f.loop);
	char k[32];
	for (int i = 0; i < 150000; i++) {
		snprintf(k, sizeof k, "bulk-%d", i);
		store_batch_cmd_seen(b, "cc-east", k, "ok", t0 + 1 + i * 0.001);
	}
	ck_assert_uint_gt(store_commit(st, b), 0);
	store_close(st);

	start(&f);
	ck_assert_uint_eq(app_seen_count(f.app), 150001);
	/* an unack under the old id: the first answer, nothing done */
	struct alert_action unack = { .type = ALERT_ACT_UNACK, .actor = "Sato" };
	ck_assert_int_eq(
	    app_alert_act(f.app, &east, id, &unack, "cc-east", "k-old", &r, NULL, NULL), APP_OK);
	ck_assert_int_eq(r.repeated, 1);
	struct app_check one;
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 1);
	app_check_clear(&one);
	/* under a new id it is applied */
	ck_assert_int_eq(
	    app_alert_act(f.app, &east, id, &unack, "cc-east", "k-new", &r, NULL, NULL), APP_OK);
	ck_assert_int_eq(r.repeated, 0);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 0);
	app_check_clear(&one);
	fx_done(&f);
}
END_TEST

START_TEST(alert_pages_newest_first)
{
	struct fx f;
	fx_init(&f);
	char a[128] = "", b[128] = "", c[128] = "";
	problem(&f, "c1", "a", a, sizeof a);
	problem(&f, "c1", "b", b, sizeof b);
	problem(&f, "c1", "c", c, sizeof c);
	struct app_alerts *p = NULL;
	char msg[256];
	struct app_page pg = { .limit = 2 };
	ck_assert_int_eq(app_alerts(f.app, &east, NULL, &pg, &p, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p->n, 2);
	ck_assert_ptr_nonnull(p->next);
	char seen[3][128];
	snprintf(seen[0], 128, "%s", p->rows[0].id);
	snprintf(seen[1], 128, "%s", p->rows[1].id);
	pg.after = p->next;
	struct app_alerts *q = NULL;
	ck_assert_int_eq(app_alerts(f.app, &east, NULL, &pg, &q, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(q->n, 1);
	ck_assert_ptr_null(q->next);
	snprintf(seen[2], 128, "%s", q->rows[0].id);
	/* each once, newest first (ids grow with time within a node) */
	ck_assert_str_eq(seen[0], c);
	ck_assert_str_eq(seen[1], b);
	ck_assert_str_eq(seen[2], a);
	app_alerts_free(p);
	app_alerts_free(q);
	/* a viewer of c2 sees none of c1's */
	ck_assert_int_eq(app_alerts(f.app, &viewer_c2, NULL, NULL, &p, msg, sizeof msg), APP_OK);
	ck_assert_uint_eq(p->n, 0);
	app_alerts_free(p);
	fx_done(&f);
}
END_TEST

START_TEST(downtimes_with_ids)
{
	struct fx f;
	fx_init(&f);
	struct app_result r;
	double now = ev_now(f.loop);
	struct app_downtimes *l = NULL;
	ck_assert_int_eq(app_downtimes(f.app, &admin, &l), APP_OK);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->rows[0].id, "config-1");
	ck_assert_int_eq(l->rows[0].runtime, 0);
	app_downtimes_free(l);
	/* the file's downtime cannot be deleted through the API */
	ck_assert_int_eq(app_downtime_delete(f.app, &admin, "config-1", NULL, NULL, &r, NULL, NULL),
	                 APP_E_DENIED);
	/* bad ones */
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "a", NULL, now + 10, now, "op", NULL,
	                                  NULL, NULL, &r, NULL, NULL),
	                 APP_E_INVALID);
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "zz", NULL, now, now + 10, "op",
	                                  NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_NOTFOUND);
	ck_assert_int_eq(app_downtime_add(f.app, &viewer_c2, "c1", NULL, NULL, now, now + 10, "op",
	                                  NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_FORBIDDEN);
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", NULL, NULL, now, now + 10, NULL,
	                                  NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_INVALID);
	/* a good one: an id, listed, in force */
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "a", NULL, now - 1, now + 3600, "op",
	                                  "patching", NULL, NULL, &r, on_done, &f),
	                 APP_OK);
	char id[128];
	snprintf(id, sizeof id, "%s", r.id);
	ck_assert_int_eq(strncmp(id, "D-n1-", 5), 0);
	turn(&f, 5.0);
	ck_assert_int_eq(f.done_calls, 1);
	struct app_check one;
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.in_downtime, 1);
	app_check_clear(&one);
	/* the same request again (same origin and id): the same downtime */
	struct app_result r1, r2;
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "b", NULL, now, now + 60, "op", NULL,
	                                  "http:op", "req-1", &r1, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "b", NULL, now, now + 60, "op", NULL,
	                                  "http:op", "req-1", &r2, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(r2.repeated, 1);
	ck_assert_str_eq(r1.id, r2.id);
	ck_assert_int_eq(
	    app_downtime_delete(f.app, &admin, r1.id, "http:op", "req-2", &r, NULL, NULL), APP_OK);
	ck_assert_int_eq(
	    app_downtime_delete(f.app, &admin, r1.id, "http:op", "req-2", &r, NULL, NULL),
	    APP_OK); /* the repeat of a delete that worked: ok, nothing done */
	ck_assert_int_eq(r.repeated, 1);
	/* a reload keeps it */
	ck_assert_int_eq(server_reload_text(f.s, CONF), 0);
	ck_assert_int_eq(app_downtimes(f.app, &admin, &l), APP_OK);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->rows[1].id, id);
	ck_assert_int_eq(l->rows[1].active, 1);
	ck_assert_str_eq(l->rows[1].comment, "patching");
	app_downtimes_free(l);
	/* a restart keeps it too (persisted), and the one deleted above
	 * stays deleted */
	restart(&f);
	ck_assert_int_eq(app_downtimes(f.app, &admin, &l), APP_OK);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->rows[1].id, id);
	ck_assert_str_eq(l->rows[1].author, "op");
	ck_assert_int_eq(l->rows[1].runtime, 1);
	app_downtimes_free(l);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.in_downtime, 1);
	app_check_clear(&one);
	/* the repeat of the first request still names its downtime */
	ck_assert_int_eq(app_downtime_add(f.app, &admin, "c1", "b", NULL, now, now + 60, "op", NULL,
	                                  "http:op", "req-1", &r2, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(r2.repeated, 1);
	ck_assert_str_eq(r1.id, r2.id);
	/* delete: gone, the check is out of downtime */
	ck_assert_int_eq(app_downtime_delete(f.app, &admin, id, NULL, NULL, &r, NULL, NULL),
	                 APP_OK);
	ck_assert_int_eq(app_downtime_delete(f.app, &admin, id, NULL, NULL, &r, NULL, NULL),
	                 APP_E_NOTFOUND);
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.in_downtime, 0);
	app_check_clear(&one);
	restart(&f);
	ck_assert_int_eq(app_downtimes(f.app, &admin, &l), APP_OK);
	ck_assert_uint_eq(l->n, 1); /* the file's only */
	app_downtimes_free(l);
	fx_done(&f);
}
END_TEST

START_TEST(manual_inquiry)
{
	struct fx f;
	fx_init(&f);
	struct app_result r;
	ck_assert_int_eq(app_alert_open(f.app, &admin, "c2", "inquiry", "phone-1", "other", 1,
	                                "customer says mail is slow", "Tanaka", NULL, NULL, NULL,
	                                &r, NULL, NULL),
	                 APP_OK);
	struct app_alert got;
	ck_assert_int_eq(app_alert_get(f.app, &viewer_c2, r.id, &got), APP_OK);
	ck_assert_str_eq(got.center, "cc-west"); /* routed like any alert */
	ck_assert_str_eq(got.summary, "customer says mail is slow");
	ck_assert_str_eq(got.severity, "warning");
	app_alert_clear(&got);
	ck_assert_int_eq(app_alert_open(f.app, &admin, "c2", "inquiry", "phone-1", "other", 1, "x",
	                                "Tanaka", NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_STATE);
	ck_assert_int_eq(app_alert_open(f.app, &viewer_c2, "c1", "inquiry", "p", "other", 1, "x",
	                                "Tanaka", NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_FORBIDDEN);
	ck_assert_int_eq(app_alert_open(f.app, &admin, "c1", "in/quiry", "p", "other", 1, "x",
	                                "Tanaka", NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_INVALID);
	ck_assert_int_eq(app_alert_open(f.app, &admin, "c1", "inquiry", "p", "other", 7, "x",
	                                "Tanaka", NULL, NULL, NULL, &r, NULL, NULL),
	                 APP_E_INVALID);
	fx_done(&f);
}
END_TEST

struct hist {
	int calls, err;
	struct app_history *h;
	struct app_alerts *page;
};

static void on_hist(void *ud, int err, const char *msg, struct app_history *h)
{
	struct hist *x = ud;
	x->calls++;
	x->err = err;
	x->h = h;
}

static void on_page(void *ud, int err, const char *msg, struct app_alerts *p)
{
	struct hist *x = ud;
	x->calls++;
	x->err = err;
	x->page = p;
}

static void wait_calls(struct fx *f, struct hist *x)
{
	ev_timer g;
	ev_timer_init(&g, guard_cb, 0.002, 0.002);
	ev_timer_start(f->loop, &g);
	for (int i = 0; i < 5000 && !x->calls; i++)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &g);
	ck_assert_int_eq(x->calls, 1);
}

START_TEST(history_from_the_store)
{
	struct fx f;
	fx_init(&f);
	char a[128] = "", w[128] = "";
	problem(&f, "c1", "a", a, sizeof a);
	problem(&f, "c2", "b", w, sizeof w);
	struct alert_action ack = { .type = ALERT_ACT_ACK, .actor = "Sato", .note = "mine" };
	struct app_result r;
	ck_assert_int_eq(app_alert_act(f.app, &east, a, &ack, "cc-east", "h1", &r, on_done, &f),
	                 APP_OK);
	turn(&f, 5.0); /* durable: the store has it now */
	ck_assert_int_eq(f.done_calls, 1);
	struct hist x = { 0 };
	ck_assert_int_eq(app_alert_history(f.app, &east, a, on_hist, &x), APP_OK);
	ck_assert_int_eq(x.calls, 0); /* never inside the call */
	wait_calls(&f, &x);
	ck_assert_int_eq(x.err, APP_OK);
	ck_assert_str_eq(x.h->alert.id, a);
	ck_assert_str_eq(x.h->alert.status, "acknowledged");
	ck_assert_uint_eq(x.h->n_events, 2);
	ck_assert_str_eq(x.h->events[0].type, "opened");
	ck_assert_str_eq(x.h->events[1].type, "acknowledged");
	ck_assert_str_eq(x.h->events[1].actor, "Sato");
	ck_assert_str_eq(x.h->events[1].cmd_id, "h1");
	ck_assert_ptr_nonnull(strstr(x.h->events[1].json, "\"event\":\"acknowledged\""));
	app_history_free(x.h);
	/* another center's alert, an unknown one */
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(app_alert_history(f.app, &east, w, on_hist, &x), APP_OK);
	wait_calls(&f, &x);
	ck_assert_int_eq(x.err, APP_E_FORBIDDEN);
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(app_alert_history(f.app, &admin, "A-n1-none", on_hist, &x), APP_OK);
	wait_calls(&f, &x);
	ck_assert_int_eq(x.err, APP_E_NOTFOUND);
	/* pages from the store: scope decides what a center sees */
	memset(&x, 0, sizeof x);
	char msg[256];
	struct app_page pg = { .limit = 1 };
	ck_assert_int_eq(app_alerts_stored(f.app, &admin, NULL, &pg, on_page, &x, msg, sizeof msg),
	                 APP_OK);
	wait_calls(&f, &x);
	ck_assert_int_eq(x.err, APP_OK);
	ck_assert_uint_eq(x.page->n, 1);
	ck_assert_ptr_nonnull(x.page->next);
	/* the next page: the other alert, each once (both were opened in the
	 * same loop turn: a tie on opened_at that the id breaks) */
	char first[128], cursor[256];
	snprintf(first, sizeof first, "%s", x.page->rows[0].id);
	snprintf(cursor, sizeof cursor, "%s", x.page->next);
	app_alerts_free(x.page);
	memset(&x, 0, sizeof x);
	pg.after = cursor;
	pg.limit = 10;
	ck_assert_int_eq(app_alerts_stored(f.app, &admin, NULL, &pg, on_page, &x, msg, sizeof msg),
	                 APP_OK);
	wait_calls(&f, &x);
	ck_assert_uint_eq(x.page->n, 1);
	ck_assert_str_ne(x.page->rows[0].id, first);
	ck_assert(strcmp(x.page->rows[0].id, a) == 0 || strcmp(x.page->rows[0].id, w) == 0);
	ck_assert_ptr_null(x.page->next);
	app_alerts_free(x.page);
	pg.after = NULL;
	memset(&x, 0, sizeof x);
	ck_assert_int_eq(app_alerts_stored(f.app, &east, NULL, NULL, on_page, &x, msg, sizeof msg),
	                 APP_OK);
	wait_calls(&f, &x);
	ck_assert_uint_eq(x.page->n, 1);
	ck_assert_str_eq(x.page->rows[0].id, a);
	app_alerts_free(x.page);
	struct app_alert_filter other = { .center = "cc-west", .severity = -1 };
	ck_assert_int_eq(
	    app_alerts_stored(f.app, &east, &other, NULL, on_page, &x, msg, sizeof msg),
	    APP_E_FORBIDDEN);
	pg.limit = 5000;
	ck_assert_int_eq(app_alerts_stored(f.app, &admin, NULL, &pg, on_page, &x, msg, sizeof msg),
	                 APP_E_INVALID);
	fx_done(&f);
}
END_TEST

struct got {
	int n, alerts, states;
	char last[64];
};

static void on_event(void *ud, const struct event *e)
{
	struct got *g = ud;
	g->n++;
	g->alerts += e->type == EVENT_ALERT;
	g->states += e->type == EVENT_STATE;
	snprintf(g->last, sizeof g->last, "%s", e->subject ? e->subject : "");
	ck_assert_ptr_nonnull(e->json); /* what a stream client is sent */
}

START_TEST(subscriptions_replay_and_scope)
{
	struct fx f;
	fx_init(&f);
	struct events *hub = server_events(f.s);
	uint64_t start = events_last_seq(hub);
	char a[128] = "", w[128] = "";
	problem(&f, "c1", "a", a, sizeof a);
	problem(&f, "c2", "b", w, sizeof w);
	/* replay since `start`: the admin sees both alerts and both states */
	struct got all = { 0 }, east_only = { 0 };
	int gap = 0;
	struct app_sub *s1 =
	    app_subscribe(f.app, &admin, start, EVENT_MASK_ALL, on_event, &all, &gap);
	ck_assert_int_eq(gap, 0);
	ck_assert_int_eq(all.alerts, 2);
	ck_assert_int_ge(all.states, 2);
	/* a cc-east operator: c1's alert, not c2's (routed to cc-west) */
	struct app_sub *s2 =
	    app_subscribe(f.app, &east, start, EVENT_MASK(EVENT_ALERT), on_event, &east_only, &gap);
	ck_assert_int_eq(east_only.alerts, 1);
	ck_assert_str_eq(east_only.last, a);
	/* live */
	struct alert_action c = { .type = ALERT_ACT_COMMENT, .actor = "Sato", .note = "called" };
	struct app_result r;
	ck_assert_int_eq(app_alert_act(f.app, &admin, w, &c, NULL, NULL, &r, NULL, NULL), APP_OK);
	ck_assert_int_eq(all.alerts, 3);
	ck_assert_int_eq(east_only.alerts, 1);
	ck_assert_int_eq(app_alert_act(f.app, &admin, a, &c, NULL, NULL, &r, NULL, NULL), APP_OK);
	ck_assert_int_eq(east_only.alerts, 2);
	app_unsubscribe(f.app, s1);
	app_unsubscribe(f.app, s2);
	/* far behind the ring: a gap to report, nothing replayed */
	for (int i = 0; i < EVENTS_RING_DEF + 10; i++)
		ck_assert_int_eq(app_alert_act(f.app, &admin, a, &c, NULL, NULL, &r, NULL, NULL),
		                 APP_OK);
	struct got g = { 0 };
	struct app_sub *s3 =
	    app_subscribe(f.app, &admin, start, EVENT_MASK_ALL, on_event, &g, &gap);
	ck_assert_int_eq(gap, 1);
	ck_assert_int_eq(g.n, 0);
	app_unsubscribe(f.app, s3);
	fx_done(&f);
}
END_TEST

/* Acknowledging a check is the action on its alert; every outcome, the
 * refusals included, reaches `done` exactly once (the HTTP layer answers
 * from it: a refusal that skipped it left the request hanging). */
START_TEST(check_ack_always_done)
{
	struct fx f;
	fx_init(&f);
	struct app_result r;
	/* no such check */
	ck_assert_int_eq(
	    app_check_ack(f.app, &admin, "c1", "a", "nosuch", 1, "Sato", NULL, &r, on_done, &f),
	    APP_E_NOTFOUND);
	turn(&f, 2.0);
	ck_assert_int_eq(f.done_calls, 1);
	ck_assert_int_eq(f.done_r.err, APP_E_NOTFOUND);
	/* a check without an unresolved alert */
	f.done_calls = 0;
	ck_assert_int_eq(app_check_ack(f.app, &admin, "c1", "a", "passive_test", 1, "Sato", NULL,
	                               &r, on_done, &f),
	                 APP_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(r.msg, "no unresolved alert"));
	turn(&f, 2.0);
	ck_assert_int_eq(f.done_calls, 1);
	ck_assert_int_eq(f.done_r.err, APP_E_NOTFOUND);
	/* with one: acknowledged once written, and the check shows it */
	char id[128] = "";
	problem(&f, "c1", "a", id, sizeof id);
	f.done_calls = 0;
	ck_assert_int_eq(app_check_ack(f.app, &east, "c1", "a", "passive_test", 1, "Sato", "mine",
	                               &r, on_done, &f),
	                 APP_OK);
	turn(&f, 5.0);
	ck_assert_int_eq(f.done_calls, 1);
	ck_assert_int_eq(f.done_r.err, APP_OK);
	struct app_check one;
	ck_assert_int_eq(app_check_get(f.app, &admin, "c1", "a", "passive_test", &one), APP_OK);
	ck_assert_int_eq(one.acknowledged, 1);
	app_check_clear(&one);
	fx_done(&f);
}
END_TEST

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Pages over a model of 600 checks in three customers (names that sort
 * in a different order than they were made), with page sizes from 1 to
 * the maximum: every check exactly once, in key order, with filters and
 * scopes applied before the page is cut. */
START_TEST(check_pages_over_many)
{
	struct fx f;
	fx_init(&f);
	size_t cap = 200000, n = 0;
	char *conf = malloc(cap);
	n += (size_t)snprintf(conf + n, cap - n,
	                      "daemon = { log_level = \"err\"; node = \"n1\"; };\n"
	                      "customers = (");
	char *keys[600];
	size_t nk = 0;
	for (int c = 0; c < 3; c++) {
		n += (size_t)snprintf(conf + n, cap - n, "%s{ id = \"c%d\"; assets = (",
		                      c ? "," : "", 3 - c);
		for (int a = 0; a < 20; a++) {
			n += (size_t)snprintf(conf + n, cap - n, "%s{ name = \"h%02d\"; checks = (",
			                      a ? "," : "", (a * 7) % 20);
			for (int k = 0; k < 10; k++) {
				n += (size_t)snprintf(
				    conf + n, cap - n,
				    "%s{ plugin = \"passive_test\"; name = \"k%d\"; }",
				    k ? "," : "", (k * 3) % 10);
				char key[64];
				snprintf(key, sizeof key, "c%d/h%02d/k%d", 3 - c, (a * 7) % 20,
				         (k * 3) % 10);
				keys[nk++] = strdup(key);
			}
			n += (size_t)snprintf(conf + n, cap - n, "); }");
		}
		n += (size_t)snprintf(conf + n, cap - n, "); }");
	}
	snprintf(conf + n, cap - n, ");\n");
	ck_assert_int_eq(server_reload_text(f.s, conf), 0);
	qsort(keys, nk, sizeof *keys, cmp_str);
	static const unsigned sizes[] = { 1, 7, 100, 599, 600, 1000 };
	char msg[256];
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		struct app_check_filter all = { .state = -1, .hard = -1, .acknowledged = -1 };
		struct app_page pg = { .limit = sizes[si] };
		char *after = NULL;
		size_t got = 0, pages = 0;
		for (;;) {
			struct app_checks *p = NULL;
			pg.after = after;
			ck_assert_int_eq(app_checks(f.app, &admin, &all, &pg, &p, msg, sizeof msg),
			                 APP_OK);
			pages++;
			for (size_t i = 0; i < p->n; i++, got++) {
				ck_assert_uint_lt(got, nk);
				ck_assert_str_eq(p->rows[i].key, keys[got]);
			}
			free(after);
			after = p->next ? strdup(p->next) : NULL;
			ck_assert_uint_le(p->n, sizes[si]);
			app_checks_free(p);
			if (!after)
				break;
		}
		ck_assert_uint_eq(got, nk);
		ck_assert_uint_eq(pages, (nk + sizes[si] - 1) / sizes[si]);
	}
	/* a viewer of c2 with pages of 7: c2's 200 checks only, in order */
	struct app_check_filter all = { .state = -1, .hard = -1, .acknowledged = -1 };
	struct app_page pg = { .limit = 7 };
	size_t got = 0;
	char *after = NULL;
	do {
		struct app_checks *p = NULL;
		pg.after = after;
		ck_assert_int_eq(app_checks(f.app, &viewer_c2, &all, &pg, &p, msg, sizeof msg),
		                 APP_OK);
		for (size_t i = 0; i < p->n; i++, got++)
			ck_assert_str_eq(p->rows[i].key, keys[200 + got]);
		free(after);
		after = p->next ? strdup(p->next) : NULL;
		app_checks_free(p);
	} while (after);
	ck_assert_uint_eq(got, 200);
	for (size_t i = 0; i < nk; i++)
		free(keys[i]);
	free(conf);
	fx_done(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("app");
	TCase *tc = tcase_create("app");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, queries_copy_page_and_scope);
	tcase_add_test(tc, actions_scope_idempotency_and_durability);
	tcase_add_test(tc, alert_pages_newest_first);
	tcase_add_test(tc, command_ids_beyond_many);
	tcase_add_test(tc, downtimes_with_ids);
	tcase_add_test(tc, manual_inquiry);
	tcase_add_test(tc, subscriptions_replay_and_scope);
	tcase_add_test(tc, history_from_the_store);
	tcase_add_test(tc, check_ack_always_done);
	tcase_add_test(tc, check_pages_over_many);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
