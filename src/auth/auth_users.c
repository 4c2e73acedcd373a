/*
 * auth_users: logging in and managing users - login, add, passwd, set,
 * del, list, count, and the bootstrap of the first admin.
 *
 * Whatever needs the KDF is a job: it starts here on the loop (checks,
 * rate-limit counts, copies of the passwords), runs in the worker
 * (auth_kdf.c) and finishes here on the loop (auth__job_kdf_done), where
 * the world may have changed meanwhile: the user may be gone or have
 * another password, so the finish checks again before it applies
 * anything.  Changes that need no KDF apply at once.
 *
 * Must never: tell an unknown user from a wrong password in an answer,
 * skip the KDF for a known or unknown user name (timing), keep a
 * password after the job, let the last enabled admin go.
 */
#include "auth/auth_int.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <argon2.h>
#include <stdlib.h>
#include <string.h>

#define forbidden(err, errlen, ...) auth__refuse(err, errlen, AUTH_E_FORBIDDEN, __VA_ARGS__)

static const char name_rule[] =
    "name: 1..63 characters of A-Z a-z 0-9 . _ - @, starting with a letter or digit";

static void set_kdf_params(struct auth *a, struct auth__job *j)
{
	j->t = a->c.kdf_t;
	j->m = a->c.kdf_m_kib;
	j->p = a->c.kdf_p;
}

static void job_context(struct auth__job *j, const struct auth_principal *actor, const char *user,
                        const char *from)
{
	auth__strlcpy(j->user, user, sizeof j->user);
	auth__strlcpy(j->actor, actor ? actor->user : "", sizeof j->actor);
	auth__strlcpy(j->from, from ? from : "", sizeof j->from);
}

static const char *job_who(const struct auth__job *j)
{
	return j->actor[0] ? j->actor : "(local)";
}

static void kdf_failed(struct auth *a, struct auth__job *j)
{
	log_err(AUTH__LOG, "password hashing failed: %s", argon2_error_message(j->kdf_err));
	j->err = AUTH_E_FAIL;
}

/* ---- rate limiting around a password check ---- */

/* Seconds to wait before `user` (may be NULL: unknown) may try from
 * `from`, or 0. */
static double limited(struct auth *a, const char *user, const char *addr)
{
	double now = auth__now(a);
	double w = auth__limit_check(a->lim_addr, addr, now);
	if (user) {
		double wu = auth__limit_check(a->lim_user, user, now);
		if (wu > w)
			w = wu;
	}
	return w;
}

/* Count the attempt as a failure until its result is known. */
static void limit_start(struct auth *a, struct auth__job *j, const char *user, const char *addr)
{
	double now = auth__now(a);
	auth__limit_fail(a->lim_addr, addr, now);
	auth__strlcpy(j->limit_addr, addr, sizeof j->limit_addr);
	if (user) {
		auth__limit_fail(a->lim_user, user, now);
		j->limit_user = 1;
	}
}

/* It was no attempt after all (busy, failed KDF). */
static void limit_undo(struct auth *a, struct auth__job *j)
{
	if (j->limit_addr[0])
		auth__limit_undo(a->lim_addr, j->limit_addr);
	if (j->limit_user)
		auth__limit_undo(a->lim_user, j->user);
}

/* It succeeded: the user starts afresh, the address gets its attempt back. */
static void limit_success(struct auth *a, struct auth__job *j)
{
	if (j->limit_addr[0])
		auth__limit_undo(a->lim_addr, j->limit_addr);
	if (j->limit_user)
		auth__limit_reset(a->lim_user, j->user);
}

/* ---- login ---- */

