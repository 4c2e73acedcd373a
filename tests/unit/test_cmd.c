/*
 * test_cmd: mamori.cmd/1 parsing (every action, every error class,
 * garbage), applying to alerts of the right/wrong center through the MQTT
 * adapter and the service layer (no broker), idempotence by command id,
 * retained commands ignored, and the mamori.alert/1 / mamori.cmdresult/1
 * JSON.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "app/app.h"
#include "cal/cal.h"
#include "ingress/mqtt_cmd.h"
#include "proto/cmd.h"

struct fx {
	struct cal *cal;
	struct sla_tier tiers[2];
	struct sla_center centers[2];
	struct sla_centers cs;
	config_t cfg;
	struct route_table *rt;
	struct alert_table *t;
	struct app *app;
	struct mqtt_cmd *mc;
	double now;
	char *last_json; /* mamori.alert/1 of the last event */
	int n_events;
	char alert_id[80];
};

static void on_emit(void *arg, const struct alert *a, const struct alert_event *ev)
{
	struct fx *f = arg;
	free(f->last_json);
	f->last_json = cmd_format_alert(a, ev, "n1");
	ck_assert_ptr_nonnull(f->last_json);
	f->n_events++;
}

static double clock_of(void *ud)
{
	return ((struct fx *)ud)->now;
}

#define T0 1795767900.0 /* 2026-11-27T17:25:00+09:00, a Friday */

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	const char *h[] = { "mon-fri 09:00-17:30" };
	f->cal = cal_new("jp", "Asia/Tokyo", h, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(f->cal);
	f->tiers[0] = (struct sla_tier){ "contact-center", 15 * 60, 4 * 3600 };
	f->tiers[1] = (struct sla_tier){ "back-office", 30 * 60, 8 * 3600 };
	f->centers[0] = (struct sla_center){ "cc-east", { f->cal, f->tiers, 2, 3600 } };
	f->centers[1] = (struct sla_center){ "cc-west", { f->cal, f->tiers, 2, 3600 } };
	f->cs = (struct sla_centers){ f->centers, 2 };
	config_init(&f->cfg);
	ck_assert(config_read_string(&f->cfg,
	                             "routes = ( { service = \"utm\"; center = \"cc-west\"; },"
	                             " { center = \"cc-east\"; } );"));
	f->rt = route_parse(config_lookup(&f->cfg, "routes"), &f->cs, err, sizeof(err));
	struct alert_policy ap = { .node = "n1" };
	f->t = alert_table_new(&ap, f->rt, on_emit, f);
	struct app_deps d = { .alerts = f->t, .node = "n1", .clock = clock_of, .clock_ud = f };
	f->app = app_new(&d);
	f->mc = mqtt_cmd_new(f->app, NULL, "n1");
	/* one open alert, routed to cc-east */
	struct check_state st;
	struct state_policy pol = { .max_attempts = 1 };
	struct state_context ctx = { 0 };
	state_init(&st);
	struct state_event ev = state_apply(&st, &pol, 2, T0);
	struct alert_input in = { .key = "c0001/pc-1/defender",
		                  .customer = "c0001",
		                  .asset = "pc-1",
		                  .check = "defender",
		                  .service = "defender",
		                  .output = "Real-time protection off",
		                  .runbook = "https://wiki.example/runbooks/defender-rtp",
		                  .st = &st,
		                  .ev = &ev,
		                  .ctx = &ctx };
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0), 1);
	snprintf(f->alert_id, sizeof(f->alert_id), "%s", alert_find_check(f->t, in.key)->id);
	return f;
}

static void fx_free(struct fx *f)
{
	free(f->last_json);
	mqtt_cmd_free(f->mc);
	app_free(f->app);
	alert_table_free(f->t);
	route_free(f->rt);
	config_destroy(&f->cfg);
	cal_free(f->cal);
	free(f);
}

