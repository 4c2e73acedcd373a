/*
 * auth: lifecycle (loading the tables, the KDF worker, the sweep timer),
 * the synchronous lookups of every request (session cookie, bearer
 * token), logout, the audit log, and the jobs that carry asynchronous
 * requests to their callbacks.  See auth.h for the rules; logins and
 * users are in auth_users.c, tokens in auth_tokens.c.
 *
 * Lookups are O(1): a SHA-256 of what the client sent and one hash-map
 * lookup.  The map is keyed by the digest, and comparing digests in
 * variable time leaks nothing useful: an attacker cannot choose inputs
 * whose digests approach a stored one.  Tokens are looked up by their
 * public <id>; the secret's digest is then compared in constant time.
 *
 * last_seen (sessions) and last_used (tokens) change in memory on every
 * request; the sweep timer (every AUTH_LAZY_WRITE / 2 seconds) writes
 * those that moved by more than that, and drops expired sessions.
 *
 * Must never: block, log a secret.  Loop thread only (the worker is in
 * auth_kdf.c).
 */
#include "auth/auth_int.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/esc.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_EVERY     (AUTH_LAZY_WRITE / 2)
#define PRUNE_EVERY     3600.0
#define PRUNE_ROWS      5000
#define WEAK_KDF_M      19456 /* KiB: OWASP's minimum with t = 2 */
#define AUDIT_SHORT_MAX 128
#define AUDIT_DETAIL    1024

/* ---- small things ---- */

double auth__now(struct auth *a)
{
	return a->c.now ? a->c.now(a->c.now_ud) : ev_now(a->loop);
}

int auth__durable(const struct auth *a)
{
	return a->j && journal_durable(a->j);
}

struct store_batch *auth__batch(struct auth *a)
{
	return auth__durable(a) ? journal_batch(a->j) : NULL;
}

struct auth__user *auth__user_get(struct auth *a, const char *name)
{
	if (!name)
		return NULL;
	return hmap_get(&a->users, name, strlen(name));
}

struct auth__user *auth__user_live(struct auth *a, const char *name)
{
	struct auth__user *u = auth__user_get(a, name);
	return u && !u->pending ? u : NULL;
}

const char *auth__who(const struct auth_principal *actor)
{
	return actor ? actor->user : "(local)";
}

void auth__put_user(struct auth *a, const struct auth__user *u)
{
	struct store_batch *b = auth__batch(a);
	if (!b || u->pending)
		return;
	char *centers = auth__centers_json(&u->sc);
	struct store_auth_user_row r = { .name = u->name,
		                         .role = auth_role_name(u->sc.role),
		                         .centers = centers,
		                         .customer = u->sc.customer,
		                         .password = u->phc,
		                         .created = u->created,
		                         .disabled = u->disabled };
	store_batch_auth_user(b, &r);
	free(centers);
}

void auth__put_token(struct auth *a, struct auth__token *t)
{
	t->stored_used = t->last_used;
	struct store_batch *b = auth__batch(a);
	if (!b)
		return;
	char hash[65];
	auth__hex(t->hash, sizeof t->hash, hash);
	char *centers = auth__centers_json(&t->sc);
	struct store_auth_token_row r = { .id = t->id,
		                          .secret = hash,
		                          .user = t->user,
		                          .role = auth_role_name(t->sc.role),
		                          .centers = centers,
		                          .customer = t->sc.customer,
		                          .label = t->label,
		                          .created = t->created,
		                          .expires = t->expires,
		                          .last_used = t->last_used,
		                          .revoked = t->revoked };
	store_batch_auth_token(b, &r);
	free(centers);
}

static void put_session(struct auth *a, struct auth__session *s)
{
	s->stored_seen = s->last_seen;
	struct store_batch *b = auth__batch(a);
	if (!b)
		return;
	struct store_auth_session_row r = { .id = s->id,
		                            .user = s->user,
		                            .csrf = s->csrf,
		                            .created = s->created,
		                            .last_seen = s->last_seen,
		                            .expires = s->expires };
	store_batch_auth_session(b, &r);
}

/* ---- audit ---- */

