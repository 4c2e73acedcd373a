/*
 * test_notify: on-call notifications through a real mamorid core (server,
 * journal, store in a temporary directory, alerting, the hub) and test
 * notifiers (tests/plugins/fake_mail.c, fake_sms.c) that record what
 * they are asked to deliver and answer as told.
 *
 * Covered: who gets what (channel rules by severity, quiet hours), the
 * items written in the alert event's own transaction, deduplication
 * across a restart, retries with backoff then success, giving up (and
 * the alert's notify_failed event), a channel that says "never",
 * timeouts, bundling within the window, the SMS cap with the overflow
 * summarised, repeat pages until acknowledged, escalation paging the next
 * tier, the resolution told to those paged, a crash while a delivery was
 * handed over (sent again as a possible duplicate with the same id), the
 * SMS text fitted to one segment, and the message ids of a thread;
 * documents mailed by the service (a monthly report with its PDF): sent
 * once per address with the file intact, retried across a restart with
 * the file read back from the store, sent again as a possible duplicate
 * after a crash during the hand-over, refused when malformed.
 *
 * The loop runs for real with durations of a few hundred milliseconds
 * (assertions allow slack); nothing sleeps.
 */
#include "alert/alert.h"
#include "app/app.h"
#include "notify/notify_int.h"
#include "server/server.h"
#include "util/log.h"
#include "tests/plugins/fake_notifier.h"

#include <check.h>
#include <dlfcn.h>
#include <ev.h>
#include <libgen.h>
#include <limits.h>
#include <mamori/plugin.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	struct ev_loop *loop;
	struct server *s;
	char tmp[64], plugdir[128], statedir[256];
	struct fake_ctl *mail, *sms;
};

static char builddir[PATH_MAX];
static const struct app_scope admin = { .all = 1 };

static void find_builddir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
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

static struct fake_ctl *ctl_of(struct fx *f, const char *so)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", f->plugdir, so);
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h != NULL, "%s not loaded", path);
	struct fake_ctl *c = dlsym(h, "fake_notifier_ctl");
	ck_assert_ptr_nonnull(c);
	dlclose(h);
	return c;
}

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof *f);
	log_set_level(LOG_LVL_ERR);
	find_builddir();
	snprintf(f->tmp, sizeof f->tmp, "/tmp/mamori-tn.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	snprintf(f->plugdir, sizeof f->plugdir, "%s/plugins", f->tmp);
	snprintf(f->statedir, sizeof f->statedir, "%s/state", f->tmp);
	ck_assert_int_eq(mkdir(f->plugdir, 0700), 0);
	link_plugin(f, "plugins/dummy.so", "dummy.so");
	link_plugin(f, "tests/plugins/fake_mail.so", "fake_mail.so");
	link_plugin(f, "tests/plugins/fake_sms.so", "fake_sms.so");
	f->loop = ev_default_loop(0);
	ev_now_update(f->loop);
}

/* A configuration: `notify_extra` goes into the notify group,
 * `contact_extra` into tanaka's block. */
static char *conf(const char *notify_extra, const char *contact_extra)
{
	char *c = NULL;
	if (asprintf(
	        &c,
	        "daemon = { flush_interval = \"20ms\"; log_level = \"err\"; };\n"
	        "calendars = ( { name = \"always\"; timezone = \"Asia/Tokyo\"; hours = \"24x7\"; } );\n"
	        "centers = ( { name = \"cc\"; calendar = \"always\"; tiers = (\n"
	        "  { name = \"t1\"; ack_within = \"1h\"; resolve_within = \"4h\"; },\n"
	        "  { name = \"t2\"; ack_within = \"1h\"; resolve_within = \"4h\"; } ); } );\n"
	        "routes = ( { center = \"cc\"; } );\n"
	        "notify = { channels = ( { name = \"mail\"; plugin = \"fake_mail\"; },\n"
	        "                        { name = \"sms\"; plugin = \"fake_sms\"; } );\n"
	        "  link_base = \"https://m.example\"; message_id_domain = \"m.test\";\n"
	        "  retry_min = \"200ms\"; retry_max = \"400ms\";\n"
	        "  %s %s %s };\n"
	        "contacts = ( { name = \"tanaka\"; email = \"tanaka@example.jp\";\n"
	        "               phone = \"+819011112222\";\n"
	        "               %s %s },\n"
	        "             { name = \"suzuki\"; email = \"suzuki@example.jp\"; language = \"en\"; } );\n"
	        "oncall = ( { center = \"cc\"; tier = \"t1\"; layers = ( { members = \"tanaka\"; } ); },\n"
	        "           { center = \"cc\"; tier = \"t2\"; layers = ( { members = \"suzuki\"; } ); } );\n"
	        "customers = ( { id = \"c1\"; name = \"株式会社テスト\"; assets = ( { name = \"h\";\n"
	        "  type = \"host\"; checks = ( { plugin = \"dummy\"; interval = \"1h\"; } ); } ); } );\n",
	        strstr(notify_extra, "bundle_window") ? "" : "bundle_window = \"100ms\";",
	        strstr(notify_extra, "repeat") ? "" : "repeat = \"0\";", notify_extra,
	        strstr(contact_extra, "channels")
	            ? ""
	            : "channels = ( { channel = \"mail\"; },\n"
	              "             { channel = \"sms\"; severity = \"critical\"; } );",
	        contact_extra) < 0)
		return NULL;
	return c;
}

