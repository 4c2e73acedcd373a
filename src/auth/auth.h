/*
 * auth: the users of the HTTP API and how they prove who they are -
 * users with a role, passwords, login sessions, API tokens, rate limiting
 * of login attempts, the audit log, and bootstrapping the first admin.
 * The HTTP layer calls it; it knows nothing about HTTP (cookies, headers,
 * status codes are the caller's; the codes below say which status fits).
 *
 * Roles.  `admin` may do everything, including managing users.
 * `operator` of one or more centers sees every customer and acts on the
 * alerts of its centers.  `viewer` of one customer sees only that
 * customer.  auth stores and returns the scope (centers, customer); what
 * a scope allows on each route is the HTTP layer's table.  auth does not
 * check that a center or customer exists in the configuration.
 *
 * Secrets.
 *  - Passwords: Argon2id (libargon2), PHC string format
 *    "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>", 16-byte random salt,
 *    32-byte hash.  Default cost t=3 passes over m=64 MiB with p=1 lane:
 *    about 140 ms of one core (measured on the development machine) and
 *    64 MiB of memory per hash.  That is the time and memory of RFC 9106's
 *    second recommended setting (which spreads them over 4 lanes; one
 *    lane here, as the worker is one thread), well above OWASP's minimum
 *    (m=19 MiB, t=2).  The
 *    parameters travel with each hash, so changing the configuration
 *    never breaks older hashes; a successful login rehashes a password
 *    whose parameters differ from the configured ones.  The KDF runs on
 *    one worker thread of auth's own, never on the loop: every call that
 *    needs it (login, adding a user, changing a password) is
 *    asynchronous.  At most AUTH_KDF_QUEUE such requests wait; more are
 *    refused with AUTH_E_BUSY (503), so a flood costs bounded memory.
 *    Passwords are copied for the worker and wiped after use, and never
 *    logged, stored or put in the audit log.
 *  - Sessions: 256 random bits (OpenSSL RAND_bytes), given to the client
 *    in base64url (43 characters; the cookie's value) and kept - in memory
 *    and in the store - only as their SHA-256.  Each session has a CSRF
 *    token (256 random bits, base64url) returned at login; every
 *    state-changing request made with the cookie must carry it
 *    (auth_csrf_ok).  A session ends at logout, after `idle_timeout`
 *    without a request (default 8 h), `absolute_timeout` after the login
 *    (default 7 d), when its user is deleted, disabled, or changes the
 *    password (other sessions of that user), or when the user logs in
 *    more than `max_sessions` times (the oldest goes).  last_seen is kept
 *    in memory and written lazily (at most AUTH_LAZY_WRITE seconds behind,
 *    at the journal's next cut), never a store write per request.
 *  - API tokens: "mmr_<id>_<secret>": <id> 16 lowercase hex digits (public:
 *    lists and revocation name tokens by it), <secret> 256 random bits in
 *    base64url; only the SHA-256 of the secret is kept.  The whole token
 *    is shown once, in auth_token_create's callback.  A token has its own
 *    scope, never wider than its creator's at creation and checked again
 *    against its owner's current scope at every use (a user narrowed or
 *    disabled later takes its tokens down with it).
 *
 * Rate limiting (login and the old-password check of auth_user_passwd).
 * Failures are counted per user name (existing users only: names that do
 * not exist cannot fill that table) and per client address (IPv6 by /64);
 * `max_failures` (default 5) failures of a user within `failure_window`
 * (default 5 min), or `max_failures_addr` (default 20, for offices behind
 * one NAT address) of an address, refuse further attempts with
 * AUTH_E_LIMITED (429) and a retry_after without running the KDF.  An
 * attempt counts as a failure from its start until its result is known
 * (so parallel guesses cannot all slip in before the first failure
 * counts); a success clears the user's count and takes its own attempt
 * back from the address's.  Each table holds at most `limit_entries`
 * entries; beyond that the least recently used goes, so an attacker
 * spraying addresses costs bounded memory (and can only clear other
 * addresses' counts, never a user's: that table holds real users only).
 * A user under attack is locked out for the window; that is the price of
 * stopping password guessing.
 *
 * Durability.  Every change (users, tokens, sessions, audit rows) is
 * appended to the journal's pending batch.  Calls that take a `done` or a
 * result callback call it once the change is on disk (journal_ticket):
 * an answer never reports something a crash could undo - a revoked token
 * stays revoked.  The change itself is effective in memory at once.
 * Without a store (journal NULL or not durable) nothing is persisted and
 * callbacks follow at the next loop iteration.
 *
 * Calls.  Loop thread only.  Synchronous calls return 0 or a negative
 * enum auth_err.  An asynchronous call returns 0 when it accepted the
 * request: its callback then runs exactly once, later, on the loop
 * thread, never inside the call (unless auth_cancel is called for its
 * ud); or it returns a negative enum auth_err when it refused the request
 * at once (with a message in err when the caller gave a buffer), and the
 * callback never runs.  Strings passed in are copied; strings passed to
 * callbacks are valid only during the callback.  `from` is the client's
 * address as the HTTP layer determined it ("192.0.2.1", "2001:db8::1",
 * "unix"), used for rate limiting and the audit log.
 *
 * The acting principal `actor` of a management call is what
 * auth_session or auth_bearer returned; NULL means the local
 * administrator (the UNIX socket with peer credentials checked by the
 * caller, mamorictl's bootstrap path): allowed everything, audited as
 * "(local)".
 *
 * Lifecycle.  auth_new after journal_new and store_open, before
 * store_start (it reads its tables synchronously, like the registry's
 * downtimes).  auth_free once the loop no longer runs (shutdown) or after
 * journal_free: a request waiting for durability is a journal ticket,
 * which the journal would otherwise still call (from the loop, after a
 * commit).  Nothing else of auth's is registered with the journal.
 * auth_free runs no callback: pending requests are dropped - the HTTP
 * layer cancels its own (auth_cancel) when it closes their connections.
 * The last AUTH_LAZY_WRITE seconds of last_seen / last_used are not
 * written at shutdown (they only decide idle expiry, a minute early at
 * worst).
 *
 * Must never: run the KDF or any disk I/O on the loop thread, log or store
 * a password, token or session value, reveal through its answers whether
 * a user name exists (unknown user, wrong password and disabled user are
 * the same AUTH_E_BADCRED after the same KDF work).  Depends on journal,
 * store and util; libargon2 and OpenSSL's libcrypto.
 */