/* Send a command; returns the result and checks the answer's shape. */
static enum cmd_err send(struct fx *f, const char *center, const char *json, double now, int *fresh)
{
	f->now = now;
	char *answer = mqtt_cmd_answer(f->mc, center, json, strlen(json), fresh);
	ck_assert_ptr_nonnull(answer);
	cJSON *o = cJSON_Parse(answer);
	ck_assert_ptr_nonnull(o);
	enum cmd_err e = CMD_E__COUNT;
	for (int i = 0; i < CMD_E__COUNT; i++)
		if (strcmp(cJSON_GetObjectItem(o, "code")->valuestring,
		           cmd_errname((enum cmd_err)i)) == 0)
			e = (enum cmd_err)i;
	ck_assert_int_ne(e, CMD_E__COUNT);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "schema")->valuestring, "mamori.cmdresult/1");
	ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")), e == CMD_OK);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "code")->valuestring, cmd_errname(e));
	ck_assert_int_eq(cJSON_IsNull(cJSON_GetObjectItem(o, "error")), e == CMD_OK);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "node")->valuestring, "n1");
	cJSON_Delete(o);
	free(answer);
	return e;
}

static char *cmdjson(const char *id, const char *action, const char *alert, const char *extra)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
	         "{\"schema\":\"mamori.cmd/1\",\"id\":\"%s\",\"action\":\"%s\",\"alert\":\"%s\","
	         "\"by\":\"Sato\"%s%s}",
	         id, action, alert, extra ? "," : "", extra ? extra : "");
	return buf;
}

static cJSON *last(struct fx *f)
{
	cJSON *o = cJSON_Parse(f->last_json);
	ck_assert_ptr_nonnull(o);
	return o;
}

static const char *sget(cJSON *o, const char *k)
{
	cJSON *i = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(i) ? i->valuestring : NULL;
}

START_TEST(alert_json)
{
	struct fx *f = fx_new();
	cJSON *o = last(f);
	ck_assert_str_eq(sget(o, "schema"), "mamori.alert/1");
	ck_assert_str_eq(sget(o, "event"), "opened");
	ck_assert_str_eq(sget(o, "id"), f->alert_id);
	ck_assert_str_eq(sget(o, "node"), "n1");
	ck_assert_str_eq(sget(o, "center"), "cc-east");
	ck_assert_str_eq(sget(o, "customer"), "c0001");
	ck_assert_str_eq(sget(o, "state"), "CRITICAL");
	ck_assert_str_eq(sget(o, "severity"), "critical");
	ck_assert_str_eq(sget(o, "status"), "open");
	ck_assert_str_eq(sget(o, "tier_name"), "contact-center");
	ck_assert_int_eq(cJSON_GetObjectItem(o, "tier")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "seq")->valueint, 1);
	ck_assert_str_eq(sget(o, "opened_at"), "2026-11-27T17:25:00+09:00");
	ck_assert_str_eq(sget(o, "ack_due"), "2026-11-30T09:10:00+09:00");
	ck_assert_str_eq(sget(o, "resolve_due"), "2026-11-30T12:55:00+09:00");
	ck_assert_str_eq(sget(o, "summary"), "Real-time protection off");
	ck_assert_str_eq(sget(o, "runbook"), "https://wiki.example/runbooks/defender-rtp");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "resolved_at")));
	cJSON_Delete(o);
	/* times are truncated to the second, never rounded ahead of the event */
	char id[100];
	snprintf(id, sizeof id, "%s", f->alert_id);
	ck_assert_int_eq(
	    send(f, "cc-east", cmdjson("c-t", "comment", id, "\"note\":\"x\""), T0 + 60.6, NULL),
	    CMD_OK);
	o = last(f);
	ck_assert_str_eq(sget(o, "event"), "commented");
	ck_assert_str_eq(sget(o, "time"), "2026-11-27T17:26:00+09:00");
	/* the runbook travels on every event, not only on `opened` */
	ck_assert_str_eq(sget(o, "runbook"), "https://wiki.example/runbooks/defender-rtp");
	cJSON_Delete(o);
	fx_free(f);
}
END_TEST

/* mamori.alert/1's runbook: null without one; a text with quotes, HTML
 * and Japanese comes back unchanged from the JSON; a new runbook of the
 * check (a reload) is on the next event. */
