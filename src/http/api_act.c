/*
 * api_act: the API's state changes - actions on alerts (ack, unack,
 * resolve, escalate, dispatch, wait, comment), acknowledging a check's
 * problem, opening an alert by hand (a manual inquiry), adding and
 * deleting downtimes.
 *
 * Each is one call of the service layer, the same one the MQTT command
 * topic makes: the same validation, the same events, the same
 * idempotency by (origin, request id) - the origin is "http:<user>" and
 * the id is the body's `request_id` or the Idempotency-Key header.  The
 * answer is sent once the change is durable (the app's `done`), so a 200
 * means written.  Must never: answer before durable, act as anyone but
 * the caller (the actor is the logged-in user, never a body field).
 */
#include "http/http_int.h"
#include "alert/alert.h"
#include "app/app.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 4000
#define ID_MAX   120

/* The state a command's callback needs after the handler returned. */
struct pending_cmd {
	struct req *r;
	int created; /* a create: 201 */
};

static void result_json(struct buf *b, const struct app_result *res, const char *what)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj(&w);
	jw_kstr(&w, "result", "ok");
	jw_kstr(&w, what, res->id);
	jw_kbool(&w, "repeated", res->repeated);
	if (res->msg[0])
		jw_kstr(&w, "message", res->msg);
	jw_end_obj(&w);
}

static void on_done(void *ud, const struct app_result *res)
{
	struct pending_cmd *p = ud;
	struct req *r = p->r;
	int created = p->created;
	free(p);
	if (req_orphaned(r)) {
		req_release(r);
		return;
	}
	if (res->err != APP_OK) {
		/* an operator sees every alert: "another center" is no secret
		 * to them; a viewer never gets this far */
		req_finish_app_error(r, res->err, res->msg);
		return;
	}
	struct buf b = { 0 };
	const char *what = strncmp(r->route->name, "downtimes", 9) == 0 ? "downtime" : "alert";
	result_json(&b, res, what);
	req_finish_json(r, created && !res->repeated ? 201 : 200, &b);
}

static int start(struct req *r, int created, struct pending_cmd **out)
{
	struct pending_cmd *p = xcalloc(1, sizeof *p);
	p->r = r;
	p->created = created;
	*out = p;
	/* the app calls on_done later (once durable), or at once without a
	 * journal: suspend first, an early answer is then simply kept */
	req_suspend(r);
	return 0;
}

static const char *request_id(struct req *r)
{
	const char *id = NULL;
	if (body_str(r, "request_id", 0, ID_MAX, &id) < 0)
		return (const char *)-1;
	if (!id) {
		id = req_header(r, "Idempotency-Key");
		if (id && strlen(id) > ID_MAX) {
			reply_error(r, 400, "bad_parameter",
			            "Idempotency-Key is longer than %d bytes", ID_MAX);
			return (const char *)-1;
		}
	}
	return id;
}

static void origin_of(struct req *r, char *buf, size_t n)
{
	snprintf(buf, n, "http:%s", r->who.user);
}

/* POST /api/v1/alerts/{id}/<action> */
int api_alert_act(struct req *r)
{
	static const struct {
		const char *name;
		enum alert_action_type type;
	} acts[] = {
		{ "alert.ack", ALERT_ACT_ACK },           { "alert.unack", ALERT_ACT_UNACK },
		{ "alert.resolve", ALERT_ACT_RESOLVE },   { "alert.escalate", ALERT_ACT_ESCALATE },
		{ "alert.dispatch", ALERT_ACT_DISPATCH }, { "alert.wait", ALERT_ACT_WAIT },
		{ "alert.comment", ALERT_ACT_COMMENT },
	};
	struct alert_action act = { .type = ALERT_ACT_ACK };
	size_t i = 0;
	while (i < sizeof acts / sizeof acts[0] && strcmp(acts[i].name, r->route->name) != 0)
		i++;
	if (i == sizeof acts / sizeof acts[0])
		return reply_error(r, 500, "internal", "unknown action");
	act.type = acts[i].type;
	static const char *const plain[] = { "note", "request_id", NULL };
	static const char *const dispatch[] = { "note",       "request_id", "vendor",
		                                "planned_at", "result",     NULL };
	if (body_only(r, act.type == ALERT_ACT_DISPATCH ? dispatch : plain) < 0)
		return 0;
	if (body_str(r, "note", act.type == ALERT_ACT_COMMENT, NOTE_MAX, &act.note) < 0)
		return 0;
	if (act.type == ALERT_ACT_DISPATCH) {
		if (body_str(r, "vendor", 0, 200, &act.vendor) < 0 ||
		    body_str(r, "result", 0, NOTE_MAX, &act.result) < 0 ||
		    body_time(r, "planned_at", 0, &act.planned_at) < 0)
			return 0;
	}
	const char *idem = request_id(r);
	if (idem == (const char *)-1)
		return 0;
	act.actor = r->who.user;
	char origin[96];
	origin_of(r, origin, sizeof origin);
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct pending_cmd *p;
	start(r, 0, &p);
	struct app_result res;
	app_alert_act(req_app(r), &sc, r->param[0], &act, origin, idem, &res, on_done, p);
	return 0;
}

/* POST /api/v1/checks/{customer}/{asset}/{check}/ack|unack: the action
 * on the check's unresolved alert. */