static void fx_start_dir(struct fx *f, const char *text, const char *statedir)
{
	struct server_opts o = { .config_text = text,
		                 .plugin_dir = f->plugdir,
		                 .state_dir = statedir,
		                 .data_dir = "share/mamori",
		                 .no_spread = 1 };
	f->s = server_new(f->loop, &o);
	ck_assert_msg(f->s != NULL, "server_new refused:\n%s", text);
	f->mail = ctl_of(f, "fake_mail.so");
	f->sms = ctl_of(f, "fake_sms.so");
	ck_assert_int_eq(server_start(f->s), 0);
}

static void fx_start(struct fx *f, const char *text)
{
	fx_start_dir(f, text, f->statedir);
}

static void reset_ctl(struct fx *f)
{
	void *mi = f->mail->inst, *si = f->sms->inst;
	const void *mh = f->mail->host, *sh = f->sms->host;
	memset(f->mail, 0, sizeof *f->mail);
	memset(f->sms, 0, sizeof *f->sms);
	f->mail->inst = mi;
	f->mail->host = mh;
	f->sms->inst = si;
	f->sms->host = sh;
}

static const char *alert_status(struct fx *f, const char *id)
{
	static char st[32];
	struct app_alert a;
	if (app_alert_get(server_app(f->s), &admin, id, &a) != APP_OK)
		return "?";
	snprintf(st, sizeof st, "%s", a.status);
	app_alert_clear(&a);
	return st;
}

static void fx_stop(struct fx *f)
{
	if (f->s)
		server_free(f->s);
	f->s = NULL;
}

static void fx_done(struct fx *f)
{
	fx_stop(f);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop for `seconds`. */
static void pump(struct fx *f, double seconds)
{
	ev_now_update(f->loop);
	double end = ev_now(f->loop) + seconds;
	ev_timer t;
	ev_timer_init(&t, timeout_cb, 0.01, 0.01);
	ev_timer_start(f->loop, &t);
	while (ev_now(f->loop) < end)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &t);
}

/* Run until *n >= want or `seconds` pass; the final count. */
static size_t pump_until(struct fx *f, const size_t *n, size_t want, double seconds)
{
	ev_now_update(f->loop);
	double end = ev_now(f->loop) + seconds;
	ev_timer t;
	ev_timer_init(&t, timeout_cb, 0.01, 0.01);
	ev_timer_start(f->loop, &t);
	while (*n < want && ev_now(f->loop) < end)
		ev_run(f->loop, EVRUN_ONCE);
	ev_timer_stop(f->loop, &t);
	return *n;
}

static char *open_alert(struct fx *f, const char *check, int severity, const char *summary,
                        app_done_fn done, void *ud)
{
	struct app_result r;
	int rc = app_alert_open(server_app(f->s), &admin, "c1", "h", check, "utm", severity,
	                        summary, "test", "test", "test", NULL, &r, done, ud);
	ck_assert_msg(rc == APP_OK, "open: %s", r.msg);
	return strdup(r.id);
}

static int act(struct fx *f, const char *id, enum alert_action_type type)
{
	struct alert_action a = { .type = type, .actor = "operator" };
	struct app_result r;
	return app_alert_act(server_app(f->s), &admin, id, &a, "test", NULL, &r, NULL, NULL);
}

/* One number from the database (after everything is written). */
static long long q1(struct fx *f, const char *sql, const char *arg)
{
	server_flush(f->s, 1);
	char path[320];
	snprintf(path, sizeof path, "%s/mamori.db", f->statedir);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	long long v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ---- who gets what ---- */

struct done_check {
	struct fx *f;
	const char *id;
	long long items; /* notify_item rows of the alert when its event was durable */
	int called;
};

static void on_open_done(void *ud, const struct app_result *r)
{
	struct done_check *d = ud;
	char path[320];
	snprintf(path, sizeof path, "%s/mamori.db", d->f->statedir);
	sqlite3 *db;
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT count(*) FROM notify_item WHERE alert_id = ?", -1, &st,
	                   NULL);
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		d->items = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	d->called = 1;
}

