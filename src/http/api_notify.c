/*
 * api_notify: the on-call notification routes over the service layer
 * (src/app/notify.c, which asks src/notify).
 *
 *   GET  /api/v1/oncall?at=&center=          who is on call per schedule
 *   GET  /api/v1/alerts/{id}/notifications   an alert's notifications and attempts
 *   POST /api/v1/notify/inbound/{channel}    a gateway's webhook (public: the
 *                                            channel verifies its signature)
 *   GET  /api/v1/notify/ack/{token}          what a one-click link would do (public)
 *   POST /api/v1/notify/ack/{token}          do it (public: the signed token is
 *                                            the authority, for that one action)
 *
 * Must never: act on an unverified inbound request or link (the service
 * layer's hooks verify), answer a viewer with staff information.
 */
#include "http/api_notify.h"
#include "http/http_int.h"
#include "app/app.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- who is on call ---- */

int api_oncall(struct req *r)
{
	double at = 0;
	int rc = q_time(r, "at", &at);
	if (rc < 0)
		return 0;
	if (rc > 0)
		at = ev_now(req_loop(r));
	struct app_scope sc;
	who_scope(&r->who, &sc);
	struct app_oncall *o = NULL;
	char msg[APP_MSG_MAX] = "";
	rc = app_oncall(req_app(r), &sc, at, req_query(r, "center"), &o, msg, sizeof msg);
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_ktime(&w, "at", o->at);
	jw_key(&w, "schedules");
	jw_arr(&w);
	for (size_t i = 0; i < o->n; i++) {
		const struct app_oncall_row *row = &o->rows[i];
		jw_obj(&w);
		jw_kstr(&w, "center", row->center);
		jw_kstr(&w, "tier", row->tier);
		jw_key(&w, "on_call");
		jw_arr(&w);
		for (size_t k = 0; k < row->n_on; k++) {
			jw_obj(&w);
			jw_kstr(&w, "contact", row->on[k].contact);
			jw_kstr(&w, "source", row->on[k].source);
			jw_end_obj(&w);
		}
		jw_end_arr(&w);
		jw_ktime(&w, "until", row->until);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	app_oncall_free(o);
	return reply_json(r, 200, &b);
}

/* ---- an alert's notifications ---- */

static void on_notifications(void *ud, int err, const char *msg, struct app_notifications *l)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_notifications_free(l);
		req_release(r);
		return;
	}
	if (err == APP_E_NOTFOUND || err == APP_E_FORBIDDEN) {
		app_notifications_free(l);
		req_finish_error(r, 404, "not_found", "no such alert");
		return;
	}
	if (err != APP_OK) {
		app_notifications_free(l);
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "alert", r->param[0]);
	jw_key(&w, "notifications");
	jw_arr(&w);
	for (size_t i = 0; i < l->n; i++) {
		const struct app_notification *x = &l->rows[i];
		jw_obj(&w);
		jw_kint(&w, "seq", x->seq);
		jw_kstr(&w, "event", x->event);
		jw_kstr(&w, "contact", x->contact);
		jw_kstr(&w, "channel", x->channel);
		jw_kstr(&w, "status", x->status);
		jw_kint(&w, "attempts", x->attempts);
		jw_kstr(&w, "error", x->error);
		jw_ktime(&w, "created", x->created);
		jw_ktime(&w, "updated", x->updated);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_key(&w, "attempts");
	jw_arr(&w);
	for (size_t i = 0; i < l->n_attempts; i++) {
		const struct app_notify_attempt *x = &l->attempts[i];
		jw_obj(&w);
		jw_ktime(&w, "time", x->time);
		jw_kstr(&w, "event", x->event);
		jw_kstr(&w, "contact", x->contact);
		jw_kstr(&w, "channel", x->channel);
		jw_kint(&w, "attempt", x->attempt);
		jw_kstr(&w, "result", x->result);
		jw_kstr(&w, "detail", x->detail);
		jw_kstr(&w, "message_id", x->message_id);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_kbool(&w, "truncated", l->truncated);
	jw_end_obj(&w);
	app_notifications_free(l);
	req_finish_json(r, 200, &b);
}

int api_alert_notifications(struct req *r)
{
	struct app_scope sc;
	who_scope(&r->who, &sc);
	int rc = app_alert_notifications(req_app(r), &sc, r->param[0], on_notifications, r);
	if (rc != APP_OK)
		return reply_app_error(r, rc, NULL);
	req_suspend(r);
	return 0;
}

/* ---- a gateway's inbound webhook ---- */

int api_notify_inbound(struct req *r)
{
	/* the headers a gateway signs with (the channel reads what it needs) */
	static const char *const names[] = { "X-Twilio-Signature", "X-Mamori-Signature",
		                             "User-Agent" };
	const char *hv[2 * 3];
	size_t nh = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v = req_header(r, names[i]);
		if (v) {
			hv[2 * nh] = names[i];
			hv[2 * nh + 1] = v;
			nh++;
		}
	}
	char url[512];
	snprintf(url, sizeof url, "/api/v1/notify/inbound/%s", r->param[0]);
	struct app_inbound in = { .channel = r->param[0],
		                  .method = "POST",
		                  .url = url,
		                  .content_type = req_header(r, "Content-Type"),
		                  .headers = hv,
		                  .n_headers = nh,
		                  .body = r->body.p ? r->body.p : "",
		                  .body_len = r->body.n };
	struct app_inbound_answer ans;
	int rc = app_notify_inbound(req_app(r), &in, &ans);
	if (rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such channel, or it takes no replies");
	if (ans.status == 403 || ans.status == 401)
		return reply_error(r, 403, "forbidden", "%s", ans.body);
	if (ans.status >= 400)
		return reply_error(r, 400, "bad_body", "%s", ans.body);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "result", ans.body);
	jw_end_obj(&w);
	return reply_json(r, 200, &b);
}

