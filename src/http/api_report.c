/*
 * api_report: GET /api/v1/customers/{customer}/report?month=&lang=&format=
 * - a customer's monthly report (doc/report.md) as one HTML file or a PDF;
 * POST /api/v1/customers/{customer}/report/send {"month", "lang"?} - a
 * month's report mailed again to the customer's report.email (a customer
 * lost the mail), answered once the mails are in the durable outbox.
 *
 * The route's rule (ACC_CUSTOMER) keeps a viewer to its own customer (any
 * other is 404).  The report is made by the report workers off the loop;
 * the request waits suspended and is answered from their callback.  The
 * answer is the document itself, not JSON; errors are JSON as everywhere.
 *
 * Must never: make or read anything on the loop thread beyond the
 * service layer's snapshot.
 */
#include "http/api_report.h"
#include "http/http_int.h"
#include "app/app.h"

#include <stdlib.h>
#include <string.h>

static void on_report(void *ud, int err, const char *msg, struct app_report *rep)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		app_report_free(rep);
		req_release(r);
		return;
	}
	if (err != APP_OK) {
		app_report_free(rep);
		if (err == APP_E_INVALID)
			req_finish_error(r, 400, "bad_parameter", "%s", msg);
		else
			req_finish_app_error(r, err, msg);
		return;
	}
	char *data = rep->data;
	rep->data = NULL;
	req_finish_body(r, 200, rep->type, rep->filename, data, rep->len);
	app_report_free(rep);
}

int api_report(struct req *r)
{
	const char *month = req_query(r, "month");
	if (!month)
		return reply_error(r, 400, "bad_parameter", "query parameter 'month': YYYY-MM");
	struct app_scope sc;
	who_scope(&r->who, &sc);
	char msg[APP_MSG_MAX] = "";
	int rc = app_report(req_app(r), &sc, r->param[0], month, req_query(r, "lang"),
	                    req_query(r, "format"), 0, on_report, r, msg, sizeof msg);
	if (rc == APP_E_INVALID)
		return reply_error(r, 400, "bad_parameter", "%s", msg);
	if (rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such customer");
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	req_suspend(r);
	return 0;
}

static void on_sent(void *ud, int err, const char *msg, const struct app_report_sent *s)
{
	struct req *r = ud;
	if (req_orphaned(r)) {
		req_release(r);
		return;
	}
	if (err != APP_OK) {
		req_finish_app_error(r, err, msg);
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "result", "queued");
	jw_kstr(&w, "customer", s->customer);
	jw_kstr(&w, "month", s->month);
	jw_kstr(&w, "lang", s->lang);
	jw_key(&w, "recipients");
	jw_int(&w, (long long)s->n_to);
	jw_key(&w, "bytes");
	jw_int(&w, (long long)s->bytes);
	jw_end_obj(&w);
	req_finish_json(r, 202, &b);
}

int api_report_send(struct req *r)
{
	static const char *const allowed[] = { "month", "lang", NULL };
	const char *month, *lang = NULL;
	if (body_only(r, allowed) < 0 || body_str(r, "month", 1, 7, &month) < 0 ||
	    body_str(r, "lang", 0, 2, &lang) < 0)
		return 0;
	struct app_scope sc;
	who_scope(&r->who, &sc);
	char msg[APP_MSG_MAX] = "";
	int rc =
	    app_report_send(req_app(r), &sc, r->param[0], month, lang, on_sent, r, msg, sizeof msg);
	if (rc == APP_E_INVALID)
		return reply_error(r, 400, "bad_body", "%s", msg);
	if (rc == APP_E_NOTFOUND)
		return reply_error(r, 404, "not_found", "no such customer");
	if (rc != APP_OK)
		return reply_app_error(r, rc, msg);
	req_suspend(r);
	return 0;
}
