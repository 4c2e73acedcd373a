/*
 * session: who is calling - a bearer token (Authorization: Bearer
 * mmr_...) or the session cookie (mamori_session), each checked by the
 * auth module in O(1) - and the routes of logging in and out, users and
 * API tokens, which are auth's calls behind the same route table.
 *
 * The cookie: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), Secure when the request came over TLS (here or
 * at a trusted proxy), Path=/, and Max-Age the session's absolute expiry.
 * A state change made with it needs the session's CSRF token in
 * X-CSRF-Token (route.c, authorize); a bearer token needs none (a browser
 * never sends one on its own).
 * Must never: log or echo a password, a token or a cookie value; tell an
 * unknown user from a wrong password (auth answers both the same).
 */
#include "http/http_int.h"
#include "auth/auth.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COOKIE "mamori_session"

static void who_from(struct who *w, const struct auth_principal *p)
{
	who_clear(w);
	w->role = p->role == AUTH_ADMIN      ? ROLE_ADMIN
	          : p->role == AUTH_OPERATOR ? ROLE_OPERATOR
	                                     : ROLE_VIEWER;
	snprintf(w->user, sizeof w->user, "%s", p->user);
	if (p->n_centers) {
		w->centers = xcalloc(p->n_centers, sizeof *w->centers);
		for (size_t i = 0; i < p->n_centers; i++)
			w->centers[i] = xstrdup(p->centers[i]);
		w->n_centers = p->n_centers;
	}
	w->customer = p->customer ? xstrdup(p->customer) : NULL;
	w->cookie = !p->via_token;
	snprintf(w->csrf, sizeof w->csrf, "%s", p->csrf);
}

/* The value of cookie `name` in a Cookie header, copied into out. */
static int cookie_value(const char *hdr, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	const char *p = hdr;
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl == 0 || vl >= n)
				return -1;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

int http_auth_request(struct req *r)
{
	struct auth *a = r->h->auth;
	const char *authz = req_header(r, "Authorization");
	struct auth_principal p;
	memset(&p, 0, sizeof p);
	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0 || !a ||
		    auth_bearer(a, authz + 7, &p) != AUTH_OK) {
			auth_principal_clear(&p);
			if (r->route && r->route->access == ACC_PUBLIC)
				return 0; /* /healthz behind a proxy that adds one */
			reply_error(r, 401, "unauthenticated", "unknown, expired or revoked token");
			return -1;
		}
		who_from(&r->who, &p);
		auth_principal_clear(&p);
		return 0;
	}
	const char *ck = req_header(r, "Cookie");
	char tok[AUTH_SESSION_LEN + 8];
	if (ck && a && cookie_value(ck, COOKIE, tok, sizeof tok) == 0) {
		if (auth_session(a, tok, &p) == AUTH_OK) {
			who_from(&r->who, &p);
			snprintf(r->who.session, sizeof r->who.session, "%s", tok);
		}
		/* an expired session is no login: 401 where one is needed */
		auth_principal_clear(&p);
	}
	return 0;
}

/* The principal auth's management calls take: NULL for the local
 * administrator. */
static int actor_of(const struct req *r, struct auth_principal *p)
{
	if (r->who.local)
		return 0;
	memset(p, 0, sizeof *p);
	snprintf(p->user, sizeof p->user, "%s", r->who.user);
	p->role = r->who.role == ROLE_ADMIN      ? AUTH_ADMIN
	          : r->who.role == ROLE_OPERATOR ? AUTH_OPERATOR
	                                         : AUTH_VIEWER;
	p->centers = r->who.centers; /* borrowed: not cleared */
	p->n_centers = r->who.n_centers;
	p->customer = r->who.customer;
	p->via_token = !r->who.cookie;
	snprintf(p->csrf, sizeof p->csrf, "%s", r->who.csrf);
	return 1;
}

static unsigned auth_status(int err)
{
	switch (err) {
	case AUTH_OK: return 200;
	case AUTH_E_BADCRED: return 401;
	case AUTH_E_LIMITED: return 429;
	case AUTH_E_FORBIDDEN: return 403;
	case AUTH_E_NOTFOUND: return 404;
	case AUTH_E_CONFLICT: return 409;
	case AUTH_E_INVALID: return 422;
	case AUTH_E_BUSY: return 503;
	default: return 500;
	}
}

