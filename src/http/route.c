/*
 * route: the API's route table, the one place that says who may call
 * what, and the checks of query parameters and bodies every handler
 * shares.
 *
 * Access (enum access) is a field of every route; the rules behind each
 * kind are in authorize() below and nowhere else.  Tenancy: a viewer of
 * customer A gets 404 for anything of B (existence is not revealed),
 * whether the route names the customer in its path (ACC_CUSTOMER,
 * checked here) or the handler finds it in the service layer (which
 * answers "not found" for what is outside the scope it is given).
 */
#include "http/http_int.h"
#include "http/api_report.h"
#include "http/api_notify.h"
#include "app/app.h"
#include "proto/cmd.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define Q_PAGE "after", "limit"

/* clang-format off */
const struct route http_routes[] = {
	{ "GET", "/healthz", ACC_PUBLIC, "healthz", NULL, 0, { NULL }, 0 },
	{ "GET", "/readyz", ACC_PUBLIC, "readyz", NULL, 0, { NULL }, 0 },
	{ "POST", "/api/v1/login", ACC_PUBLIC, "login", api_login, 4096, { NULL }, 0 },
	{ "POST", "/api/v1/logout", ACC_USER, "logout", api_logout, 0, { NULL }, 0 },
	{ "GET", "/api/v1/me", ACC_USER, "me", api_me, 0, { NULL }, 0 },
	{ "GET", "/api/v1/users", ACC_ADMIN, "users", api_users, 0, { NULL }, 0 },
	{ "POST", "/api/v1/users", ACC_ADMIN, "users.add", api_user_add, 8192, { NULL }, 0 },
	{ "PATCH", "/api/v1/users/{name}", ACC_ADMIN, "users.set", api_user_set, 8192, { NULL }, 0 },
	{ "POST", "/api/v1/users/{name}/password", ACC_USER, "users.password", api_user_passwd,
	  4096, { NULL }, 0 },
	{ "DELETE", "/api/v1/users/{name}", ACC_ADMIN, "users.delete", api_user_del, 0, { NULL }, 0 },
	{ "GET", "/api/v1/tokens", ACC_USER, "tokens", api_tokens, 0, { "user", NULL }, 0 },
	{ "POST", "/api/v1/tokens", ACC_USER, "tokens.create", api_token_create, 4096, { NULL }, 0 },
	{ "DELETE", "/api/v1/tokens/{id}", ACC_USER, "tokens.revoke", api_token_revoke, 0, { NULL },
	  0 },
	{ "GET", "/api/v1/status", ACC_READ, "status", api_status, 0, { NULL }, 0 },
	{ "GET", "/api/v1/customers", ACC_READ, "customers", api_customers, 0, { NULL }, 0 },
	{ "GET", "/api/v1/customers/{customer}", ACC_CUSTOMER, "customer", api_customer, 0,
	  { NULL }, 0 },
	{ "GET", "/api/v1/customers/{customer}/assets", ACC_CUSTOMER, "assets", api_assets, 0,
	  { NULL }, 0 },
	{ "GET", "/api/v1/customers/{customer}/report", ACC_CUSTOMER, "customer.report", api_report,
	  0, { "month", "lang", "format", NULL }, 0 },
	{ "POST", "/api/v1/customers/{customer}/report/send", ACC_MAINTAIN, "customer.report.send",
	  api_report_send, 1024, { NULL }, 0 },
	{ "GET", "/api/v1/checks", ACC_READ, "checks", api_checks, 0,
	  { "customer", "asset", "service", "state", "hard", "acknowledged", "problems", Q_PAGE,
	    NULL }, 0 },
	{ "GET", "/api/v1/checks/{customer}/{asset}/{check}", ACC_CUSTOMER, "check", api_check, 0,
	  { NULL }, 0 },
	{ "GET", "/api/v1/checks/{customer}/{asset}/{check}/series", ACC_CUSTOMER, "check.series",
	  api_series, 0, { "from", "to", "step", "label", NULL }, 0 },
	{ "POST", "/api/v1/checks/{customer}/{asset}/{check}/ack", ACC_ACT, "check.ack",
	  api_check_ack, 4096, { NULL }, 0 },
	{ "POST", "/api/v1/checks/{customer}/{asset}/{check}/unack", ACC_ACT, "check.unack",
	  api_check_ack, 4096, { NULL }, 0 },
	{ "GET", "/api/v1/alerts", ACC_READ, "alerts", api_alerts, 0,
	  { "center", "customer", "status", "severity", "service", "due_before", Q_PAGE, NULL }, 0 },
	{ "POST", "/api/v1/alerts", ACC_ACT, "alerts.open", api_alert_open, 8192, { NULL }, 0 },
	{ "GET", "/api/v1/alerts/{id}", ACC_READ, "alert", api_alert, 0, { NULL }, 0 },
	{ "GET", "/api/v1/alerts/{id}/notifications", ACC_READ, "alert.notifications",
	  api_alert_notifications, 0, { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/ack", ACC_ACT, "alert.ack", api_alert_act, 8192, { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/unack", ACC_ACT, "alert.unack", api_alert_act, 8192,
	  { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/resolve", ACC_ACT, "alert.resolve", api_alert_act, 8192,
	  { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/escalate", ACC_ACT, "alert.escalate", api_alert_act, 8192,
	  { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/dispatch", ACC_ACT, "alert.dispatch", api_alert_act, 16384,
	  { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/wait", ACC_ACT, "alert.wait", api_alert_act, 8192, { NULL }, 0 },
	{ "POST", "/api/v1/alerts/{id}/comment", ACC_ACT, "alert.comment", api_alert_act, 16384,
	  { NULL }, 0 },
	{ "GET", "/api/v1/downtimes", ACC_READ, "downtimes", api_downtimes, 0, { "customer", NULL },
	  0 },
	{ "POST", "/api/v1/downtimes", ACC_MAINTAIN, "downtimes.add", api_downtime_add, 8192,
	  { NULL }, 0 },
	{ "DELETE", "/api/v1/downtimes/{id}", ACC_MAINTAIN, "downtimes.delete", api_downtime_del,
	  0, { NULL }, 0 },
	{ "GET", "/api/v1/overview", ACC_READ, "overview", api_overview, 0, { NULL }, 0 },
	{ "GET", "/api/v1/sla", ACC_READ, "sla", api_sla, 0, { "center", "customer", NULL }, 0 },
	{ "GET", "/api/v1/oncall", ACC_READ, "oncall", api_oncall, 0, { "at", "center", NULL }, 0 },
	{ "POST", "/api/v1/notify/inbound/{channel}", ACC_PUBLIC, "notify.inbound",
	  api_notify_inbound, 16384, { NULL }, ROUTE_FORM },
	{ "GET", "/api/v1/notify/ack/{token}", ACC_PUBLIC, "notify.link", api_notify_link, 0,
	  { NULL }, 0 },
	{ "POST", "/api/v1/notify/ack/{token}", ACC_PUBLIC, "notify.link.use", api_notify_link, 1024,
	  { NULL }, ROUTE_FORM },
	{ "GET", "/api/v1/events", ACC_READ, "events", api_events, 0, { "types", "customer", "after",
	  NULL }, ROUTE_STREAM },
	{ "GET", "/", ACC_PUBLIC, "ui", api_static, 0, { NULL }, 0 },
	{ "GET", "/ui/{file}", ACC_PUBLIC, "ui.file", api_static, 0, { NULL }, 0 },
	{ "GET", "/ui/{dir}/{file}", ACC_PUBLIC, "ui.subdir", api_static, 0, { NULL }, 0 },
};
/* clang-format on */
const size_t http_n_routes = sizeof http_routes / sizeof http_routes[0];

const char *access_name(enum access a)
{
	switch (a) {
	case ACC_PUBLIC: return "public";
	case ACC_USER: return "user";
	case ACC_READ: return "read";
	case ACC_CUSTOMER: return "customer";
	case ACC_ACT: return "act";
	case ACC_MAINTAIN: return "maintain";
	case ACC_ADMIN: return "admin";
	}
	return NULL;
}

void who_clear(struct who *w)
{
	for (size_t i = 0; i < w->n_centers; i++)
		free(w->centers[i]);
	free(w->centers);
	free(w->customer);
	memset(w, 0, sizeof *w);
	w->role = ROLE_NONE;
}

void who_scope(const struct who *w, struct app_scope *sc)
{
	memset(sc, 0, sizeof *sc);
	switch (w->role) {
	case ROLE_ADMIN: sc->all = 1; break;
	case ROLE_OPERATOR:
		/* every customer and alert to read; act on its centers' */
		sc->read_by_customer = 1;
		sc->centers = (const char *const *)w->centers;
		sc->n_centers = w->n_centers;
		break;
	case ROLE_VIEWER:
		sc->read_by_customer = 1;
		sc->customers = (const char *const *)&w->customer;
		sc->n_customers = 1;
		break;
	default: {
		/* nothing: a customer list that matches no customer ("" is no
		 * customer's id) */
		static const char *const none[] = { "" };
		sc->customers = none;
		sc->n_customers = 1;
		sc->read_by_customer = 1;
		break;
	}
	}
}

/* ---- matching ---- */

/* One path segment as a parameter.  MHD has already percent-decoded
 * the path, so nothing is decoded again (a "%2541" must not become "A");
 * a segment is what lies between two '/'. */
static int copy_seg(const char *s, size_t n, char **out)
{
	if (n == 0 || n > 255)
		return -1;
	*out = xstrndup(s, n);
	return 0;
}

/* 1: path matches pattern (params filled), 0: not. */
static int match(const char *pattern, const char *path, char **param, size_t *n_param)
{
	*n_param = 0;
	const char *p = pattern, *u = path;
	while (*p && *u) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *ue = strchr(u, '/');
			size_t un = ue ? (size_t)(ue - u) : strlen(u);
			if (!pe || un == 0 || *n_param == ROUTE_MAX_PARAMS)
				goto no;
			if (copy_seg(u, un, &param[*n_param]) != 0)
				goto no;
			(*n_param)++;
			p = pe + 1;
			u += un;
			continue;
		}
		if (*p != *u)
			goto no;
		p++;
		u++;
	}
	if (*p == '\0' && *u == '\0')
		return 1;
no:
	for (size_t i = 0; i < *n_param; i++)
		free(param[i]);
	*n_param = 0;
	return 0;
}

int route_find(const char *method, const char *path, const struct route **out, char **param,
               size_t *n_param, char *allow, size_t allowlen)
{
	int path_known = 0;
	allow[0] = '\0';
	/* HEAD is GET without the body (MHD drops it) */
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	for (size_t i = 0; i < http_n_routes; i++) {
		const struct route *rt = &http_routes[i];
		char *tmp[ROUTE_MAX_PARAMS];
		size_t nt = 0;
		if (!match(rt->pattern, path, tmp, &nt))
			continue;
		if (strcmp(rt->method, m) == 0) {
			for (size_t k = 0; k < nt; k++)
				param[k] = tmp[k];
			*n_param = nt;
			*out = rt;
			return 0;
		}
		for (size_t k = 0; k < nt; k++)
			free(tmp[k]);
		path_known = 1;
		size_t n = strlen(allow);
		snprintf(allow + n, allowlen - n, "%s%s%s", n ? ", " : "", rt->method,
		         strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
	}
	return path_known ? 405 : 404;
}

/* ---- access ---- */

static int customer_visible(const struct who *w, const char *customer)
{
	if (w->role == ROLE_ADMIN || w->role == ROLE_OPERATOR)
		return 1;
	return w->role == ROLE_VIEWER && w->customer && customer &&
	       strcmp(w->customer, customer) == 0;
}

/* Is the resource the path names (a customer, an alert, a downtime)
 * visible to the caller?  Only asked for a viewer, whom an act route
 * refuses anyway: the answer picks 404 or 403. */
static int resource_visible(struct req *r)
{
	const char *pat = r->route->pattern;
	if (r->n_param == 0)
		return 1;
	if (strstr(pat, "{customer}"))
		return customer_visible(&r->who, r->param[0]);
	struct app_scope sc;
	who_scope(&r->who, &sc);
	if (strncmp(pat, "/api/v1/alerts/", 15) == 0) {
		struct app_alert al;
		int ok = app_alert_get(req_app(r), &sc, r->param[0], &al) == APP_OK;
		app_alert_clear(&al);
		return ok;
	}
	if (strncmp(pat, "/api/v1/downtimes/", 18) == 0) {
		struct app_downtimes *l = NULL;
		int ok = 0;
		if (app_downtimes(req_app(r), &sc, &l) == APP_OK)
			for (size_t i = 0; i < l->n && !ok; i++)
				ok = strcmp(l->rows[i].id, r->param[0]) == 0;
		app_downtimes_free(l);
		return ok;
	}
	return 0;
}

/* 0: go on; else the request was answered (401, 403, 404). */
int authorize(struct req *r)
{
	const struct route *rt = r->route;
	const struct who *w = &r->who;
	if (rt->access == ACC_PUBLIC)
		return 0;
	if (w->role == ROLE_NONE) {
		reply_error(r, 401, "unauthenticated",
		            "log in first (session cookie or bearer token)");
		return -1;
	}
	/* a session cookie is ambient authority: a state change made with it
	 * must carry the session's CSRF token (tokens are not ambient) */
	if (w->cookie && strcmp(rt->method, "GET") != 0) {
		const char *t = req_header(r, "X-CSRF-Token");
		if (!t || !w->csrf[0] || strcmp(t, w->csrf) != 0) {
			reply_error(r, 403, "csrf", "missing or wrong X-CSRF-Token header");
			return -1;
		}
	}
	switch (rt->access) {
	case ACC_PUBLIC:
	case ACC_USER:
	case ACC_READ: return 0;
	case ACC_CUSTOMER:
		if (!customer_visible(w, r->param[0])) {
			reply_error(r, 404, "not_found", "no such customer");
			return -1;
		}
		return 0;
	case ACC_ACT:
	case ACC_MAINTAIN:
		if (w->role == ROLE_ADMIN || w->role == ROLE_OPERATOR)
			return 0;
		/* a viewer: 404 for what is not theirs, 403 for their own;
		 * a body naming a customer gets 403 whichever it names */
		if (!resource_visible(r)) {
			reply_error(r, 404, "not_found", "not found");
			return -1;
		}
		reply_error(r, 403, "forbidden", "a viewer cannot change anything");
		return -1;
	case ACC_ADMIN:
		if (w->role == ROLE_ADMIN)
			return 0;
		reply_error(r, 403, "forbidden", "administrators only");
		return -1;
	}
	reply_error(r, 500, "internal", "route without an access rule");
	return -1;
}

/* ---- query parameters ---- */

int route_query_arg(const struct route *rt, const char *key, char seen[ROUTE_MAX_QUERY])
{
	for (size_t i = 0; i < ROUTE_MAX_QUERY && rt->query[i]; i++)
		if (strcmp(rt->query[i], key) == 0) {
			if (seen[i])
				return -2;
			seen[i] = 1;
			return 0;
		}
	return -1;
}

static int bad_param(struct req *r, const char *name, const char *why)
{
	reply_error(r, 400, "bad_parameter", "query parameter '%s': %s", name, why);
	return -1;
}

int q_int(struct req *r, const char *name, long lo, long hi, long *out)
{
	const char *v = req_query(r, name);
	if (!v)
		return 1;
	char *e = NULL;
	errno = 0;
	long x = strtol(v, &e, 10);
	if (!*v || *e || errno || x < lo || x > hi) {
		char why[96];
		snprintf(why, sizeof why, "must be an integer %ld..%ld", lo, hi);
		return bad_param(r, name, why);
	}
	*out = x;
	return 0;
}

/* RFC 3339 ("2026-12-07T09:00:00Z", "...+09:00"), read by the strict
 * reader the MQTT commands use, or seconds since the epoch as digits with
 * an optional fraction ("1796601600", "1796601600.25").  It once went
 * through strtod and strptime: a fraction ".5e3" added 500 s, an offset
 * "+0/:00" was read as -1 h, "2026-02-31" as March 3 and "1e9" or
 * " 0x10" as seconds (found by tests/fuzz/fuzz_http_time.c). */
int parse_time(const char *v, double *out)
{
	size_t n = strspn(v, "0123456789");
	if (n > 0 && (v[n] == '\0' || (v[n] == '.' && v[n + 1] >= '0' && v[n + 1] <= '9' &&
	                               v[n + 1 + strspn(v + n + 1, "0123456789")] == '\0'))) {
		double x = strtod(v, NULL);
		if (x >= 1e11)
			return -1;
		*out = x;
		return 0;
	}
	return cmd_parse_rfc3339(v, out) == 0 ? 0 : -1;
}

int q_time(struct req *r, const char *name, double *out)
{
	const char *v = req_query(r, name);
	if (!v)
		return 1;
	if (parse_time(v, out) != 0)
		return bad_param(r, name, "must be an RFC 3339 time or seconds since the epoch");
	return 0;
}

/* ---- bodies ---- */

/* The field's name is the client's (an unknown one may be 16 KiB long):
 * at most 64 bytes of it, so the reason always fits in the message
 * (found by tests/fuzz/fuzz_http_body.c: "unknown field" was cut off). */
static int bad_body(struct req *r, const char *name, const char *why)
{
	reply_error(r, 400, "bad_body", "'%.64s%s': %s", name, strlen(name) > 64 ? "..." : "", why);
	return -1;
}

int body_only(struct req *r, const char *const *allowed)
{
	if (!r->json)
		return 0;
	for (const cJSON *m = r->json->child; m; m = m->next) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], m->string) != 0)
			i++;
		if (!allowed[i])
			return bad_body(r, m->string, "unknown field");
	}
	return 0;
}

int body_str(struct req *r, const char *name, int required, size_t maxlen, const char **out)
{
	*out = NULL;
	const cJSON *v = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, name) : NULL;
	if (!v) {
		if (required)
			return bad_body(r, name, "required");
		return 1;
	}
	if (!cJSON_IsString(v))
		return bad_body(r, name, "must be a string");
	if (strlen(v->valuestring) > maxlen) {
		char why[64];
		snprintf(why, sizeof why, "longer than %zu bytes", maxlen);
		return bad_body(r, name, why);
	}
	*out = v->valuestring;
	return 0;
}

