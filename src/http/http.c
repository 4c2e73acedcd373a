/*
 * http: libmicrohttpd on the libev loop (see http.h).
 *
 * One MHD daemon per listen socket, started with MHD_USE_EPOLL and no
 * thread of its own.  MHD keeps its connections in its own epoll set; that
 * set's descriptor becomes readable whenever any of them (or the listen
 * socket) has work, so one ev_io per daemon is enough.  After every
 * MHD_run the timer is set to MHD's next timeout (idle connections are
 * closed by MHD then).  A response is built whole only because every
 * answer today is a few bytes; large ones will be streamed with
 * MHD_create_response_from_callback.
 */
#include "http/http_int.h"
#include "app/app.h"
#include "auth/auth.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"

#include "buildcfg.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MEMORY_LIMIT   (32 * 1024) /* per connection: request line, headers, buffers */
#define DEF_MAX_CONN   1000
#define DEF_TIMEOUT    30
/* Connections waiting for accept: a burst of clients (thousands reconnecting
 * after a network outage) beyond it would wait for their SYN's
 * retransmission (1 s, then 3 s...).  The kernel caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4). */
#define LISTEN_BACKLOG 4096

/* ---- configuration ---- */

static int where(const config_setting_t *s, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(s);
	snprintf(err, errlen, "%s:%u: http.%s: %s", file ? file : "config",
	         config_setting_source_line(s),
	         config_setting_name(s) ? config_setting_name(s) : "", what);
	return -1;
}

/* "host:port" with a numeric IPv4 host, "[v6]:port", or "unix:/abs/path". */
static int parse_listen(const char *v, struct sockaddr_storage *ss, socklen_t *len,
                        const char **path)
{
	memset(ss, 0, sizeof *ss);
	*path = NULL;
	if (strncmp(v, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *p = v + 5;
		if (p[0] != '/' || strlen(p) >= sizeof un->sun_path)
			return -1;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, strlen(p) + 1);
		*len = (socklen_t)sizeof *un;
		*path = p;
		return 0;
	}
	char host[64];
	const char *colon;
	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (!end || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
			return -1;
		memcpy(host, v + 1, (size_t)(end - v - 1));
		host[end - v - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return -1;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	char *e = NULL;
	long port = strtol(colon + 1, &e, 10);
	if (!colon[1] || *e || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (v[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof *in4;
		return 0;
	}
	if (v[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof *in6;
		return 0;
	}
	return -1;
}

static int add_listen(const config_setting_t *s, struct http_conf *c, int metrics, char *err,
                      size_t errlen)
{
	const char *v = config_setting_get_string(s);
	struct sockaddr_storage ss;
	socklen_t len;
	const char *path;
	if (!v)
		return where(s, err, errlen, "expected a string");
	if (parse_listen(v, &ss, &len, &path) != 0) {
		char msg[320];
		snprintf(msg, sizeof msg,
		         "'%s' is not \"IPv4:port\", \"[IPv6]:port\" or \"unix:/absolute/path\""
		         " (numeric addresses only)",
		         v);
		return where(s, err, errlen, msg);
	}
	size_t *n = metrics ? &c->n_metrics : &c->n_listen;
	char **to = metrics ? c->metrics_listen : c->listen;
	if (*n == HTTP_MAX_LISTEN)
		return where(s, err, errlen, "too many addresses (at most 8)");
	for (size_t i = 0; i < c->n_listen; i++)
		if (strcmp(c->listen[i], v) == 0)
			return where(s, err, errlen,
			             "the same address twice (listen, metrics_listen)");
	for (size_t i = 0; i < c->n_metrics; i++)
		if (strcmp(c->metrics_listen[i], v) == 0)
			return where(s, err, errlen,
			             "the same address twice (listen, metrics_listen)");
	to[(*n)++] = xstrdup(v);
	return 0;
}

/* "30s", "2m" or a number of seconds. */
static int get_seconds(const config_setting_t *s, unsigned lo, unsigned hi, unsigned *out,
                       char *err, size_t errlen)
{
	double v = -1;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		char *e = NULL;
		const char *t = config_setting_get_string(s);
		v = strtod(t, &e);
		if (e == t)
			v = -1;
		else if (strcmp(e, "m") == 0)
			v *= 60;
		else if (strcmp(e, "h") == 0)
			v *= 3600;
		else if (*e && strcmp(e, "s") != 0)
			v = -1;
	}
	if (!(v >= lo && v <= hi)) {
		char msg[96];
		snprintf(msg, sizeof msg, "must be a duration of %u..%u seconds (\"30s\", \"2m\")",
		         lo, hi);
		return where(s, err, errlen, msg);
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_tls(const config_setting_t *g, struct http_conf *c, char *err, size_t errlen)
{
	if (!config_setting_is_group(g))
		return where(g, err, errlen,
		             "expected a group { cert_file = ...; key_file = ...; }");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		const char *v = config_setting_get_string(s);
		char **to = strcmp(k, "cert_file") == 0  ? &c->tls_cert
		            : strcmp(k, "key_file") == 0 ? &c->tls_key
		                                         : NULL;
		if (!to)
			return where(s, err, errlen, "unknown key (known: cert_file, key_file)");
		if (!v || v[0] != '/')
			return where(s, err, errlen, "expected an absolute path");
		free(*to);
		*to = xstrdup(v);
	}
	if (!c->tls_cert || !c->tls_key)
		return where(g, err, errlen, "needs both cert_file and key_file");
	return 0;
}

/* "a.b.c.d", "a.b.c.d/n", "v6", "v6/n": the family, address bytes and
 * prefix length. */
static int parse_cidr(const char *v, int *fam, unsigned char addr[16], unsigned *bits)
{
	char host[64];
	const char *slash = strchr(v, '/');
	size_t n = slash ? (size_t)(slash - v) : strlen(v);
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1) {
		*fam = AF_INET;
		*bits = 32;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		*fam = AF_INET6;
		*bits = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *e = NULL;
		long b = strtol(slash + 1, &e, 10);
		if (!slash[1] || *e || b < 0 || b > (long)*bits)
			return -1;
		*bits = (unsigned)b;
	}
	return 0;
}

static int parse_trusted(const config_setting_t *s, struct http_conf *c, char *err, size_t errlen)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return where(s, err, errlen, "expected a list of addresses [ \"10.0.0.1\", ... ]");
	for (int j = 0; j < config_setting_length(s); j++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
		const char *v = config_setting_get_string(e);
		int fam;
		unsigned char a[16];
		unsigned bits;
		if (!v || parse_cidr(v, &fam, a, &bits) != 0)
			return where(e, err, errlen,
			             "expected a numeric address or CIDR block (\"10.0.0.0/8\")");
		if (c->n_trusted == HTTP_MAX_TRUSTED)
			return where(e, err, errlen, "too many trusted proxies (at most 16)");
		c->trusted[c->n_trusted++] = xstrdup(v);
	}
	return 0;
}

int http_conf_parse(const config_setting_t *group, struct http_conf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->max_connections = DEF_MAX_CONN;
	c->timeout = DEF_TIMEOUT;
	if (!group)
		return 0;
	if (!config_setting_is_group(group))
		return where(group, err, errlen, "expected a group { ... }");
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *k = config_setting_name(s);
		int rc = 0;
		if (strcmp(k, "listen") == 0 || strcmp(k, "metrics_listen") == 0) {
			int m = k[0] == 'm';
			if (config_setting_is_array(s) || config_setting_is_list(s)) {
				for (int j = 0; rc == 0 && j < config_setting_length(s); j++)
					rc = add_listen(config_setting_get_elem(s, (unsigned)j), c,
					                m, err, errlen);
			} else {
				rc = add_listen(s, c, m, err, errlen);
			}
		} else if (strcmp(k, "max_connections") == 0) {
			int t = config_setting_type(s);
			long long v = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64
			                  ? config_setting_get_int64(s)
			                  : -1;
			if (v < 1 || v > 100000)
				rc = where(s, err, errlen, "must be an integer 1..100000");
			else
				c->max_connections = (unsigned)v;
		} else if (strcmp(k, "timeout") == 0) {
			rc = get_seconds(s, 1, 3600, &c->timeout, err, errlen);
		} else if (strcmp(k, "tls") == 0) {
			rc = parse_tls(s, c, err, errlen);
		} else if (strcmp(k, "trusted_proxies") == 0) {
			rc = parse_trusted(s, c, err, errlen);
		} else {
			rc = where(s, err, errlen,
			           "unknown key (known: listen, metrics_listen, max_connections, "
			           "timeout, tls, trusted_proxies)");
		}
		if (rc != 0) {
			http_conf_free(c);
			return -1;
		}
	}
	if (!c->n_listen && !c->n_metrics) {
		http_conf_free(c);
		return where(group, err, errlen, "needs a `listen` or `metrics_listen` address");
	}
	return 0;
}

void http_conf_free(struct http_conf *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	for (size_t i = 0; i < c->n_metrics; i++)
		free(c->metrics_listen[i]);
	for (size_t i = 0; i < c->n_trusted; i++)
		free(c->trusted[i]);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->www);
	memset(c, 0, sizeof *c);
}

/* ---- answers ---- */

static void count(struct http *h, struct req *r, unsigned status)
{
	if (status >= 500)
		h->stats.responses_5xx++;
	else if (status >= 400)
		h->stats.responses_4xx++;
	else
		h->stats.responses_2xx++;
	if (r && r->route && h->route_stats) {
		unsigned c = status / 100;
		h->route_stats[r->route - http_routes].by_class[c < 6 ? c : 5]++;
	}
}

static void doc_headers(struct MHD_Response *resp, const char *type, const char *csp)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        csp ? csp : "default-src 'none'; frame-ancestors 'none'");
}