START_TEST(pages_by_rules)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	struct done_check dc = { .f = &f };
	char *id = open_alert(&f, "utm", 2, "UTM 応答なし: ping 100% loss", on_open_done, &dc);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	ck_assert_uint_eq(pump_until(&f, &f.sms->n, 1, 5), 1);
	/* the items were in the alert event's own transaction */
	ck_assert(dc.called);
	ck_assert_int_eq(dc.items, 2);
	const struct fake_msg *m = &f.mail->msgs[0];
	ck_assert_str_eq(m->contact, "tanaka");
	ck_assert_str_eq(m->address, "tanaka@example.jp");
	ck_assert_str_eq(m->language, "ja");
	ck_assert_str_eq(m->severity, "critical");
	ck_assert_ptr_nonnull(strstr(m->subject, "株式会社テスト"));
	ck_assert_ptr_nonnull(strstr(m->subject, "重大"));
	ck_assert_ptr_nonnull(strstr(m->body, "UTM 応答なし"));
	ck_assert_ptr_nonnull(strstr(m->body, "https://m.example/alerts/"));
	ck_assert_str_eq(m->alert0, id);
	ck_assert_str_eq(m->event0, "opened");
	/* threading: its own id, the alert's root in In-Reply-To/References */
	char root[512];
	snprintf(root, sizeof root, "<%s+tanaka+", id);
	ck_assert_ptr_nonnull(strstr(m->in_reply_to, root));
	ck_assert_str_eq(m->in_reply_to, m->references);
	ck_assert_ptr_nonnull(strstr(m->message_id, "1.opened.mail+"));
	ck_assert_ptr_nonnull(strstr(m->message_id, "@m.test>"));
	/* the SMS fits one UCS-2 segment and keeps customer and link */
	const struct fake_msg *s = &f.sms->msgs[0];
	ck_assert_str_eq(s->address, "+819011112222");
	struct sms_len L;
	sms_measure(s->short_text, &L);
	ck_assert_int_eq(L.ucs2, 1);
	ck_assert_uint_le(L.units, 70);
	ck_assert_msg(strstr(s->short_text, "株式会社") != NULL, "%s", s->short_text);
	ck_assert_msg(strstr(s->short_text, "返信:了解") != NULL, "%s", s->short_text);
	ck_assert_ptr_nonnull(strstr(s->short_text, "https://m.example/a/"));
	/* rows: both sent, one attempt each */
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_item WHERE alert_id = ?1 AND status = "
	                    "'sent' AND attempts = 1",
	                    id),
	                 2);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'sent'",
	                    id),
	                 2);
	/* a warning: e-mail only (SMS is for critical) */
	char *w = open_alert(&f, "disk", 1, "disk 85%", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	pump(&f, 0.3);
	ck_assert_uint_eq(f.sms->n, 1);
	ck_assert_str_eq(f.mail->msgs[1].alert0, w);
	/* restart: nothing is paged again */
	fx_stop(&f);
	fx_start(&f, c);
	size_t before = f.mail->n + f.sms->n;
	pump(&f, 0.5);
	ck_assert_uint_eq(f.mail->n + f.sms->n, before);
	free(id);
	free(w);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(quiet_hours)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "quiet_hours = \"24x7\"; quiet_pass = \"critical\";");
	fx_start(&f, c);
	reset_ctl(&f);
	free(open_alert(&f, "disk", 1, "disk 85%", NULL, NULL));
	pump(&f, 0.5);
	ck_assert_uint_eq(f.mail->n, 0);
	free(open_alert(&f, "utm", 2, "UTM down", NULL, NULL));
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	ck_assert_str_eq(f.mail->msgs[0].severity, "critical");
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- retries, giving up ---- */