void auth_audit(struct auth *a, const char *who, const char *what, const char *from,
                const char *detail)
{
	char w[AUDIT_SHORT_MAX + 1], v[AUDIT_SHORT_MAX + 1], f[AUDIT_SHORT_MAX + 1];
	char d[AUDIT_DETAIL + 1];
	esc_text(w, sizeof w, who && *who ? who : "-");
	esc_text(v, sizeof v, what && *what ? what : "-");
	esc_text(f, sizeof f, from ? from : "");
	esc_text(d, sizeof d, detail ? detail : "");
	log_info(AUTH__LOG, "audit: %s %s from %s%s%s", w, v, from ? f : "-", detail ? ": " : "",
	         d);
	struct store_batch *b = auth__batch(a);
	if (!b)
		return;
	struct store_auth_audit_row r = { .time = auth__now(a),
		                          .who = w,
		                          .what = v,
		                          .from = from ? f : NULL,
		                          .detail = detail ? d : NULL };
	store_batch_auth_audit(b, &r);
}

void auth__auditf(struct auth *a, const char *who, const char *what, const char *from,
                  const char *fmt, ...)
{
	char d[AUDIT_DETAIL + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d, sizeof d, fmt, ap);
	va_end(ap);
	auth_audit(a, who, what, from, d);
}

/* ---- sessions ---- */

static uint64_t digest_hash(const unsigned char *h)
{
	return hmap_hash(h, 32);
}

static struct auth__session *session_find(struct auth *a, const unsigned char hash[32])
{
	return hmap_get_h(&a->sessions, (const char *)hash, 32, digest_hash(hash));
}

void auth__session_drop(struct auth *a, struct auth__session *s)
{
	struct auth__user *u = auth__user_get(a, s->user);
	if (u && u->n_sessions)
		u->n_sessions--;
	struct store_batch *b = auth__batch(a);
	if (b)
		store_batch_auth_session_delete(b, s->id);
	hmap_del(&a->sessions, (const char *)s->hash, 32);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

void auth__sessions_of_drop(struct auth *a, const char *user, const char *keep)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->sessions, &it, &e)) {
		struct auth__session *s = e->value;
		if (strcmp(s->user, user) == 0 && !(keep && strcmp(keep, s->id) == 0))
			auth__session_drop(a, s); /* a tombstone: iteration goes on */
	}
}

/* The user's oldest session (to make room). */
static struct auth__session *oldest_of(struct auth *a, const char *user)
{
	struct auth__session *best = NULL;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->sessions, &it, &e)) {
		struct auth__session *s = e->value;
		if (strcmp(s->user, user) == 0 && (!best || s->created < best->created))
			best = s;
	}
	return best;
}

static void session_insert(struct auth *a, struct auth__session *s)
{
	hmap_put_h(&a->sessions, (const char *)s->hash, 32, digest_hash(s->hash), s);
	struct auth__user *u = auth__user_get(a, s->user);
	if (u)
		u->n_sessions++;
}

int auth__session_new(struct auth *a, struct auth__user *u, char *token, char *csrf,
                      double *expires)
{
	struct auth__session *s = xcalloc(1, sizeof *s);
	if (auth__random_b64(token) != 0 || auth__random_b64(s->csrf) != 0) {
		free(s);
		return AUTH_E_FAIL;
	}
	while (u->n_sessions >= a->c.max_sessions) {
		struct auth__session *old = oldest_of(a, u->name);
		if (!old)
			break;
		auth__session_drop(a, old);
	}
	auth__sha256(token, strlen(token), s->hash);
	auth__hex(s->hash, sizeof s->hash, s->id);
	auth__strlcpy(s->user, u->name, sizeof s->user);
	double now = auth__now(a);
	s->created = s->last_seen = now;
	s->expires = now + a->c.absolute_timeout;
	memcpy(csrf, s->csrf, sizeof s->csrf);
	*expires = s->expires;
	session_insert(a, s);
	put_session(a, s);
	return 0;
}

static int session_expired(const struct auth *a, const struct auth__session *s, double now)
{
	return now >= s->expires || now - s->last_seen >= a->c.idle_timeout;
}

static struct auth__session *session_lookup(struct auth *a, const char *token)
{
	if (!token || strlen(token) != AUTH_SESSION_LEN)
		return NULL;
	unsigned char h[32];
	auth__sha256(token, AUTH_SESSION_LEN, h);
	return session_find(a, h);
}

int auth_session(struct auth *a, const char *session_token, struct auth_principal *out)
{
	memset(out, 0, sizeof *out);
	struct auth__session *s = session_lookup(a, session_token);
	if (!s)
		return AUTH_E_BADCRED;
	double now = auth__now(a);
	struct auth__user *u = auth__user_live(a, s->user);
	if (session_expired(a, s, now) || !u || u->disabled) {
		auth__session_drop(a, s);
		return AUTH_E_BADCRED;
	}
	if (now > s->last_seen)
		s->last_seen = now;
	auth__principal_fill(out, u->name, &u->sc, 0, s->id, s->csrf);
	return 0;
}