static void common_headers(struct MHD_Response *resp, const char *type)
{
	doc_headers(resp, type, NULL);
}

static struct MHD_Response *make_response(struct buf *b, const char *type)
{
	if (!b->p)
		buf_add(b, "", 0);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(b->n, b->p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		buf_free(b);
		return NULL;
	}
	memset(b, 0, sizeof *b);
	common_headers(resp, type);
	return resp;
}

/* Queue now (inside the access handler) or keep for the next call
 * (answered while suspended). */
static int deliver(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->resp) { /* answered twice: keep the first */
		if (resp)
			MHD_destroy_response(resp);
		return 0;
	}
	r->resp = resp;
	r->status = (int)status;
	r->done = 1;
	return 0;
}

int reply_doc(struct req *r, unsigned status, const char *type, const char *csp, struct buf *b)
{
	if (!b->p)
		buf_add(b, "", 0);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(b->n, b->p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		buf_free(b);
		return deliver(r, status, NULL);
	}
	memset(b, 0, sizeof *b);
	doc_headers(resp, type, csp);
	return deliver(r, status, resp);
}

int reply_json(struct req *r, unsigned status, struct buf *b)
{
	buf_add(b, "\n", 1);
	return deliver(r, status, make_response(b, "application/json; charset=utf-8"));
}

int reply_empty(struct req *r, unsigned status)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp)
		common_headers(resp, "application/json; charset=utf-8");
	return deliver(r, status, resp);
}

int reply_shared(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->resp)
		return 0;
	r->resp = resp;
	r->resp_shared = 1;
	r->status = (int)status;
	r->done = 1;
	return 0;
}

void req_add_header(struct req *r, const char *name, const char *value)
{
	if (r->resp && !r->resp_shared)
		MHD_add_response_header(r->resp, name, value);
}

static void error_body(struct buf *b, const char *code, const char *msg)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj(&w);
	jw_key(&w, "error");
	jw_obj(&w);
	jw_kstr(&w, "code", code);
	jw_kstr(&w, "message", msg);
	jw_end_obj(&w);
	jw_end_obj(&w);
}

static int verror(struct req *r, unsigned status, const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct buf b = { 0 };
	error_body(&b, code, msg);
	return reply_json(r, status, &b);
}

int reply_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(r, status, code, fmt, ap);
	va_end(ap);
	return 0;
}

static const char *app_code(int err)
{
	switch (err) {
	case APP_E_INVALID: return "invalid";
	case APP_E_NOTFOUND: return "not_found";
	case APP_E_FORBIDDEN: return "forbidden";
	case APP_E_STATE: return "conflict";
	case APP_E_LAST_TIER: return "last_tier";
	case APP_E_DENIED: return "denied";
	case APP_E_UNAVAILABLE: return "unavailable";
	default: return "internal";
	}
}

int reply_app_error(struct req *r, int err, const char *msg)
{
	return reply_error(r, app_status(err), app_code(err), "%s",
	                   msg && *msg ? msg : app_strerror(err));
}

/* ---- answering later ---- */

void req_suspend(struct req *r)
{
	r->want_suspend = 1;
}

int req_orphaned(const struct req *r)
{
	return r->orphan;
}

/* An answer arrived for a suspended request: MHD gets it at its next
 * call of the handler, which resuming brings. */
static void finished(struct req *r)
{
	if (r->orphan) {
		if (r->resp)
			MHD_destroy_response(r->resp);
		r->resp = NULL;
		return;
	}
	if (r->suspended) {
		r->suspended = 0;
		struct http *h = r->h;
		if (r->prev_pending)
			r->prev_pending->next_pending = r->next_pending;
		else
			h->pending = r->next_pending;
		if (r->next_pending)
			r->next_pending->prev_pending = r->prev_pending;
		r->next_pending = r->prev_pending = NULL;
		MHD_resume_connection(r->conn);
		http__wake(r->l);
	}
}

void req_finish_json(struct req *r, unsigned status, struct buf *b)
{
	if (r->orphan) {
		buf_free(b);
		req_release(r);
		return;
	}
	reply_json(r, status, b);
	finished(r);
}