START_TEST(retry_then_sent)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->retries = 2;
	char *id = open_alert(&f, "disk", 1, "disk 85%", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 3, 5), 3);
	/* backoff: 200 ms, then 400 ms */
	ck_assert_double_ge(f.mail->msgs[1].t - f.mail->msgs[0].t, 0.18);
	ck_assert_double_ge(f.mail->msgs[2].t - f.mail->msgs[1].t, 0.38);
	ck_assert_uint_eq(f.mail->msgs[2].attempt, 3);
	/* the same message id every time */
	ck_assert_str_eq(f.mail->msgs[0].message_id, f.mail->msgs[2].message_id);
	pump(&f, 0.6);
	ck_assert_uint_eq(f.mail->n, 3);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'retry'",
	                    id),
	                 2);
	ck_assert_int_eq(q1(&f,
	                    "SELECT attempts FROM notify_item WHERE alert_id = ?1 AND status = "
	                    "'sent'",
	                    id),
	                 3);
	free(id);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(give_up_and_failed)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("give_up_after = \"1s\";", "");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->retries = 1000000;
	char *id = open_alert(&f, "disk", 1, "disk 85%", NULL, NULL);
	pump(&f, 1.8);
	ck_assert_uint_ge(f.mail->n, 3);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_item WHERE alert_id = ?1 AND status = "
	                    "'failed'",
	                    id),
	                 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'gave_up'",
	                    id),
	                 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM alert_event WHERE alert_id = ?1 AND type = "
	                    "'notify_failed'",
	                    id),
	                 1);
	size_t tries = f.mail->n;
	pump(&f, 0.6);
	ck_assert_uint_eq(f.mail->n, tries); /* given up: no more */
	/* a channel that says "never": given up at once */
	f.mail->retries = 0;
	f.mail->status = MAMORI_NOTIFY_FAILED;
	char *id2 = open_alert(&f, "mem", 1, "memory 95%", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, tries + 1, 5), tries + 1);
	pump(&f, 0.3);
	ck_assert_uint_eq(f.mail->n, tries + 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'failed'",
	                    id2),
	                 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM alert_event WHERE alert_id = ?1 AND type = "
	                    "'notify_failed'",
	                    id2),
	                 1);
	free(id);
	free(id2);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(timeout_then_sent)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("send_timeout = \"1s\";", "");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->mode = FAKE_HANG;
	char *id = open_alert(&f, "disk", 1, "disk 85%", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	f.mail->mode = FAKE_NOW;
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	ck_assert_uint_eq(f.mail->cancels, 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'retry' AND detail LIKE 'no answer%'",
	                    id),
	                 1);
	free(id);
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- storm control ---- */

START_TEST(bundling)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("bundle_window = \"1s\";", "");
	fx_start(&f, c);
	reset_ctl(&f);
	char check[16];
	for (int i = 0; i < 5; i++) {
		snprintf(check, sizeof check, "pc-%d", i);
		free(open_alert(&f, check, 1, "agent silent", NULL, NULL));
	}
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	ck_assert_uint_eq(f.mail->msgs[0].n_items, 1);
	pump(&f, 0.5);
	ck_assert_uint_eq(f.mail->n, 1); /* the window holds the rest */
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	const struct fake_msg *b = &f.mail->msgs[1];
	ck_assert_uint_eq(b->n_items, 4);
	ck_assert_double_ge(b->t - f.mail->msgs[0].t, 0.95);
	ck_assert_ptr_nonnull(strstr(b->subject, "4件"));
	ck_assert_ptr_nonnull(strstr(b->body, "4 × "));
	ck_assert_ptr_nonnull(strstr(b->message_id, "<bundle."));
	pump(&f, 1.2);
	ck_assert_uint_eq(f.mail->n, 2);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(sms_cap)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("sms_per_hour = 2;", "");
	fx_start(&f, c);
	reset_ctl(&f);
	char check[16];
	for (int i = 0; i < 6; i++) {
		snprintf(check, sizeof check, "utm-%d", i);
		free(open_alert(&f, check, 2, "UTM down", NULL, NULL));
		pump(&f, 0.25);
	}
	pump(&f, 0.5);
	ck_assert_uint_eq(f.sms->n, 2);
	ck_assert_uint_eq(f.mail->n, 6); /* e-mail has no cap */
	struct notify_stats st;
	(void)st;
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_item WHERE channel = 'sms' AND status = "
	                    "'pending'",
	                    NULL),
	                 4);
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- repeat, acknowledge, escalate, resolve ---- */

START_TEST(repeat_escalate_resolve)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("repeat = \"600ms\"; events = [ \"opened\", \"escalated\", \"resolved\", "
	               "\"repeat\" ];",
	               "channels = ( { channel = \"mail\"; } );");
	fx_start(&f, c);
	reset_ctl(&f);
	char *id = open_alert(&f, "utm", 2, "UTM down", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	ck_assert_str_eq(f.mail->msgs[0].event0, "opened");
	ck_assert_str_eq(f.mail->msgs[1].event0, "repeat");
	ck_assert_ptr_nonnull(strstr(f.mail->msgs[1].subject, "未確認"));
	/* acknowledged: no more repeats */
	ck_assert_int_eq(act(&f, id, ALERT_ACT_ACK), APP_OK);
	size_t n = f.mail->n;
	pump(&f, 1.5);
	ck_assert_uint_eq(f.mail->n, n);
	/* escalated: the next tier's on-call (suzuki, English) is paged */
	ck_assert_int_eq(act(&f, id, ALERT_ACT_ESCALATE), APP_OK);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, n + 1, 5), n + 1);
	ck_assert_str_eq(f.mail->msgs[n].contact, "suzuki");
	ck_assert_str_eq(f.mail->msgs[n].event0, "escalated");
	ck_assert_ptr_nonnull(strstr(f.mail->msgs[n].subject, "escalated"));
	/* resolved: both who were paged hear of it (and nobody else) */
	ck_assert_int_eq(act(&f, id, ALERT_ACT_RESOLVE), APP_OK);
	pump(&f, 0.8);
	int tanaka = 0, suzuki = 0;
	for (size_t i = n + 1; i < f.mail->n; i++) {
		if (strcmp(f.mail->msgs[i].event0, "resolved") != 0)
			continue;
		tanaka += strcmp(f.mail->msgs[i].contact, "tanaka") == 0;
		suzuki += strcmp(f.mail->msgs[i].contact, "suzuki") == 0;
	}
	ck_assert_int_eq(tanaka, 1);
	ck_assert_int_eq(suzuki, 1);
	ck_assert_int_eq(q1(&f, "SELECT count(*) FROM notify_page WHERE alert_id = ?1", id), 0);
	free(id);
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- a crash while a delivery was handed over ---- */