static const char *auth_code(int err)
{
	switch (err) {
	case AUTH_E_BADCRED: return "unauthenticated";
	case AUTH_E_LIMITED: return "rate_limited";
	case AUTH_E_FORBIDDEN: return "forbidden";
	case AUTH_E_NOTFOUND: return "not_found";
	case AUTH_E_CONFLICT: return "conflict";
	case AUTH_E_INVALID: return "invalid";
	case AUTH_E_BUSY: return "unavailable";
	default: return "internal";
	}
}

static int no_auth(struct req *r)
{
	return reply_error(r, 503, "unavailable", "users are not available (no state directory)");
}

/* ---- login, logout ---- */

static void set_cookie(struct req *r, const char *value, double max_age)
{
	char c[256];
	snprintf(c, sizeof c, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", value,
	         max_age > 0 ? (long)max_age : 0L, r->secure ? "; Secure" : "");
	req_add_header(r, "Set-Cookie", c);
}

static void on_login(void *ud, int err, const struct auth_login_result *res)
{
	struct req *r = ud;
	r->auth_pending = 0;
	if (req_orphaned(r)) {
		req_release(r);
		return;
	}
	if (err != AUTH_OK) {
		if (err == AUTH_E_LIMITED) {
			char ra[32];
			snprintf(ra, sizeof ra, "%.0f",
			         res->retry_after < 1 ? 1 : res->retry_after);
			req_finish_error(r, 429, "rate_limited",
			                 "too many failed logins: try again in %s s", ra);
			req_add_header(r, "Retry-After", ra);
			return;
		}
		req_finish_error(r, auth_status(err), auth_code(err), "%s",
		                 err == AUTH_E_BADCRED ? "wrong user name or password"
		                                       : auth_strerror(err));
		return;
	}
	/* the new session's principal: what /me would say */
	struct auth_principal p;
	memset(&p, 0, sizeof p);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	if (auth_session(r->h->auth, res->session_token, &p) == AUTH_OK) {
		jw_kstr(&w, "user", p.user);
		jw_kstr(&w, "role", auth_role_name(p.role));
		jw_key(&w, "centers");
		jw_arr(&w);
		for (size_t i = 0; i < p.n_centers; i++)
			jw_str(&w, p.centers[i]);
		jw_end_arr(&w);
		jw_kstr(&w, "customer", p.customer);
	}
	auth_principal_clear(&p);
	jw_kstr(&w, "csrf_token", res->csrf);
	jw_ktime(&w, "expires", res->expires);
	jw_end_obj(&w);
	double now = ev_now(req_loop(r));
	char tok[AUTH_SESSION_LEN + 1];
	snprintf(tok, sizeof tok, "%s", res->session_token);
	req_finish_json(r, 200, &b);
	set_cookie(r, tok, res->expires - now);
}

/* POST /api/v1/login {"user", "password"} */
int api_login(struct req *r)
{
	static const char *const allowed[] = { "user", "password", NULL };
	const char *user, *pw;
	if (body_only(r, allowed) < 0 || body_str(r, "user", 1, AUTH_NAME_MAX, &user) < 0 ||
	    body_str(r, "password", 1, AUTH_PASSWORD_MAX, &pw) < 0)
		return 0;
	if (!r->h->auth)
		return no_auth(r);
	r->auth_pending = 1;
	req_suspend(r);
	auth_login(r->h->auth, user, pw, r->from, on_login, r);
	/* the password stays in the parsed body only until the request ends */
	return 0;
}

static void on_done(void *ud, int err)
{
	struct req *r = ud;
	r->auth_pending = 0;
	if (req_orphaned(r)) {
		req_release(r);
		return;
	}
	if (err != AUTH_OK) {
		req_finish_error(r, auth_status(err), auth_code(err), "%s", auth_strerror(err));
		return;
	}
	if (strcmp(r->route->name, "users.add") == 0) {
		/* the user as added (what GET /api/v1/users lists) */
		struct buf b = { 0 };
		struct jw w;
		jw_init(&w, &b);
		jw_obj(&w);
		const char *v = NULL;
		body_str(r, "name", 0, AUTH_NAME_MAX, &v);
		jw_kstr(&w, "name", v);
		body_str(r, "role", 0, 16, &v);
		jw_kstr(&w, "role", v);
		jw_key(&w, "centers");
		jw_arr(&w);
		const cJSON *it, *cs = cJSON_GetObjectItemCaseSensitive(r->json, "centers");
		cJSON_ArrayForEach(it, cs)
		{
			jw_str(&w, it->valuestring);
		}
		jw_end_arr(&w);
		v = NULL;
		body_str(r, "customer", 0, AUTH_SCOPE_MAX, &v);
		jw_kstr(&w, "customer", v);
		jw_kbool(&w, "disabled", 0);
		jw_end_obj(&w);
		req_finish_json(r, 201, &b);
		return;
	}
	/* logout, password, user changes and deletes, revocations */
	req_finish_empty(r, 204);
	if (strcmp(r->route->name, "logout") == 0)
		set_cookie(r, "", 0);
}