int auth_login(struct auth *a, const char *user, const char *password, const char *from,
               auth_login_fn cb, void *ud)
{
	if (!cb)
		return AUTH_E_INVALID;
	struct auth__job *j = auth__job_new(a, JOB_LOGIN, ud);
	j->cb.login = cb;
	struct auth__user *u = auth__name_ok(user) ? auth__user_live(a, user) : NULL;
	job_context(j, NULL, u ? u->name : "", from);
	char addr[sizeof j->limit_addr];
	auth__addr_key(from, addr, sizeof addr);
	double wait = limited(a, u ? u->name : NULL, addr);
	if (wait > 0) {
		j->err = AUTH_E_LIMITED;
		j->res.retry_after = wait;
		a->st.limited++;
		auth__auditf(a, u ? u->name : "-", "login_limited", from, "retry after %.0f s",
		             wait);
		j->finished = 1;
		auth__kdf_post(a->kdf, j);
		return 0;
	}
	limit_start(a, j, u ? u->name : NULL, addr);
	if (!password || strlen(password) > AUTH_PASSWORD_MAX) {
		/* no KDF for what cannot be a password: its length is no secret */
		j->err = AUTH_E_BADCRED;
		a->st.login_failures++;
		auth_audit(a, u ? u->name : "-", "login_failed", from, "malformed password");
		j->finished = 1;
		auth__kdf_post(a->kdf, j);
		return 0;
	}
	j->password = xstrdup(password);
	j->verify = 1;
	j->verify_phc = u ? xstrdup(u->phc) : NULL;
	j->rehash = 1;
	set_kdf_params(a, j);
	if (auth__kdf_submit(a->kdf, j) != 0) {
		limit_undo(a, j);
		auth__wipe_free(j->password);
		j->password = NULL;
		j->err = AUTH_E_BUSY;
		j->finished = 1;
		auth__kdf_post(a->kdf, j);
	}
	return 0;
}

static void finish_login(struct auth *a, struct auth__job *j)
{
	struct auth__user *u = j->user[0] ? auth__user_live(a, j->user) : NULL;
	if (j->kdf_err) {
		limit_undo(a, j);
		kdf_failed(a, j);
		return;
	}
	/* the user may have been deleted, disabled or given another
	 * password while the worker ran */
	int ok =
	    j->verified && u && j->verify_phc && strcmp(u->phc, j->verify_phc) == 0 && !u->disabled;
	if (!ok) {
		j->err = AUTH_E_BADCRED;
		a->st.login_failures++;
		auth_audit(a, u ? u->name : "-", "login_failed", j->from,
		           !u                           ? "unknown user"
		           : j->verified && u->disabled ? "disabled"
		                                        : "bad password");
		return;
	}
	limit_success(a, j);
	if (j->new_phc) {
		/* the configured parameters changed since this hash was made */
		auth__wipe_free(u->phc);
		u->phc = j->new_phc;
		j->new_phc = NULL;
		auth__put_user(a, u);
	}
	j->err = auth__session_new(a, u, j->session_token, j->csrf, &j->res.expires);
	if (j->err) {
		log_err(AUTH__LOG, "no randomness for a session");
		return;
	}
	a->st.logins++;
	auth_audit(a, u->name, "login", j->from, NULL);
}

/* ---- users ---- */

static size_t enabled_admins(struct auth *a)
{
	size_t n = 0, it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->users, &it, &e)) {
		const struct auth__user *u = e->value;
		n += !u->pending && !u->disabled && u->sc.role == AUTH_ADMIN;
	}
	return n;
}

static int is_last_admin(struct auth *a, const struct auth__user *u)
{
	return u->sc.role == AUTH_ADMIN && !u->disabled && enabled_admins(a) <= 1;
}