static void copy_file(const char *from, const char *to)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "test ! -e '%s' || cp -p '%s' '%s'", from, from, to);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(crash_during_delivery)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "channels = ( { channel = \"mail\"; } );");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->mode = FAKE_HANG; /* handed over, never answered */
	char *id = open_alert(&f, "utm", 2, "UTM down", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_item WHERE alert_id = ?1 AND status = "
	                    "'sending'",
	                    id),
	                 1);
	/* the files as a kill -9 leaves them (everything written, the
	 * writer idle): a copy of the database, its -wal and -shm */
	char crash[160], a[320], b[320];
	snprintf(crash, sizeof crash, "%s/crash", f.tmp);
	ck_assert_int_eq(mkdir(crash, 0700), 0);
	static const char *const files[] = { "mamori.db", "mamori.db-wal", "mamori.db-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof a, "%s/%s", f.statedir, files[i]);
		snprintf(b, sizeof b, "%s/%s", crash, files[i]);
		copy_file(a, b);
	}
	char first_id[300];
	snprintf(first_id, sizeof first_id, "%s", f.mail->msgs[0].message_id);
	fx_stop(&f);
	f.mail->mode = FAKE_NOW;
	snprintf(f.statedir, sizeof f.statedir, "%s", crash);
	fx_start(&f, c);
	f.mail->mode = FAKE_NOW;
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	const struct fake_msg *m = &f.mail->msgs[1];
	ck_assert_int_eq(m->dup, 1);
	ck_assert_uint_eq(m->attempt, 2);
	ck_assert_str_eq(m->message_id, first_id); /* the duplicate is recognisable */
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_attempt WHERE alert_id = ?1 AND result "
	                    "= 'unknown'",
	                    id),
	                 1);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_item WHERE alert_id = ?1 AND status = "
	                    "'sent' AND error = 'possible duplicate'",
	                    id),
	                 1);
	pump(&f, 0.5);
	ck_assert_uint_eq(f.mail->n, 2); /* at most one duplicate */
	free(id);
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- replies ---- */

static int reply_mail(struct fx *f, const char *from, const char *text, const char *ref,
                      const char *id)
{
	const struct mamori_host *h = f->mail->host;
	const char *refs[1] = { ref };
	struct mamori_reply r = { .struct_size = sizeof r,
		                  .id = id,
		                  .from = from,
		                  .text = text,
		                  .refs = refs,
		                  .n_refs = 1 };
	return h->notify_reply(f->mail->inst, &r);
}

START_TEST(ack_by_mail_reply)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("reply_to = \"mamori+{token}@example.jp\";", "");
	fx_start(&f, c);
	reset_ctl(&f);
	char *id = open_alert(&f, "utm", 2, "UTM down", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 1, 5), 1);
	char mid[300], reply_to[300];
	snprintf(mid, sizeof mid, "%s", f.mail->msgs[0].message_id);
	snprintf(reply_to, sizeof reply_to, "%s", f.mail->msgs[0].reply_to);
	ck_assert_ptr_nonnull(strstr(reply_to, "mamori+"));
	/* forged: another contact's name under tanaka's signature */
	char forged[300];
	snprintf(forged, sizeof forged, "%s", mid);
	char *t = strstr(forged, "+tanaka+");
	memcpy(t, "+suzuki+", 8);
	ck_assert_int_eq(reply_mail(&f, "suzuki@example.jp", "ack", forged, "<r1@x>"),
	                 MAMORI_E_DENIED);
	/* the right token from another address */
	ck_assert_int_eq(reply_mail(&f, "Mallory <mallory@example.com>", "ack", mid, "<r2@x>"),
	                 MAMORI_E_DENIED);
	/* not an acknowledgement */
	ck_assert_int_eq(reply_mail(&f, "tanaka@example.jp", "what is this?", mid, "<r3@x>"),
	                 MAMORI_E_NOTFOUND);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, id), "open");
	/* the real one: quoted lines below, "Re:" client, a display name */
	ck_assert_int_eq(reply_mail(&f, "Tanaka Taro <TANAKA@example.jp>",
	                            "\n了解しました\n\n> [mamori] 重大 発生\n", reply_to, "<r4@x>"),
	                 0);
	pump(&f, 0.3);
	ck_assert_str_eq(alert_status(&f, id), "acknowledged");
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM alert_event WHERE alert_id = ?1 AND type = "
	                    "'acknowledged' AND actor = 'tanaka'",
	                    id),
	                 1);
	/* the same reply read again: nothing more */
	ck_assert_int_eq(reply_mail(&f, "tanaka@example.jp", "ack", mid, "<r4@x>"), 0);
	free(id);
	free(c);
	fx_done(&f);
}
END_TEST