int auth_logout(struct auth *a, const char *session_token, const char *from, auth_done_fn done,
                void *ud)
{
	struct auth__session *s = session_lookup(a, session_token);
	if (!s)
		return AUTH_E_BADCRED;
	char user[AUTH_NAME_MAX + 1];
	memcpy(user, s->user, sizeof user);
	auth__session_drop(a, s);
	auth_audit(a, user, "logout", from, NULL);
	if (done) {
		struct auth__job *j = auth__job_new(a, JOB_DONE, ud);
		j->cb.done = done;
		auth__job_complete(j);
	}
	return 0;
}

/* ---- tokens: the lookup (the rest is in auth_tokens.c) ---- */

static int b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int auth_bearer(struct auth *a, const char *bearer, struct auth_principal *out)
{
	memset(out, 0, sizeof *out);
	const size_t pre = sizeof AUTH_TOKEN_PREFIX - 1;
	if (!bearer || strlen(bearer) != AUTH_TOKEN_LEN ||
	    memcmp(bearer, AUTH_TOKEN_PREFIX, pre) != 0 || bearer[pre + AUTH_TOKEN_ID_LEN] != '_')
		return AUTH_E_BADCRED;
	char id[AUTH_TOKEN_ID_LEN + 1];
	for (size_t i = 0; i < AUTH_TOKEN_ID_LEN; i++) {
		char c = bearer[pre + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return AUTH_E_BADCRED;
		id[i] = c;
	}
	id[AUTH_TOKEN_ID_LEN] = '\0';
	const char *secret = bearer + pre + AUTH_TOKEN_ID_LEN + 1;
	for (const char *p = secret; *p; p++)
		if (!b64url_char((unsigned char)*p))
			return AUTH_E_BADCRED;
	struct auth__token *t = hmap_get(&a->tokens, id, AUTH_TOKEN_ID_LEN);
	if (!t)
		return AUTH_E_BADCRED;
	unsigned char h[32];
	auth__sha256(secret, strlen(secret), h);
	if (CRYPTO_memcmp(h, t->hash, sizeof h) != 0)
		return AUTH_E_BADCRED;
	double now = auth__now(a);
	struct auth__user *u = auth__user_live(a, t->user);
	if (t->revoked > 0 || (t->expires > 0 && now >= t->expires) || !u || u->disabled ||
	    !auth__scope_within(&t->sc, &u->sc))
		return AUTH_E_BADCRED;
	if (now > t->last_used)
		t->last_used = now;
	auth__principal_fill(out, t->user, &t->sc, 1, t->id, NULL);
	return 0;
}

/* ---- jobs ---- */

struct auth__job *auth__job_new(struct auth *a, enum auth__job_kind kind, void *ud)
{
	struct auth__job *j = xcalloc(1, sizeof *j);
	j->a = a;
	j->kind = kind;
	j->ud = ud;
	j->lnext = a->jobs;
	if (a->jobs)
		a->jobs->lprev = j;
	a->jobs = j;
	return j;
}

void auth__job_free(struct auth__job *j)
{
	struct auth *a = j->a;
	if (j->lprev)
		j->lprev->lnext = j->lnext;
	else
		a->jobs = j->lnext;
	if (j->lnext)
		j->lnext->lprev = j->lprev;
	auth__wipe_free(j->password);
	auth__wipe_free(j->new_password);
	free(j->verify_phc);
	free(j->new_phc);
	OPENSSL_cleanse(j, sizeof *j);
	free(j);
}

static void deliver(struct auth__job *j)
{
	if (!j->cancelled) {
		switch (j->kind) {
		case JOB_LOGIN:
			j->res.session_token = j->err ? NULL : j->session_token;
			j->res.csrf = j->err ? NULL : j->csrf;
			j->cb.login(j->ud, j->err, &j->res);
			break;
		case JOB_TOKEN:
			j->cb.token(j->ud, j->err, j->err ? NULL : j->token,
			            j->err ? NULL : j->token_id);
			break;
		case JOB_ADD:
		case JOB_PASSWD:
		case JOB_DONE:
			if (j->cb.done)
				j->cb.done(j->ud, j->err);
			break;
		}
	}
	auth__job_free(j);
}

static void on_ticket(void *ud)
{
	deliver(ud);
}

void auth__job_complete(struct auth__job *j)
{
	j->finished = 1;
	if (auth__durable(j->a))
		journal_ticket(j->a->j, on_ticket, j);
	else
		auth__kdf_post(j->a->kdf, j); /* the next loop iteration */
}

/* The worker's completion (or a posted job) on the loop. */
static void on_job(struct auth__job *j)
{
	if (j->finished)
		deliver(j);
	else
		auth__job_kdf_done(j);
}

void auth_cancel(struct auth *a, void *ud)
{
	for (struct auth__job *j = a->jobs; j; j = j->lnext)
		if (j->ud == ud)
			j->cancelled = 1;
}

/* ---- the sweep ---- */

void auth_sweep(struct auth *a)
{
	double now = auth__now(a);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->sessions, &it, &e)) {
		struct auth__session *s = e->value;
		if (session_expired(a, s, now))
			auth__session_drop(a, s);
		else if (s->last_seen - s->stored_seen >= SWEEP_EVERY)
			put_session(a, s);
	}
	it = 0;
	while (hmap_next(&a->tokens, &it, &e)) {
		struct auth__token *t = e->value;
		if (t->last_used - t->stored_used >= SWEEP_EVERY)
			auth__put_token(a, t);
	}
	auth__limit_sweep(a->lim_user, now);
	auth__limit_sweep(a->lim_addr, now);
	struct store_batch *b = auth__batch(a);
	if (b && a->c.audit_retention > 0 && now - a->last_prune >= PRUNE_EVERY) {
		a->last_prune = now;
		store_batch_auth_audit_prune(b, now - a->c.audit_retention, PRUNE_ROWS);
	}
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	auth_sweep(w->data);
}