static int add(struct auth *a, const struct auth_principal *actor, const char *name,
               const struct auth_scope *scope, const char *password, const char *from,
               auth_done_fn done, void *ud, char *err, size_t errlen, int bootstrap)
{
	if (!auth__name_ok(name))
		return auth__refuse(err, errlen, AUTH_E_INVALID, "%s", name_rule);
	if (!scope)
		return auth__refuse(err, errlen, AUTH_E_INVALID, "scope: missing");
	int rc = auth__password_ok(a, password, "password", err, errlen);
	if (rc)
		return rc;
	struct auth__scope sc;
	rc = auth__scope_from(&sc, scope, err, errlen);
	if (rc)
		return rc;
	if (bootstrap && a->users.count)
		rc = auth__refuse(err, errlen, AUTH_E_CONFLICT, "a user exists already");
	else if (auth__user_get(a, name))
		rc = auth__refuse(err, errlen, AUTH_E_CONFLICT, "name: a user '%s' exists", name);
	else if (auth__kdf_full(a->kdf))
		rc = auth__refuse(err, errlen, AUTH_E_BUSY, "too many password hashes waiting");
	if (rc) {
		auth__scope_free(&sc);
		return rc;
	}
	/* reserve the name while the worker hashes */
	struct auth__user *u = xcalloc(1, sizeof *u);
	auth__strlcpy(u->name, name, sizeof u->name);
	u->sc = sc;
	u->pending = 1;
	u->created = auth__now(a);
	hmap_put(&a->users, u->name, strlen(u->name), u);
	a->n_pending++;
	struct auth__job *j = auth__job_new(a, JOB_ADD, ud);
	j->cb.done = done;
	job_context(j, actor, name, from);
	j->bootstrap = bootstrap;
	j->new_password = xstrdup(password);
	set_kdf_params(a, j);
	auth__kdf_submit(a->kdf, j); /* room was checked; only the loop adds */
	return 0;
}

static void finish_add(struct auth *a, struct auth__job *j)
{
	struct auth__user *u = auth__user_get(a, j->user);
	if (!u || !u->pending) { /* cannot happen: pending users are left alone */
		j->err = AUTH_E_FAIL;
		return;
	}
	a->n_pending--;
	if (j->kdf_err || !j->new_phc) {
		kdf_failed(a, j);
		hmap_del(&a->users, u->name, strlen(u->name));
		auth__user_free(u);
		return;
	}
	u->phc = j->new_phc;
	j->new_phc = NULL;
	u->pending = 0;
	auth__put_user(a, u);
	char what[256];
	auth__scope_text(&u->sc, what, sizeof what);
	auth__auditf(a, job_who(j), j->bootstrap ? "bootstrap" : "user_add", j->from, "user=%s %s",
	             u->name, what);
}

int auth_user_add(struct auth *a, const struct auth_principal *actor, const char *name,
                  const struct auth_scope *scope, const char *password, const char *from,
                  auth_done_fn done, void *ud, char *err, size_t errlen)
{
	if (actor && actor->role != AUTH_ADMIN)
		return forbidden(err, errlen, "only an admin manages users");
	return add(a, actor, name, scope, password, from, done, ud, err, errlen, 0);
}

int auth_bootstrap(struct auth *a, const char *name, const char *password, const char *from,
                   auth_done_fn done, void *ud, char *err, size_t errlen)
{
	const struct auth_scope admin = { .role = AUTH_ADMIN };
	return add(a, NULL, name, &admin, password, from, done, ud, err, errlen, 1);
}

size_t auth_user_count(const struct auth *a)
{
	return a->users.count - a->n_pending;
}