static int inbound(struct fx *f, const char *body, struct app_inbound_answer *ans)
{
	struct app_inbound in = { .channel = "sms",
		                  .method = "POST",
		                  .url = "/api/v1/notify/inbound/sms",
		                  .content_type = "application/json",
		                  .body = body,
		                  .body_len = strlen(body) };
	return app_notify_inbound(server_app(f->s), &in, ans);
}

START_TEST(ack_by_sms_and_link)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	char *a1 = open_alert(&f, "utm", 2, "UTM down", NULL, NULL);
	char *a2 = open_alert(&f, "web", 2, "web down", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.sms->n, 2, 5), 2);
	/* the code of a2 is in its SMS */
	const char *code = NULL;
	for (size_t i = 0; i < 2; i++)
		if (strcmp(f.sms->msgs[i].alert0, a2) == 0)
			code = strstr(f.sms->msgs[i].short_text, "了解");
	ck_assert_ptr_nonnull(code);
	char digits[8];
	ck_assert_int_eq(sscanf(code + strlen("了解"), "%4[0-9]", digits), 1);
	struct app_inbound_answer ans;
	char body[256];
	/* a number that is no contact's */
	snprintf(body, sizeof body, "+819099999999|了解 %s|SM1", digits);
	ck_assert_int_eq(inbound(&f, body, &ans), APP_OK);
	/* two alerts wait: a plain "ack" does not say which */
	ck_assert_int_eq(inbound(&f, "+819011112222|ack|SM2", &ans), APP_OK);
	ck_assert_ptr_nonnull(strstr(ans.body, "ok"));
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a1), "open");
	ck_assert_str_eq(alert_status(&f, a2), "open");
	/* the gateway's signature refused (the channel says 403) */
	f.sms->inbound_status = 403;
	snprintf(body, sizeof body, "+819011112222|了解 %s|SM3", digits);
	ck_assert_int_eq(inbound(&f, body, &ans), APP_OK);
	ck_assert_uint_eq(ans.status, 403);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a2), "open");
	/* the real one */
	f.sms->inbound_status = 0;
	ck_assert_int_eq(inbound(&f, body, &ans), APP_OK);
	ck_assert_uint_eq(ans.status, 200);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a2), "acknowledged");
	ck_assert_str_eq(alert_status(&f, a1), "open");
	/* now one is left: a plain "ack" is enough */
	ck_assert_int_eq(inbound(&f, "+819011112222|OK|SM4", &ans), APP_OK);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a1), "acknowledged");
	/* a link: made for a3, checked, used once */
	char *a3 = open_alert(&f, "dns", 1, "no DMARC", NULL, NULL);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 3, 5), 3);
	const char *l = strstr(f.mail->msgs[2].body, "/api/v1/notify/ack/");
	ck_assert_ptr_nonnull(l);
	char token[400];
	ck_assert_int_eq(sscanf(l + strlen("/api/v1/notify/ack/"), "%399[A-Za-z0-9_.-]", token), 1);
	struct app_link lk;
	ck_assert_int_eq(app_notify_link(server_app(f.s), token, 0, &lk, NULL, NULL), APP_OK);
	ck_assert(lk.valid);
	ck_assert_str_eq(lk.alert, a3);
	ck_assert_str_eq(lk.contact, "tanaka");
	ck_assert_str_eq(alert_status(&f, a3), "open"); /* looking changes nothing */
	char bad[400];
	snprintf(bad, sizeof bad, "%s", token);
	bad[2] = bad[2] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(app_notify_link(server_app(f.s), bad, 1, &lk, NULL, NULL),
	                 APP_E_FORBIDDEN);
	ck_assert_int_eq(app_notify_link(server_app(f.s), token, 1, &lk, NULL, NULL), APP_OK);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a3), "acknowledged");
	ck_assert_int_eq(act(&f, a3, ALERT_ACT_UNACK), APP_OK);
	/* used once: a second use does nothing */
	ck_assert_int_eq(app_notify_link(server_app(f.s), token, 1, &lk, NULL, NULL), APP_OK);
	pump(&f, 0.2);
	ck_assert_str_eq(alert_status(&f, a3), "open");
	free(a1);
	free(a2);
	free(a3);
	free(c);
	fx_done(&f);
}
END_TEST

