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
#include "http/http.h"
#include "app/app.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MEMORY_LIMIT   (32 * 1024) /* per connection: request line, headers, buffers */
#define DEF_MAX_CONN   1000
#define DEF_TIMEOUT    30
#define LISTEN_BACKLOG 128

struct listener {
	struct http *h;
	struct MHD_Daemon *d;
	int fd;       /* the listen socket (MHD closes it) */
	char *path;   /* UNIX socket file to unlink, or NULL */
	char *name;   /* as configured, for logs */
	ev_io io;     /* MHD's epoll descriptor */
	ev_timer tmo; /* MHD's next timeout */
};

struct http {
	struct ev_loop *loop;
	struct app *app;
	struct listener ls[HTTP_MAX_LISTEN];
	size_t n;
	struct http_stats stats;
};

/* ---- configuration ---- */

static int where(const config_setting_t *s, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(s);
	snprintf(err, errlen, "%s:%u: http.%s: %s", file ? file : "config",
	         config_setting_source_line(s), config_setting_name(s) ? config_setting_name(s) : "",
	         what);
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

static int add_listen(const config_setting_t *s, struct http_conf *c, char *err, size_t errlen)
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
	if (c->n_listen == HTTP_MAX_LISTEN)
		return where(s, err, errlen, "too many addresses (at most 8)");
	c->listen[c->n_listen++] = xstrdup(v);
	return 0;
}

/* "30s", "2m" or a number of seconds. */
static int get_seconds(const config_setting_t *s, unsigned lo, unsigned hi, unsigned *out,
                       char *err, size_t errlen)
{
	double v = -1;
	if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64)
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
		snprintf(msg, sizeof msg, "must be a duration of %u..%u seconds (\"30s\", \"2m\")", lo,
		         hi);
		return where(s, err, errlen, msg);
	}
	*out = (unsigned)v;
	return 0;
}

int http_conf_parse(const config_setting_t *group, struct http_conf *c, char *err,
                    size_t errlen)
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
		if (strcmp(k, "listen") == 0) {
			if (config_setting_is_array(s) || config_setting_is_list(s)) {
				for (int j = 0; rc == 0 && j < config_setting_length(s); j++)
					rc = add_listen(config_setting_get_elem(s, (unsigned)j), c, err,
					                errlen);
			} else {
				rc = add_listen(s, c, err, errlen);
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
		} else {
			rc = where(s, err, errlen,
			           "unknown key (known: listen, max_connections, timeout)");
		}
		if (rc != 0) {
			http_conf_free(c);
			return -1;
		}
	}
	if (!c->n_listen) {
		http_conf_free(c);
		return where(group, err, errlen, "needs at least one `listen` address");
	}
	return 0;
}

void http_conf_free(struct http_conf *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	memset(c, 0, sizeof *c);
}

/* ---- requests ---- */

static enum MHD_Result answer(struct http *h, struct MHD_Connection *conn, unsigned status,
                              const char *type, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	if (status >= 500)
		h->stats.responses_5xx++;
	else if (status >= 400)
		h->stats.responses_4xx++;
	return rc;
}

static enum MHD_Result error(struct http *h, struct MHD_Connection *conn, unsigned status,
                             const char *msg)
{
	char body[256];
	snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg);
	return answer(h, conn, status, "application/json", body);
}

static enum MHD_Result readyz(struct http *h, struct MHD_Connection *conn)
{
	struct app_health hl;
	app_health(h->app, &hl);
	int ready = hl.store_ok && (!hl.broker_configured || hl.broker_ok);
	char body[256];
	snprintf(body, sizeof body, "{\"ready\":%s,\"store\":\"%s\",\"broker\":\"%s\"}\n",
	         ready ? "true" : "false", hl.store_ok ? "ok" : "failing",
	         !hl.broker_configured ? "none"
	         : hl.broker_ok        ? "connected"
	                               : "disconnected");
	return answer(h, conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
	              "application/json", body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct http *h = cls;
	/* The first call for a request brings its headers; a body would come
	 * in later calls.  No endpoint takes a body yet, so every answer is
	 * given right here and a body is never read (MHD closes such a
	 * connection after the answer). */
	if (*con_cls)
		return MHD_NO; /* a body arrived after all: drop the connection */
	*con_cls = h;
	h->stats.requests++;
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_TRANSFER_ENCODING);
	int body = te || (cl && strcmp(cl, "0") != 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return error(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (body)
		return error(h, conn, MHD_HTTP_CONTENT_TOO_LARGE, "request bodies are not accepted");
	if (strcmp(url, "/healthz") == 0)
		return answer(h, conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return readyz(h, conn);
	return error(h, conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---- the loop ---- */

static void rearm(struct listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	ev_timer_stop(l->h->loop, &l->tmo);
	if (MHD_get_timeout(l->d, &ms) == MHD_YES) {
		ev_timer_set(&l->tmo, (double)ms / 1000.0, 0.);
		ev_timer_start(l->h->loop, &l->tmo);
	}
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

struct http *http_start(struct ev_loop *loop, const struct http_conf *c, struct app *app,
                        char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->app = app;
	for (size_t i = 0; i < c->n_listen; i++) {
		struct listener *l = &h->ls[h->n];
		l->h = h;
		l->name = xstrdup(c->listen[i]);
		l->fd = open_socket(c->listen[i], &l->path, err, errlen);
		if (l->fd < 0) {
			free(l->name);
			goto fail;
		}
		l->d = MHD_start_daemon(
		    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
		    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
		    (MHD_socket)l->fd, MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, c->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)MEMORY_LIMIT, MHD_OPTION_END);
		const union MHD_DaemonInfo *di =
		    l->d ? MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
		if (!di) {
			snprintf(err, errlen, "http: cannot start serving %s", c->listen[i]);
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
		log_notice("http", "listening on %s", c->listen[i]);
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (!h)
		return;
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
	free(h);
}

void http_get_stats(const struct http *h, struct http_stats *out)
{
	*out = h->stats;
}