int api_check_ack(struct req *r)
{
	static const char *const allowed[] = { "note", NULL };
	const char *note = NULL;
	if (body_only(r, allowed) < 0 || body_str(r, "note", 0, NOTE_MAX, &note) < 0)
		return 0;
	struct app_scope sc;
	who_scope(&r->who, &sc);
	int on = strcmp(r->route->name, "check.ack") == 0;
	struct pending_cmd *p;
	start(r, 0, &p);
	struct app_result res;
	app_check_ack(req_app(r), &sc, r->param[0], r->param[1], r->param[2], on, r->who.user, note,
	              &res, on_done, p);
	return 0;
}

/* POST /api/v1/alerts: a manual inquiry - a customer phoned or wrote in.
 * It becomes an alert like any other (routing, SLA clock, escalation,
 * history); its asset is the one named or "inquiry", its check
 * "inquiry-<channel>-<ms>" unless named, and its first event's note says
 * who called and how. */
int api_alert_open(struct req *r)
{
	static const char *const allowed[] = { "customer",   "asset",   "check",  "service",
		                               "severity",   "summary", "caller", "channel",
		                               "request_id", NULL };
	static const char *const channels[] = { "phone", "email", "chat", "visit", "other", NULL };
	const char *customer, *asset = NULL, *check = NULL, *service = NULL, *summary;
	const char *sev = NULL, *caller = NULL, *channel = NULL;
	if (body_only(r, allowed) < 0 || body_str(r, "customer", 1, 128, &customer) < 0 ||
	    body_str(r, "asset", 0, 128, &asset) < 0 || body_str(r, "check", 0, 128, &check) < 0 ||
	    body_str(r, "service", 0, 32, &service) < 0 ||
	    body_str(r, "severity", 0, 16, &sev) < 0 ||
	    body_str(r, "summary", 1, 1000, &summary) < 0 ||
	    body_str(r, "caller", 0, 200, &caller) < 0 ||
	    body_str(r, "channel", 0, 16, &channel) < 0)
		return 0;
	int severity = 2;
	if (sev) {
		severity = strcmp(sev, "warning") == 0 ? 1 : strcmp(sev, "critical") == 0 ? 2 : 0;
		if (!severity)
			return reply_error(r, 400, "bad_body",
			                   "'severity': must be warning or critical");
	}
	size_t ci = 0;
	if (!channel)
		channel = "phone";
	while (channels[ci] && strcmp(channels[ci], channel) != 0)
		ci++;
	if (!channels[ci])
		return reply_error(r, 400, "bad_body",
		                   "'channel': must be phone, email, chat, visit or other");
	const char *idem = request_id(r);
	if (idem == (const char *)-1)
		return 0;
	char origin[96], name[80], note[320];
	origin_of(r, origin, sizeof origin);
	if (!check) {
		snprintf(name, sizeof name, "inquiry-%s-%lld", channel,
		         (long long)(ev_now(req_loop(r)) * 1000.0));
		check = name;
	}
	snprintf(note, sizeof note, "%s%s%s", channel, caller ? ", caller: " : "",
	         caller ? caller : "");
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct pending_cmd *p;
	start(r, 1, &p);
	struct app_result res;
	app_alert_open(req_app(r), &sc, customer, asset ? asset : "inquiry", check,
	               service ? service : "other", severity, summary, r->who.user, note, origin,
	               idem, &res, on_done, p);
	return 0;
}

/* POST /api/v1/downtimes */
int api_downtime_add(struct req *r)
{
	static const char *const allowed[] = { "customer", "asset",   "check",      "start",
		                               "end",      "comment", "request_id", NULL };
	const char *customer, *asset = NULL, *check = NULL, *comment = NULL;
	double start_at = 0, end_at = 0;
	if (body_only(r, allowed) < 0 || body_str(r, "customer", 1, 128, &customer) < 0 ||
	    body_str(r, "asset", 0, 128, &asset) < 0 || body_str(r, "check", 0, 128, &check) < 0 ||
	    body_str(r, "comment", 1, NOTE_MAX, &comment) < 0)
		return 0;
	int has_start = body_time(r, "start", 0, &start_at);
	if (has_start < 0 || body_time(r, "end", 1, &end_at) < 0)
		return 0;
	if (has_start == 1)
		start_at = ev_now(req_loop(r));
	if (check && !asset)
		return reply_error(r, 400, "bad_body", "'check': needs 'asset'");
	const char *idem = request_id(r);
	if (idem == (const char *)-1)
		return 0;
	char origin[96];
	origin_of(r, origin, sizeof origin);
	struct app_scope sc;
	who_scope(&r->who, &sc);
	/* another tenant's customer is "not found", not "forbidden" */
	struct pending_cmd *p;
	start(r, 1, &p);
	struct app_result res;
	app_downtime_add(req_app(r), &sc, customer, asset, check, start_at, end_at, r->who.user,
	                 comment, origin, idem, &res, on_done, p);
	return 0;
}

/* DELETE /api/v1/downtimes/{id} */
int api_downtime_del(struct req *r)
{
	const char *idem = req_header(r, "Idempotency-Key");
	char origin[96];
	origin_of(r, origin, sizeof origin);
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct pending_cmd *p;
	start(r, 0, &p);
	struct app_result res;
	app_downtime_delete(req_app(r), &sc, r->param[0], origin, idem, &res, on_done, p);
	return 0;
}