/* ---- one-click links ---- */

static void link_json(struct buf *b, const struct app_link *l, const char *state)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj(&w);
	jw_kbool(&w, "valid", l->valid);
	jw_kstr(&w, "action", l->action[0] ? l->action : NULL);
	jw_kstr(&w, "alert", l->alert[0] ? l->alert : NULL);
	jw_kstr(&w, "contact", l->contact[0] ? l->contact : NULL);
	jw_ktime(&w, "expires", l->expires);
	jw_kstr(&w, "result", state);
	jw_end_obj(&w);
}

struct link_call {
	struct req *r;
	struct app_link l;
};

static void on_link_done(void *ud, const struct app_result *res)
{
	struct link_call *c = ud;
	struct req *r = c->r;
	if (req_orphaned(r)) {
		free(c);
		req_release(r);
		return;
	}
	if (res->repeated) {
		req_finish_error(r, 409, "conflict", "the link was used already");
	} else if (res->err != APP_OK) {
		req_finish_app_error(r, res->err, res->msg);
	} else {
		struct buf b = { 0 };
		link_json(&b, &c->l, "acknowledged");
		req_finish_json(r, 200, &b);
	}
	free(c);
}

int api_notify_link(struct req *r)
{
	int confirm = strcmp(r->route->method, "POST") == 0;
	struct link_call *c = xcalloc(1, sizeof *c);
	c->r = r;
	int rc = app_notify_link(req_app(r), r->param[0], confirm, &c->l, on_link_done, c);
	if (rc == APP_E_UNAVAILABLE) {
		reply_error(r, 503, "unavailable", "no notifications are configured");
		free(c);
		return 0;
	}
	if (rc != APP_OK) {
		reply_error(r, 403, "forbidden", "%s",
		            c->l.error[0] ? c->l.error : "not a valid link");
		free(c);
		return 0;
	}
	if (!confirm) {
		struct buf b = { 0 };
		link_json(&b, &c->l, "POST this URL to acknowledge");
		free(c);
		return reply_json(r, 200, &b);
	}
	req_suspend(r); /* on_link_done answers */
	return 0;
}