/* ---- documents (notify_mail: a monthly report) ---- */

static unsigned char *fake_pdf(size_t n)
{
	unsigned char *d = malloc(n);
	ck_assert_ptr_nonnull(d);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (unsigned char)x;
	}
	memcpy(d, "%PDF-1.7\n", 9);
	return d;
}

static unsigned long long sum(const unsigned char *d, size_t n)
{
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 31 + d[i];
	return v;
}

static int send_report(struct fx *f, const char *key, const unsigned char *pdf, size_t len)
{
	static const char *const to[] = { "keiri@acme.example", "not an address",
		                          "boss@acme.example" };
	struct notify_mail m = {
		.key = key,
		.customer = "c1",
		.to = to,
		.n_to = 3,
		.subject = "月次セキュリティレポート 2026年5月 (株式会社テスト 様)",
		.text = "5月は重大なアラートはありませんでした。\n",
		.html = "<html><body><p>5月は重大なアラートはありませんでした。</p></body></html>",
		.attachment = pdf,
		.attachment_len = len,
		.attachment_name = "report-c1-2026-05.pdf",
		.attachment_type = "application/pdf",
	};
	return notify_mail(server_notify(f->s), &m);
}

START_TEST(document_mailed_with_its_file)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	size_t len = 300 * 1024;
	unsigned char *pdf = fake_pdf(len);
	ck_assert_int_eq(send_report(&f, "report/c1/2026-05", pdf, len), 0);
	/* nothing goes before its row is written: the rows are in the
	 * pending batch, beside the caller's */
	ck_assert_uint_eq(f.mail->n, 0);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	for (int i = 0; i < 2; i++) {
		const struct fake_msg *m = &f.mail->msgs[i];
		ck_assert_uint_eq(m->n_items, 0);
		ck_assert_str_eq(m->contact, "");
		ck_assert_str_eq(m->subject,
		                 "月次セキュリティレポート 2026年5月 (株式会社テスト 様)");
		ck_assert_ptr_nonnull(strstr(m->html, "<p>5月は"));
		ck_assert_uint_eq(m->n_att, 1);
		ck_assert_str_eq(m->att_name, "report-c1-2026-05.pdf");
		ck_assert_str_eq(m->att_type, "application/pdf");
		ck_assert_uint_eq(m->att_len, len);
		ck_assert(m->att_sum == sum(pdf, len));
		ck_assert_ptr_nonnull(strstr(m->message_id, "@m.test>"));
		ck_assert_uint_eq(m->attempt, 1);
	}
	ck_assert_str_ne(f.mail->msgs[0].address, f.mail->msgs[1].address);
	/* sent: the rows keep subject and text, not the HTML nor the file */
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_mail WHERE key = ?1 AND status = 'sent'"
	                    " AND html IS NULL AND att IS NULL AND attempts = 1",
	                    "report/c1/2026-05"),
	                 2);
	/* the same document again while nothing is pending: the rows exist
	 * (the insert is ignored) */
	struct notify_stats st;
	notify_get_stats(server_notify(f.s), &st);
	ck_assert_uint_eq(st.mails_sent, 2);
	ck_assert_uint_eq(st.mails_pending, 0);
	free(pdf);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(document_retried_across_a_restart)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->status = MAMORI_NOTIFY_RETRY; /* the SMTP server says 4xx */
	size_t len = 64 * 1024 + 7;
	unsigned char *pdf = fake_pdf(len);
	ck_assert_int_eq(send_report(&f, "report/c1/2026-05", pdf, len), 0);
	/* a second hand-over while it is pending: ignored */
	ck_assert_int_eq(send_report(&f, "report/c1/2026-05", pdf, len), 0);
	ck_assert_uint_ge(pump_until(&f, &f.mail->n, 4, 5), 4); /* 2 addresses x 2 attempts */
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_mail WHERE key = ?1 AND status = 'pending'"
	                    " AND att IS NOT NULL AND error LIKE '451%'",
	                    "report/c1/2026-05"),
	                 2);
	char id0[300];
	snprintf(id0, sizeof id0, "%s", f.mail->msgs[0].message_id);
	/* restart: the file comes back from the store, nothing from memory */
	fx_stop(&f);
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->status = MAMORI_NOTIFY_SENT;
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	pump(&f, 0.3);
	ck_assert_uint_eq(f.mail->n, 2); /* once each */
	for (int i = 0; i < 2; i++) {
		const struct fake_msg *m = &f.mail->msgs[i];
		ck_assert_uint_eq(m->att_len, len);
		ck_assert(m->att_sum == sum(pdf, len));
		ck_assert_uint_ge(m->attempt, 3);
		ck_assert_int_eq(m->dup, 0);
	}
	ck_assert(strcmp(f.mail->msgs[0].message_id, id0) == 0 ||
	          strcmp(f.mail->msgs[1].message_id, id0) == 0); /* the same id on every try */
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_mail WHERE key = ?1 AND status = 'sent'",
	                    "report/c1/2026-05"),
	                 2);
	free(pdf);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(document_crash_and_refusals)
{
	struct fx f;
	fx_init(&f);
	char *c = conf("", "");
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->mode = FAKE_HANG; /* handed over, never answered */
	unsigned char *pdf = fake_pdf(1000);
	ck_assert_int_eq(send_report(&f, "report/c1/2026-04", pdf, 1000), 0);
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	ck_assert_int_eq(q1(&f, "SELECT count(*) FROM notify_mail WHERE status = 'sending'", NULL),
	                 2);
	char crash[160], a[320], b[320];
	snprintf(crash, sizeof crash, "%s/crash", f.tmp);
	ck_assert_int_eq(mkdir(crash, 0700), 0);
	static const char *const files[] = { "mamori.db", "mamori.db-wal", "mamori.db-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof a, "%s/%s", f.statedir, files[i]);
		snprintf(b, sizeof b, "%s/%s", crash, files[i]);
		copy_file(a, b);
	}
	fx_stop(&f);
	snprintf(f.statedir, sizeof f.statedir, "%s", crash);
	fx_start(&f, c);
	reset_ctl(&f);
	f.mail->status = MAMORI_NOTIFY_FAILED; /* 5xx: never */
	ck_assert_uint_eq(pump_until(&f, &f.mail->n, 2, 5), 2);
	ck_assert_int_eq(f.mail->msgs[0].dup, 1); /* may have gone out before the crash */
	ck_assert_uint_eq(f.mail->msgs[0].att_len, 1000);
	pump(&f, 0.3);
	ck_assert_uint_eq(f.mail->n, 2);
	ck_assert_int_eq(q1(&f,
	                    "SELECT count(*) FROM notify_mail WHERE status = 'failed'"
	                    " AND att IS NULL",
	                    NULL),
	                 2);
	struct notify_stats st;
	notify_get_stats(server_notify(f.s), &st);
	ck_assert_uint_eq(st.mails_failed, 2);
	/* refusals: a subject with a line break, a file with an odd name,
	 * no usable address */
	struct notify *n = server_notify(f.s);
	static const char *const bad_to[] = { "nobody" }, *const to[] = { "a@b.example" };
	struct notify_mail m = {
		.key = "k", .to = to, .n_to = 1, .subject = "a\r\nBcc: x@y", .text = "t"
	};
	ck_assert_int_eq(notify_mail(n, &m), -1);
	m.subject = "s";
	m.attachment = pdf;
	m.attachment_len = 10;
	m.attachment_name = "../etc/passwd";
	m.attachment_type = "application/pdf";
	ck_assert_int_eq(notify_mail(n, &m), -1);
	m.attachment = NULL;
	m.to = bad_to;
	ck_assert_int_eq(notify_mail(n, &m), -1);
	free(pdf);
	free(c);
	fx_done(&f);
}
END_TEST

