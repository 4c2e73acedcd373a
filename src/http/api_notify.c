/*
 * api_notify: the on-call notification routes over the service layer
 * (src/app/notify.c, which asks src/notify).
 *
 *   GET  /api/v1/oncall?at=&center=          who is on call per schedule
 *   GET  /api/v1/alerts/{id}/notifications   an alert's notifications and attempts
 *   POST /api/v1/notify/inbound/{channel}    a gateway's webhook (public: the
 *                                            channel verifies its signature)
 *   GET  /api/v1/notify/ack/{token}          what a one-click link would do (public;
 *                                            a browser gets a confirmation page)
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

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
		                  .body_len = r->body.n,
		                  .form = r->is_form ? (const char *const *)r->form : NULL,
		                  .n_form = r->n_form };
	struct app_inbound_answer ans;
	int rc = app_notify_inbound(req_app(r), &in, &ans);
	if (rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such channel, or it takes no replies");
	if (ans.status == 403 || ans.status == 401)
		return reply_error(r, 403, "forbidden", "%s", ans.body);
	if (ans.status >= 400)
		return reply_error(r, 400, "bad_body", "%s", ans.body);
	struct buf b = { 0 };
	if (strncmp(ans.body, "<Response", 9) == 0) {
		/* TwiML, as Twilio wants it (it logs an error for anything else) */
		buf_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>%s\n", ans.body);
		return reply_doc(r, 200, "text/xml; charset=utf-8", NULL, &b);
	}
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "result", ans.body);
	jw_end_obj(&w);
	return reply_json(r, 200, &b);
}

/* ---- one-click links ----
 * A technician opens the link on a phone: a browser (Accept names
 * text/html) gets a small page of its own - no script, every text
 * escaped, Japanese or English by Accept-Language, a CSP that allows
 * only its one style block and a form posting to itself.  GET never
 * acts (mail scanners and link previewers fetch links): it shows what
 * the link would do and a button; the button POSTs to the same URL,
 * which acknowledges once (the token's nonce is the idempotency key; a
 * second use is 409) until the token expires (403).  Anything else gets
 * the JSON as before. */

static const char page_style[] =
    "body{font-family:system-ui,sans-serif;margin:0;padding:1.5em;background:#f6f7f9;"
    "color:#1d2330}main{max-width:30em;margin:auto;background:#fff;border-radius:8px;"
    "padding:1.2em 1.5em;box-shadow:0 1px 3px rgba(0,0,0,.15)}h1{font-size:1.3em}"
    "dt{color:#5f6775;font-size:.9em}dd{margin:0 0 .6em 0;word-break:break-all}"
    "button{font-size:1.2em;padding:.7em 1.4em;border:0;border-radius:6px;"
    "background:#1a73e8;color:#fff;width:100%}.bad{color:#b3261e}.ok{color:#1e7d32}";

/* The page's CSP: nothing but its own style block (by hash) and a form
 * posting back to this server. */
static const char *page_csp(void)
{
	static char csp[256];
	if (!csp[0]) {
		unsigned char md[32];
		unsigned mdl = sizeof md;
		unsigned char b64[48];
		EVP_Digest(page_style, sizeof page_style - 1, md, &mdl, EVP_sha256(), NULL);
		EVP_EncodeBlock(b64, md, (int)mdl);
		snprintf(csp, sizeof csp,
		         "default-src 'none'; style-src 'sha256-%s'; form-action 'self'; "
		         "frame-ancestors 'none'; base-uri 'none'",
		         (const char *)b64);
	}
	return csp;
}

/* 1: the client asks for a page (a browser): Accept names text/html
 * (or text then slash-star) with a q above 0. */
static int wants_html(struct req *r)
{
	const char *a = req_header(r, "Accept");
	while (a && *a) {
		const char *e = strchr(a, ',');
		size_t n = e ? (size_t)(e - a) : strlen(a);
		while (n && (*a == ' ' || *a == '\t')) {
			a++;
			n--;
		}
		int html = (n >= 9 && strncasecmp(a, "text/html", 9) == 0 &&
		            (n == 9 || a[9] == ';' || a[9] == ' ')) ||
		           (n >= 6 && strncasecmp(a, "text/*", 6) == 0 &&
		            (n == 6 || a[6] == ';' || a[6] == ' '));
		if (html) {
			const char *q = memmem(a, n, "q=", 2);
			if (!q || strtod(q + 2, NULL) > 0)
				return 1;
		}
		a = e ? e + 1 : NULL;
	}
	return 0;
}

/* "ja" or "en": the language of Accept-Language with the highest q
 * among those two (the first on a tie); Japanese when it names neither. */
static int page_ja(struct req *r)
{
	const char *a = req_header(r, "Accept-Language");
	double best = -1;
	int ja = 1;
	while (a && *a) {
		const char *e = strchr(a, ',');
		size_t n = e ? (size_t)(e - a) : strlen(a);
		while (n && (*a == ' ' || *a == '\t')) {
			a++;
			n--;
		}
		int is_ja = n >= 2 && strncasecmp(a, "ja", 2) == 0 &&
		            (n == 2 || a[2] == '-' || a[2] == ';' || a[2] == ' ');
		int is_en = n >= 2 && strncasecmp(a, "en", 2) == 0 &&
		            (n == 2 || a[2] == '-' || a[2] == ';' || a[2] == ' ');
		if (is_ja || is_en) {
			const char *q = memmem(a, n, "q=", 2);
			double v = q ? strtod(q + 2, NULL) : 1.0;
			if (v > best) {
				best = v;
				ja = is_ja;
			}
		}
		a = e ? e + 1 : NULL;
	}
	return ja;
}