int auth_user_passwd(struct auth *a, const struct auth_principal *actor, const char *name,
                     const char *old_password, const char *new_password, const char *from,
                     auth_done_fn done, void *ud, char *err, size_t errlen)
{
	int self = actor && name && strcmp(actor->user, name) == 0;
	if (actor && actor->role != AUTH_ADMIN && !self)
		return forbidden(err, errlen, "only an admin changes another user's password");
	struct auth__user *u = auth__user_live(a, name);
	if (!u)
		return auth__refuse(err, errlen, AUTH_E_NOTFOUND, "no such user");
	if (self && !old_password)
		return auth__refuse(err, errlen, AUTH_E_INVALID,
		                    "old_password: needed to change one's own password");
	if (self && strlen(old_password) > AUTH_PASSWORD_MAX)
		return auth__refuse(err, errlen, AUTH_E_BADCRED, "old_password: wrong");
	int rc = auth__password_ok(a, new_password, "new_password", err, errlen);
	if (rc)
		return rc;
	char addr[sizeof((struct auth__job *)0)->limit_addr];
	auth__addr_key(from, addr, sizeof addr);
	double wait = self ? limited(a, u->name, addr) : 0;
	if (wait > 0) {
		a->st.limited++;
		auth__auditf(a, u->name, "passwd_limited", from, "retry after %.0f s", wait);
		return auth__refuse(err, errlen, AUTH_E_LIMITED,
		                    "too many failed attempts; retry in %.0f s", wait);
	}
	if (auth__kdf_full(a->kdf))
		return auth__refuse(err, errlen, AUTH_E_BUSY, "too many password hashes waiting");
	struct auth__job *j = auth__job_new(a, JOB_PASSWD, ud);
	j->cb.done = done;
	job_context(j, actor, u->name, from);
	if (actor && !actor->via_token)
		auth__strlcpy(j->actor_session, actor->session_or_token_id,
		              sizeof j->actor_session);
	j->verify_phc = xstrdup(u->phc); /* also tells whether it changed meanwhile */
	j->new_password = xstrdup(new_password);
	if (self) {
		j->password = xstrdup(old_password);
		j->verify = 1;
		limit_start(a, j, u->name, addr);
	}
	set_kdf_params(a, j);
	auth__kdf_submit(a->kdf, j);
	return 0;
}

static void finish_passwd(struct auth *a, struct auth__job *j)
{
	struct auth__user *u = auth__user_live(a, j->user);
	if (j->kdf_err) {
		limit_undo(a, j);
		kdf_failed(a, j);
		return;
	}
	if (!u || strcmp(u->phc, j->verify_phc) != 0) {
		limit_undo(a, j);
		j->err = AUTH_E_CONFLICT; /* deleted, or another change won */
		return;
	}
	if (j->verify && !j->verified) {
		j->err = AUTH_E_BADCRED;
		a->st.login_failures++;
		auth__auditf(a, job_who(j), "passwd_failed", j->from, "user=%s: bad old password",
		             u->name);
		return;
	}
	if (!j->new_phc) {
		j->err = AUTH_E_FAIL;
		return;
	}
	limit_success(a, j);
	auth__wipe_free(u->phc);
	u->phc = j->new_phc;
	j->new_phc = NULL;
	auth__put_user(a, u);
	/* whoever had the old password keeps no session */
	auth__sessions_of_drop(a, u->name, j->actor_session[0] ? j->actor_session : NULL);
	auth__auditf(a, job_who(j), "user_passwd", j->from, "user=%s", u->name);
}

void auth__job_kdf_done(struct auth__job *j)
{
	struct auth *a = j->a;
	a->st.kdf_runs++;
	a->st.kdf_seconds += j->kdf_seconds;
	switch (j->kind) {
	case JOB_LOGIN: finish_login(a, j); break;
	case JOB_ADD: finish_add(a, j); break;
	case JOB_PASSWD: finish_passwd(a, j); break;
	case JOB_DONE:
	case JOB_TOKEN: break;
	}
	auth__job_complete(j);
}

static void done_later(struct auth *a, auth_done_fn done, void *ud)
{
	if (!done)
		return;
	struct auth__job *j = auth__job_new(a, JOB_DONE, ud);
	j->cb.done = done;
	auth__job_complete(j);
}

