/*
 * auth_tokens: API tokens for automation - create, revoke, list (the
 * lookup of a presented token is auth_bearer in auth.c).
 *
 * A token is "mmr_<id>_<secret>": <id> is 64 random bits in hex, public,
 * the key of the map and of the store's row; <secret> is 256 random bits
 * in base64url, of which only the SHA-256 is kept.  A plain hash is the
 * right tool here, and a password KDF would be the wrong one: a KDF's
 * cost exists to slow the guessing of secrets people chose, which have
 * little entropy; 256 random bits cannot be guessed however fast the hash
 * (2^255 tries on average), while a KDF would cost tens of milliseconds
 * and 64 MiB on every API request.  What the hash protects against is a
 * leaked database: the rows do not let anyone make a request.
 *
 * Must never: keep or log the secret after the creation's callback,
 * give a token a scope wider than its creator's.
 */
#include "auth/auth_int.h"
#include "util/esc.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define forbidden(err, errlen, ...) auth__refuse(err, errlen, AUTH_E_FORBIDDEN, __VA_ARGS__)
#define invalid(err, errlen, ...)   auth__refuse(err, errlen, AUTH_E_INVALID, __VA_ARGS__)

/* Tokens one user may hold that are not revoked (memory stays bounded:
 * users are made by admins, tokens by users). */
#define TOKENS_PER_USER 100

static size_t live_tokens_of(struct auth *a, const char *user)
{
	size_t n = 0, it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->tokens, &it, &e)) {
		const struct auth__token *t = e->value;
		n += !t->revoked && strcmp(t->user, user) == 0;
	}
	return n;
}

static int label_ok(const char *label)
{
	return !label || (strlen(label) <= AUTH_LABEL_MAX && !esc_needed(label));
}

