/*
 * auth internals shared by the files of src/auth.  Not for other modules.
 *
 *   auth.c        lifecycle, loading, sessions and bearer lookups,
 *                 logout, the sweep (expiry, lazy writes), audit, jobs
 *   auth_users.c  login, users (add, passwd, set, del, list), bootstrap
 *   auth_tokens.c API tokens (create, revoke, list)
 *   auth_kdf.c    the KDF worker thread (Argon2id) and its queues
 *   auth_limit.c  the bounded rate-limit tables
 *   auth_conf.c   the `auth` group of the configuration
 *   auth_util.c   randomness, SHA-256, base64url/hex, name and scope rules
 *
 * A request that takes time is a job: created on the loop, maybe sent to
 * the KDF worker, finished on the loop (its change applied and appended to
 * the journal), delivered to its callback once the change is durable.
 */
#ifndef MAMORI_AUTH_INT_H
#define MAMORI_AUTH_INT_H

#include "auth/auth.h"
#include "util/hmap.h"

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH__LOG "auth"

/* A role and what it covers (owned strings). */
struct auth__scope {
	enum auth_role role;
	char **centers;
	size_t n_centers;
	char *customer;
};

struct auth__user {
	char name[AUTH_NAME_MAX + 1];
	struct auth__scope sc;
	char *phc; /* Argon2id PHC string; NULL while pending */
	double created;
	int disabled;
	int pending;       /* an add is hashing: the name is reserved, nothing else */
	size_t n_sessions; /* live sessions */
};

struct auth__session {
	unsigned char hash[32]; /* SHA-256 of the cookie value: the map's key */
	char id[65];            /* the same in hex: the store's key */
	char user[AUTH_NAME_MAX + 1];
	char csrf[AUTH_SESSION_LEN + 1];
	double created, last_seen, expires;
	double stored_seen; /* last_seen as written */
};

struct auth__token {
	char id[AUTH_TOKEN_ID_LEN + 1]; /* the map's key */
	unsigned char hash[32];         /* SHA-256 of the secret */
	char user[AUTH_NAME_MAX + 1];
	struct auth__scope sc;
	char *label;
	double created, expires, last_used, revoked;
	double stored_used;
};

enum auth__job_kind { JOB_LOGIN, JOB_ADD, JOB_PASSWD, JOB_DONE, JOB_TOKEN };

struct auth__job {
	struct auth__job *next;          /* the worker's queues */
	struct auth__job *lprev, *lnext; /* a->jobs: every job not delivered */
	struct auth *a;
	enum auth__job_kind kind;
	void *ud;
	union {
		auth_login_fn login;
		auth_done_fn done;
		auth_token_fn token;
	} cb;
	int cancelled;
	int finished; /* the change is applied: next is delivery */
	int err;

	/* for the worker (set on the loop before it is queued; the
	 * passwords are wiped and freed by the worker) */
	char *password;     /* to verify against verify_phc (NULL: nothing to verify) */
	char *verify_phc;   /* NULL with a password: unknown user, a dummy hash */
	char *new_password; /* to hash (after a successful verify, if any) */
	int rehash;         /* verify ok and params differ: hash `password` anew */
	int verify;         /* a password was given to verify (it is gone after the worker) */
	unsigned t, m, p;   /* the parameters of new hashes */
	/* from the worker */
	int verified;
	char *new_phc;
	int kdf_err; /* an ARGON2_* code, 0 */
	double kdf_seconds;

	/* context, per kind */
	char user[AUTH_NAME_MAX + 1];
	char actor[AUTH_NAME_MAX + 1]; /* "" for the local administrator */
	char actor_session[80];        /* passwd: the session that stays */
	char from[129];
	char limit_addr[129]; /* the address key counted at the start ("" none) */
	int limit_user;       /* the user's count was raised at the start */
	int bootstrap;
	struct auth_login_result res;
	char session_token[AUTH_SESSION_LEN + 1], csrf[AUTH_SESSION_LEN + 1];
	char token[AUTH_TOKEN_LEN + 1], token_id[AUTH_TOKEN_ID_LEN + 1];
};

struct auth__kdf;
struct auth__limit;

struct auth {
	struct ev_loop *loop;
	struct journal *j;
	struct auth_conf c;
	struct hmap users;    /* name -> struct auth__user */
	struct hmap sessions; /* 32-byte hash -> struct auth__session */
	struct hmap tokens;   /* id -> struct auth__token */
	struct auth__limit *lim_user, *lim_addr;
	struct auth__kdf *kdf;
	struct auth__job *jobs; /* not yet delivered */
	size_t n_pending;       /* users being added */
	ev_timer sweep;
	double last_prune;
	struct auth_stats st;
};

/* ---- auth.c ---- */
double auth__now(struct auth *a);
int auth__durable(const struct auth *a);
/* The pending batch, or NULL when nothing is persisted. */
struct store_batch *auth__batch(struct auth *a);
struct auth__user *auth__user_get(struct auth *a, const char *name);
/* The user exists, is not pending: users that count. */
struct auth__user *auth__user_live(struct auth *a, const char *name);
void auth__put_user(struct auth *a, const struct auth__user *u);
void auth__user_free(struct auth__user *u);
void auth__token_free(struct auth__token *t);
void auth__put_token(struct auth *a, struct auth__token *t);
/* Remove one session / every session of user but `keep` (an id or NULL),
 * in memory and in the store. */
void auth__session_drop(struct auth *a, struct auth__session *s);
void auth__sessions_of_drop(struct auth *a, const char *user, const char *keep);
/* A new session for user: fills token and csrf (AUTH_SESSION_LEN + 1
 * each) and *expires.  0, or AUTH_E_FAIL (no randomness). */