START_TEST(alert_json_runbook)
{
	struct fx *f = fx_new();
	struct check_state st;
	struct state_policy pol = { .max_attempts = 1 };
	struct state_context ctx = { 0 };
	state_init(&st);
	struct state_event ev = state_apply(&st, &pol, 1, T0);
	struct alert_input in = { .key = "c0002/utm-1/utm",
		                  .customer = "c0002",
		                  .asset = "utm-1",
		                  .check = "utm",
		                  .service = "utm",
		                  .output = "CPU 95%",
		                  .st = &st,
		                  .ev = &ev,
		                  .ctx = &ctx };
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0), 1);
	cJSON *o = last(f);
	ck_assert_str_eq(sget(o, "check"), "utm");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "runbook")));
	cJSON_Delete(o);
	const char *text = "\"Reboot\" <b>the UTM</b> \\ then call: 顧客に電話";
	in.runbook = text;
	ev = state_apply(&st, &pol, 2, T0 + 60);
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0 + 60), 1);
	o = last(f);
	ck_assert_str_eq(sget(o, "event"), "updated");
	ck_assert_str_eq(sget(o, "runbook"), text);
	cJSON_Delete(o);
	ck_assert(strstr(f->last_json, "<b>") != NULL); /* JSON keeps it; pages escape it */
	fx_free(f);
}
END_TEST

START_TEST(every_action)
{
	struct fx *f = fx_new();
	const char *id = f->alert_id;
	double now = T0 + 3 * 86400; /* Monday 17:25 */
	ck_assert_int_eq(send(f, "cc-east", cmdjson("1", "ack", id, NULL), now, NULL), CMD_OK);
	cJSON *o = last(f);
	ck_assert_str_eq(sget(o, "event"), "acknowledged");
	ck_assert_str_eq(sget(o, "actor"), "Sato");
	ck_assert_str_eq(sget(o, "cmd"), "1");
	ck_assert_str_eq(sget(o, "status"), "acknowledged");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "ack_due")));
	cJSON_Delete(o);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("2", "unack", id, NULL), now, NULL), CMD_OK);
	ck_assert_int_eq(
	    send(f, "cc-east", cmdjson("3", "wait", id, "\"note\":\"customer away\""), now, NULL),
	    CMD_OK);
	o = last(f);
	ck_assert_str_eq(sget(o, "event"), "waiting");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "waiting")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "ack_due")));
	ck_assert_int_eq(cJSON_GetObjectItem(o, "ack_left")->valueint,
	                 900); /* unack restarted it */
	cJSON_Delete(o);
	ck_assert_int_eq(
	    send(f, "cc-east", cmdjson("4", "comment", id, "\"note\":\"called\""), now, NULL),
	    CMD_OK);
	o = last(f);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "waiting")));
	cJSON_Delete(o);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("5", "escalate", id, NULL), now, NULL), CMD_OK);
	o = last(f);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "tier")->valueint, 2);
	ck_assert_str_eq(sget(o, "tier_name"), "back-office");
	cJSON_Delete(o);
	ck_assert_int_eq(
	    send(f, "cc-east",
	         cmdjson("6", "dispatch", id,
	                 "\"vendor\":\"Gifu IT\",\"planned_at\":\"2026-12-01T10:00:00+09:00\""),
	         now, NULL),
	    CMD_OK);
	o = last(f);
	cJSON *d = cJSON_GetObjectItem(o, "dispatch");
	ck_assert_str_eq(sget(d, "vendor"), "Gifu IT");
	ck_assert_str_eq(sget(d, "planned_at"), "2026-12-01T10:00:00+09:00");
	cJSON_Delete(o);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("7", "resolve", id, "\"note\":\"reinstalled\""),
	                      now + 60, NULL),
	                 CMD_OK);
	o = last(f);
	ck_assert_str_eq(sget(o, "event"), "resolved");
	ck_assert_str_eq(sget(o, "note"), "reinstalled");
	ck_assert_int_eq(cJSON_GetObjectItem(o, "duration")->valueint, 3 * 86400 + 60);
	ck_assert_int_eq(cJSON_GetObjectItem(o, "seq")->valueint, 8);
	cJSON_Delete(o);
	/* after resolve: a dispatch result may still be recorded, ack may not */
	ck_assert_int_eq(
	    send(f, "cc-east", cmdjson("8", "dispatch", id, "\"result\":\"done\""), now, NULL),
	    CMD_OK);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("9", "ack", id, NULL), now, NULL), CMD_E_STATE);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("10", "escalate", id, NULL), now, NULL),
	                 CMD_E_STATE);
	fx_free(f);
}
END_TEST