/* Start an asynchronous auth call: rc is what it returned at once. */
static int started(struct req *r, int rc, const char *err)
{
	if (rc != AUTH_OK) {
		r->auth_pending = 0;
		return reply_error(r, auth_status(rc), auth_code(rc), "%s",
		                   err && *err ? err : auth_strerror(rc));
	}
	req_suspend(r);
	return 0;
}

/* POST /api/v1/logout */
int api_logout(struct req *r)
{
	if (!r->who.cookie || !r->who.session[0])
		return reply_error(r, 400, "bad_request",
		                   "logout ends a session: this request has none");
	r->auth_pending = 1;
	int rc = auth_logout(r->h->auth, r->who.session, r->from, on_done, r);
	return started(r, rc, NULL);
}

/* ---- users ---- */

/* role, centers, customer from the body into s (arrays owned by the
 * caller's stack buffer); 1 absent, 0 given, -1 answered. */
static int body_scope(struct req *r, struct auth_scope *s, const char **centers, size_t max)
{
	const char *role = NULL;
	if (body_str(r, "role", 0, 16, &role) < 0)
		return -1;
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(r->json, "centers");
	const char *cust = NULL;
	if (body_str(r, "customer", 0, AUTH_SCOPE_MAX, &cust) < 0)
		return -1;
	if (!role) {
		if (cs || cust) {
			reply_error(r, 400, "bad_body",
			            "'role': required with centers or customer");
			return -1;
		}
		return 1;
	}
	int ro = auth_role_parse(role);
	if (ro < 0) {
		reply_error(r, 400, "bad_body", "'role': must be admin, operator or viewer");
		return -1;
	}
	memset(s, 0, sizeof *s);
	s->role = (enum auth_role)ro;
	if (cs) {
		if (!cJSON_IsArray(cs) || cJSON_GetArraySize(cs) > (int)max) {
			reply_error(r, 400, "bad_body", "'centers': an array of at most %zu names",
			            max);
			return -1;
		}
		const cJSON *it;
		cJSON_ArrayForEach(it, cs)
		{
			if (!cJSON_IsString(it)) {
				reply_error(r, 400, "bad_body", "'centers': names are strings");
				return -1;
			}
			centers[s->n_centers++] = it->valuestring;
		}
		s->centers = centers;
	}
	s->customer = cust;
	return 0;
}

static void user_json(struct jw *w, const struct auth_user_info *u)
{
	jw_obj(w);
	jw_kstr(w, "name", u->name);
	jw_kstr(w, "role", auth_role_name(u->role));
	jw_key(w, "centers");
	jw_arr(w);
	for (size_t i = 0; i < u->n_centers; i++)
		jw_str(w, u->centers[i]);
	jw_end_arr(w);
	jw_kstr(w, "customer", u->customer);
	jw_ktime(w, "created", u->created);
	jw_kbool(w, "disabled", u->disabled);
	jw_kint(w, "sessions", (long long)u->sessions);
	jw_end_obj(w);
}

/* GET /api/v1/users */
int api_users(struct req *r)
{
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	struct auth_user_list l = { 0 };
	int rc = auth_users(r->h->auth, actor, &l);
	if (rc != AUTH_OK)
		return reply_error(r, auth_status(rc), auth_code(rc), "%s", auth_strerror(rc));
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "users");
	jw_arr(&w);
	for (size_t i = 0; i < l.n; i++)
		user_json(&w, &l.v[i]);
	jw_end_arr(&w);
	jw_end_obj(&w);
	auth_user_list_free(&l);
	return reply_json(r, 200, &b);
}

/* POST /api/v1/users {"name","role","centers"?,"customer"?,"password"} */
int api_user_add(struct req *r)
{
	static const char *const allowed[] = { "name",     "role",     "centers",
		                               "customer", "password", NULL };
	const char *name, *pw;
	struct auth_scope sc;
	const char *centers[AUTH_CENTERS_MAX];
	if (body_only(r, allowed) < 0 || body_str(r, "name", 1, AUTH_NAME_MAX, &name) < 0 ||
	    body_str(r, "password", 1, AUTH_PASSWORD_MAX, &pw) < 0)
		return 0;
	int has = body_scope(r, &sc, centers, AUTH_CENTERS_MAX);
	if (has < 0)
		return 0;
	if (has == 1)
		return reply_error(r, 400, "bad_body", "'role': required");
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	char err[256] = "";
	r->auth_pending = 1;
	int rc =
	    auth_user_add(r->h->auth, actor, name, &sc, pw, r->from, on_done, r, err, sizeof err);
	return started(r, rc, err);
}