int auth_token_create(struct auth *a, const struct auth_principal *actor,
                      const struct auth_scope *scope, const char *label, double expires,
                      const char *from, auth_token_fn cb, void *ud, char *err, size_t errlen)
{
	if (!cb)
		return invalid(err, errlen, "no callback");
	if (!actor)
		return forbidden(err, errlen, "a token belongs to a user: log in first");
	const struct auth__user *u = auth__user_live(a, actor->user);
	if (!u || u->disabled)
		return forbidden(err, errlen, "no such user");
	if (!label_ok(label))
		return invalid(err, errlen,
		               "label: at most %d bytes of UTF-8 without control characters",
		               AUTH_LABEL_MAX);
	double now = auth__now(a);
	if (expires < 0 || (expires > 0 && expires <= now) || expires != expires)
		return invalid(err, errlen, "expires: a time in the future, or 0 for never");
	struct auth__scope mine, sc;
	auth__scope_of(&mine, actor);
	if (scope) {
		int rc = auth__scope_from(&sc, scope, err, errlen);
		if (rc)
			return rc;
	} else {
		auth__scope_copy(&sc, &mine);
	}
	/* no wider than the actor (a token's principal carries the token's
	 * scope: a token cannot mint a wider one either), nor than the user
	 * it belongs to */
	if (!auth__scope_within(&sc, &mine) || !auth__scope_within(&sc, &u->sc)) {
		auth__scope_free(&sc);
		return forbidden(err, errlen, "scope: wider than your own");
	}
	if (live_tokens_of(a, u->name) >= TOKENS_PER_USER) {
		auth__scope_free(&sc);
		return auth__refuse(err, errlen, AUTH_E_CONFLICT,
		                    "%d tokens already: revoke one first", TOKENS_PER_USER);
	}
	struct auth__token *t = xcalloc(1, sizeof *t);
	unsigned char id[AUTH_TOKEN_ID_LEN / 2];
	char secret[AUTH_SESSION_LEN + 1];
	int tries = 0;
	do {
		if (auth__random(id, sizeof id) != 0 || tries++ > 8) {
			auth__scope_free(&sc);
			free(t);
			return auth__refuse(err, errlen, AUTH_E_FAIL, "no randomness");
		}
		auth__hex(id, sizeof id, t->id);
	} while (hmap_get(&a->tokens, t->id, AUTH_TOKEN_ID_LEN));
	if (auth__random_b64(secret) != 0) {
		auth__scope_free(&sc);
		free(t);
		return auth__refuse(err, errlen, AUTH_E_FAIL, "no randomness");
	}
	auth__sha256(secret, strlen(secret), t->hash);
	auth__strlcpy(t->user, u->name, sizeof t->user);
	t->sc = sc;
	t->label = label ? xstrdup(label) : NULL;
	t->created = now;
	t->expires = expires;
	hmap_put(&a->tokens, t->id, AUTH_TOKEN_ID_LEN, t);
	auth__put_token(a, t);
	char what[256];
	auth__scope_text(&t->sc, what, sizeof what);
	auth__auditf(a, auth__who(actor), "token_create", from, "id=%s %s label=%s", t->id, what,
	             label ? label : "");

	struct auth__job *j = auth__job_new(a, JOB_TOKEN, ud);
	j->cb.token = cb;
	memcpy(j->token_id, t->id, sizeof j->token_id);
	snprintf(j->token, sizeof j->token, "%s%s_%s", AUTH_TOKEN_PREFIX, t->id, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	auth__job_complete(j); /* the job is wiped when freed */
	return 0;
}

int auth_token_revoke(struct auth *a, const struct auth_principal *actor, const char *id,
                      const char *from, auth_done_fn done, void *ud, char *err, size_t errlen)
{
	struct auth__token *t = id && strlen(id) == AUTH_TOKEN_ID_LEN
	                            ? hmap_get(&a->tokens, id, AUTH_TOKEN_ID_LEN)
	                            : NULL;
	/* someone else's token does not exist for a non-admin */
	if (!t || (actor && actor->role != AUTH_ADMIN && strcmp(actor->user, t->user) != 0))
		return auth__refuse(err, errlen, AUTH_E_NOTFOUND, "no such token");
	if (!t->revoked) {
		t->revoked = auth__now(a);
		auth__put_token(a, t);
		auth__auditf(a, auth__who(actor), "token_revoke", from, "id=%s user=%s", t->id,
		             t->user);
	}
	if (done) {
		struct auth__job *j = auth__job_new(a, JOB_DONE, ud);
		j->cb.done = done;
		auth__job_complete(j);
	}
	return 0;
}

static int by_created(const void *x, const void *y)
{
	const struct auth_token_info *p = x, *q = y;
	if (p->created != q->created)
		return p->created < q->created ? -1 : 1;
	return strcmp(p->id, q->id);
}

int auth_tokens(struct auth *a, const struct auth_principal *actor, const char *user,
                struct auth_token_list *out)
{
	memset(out, 0, sizeof *out);
	int admin = !actor || actor->role == AUTH_ADMIN;
	if (!user && !admin)
		user = actor->user;
	if (user && !admin && strcmp(user, actor->user) != 0)
		return AUTH_E_FORBIDDEN;
	out->v = xcalloc(a->tokens.count + 1, sizeof *out->v);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&a->tokens, &it, &e)) {
		const struct auth__token *t = e->value;
		if (user && strcmp(user, t->user) != 0)
			continue;
		struct auth_token_info *o = &out->v[out->n++];
		struct auth__scope c;
		auth__scope_copy(&c, &t->sc);
		memcpy(o->id, t->id, sizeof o->id);
		o->user = xstrdup(t->user);
		o->role = c.role;
		o->centers = c.centers;
		o->n_centers = c.n_centers;
		o->customer = c.customer;
		o->label = t->label ? xstrdup(t->label) : NULL;
		o->created = t->created;
		o->expires = t->expires;
		o->last_used = t->last_used;
		o->revoked = t->revoked;
	}
	qsort(out->v, out->n, sizeof *out->v, by_created);
	return 0;
}

void auth_token_list_free(struct auth_token_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct auth_token_info *o = &l->v[i];
		free(o->user);
		for (size_t k = 0; k < o->n_centers; k++)
			free(o->centers[k]);
		free(o->centers);
		free(o->customer);
		free(o->label);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}