START_TEST(center_and_alert_checks)
{
	struct fx *f = fx_new();
	/* another center's alert: the same answer as an id that does not
	 * exist (whether it exists is not cc-west's to learn) */
	ck_assert_int_eq(send(f, "cc-west", cmdjson("1", "ack", f->alert_id, NULL), T0, NULL),
	                 CMD_E_UNKNOWN_ALERT);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("2", "ack", "A-n1-nope", NULL), T0, NULL),
	                 CMD_E_UNKNOWN_ALERT);
	ck_assert_int_eq(f->n_events, 1); /* nothing happened */
	ck_assert_int_eq(send(f, "cc-east", cmdjson("3", "ack", f->alert_id, NULL), T0, NULL),
	                 CMD_OK);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("4", "ack", f->alert_id, NULL), T0, NULL),
	                 CMD_E_STATE);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("5", "escalate", f->alert_id, NULL), T0, NULL),
	                 CMD_OK);
	ck_assert_int_eq(send(f, "cc-east", cmdjson("6", "escalate", f->alert_id, NULL), T0, NULL),
	                 CMD_E_LAST_TIER);
	fx_free(f);
}
END_TEST

START_TEST(idempotent)
{
	struct fx *f = fx_new();
	int fresh;
	const char *c = cmdjson("abc", "comment", f->alert_id, "\"note\":\"x\"");
	char copy[2048];
	strcpy(copy, c);
	ck_assert_int_eq(send(f, "cc-east", copy, T0, &fresh), CMD_OK);
	ck_assert(fresh);
	ck_assert_int_eq(f->n_events, 2);
	ck_assert_int_eq(send(f, "cc-east", copy, T0 + 1, &fresh), CMD_OK);
	ck_assert(!fresh);
	ck_assert_int_eq(f->n_events, 2); /* acted once */
	/* same id from another center is another command (and refused) */
	ck_assert_int_eq(send(f, "cc-west", copy, T0, &fresh), CMD_E_UNKNOWN_ALERT);
	/* an error is answered the same way the second time */
	strcpy(copy, cmdjson("x2", "ack", "A-none", NULL));
	ck_assert_int_eq(send(f, "cc-east", copy, T0, &fresh), CMD_E_UNKNOWN_ALERT);
	ck_assert_int_eq(send(f, "cc-east", copy, T0, &fresh), CMD_E_UNKNOWN_ALERT);
	ck_assert_uint_eq(app_seen_count(f->app), 3);
	fx_free(f);
}
END_TEST

/* A retained command is the broker's stored copy, replayed at every
 * subscription: counted, never executed, never answered (and without
 * touching the transport: this fixture has none). */
START_TEST(retained_ignored)
{
	struct fx *f = fx_new();
	const char *c = cmdjson("r-1", "ack", f->alert_id, NULL);
	mqtt_cmd_handle(f->mc, "mamori/v1/cmd/cc-east", c, strlen(c), 1);
	mqtt_cmd_handle(f->mc, "mamori/v1/cmd/cc-east", c, strlen(c), 1);
	ck_assert_uint_eq(mqtt_cmd_counters(f->mc)->retained_ignored, 2);
	ck_assert_uint_eq(mqtt_cmd_counters(f->mc)->commands, 0);
	ck_assert_int_eq(f->n_events, 1); /* only "opened": not acknowledged */
	ck_assert_uint_eq(app_seen_count(f->app), 0);
	fx_free(f);
}
END_TEST

START_TEST(seen_is_bounded)
{
	struct cmd_seen *s = cmd_seen_new(3, 0);
	char id[16];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "%d", i);
		ck_assert_int_eq(cmd_seen_add(s, "cc", id, CMD_OK, 1), 0);
	}
	ck_assert_uint_eq(cmd_seen_count(s), 3);
	enum cmd_err e;
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "9", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "7", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "6", &e), 0);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc2", "9", &e), 0);
	cmd_seen_add(s, "cc", "9", CMD_E_STATE, 1); /* update, no new entry */
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "9", &e), 1);
	ck_assert_int_eq(e, CMD_E_STATE);
	ck_assert_uint_eq(cmd_seen_count(s), 3);
	cmd_seen_free(s);
}
END_TEST