#ifndef MAMORI_AUTH_H
#define MAMORI_AUTH_H

#include <libconfig.h>
#include <stddef.h>

struct ev_loop;
struct journal;
struct store;
struct auth;

#define AUTH_NAME_MAX     63   /* bytes of a user name: [A-Za-z0-9._@-], first alnum */
#define AUTH_SCOPE_MAX    128  /* bytes of a center or customer name (the config's rule) */
#define AUTH_CENTERS_MAX  64   /* centers of one operator */
#define AUTH_PASSWORD_MAX 1024 /* bytes */
#define AUTH_LABEL_MAX    200  /* bytes of a token's label */
#define AUTH_KDF_QUEUE    64   /* KDF requests waiting at most */
#define AUTH_LAZY_WRITE   60.0 /* seconds last_seen / last_used may lag in the store */
#define AUTH_TOKEN_PREFIX "mmr_"
/* "mmr_<id>_<secret>": <id> AUTH_TOKEN_ID_LEN hex digits, <secret> 43 */
#define AUTH_TOKEN_ID_LEN 16
#define AUTH_TOKEN_LEN    (4 + AUTH_TOKEN_ID_LEN + 1 + 43)
#define AUTH_SESSION_LEN  43 /* base64url of 32 bytes: cookie value, CSRF token */

/* Each code with the HTTP status that fits it. */
enum auth_err {
	AUTH_OK = 0,
	/* 401: wrong user or password; unknown, expired or revoked session
	 * or token */
	AUTH_E_BADCRED = -1,
	AUTH_E_LIMITED = -2,   /* 429: too many failed logins; retry after the seconds given */
	AUTH_E_FORBIDDEN = -3, /* 403: the actor may not do this */
	AUTH_E_NOTFOUND = -4,  /* 404: no such user or token (or not the actor's to see) */
	AUTH_E_CONFLICT = -5,  /* 409: the name exists; the last admin; a user exists (bootstrap) */
	/* 400/422: a malformed name, password, scope or label (err says which) */
	AUTH_E_INVALID = -6,
	AUTH_E_BUSY = -7, /* 503: the KDF queue is full */
	AUTH_E_FAIL = -8, /* 500: no randomness, the KDF failed (logged) */
};
/* A constant string for an enum auth_err value ("bad credentials", ...). */
const char *auth_strerror(int err);

enum auth_role { AUTH_ADMIN = 0, AUTH_OPERATOR = 1, AUTH_VIEWER = 2 };
/* "admin", "operator", "viewer" ("?" for anything else). */
const char *auth_role_name(enum auth_role r);
/* The role named s, or -1. */
int auth_role_parse(const char *s);