int body_time(struct req *r, const char *name, int required, double *out)
{
	const cJSON *v = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, name) : NULL;
	if (!v) {
		if (required)
			return bad_body(r, name, "required");
		return 1;
	}
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) {
		*out = v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && parse_time(v->valuestring, out) == 0)
		return 0;
	return bad_body(r, name, "must be an RFC 3339 time or seconds since the epoch");
}

int body_int(struct req *r, const char *name, int required, long lo, long hi, long *out)
{
	const cJSON *v = r->json ? cJSON_GetObjectItemCaseSensitive(r->json, name) : NULL;
	if (!v) {
		if (required)
			return bad_body(r, name, "required");
		return 1;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
		char why[96];
		snprintf(why, sizeof why, "must be an integer %ld..%ld", lo, hi);
		return bad_body(r, name, why);
	}
	*out = (long)v->valuedouble;
	return 0;
}

unsigned app_status(int err)
{
	switch (err) {
	case APP_OK: return 200;
	case APP_E_INVALID: return 422;
	case APP_E_NOTFOUND: return 404;
	case APP_E_FORBIDDEN: return 403;
	case APP_E_STATE: return 409;
	case APP_E_LAST_TIER: return 409;
	case APP_E_DENIED: return 403;
	case APP_E_UNAVAILABLE: return 503;
	default: return 500;
	}
}
