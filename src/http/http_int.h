/*
 * http_int: what the files of src/http share - the server, one request's
 * context, the route table, the JSON writer and the answers.
 *
 * A request's life (http.c drives it, route.c decides, api_*.c answer):
 *   1. headers: the route is matched (404, 405 with Allow), the caller is
 *      authenticated (401), a declared body is checked against the
 *      route's limit and type (413, 415) before a byte of it is read;
 *   2. body chunks are collected up to the limit;
 *   3. complete: query parameters are checked against the route's list
 *      (400 naming the unknown one), the body is parsed by jsonw (400) - or,
 *      a form on a ROUTE_FORM route, by MHD's post processor (400),
 *      the route's access rule is applied (403, or 404 where existence
 *      must not be revealed), and the handler runs.  A handler answers at
 *      once, or suspends the connection and answers later from a callback
 *      (a store read, a command's durability, a password check).
 */
#ifndef MAMORI_HTTP_INT_H
#define MAMORI_HTTP_INT_H

#include "http/http.h"

#include <cJSON.h>
#include <ev.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct app;
struct app_scope;
struct auth;
struct req;

/* ---- growable buffer and JSON writer ---- */

struct buf {
	char *p;
	size_t n, cap;
};
void buf_put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_add(struct buf *b, const char *s, size_t n);
void buf_free(struct buf *b);

/* A JSON writer into a buf: commas are placed by the writer.  Strings
 * are escaped and made valid UTF-8 (an invalid byte becomes U+FFFD): the
 * text of a plugin's output or an agent's field is shown, never trusted.
 * cJSON's printer is not used for answers because it passes invalid
 * UTF-8 through and builds a node per value. */
struct jw {
	struct buf *b;
	int depth;
	uint64_t first; /* bit d: nothing written yet at depth d */
	int after_key;  /* a key was written: its value needs no comma */
};
void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);     /* { (as a value) */
void jw_arr(struct jw *w);     /* [ (as a value) */
void jw_end_obj(struct jw *w); /* } */
void jw_end_arr(struct jw *w); /* ] */
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s); /* NULL: null */
void jw_num(struct jw *w, double v);      /* not finite: null */
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
void jw_time(struct jw *w, double t); /* RFC 3339 UTC; 0: null */
void jw_raw(struct jw *w, const char *json);
/* key + value in one call */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, long long v);
void jw_knum(struct jw *w, const char *k, double v);
void jw_kbool(struct jw *w, const char *k, int v);
void jw_ktime(struct jw *w, const char *k, double t);
/* 1: s (NUL-terminated) is valid UTF-8 (no overlong form, no surrogate) */
int utf8_valid(const char *s);
/* s as HTML text or attribute value into b: & < > " ' as entities,
 * control characters (and every non-ASCII byte when s is not valid
 * UTF-8) as U+FFFD */
void html_escape(struct buf *b, const char *s);
/* s escaped as JSON string content (no quotes) into b */
void jw_escape(struct buf *b, const char *s);

/* ---- callers ---- */

enum http_role { ROLE_NONE = -1, ROLE_ADMIN = 0, ROLE_OPERATOR = 1, ROLE_VIEWER = 2 };

/* Who is asking, once authenticated. */
struct who {
	enum http_role role;
	char user[64];
	char **centers; /* operator */
	size_t n_centers;
	char *customer; /* viewer */
	int cookie;     /* 1: a session cookie (state changes need the CSRF token) */
	int local;      /* 1: the local UNIX socket with the daemon's own uid (or root) */
	char csrf[64];
	char session[80]; /* the cookie's token (logout) */
};
void who_clear(struct who *w);
/* The service layer's scope for w (its arrays point into w). */
void who_scope(const struct who *w, struct app_scope *sc);

/* ---- routes ---- */

/* Who may call a route.  Every route has exactly one; a route without
 * one cannot be declared (the table's field has no default), and
 * test_http walks the table to prove it. */
enum access {
	ACC_PUBLIC = 1, /* no login (health, login itself) */
	ACC_USER,       /* any logged-in user (their own things: /me, logout) */
	ACC_READ,       /* any role; tenant-scoped by the handler through the app scope */
	ACC_CUSTOMER,   /* {customer} in the path must be in the caller's scope, else 404 */
	ACC_ACT,        /* operator (own centers, checked by the app) or admin: alert actions */
	ACC_MAINTAIN,   /* operator or admin: downtimes (scope by customer) */
	ACC_ADMIN,      /* admin only */
};
const char *access_name(enum access a);

#define ROUTE_MAX_PARAMS 3
#define ROUTE_MAX_QUERY  14