/* A role with what it covers: operator needs 1..AUTH_CENTERS_MAX centers
 * (no duplicates), viewer one customer, admin neither.  Names follow the
 * configuration's rule for centers and customers (1..128 bytes of UTF-8,
 * no control character, space, '/', '+' or '#'). */
struct auth_scope {
	enum auth_role role;
	const char *const *centers; /* operator */
	size_t n_centers;
	const char *customer; /* viewer */
};

/* Who is asking, after authentication: a copy owned by the caller, freed
 * with auth_principal_clear.  For a token, role/centers/customer are the
 * token's scope and user its owner. */
struct auth_principal {
	char user[AUTH_NAME_MAX + 1];
	enum auth_role role;
	char **centers; /* operator */
	size_t n_centers;
	char *customer; /* viewer */
	int via_token;  /* 1: Authorization: Bearer (no CSRF); 0: session cookie */
	/* the session's id (hex SHA-256 of its value: safe to log) or the
	 * token's <id> */
	char session_or_token_id[80];
	char csrf[64]; /* the session's CSRF token ("" for a token) */
};
void auth_principal_clear(struct auth_principal *p);
/* 1 when the request may change something: made with a token, or with a
 * session and `header` (the X-CSRF-Token value, may be NULL) equal to the
 * session's CSRF token (constant-time compare).  0 otherwise. */
int auth_csrf_ok(const struct auth_principal *p, const char *header);

/* ---- configuration: the optional `auth` group ----
 *   auth = { idle_timeout = "8h"; absolute_timeout = "7d";
 *            min_password_length = 12; max_sessions = 20;
 *            max_failures = 5; max_failures_per_address = 20; failure_window = "5m";
 *            limit_entries = 10000; audit_retention = "400d";
 *            kdf_time_cost = 3; kdf_memory = 65536; kdf_parallelism = 1; };
 * Durations: a number of seconds or "30s", "5m", "8h", "7d".  kdf_memory
 * is in KiB.  Values below the defaults' cost are accepted (tests use
 * kdf_memory = 8) and logged as weak at auth_new. */
struct auth_conf {
	double idle_timeout;        /* s, default 8 h */
	double absolute_timeout;    /* s, default 7 d; >= idle_timeout */
	unsigned kdf_t;             /* Argon2 passes, default 3 (1..16) */
	unsigned kdf_m_kib;         /* memory, default 65536 KiB (8..4194304, >= 8 * p) */
	unsigned kdf_p;             /* lanes, default 1 (1..16) */
	unsigned min_password;      /* characters (UTF-8 code points), default 12 (8..1024) */
	unsigned max_sessions;      /* per user, default 20 */
	unsigned max_failures;      /* per user per window, default 5 */
	unsigned max_failures_addr; /* per address per window, default 20 */
	double failure_window;      /* s, default 300 */
	unsigned limit_entries;     /* entries of each rate-limit table, default 10000 */
	double audit_retention;     /* s, default 400 d; 0: keep forever */
	/* tests: the clock for expiry, rate limiting and timestamps, loading
	 * included (NULL: ev_now of the loop) */
	double (*now)(void *ud);
	void *now_ud;
};
void auth_conf_default(struct auth_conf *c);
/* Parse and validate the group (NULL: defaults).  0, or -1 with
 * "file:line: auth.key: what" in err; unknown keys are errors. */
int auth_conf_parse(const config_setting_t *group, struct auth_conf *c, char *err, size_t errlen);

/* ---- lifecycle ---- */

/* Load users, tokens and sessions from st (NULL: start empty, nothing
 * persisted; j may then be NULL too), drop expired sessions, start the KDF
 * worker.  c NULL: defaults.  NULL with a message in err (an unreadable
 * table, a thread that cannot start). */
struct auth *auth_new(struct ev_loop *loop, struct journal *j, struct store *st,
                      const struct auth_conf *c, char *err, size_t errlen);
void auth_free(struct auth *a);
/* From now on, no callback with this ud runs (the requests still
 * complete: a login creates its session, a user add its user). */
void auth_cancel(struct auth *a, void *ud);
/* The periodic work, run by auth's own timer every AUTH_LAZY_WRITE / 2
 * seconds: drop expired sessions, write last_seen / last_used that moved,
 * forget rate-limit windows that closed, prune the audit log (hourly).
 * Tests call it after moving their clock. */
void auth_sweep(struct auth *a);