int auth__session_new(struct auth *a, struct auth__user *u, char *token, char *csrf,
                      double *expires);
/* Jobs: new (linked into a->jobs), then either queued for the worker
 * (auth__kdf_submit), or finished on the loop and handed to
 * auth__job_complete, which waits for durability and delivers. */
struct auth__job *auth__job_new(struct auth *a, enum auth__job_kind kind, void *ud);
void auth__job_complete(struct auth__job *j);
/* Called by the worker's completion on the loop (auth_users.c). */
void auth__job_kdf_done(struct auth__job *j);
void auth__job_free(struct auth__job *j);
/* Audit with a formatted detail. */
void auth__auditf(struct auth *a, const char *who, const char *what, const char *from,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *auth__who(const struct auth_principal *actor);

/* ---- auth_kdf.c ---- */
/* done runs on the loop thread for each job the worker finished (or
 * that auth__kdf_post handed straight back), in order. */
struct auth__kdf *auth__kdf_new(struct ev_loop *loop, void (*done)(struct auth__job *j), char *err,
                                size_t errlen);
/* Queue j for the worker: 0, or -1 when AUTH_KDF_QUEUE jobs wait. */
int auth__kdf_submit(struct auth__kdf *k, struct auth__job *j);
/* Hand j back to done at the next loop iteration, without the worker. */
void auth__kdf_post(struct auth__kdf *k, struct auth__job *j);
size_t auth__kdf_queued(struct auth__kdf *k);
int auth__kdf_full(struct auth__kdf *k);
/* Stop the worker (it finishes the job it runs); queued jobs are left
 * to their owner (every job is in a->jobs). */
void auth__kdf_free(struct auth__kdf *k);
/* The PHC prefix of the parameters ("$argon2id$v=19$m=..,t=..,p=..$"). */
void auth__kdf_prefix(char *buf, size_t n, unsigned t, unsigned m, unsigned p);
/* A hash of password with these parameters, on the calling thread (the
 * worker; tests).  NULL on failure, with the ARGON2_* code in *rc. */
char *auth__kdf_hash(const char *password, unsigned t, unsigned m, unsigned p, int *rc);

/* ---- auth_limit.c ---- */
struct auth__limit *auth__limit_new(unsigned max_entries, unsigned max_failures, double window);
void auth__limit_free(struct auth__limit *l);
/* Seconds until key may try again (>= 1), or 0 when it may now. */
double auth__limit_check(struct auth__limit *l, const char *key, double now);
void auth__limit_fail(struct auth__limit *l, const char *key, double now);
/* Forget key's failures (a user's successful login). */
void auth__limit_reset(struct auth__limit *l, const char *key);
/* Take one failure back (an address's attempt that succeeded). */
void auth__limit_undo(struct auth__limit *l, const char *key);
/* Drop entries whose window has passed. */
void auth__limit_sweep(struct auth__limit *l, double now);
size_t auth__limit_count(const struct auth__limit *l);

/* ---- auth_util.c ---- */
/* Return code, with the message in err (when err is not NULL). */
int auth__refuse(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* n random bytes: 0, or -1 (OpenSSL has no randomness). */
int auth__random(unsigned char *buf, size_t n);
void auth__sha256(const void *data, size_t len, unsigned char out[32]);
/* base64url without padding; out needs 4 * ceil(n / 3) + 1 bytes. */
void auth__b64url(const unsigned char *in, size_t n, char *out);
void auth__hex(const unsigned char *in, size_t n, char *out);
/* 32 random bytes as base64url (AUTH_SESSION_LEN chars + NUL): 0 or -1. */
int auth__random_b64(char out[AUTH_SESSION_LEN + 1]);
int auth__wipe_free(char *s);
/* A user name by the rule of auth.h. */
int auth__name_ok(const char *s);
/* The address key for rate limiting: IPv4 as is, IPv6 cut to its /64,
 * anything else escaped and cut.  out: 129 bytes. */
void auth__addr_key(const char *from, char *out, size_t n);
/* UTF-8 code points in s, or -1 when s is not valid UTF-8. */
long auth__utf8_chars(const char *s);
/* A password to set: 0, or AUTH_E_INVALID with the reason in err. */
int auth__password_ok(const struct auth *a, const char *pw, const char *field, char *err,
                      size_t errlen);
/* Validate and copy a public scope: 0, or AUTH_E_INVALID with the
 * reason in err. */
int auth__scope_from(struct auth__scope *dst, const struct auth_scope *src, char *err,
                     size_t errlen);
void auth__scope_copy(struct auth__scope *dst, const struct auth__scope *src);
void auth__scope_free(struct auth__scope *s);
/* 1 when inner allows nothing that outer does not. */
int auth__scope_within(const struct auth__scope *inner, const struct auth__scope *outer);
/* The principal's scope, borrowed (no copy). */
void auth__scope_of(struct auth__scope *dst, const struct auth_principal *p);
/* centers as a JSON array (NULL for none); and back (0, or -1 when it is
 * not an array of valid names). */
char *auth__centers_json(const struct auth__scope *s);
int auth__centers_parse(const char *json, struct auth__scope *s);
/* "role=operator centers=a,b" etc. for audit details. */
void auth__scope_text(const struct auth__scope *s, char *buf, size_t n);
/* Fill a principal (copies). */
void auth__principal_fill(struct auth_principal *p, const char *user, const struct auth__scope *sc,
                          int via_token, const char *id, const char *csrf);
/* Copy into a fixed buffer, cut at a UTF-8 boundary. */
void auth__strlcpy(char *dst, const char *src, size_t n);

#endif