int auth_user_set(struct auth *a, const struct auth_principal *actor, const char *name,
                  const struct auth_scope *scope, int disabled, const char *from, auth_done_fn done,
                  void *ud, char *err, size_t errlen)
{
	if (actor && actor->role != AUTH_ADMIN)
		return forbidden(err, errlen, "only an admin manages users");
	struct auth__user *u = auth__user_live(a, name);
	if (!u)
		return auth__refuse(err, errlen, AUTH_E_NOTFOUND, "no such user");
	if (disabled < -1 || disabled > 1)
		return auth__refuse(err, errlen, AUTH_E_INVALID, "disabled: -1, 0 or 1");
	struct auth__scope sc = { 0 };
	if (scope) {
		int rc = auth__scope_from(&sc, scope, err, errlen);
		if (rc)
			return rc;
	}
	enum auth_role role = scope ? sc.role : u->sc.role;
	int dis = disabled >= 0 ? disabled : u->disabled;
	if (is_last_admin(a, u) && (role != AUTH_ADMIN || dis)) {
		auth__scope_free(&sc);
		return auth__refuse(err, errlen, AUTH_E_CONFLICT,
		                    "'%s' is the last enabled admin: add another first", u->name);
	}
	if (scope) {
		auth__scope_free(&u->sc);
		u->sc = sc;
	}
	u->disabled = dis;
	auth__put_user(a, u);
	if (dis)
		auth__sessions_of_drop(a, u->name, NULL);
	char what[256];
	auth__scope_text(&u->sc, what, sizeof what);
	auth__auditf(a, auth__who(actor), "user_set", from, "user=%s %s disabled=%d", u->name, what,
	             dis);
	done_later(a, done, ud);
	return 0;
}

int auth_user_del(struct auth *a, const struct auth_principal *actor, const char *name,
                  const char *from, auth_done_fn done, void *ud, char *err, size_t errlen)
{
	if (actor && actor->role != AUTH_ADMIN)
		return forbidden(err, errlen, "only an admin manages users");
	struct auth__user *u = auth__user_live(a, name);
	if (!u)
		return auth__refuse(err, errlen, AUTH_E_NOTFOUND, "no such user");
	if (is_last_admin(a, u))
		return auth__refuse(err, errlen, AUTH_E_CONFLICT,
		                    "'%s' is the last enabled admin: add another first", u->name);
	auth__sessions_of_drop(a, u->name, NULL);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->tokens, &it, &e)) {
		struct auth__token *t = e->value;
		if (strcmp(t->user, u->name) == 0) {
			hmap_del(&a->tokens, t->id, AUTH_TOKEN_ID_LEN);
			auth__token_free(t);
		}
	}
	struct store_batch *b = auth__batch(a);
	if (b)
		store_batch_auth_user_delete(b, u->name);
	auth__auditf(a, auth__who(actor), "user_del", from, "user=%s", u->name);
	hmap_del(&a->users, u->name, strlen(u->name));
	auth__user_free(u);
	done_later(a, done, ud);
	return 0;
}

static void info_fill(struct auth_user_info *o, const struct auth__user *u)
{
	struct auth__scope c;
	auth__scope_copy(&c, &u->sc);
	o->name = xstrdup(u->name);
	o->role = c.role;
	o->centers = c.centers;
	o->n_centers = c.n_centers;
	o->customer = c.customer;
	o->created = u->created;
	o->disabled = u->disabled;
	o->sessions = u->n_sessions;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(((const struct auth_user_info *)x)->name,
	              ((const struct auth_user_info *)y)->name);
}

int auth_users(struct auth *a, const struct auth_principal *actor, struct auth_user_list *out)
{
	memset(out, 0, sizeof *out);
	if (actor && actor->role != AUTH_ADMIN) {
		const struct auth__user *u = auth__user_live(a, actor->user);
		if (u) {
			out->v = xcalloc(1, sizeof *out->v);
			info_fill(&out->v[out->n++], u);
		}
		return 0;
	}
	out->v = xcalloc(a->users.count + 1, sizeof *out->v);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->users, &it, &e)) {
		const struct auth__user *u = e->value;
		if (!u->pending)
			info_fill(&out->v[out->n++], u);
	}
	qsort(out->v, out->n, sizeof *out->v, by_name);
	return 0;
}

void auth_user_list_free(struct auth_user_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct auth_user_info *o = &l->v[i];
		free(o->name);
		for (size_t k = 0; k < o->n_centers; k++)
			free(o->centers[k]);
		free(o->centers);
		free(o->customer);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}