/* ---- logging in ---- */

struct auth_login_result {
	const char *session_token; /* the cookie's value (AUTH_SESSION_LEN chars) */
	const char *csrf;          /* the session's CSRF token */
	double expires;            /* absolute expiry (epoch s): the cookie's lifetime */
	double retry_after;        /* AUTH_E_LIMITED: seconds (>= 1) */
};
/* err 0 with a new session; AUTH_E_BADCRED, AUTH_E_LIMITED (r->retry_after),
 * AUTH_E_BUSY, AUTH_E_FAIL.  r is never NULL. */
typedef void (*auth_login_fn)(void *ud, int err, const struct auth_login_result *r);
/* Check user/password (in the worker) and create a session.  Every
 * outcome goes through cb (bad input is AUTH_E_BADCRED there, too);
 * returns 0, or AUTH_E_INVALID only when cb is NULL.  Audited: "login",
 * "login_failed" (detail: why - unknown user, bad password, disabled),
 * "login_limited". */
int auth_login(struct auth *a, const char *user, const char *password, const char *from,
               auth_login_fn cb, void *ud);
/* The session's principal (cookie value as sent).  0, or AUTH_E_BADCRED
 * (unknown, expired - then deleted -, or its user disabled).  Sync, O(1):
 * one SHA-256 and one hash-map lookup.  Touches last_seen. */
int auth_session(struct auth *a, const char *session_token, struct auth_principal *out);
/* The token's principal ("mmr_<id>_<secret>", the Authorization header's
 * value after "Bearer ").  0, or AUTH_E_BADCRED (malformed, unknown,
 * revoked, expired, owner disabled or gone, or wider than the owner now
 * is).  Sync, constant-time compare of the secret's hash.  Touches
 * last_used. */
int auth_bearer(struct auth *a, const char *bearer, struct auth_principal *out);
typedef void (*auth_done_fn)(void *ud, int err);
/* End the session now (in memory at once; done, may be NULL, once the
 * delete is on disk).  AUTH_E_BADCRED: no such session.  Audited. */
int auth_logout(struct auth *a, const char *session_token, const char *from, auth_done_fn done,
                void *ud);

/* ---- users ---- */

/* Admin only (AUTH_E_FORBIDDEN).  Password: min_password characters (UTF-8
 * code points) up to AUTH_PASSWORD_MAX bytes of valid UTF-8.  Refused at
 * once: AUTH_E_INVALID (name, scope, password: err names the field),
 * AUTH_E_CONFLICT (the name exists, or an add of it is hashing: the name
 * is reserved at once), AUTH_E_BUSY (KDF queue full).  Then done(0) once
 * the user is on disk, or done(AUTH_E_FAIL) if the hash failed (logged). */
int auth_user_add(struct auth *a, const struct auth_principal *actor, const char *name,
                  const struct auth_scope *scope, const char *password, const char *from,
                  auth_done_fn done, void *ud, char *err, size_t errlen);
/* Change a password.  An admin changes anyone's; everyone may change
 * their own (someone else's: AUTH_E_FORBIDDEN), and must then give
 * old_password (missing: AUTH_E_INVALID).  The old password is checked in
 * the worker and rate limited like a login: a wrong one is
 * done(AUTH_E_BADCRED) and counts as a failed login; too many failures
 * refuse at once with AUTH_E_LIMITED (err: "retry in N s").  The local
 * administrator (actor NULL) needs no old password (recovery).  Refused
 * at once too: AUTH_E_NOTFOUND, AUTH_E_INVALID (new_password),
 * AUTH_E_BUSY.  done(AUTH_E_CONFLICT) when the user was deleted or its
 * password changed by someone else meanwhile.  On success the user's
 * other sessions end (the actor's own session stays); tokens stay. */
int auth_user_passwd(struct auth *a, const struct auth_principal *actor, const char *name,
                     const char *old_password, const char *new_password, const char *from,
                     auth_done_fn done, void *ud, char *err, size_t errlen);
/* Admin only: change the role/scope (scope NULL: unchanged) and/or
 * disabled (-1: unchanged, 0, 1).  Disabling ends the user's sessions;
 * its tokens stop working while it is disabled, and those wider than a
 * narrowed scope stop for good (checked at each use).
 * AUTH_E_CONFLICT when it would leave no enabled admin.  Sync check;
 * done once on disk. */
int auth_user_set(struct auth *a, const struct auth_principal *actor, const char *name,
                  const struct auth_scope *scope, int disabled, const char *from, auth_done_fn done,
                  void *ud, char *err, size_t errlen);