void req_finish_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
{
	if (r->orphan) {
		req_release(r);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	verror(r, status, code, fmt, ap);
	va_end(ap);
	finished(r);
}

void req_finish_empty(struct req *r, unsigned status)
{
	if (r->orphan) {
		req_release(r);
		return;
	}
	reply_empty(r, status);
	finished(r);
}

void req_finish_body(struct req *r, unsigned status, const char *type, const char *filename,
                     char *data, size_t len)
{
	if (r->orphan) {
		free(data);
		req_release(r);
		return;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, data ? data : (char *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		/* a document of its own: inline styles, nothing else, no script */
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; style-src 'unsafe-inline'; "
		                        "frame-ancestors 'none'; sandbox");
		if (filename) {
			char cd[256];
			snprintf(cd, sizeof cd, "inline; filename=\"%s\"", filename);
			MHD_add_response_header(resp, "Content-Disposition", cd);
		}
	}
	deliver(r, status, resp);
	finished(r);
}

void req_finish_doc(struct req *r, unsigned status, const char *type, const char *csp,
                    struct buf *b)
{
	if (r->orphan) {
		buf_free(b);
		req_release(r);
		return;
	}
	reply_doc(r, status, type, csp, b);
	finished(r);
}

void req_finish_app_error(struct req *r, int err, const char *msg)
{
	if (r->orphan) {
		req_release(r);
		return;
	}
	reply_app_error(r, err, msg);
	finished(r);
}

/* ---- request data ---- */

const char *req_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct app *req_app(struct req *r)
{
	return r->h->app;
}

struct ev_loop *req_loop(struct req *r)
{
	return r->h->loop;
}

struct qcheck {
	const struct route *rt;
	char bad[96];
	int dup;
	char seen[ROUTE_MAX_QUERY];
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
	struct qcheck *q = cls;
	int rc = route_query_arg(q->rt, key, q->seen);
	if (rc == 0)
		return MHD_YES;
	q->dup = rc == -2;
	snprintf(q->bad, sizeof q->bad, "%s", key);
	return MHD_NO;
}

/* Every query parameter must be one the route knows, and given once. */
static int check_query(struct req *r)
{
	struct qcheck q = { .rt = r->route };
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &q);
	if (!q.bad[0])
		return 0;
	char known[400] = "";
	for (size_t i = 0; i < ROUTE_MAX_QUERY && r->route->query[i]; i++) {
		size_t n = strlen(known);
		snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", r->route->query[i]);
	}
	if (q.dup)
		reply_error(r, 400, "bad_parameter", "query parameter '%s' given twice", q.bad);
	else
		reply_error(r, 400, "bad_parameter", "unknown query parameter '%s' (known: %s)",
		            q.bad, known[0] ? known : "none");
	return -1;
}

/* ---- who is calling ---- */

/* The peer of a UNIX socket connection: the daemon's own user (or root)
 * is the local administrator - the way the first admin is made on a
 * fresh install, and what mamorictl uses on the server itself. */
static int local_admin(struct req *r)
{
	if (!r->l->unix_sock)
		return 0;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return 0;
	struct ucred uc;
	socklen_t len = sizeof uc;
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
		return 0;
	return uc.uid == 0 || uc.uid == r->h->uid;
}

int authenticate(struct req *r)
{
	who_clear(&r->who);
	if (local_admin(r)) {
		r->who.role = ROLE_ADMIN;
		r->who.local = 1;
		snprintf(r->who.user, sizeof r->who.user, "local");
		return 0;
	}
	return http_auth_request(r);
}

static void client_address(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(r->from, sizeof r->from, "%s", r->l->unix_sock ? "local" : "?");
	r->secure = r->l->tls;
	if (!ci || !ci->client_addr || r->l->unix_sock)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->from,
		          sizeof r->from);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->from,
		          sizeof r->from);
	http_trusted_proxy(r);
}

static int in_cidr(const struct cidr *c, int fam, const unsigned char *a)
{
	if (c->fam != fam)
		return 0;
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->a, a, full) != 0)
		return 0;
	if (rest) {
		unsigned char m = (unsigned char)(0xff << (8 - rest));
		return (c->a[full] & m) == (a[full] & m);
	}
	return 1;
}

static int trusted(const struct http *h, const char *addr)
{
	unsigned char a[16];
	int fam = AF_INET;
	if (inet_pton(AF_INET, addr, a) != 1) {
		fam = AF_INET6;
		if (inet_pton(AF_INET6, addr, a) != 1)
			return 0;
	}
	for (size_t i = 0; i < h->n_trusted; i++)
		if (in_cidr(&h->trusted[i], fam, a))
			return 1;
	return 0;
}

/* Behind a trusted proxy: the client is the last address in
 * X-Forwarded-For that is not a trusted proxy itself (each proxy appends
 * the address it saw; anything left of a stranger may be forged), and
 * X-Forwarded-Proto says whether the client spoke TLS. */
void http_trusted_proxy(struct req *r)
{
	struct http *h = r->h;
	if (!h->n_trusted || !trusted(h, r->from))
		return;
	const char *xff = req_header(r, "X-Forwarded-For");
	if (xff) {
		char list[512];
		snprintf(list, sizeof list, "%s", xff);
		for (;;) {
			char *comma = strrchr(list, ',');
			char *item = comma ? comma + 1 : list;
			while (*item == ' ')
				item++;
			size_t n = strlen(item);
			while (n && item[n - 1] == ' ')
				item[--n] = '\0';
			unsigned char tmp[16];
			if (inet_pton(AF_INET, item, tmp) != 1 &&
			    inet_pton(AF_INET6, item, tmp) != 1)
				break; /* garbage: keep the last good one */
			/* an address parsed above: it fits (INET6_ADDRSTRLEN) */
			size_t il = strlen(item);
			if (il >= sizeof r->from)
				break;
			memcpy(r->from, item, il + 1);
			if (!trusted(h, item) || !comma)
				break;
			*comma = '\0';
		}
	}
	const char *proto = req_header(r, "X-Forwarded-Proto");
	if (proto)
		r->secure = strcasecmp(proto, "https") == 0;
}

static enum MHD_Result readyz(struct req *r)
{
	struct app_health hl;
	app_health(r->h->app, &hl);
	int ready = hl.store_ok && (!hl.broker_configured || hl.broker_ok);
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kbool(&w, "ready", ready);
	jw_kstr(&w, "store", hl.store_ok ? "ok" : "failing");
	jw_kstr(&w, "broker",
	        !hl.broker_configured ? "none"
	        : hl.broker_ok        ? "connected"
	                              : "disconnected");
	jw_end_obj(&w);
	reply_json(r, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, &b);
	return MHD_YES;
}
/* ---- /metrics (Prometheus text format 0.0.4) ---- */

#define bput buf_put

/* A label value: backslash, quote and newline escaped; other control
 * bytes dropped (names come from the configuration). */