/* ---- loading ---- */

struct load {
	struct auth *a;
	double now;
	size_t bad, expired;
};

static void on_user_row(void *ud, const struct store_auth_user_row *r)
{
	struct load *l = ud;
	struct auth__user *u = xcalloc(1, sizeof *u);
	int role = auth_role_parse(r->role);
	/* rows the daemon did not write the way it would: refuse, loudly */
	if (!auth__name_ok(r->name) || role < 0 || strncmp(r->password, "$argon2id$", 10) != 0 ||
	    auth__user_get(l->a, r->name)) {
		l->bad++;
		free(u);
		return;
	}
	auth__strlcpy(u->name, r->name, sizeof u->name);
	u->sc.role = (enum auth_role)role;
	if (role == AUTH_OPERATOR && auth__centers_parse(r->centers, &u->sc) != 0) {
		l->bad++;
		free(u);
		return;
	}
	if (role == AUTH_VIEWER)
		u->sc.customer = xstrdup(r->customer);
	u->phc = xstrdup(r->password);
	u->created = r->created;
	u->disabled = r->disabled != 0;
	hmap_put(&l->a->users, u->name, strlen(u->name), u);
}

static int hex_decode(const char *s, unsigned char *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

static void on_token_row(void *ud, const struct store_auth_token_row *r)
{
	struct load *l = ud;
	struct auth__token *t = xcalloc(1, sizeof *t);
	int role = auth_role_parse(r->role);
	int ok = strlen(r->id) == AUTH_TOKEN_ID_LEN && hex_decode(r->secret, t->hash, 32) == 0 &&
	         role >= 0 && auth__user_live(l->a, r->user) &&
	         !hmap_get(&l->a->tokens, r->id, AUTH_TOKEN_ID_LEN);
	for (size_t i = 0; ok && i < AUTH_TOKEN_ID_LEN; i++)
		ok = (r->id[i] >= '0' && r->id[i] <= '9') || (r->id[i] >= 'a' && r->id[i] <= 'f');
	t->sc.role = (enum auth_role)role;
	if (ok && role == AUTH_OPERATOR)
		ok = auth__centers_parse(r->centers, &t->sc) == 0;
	if (!ok) {
		l->bad++;
		free(t);
		return;
	}
	if (role == AUTH_VIEWER)
		t->sc.customer = xstrdup(r->customer);
	memcpy(t->id, r->id, AUTH_TOKEN_ID_LEN + 1);
	auth__strlcpy(t->user, r->user, sizeof t->user);
	t->label = r->label ? xstrdup(r->label) : NULL;
	t->created = r->created;
	t->expires = r->expires;
	t->last_used = t->stored_used = r->last_used;
	t->revoked = r->revoked;
	hmap_put(&l->a->tokens, t->id, AUTH_TOKEN_ID_LEN, t);
}

static void on_session_row(void *ud, const struct store_auth_session_row *r)
{
	struct load *l = ud;
	struct auth__session *s = xcalloc(1, sizeof *s);
	if (hex_decode(r->id, s->hash, 32) != 0 || strlen(r->csrf) != AUTH_SESSION_LEN ||
	    !auth__user_live(l->a, r->user) || session_find(l->a, s->hash)) {
		l->bad++;
		free(s);
		return;
	}
	auth__hex(s->hash, 32, s->id);
	auth__strlcpy(s->user, r->user, sizeof s->user);
	memcpy(s->csrf, r->csrf, sizeof s->csrf);
	s->created = r->created;
	s->last_seen = s->stored_seen = r->last_seen;
	s->expires = r->expires;
	if (session_expired(l->a, s, l->now)) {
		l->expired++;
		struct store_batch *b = auth__batch(l->a);
		if (b)
			store_batch_auth_session_delete(b, s->id);
		free(s);
		return;
	}
	session_insert(l->a, s);
}

static void weak_kdf_warning(const struct auth_conf *c)
{
	if (c->kdf_m_kib < WEAK_KDF_M || c->kdf_t < 2)
		log_warn(AUTH__LOG,
		         "password hashing is weak (kdf_memory %u KiB, kdf_time_cost %u): for tests"
		         " only; the default is %u KiB, t=3",
		         c->kdf_m_kib, c->kdf_t, 65536u);
}

struct auth *auth_new(struct ev_loop *loop, struct journal *j, struct store *st,
                      const struct auth_conf *c, char *err, size_t errlen)
{
	struct auth *a = xcalloc(1, sizeof *a);
	a->loop = loop;
	a->j = j;
	if (c)
		a->c = *c;
	else
		auth_conf_default(&a->c);
	hmap_init(&a->users);
	hmap_init(&a->sessions);
	hmap_init(&a->tokens);
	a->lim_user = auth__limit_new(a->c.limit_entries, a->c.max_failures, a->c.failure_window);
	a->lim_addr =
	    auth__limit_new(a->c.limit_entries, a->c.max_failures_addr, a->c.failure_window);
	if (st) {
		struct load l = { .a = a, .now = auth__now(a) };
		if (store_load_auth_users(st, on_user_row, &l) != 0 ||
		    store_load_auth_tokens(st, on_token_row, &l) != 0 ||
		    store_load_auth_sessions(st, on_session_row, &l) != 0) {
			snprintf(err, errlen, "cannot read the users, tokens or sessions");
			auth_free(a);
			return NULL;
		}
		if (l.bad)
			log_err(AUTH__LOG, "%zu malformed rows in the auth tables ignored", l.bad);
		log_info(AUTH__LOG, "%zu users, %zu tokens, %zu sessions (%zu expired)",
		         a->users.count, a->tokens.count, a->sessions.count, l.expired);
	}
	a->kdf = auth__kdf_new(loop, on_job, err, errlen);
	if (!a->kdf) {
		auth_free(a);
		return NULL;
	}
	weak_kdf_warning(&a->c);
	ev_timer_init(&a->sweep, on_sweep, SWEEP_EVERY, SWEEP_EVERY);
	a->sweep.data = a;
	ev_timer_start(loop, &a->sweep);
	ev_unref(loop);
	return a;
}

void auth__user_free(struct auth__user *u)
{
	auth__scope_free(&u->sc);
	auth__wipe_free(u->phc);
	free(u);
}

void auth__token_free(struct auth__token *t)
{
	auth__scope_free(&t->sc);
	free(t->label);
	OPENSSL_cleanse(t, sizeof *t);
	free(t);
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	if (ev_is_active(&a->sweep)) {
		ev_ref(a->loop);
		ev_timer_stop(a->loop, &a->sweep);
	}
	auth__kdf_free(a->kdf); /* joins the worker: the jobs are ours now */
	while (a->jobs)
		auth__job_free(a->jobs);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->sessions, &it, &e)) {
		OPENSSL_cleanse(e->value, sizeof(struct auth__session));
		free(e->value);
	}
	it = 0;
	while (hmap_next(&a->tokens, &it, &e))
		auth__token_free(e->value);
	it = 0;
	while (hmap_next(&a->users, &it, &e))
		auth__user_free(e->value);
	hmap_free(&a->sessions);
	hmap_free(&a->tokens);
	hmap_free(&a->users);
	auth__limit_free(a->lim_user);
	auth__limit_free(a->lim_addr);
	free(a);
}

void auth_get_stats(const struct auth *a, struct auth_stats *out)
{
	*out = a->st;
	out->users = auth_user_count(a);
	out->sessions = a->sessions.count;
	out->tokens = a->tokens.count;
	out->limit_users = auth__limit_count(a->lim_user);
	out->limit_addrs = auth__limit_count(a->lim_addr);
	out->kdf_queued = auth__kdf_queued(a->kdf);
}