/* Per origin: a center flooding unique ids pushes out only its own. */
START_TEST(seen_per_center)
{
	struct cmd_seen *s = cmd_seen_new(4, 0);
	enum cmd_err e;
	ck_assert_int_eq(cmd_seen_add(s, "cc-west", "w-1", CMD_OK, 1), 0);
	ck_assert_int_eq(cmd_seen_add(s, "http:ops", "h-1", CMD_OK, 1), 0);
	char id[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "flood-%d", i);
		ck_assert_int_eq(cmd_seen_add(s, "cc-east", id, CMD_OK, 1), 0);
	}
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-west", "w-1", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "http:ops", "h-1", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", "flood-999", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", "flood-996", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", "flood-995", &e), 0);
	ck_assert_uint_eq(cmd_seen_count(s), 6);
	/* the same id under another center is another command */
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-west", "flood-999", &e), 0);
	/* west's ring fills and wraps on its own */
	for (int i = 2; i <= 6; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		ck_assert_int_eq(cmd_seen_add(s, "cc-west", id, CMD_E_STATE, 1), 0);
	}
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-west", "w-2", &e), 0);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-west", "w-3", &e), 1);
	ck_assert_int_eq(e, CMD_E_STATE);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", "flood-996", &e), 1);
	ck_assert_uint_eq(cmd_seen_count(s), 9);
	cmd_seen_free(s);
}
END_TEST

/* Ids leave by age, as their origin adds new ones: keep = 100 s. */
START_TEST(seen_forgets_by_age)
{
	struct cmd_seen *s = cmd_seen_new(1000, 100);
	enum cmd_err e;
	ck_assert_int_eq(cmd_seen_add(s, "cc", "old", CMD_OK, 1000), 0);
	ck_assert_int_eq(cmd_seen_add(s, "cc", "mid", CMD_E_STATE, 1050), 0);
	ck_assert_int_eq(cmd_seen_add(s, "other", "o", CMD_OK, 1000), 0);
	ck_assert_int_eq(cmd_seen_add(s, "cc", "new", CMD_OK, 1120), 0); /* "old" is 120 s old */
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "old", &e), 0);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "mid", &e), 1);
	ck_assert_int_eq(e, CMD_E_STATE);
	/* another origin's ids wait for that origin's next command */
	ck_assert_int_eq(cmd_seen_lookup(s, "other", "o", &e), 1);
	ck_assert_uint_eq(cmd_seen_count(s), 3);
	/* a forgotten id is a new command again, recorded afresh */
	ck_assert_int_eq(cmd_seen_add(s, "cc", "old", CMD_E_UNKNOWN_ALERT, 1121), 0);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "old", &e), 1);
	ck_assert_int_eq(e, CMD_E_UNKNOWN_ALERT);
	cmd_seen_free(s);
}
END_TEST

/* A million ids of one center and a few of others: every one is found
 * with its code, none that was not added is, and the memory stays near
 * 30 bytes an id.  Then churn through a small capacity: deleted slots are
 * reused, the table does not grow with the ids that went. */
START_TEST(seen_million)
{
	enum { N = 1000000 };
	struct cmd_seen *s = cmd_seen_new(N, 0);
	char id[32];
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "cmd-%d", i);
		ck_assert_int_eq(
		    cmd_seen_add(s, "cc-east", id, (enum cmd_err)(i % CMD_E__COUNT), i), 0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		ck_assert_int_eq(cmd_seen_add(s, "cc-west", id, CMD_OK, N + i), 0);
	}
	ck_assert_uint_eq(cmd_seen_count(s), N + 100);
	enum cmd_err e;
	for (int i = 0; i < N; i += 7) {
		snprintf(id, sizeof(id), "cmd-%d", i);
		ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", id, &e), 1);
		ck_assert_int_eq(e, i % CMD_E__COUNT);
		ck_assert_int_eq(cmd_seen_lookup(s, "cc-west", id, &e), 0);
	}
	for (int i = N; i < N + 100000; i++) {
		snprintf(id, sizeof(id), "cmd-%d", i);
		ck_assert_int_eq(cmd_seen_lookup(s, "cc-east", id, &e), 0);
	}
	size_t bytes = cmd_seen_bytes(s);
	ck_assert_msg(bytes < (size_t)N * 48, "%zu bytes for a million ids", bytes);
	cmd_seen_free(s);

	s = cmd_seen_new(1000, 0);
	size_t first = 0;
	for (int i = 0; i < 200000; i++) {
		snprintf(id, sizeof(id), "c-%d", i);
		ck_assert_int_eq(cmd_seen_add(s, "cc", id, CMD_OK, i), 0);
		if (i == 1000)
			first = cmd_seen_bytes(s);
	}
	ck_assert_uint_eq(cmd_seen_count(s), 1000);
	ck_assert_uint_le(cmd_seen_bytes(s), first * 2);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "c-198999", &e), 0);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "c-199000", &e), 1);
	ck_assert_int_eq(cmd_seen_lookup(s, "cc", "c-199999", &e), 1);
	cmd_seen_free(s);
}
END_TEST