static void blabel(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			bput(b, "\\%c", *v);
		else if (*v == '\n')
			bput(b, "\\n");
		else if ((unsigned char)*v >= 0x20)
			bput(b, "%c", *v);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	bput(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct buf *b, const char *name, const char *type, const char *help,
                unsigned long long v)
{
	family(b, name, type, help);
	bput(b, "%s %llu\n", name, v);
}

static void process_metrics(struct buf *b, double started)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
	bput(b, "process_cpu_seconds_total %.6f\n",
	     (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	         ru.ru_stime.tv_usec / 1e6);
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	long pg = sysconf(_SC_PAGESIZE);
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	bput(b, "process_resident_memory_bytes %ld\n", rss * pg);
	family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	bput(b, "process_virtual_memory_bytes %ld\n", pages * pg);
	unsigned long fds = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		fds += e->d_name[0] != '.';
	if (d)
		closedir(d);
	family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	bput(b, "process_open_fds %lu\n", fds);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since the epoch in seconds.");
	bput(b, "process_start_time_seconds %.3f\n", started);
}

/* On-call notifications (doc/notifications.md lists them). */
static void notify_metrics(struct buf *b, const struct app_notify_stats *n)
{
	one(b, "mamori_notify_items_total", "counter",
	    "Notifications queued, one per (alert, event, contact, channel).", n->items);
	one(b, "mamori_notify_sent_total", "counter", "Notifications delivered.", n->sent);
	one(b, "mamori_notify_failed_total", "counter",
	    "Notifications given up (notify_failed on the alert).", n->failed);
	one(b, "mamori_notify_retries_total", "counter",
	    "Delivery attempts that failed and will be tried again.", n->retries);
	one(b, "mamori_notify_messages_total", "counter",
	    "Messages a channel accepted (one may bundle several notifications).", n->messages);
	one(b, "mamori_notify_bundles_total", "counter",
	    "Messages that bundled more than one notification (storm control).", n->bundles);
	family(b, "mamori_notify_suppressed_total", "counter",
	       "Notifications not sent by a contact's rules, by reason.");
	bput(b, "mamori_notify_suppressed_total{reason=\"quiet_hours\"} %llu\n",
	     n->suppressed_quiet);
	one(b, "mamori_notify_capped_total", "counter",
	    "Times the per-contact SMS cap held messages back.", n->capped);
	family(b, "mamori_notify_replies_total", "counter",
	       "Replies (e-mail, SMS webhook, one-click link) by outcome.");
	bput(b, "mamori_notify_replies_total{result=\"received\"} %llu\n", n->replies);
	bput(b, "mamori_notify_replies_total{result=\"refused\"} %llu\n", n->replies_refused);
	one(b, "mamori_notify_acks_total", "counter",
	    "Alerts acknowledged by a reply or a one-click link.", n->acks);
	one(b, "mamori_notify_pending", "gauge",
	    "Notifications waiting in the outbox (due later, retrying, bundling).", n->pending);
	one(b, "mamori_notify_in_flight", "gauge", "Messages being handed to a channel now.",
	    n->in_flight);
	family(b, "mamori_notify_documents_total", "counter",
	       "Documents mailed by the service (monthly reports), per recipient, by outcome.");
	bput(b, "mamori_notify_documents_total{result=\"queued\"} %llu\n", n->mails);
	bput(b, "mamori_notify_documents_total{result=\"sent\"} %llu\n", n->mails_sent);
	bput(b, "mamori_notify_documents_total{result=\"failed\"} %llu\n", n->mails_failed);
	one(b, "mamori_notify_documents_pending", "gauge", "Documents waiting to be mailed.",
	    n->mails_pending);
}

/* Has the core printed this family already?  A plugin's series never
 * takes the place of one of the core's (plugin "check", name
 * "results_total"). */
static int core_family(const struct buf *b, size_t core_end, const char *name)
{
	char pat[200];
	snprintf(pat, sizeof pat, "# TYPE %s ", name);
	return core_end && memmem(b->p, core_end, pat, strlen(pat)) != NULL;
}

/* The plugins' own series (plugin ABI 1.2), sorted by family: one HELP
 * and TYPE each; within a family the first series' type counts. */
static void plugin_series(struct buf *b, const struct app_metrics *m)
{
	size_t core_end = b->n;
	const char *fam = NULL;
	int counter = 0, skip = 0;
	for (size_t i = 0; i < m->n_series; i++) {
		const struct app_plugin_series *s = &m->series[i];
		if (!fam || strcmp(fam, s->family) != 0) {
			fam = s->family;
			counter = s->counter;
			skip = core_family(b, core_end, fam);
			if (skip)
				continue;
			bput(b, "# HELP %s ", fam);
			for (const char *p = s->help; *p; p++)
				bput(b, *p == '\\' ? "\\\\" : "%c", *p);
			bput(b, "\n# TYPE %s %s\n", fam, counter ? "counter" : "gauge");
		}
		if (skip || s->counter != counter)
			continue;
		bput(b, "%s{%s} %.15g\n", fam, s->labels, s->value);
	}
}

static void format_metrics(struct http *h, struct buf *b)
{
	static const char *const states[4] = { "ok", "warning", "critical", "unknown" };
	static const char *const ev_names[11] = { "opened",         "updated",    "acknowledged",
		                                  "escalated",      "sla_breach", "dispatched",
		                                  "resolved",       "reopened",   "commented",
		                                  "unacknowledged", "waiting" };
	struct app_metrics m;
	app_metrics(h->app, &m);
	family(b, "mamori_build_info", "gauge", "The running mamorid (always 1).");
	bput(b, "mamori_build_info{version=\"%s\"} 1\n", MAMORI_VERSION);
	one(b, "mamori_checks", "gauge", "Checks configured and registered.", m.checks);
	family(b, "mamori_checks_by_state", "gauge",
	       "Checks by current state (pending: no result yet).");
	for (int i = 0; i < 4; i++)
		bput(b, "mamori_checks_by_state{state=\"%s\"} %llu\n", states[i], m.by_state[i]);
	bput(b, "mamori_checks_by_state{state=\"pending\"} %llu\n", m.pending);
	one(b, "mamori_checks_waiting", "gauge", "Checks waiting for a concurrency slot.",
	    m.waiting);
	one(b, "mamori_check_runs_started_total", "counter", "Active check runs started.",
	    m.runs_started);
	one(b, "mamori_check_runs_completed_total", "counter", "Check runs completed by plugins.",
	    m.runs_completed);
	one(b, "mamori_check_runs_timed_out_total", "counter", "Check runs that hit their timeout.",
	    m.runs_timed_out);
	one(b, "mamori_check_runs_cancelled_total", "counter",
	    "Check runs cancelled (timeout, reload, shutdown).", m.runs_cancelled);
	one(b, "mamori_passive_results_total", "counter", "Passive results (agents, API).",
	    m.passive_results);
	one(b, "mamori_stale_total", "counter", "Freshness expiries of passive checks.",
	    m.stale_events);
	one(b, "mamori_plugin_late_completions_total", "counter",
	    "Completions of runs already over (plugin bugs).", m.late_completions);
	one(b, "mamori_state_changes_total", "counter", "Check state changes.", m.state_changes);
	one(b, "mamori_hard_state_changes_total", "counter", "Hard check state changes.",
	    m.hard_changes);
	family(b, "mamori_scheduling_lag_seconds", "histogram",
	       "How late checks started against their schedule.");
	unsigned long long acc = 0;
	for (int i = 0; i < 64; i++) {
		acc += m.lag_buckets[i];
		/* every 2nd log2 bucket as a boundary, up to 2^30 us (~18 min) */
		if (i % 2 == 0 && i <= 30)
			bput(b, "mamori_scheduling_lag_seconds_bucket{le=\"%g\"} %llu\n",
			     (double)(1ULL << i) / 1e6, acc);
	}
	bput(b, "mamori_scheduling_lag_seconds_bucket{le=\"+Inf\"} %llu\n", m.lag_count);
	bput(b, "mamori_scheduling_lag_seconds_sum %.6f\n", m.lag_sum);
	bput(b, "mamori_scheduling_lag_seconds_count %llu\n", m.lag_count);
	family(b, "mamori_scheduling_lag_max_seconds", "gauge",
	       "The worst scheduling lag seen since the start.");
	bput(b, "mamori_scheduling_lag_max_seconds %.6f\n", m.lag_max);
	family(b, "mamori_check_results_total", "counter",
	       "Check results (runs and passive results) by plugin and state.");
	for (size_t i = 0; i < m.n_plugins; i++)
		for (int st = 0; st < 4; st++) {
			bput(b, "mamori_check_results_total{plugin=\"");
			blabel(b, m.plugins[i].name);
			bput(b, "\",state=\"%s\"} %llu\n", states[st], m.plugins[i].results[st]);
		}
	family(b, "mamori_check_duration_seconds", "histogram",
	       "How long active check runs took, by plugin.");
	for (size_t i = 0; i < m.n_plugins; i++) {
		const struct app_plugin_metrics *pm = &m.plugins[i];
		unsigned long long cum = 0;
		for (int k = 0; k < 17; k++) {
			cum += pm->dur_buckets[k];
			bput(b, "mamori_check_duration_seconds_bucket{plugin=\"");
			blabel(b, pm->name);
			bput(b, "\",le=\"%g\"} %llu\n", (double)(1u << k) / 1000.0, cum);
		}
		bput(b, "mamori_check_duration_seconds_bucket{plugin=\"");
		blabel(b, pm->name);
		bput(b, "\",le=\"+Inf\"} %llu\n", pm->runs);
		bput(b, "mamori_check_duration_seconds_sum{plugin=\"");
		blabel(b, pm->name);
		bput(b, "\"} %.6f\n", pm->dur_sum);
		bput(b, "mamori_check_duration_seconds_count{plugin=\"");
		blabel(b, pm->name);
		bput(b, "\"} %llu\n", pm->runs);
	}
	one(b, "mamori_plugin_host_restarts_total", "counter",
	    "Restarts of isolated plugin host processes.", m.host_restarts);
	one(b, "mamori_alert_events_total", "counter", "Alert events emitted.", m.alert_events);
	family(b, "mamori_alert_events_by_type_total", "counter", "Alert events by type.");
	for (int i = 0; i < 11; i++)
		bput(b, "mamori_alert_events_by_type_total{event=\"%s\"} %llu\n", ev_names[i],
		     m.alert_events_by_type[i]);
	one(b, "mamori_sla_breaches_total", "counter", "SLA deadlines missed.",
	    m.alert_events_by_type[4]);
	family(b, "mamori_alerts_open", "gauge", "Unresolved alerts by center and tier.");
	for (size_t i = 0; i < m.n_open_by_center; i++) {
		bput(b, "mamori_alerts_open{center=\"");
		blabel(b, m.open_by_center[i].center);
		bput(b, "\",tier=\"");
		blabel(b, m.open_by_center[i].tier);
		bput(b, "\"} %llu\n", m.open_by_center[i].open);
	}
	one(b, "mamori_outbox_published_total", "counter", "Outbox messages handed to the broker.",
	    m.outbox_published);
	one(b, "mamori_outbox_acked_total", "counter", "Outbox messages the broker acknowledged.",
	    m.outbox_acked);
	family(b, "mamori_outbox_messages", "gauge", "Outbox messages in memory.");
	bput(b, "mamori_outbox_messages{where=\"ready\"} %llu\n", m.outbox_ready);
	bput(b, "mamori_outbox_messages{where=\"inflight\"} %llu\n", m.outbox_inflight);
	one(b, "mamori_mqtt_connected", "gauge", "1 while the broker session is up.",
	    (unsigned long long)m.broker.connected);
	one(b, "mamori_mqtt_messages_received_total", "counter", "MQTT messages received.",
	    m.broker.msgs_in);
	one(b, "mamori_mqtt_messages_sent_total", "counter", "MQTT messages published.",
	    m.broker.msgs_out);
	family(b, "mamori_mqtt_messages_rejected_total", "counter",
	       "MQTT messages dropped on arrival, by reason.");
	bput(b, "mamori_mqtt_messages_rejected_total{reason=\"size\"} %llu\n",
	     m.broker.rejected_size);
	bput(b, "mamori_mqtt_messages_rejected_total{reason=\"no_subscriber\"} %llu\n",
	     m.broker.rejected_nosub);
	one(b, "mamori_mqtt_unacked", "gauge", "QoS 1 publishes waiting for PUBACK.",
	    m.broker.unacked);
	one(b, "mamori_mqtt_connects_total", "counter", "Broker sessions established.",
	    m.broker.connects);
	one(b, "mamori_mqtt_connect_failures_total", "counter",
	    "Broker connection attempts failed.", m.broker.connect_failures);
	one(b, "mamori_store_batches_total", "counter", "Store transactions committed.",
	    m.store_batches);
	one(b, "mamori_store_rows_total", "counter", "Rows written.", m.store_rows);
	one(b, "mamori_store_row_errors_total", "counter", "Rows that failed on their own.",
	    m.store_row_errors);
	one(b, "mamori_store_retries_total", "counter",
	    "Batches the disk refused, rolled back and written again.", m.store_retries);
	family(b, "mamori_store_busy_seconds_total", "counter",
	       "Seconds the writer spent writing.");
	bput(b, "mamori_store_busy_seconds_total %.6f\n", m.store_busy_seconds);
	one(b, "mamori_store_failing", "gauge", "1 while the writer retries a refused batch.",
	    (unsigned long long)m.store_failing);
	one(b, "mamori_events_total", "counter", "Events through the hub.", m.events_emitted);
	one(b, "mamori_command_ids", "gauge", "Request ids remembered for idempotency.",
	    m.command_ids);
	family(b, "mamori_http_responses_total", "counter", "HTTP responses by status class.");
	bput(b, "mamori_http_responses_total{class=\"2xx\"} %llu\n", h->stats.responses_2xx);
	bput(b, "mamori_http_responses_total{class=\"4xx\"} %llu\n", h->stats.responses_4xx);
	bput(b, "mamori_http_responses_total{class=\"5xx\"} %llu\n", h->stats.responses_5xx);
	one(b, "mamori_http_requests_total", "counter", "HTTP requests received.",
	    h->stats.requests);
	family(b, "mamori_http_route_responses_total", "counter",
	       "API responses by route and status class.");
	for (size_t i = 0; i < http_n_routes; i++)
		for (unsigned c = 1; c < 6; c++)
			if (h->route_stats[i].by_class[c])
				bput(b,
				     "mamori_http_route_responses_total{route=\"%s\",code=\"%ux"
				     "x\"} %llu\n",
				     http_routes[i].name, c, h->route_stats[i].by_class[c]);
	unsigned long long sse_sent, sse_dropped;
	api_events_stats(h, &sse_sent, &sse_dropped);
	unsigned long long ch, cm;
	cache_stats(h->cache, &ch, &cm);
	family(b, "mamori_http_cache_lookups_total", "counter",
	       "Answers looked up in the cache (overview, open alerts), by result.");
	bput(b, "mamori_http_cache_lookups_total{result=\"hit\"} %llu\n", ch);
	bput(b, "mamori_http_cache_lookups_total{result=\"miss\"} %llu\n", cm);
	family(b, "mamori_http_connections", "gauge",
	       "Open HTTP connections by listen address (at most max_connections each).");
	for (size_t i = 0; i < h->n; i++) {
		const union MHD_DaemonInfo *di =
		    MHD_get_daemon_info(h->ls[i].d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		bput(b, "mamori_http_connections{listen=\"");
		blabel(b, h->ls[i].name);
		bput(b, "\"} %u\n", di ? di->num_connections : 0);
	}
	one(b, "mamori_http_sse_clients", "gauge", "Clients of the live event stream.",
	    (unsigned long long)api_events_clients(h));
	one(b, "mamori_http_sse_events_total", "counter", "Events sent to stream clients.",
	    sse_sent);
	one(b, "mamori_http_sse_dropped_total", "counter",
	    "Stream clients dropped because they did not read.", sse_dropped);
	if (h->auth) {
		struct auth_stats as;
		auth_get_stats(h->auth, &as);
		one(b, "mamori_auth_logins_total", "counter", "Successful logins.", as.logins);
		one(b, "mamori_auth_login_failures_total", "counter", "Failed logins.",
		    as.login_failures);
		one(b, "mamori_auth_logins_limited_total", "counter",
		    "Login attempts refused by the rate limit.", as.limited);
		one(b, "mamori_auth_sessions", "gauge", "Login sessions alive.",
		    (unsigned long long)as.sessions);
		one(b, "mamori_auth_users", "gauge", "Users.", (unsigned long long)as.users);
		family(b, "mamori_auth_kdf_seconds_total", "counter",
		       "Time the password hashing worker spent.");
		bput(b, "mamori_auth_kdf_seconds_total %.6f\n", as.kdf_seconds);
	}
	if (m.notify_configured)
		notify_metrics(b, &m.notify);
	if (m.forward_configured) {
		family(b, "mamori_history_forward_lines_total", "counter",
		       "Perfdata lines for the time-series database, by result.");
		bput(b, "mamori_history_forward_lines_total{result=\"sent\"} %llu\n",
		     m.forward_sent);
		bput(b, "mamori_history_forward_lines_total{result=\"dropped\"} %llu\n",
		     m.forward_dropped);
		one(b, "mamori_history_forward_connected", "gauge",
		    "1 while connected to the time-series database.",
		    (unsigned long long)m.forward_connected);
		one(b, "mamori_history_forward_connects_total", "counter",
		    "Connections to the time-series database established.", m.forward_connects);
		one(b, "mamori_history_forward_failures_total", "counter",
		    "Connects refused and connections lost to the time-series database.",
		    m.forward_failures);
		one(b, "mamori_history_forward_queued_bytes", "gauge",
		    "Bytes waiting for the time-series database.", m.forward_queued);
	}
	plugin_series(b, &m);
	process_metrics(b, h->started);
	app_metrics_clear(&m);
}

static enum MHD_Result metrics(struct http *h, struct req *req)
{
	struct MHD_Connection *conn = req->conn;
	struct buf b = { .p = xmalloc(16384), .cap = 16384 };
	h->stats.scrapes++;
	format_metrics(h, &b);
	struct MHD_Response *r = MHD_create_response_from_buffer(b.n, b.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(b.p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	count(h, NULL, MHD_HTTP_OK);
	return rc;
}

/* ---- the request's life (see http_int.h) ---- */

static struct req *req_new(struct listener *l, struct MHD_Connection *conn)
{
	struct req *r = xcalloc(1, sizeof *r);
	r->h = l->h;
	r->l = l;
	r->conn = conn;
	r->who.role = ROLE_NONE;
	r->started = ev_now(l->h->loop);
	return r;
}

void req_release(struct req *r)
{
	for (size_t i = 0; i < r->n_param; i++)
		free(r->param[i]);
	who_clear(&r->who);
	buf_free(&r->body);
	if (r->json)
		cJSON_Delete(r->json);
	for (size_t i = 0; i < 2 * r->n_form; i++)
		free(r->form[i]);
	free(r->form);
	if (r->resp && !r->resp_shared)
		MHD_destroy_response(r->resp);
	free(r);
}

static enum MHD_Result queue(struct req *r)
{
	struct MHD_Response *resp = r->resp;
	r->resp = NULL;
	if (!resp)
		return MHD_NO;
	count(r->h, r, (unsigned)r->status);
	http_audit(r);
	if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	if (!r->resp_shared)
		MHD_destroy_response(resp);
	r->resp_shared = 0;
	return rc;
}

/* ---- form bodies (routes with ROUTE_FORM) ----
 * MHD's post processor decodes application/x-www-form-urlencoded; what
 * it hands over is checked here: at most FORM_MAX_PARAMS parameters,
 * names of 1..FORM_MAX_NAME printable ASCII bytes given once, values of
 * valid UTF-8 without NUL.  Anything else is a 400 naming the reason. */

struct form_parse {
	struct req *r;
	size_t *vlen; /* the length of each value so far */
	char why[128];
};

static enum MHD_Result form_bad(struct form_parse *f, const char *why, const char *key)
{
	if (!f->why[0])
		snprintf(f->why, sizeof f->why, "%s%s%.64s%s", why, key ? " '" : "", key ? key : "",
		         key ? "'" : "");
	return MHD_NO;
}

static enum MHD_Result form_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
	struct form_parse *f = cls;
	struct req *r = f->r;
	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (!key)
		return form_bad(f, "a parameter without a name", NULL);
	if (size && memchr(data, '\0', size))
		return form_bad(f, "a NUL byte in parameter", key);
	if (off > 0) {
		/* the rest of the last value */
		size_t last = r->n_form - 1;
		if (!r->n_form || strcmp(r->form[2 * last], key) != 0 || off != f->vlen[last])
			return form_bad(f, "a value out of order for", key);
		r->form[2 * last + 1] = xrealloc(r->form[2 * last + 1], f->vlen[last] + size + 1);
		memcpy(r->form[2 * last + 1] + f->vlen[last], data, size);
		f->vlen[last] += size;
		r->form[2 * last + 1][f->vlen[last]] = '\0';
		return MHD_YES;
	}
	size_t kn = strlen(key);
	if (kn == 0)
		return form_bad(f, "a parameter without a name", NULL);
	if (kn > FORM_MAX_NAME)
		return form_bad(f, "a parameter name longer than 64 bytes:", key);
	for (size_t i = 0; i < kn; i++)
		if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
			return form_bad(f, "a parameter name that is not printable ASCII", NULL);
	for (size_t i = 0; i < r->n_form; i++)
		if (strcmp(r->form[2 * i], key) == 0)
			return form_bad(f, "parameter given twice:", key);
	if (r->n_form == FORM_MAX_PARAMS)
		return form_bad(f, "more than 64 parameters", NULL);
	if (!r->form) {
		r->form = xcalloc(2 * FORM_MAX_PARAMS, sizeof *r->form);
		f->vlen = xcalloc(FORM_MAX_PARAMS, sizeof *f->vlen);
	}
	char *v = xmalloc(size + 1);
	if (size)
		memcpy(v, data, size);
	v[size] = '\0';
	r->form[2 * r->n_form] = xstrdup(key);
	r->form[2 * r->n_form + 1] = v;
	f->vlen[r->n_form] = size;
	r->n_form++;
	return MHD_YES;
}

static int parse_form(struct req *r)
{
	struct form_parse f = { .r = r };
	struct MHD_PostProcessor *pp = MHD_create_post_processor(r->conn, 1024, form_param, &f);
	if (!pp) {
		reply_error(
		    r, 415, "unsupported_media_type",
		    "the body must be application/json or application/x-www-form-urlencoded");
		return -1;
	}
	enum MHD_Result ok = MHD_post_process(pp, r->body.p, r->body.n);
	if (MHD_destroy_post_processor(pp) != MHD_YES)
		ok = MHD_NO;
	for (size_t i = 0; ok == MHD_YES && i < r->n_form; i++)
		if (strlen(r->form[2 * i + 1]) != f.vlen[i] || !utf8_valid(r->form[2 * i + 1]))
			ok = form_bad(&f, "a value that is not UTF-8 text in", r->form[2 * i]);
	free(f.vlen);
	if (ok != MHD_YES) {
		reply_error(r, 400, "bad_form", "the form body is malformed: %s",
		            f.why[0] ? f.why : "not application/x-www-form-urlencoded");
		return -1;
	}
	return 0;
}

/* The body is JSON: parsed by the strict gate, an object at the top.  A
 * form body (BODY_FORM routes) fills r->form and leaves an empty object. */
static int parse_body(struct req *r)
{
	if (!r->route->max_body)
		return 0;
	if (!r->body.n) {
		r->json = cJSON_CreateObject(); /* no body: an empty object */
		return 0;
	}
	if (r->is_form) {
		r->json = cJSON_CreateObject();
		return parse_form(r);
	}
	struct jsonw_limits lim = { .max_size = r->route->max_body };
	struct jsonw_error e;
	r->json = jsonw_parse(r->body.p, r->body.n, &lim, &e);
	if (!r->json) {
		reply_error(r, 400, "bad_json", "the body is not valid JSON: %s at byte %zu",
		            jsonw_strerror(e.code), e.offset);
		return -1;
	}
	if (!cJSON_IsObject(r->json)) {
		reply_error(r, 400, "bad_json", "the body must be a JSON object");
		return -1;
	}
	return 0;
}

/* 1: the Content-Type ct is the media type `type` (parameters such as
 * "; charset=utf-8" may follow). */
static int media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	return ct && strncasecmp(ct, type, n) == 0 && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

/* First call: headers only.  0 go on, else answered. */
static int on_headers(struct req *r, const char *url, const char *method)
{
	struct http *h = r->h;
	client_address(r);
	if (strcmp(url, "/metrics") == 0 && r->l->metrics &&
	    (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
		r->metrics = 1;
		return 0;
	}
	if (r->l->metrics && strncmp(url, "/api/", 5) == 0) {
		/* the metrics address serves no API: it has no login */
		reply_error(r, 404, "not_found", "not found");
		return -1;
	}
	int rc =
	    route_find(method, url, &r->route, r->param, &r->n_param, r->allow, sizeof r->allow);
	if (rc == 404) {
		reply_error(r, 404, "not_found", "no such resource");
		return -1;
	}
	if (rc == 405) {
		reply_error(r, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
		            method, r->allow);
		return -1;
	}
	r->route_ix = (unsigned)(r->route - http_routes);
	(void)h;
	const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	int has_body = te || (cl && strcmp(cl, "0") != 0);
	if (has_body) {
		if (!r->route->max_body) {
			reply_error(r, 413, "body_too_large", "this request takes no body");
			return -1;
		}
		char *e = NULL;
		unsigned long long n = cl ? strtoull(cl, &e, 10) : 0;
		if (cl && (*e || n > r->route->max_body)) {
			reply_error(r, 413, "body_too_large", "the body may hold at most %zu bytes",
			            r->route->max_body);
			return -1;
		}
		const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (media_is(ct, "application/json")) {
			r->is_form = 0;
		} else if ((r->route->flags & ROUTE_FORM) &&
		           media_is(ct, MHD_HTTP_POST_ENCODING_FORM_URLENCODED)) {
			r->is_form = 1;
		} else if (r->route->flags & ROUTE_FORM) {
			reply_error(r, 415, "unsupported_media_type",
			            "the body must be application/json or "
			            "application/x-www-form-urlencoded");
			return -1;
		} else {
			reply_error(r, 415, "unsupported_media_type",
			            "the body must be application/json");
			return -1;
		}
	}
	if (authenticate(r) != 0)
		return -1;
	return 0;
}

static int on_complete(struct req *r)
{
	if (r->metrics)
		return 0;
	if (check_query(r) != 0 || parse_body(r) != 0 || authorize(r) != 0)
		return -1;
	const struct route *rt = r->route;
	if (!rt->fn) {
		if (strcmp(rt->pattern, "/healthz") == 0) {
			struct buf b = { 0 };
			buf_add(&b, "ok\n", 3);
			return deliver(r, 200, make_response(&b, "text/plain; charset=utf-8"));
		}
		return readyz(r) == MHD_YES ? 0 : -1;
	}
	return rt->fn(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct http *h = l->h;
	struct req *r = *con_cls;
	if (!r) {
		r = req_new(l, conn);
		*con_cls = r;
		h->stats.requests++;
		if (on_headers(r, url, method) != 0)
			return queue(r); /* answered before any body is read */
		return MHD_YES;
	}
	if (r->resp) /* answered (while suspended, or early): hand it over */
		return queue(r);
	if (r->stream_started)
		return MHD_YES;
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->body_too_large)
			return MHD_YES;
		if (r->body.n + n > r->route->max_body) {
			r->body_too_large = 1;
			buf_free(&r->body);
			return MHD_YES;
		}
		buf_add(&r->body, upload_data, n);
		return MHD_YES;
	}
	if (r->body_too_large) {
		reply_error(r, 413, "body_too_large", "the body may hold at most %zu bytes",
		            r->route->max_body);
		return queue(r);
	}
	if (r->metrics)
		return metrics(h, r);
	on_complete(r);
	if (r->resp)
		return queue(r);
	if (r->stream_started)
		return MHD_YES; /* the handler queued a streaming response */
	if (r->want_suspend) {
		r->want_suspend = 0;
		r->suspended = 1;
		r->next_pending = h->pending;
		if (h->pending)
			h->pending->prev_pending = r;
		h->pending = r;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	reply_error(r, 500, "internal", "the handler gave no answer");
	return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	*con_cls = NULL;
	if (!r)
		return;
	if (r->sse)
		api_events_closed(r);
	/* a request with a callback still to come is freed by the callback;
	 * auth's callbacks are cancelled instead (auth_free runs none) */
	if (r->suspended || r->orphan) {
		if (r->auth_pending) {
			http_auth_cancel(r);
			req_release(r);
			return;
		}
		r->orphan = 1;
		return;
	}
	req_release(r);
}

/* ---- the loop ---- */

/* MHD's next deadline, but at least once a second: at its connection
 * limit MHD takes the listen socket out of its epoll set and puts it back
 * only during a later MHD_run, which no event would bring once the
 * connections that made room have closed. */
#define MHD_POLL_MAX 1.0

static void rearm(struct listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	double in = MHD_POLL_MAX;
	ev_timer_stop(l->h->loop, &l->tmo);
	if (MHD_get_timeout(l->d, &ms) == MHD_YES && (double)ms / 1000.0 < in)
		in = (double)ms / 1000.0;
	ev_timer_set(&l->tmo, in, 0.);
	ev_timer_start(l->h->loop, &l->tmo);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	MHD_run(l->d);
	rearm(l);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;
	MHD_run(l->d);
	rearm(l);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_info("http", "%s", msg);
}

static int open_socket(const char *spec, char **unlink_path, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *path;
	*unlink_path = NULL;
	if (parse_listen(spec, &ss, &len, &path) != 0) {
		snprintf(err, errlen, "http: bad listen address '%s'", spec);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "http: %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	int one = 1;
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (path) {
		/* A socket file left by an earlier run is replaced; anything
		 * else at that path is not touched. */
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "http: cannot listen on %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	if (path) {
		/* local administration: the daemon's user and group only */
		chmod(path, 0660);
		*unlink_path = xstrdup(path);
	}
	return fd;
}

/* A certificate (chain) file: not a secret, but PEM text of sane size. */
static int read_pem(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "http.tls: cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char *p = xmalloc(SECRET_MAX + 1);
	size_t n = fread(p, 1, SECRET_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > SECRET_MAX || !strstr(p, "-----BEGIN")) {
		free(p);
		snprintf(err, errlen, "http.tls: %s is not a PEM certificate file", path);
		return -1;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	return 0;
}

/* Every connection is a descriptor: say at start when the descriptor
 * limit (raised to the hard limit by main.c) is below what max_connections
 * allows on one listen address, plus a reserve for the database, the
 * broker, plugins and their children's pipes.  MHD refuses connections
 * beyond it (accept fails with EMFILE) - nothing worse - but the operator
 * should know which of the two limits is the real one. */
#define NOFILE_RESERVE 256
static void check_nofile(const struct http_conf *c)
{
	struct rlimit rl;
	unsigned long long need = (unsigned long long)c->max_connections + NOFILE_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    (unsigned long long)rl.rlim_cur >= need)
		return;
	log_warn("http",
	         "the descriptor limit is %llu, below the %llu that max_connections = %u needs: "
	         "connections beyond it are refused (raise LimitNOFILE / ulimit -Hn, or lower "
	         "max_connections)",
	         (unsigned long long)rl.rlim_cur, need, c->max_connections);
}

struct http *http_start(struct ev_loop *loop, const struct http_conf *c, struct app *app,
                        struct auth *auth, char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->app = app;
	h->auth = auth;
	h->started = ev_time();
	h->uid = geteuid();
	h->route_stats = xcalloc(http_n_routes, sizeof *h->route_stats);
	h->cache = cache_new();
	h->www = c->www ? xstrdup(c->www) : NULL;
	for (size_t i = 0; i < c->n_trusted; i++) {
		struct cidr *t = &h->trusted[h->n_trusted];
		if (parse_cidr(c->trusted[i], &t->fam, t->a, &t->bits) == 0)
			h->n_trusted++;
	}
	if (c->tls_cert) {
		char *cert = NULL;
		size_t cert_len = 0;
		if (read_pem(c->tls_cert, &cert, &cert_len, err, errlen) != 0 ||
		    secret_read_file(c->tls_key, &h->tls_key, &h->tls_key_len, err, errlen) != 0) {
			free(cert);
			http_free(h);
			return NULL;
		}
		h->tls_cert = cert;
	}
	for (size_t i = 0; i < c->n_listen + c->n_metrics; i++) {
		struct listener *l = &h->ls[h->n];
		const char *spec =
		    i < c->n_listen ? c->listen[i] : c->metrics_listen[i - c->n_listen];
		l->h = h;
		l->metrics = i >= c->n_listen;
		l->unix_sock = strncmp(spec, "unix:", 5) == 0;
		l->tls = h->tls_cert && !l->unix_sock && !l->metrics;
		l->name = xstrdup(spec);
		l->fd = open_socket(spec, &l->path, err, errlen);
		if (l->fd < 0) {
			free(l->name);
			goto fail;
		}
		struct MHD_OptionItem tls_opts[] = {
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key },
			{ MHD_OPTION_END, 0, NULL },
		};
		struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };
		l->d = MHD_start_daemon(
		    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
		        (l->tls ? MHD_USE_TLS : 0),
		    0, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_LISTEN_SOCKET,
		    (MHD_socket)l->fd, MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, c->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)MEMORY_LIMIT, MHD_OPTION_ARRAY, l->tls ? tls_opts : no_opts,
		    MHD_OPTION_END);
		const union MHD_DaemonInfo *di =
		    l->d ? MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
		if (!di) {
			snprintf(err, errlen, "http: cannot start serving %s", spec);
			if (l->d)
				MHD_stop_daemon(l->d);
			close(l->fd);
			if (l->path)
				unlink(l->path);
			free(l->path);
			free(l->name);
			goto fail;
		}
		ev_io_init(&l->io, on_io, di->epoll_fd, EV_READ);
		l->io.data = l;
		ev_init(&l->tmo, on_timeout);
		l->tmo.data = l;
		ev_io_start(loop, &l->io);
		h->n++;
		rearm(l);
		log_notice("http", "listening on %s%s", spec, l->metrics ? " (metrics)" : "");
	}
	check_nofile(c);
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	api_events_shutdown(h);
	/* MHD must not be stopped with suspended connections: resume them;
	 * their callbacks, still to come, find them orphaned and free them */
	while (h->pending) {
		struct req *r = h->pending;
		h->pending = r->next_pending;
		r->suspended = 0;
		r->orphan = 1;
		MHD_resume_connection(r->conn);
	}
	for (size_t i = 0; i < h->n; i++) {
		struct listener *l = &h->ls[i];
		ev_io_stop(h->loop, &l->io);
		ev_timer_stop(h->loop, &l->tmo);
		MHD_stop_daemon(l->d); /* closes the listen socket and every connection */
		if (l->path)
			unlink(l->path);
		free(l->path);
		free(l->name);
	}
	api_events_free(h);
	cache_free(h->cache);
	free(h->tls_cert);
	secret_free(h->tls_key, h->tls_key_len);
	free(h->route_stats);
	free(h->www);
	free(h);
}

void http__wake(struct listener *l)
{
	ev_feed_event(l->h->loop, &l->io, EV_READ);
}

void http_get_stats(const struct http *h, struct http_stats *out)
{
	*out = h->stats;
}