struct route {
	const char *method;  /* "GET", "POST", "DELETE" */
	const char *pattern; /* "/api/v1/alerts/{id}/ack": {x} is one path segment */
	enum access access;
	const char *name; /* for metrics and logs: "alerts.ack" */
	int (*fn)(struct req *r);
	size_t max_body;                    /* 0: no body accepted */
	const char *query[ROUTE_MAX_QUERY]; /* accepted query parameters (NULL-ended) */
	/* 0, or ROUTE_STREAM: answers with a stream (SSE); ROUTE_FORM: the
	 * body may also be application/x-www-form-urlencoded (a gateway's
	 * webhook, a browser's form), decoded by MHD's post processor into
	 * r->form (r->json stays an empty object), same size limit, 400 for
	 * garbage.  Every other route takes JSON bodies only. */
	unsigned flags;
};
#define ROUTE_STREAM    1u
#define ROUTE_FORM      2u
/* A form body's limits: parameters, and bytes of one name. */
#define FORM_MAX_PARAMS 64
#define FORM_MAX_NAME   64
extern const struct route http_routes[];
extern const size_t http_n_routes;
/* 0 with *out and the path's parameters (caller frees them), or 404 (no
 * route has the path), or 405 with the path's methods in allow. */
int route_find(const char *method, const char *path, const struct route **out, char **param,
               size_t *n_param, char *allow, size_t allowlen);
/* One query parameter of a request for rt: 0 known (marked in seen), -1
 * unknown, -2 given twice.  check_query (http.c) asks it for each. */
int route_query_arg(const struct route *rt, const char *key, char seen[ROUTE_MAX_QUERY]);
/* The route's access rule for r->who: 0 go on, -1 answered (401/403/404). */
int authorize(struct req *r);
/* RFC 3339 with Z or an offset, or seconds since the epoch: 0 or -1. */
int parse_time(const char *v, double *out);
/* Who is calling (session cookie, bearer token, local socket): fills
 * r->who, or leaves it ROLE_NONE.  -1: answered (a bad credential). */
int authenticate(struct req *r);
/* session.c: the credentials of a request (cookie, bearer); 0 with
 * r->who set or left ROLE_NONE, -1 answered. */
int http_auth_request(struct req *r);
/* The client's address and scheme behind a trusted proxy. */
void http_trusted_proxy(struct req *r);
void http_audit(struct req *r);
void http_auth_cancel(struct req *r);

/* ---- one request ---- */

struct listener;

struct req {
	struct http *h;
	struct listener *l;
	struct MHD_Connection *conn;
	const struct route *route;
	char *param[ROUTE_MAX_PARAMS]; /* decoded path segments for {x} */
	size_t n_param;
	struct who who;
	char from[64]; /* the client's address (after trusted proxies) */
	struct buf body;
	int body_too_large;
	cJSON *json; /* the parsed body, or NULL */
	/* a form body (BODY_FORM routes): name, value, name, value, ...
	 * decoded, NUL-terminated, valid UTF-8, names unique */
	char **form;
	size_t n_form; /* parameters (form holds twice as many strings) */
	int is_form;   /* the request's body is a form */
	/* an answer prepared while suspended, queued when MHD calls again */
	int suspended, want_suspend, done, status;
	int orphan;         /* the connection is gone: the callback frees */
	int metrics;        /* GET /metrics on a metrics address */
	int stream_started; /* a streaming response is queued (SSE) */
	int secure;         /* TLS, here or at a trusted proxy */
	int auth_pending;   /* an auth call will call back (cancel it if the request goes) */
	int resp_shared;    /* resp is the cache's: queue it, never destroy it */
	char allow[160];    /* 405: the path's methods */
	struct MHD_Response *resp;
	unsigned route_ix;
	double started;
	int phase; /* 0 headers seen, 1 answered */
	/* the stream of an SSE request (api_events.c) */
	struct sse *sse;
	struct req *next_pending, *prev_pending;
};

/* Answers.  All return 0; the request is answered (or will be). */
int reply_json(struct req *r, unsigned status, struct buf *b); /* takes b's memory */
int reply_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int reply_app_error(struct req *r, int app_err, const char *msg);
int reply_empty(struct req *r, unsigned status); /* 204, 304 */
/* A small document that is not JSON (an HTML page, a gateway's XML),
 * takes b's memory; csp: its Content-Security-Policy (NULL: the API's,
 * which allows nothing). */
int reply_doc(struct req *r, unsigned status, const char *type, const char *csp, struct buf *b);
void req_finish_doc(struct req *r, unsigned status, const char *type, const char *csp,
                    struct buf *b);
/* Answer with a response someone else keeps (the cache). */
int reply_shared(struct req *r, unsigned status, struct MHD_Response *resp);

/* ---- the answer cache (cache.c) ---- */
struct http_cache;
struct http_cache *cache_new(void);
void cache_free(struct http_cache *c);
/* 1: r was answered from the cache (the handler is done). */
int cache_answer(struct req *r);
/* Keep r's fresh 200 answer (r->resp) with its ETag for the next caller
 * with the same route, query and scope while the app's version holds. */
void cache_keep(struct req *r, const char *etag, size_t bytes);
void cache_stats(const struct http_cache *c, unsigned long long *hits, unsigned long long *misses);
/* A header on the answer just made (reply_*). */
void req_add_header(struct req *r, const char *name, const char *value);
/* Answer later: the connection is suspended until finish_* is called
 * (from a callback on the loop thread). */