START_TEST(parse_errors)
{
	static const struct {
		const char *json;
		enum cmd_err want;
		const char *msg;
	} cases[] = {
		{ "", CMD_E_MALFORMED, "malformed" },
		{ "{", CMD_E_MALFORMED, "malformed" },
		{ "[1,2]", CMD_E_MALFORMED, "object" },
		{ "\"ack\"", CMD_E_MALFORMED, "object" },
		{ "{\"id\":\"1\",\"id\":\"2\"}", CMD_E_MALFORMED, "malformed" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"\xff\"}",
		  CMD_E_MALFORMED, "UTF-8" },
		{ "{\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\",\"by\":\"x\"}",
		  CMD_E_MISSING, "'id'" },
		{ "{\"id\":5,\"schema\":\"mamori.cmd/1\"}", CMD_E_INVALID, "'id'" },
		{ "{\"id\":\"1\",\"action\":\"ack\",\"alert\":\"A\",\"by\":\"x\"}", CMD_E_SCHEMA,
		  "schema" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/2\",\"action\":\"ack\"}", CMD_E_SCHEMA,
		  "schema" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"alert\":\"A\",\"by\":\"x\"}",
		  CMD_E_MISSING, "'action'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"reboot\",\"alert\":\"A\"}",
		  CMD_E_UNKNOWN_ACTION, "unknown action" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":[\"ack\"]}", CMD_E_INVALID,
		  "'action'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"by\":\"x\"}",
		  CMD_E_MISSING, "'alert'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\"}",
		  CMD_E_MISSING, "'by'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\","
		  "\"by\":\"\"}",
		  CMD_E_INVALID, "'by'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\","
		  "\"by\":\"x\",\"note\":7}",
		  CMD_E_INVALID, "'note'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"resolve\",\"alert\":\"A\","
		  "\"by\":\"x\"}",
		  CMD_E_MISSING, "'note'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"dispatch\",\"alert\":\"A\","
		  "\"by\":\"x\"}",
		  CMD_E_MISSING, "dispatch needs" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"dispatch\",\"alert\":\"A\","
		  "\"by\":\"x\",\"planned_at\":\"tomorrow\"}",
		  CMD_E_INVALID, "planned_at" },
		{ "{\"id\":\"a\\nb\",\"schema\":\"mamori.cmd/1\"}", CMD_E_INVALID, "'id'" },
		{ "{\"id\":\"1\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\","
		  "\"by\":\"x\",\"x\":[[[[[[1]]]]]]}",
		  CMD_E_MALFORMED, "malformed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmd c;
		char msg[256] = "";
		enum cmd_err e =
		    cmd_parse(cases[i].json, strlen(cases[i].json), &c, msg, sizeof(msg));
		ck_assert_msg(e == cases[i].want, "case %zu: got %s (%s)", i, cmd_errname(e), msg);
		ck_assert_msg(strstr(msg, cases[i].msg) != NULL, "case %zu: message '%s'", i, msg);
		cmd_clear(&c);
	}
	/* the id survives an error so the answer can carry it */
	struct cmd c;
	char msg[128];
	const char *j = "{\"id\":\"k1\",\"schema\":\"mamori.cmd/1\",\"action\":\"nope\"}";
	ck_assert_int_eq(cmd_parse(j, strlen(j), &c, msg, sizeof(msg)), CMD_E_UNKNOWN_ACTION);
	ck_assert_str_eq(c.id, "k1");
	cmd_clear(&c);
	/* unknown extra fields are ignored */
	j = "{\"id\":\"k2\",\"schema\":\"mamori.cmd/1\",\"action\":\"ack\",\"alert\":\"A\","
	    "\"by\":\"x\",\"client\":\"cc-soft 2.1\"}";
	ck_assert_int_eq(cmd_parse(j, strlen(j), &c, msg, sizeof(msg)), CMD_OK);
	ck_assert_int_eq(c.action, ALERT_ACT_ACK);
	cmd_clear(&c);
	ck_assert_int_eq(cmd_parse(NULL, 0, &c, msg, sizeof(msg)), CMD_E_MALFORMED);
}
END_TEST

START_TEST(garbage)
{
	/* random bytes and every truncation of a valid command: never OK
	 * unless complete, never a crash (ASan/UBSan in CI) */
	struct fx *f = fx_new();
	char buf[512];
	unsigned seed = 42;
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(i % 200);
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[k] = (char)(seed >> 16);
		}
		f->now = T0;
		char *answer = mqtt_cmd_answer(f->mc, "cc-east", buf, n, NULL);
		ck_assert_ptr_nonnull(answer);
		ck_assert_ptr_null(strstr(answer, "\"ok\":true"));
		free(answer);
	}
	const char *valid = cmdjson("t", "comment", f->alert_id, "\"note\":\"n\"");
	char copy[2048];
	strcpy(copy, valid);
	size_t len = strlen(copy);
	for (size_t cut = 0; cut < len; cut++) {
		struct cmd c;
		char msg[128];
		ck_assert_int_ne(cmd_parse(copy, cut, &c, msg, sizeof(msg)), CMD_OK);
		cmd_clear(&c);
	}
	struct cmd c;
	char msg[128];
	ck_assert_int_eq(cmd_parse(copy, len, &c, msg, sizeof(msg)), CMD_OK);
	cmd_clear(&c);
	/* deep nesting and a huge payload are refused early */
	char *big = malloc(200001);
	memset(big, '[', 200000);
	big[200000] = 0;
	ck_assert_int_eq(cmd_parse(big, 200000, &c, msg, sizeof(msg)), CMD_E_MALFORMED);
	free(big);
	fx_free(f);
}
END_TEST