/* PATCH /api/v1/users/{name} {"role"?,"centers"?,"customer"?,"disabled"?} */
int api_user_set(struct req *r)
{
	static const char *const allowed[] = { "role", "centers", "customer", "disabled", NULL };
	struct auth_scope sc;
	const char *centers[AUTH_CENTERS_MAX];
	if (body_only(r, allowed) < 0)
		return 0;
	int has = body_scope(r, &sc, centers, AUTH_CENTERS_MAX);
	if (has < 0)
		return 0;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->json, "disabled");
	if (d && !cJSON_IsBool(d))
		return reply_error(r, 400, "bad_body", "'disabled': must be true or false");
	if (has == 1 && !d)
		return reply_error(r, 400, "bad_body",
		                   "nothing to change (role, centers, customer, "
		                   "disabled)");
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	char err[256] = "";
	r->auth_pending = 1;
	int rc = auth_user_set(r->h->auth, actor, r->param[0], has == 0 ? &sc : NULL,
	                       d ? cJSON_IsTrue(d) : -1, r->from, on_done, r, err, sizeof err);
	return started(r, rc, err);
}

/* POST /api/v1/users/{name}/password {"password","old_password"?} */
int api_user_passwd(struct req *r)
{
	static const char *const allowed[] = { "password", "old_password", NULL };
	const char *pw, *old = NULL;
	if (body_only(r, allowed) < 0 || body_str(r, "password", 1, AUTH_PASSWORD_MAX, &pw) < 0 ||
	    body_str(r, "old_password", 0, AUTH_PASSWORD_MAX, &old) < 0)
		return 0;
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	char err[256] = "";
	r->auth_pending = 1;
	int rc = auth_user_passwd(r->h->auth, actor, r->param[0], old, pw, r->from, on_done, r, err,
	                          sizeof err);
	return started(r, rc, err);
}

/* DELETE /api/v1/users/{name} */
int api_user_del(struct req *r)
{
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	char err[256] = "";
	r->auth_pending = 1;
	int rc =
	    auth_user_del(r->h->auth, actor, r->param[0], r->from, on_done, r, err, sizeof err);
	return started(r, rc, err);
}

/* ---- API tokens ---- */

static void on_token(void *ud, int err, const char *token, const char *id)
{
	struct req *r = ud;
	r->auth_pending = 0;
	if (req_orphaned(r)) {
		req_release(r);
		return;
	}
	if (err != AUTH_OK) {
		req_finish_error(r, auth_status(err), auth_code(err), "%s", auth_strerror(err));
		return;
	}
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "id", id);
	jw_kstr(&w, "token", token); /* shown once: only its hash is kept */
	jw_end_obj(&w);
	req_finish_json(r, 201, &b);
}

/* GET /api/v1/tokens?user= */
int api_tokens(struct req *r)
{
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	struct auth_token_list l = { 0 };
	int rc = auth_tokens(r->h->auth, actor, req_query(r, "user"), &l);
	if (rc != AUTH_OK)
		return reply_error(r, auth_status(rc), auth_code(rc), "%s", auth_strerror(rc));
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "tokens");
	jw_arr(&w);
	for (size_t i = 0; i < l.n; i++) {
		const struct auth_token_info *t = &l.v[i];
		jw_obj(&w);
		jw_kstr(&w, "id", t->id);
		jw_kstr(&w, "user", t->user);
		jw_kstr(&w, "role", auth_role_name(t->role));
		jw_key(&w, "centers");
		jw_arr(&w);
		for (size_t k = 0; k < t->n_centers; k++)
			jw_str(&w, t->centers[k]);
		jw_end_arr(&w);
		jw_kstr(&w, "customer", t->customer);
		jw_kstr(&w, "label", t->label);
		jw_ktime(&w, "created", t->created);
		jw_ktime(&w, "expires", t->expires);
		jw_ktime(&w, "last_used", t->last_used);
		jw_ktime(&w, "revoked", t->revoked);
		jw_end_obj(&w);
	}
	jw_end_arr(&w);
	jw_end_obj(&w);
	auth_token_list_free(&l);
	return reply_json(r, 200, &b);
}

/* The local administrator has no user of its own: it makes a token for
 * a named user (how automation gets its first token on a fresh install,
 * over the UNIX socket), as if that user asked.  0, or -1 answered. */