/* Admin only: delete the user with its sessions and tokens.
 * AUTH_E_CONFLICT for the last enabled admin. */
int auth_user_del(struct auth *a, const struct auth_principal *actor, const char *name,
                  const char *from, auth_done_fn done, void *ud, char *err, size_t errlen);
/* Users that exist (not counting adds still hashing). */
size_t auth_user_count(const struct auth *a);
/* The first admin: only while no user exists and no add is in progress
 * (else AUTH_E_CONFLICT).  The caller decides who may call it (the local
 * socket's peer credentials).  Audited as "bootstrap". */
int auth_bootstrap(struct auth *a, const char *name, const char *password, const char *from,
                   auth_done_fn done, void *ud, char *err, size_t errlen);

struct auth_user_info {
	char *name;
	enum auth_role role;
	char **centers;
	size_t n_centers;
	char *customer;
	double created;
	int disabled;
	size_t sessions; /* live sessions */
};
struct auth_user_list {
	struct auth_user_info *v;
	size_t n;
};
/* Copies, by name.  An admin (or NULL) sees every user, anyone else only
 * themselves.  Free with auth_user_list_free. */
int auth_users(struct auth *a, const struct auth_principal *actor, struct auth_user_list *out);
void auth_user_list_free(struct auth_user_list *l);

/* ---- API tokens ---- */

/* err 0: token is "mmr_<id>_<secret>" (shown once: auth keeps only its
 * hash) and id its <id>; else both NULL. */
typedef void (*auth_token_fn)(void *ud, int err, const char *token, const char *id);
/* A token for the actor's user (a session or a token; the local
 * administrator has no user: AUTH_E_FORBIDDEN).  scope NULL: the actor's
 * own; else not wider than the actor's (AUTH_E_FORBIDDEN): an admin may
 * give any scope, an operator its own centers or fewer, or a viewer of any
 * customer, a viewer only its own customer.  label: NULL or up to
 * AUTH_LABEL_MAX bytes of UTF-8 without control characters.  expires:
 * epoch seconds, 0 never.  cb once the token is on disk. */
int auth_token_create(struct auth *a, const struct auth_principal *actor,
                      const struct auth_scope *scope, const char *label, double expires,
                      const char *from, auth_token_fn cb, void *ud, char *err, size_t errlen);
/* Revoke (for good: the row stays, revoked).  An admin revokes any
 * token, others their own (someone else's is AUTH_E_NOTFOUND).
 * Revoking a revoked token is 0.  Effective at once; done once on disk. */
int auth_token_revoke(struct auth *a, const struct auth_principal *actor, const char *id,
                      const char *from, auth_done_fn done, void *ud, char *err, size_t errlen);

struct auth_token_info {
	char id[AUTH_TOKEN_ID_LEN + 1];
	char *user;
	enum auth_role role;
	char **centers;
	size_t n_centers;
	char *customer;
	char *label;                                 /* or NULL */
	double created, expires, last_used, revoked; /* 0: never / not */
};
struct auth_token_list {
	struct auth_token_info *v;
	size_t n;
};
/* Copies, oldest first, revoked ones included.  user NULL: an admin (or
 * NULL actor) gets every token, anyone else their own; else that user's
 * (another user's: admin only, else AUTH_E_FORBIDDEN). */
int auth_tokens(struct auth *a, const struct auth_principal *actor, const char *user,
                struct auth_token_list *out);
void auth_token_list_free(struct auth_token_list *l);

/* ---- audit ---- */

/* Append one row to the audit log (not waited for: it goes with the next
 * batch).  who NULL: "-"; what: a short verb ("ack", "downtime_add");
 * from and detail may be NULL.  Texts are escaped (control characters,
 * invalid UTF-8) and cut (who, what, from: 128 bytes; detail: 1024).
 * Also logged at level info.  Never pass a secret in detail. */
void auth_audit(struct auth *a, const char *who, const char *what, const char *from,
                const char *detail);

/* ---- counters (metrics, tests) ---- */
struct auth_stats {
	size_t users, sessions, tokens;  /* in memory now (tokens: revoked too) */
	size_t limit_users, limit_addrs; /* rate-limit table entries */
	size_t kdf_queued;               /* KDF requests waiting or running */
	unsigned long long logins, login_failures, limited, kdf_runs;
	double kdf_seconds; /* total worker time in the KDF */
};
void auth_get_stats(const struct auth *a, struct auth_stats *out);

#endif