START_TEST(rfc3339)
{
	double t;
	ck_assert_int_eq(cmd_parse_rfc3339("2026-11-27T17:25:00+09:00", &t), 0);
	ck_assert_double_eq(t, T0);
	ck_assert_int_eq(cmd_parse_rfc3339("2026-11-27T08:25:00Z", &t), 0);
	ck_assert_double_eq(t, T0);
	ck_assert_int_eq(cmd_parse_rfc3339("2026-11-27T08:25:00.5Z", &t), 0);
	ck_assert_double_eq(t, T0 + 0.5);
	ck_assert_int_eq(cmd_parse_rfc3339("2026-11-27T03:25:00-05:00", &t), 0);
	ck_assert_double_eq(t, T0);
	ck_assert_int_eq(cmd_parse_rfc3339("2028-02-29T00:00:00Z", &t), 0);
	const char *bad[] = { "",
		              "2026-11-27",
		              "2026-11-27T17:25:00",
		              "2026-11-27 17:25:00Z",
		              "2026-13-01T00:00:00Z",
		              "2026-02-29T00:00:00Z",
		              "2026-11-31T00:00:00Z",
		              "2026-11-27T24:00:00Z",
		              "2026-11-27T17:25:00+0900",
		              "2026-11-27T17:25:00+09:00x",
		              "2026-11-27T17:25:00.Z",
		              "20x6-11-27T17:25:00Z",
		              "1969-12-31T23:59:59Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cmd_parse_rfc3339(bad[i], &t) < 0, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(result_json)
{
	char *s = cmd_format_result("c1", "A-x", CMD_E_WRONG_CENTER, NULL, "n1");
	cJSON *o = cJSON_Parse(s);
	ck_assert_str_eq(sget(o, "error"), "alert belongs to another center");
	ck_assert_str_eq(sget(o, "code"), "wrong_center");
	ck_assert_str_eq(sget(o, "id"), "c1");
	ck_assert_str_eq(sget(o, "alert"), "A-x");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
	cJSON_Delete(o);
	free(s);
	s = cmd_format_result(NULL, NULL, CMD_E_MALFORMED, "bad \"quote\"", NULL);
	o = cJSON_Parse(s);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "id")));
	ck_assert_str_eq(sget(o, "error"), "bad \"quote\"");
	cJSON_Delete(o);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, alert_json);
	tcase_add_test(tc, alert_json_runbook);
	tcase_add_test(tc, every_action);
	tcase_add_test(tc, center_and_alert_checks);
	tcase_add_test(tc, idempotent);
	tcase_add_test(tc, retained_ignored);
	tcase_add_test(tc, seen_is_bounded);
	tcase_add_test(tc, seen_per_center);
	tcase_add_test(tc, seen_forgets_by_age);
	tcase_add_test(tc, seen_million);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, rfc3339);
	tcase_add_test(tc, result_json);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