enum page_kind { PAGE_CONFIRM, PAGE_DONE, PAGE_USED, PAGE_INVALID, PAGE_ERROR };

/* The whole page for a link into b (ja or en). */
static void link_page(struct buf *b, int ja, enum page_kind kind, const struct app_link *l,
                      const char *detail)
{
	static const char *const title[][2] = {
		[PAGE_CONFIRM] = { "Acknowledge the alert?", "アラートを確認済みにしますか?" },
		[PAGE_DONE] = { "Acknowledged", "確認済みにしました" },
		[PAGE_USED] = { "This link was used already", "このリンクは使用済みです" },
		[PAGE_INVALID] = { "This link is not valid", "このリンクは無効です" },
		[PAGE_ERROR] = { "Not acknowledged", "確認済みにできませんでした" },
	};
	static const char *const cls[] = { "", "ok", "bad", "bad", "bad" };
	buf_put(b,
	        "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	        "<meta name=\"robots\" content=\"noindex, nofollow\"><title>mamori: ",
	        ja ? "ja" : "en");
	html_escape(b, title[kind][ja]);
	buf_put(b, "</title><style>%s</style></head>\n<body><main><h1 class=\"%s\">", page_style,
	        cls[kind]);
	html_escape(b, title[kind][ja]);
	buf_put(b, "</h1>\n");
	if (l && l->alert[0]) {
		buf_put(b, "<dl><dt>%s</dt><dd>", ja ? "アラート" : "Alert");
		html_escape(b, l->alert);
		buf_put(b, "</dd><dt>%s</dt><dd>", ja ? "担当者" : "As");
		html_escape(b, l->contact);
		buf_put(b, "</dd>");
		if (l->expires > 0) {
			char when[40];
			time_t t = (time_t)l->expires;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
			buf_put(b, "<dt>%s</dt><dd>%s</dd>",
			        ja ? "リンクの有効期限" : "Link expires", when);
		}
		buf_put(b, "</dl>\n");
	}
	if (detail && *detail) {
		buf_put(b, "<p>");
		html_escape(b, detail);
		buf_put(b, "</p>\n");
	}
	if (kind == PAGE_CONFIRM)
		buf_put(b, "<form method=\"post\"><button type=\"submit\">%s</button></form>\n",
		        ja ? "確認済みにする" : "Acknowledge");
	if (kind == PAGE_DONE)
		buf_put(b, "<p>%s</p>\n",
		        ja ? "この画面は閉じてかまいません。" : "You can close this page.");
	buf_put(b, "</main></body></html>\n");
}

static int page_reply(struct req *r, unsigned status, enum page_kind kind, const struct app_link *l,
                      const char *detail, int later)
{
	struct buf b = { 0 };
	link_page(&b, page_ja(r), kind, l, detail);
	if (later) {
		req_finish_doc(r, status, "text/html; charset=utf-8", page_csp(), &b);
		return 0;
	}
	return reply_doc(r, status, "text/html; charset=utf-8", page_csp(), &b);
}

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
	int html;
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
	if (c->html) {
		if (res->repeated)
			page_reply(r, 409, PAGE_USED, &c->l, NULL, 1);
		else if (res->err != APP_OK)
			page_reply(r, app_status(res->err), PAGE_ERROR, &c->l, res->msg, 1);
		else
			page_reply(r, 200, PAGE_DONE, &c->l, NULL, 1);
	} else if (res->repeated) {
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
	int html = wants_html(r);
	struct link_call *c = xcalloc(1, sizeof *c);
	c->r = r;
	c->html = html;
	int rc = app_notify_link(req_app(r), r->param[0], confirm, &c->l, on_link_done, c);
	if (rc == APP_E_UNAVAILABLE) {
		if (html)
			page_reply(r, 503, PAGE_ERROR, NULL, "no notifications are configured", 0);
		else
			reply_error(r, 503, "unavailable", "no notifications are configured");
		free(c);
		return 0;
	}
	if (rc != APP_OK) {
		if (html)
			page_reply(r, 403, PAGE_INVALID, NULL,
			           c->l.error[0] ? c->l.error : "not a valid link", 0);
		else
			reply_error(r, 403, "forbidden", "%s",
			            c->l.error[0] ? c->l.error : "not a valid link");
		free(c);
		return 0;
	}
	if (!confirm && c->l.used) { /* say so now, not after the button */
		if (html)
			page_reply(r, 409, PAGE_USED, &c->l, NULL, 0);
		else
			reply_error(r, 409, "conflict", "the link was used already");
		free(c);
		return 0;
	}
	if (!confirm) {
		struct buf b = { 0 };
		if (html) {
			page_reply(r, 200, PAGE_CONFIRM, &c->l, NULL, 0);
			free(c);
			return 0;
		}
		link_json(&b, &c->l, "POST this URL to acknowledge");
		free(c);
		return reply_json(r, 200, &b);
	}
	req_suspend(r); /* on_link_done answers */
	return 0;
}