void req_suspend(struct req *r);
void req_finish_json(struct req *r, unsigned status, struct buf *b);
void req_finish_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void req_finish_app_error(struct req *r, int app_err, const char *msg);
void req_finish_empty(struct req *r, unsigned status);
/* A document that is not JSON (a report): takes data (malloc'ed); its own
 * Content-Security-Policy (inline styles only, sandboxed); filename: for
 * Content-Disposition, a plain name (NULL: none). */
void req_finish_body(struct req *r, unsigned status, const char *type, const char *filename,
                     char *data, size_t len);
/* The request is gone (shutdown): a callback must only free its data
 * and call req_release. */
int req_orphaned(const struct req *r);
void req_release(struct req *r);
/* A query parameter (NULL: absent) */
const char *req_query(struct req *r, const char *name);
const char *req_header(struct req *r, const char *name);
struct app *req_app(struct req *r);
struct ev_loop *req_loop(struct req *r);

/* Parsing helpers for handlers: 0, or -1 with an error answered. */
int q_int(struct req *r, const char *name, long lo, long hi, long *out);
int q_time(struct req *r, const char *name, double *out); /* RFC 3339 or epoch seconds */
/* Body members: typed, named in errors; an unknown member is an error. */
int body_only(struct req *r, const char *const *allowed);
int body_str(struct req *r, const char *name, int required, size_t maxlen, const char **out);
int body_time(struct req *r, const char *name, int required, double *out);
int body_int(struct req *r, const char *name, int required, long lo, long hi, long *out);

/* The app's error as an HTTP status (APP_E_FORBIDDEN maps to 403 or to
 * 404 as the route asks). */
unsigned app_status(int app_err);

/* ---- handlers (api_*.c) ---- */
int api_customers(struct req *r);
int api_customer(struct req *r);
int api_assets(struct req *r);
int api_checks(struct req *r);
int api_check(struct req *r);
int api_series(struct req *r);
int api_alerts(struct req *r);
int api_alert(struct req *r);
int api_alert_act(struct req *r);
int api_alert_open(struct req *r);
int api_check_ack(struct req *r);
int api_downtimes(struct req *r);
int api_downtime_add(struct req *r);
int api_downtime_del(struct req *r);
int api_overview(struct req *r);
int api_sla(struct req *r);
int api_events(struct req *r);
int api_me(struct req *r);
int api_login(struct req *r);
int api_logout(struct req *r);
int api_users(struct req *r);
int api_user_add(struct req *r);
int api_user_set(struct req *r);
int api_user_passwd(struct req *r);
int api_user_del(struct req *r);
int api_tokens(struct req *r);
int api_token_create(struct req *r);
int api_token_revoke(struct req *r);
int api_status(struct req *r);
/* static.c: the dashboard's files under the www dir */
int api_static(struct req *r);
const char *http_static_type(const char *name); /* content type by extension, or NULL */
int http_static_name_ok(const char *segment);   /* 1: a plain name that may be served */
/* An event id as the stream writes it (Last-Event-ID, or ?after=):
 * "<epoch>-<seq>[.<us>[.<alert seq>.<alert id>]]", numbers in decimal
 * digits only (no sign, blank or overflow), the alert id without control
 * characters: 0, or -1 for anything else. */
struct sse_id {
	uint64_t epoch, seq, us, alert_seq;
	int has_time, has_alert;
	char alert[128];
};
int sse_parse_id(const char *v, struct sse_id *id);
void api_events_shutdown(struct http *h);
void api_events_closed(struct req *r);
void api_events_free(struct http *h);
void api_events_stats(const struct http *h, unsigned long long *sent, unsigned long long *dropped);
size_t api_events_clients(const struct http *h);

/* ---- the server ---- */

struct listener {
	struct http *h;
	struct MHD_Daemon *d;
	int fd;      /* the listen socket (MHD closes it) */
	char *path;  /* UNIX socket file to unlink, or NULL */
	char *name;  /* as configured, for logs */
	int metrics; /* a metrics_listen address: /metrics without login */
	int unix_sock;
	int tls;
	ev_io io;     /* MHD's epoll descriptor */
	ev_timer tmo; /* MHD's next timeout */
};

struct route_stats {
	unsigned long long by_class[6]; /* 1xx..5xx by status / 100 */
};

struct http {
	struct ev_loop *loop;
	struct app *app;
	struct auth *auth;
	double started;
	struct listener ls[2 * HTTP_MAX_LISTEN];
	size_t n;
	struct http_stats stats;
	struct route_stats *route_stats; /* per route */
	struct req *pending;             /* suspended requests */
	struct sse_hub *sse;
	struct http_cache *cache;
	uid_t uid;
	struct cidr {
		int fam;
		unsigned char a[16];
		unsigned bits;
	} trusted[HTTP_MAX_TRUSTED];
	size_t n_trusted;
	char *tls_cert, *tls_key; /* PEM, kept while MHD runs */
	size_t tls_key_len;
	char *www; /* the dashboard's files (static.c), or NULL */
};

void http__wake(struct listener *l);

#endif