START_TEST(document_channel_config)
{
	struct fx f;
	fx_init(&f);
	/* mail_channel must be an e-mail channel */
	char *c = conf("mail_channel = \"sms\";", "");
	struct server_opts o = { .config_text = c,
		                 .plugin_dir = f.plugdir,
		                 .state_dir = f.statedir,
		                 .data_dir = "share/mamori",
		                 .no_spread = 1 };
	ck_assert_ptr_null(server_new(f.loop, &o));
	free(c);
	c = conf("mail_channel = \"mail\";", "");
	fx_start(&f, c);
	ck_assert_int_eq(notify_conf_current(server_notify(f.s))->mail_channel, 0);
	free(c);
	fx_done(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("notify");
	TCase *t = tcase_create("pipeline");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, pages_by_rules);
	tcase_add_test(t, quiet_hours);
	tcase_add_test(t, retry_then_sent);
	tcase_add_test(t, give_up_and_failed);
	tcase_add_test(t, timeout_then_sent);
	tcase_add_test(t, bundling);
	tcase_add_test(t, sms_cap);
	tcase_add_test(t, repeat_escalate_resolve);
	tcase_add_test(t, crash_during_delivery);
	tcase_add_test(t, ack_by_mail_reply);
	tcase_add_test(t, ack_by_sms_and_link);
	tcase_add_test(t, document_mailed_with_its_file);
	tcase_add_test(t, document_retried_across_a_restart);
	tcase_add_test(t, document_crash_and_refusals);
	tcase_add_test(t, document_channel_config);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