static int as_user(struct req *r, const char *name, struct auth_principal *p)
{
	if (!r->who.local) {
		reply_error(r, 403, "forbidden",
		            "only the local administrator makes a token for another user");
		return -1;
	}
	struct auth_user_list l = { 0 };
	auth_users(r->h->auth, NULL, &l);
	const struct auth_user_info *u = NULL;
	for (size_t i = 0; i < l.n && !u; i++)
		if (strcmp(l.v[i].name, name) == 0)
			u = &l.v[i];
	if (!u) {
		auth_user_list_free(&l);
		reply_error(r, 404, "not_found", "no such user");
		return -1;
	}
	memset(p, 0, sizeof *p);
	snprintf(p->user, sizeof p->user, "%s", u->name);
	p->role = u->role;
	if (u->n_centers) {
		p->centers = xcalloc(u->n_centers, sizeof *p->centers);
		for (size_t i = 0; i < u->n_centers; i++)
			p->centers[i] = xstrdup(u->centers[i]);
		p->n_centers = u->n_centers;
	}
	p->customer = u->customer ? xstrdup(u->customer) : NULL;
	p->via_token = 1;
	auth_user_list_free(&l);
	return 0;
}

/* POST /api/v1/tokens {"label"?,"role"?,"centers"?,"customer"?,"expires"?,"user"?} */
int api_token_create(struct req *r)
{
	static const char *const allowed[] = { "label",   "role", "centers", "customer",
		                               "expires", "user", NULL };
	const char *label = NULL, *user = NULL;
	double expires = 0;
	struct auth_scope sc;
	const char *centers[AUTH_CENTERS_MAX];
	if (body_only(r, allowed) < 0 || body_str(r, "label", 0, AUTH_LABEL_MAX, &label) < 0 ||
	    body_time(r, "expires", 0, &expires) < 0 ||
	    body_str(r, "user", 0, AUTH_NAME_MAX, &user) < 0)
		return 0;
	int has = body_scope(r, &sc, centers, AUTH_CENTERS_MAX);
	if (has < 0)
		return 0;
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, owner, *actor = actor_of(r, &p) ? &p : NULL;
	if (user) {
		if (as_user(r, user, &owner) != 0)
			return 0;
		actor = &owner;
	} else if (!actor) {
		return reply_error(
		    r, 400, "bad_body",
		    "'user': the local administrator names the user the token is for");
	}
	char err[256] = "";
	r->auth_pending = 1;
	int rc = auth_token_create(r->h->auth, actor, has == 0 ? &sc : NULL, label, expires,
	                           r->from, on_token, r, err, sizeof err);
	if (user)
		auth_principal_clear(&owner);
	return started(r, rc, err);
}

/* DELETE /api/v1/tokens/{id} */
int api_token_revoke(struct req *r)
{
	if (!r->h->auth)
		return no_auth(r);
	struct auth_principal p, *actor = actor_of(r, &p) ? &p : NULL;
	char err[256] = "";
	r->auth_pending = 1;
	int rc =
	    auth_token_revoke(r->h->auth, actor, r->param[0], r->from, on_done, r, err, sizeof err);
	return started(r, rc, err);
}

/* Every request that changed something (or tried to), in the audit log:
 * who, what, from where, and how it ended.  Reads are not audited; auth
 * audits logins and its own changes itself. */
void http_audit(struct req *r)
{
	/* an anonymous request is not written down: a flood of them must not
	 * fill the database (failed logins are auth's, and limited) */
	if (!r->h->auth || !r->route || r->who.role == ROLE_NONE ||
	    strcmp(r->route->method, "GET") == 0 || r->route->access == ACC_PUBLIC ||
	    strncmp(r->route->name, "users", 5) == 0 || strncmp(r->route->name, "tokens", 6) == 0 ||
	    strcmp(r->route->name, "logout") == 0)
		return;
	char detail[300];
	snprintf(detail, sizeof detail, "%s%s%s%s%s status=%d", r->n_param ? r->param[0] : "",
	         r->n_param > 1 ? "/" : "", r->n_param > 1 ? r->param[1] : "",
	         r->n_param > 2 ? "/" : "", r->n_param > 2 ? r->param[2] : "", r->status);
	auth_audit(r->h->auth, r->who.user[0] ? r->who.user : NULL, r->route->name, r->from,
	           detail);
}

/* A request gone with an auth call pending: auth must not call back. */
void http_auth_cancel(struct req *r)
{
	if (r->h->auth && r->auth_pending)
		auth_cancel(r->h->auth, r);
}
